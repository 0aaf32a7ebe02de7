//! The Node object `sandbox`: created at start, kept Ready, recreated if deleted. Its status is
//! rewritten only when it differs or the heartbeat is old, never in a loop. Its Lease in
//! `kube-node-lease` is renewed every `LEASE_RENEWAL`, as a kubelet's heartbeat.

use super::SimulatedNode;
use gitops_sandbox_controllers::{Action, Controller, ObjectRef};
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::cluster::WriteOptions;
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use gitops_sandbox_core::time;
use serde_json::{Value, json};
use std::time::Duration;

/// How often the Ready condition's heartbeat is refreshed.
const HEARTBEAT: Duration = Duration::from_secs(300);

/// How often the node's Lease is renewed. Upstream's kubelet renews every 10 s (a quarter of its
/// 40 s duration); a workshop runs 50 idle sandboxes on 2 cores, so here the lease lasts 40 s and is
/// renewed every 40 s: one small write per sandbox per 40 s, and `kubectl get lease` still shows it fresh.
const LEASE_RENEWAL: Duration = Duration::from_secs(40);

fn leases() -> &'static ResourceType {
    builtin_type("coordination.k8s.io", "leases")
}

/// The namespace of node heartbeats.
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Creates the node's Lease (owned by the Node, as upstream) or renews it.
fn renew_lease(sb: &Sandbox, node: &Value) -> Result<(), ApiError> {
    let now = time::micro_rfc3339(jiff::Timestamp::now());
    if sb.get(leases(), Some(LEASE_NAMESPACE), SimulatedNode::NAME).is_some() {
        sb.modify(
            leases(),
            Some(LEASE_NAMESPACE),
            SimulatedNode::NAME,
            UpdateScope::Main,
            WriteOptions::default(),
            |current| {
                let mut new = current.clone();
                new["spec"]["renewTime"] = json!(now);
                Ok(new)
            },
        )?;
        return Ok(());
    }
    let owner = json!({"apiVersion": "v1", "kind": "Node", "name": SimulatedNode::NAME,
        "uid": node["metadata"]["uid"].clone()});
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": SimulatedNode::NAME, "namespace": LEASE_NAMESPACE, "ownerReferences": [owner]},
        "spec": {"holderIdentity": SimulatedNode::NAME, "leaseDurationSeconds": LEASE_RENEWAL.as_secs(),
            "renewTime": now},
    });
    match sb.create(leases(), Some(LEASE_NAMESPACE), lease, WriteOptions::default()) {
        Err(e) if e.reason != Reason::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

fn nodes() -> &'static ResourceType {
    builtin_type("", "nodes")
}

/// Keeps the Node object, and hands its pace annotation to the node.
pub struct NodeStatus {
    /// The node whose pace follows the Node object.
    pub node: std::sync::Arc<SimulatedNode>,
}

/// The Node as first created.
fn node_object() -> Value {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": SimulatedNode::NAME, "labels": {
            "beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "kubernetes.io/hostname": SimulatedNode::NAME, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.244.0.0/16", "podCIDRs": ["10.244.0.0/16"]},
    })
}

/// The status the node reports (`now` for heartbeats and transitions).
fn node_status(previous: &Value, now: &str) -> Value {
    let arch = node_object()["metadata"]["labels"]["kubernetes.io/arch"].clone();
    let resources = json!({"cpu": "2", "memory": "8025424Ki", "pods": "110", "ephemeral-storage": "61202244Ki",
        "hugepages-2Mi": "0"});
    let since = |kind: &str, status: &str| {
        previous["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind && c["status"] == status))
            .and_then(|c| c["lastTransitionTime"].as_str().map(String::from))
            .unwrap_or_else(|| now.to_string())
    };
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status,
        "lastHeartbeatTime": now, "lastTransitionTime": since(kind, status), "reason": reason, "message": message})
    };
    json!({
        "capacity": resources, "allocatable": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory \
                available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": super::HOST_IP}, {"type": "Hostname",
            "address": SimulatedNode::NAME}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "sandbox",
            "osImage": "GitOps Lab sandbox", "containerRuntimeVersion": "sandbox://1.0.0",
            "kubeletVersion": "v1.32.4", "kubeProxyVersion": "v1.32.4", "operatingSystem": "linux",
                "architecture": arch},
    })
}

