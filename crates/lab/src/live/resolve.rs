//! Finds the pod that can take connections for a target: the pod itself, or a ready pod of an owner.
//!
//! An owner's pods are those whose controller is the owner, or a ReplicaSet (Job) the owner controls,
//! as `kubectl port-forward deployment/web` picks them. Among ready pods the newest wins, so that
//! during a rollout connections go to the new revision.

use crate::error::{Error, Result};
use gitops_lab_protocol::{ObjectRef, Text};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeSet;

/// Where connections for a target can go now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadyPod {
    /// This pod is ready.
    Found(String),
    /// The target exists but no pod of it is ready; why, and what to do.
    Missing(Text),
    /// The target itself does not exist; what to do.
    Absent(Text),
}

/// A kind whose pods can be found.
struct Owner {
    api_version: &'static str,
    kind: &'static str,
    plural: &'static str,
    /// The kind (and plural) between it and its pods, if any: a Deployment's ReplicaSets.
    middle: Option<(&'static str, &'static str)>,
}

/// The owners whose pods can be found.
const OWNERS: &[Owner] = &[
    Owner {
        api_version: "apps/v1",
        kind: "Deployment",
        plural: "deployments",
        middle: Some(("ReplicaSet", "replicasets")),
    },
    Owner { api_version: "apps/v1", kind: "ReplicaSet", plural: "replicasets", middle: None },
    Owner { api_version: "apps/v1", kind: "StatefulSet", plural: "statefulsets", middle: None },
    Owner { api_version: "apps/v1", kind: "DaemonSet", plural: "daemonsets", middle: None },
    Owner { api_version: "batch/v1", kind: "CronJob", plural: "cronjobs", middle: Some(("Job", "jobs")) },
    Owner { api_version: "batch/v1", kind: "Job", plural: "jobs", middle: None },
];

