//! `kubectl rollout restart`: a new timestamp in the pod template's annotations, so the Deployment
//! rolls its pods even though nothing else changed (the same patch kubectl 1.32 sends).

use super::Kubectl;
use super::rest::{self, PatchType, Target};
use crate::error::Result;
use serde_json::json;

/// The annotation kubectl sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

impl Kubectl {
    /// Restarts the pods of a Deployment (or StatefulSet, DaemonSet) at `target`; returns kubectl's
    /// line, `deployment.apps/web restarted`.
    pub async fn rollout_restart(&self, target: &Target) -> Result<String> {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
        let query = [("fieldManager", "kubectl-rollout")];
        rest::patch(self.client(), target, None, PatchType::Strategic, &patch, &query).await?;
        Ok(format!("{} restarted", target.kubectl_name()))
    }
}
