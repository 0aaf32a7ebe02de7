//! Static pods: the control plane's pods that the kubelet runs from its manifest directory
//! (`data/static-pods.yaml`, as kubeadm writes them) rather than from the API. For each, the
//! kubelet keeps a mirror pod `<name>-sandbox` in the API, owned by the Node and annotated as
//! upstream's are; a deleted mirror pod is created again, as a real kubelet does.

use super::pods;
use crate::SimulatedNode;
use crate::images::hex_digest;
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::cluster::WriteOptions;
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::time;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// The manifests, parsed once (a unit test parses them, so a broken file never ships).
fn manifests() -> &'static [Value] {
    static MANIFESTS: OnceLock<Vec<Value>> = OnceLock::new();
    MANIFESTS.get_or_init(|| {
        serde_norway::from_str(include_str!("../data/static-pods.yaml")).expect("node/data/static-pods.yaml parses")
    })
}

/// The mirror pod's name for a manifest: the pod's name and the node's, as upstream.
fn mirror_name(manifest: &Value) -> String {
    format!("{}-{}", manifest["metadata"]["name"].as_str().unwrap_or_default(), SimulatedNode::NAME)
}

/// The manifest whose mirror pod is `namespace/name`, if any.
fn manifest_of(namespace: &str, name: &str) -> Option<&'static Value> {
    manifests().iter().find(|m| m["metadata"]["namespace"] == namespace && mirror_name(m) == name)
}

/// The mirror pod of `manifest`: bound to the node, owned by the Node object, with the
/// `kubernetes.io/config.*` annotations a kubelet writes (the hash names this manifest's content).
fn mirror(manifest: &Value, node_uid: &Value) -> Value {
    let hash = hex_digest(&manifest.to_string())[..32].to_string();
    let mut pod = manifest.clone();
    pod["metadata"]["name"] = json!(mirror_name(manifest));
    let annotations = pod["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
    let mut annotations = Value::Object(annotations);
    annotations["kubernetes.io/config.hash"] = json!(hash);
    annotations["kubernetes.io/config.mirror"] = json!(hash);
    annotations["kubernetes.io/config.seen"] = json!(time::micro_rfc3339(jiff::Timestamp::now()));
    annotations["kubernetes.io/config.source"] = json!("file");
    pod["metadata"]["annotations"] = annotations;
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "Node", "name": SimulatedNode::NAME,
        "uid": node_uid, "controller": true}]);
    pod["spec"]["nodeName"] = json!(SimulatedNode::NAME);
    pod
}

/// Creates the missing mirror pods (all, or only `namespace/name`); a mirror pod that exists,
/// also one being deleted, is left alone.
pub fn ensure(sb: &Sandbox, only: Option<(&str, &str)>) -> Result<(), ApiError> {
    let wanted: Vec<&Value> = match only {
        Some((namespace, name)) => manifest_of(namespace, name).into_iter().collect(),
        None => manifests().iter().collect(),
    };
    if wanted.is_empty() {
        return Ok(());
    }
    // Owned by the Node: none yet (it is being registered) means the registration creates them.
    let Some(node) = sb.get(builtin_type("", "nodes"), None, SimulatedNode::NAME) else { return Ok(()) };
    for manifest in wanted {
        let namespace = manifest["metadata"]["namespace"].as_str().unwrap_or("kube-system");
        if sb.get(pods(), Some(namespace), &mirror_name(manifest)).is_some() {
            continue;
        }
        match sb.create(pods(), Some(namespace), mirror(manifest, &node["metadata"]["uid"]), WriteOptions::default()) {
            Err(e) if e.reason != Reason::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_are_the_control_plane_and_mirror_pods_are_bound_and_owned() {
        let names: Vec<String> = manifests().iter().map(mirror_name).collect();
        assert_eq!(
            names,
            ["etcd-sandbox", "kube-apiserver-sandbox", "kube-controller-manager-sandbox", "kube-scheduler-sandbox"]
        );
        let (_dir, sb) = gitops_sandbox_core::testing::sandbox();
        crate::heartbeat::ensure(&sb).unwrap();
        ensure(&sb, None).unwrap();
        let pod = sb.get(pods(), Some("kube-system"), "etcd-sandbox").expect("the mirror pod");
        assert_eq!(pod["spec"]["nodeName"], "sandbox");
        assert_eq!(pod["spec"]["priority"], 2000001000, "system-node-critical");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Node");
        let annotations = &pod["metadata"]["annotations"];
        assert_eq!(annotations["kubernetes.io/config.source"], "file");
        assert_eq!(annotations["kubernetes.io/config.mirror"], annotations["kubernetes.io/config.hash"]);
        // A deleted one comes back with a new uid; the others are not touched.
        let rv = sb.get(pods(), Some("kube-system"), "kube-apiserver-sandbox").unwrap()["metadata"]["resourceVersion"]
            .clone();
        let options = gitops_sandbox_core::cluster::DeleteOptions { grace_period: Some(0), ..Default::default() };
        sb.delete(pods(), Some("kube-system"), "etcd-sandbox", &options).unwrap();
        assert!(sb.get(pods(), Some("kube-system"), "etcd-sandbox").is_none());
        ensure(&sb, Some(("kube-system", "etcd-sandbox"))).unwrap();
        let again = sb.get(pods(), Some("kube-system"), "etcd-sandbox").expect("created again");
        assert_ne!(again["metadata"]["uid"], pod["metadata"]["uid"]);
        let apiserver = sb.get(pods(), Some("kube-system"), "kube-apiserver-sandbox").unwrap();
        assert_eq!(apiserver["metadata"]["resourceVersion"], rv);
        ensure(&sb, Some(("default", "etcd-sandbox"))).unwrap();
        assert!(sb.get(pods(), Some("default"), "etcd-sandbox").is_none(), "only the manifests' names");
    }
}
