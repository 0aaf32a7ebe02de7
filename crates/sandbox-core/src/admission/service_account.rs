//! The ServiceAccount admission step for new pods: mount the account's API credentials (token, the
//! cluster's CA and the namespace) into every container, as kube-apiserver does.

use serde_json::{Value, json};

/// Where credentials appear inside containers.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Adds the projected `kube-api-access-…` volume and its read-only mounts to a new Pod, unless the
/// pod or a container already mounts something there, `automountServiceAccountToken` is false, or
/// the pod mirrors a static pod.
pub fn mount_api_access(pod: &mut Value, suffix: &str) {
    // A static pod's mirror gets no credentials, as upstream's admission skips mirror pods.
    if pod["metadata"]["annotations"].get("kubernetes.io/config.mirror").is_some() {
        return;
    }
    let spec = &mut pod["spec"];
    if !spec.is_object() || spec["automountServiceAccountToken"] == false {
        return;
    }
    let containers = ["initContainers", "containers"];
    let already = containers.iter().any(|list| {
        spec[list].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["volumeMounts"].as_array().is_some_and(|ms| ms.iter().any(|m| m["mountPath"] == MOUNT_PATH)))
        })
    });
    if already {
        return;
    }
    let name = format!("kube-api-access-{suffix}");
    let volume = json!({"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
            "path": "namespace"}]}},
    ]}});
    if !spec["volumes"].is_array() {
        spec["volumes"] = json!([]);
    }
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes.push(volume);
    }
    for list in containers {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            if !container["volumeMounts"].is_array() {
                container["volumeMounts"] = json!([]);
            }
            if let Some(mounts) = container["volumeMounts"].as_array_mut() {
                mounts.push(json!({"name": name, "mountPath": MOUNT_PATH, "readOnly": true}));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_gets_the_read_only_credentials_mount() {
        let mut pod = json!({"spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a",
            "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]}});
        mount_api_access(&mut pod, "x7k2p");
        assert_eq!(pod["spec"]["volumes"][0]["name"], "kube-api-access-x7k2p");
        assert_eq!(pod["spec"]["initContainers"][0]["volumeMounts"][0]["mountPath"], MOUNT_PATH);
        assert_eq!(pod["spec"]["containers"][0]["volumeMounts"][1]["readOnly"], true);
    }

    #[test]
    fn opting_out_or_mounting_the_path_yourself_adds_nothing() {
        let mut off = json!({"spec": {"automountServiceAccountToken": false, "containers": [{"name": "a"}]}});
        mount_api_access(&mut off, "x");
        assert!(off["spec"].get("volumes").is_none());
        let mut own =
            json!({"spec": {"containers": [{"name": "a", "volumeMounts": [{"name": "t", "mountPath": MOUNT_PATH}]}]}});
        mount_api_access(&mut own, "x");
        assert!(own["spec"].get("volumes").is_none());
        let mut mirror = json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "h"}},
            "spec": {"containers": [{"name": "a"}]}});
        mount_api_access(&mut mirror, "x");
        assert!(mirror["spec"].get("volumes").is_none(), "a static pod's mirror");
    }
}
