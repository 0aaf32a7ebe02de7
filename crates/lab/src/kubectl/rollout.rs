//! `kubectl rollout`: restart (a new pod-template annotation), undo (the previous ReplicaSet's
//! template back into the Deployment) and status (watching until the rollout is complete).

use super::Kubectl;
use super::output::{CommandOutput, record_kube_error};
use super::rest::{self, PatchType, Target};
use crate::error::Result;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

/// Annotations kubectl does not copy back from a ReplicaSet on undo.
const NOT_COPIED_ON_UNDO: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

impl Kubectl {
    /// `kubectl rollout restart`: stamps the pod template so the controller rolls out new pods.
    pub async fn rollout_restart(&self, targets: &[Target]) -> CommandOutput {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let body =
            json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
        let mut output = CommandOutput::default();
        for target in targets {
            match rest::patch(
                &self.client,
                target,
                None,
                PatchType::Strategic,
                &body,
                &[("fieldManager", "kubectl-rollout")],
            )
            .await
            {
                Ok(_) => output.out(format!("{} restarted", target.kubectl_name())),
                Err(crate::Error::Kube(error)) => record_kube_error(&mut output, &error, None),
                Err(other) => output.fail_with(&other),
            }
        }
        output
    }

    /// `kubectl rollout undo [--to-revision=N]` of Deployments.
    pub async fn rollout_undo(&self, targets: &[Target], to_revision: Option<i64>) -> CommandOutput {
        let mut output = CommandOutput::default();
        for target in targets {
            if let Err(error) = self.undo_one(target, to_revision, &mut output).await {
                output.fail_with(&error);
            }
        }
        output
    }

