//! The per-sandbox object limit: in a workshop, one learner's runaway loop of creates must not fill
//! the machine's disk and memory for everyone. Like upstream's ResourceQuota admission, a create
//! past the limit is refused with 403 `exceeded quota` before anything is stored; unlike it, the
//! count is the whole sandbox's (a loop may spread over kinds and namespaces) and needs no
//! ResourceQuota object. Events are neither counted nor refused: the sandbox's own controllers
//! write them, and upstream keeps them out of quota too. Nor are the cluster's own objects (the
//! bootstrap's, each namespace's `kube-root-ca.crt`, the node and its lease): a learner's room is
//! the limit itself, whatever the sandbox holds for its system namespaces. They are named one by
//! one, so a learner cannot hide a loop among them.

use crate::errors::ApiError;
use crate::registry::ResourceType;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::LazyLock;

/// The cluster's objects made outside the bootstrap: (kind, namespace or `*` for any, name).
const SYSTEM_OBJECTS: &[(&str, &str, &str)] =
    &[("ConfigMap", "*", "kube-root-ca.crt"), ("Node", "", "sandbox"), ("Lease", "kube-node-lease", "sandbox")];

/// (kind, namespace, name) of every object in the bootstrap file.
static BOOTSTRAP: LazyLock<HashSet<(String, String, String)>> = LazyLock::new(|| {
    let objects: Vec<Value> = serde_norway::from_str(crate::cluster::BOOTSTRAP_YAML).unwrap_or_default();
    let field = |o: &Value, f: &str| o["metadata"][f].as_str().unwrap_or_default().to_string();
    objects
        .iter()
        .map(|o| (o["kind"].as_str().unwrap_or_default().to_string(), field(o, "namespace"), field(o, "name")))
        .collect()
});

/// Whether a stored object is one of the cluster's own, which the limit leaves out.
pub fn system_object(rt: &ResourceType, obj: &Value) -> bool {
    let namespace = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    SYSTEM_OBJECTS.iter().any(|&(k, ns, n)| k == rt.kind && (ns == "*" || ns == namespace) && n == name)
        || BOOTSTRAP.contains(&(rt.kind.to_string(), namespace.to_string(), name.to_string()))
}

/// The file in a sandbox's data directory holding its limit (a number); no file, no limit.
pub const MAX_OBJECTS_FILE: &str = "max-objects";

/// The limit kept in a data directory; a missing or unreadable file is no limit (0).
pub fn read_max_objects(data_dir: &std::path::Path) -> usize {
    std::fs::read_to_string(data_dir.join(MAX_OBJECTS_FILE)).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0)
}

/// Whether objects of this type count towards (and are held to) the limit.
pub fn counted(rt: &ResourceType) -> bool {
    rt.kind != "Event"
}

/// Refuses a create when `used` objects already fill the limit `max`.
pub fn check_object_count(rt: &ResourceType, name: &str, used: usize, max: usize) -> Result<(), ApiError> {
    if !counted(rt) || used < max {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{} \"{name}\" is forbidden: exceeded quota: sandbox-objects, requested: objects=1, used: objects={used}, limited: objects={max} (this sandbox holds at most {max} objects: delete some, e.g. kubectl delete configmaps --all, or ask your instructor)",
        rt.qualified_plural()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_past_the_limit_are_refused_and_events_never() {
        let configmaps = crate::registry::builtin_type("", "configmaps");
        assert!(check_object_count(configmaps, "a", 9, 10).is_ok());
        let refused = check_object_count(configmaps, "b", 10, 10).unwrap_err();
        let text = refused.message;
        assert!(text.starts_with("configmaps \"b\" is forbidden: exceeded quota: sandbox-objects"), "{text}");
        assert!(text.contains("limited: objects=10"), "{text}");
        assert!(check_object_count(crate::registry::builtin_type("", "events"), "e", 99, 10).is_ok());
    }

    #[test]
    fn the_clusters_own_objects_are_named_one_by_one() {
        let cm = |ns: &str, name: &str| serde_json::json!({"metadata": {"namespace": ns, "name": name}});
        let configmaps = crate::registry::builtin_type("", "configmaps");
        assert!(system_object(configmaps, &cm("team", "kube-root-ca.crt")));
        assert!(system_object(configmaps, &cm("kube-system", "coredns")), "from the bootstrap");
        assert!(!system_object(configmaps, &cm("kube-system", "mine")), "a learner's, even in kube-system");
        assert!(!system_object(configmaps, &cm("default", "coredns")));
        let leases = crate::registry::builtin_type("coordination.k8s.io", "leases");
        assert!(system_object(leases, &cm("kube-node-lease", "sandbox")));
        assert!(system_object(leases, &cm("kube-system", "kube-scheduler")));
    }
}
