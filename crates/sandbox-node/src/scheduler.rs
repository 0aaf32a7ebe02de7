//! The scheduler: binds every pending pod that names no node to the one node, `sandbox`.

use super::SimulatedNode;
use super::kubelet::pods;
use gitops_sandbox_controllers::{Action, Controller, ObjectRef};
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::events::{EventType, Source};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::ResourceId;
use gitops_sandbox_core::time;
use serde_json::{Value, json};

/// The scheduler's name, as pods' `schedulerName` and events show it.
pub const NAME: &str = "default-scheduler";

/// The scheduler as a controller of pods.
pub struct Scheduler;

/// Whether the scheduler should bind this pod.
fn unbound(pod: &Value) -> bool {
    pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty)
        && !pod["metadata"]["deletionTimestamp"].is_string()
        && pod["spec"]["schedulerName"].as_str().is_none_or(|s| s == NAME)
}

impl Controller for Scheduler {
    fn name(&self) -> &'static str {
        NAME
    }

    fn primary(&self) -> ResourceId {
        pods().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(pod) = sb.get(pods(), Some(&target.namespace), &target.name) else { return Ok(Action::Done) };
        if !unbound(&pod) {
            return Ok(Action::Done);
        }
        let uid = pod["metadata"]["uid"].clone();
        // Recorded before the binding: the kubelet starts on the bound pod at once, and its events
        // must come after this one, as `kubectl describe` lists them.
        let message = format!("Successfully assigned {}/{} to {}", target.namespace, target.name, SimulatedNode::NAME);
        let source = Source { component: NAME, host: None };
        sb.record(source, &pod, EventType::Normal, "Scheduled", message);
        let bound = sb.modify(
            pods(),
            Some(&target.namespace),
            &target.name,
            UpdateScope::Main,
            Default::default(),
            |current| {
                let mut new = current.clone();
                if new["metadata"]["uid"] != uid || !unbound(current) {
                    return Ok(new);
                }
                new["spec"]["nodeName"] = json!(SimulatedNode::NAME);
                Ok(new)
            },
        )?;
        if bound.object["metadata"]["uid"] != uid {
            return Ok(Action::Done);
        }
        sb.modify(pods(), Some(&target.namespace), &target.name, UpdateScope::Status, Default::default(), |current| {
            let mut new = current.clone();
            let conditions = new["status"]["conditions"].as_array().cloned().unwrap_or_default();
            if !conditions.iter().any(|c| c["type"] == "PodScheduled") {
                let mut conditions = conditions;
                conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                    "lastTransitionTime": time::now_rfc3339()}));
                new["status"]["conditions"] = json!(conditions);
            }
            Ok(new)
        })?;
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pending_pods_for_this_scheduler_are_bound() {
        assert!(unbound(&json!({"spec": {"schedulerName": "default-scheduler"}})));
        assert!(!unbound(&json!({"spec": {"nodeName": "sandbox"}})));
        assert!(!unbound(&json!({"spec": {"schedulerName": "other"}})));
        assert!(!unbound(&json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}})));
    }
}
