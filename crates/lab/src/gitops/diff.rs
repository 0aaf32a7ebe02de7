//! Desired against live, without any I/O: is a resource Synced or OutOfSync, and why.
//!
//! "In sync" means what `kubectl apply` means: the three-way patch apply would send (from the
//! last-applied annotation, git's object and the live object, computed by [`crate::kubectl`]) is
//! empty, and the live object carries the sync loop's label. So fields git does not set (status,
//! defaults, replicas handed to `kubectl scale` when git sets none) never count as drift, while a
//! field git sets and someone changed (`kubectl edit`, `kubectl set image`) does.

use crate::kubectl::plan_patch;
use gitops_lab_protocol::ResourceSyncState;
use serde_json::Value;
use std::collections::BTreeMap;

/// The verdict on one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Synced or OutOfSync.
    pub state: ResourceSyncState,
    /// Why, in plain words (English; field paths are the same in every language).
    pub reason: String,
}

/// Compares git's object (namespace already defaulted) with the live one.
pub fn compare(desired: &Value, live: Option<&Value>, labels: &BTreeMap<String, String>) -> Verdict {
    let Some(live) = live else {
        return out_of_sync("missing from the cluster".into());
    };
    let plan = match plan_patch(desired, live) {
        Ok(plan) => plan,
        Err(error) => return out_of_sync(error.view().message.en),
    };
    let mut fields = Vec::new();
    changed_fields(&plan.patch, String::new(), &mut fields);
    let live_labels = live.pointer("/metadata/labels").and_then(Value::as_object);
    for (key, value) in labels {
        if live_labels.and_then(|l| l.get(key)).and_then(Value::as_str) != Some(value) {
            fields.push(format!("metadata.labels.{key}"));
        }
    }
    if fields.is_empty() {
        Verdict { state: ResourceSyncState::Synced, reason: "matches git".into() }
    } else {
        fields.sort();
        fields.dedup();
        out_of_sync(format!("differs from git: {}", fields.join(", ")))
    }
}

fn out_of_sync(reason: String) -> Verdict {
    Verdict { state: ResourceSyncState::OutOfSync, reason }
}

/// The dotted paths a patch touches, stopping at lists and skipping the patch's own directives and
/// the last-applied annotation (which only follows the rest).
fn changed_fields(patch: &Value, prefix: String, out: &mut Vec<String>) {
    let Some(map) = patch.as_object() else {
        if !prefix.is_empty() {
            out.push(prefix);
        }
        return;
    };
    for (key, value) in map {
        if key.starts_with('$') || key == "kubectl.kubernetes.io/last-applied-configuration" {
            continue;
        }
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        changed_fields(value, path, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([("gitops-lab.dev/sync".to_string(), "abc".to_string())])
    }

    fn desired() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}, "data": {"k": "v"}})
    }

    /// The object as apply leaves it: the annotation of `desired`, the label, server fields.
    fn applied(data: Value) -> Value {
        let annotated = crate::kubectl::last_applied::with_annotation(&desired());
        let mut live = annotated.clone();
        live["metadata"]["labels"] = json!({"gitops-lab.dev/sync": "abc"});
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["resourceVersion"] = json!("7");
        live["data"] = data;
        live
    }

    #[test]
    fn an_object_as_apply_left_it_is_synced() {
        assert_eq!(compare(&desired(), Some(&applied(json!({"k": "v"}))), &labels()).state, ResourceSyncState::Synced);
    }

    #[test]
    fn a_field_git_sets_and_someone_changed_is_out_of_sync_with_its_path() {
        let verdict = compare(&desired(), Some(&applied(json!({"k": "edited"}))), &labels());
        assert_eq!(verdict.state, ResourceSyncState::OutOfSync);
        assert_eq!(verdict.reason, "differs from git: data.k");
    }

    #[test]
    fn a_missing_object_or_label_is_out_of_sync() {
        assert_eq!(compare(&desired(), None, &labels()).reason, "missing from the cluster");
        let mut live = applied(json!({"k": "v"}));
        live["metadata"]["labels"] = json!({});
        assert_eq!(
            compare(&desired(), Some(&live), &labels()).reason,
            "differs from git: metadata.labels.gitops-lab.dev/sync"
        );
    }

    #[test]
    fn a_field_git_does_not_set_is_not_drift() {
        let mut live = applied(json!({"k": "v"}));
        live["metadata"]["annotations"]["someone"] = json!("else");
        assert_eq!(compare(&desired(), Some(&live), &labels()).state, ResourceSyncState::Synced);
    }
}
