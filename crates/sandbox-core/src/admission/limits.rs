//! The per-sandbox object limit: in a workshop, one learner's runaway loop of creates must not fill
//! the machine's disk and memory for everyone. Like upstream's ResourceQuota admission, a create
//! past the limit is refused with 403 `exceeded quota` before anything is stored; unlike it, the
//! count is the whole sandbox's (a loop may spread over kinds and namespaces, but what the cluster
//! brings itself is left out) and needs no ResourceQuota object. Events are neither counted nor
//! refused: the sandbox's own controllers write them, and upstream keeps them out of quota too.

use crate::errors::ApiError;
use crate::registry::ResourceType;

/// The file in a sandbox's data directory holding its limit (a number); no file, no limit.
pub const MAX_OBJECTS_FILE: &str = "max-objects";

/// The limit kept in a data directory; a missing or unreadable file is no limit (0).
pub fn read_max_objects(data_dir: &std::path::Path) -> usize {
    std::fs::read_to_string(data_dir.join(MAX_OBJECTS_FILE)).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0)
}

/// Whether objects of this type count towards (and are held to) the limit.
pub fn counted(rt: &ResourceType) -> bool {
    // Component statuses are the cluster's own and read-only.
    rt.kind != "Event" && rt.kind != "ComponentStatus"
}

/// The namespaces the cluster keeps for itself: what is in them came with the cluster.
const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// Whether an object counts towards (and is held to) the limit: what the cluster brings itself
/// (the objects of its system namespaces, the default RBAC roles and bindings) does not, so a limit
/// of N leaves room for N objects of the learner's, however large a real cluster's bootstrap set
/// is, and the cluster can always recreate its own.
pub fn counts_object(object: &serde_json::Value) -> bool {
    let namespace = object["metadata"]["namespace"].as_str();
    let system_namespace = namespace.is_some_and(|ns| SYSTEM_NAMESPACES.contains(&ns));
    !system_namespace && !crate::auth::bootstrap_rbac::is_default(object)
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
    fn what_the_cluster_brings_itself_does_not_count() {
        let object = |metadata: serde_json::Value| serde_json::json!({ "metadata": metadata });
        assert!(counts_object(&object(serde_json::json!({ "name": "a", "namespace": "default" }))));
        assert!(counts_object(&object(serde_json::json!({ "name": "team", "labels": { "app": "x" } }))));
        assert!(!counts_object(&object(serde_json::json!({ "name": "coredns", "namespace": "kube-system" }))));
        assert!(!counts_object(&object(serde_json::json!({ "name": "cluster-info", "namespace": "kube-public" }))));
        let role =
            object(serde_json::json!({ "name": "view", "labels": { "kubernetes.io/bootstrapping": "rbac-defaults" } }));
        assert!(!counts_object(&role));
    }
}
