//! Computing patches: the two-way diff, and the three-way patch kubectl's client-side apply sends.

use serde_json::{Map, Value};

use crate::apply::as_object;
use crate::diff::{DiffOptions, diff_maps};
use crate::error::PatchError;
use crate::merge::{Merger, Mode};
use crate::schema::MergeSchema;

/// The patch that turns `original` into `modified`: additions, changes, and
/// deletions (`null`, `$patch: delete` items, `$deleteFromPrimitiveList`), with
/// `$setElementOrder` beside changed merged lists. `{}` when they are equal.
pub fn create_two_way_patch(original: &Value, modified: &Value, schema: &MergeSchema) -> Result<Value, PatchError> {
    let opts = DiffOptions { set_element_order: true, ..DiffOptions::default() };
    let patch = diff_maps(as_object(original)?, as_object(modified)?, *schema, opts, "")?;
    Ok(Value::Object(patch))
}

/// The patch `kubectl apply` (client-side) sends.
///
/// `original` is the last-applied configuration (`None` when the object has
/// none), `modified` the new configuration, `current` the live object. The
/// patch sets what `modified` changes or adds relative to `current`, and
/// deletes only what `original` had and `modified` dropped, so fields the
/// server or other clients own (status, a scaled `replicas`) survive. `{}` when
/// nothing changes.
pub fn create_three_way_patch(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
    schema: &MergeSchema,
) -> Result<Value, PatchError> {
    let empty = Map::new();
    let original = original.map(as_object).transpose()?.unwrap_or(&empty);
    let modified = as_object(modified)?;
    let current = as_object(current)?;
    let delta_opts = DiffOptions { set_element_order: true, ignore_deletions: true, ..DiffOptions::default() };
    let delta = diff_maps(current, modified, *schema, delta_opts, "")?;
    let deletion_opts = DiffOptions { set_element_order: true, ignore_changes: true, ..DiffOptions::default() };
    let deletions = diff_maps(original, modified, *schema, deletion_opts, "")?;
    // Both are patches against the same target, so they fold into one.
    let patch = Merger { mode: Mode::Combine }.merge_map(deletions, delta, *schema, "")?;
    Ok(Value::Object(patch.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::apply_patch;
    use serde_json::json;

    fn deployment() -> MergeSchema {
        MergeSchema::for_kind("apps/v1", "Deployment")
    }

    fn three_way(original: &Value, modified: &Value, current: &Value) -> Value {
        match create_three_way_patch(Some(original), modified, current, &deployment()) {
            Ok(v) => v,
            Err(e) => panic!("diff failed: {e}"),
        }
    }

    fn web(image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}}})
    }

    #[test]
    fn an_unchanged_object_gives_an_empty_patch() {
        assert_eq!(three_way(&web("nginx:1.25"), &web("nginx:1.25"), &web("nginx:1.25")), json!({}));
    }

    #[test]
    fn an_image_change_sends_the_container_and_its_order_as_kubectl_does() {
        let patch = three_way(&web("nginx:1.24"), &web("nginx:1.25"), &web("nginx:1.24"));
        assert_eq!(
            patch,
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"name": "nginx", "image": "nginx:1.25"}]
            }}}})
        );
    }

    #[test]
    fn replicas_dropped_from_the_file_is_sent_as_null() {
        let last = web("nginx");
        let mut new = web("nginx");
        if let Some(spec) = new["spec"].as_object_mut() {
            spec.remove("replicas");
        }
        assert_eq!(three_way(&last, &new, &last), json!({"spec": {"replicas": null}}));
    }

    #[test]
    fn a_field_never_applied_is_left_alone() {
        let last = web("nginx");
        let mut live = web("nginx");
        live["spec"]["replicas"] = json!(5);
        live["status"] = json!({"readyReplicas": 5});
        let mut new = web("nginx");
        if let Some(spec) = new["spec"].as_object_mut() {
            spec.remove("replicas");
        }
        live["spec"]["paused"] = json!(false);
        // replicas was applied before, so it is removed; paused and status never were.
        assert_eq!(three_way(&last, &new, &live), json!({"spec": {"replicas": null}}));
    }

    #[test]
    fn a_removed_container_gets_a_delete_directive_after_the_changes() {
        let two = |image: &str| {
            let mut d = web(image);
            d["spec"]["template"]["spec"]["containers"] =
                json!([{"name": "nginx", "image": image}, {"name": "sidecar", "image": "envoy"}]);
            d
        };
        let patch = three_way(&two("nginx:1"), &web("nginx:2"), &two("nginx:1"));
        assert_eq!(
            patch,
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"name": "nginx", "image": "nginx:2"}, {"name": "sidecar", "$patch": "delete"}]
            }}}})
        );
    }

    #[test]
    fn a_removed_env_var_is_deleted_inside_its_container() {
        let with_env = |env: Value| {
            let mut d = web("nginx");
            d["spec"]["template"]["spec"]["containers"][0]["env"] = env;
            d
        };
        let last = with_env(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        let new = with_env(json!([{"name": "B", "value": "2"}]));
        let patch = three_way(&last, &new, &last);
        assert_eq!(
            patch,
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"name": "nginx",
                    "$setElementOrder/env": [{"name": "B"}],
                    "env": [{"name": "A", "$patch": "delete"}]}]
            }}}})
        );
        assert_eq!(apply_patch(&last, &patch, &deployment()), Ok(new));
    }

    #[test]
    fn a_removed_finalizer_uses_the_parallel_deletion_list() {
        let last = json!({"metadata": {"finalizers": ["a", "b"]}});
        let new = json!({"metadata": {"finalizers": ["b"]}});
        let patch = three_way(&last, &new, &last);
        assert_eq!(
            patch,
            json!({"metadata": {
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "$setElementOrder/finalizers": ["b"]
            }})
        );
        assert_eq!(apply_patch(&last, &patch, &deployment()), Ok(new));
    }

    #[test]
    fn a_strategy_switch_carries_retain_keys() {
        let last = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let new = json!({"spec": {"strategy": {"type": "Recreate"}}});
        let patch = three_way(&last, &new, &last);
        assert_eq!(
            patch,
            json!({"spec": {"strategy": {
                "$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"
            }}})
        );
        assert_eq!(apply_patch(&last, &patch, &deployment()), Ok(new));
    }

    #[test]
    fn without_a_last_applied_configuration_nothing_is_deleted() {
        let mut live = web("nginx");
        live["metadata"]["labels"] = json!({"team": "a"});
        let patch = create_three_way_patch(None, &web("nginx"), &live, &deployment());
        assert_eq!(patch, Ok(json!({})));
    }

    #[test]
    fn the_two_way_patch_deletes_and_orders() {
        let original = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"template": {"spec": {
            "containers": [{"name": "a"}, {"name": "b"}]}}}});
        let modified = json!({"metadata": {}, "spec": {"template": {"spec": {
            "containers": [{"name": "b"}, {"name": "a"}]}}}});
        let patch = create_two_way_patch(&original, &modified, &deployment());
        assert_eq!(
            patch,
            Ok(json!({"metadata": {"labels": null}, "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}}))
        );
        let applied = patch.and_then(|p| apply_patch(&original, &p, &deployment()));
        assert_eq!(applied, Ok(modified));
    }
}