    async fn undo_one(&self, target: &Target, to_revision: Option<i64>, output: &mut CommandOutput) -> Result<()> {
        let Some(deployment) = rest::get(&self.client, target).await? else {
            let status =
                kube::core::Status::failure(&format!("{} not found", target.kubectl_quoted_plural()), "NotFound")
                    .with_code(404);
            record_kube_error(output, &kube::Error::Api(Box::new(status)), None);
            return Ok(());
        };
        let revisions = self.owned_replica_sets(target, &deployment).await?;
        let wanted = match to_revision.filter(|r| *r > 0) {
            Some(revision) => revisions.iter().find(|(r, _)| *r == revision),
            None => revisions.iter().rev().nth(1),
        };
        let Some((revision, replica_set)) = wanted else {
            let line = match to_revision.filter(|r| *r > 0) {
                Some(r) => format!("error: unable to find specified revision {r} in history"),
                None => format!("error: no rollout history found for deployment \"{}\"", target.name),
            };
            output.fail(line, no_history(&target.name));
            return Ok(());
        };
        let mut template = replica_set.pointer("/spec/template").cloned().unwrap_or(json!({}));
        if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
            labels.remove("pod-template-hash");
        }
        if deployment.pointer("/spec/template") == Some(&template) {
            output.out(format!(
                "{} skipped rollback (current template already matches revision {revision})",
                target.kubectl_name()
            ));
            return Ok(());
        }
        let mut annotations = deployment.pointer("/metadata/annotations").cloned().unwrap_or(json!({}));
        if let (Some(into), Some(from)) =
            (annotations.as_object_mut(), replica_set.pointer("/metadata/annotations").and_then(Value::as_object))
        {
            for (key, value) in from.iter().filter(|(k, _)| !NOT_COPIED_ON_UNDO.contains(&k.as_str())) {
                into.insert(key.clone(), value.clone());
            }
        }
        let patch = json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations}
        ]);
        match rest::patch(&self.client, target, None, PatchType::Json, &patch, &[("fieldManager", "kubectl-rollout")])
            .await
        {
            Ok(_) => output.out(format!("{} rolled back", target.kubectl_name())),
            Err(crate::Error::Kube(error)) => record_kube_error(output, &error, None),
            Err(other) => return Err(other),
        }
        Ok(())
    }

    /// The Deployment's ReplicaSets with their revisions, oldest first.
    async fn owned_replica_sets(&self, target: &Target, deployment: &Value) -> Result<Vec<(i64, Value)>> {
        let uid = deployment.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
        let rs_target = self.target_of("replicasets.apps", "", target.namespace.as_deref()).await?;
        let mut owned: Vec<(i64, Value)> = rest::list(&self.client, &rs_target, None)
            .await?
            .into_iter()
            .filter(|rs| {
                rs.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| refs.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(uid)))
            })
            .filter_map(|rs| {
                let revision =
                    rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")?.as_str()?.parse().ok()?;
                Some((revision, rs))
            })
            .collect();
        owned.sort_by_key(|(revision, _)| *revision);
        Ok(owned)
    }

    /// `kubectl rollout status`: waits until the Deployment's new pods are all available.
    pub async fn rollout_status(&self, target: &Target, timeout: Duration) -> CommandOutput {
        let mut output = CommandOutput::default();
        let api: kube::Api<kube::core::DynamicObject> = match &target.namespace {
            Some(ns) => kube::Api::namespaced_with(self.client.clone(), ns, &target.resource),
            None => kube::Api::all_with(self.client.clone(), &target.resource),
        };
        let config = kube::runtime::watcher::Config::default().fields(&format!("metadata.name={}", target.name));
        let mut stream = kube::runtime::watcher(api, config).boxed();
        let mut last_line = String::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let event = match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(event))) => event,
                Ok(Some(Err(_))) => continue,
                Ok(None) | Err(_) => {
                    output.fail(
                        "error: timed out waiting for the condition",
                        gitops_lab_protocol::ErrorView::new(
                            "timeout",
                            gitops_lab_protocol::Text::new(
                                format!("The rollout of {} did not finish in time.", target.name),
                                format!("{} 的发布未能按时完成。", target.name),
                            ),
                        ),
                    );
                    return output;
                }
            };
            let objects = match event {
                kube::runtime::watcher::Event::Apply(o) | kube::runtime::watcher::Event::InitApply(o) => vec![o],
                _ => continue,
            };
            for object in objects {
                let value = serde_json::to_value(&object).unwrap_or_default();
                match rollout_progress(&value, &target.name) {
                    Ok(done) => {
                        output.out(done);
                        return output;
                    }
                    Err(waiting) if waiting != last_line => {
                        output.out(&waiting);
                        last_line = waiting;
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

/// kubectl's rollout status line: `Ok(done)` when complete, `Err(waiting)` otherwise.
pub fn rollout_progress(deployment: &Value, name: &str) -> std::result::Result<String, String> {
    let int = |path: &str| deployment.pointer(path).and_then(Value::as_i64).unwrap_or(0);
    let generation = int("/metadata/generation");
    let observed = int("/status/observedGeneration");
    let wanted = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let updated = int("/status/updatedReplicas");
    let total = int("/status/replicas");
    let available = int("/status/availableReplicas");
    if observed < generation {
        return Err("Waiting for deployment spec update to be observed...".to_string());
    }
    if updated < wanted {
        return Err(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {wanted} new replicas have been updated..."
        ));
    }
    if total > updated {
        return Err(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
            total - updated
        ));
    }
    if available < updated {
        return Err(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    Ok(format!("deployment \"{name}\" successfully rolled out"))
}

fn no_history(name: &str) -> gitops_lab_protocol::ErrorView {
    use gitops_lab_protocol::{ErrorView, Text};
    ErrorView::new(
        "no-history",
        Text::new(
            format!("The Deployment {name} has no earlier revision to go back to."),
            format!("Deployment {name} 没有可以回退到的更早版本。"),
        ),
    )
    .with_hint(Text::new(
        "A revision is recorded each time the pod template changes (an image, an annotation of the template); change it once, then undo.",
        "每次 Pod 模板变化（镜像、模板上的注解）都会记录一个版本；先修改一次，再执行回退。",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_follow_kubectls_order_of_conditions() {
        let d = |updated: i64, total: i64, available: i64| {
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 3},
                "status": {"observedGeneration": 2, "updatedReplicas": updated, "replicas": total, "availableReplicas": available}})
        };
        assert!(rollout_progress(&d(1, 4, 3), "web").unwrap_err().contains("1 out of 3 new replicas"));
        assert!(rollout_progress(&d(3, 4, 3), "web").unwrap_err().contains("1 old replicas are pending termination"));
        assert!(rollout_progress(&d(3, 3, 2), "web").unwrap_err().contains("2 of 3 updated replicas are available"));
        assert_eq!(rollout_progress(&d(3, 3, 3), "web").unwrap(), "deployment \"web\" successfully rolled out");
    }
}