/// Whether the stored status needs a rewrite: missing, not Ready, or an old heartbeat.
fn stale(status: &Value) -> bool {
    let ready = status["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let Some(ready) = ready.filter(|c| c["status"] == "True") else { return true };
    let beat = ready["lastHeartbeatTime"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    beat.is_none_or(|t| jiff::Timestamp::now().duration_since(t).unsigned_abs() >= HEARTBEAT)
}

/// Creates the node if it is missing and refreshes its status when stale.
pub fn ensure(sb: &Sandbox) -> Result<(), ApiError> {
    let node = match sb.get(nodes(), None, SimulatedNode::NAME) {
        Some(node) => node,
        None => match sb.create(nodes(), None, node_object(), WriteOptions::default()) {
            Ok(outcome) => outcome.object,
            Err(e) if e.reason == Reason::AlreadyExists => return Ok(()),
            Err(e) => return Err(e),
        },
    };
    if !stale(&node["status"]) {
        return Ok(());
    }
    sb.modify(nodes(), None, SimulatedNode::NAME, UpdateScope::Status, WriteOptions::default(), |current| {
        let mut new = current.clone();
        new["status"] = node_status(&current["status"], &time::now_rfc3339());
        Ok(new)
    })?;
    Ok(())
}

impl Controller for NodeStatus {
    fn name(&self) -> &'static str {
        "node-status"
    }

    fn primary(&self) -> ResourceId {
        nodes().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        if target.name != SimulatedNode::NAME {
            return Ok(Action::Done);
        }
        ensure(sb)?;
        if let Some(node) = sb.get(nodes(), None, SimulatedNode::NAME) {
            self.node.set_pace(crate::pace::Pace::of_node(&node));
            renew_lease(sb, &node)?;
        }
        // The node's status is rewritten only when stale (`HEARTBEAT`); the lease at every pass.
        Ok(Action::RequeueAfter(LEASE_RENEWAL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_status_is_not_stale_and_an_old_heartbeat_is() {
        let status = node_status(&Value::Null, &time::now_rfc3339());
        assert!(!stale(&status));
        assert!(stale(&node_status(&Value::Null, "2020-01-01T00:00:00Z")));
        assert!(stale(&Value::Null));
        assert_eq!(status["nodeInfo"]["kubeletVersion"], "v1.32.4");
    }

    #[test]
    fn the_node_is_created_ready() {
        let (_dir, sb) = gitops_sandbox_core::testing::sandbox();
        ensure(&sb).unwrap();
        let node = sb.get(nodes(), None, "sandbox").unwrap();
        assert_eq!(node["status"]["conditions"][3]["type"], "Ready");
        assert_eq!(node["status"]["addresses"][0]["type"], "InternalIP");
        let rv = node["metadata"]["resourceVersion"].clone();
        ensure(&sb).unwrap();
        assert_eq!(
            sb.get(nodes(), None, "sandbox").unwrap()["metadata"]["resourceVersion"],
            rv,
            "no rewrite while fresh"
        );
    }

    #[test]
    fn the_node_lease_is_created_owned_by_the_node_and_renewed() {
        let (_dir, sb) = gitops_sandbox_core::testing::sandbox();
        ensure(&sb).unwrap();
        let node = sb.get(nodes(), None, "sandbox").unwrap();
        renew_lease(&sb, &node).unwrap();
        let lease = sb.get(leases(), Some("kube-node-lease"), "sandbox").expect("the node's lease");
        assert_eq!(lease["spec"]["holderIdentity"], "sandbox");
        assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], node["metadata"]["uid"]);
        let first = lease["spec"]["renewTime"].as_str().unwrap().to_string();
        assert_eq!(first.len(), "2026-01-01T00:00:00.000000Z".len(), "{first}");
        std::thread::sleep(Duration::from_millis(2));
        renew_lease(&sb, &node).unwrap();
        let renewed = sb.get(leases(), Some("kube-node-lease"), "sandbox").unwrap();
        assert!(renewed["spec"]["renewTime"].as_str().unwrap() > first.as_str(), "renewed");
    }
}