/// Finds a ready pod for `target` (a pod, or an owner such as a Deployment) in its namespace, or
/// `namespace` when the reference names none.
pub async fn ready_pod(client: &Client, namespace: &str, target: &ObjectRef) -> Result<ReadyPod> {
    let namespace = target.namespace.as_deref().unwrap_or(namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    if target.kind == "Pod" {
        return Ok(match pods.get_opt(&target.name).await? {
            Some(pod) if usable(&pod) => ReadyPod::Found(target.name.clone()),
            Some(_) => ReadyPod::Missing(Text::new(
                format!("Pod {} is not ready (it is starting, failing or being deleted).", target.name),
                format!("Pod {} 尚未就绪（它正在启动、出错或正在删除）。", target.name),
            )),
            None => ReadyPod::Absent(Text::new(
                format!(
                    "Pod {} does not exist (any more). A pod created by hand is not replaced when it goes away; create it again.",
                    target.name
                ),
                format!("Pod {} 不存在（或已被删除）。手动创建的 Pod 消失后不会被替换；请重新创建它。", target.name),
            )),
        });
    }
    let Some(&Owner { api_version, kind, plural, middle }) = OWNERS.iter().find(|o| o.kind == target.kind) else {
        return Err(not_an_owner(target));
    };
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    let owner_api = dynamic(client, namespace, group, kind, plural);
    let Some(owner) = owner_api.get_opt(&target.name).await? else {
        return Ok(ReadyPod::Absent(Text::new(
            format!("{} {} does not exist (any more), so there is no pod to connect to.", kind, target.name),
            format!("{} {} 不存在（或已被删除），因此没有可以连接的 Pod。", kind, target.name),
        )));
    };
    let selector = match_labels(&owner);
    let mut controllers: BTreeSet<String> = owner.uid().into_iter().collect();
    if let Some((middle_kind, middle_plural)) = middle {
        let api = dynamic(client, namespace, group, middle_kind, middle_plural);
        let listed = api.list(&list_params(&selector)).await?;
        let owned: Vec<String> = listed
            .items
            .iter()
            .filter(|o| controlled_by(o.owner_references(), &controllers))
            .filter_map(|o| o.uid())
            .collect();
        controllers.extend(owned);
    }
    let listed = pods.list(&list_params(&selector)).await?;
    let mut ready: Vec<&Pod> =
        listed.items.iter().filter(|p| usable(p) && controlled_by(p.owner_references(), &controllers)).collect();
    // Newest first: during a rollout that is the new revision.
    ready.sort_by(|a, b| (b.creation_timestamp(), a.name_any()).cmp(&(a.creation_timestamp(), b.name_any())));
    Ok(match ready.first() {
        Some(pod) => ReadyPod::Found(pod.name_any()),
        None => ReadyPod::Missing(no_ready_pod(kind, &target.name)),
    })
}

/// Whether a pod can take connections: running, ready, not being deleted.
pub fn usable(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    pod.metadata.deletion_timestamp.is_none()
        && status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn controlled_by(
    owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    uids: &BTreeSet<String>,
) -> bool {
    owners.iter().any(|o| o.controller == Some(true) && uids.contains(&o.uid))
}

fn dynamic(client: &Client, namespace: &str, group: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, "v1", kind);
    Api::namespaced_with(client.clone(), namespace, &ApiResource::from_gvk_with_plural(&gvk, plural))
}

/// The owner's `spec.selector.matchLabels` as a label selector, to list fewer objects.
fn match_labels(owner: &DynamicObject) -> String {
    let labels = owner.data.get("spec").and_then(|s| s.get("selector")).and_then(|s| s.get("matchLabels"));
    labels
        .and_then(|l| l.as_object())
        .map(|map| map.iter().filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

fn list_params(selector: &str) -> ListParams {
    if selector.is_empty() { ListParams::default() } else { ListParams::default().labels(selector) }
}

fn no_ready_pod(kind: &str, name: &str) -> Text {
    let kubectl = format!("{}/{name}", kind.to_ascii_lowercase());
    Text::new(
        format!(
            "No pod of {kubectl} is ready to take connections: it may be scaled to 0, or its pods may be starting or failing. The forward resumes by itself as soon as one is ready (`kubectl scale {kubectl} --replicas=1` brings one back)."
        ),
        format!(
            "{kubectl} 没有可以接受连接的就绪 Pod：它可能已缩容到 0，或者它的 Pod 正在启动或出错。一旦有 Pod 就绪，转发会自动恢复（`kubectl scale {kubectl} --replicas=1` 可以恢复一个 Pod）。"
        ),
    )
}

fn not_an_owner(target: &ObjectRef) -> Error {
    let kinds = OWNERS.iter().map(|o| o.kind).collect::<Vec<_>>().join(", ");
    Error::explained(
        "no-pods",
        Text::new(
            format!("A {} has no pods to connect to; pick a Pod or one of: {kinds}.", target.kind),
            format!("{} 没有可以连接的 Pod；请选择一个 Pod，或以下类型之一：{kinds}。", target.kind),
        ),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_running_ready_pods_not_being_deleted_take_connections() {
        let pod = |extra: serde_json::Value| -> Pod {
            let mut value = json!({"metadata": {"name": "p"},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
            if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
                for (k, v) in extra {
                    base.insert(k.clone(), v.clone());
                }
            }
            serde_json::from_value(value).unwrap()
        };
        assert!(usable(&pod(json!({}))));
        assert!(!usable(&pod(json!({"metadata": {"name": "p", "deletionTimestamp": "2026-12-01T10:00:00Z"}}))));
        assert!(!usable(&pod(
            json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}})
        )));
        assert!(!usable(&pod(json!({"status": {"phase": "Pending"}}))));
    }

    #[test]
    fn match_labels_become_a_label_selector() {
        let owner: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web", "tier": "front"}}}
        }))
        .unwrap();
        assert_eq!(match_labels(&owner), "app=web,tier=front");
    }
}
