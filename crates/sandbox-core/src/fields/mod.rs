//! Field management: `metadata.managedFields` (who set which field, in upstream's FieldsV1
//! encoding) on every write, and server-side apply, which merges by those field sets.
//!
//! The pure parts: [`set`] (a set of paths and its FieldsV1 form), [`shape`] (what the schema says
//! of structs, maps and lists), [`walk`] (objects to field sets), [`managed`] (old object, new
//! object, manager → new `managedFields`) and [`apply`] (merge, conflicts, removal). The functions
//! below are what the write path of `cluster.rs` calls.

pub mod apply;
pub mod managed;
pub mod set;
pub mod shape;
pub mod walk;

use crate::registry::ResourceType;
use managed::{Entry, Operation, Writer};
use serde_json::Value;
use shape::Shape;

/// The manager the cluster's own writers get when a write names none: upstream's names for the
/// kubelet (the node and pods' status) and the controller manager (everything else).
pub fn default_manager(kind: &str, status: bool) -> &'static str {
    match (kind, status) {
        ("Node", _) | ("Pod", true) => "kubelet",
        _ => "kube-controller-manager",
    }
}

/// The manager a request names: `?fieldManager=` wins, else the User-Agent up to its first `/`
/// (kubectl sends `kubectl/v1.32.0 (…)`), cut to upstream's 128 characters.
pub fn manager_of_request(field_manager: &str, user_agent: &str) -> Option<String> {
    let name = match field_manager {
        "" => user_agent.split('/').next().unwrap_or_default(),
        given => given,
    };
    (!name.is_empty()).then(|| name.chars().take(128).collect())
}

/// Sets the `managedFields` of a new object. `sent` is the object as the client sent it (an
/// apply owns exactly that); `stored` is what will be stored, with defaults (an update owns all
/// of it but the status the server sets). `rt` is the type written, whose schema shapes the sets.
pub fn on_create(rt: &ResourceType, sent: &Value, stored: &mut Value, writer: &Writer) {
    let has_status = rt.has_subresource("status");
    let shape = Shape::for_type(rt);
    let managed = match writer.operation {
        Operation::Apply => managed::encode(&[Entry::new(writer, walk::field_set(sent, shape))]),
        Operation::Update => {
            // The status is the server's: set aside while the fields are walked (no copy of the
            // object), then put back (the map is ordered by key, so the output is unchanged).
            let status = stored.as_object_mut().filter(|_| has_status).and_then(|map| map.remove("status"));
            let managed = managed::after_update(None, stored, shape, writer);
            if let (Some(status), Some(map)) = (status, stored.as_object_mut()) {
                map.insert("status".into(), status);
            }
            managed
        }
    };
    put(stored, managed);
}

/// Sets the `managedFields` of an updated object. `sent` is the list the writer's object carried
/// (an apply computed it; a client may send its own, as kubectl's upgrade to server-side apply
/// does). Returns whether the result differs from `old`'s.
pub fn on_update(rt: &ResourceType, old: &Value, new: &mut Value, sent: Option<Value>, writer: &Writer) -> bool {
    let managed = match (writer.operation, sent) {
        (Operation::Apply, Some(sent)) => sent,
        (_, sent) => {
            let shape = Shape::for_type(rt);
            if let Some(sent) = sent {
                put(new, sent);
            }
            managed::after_update(Some(old), new, shape, writer)
        }
    };
    put(new, managed);
    new["metadata"].get("managedFields") != old["metadata"].get("managedFields")
}

/// Stores a `managedFields` list; an empty one is left out, as upstream prints no empty list.
fn put(obj: &mut Value, managed: Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    match managed.as_array().is_some_and(|a| !a.is_empty()) {
        true => meta.insert("managedFields".into(), managed),
        false => meta.remove("managedFields"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_manager_parameter_wins_over_the_user_agent() {
        assert_eq!(manager_of_request("", "kubectl/v1.32.0 (linux/amd64) kubernetes/abc").as_deref(), Some("kubectl"));
        assert_eq!(manager_of_request("kubectl-label", "kubectl/v1.32.0").as_deref(), Some("kubectl-label"));
        assert_eq!(manager_of_request("", ""), None);
        assert_eq!(manager_of_request(&"m".repeat(300), "").map(|m| m.len()), Some(128));
        assert_eq!(default_manager("Pod", true), "kubelet");
        assert_eq!(default_manager("ReplicaSet", false), "kube-controller-manager");
    }
}
