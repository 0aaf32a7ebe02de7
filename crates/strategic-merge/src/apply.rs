//! Applying a strategic merge patch to an object, as the API server does for
//! `application/strategic-merge-patch+json`.

use serde_json::{Map, Value};

use crate::error::{PatchError, describe};
use crate::merge::{Merger, Mode};
use crate::schema::MergeSchema;

/// Applies `patch` to `original` with Kubernetes strategic merge semantics.
///
/// Objects merge recursively and `null` deletes a key; lists whose schema says
/// `merge` merge by merge key (objects) or as a set (plain values), and other
/// lists are replaced. Directives: `$patch: replace | delete | merge` on objects
/// and list items, `$retainKeys`, `$setElementOrder/<field>` and
/// `$deleteFromPrimitiveList/<field>`; any other `$` key is an error.
///
/// Like upstream, `$patch: delete` on an existing nested object leaves `{}`.
/// Differences from upstream, on purpose: `$patch: merge` is accepted as the
/// explicit default (upstream rejects it), and a subtree new to the object has
/// its directives carried out and its `null`s dropped at every depth (upstream
/// copies some of them verbatim).
pub fn apply_patch(original: &Value, patch: &Value, schema: &MergeSchema) -> Result<Value, PatchError> {
    let original = as_object(original)?;
    let patch = as_object(patch)?;
    let merged = Merger { mode: Mode::Apply }.merge_map(original.clone(), patch.clone(), *schema, "")?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// The top-level object of a document.
pub(crate) fn as_object(value: &Value) -> Result<&Map<String, Value>, PatchError> {
    value.as_object().ok_or_else(|| PatchError::NotAnObject { path: "<root>".into(), found: describe(value) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> MergeSchema {
        MergeSchema::for_kind("apps/v1", "Deployment")
    }

    fn apply(original: Value, patch: Value, schema: MergeSchema) -> Value {
        match apply_patch(&original, &patch, &schema) {
            Ok(v) => v,
            Err(e) => panic!("patch failed: {e}"),
        }
    }

    fn pod_spec(spec: Value) -> Value {
        json!({"spec": {"template": {"spec": spec}}})
    }

    #[test]
    fn containers_merge_by_name_and_keep_the_others() {
        let live = pod_spec(json!({"containers": [
            {"name": "web", "image": "nginx:1.24"},
            {"name": "sidecar", "image": "envoy"}
        ]}));
        let patch = pod_spec(json!({"containers": [{"name": "web", "image": "nginx:1.25"}]}));
        let out = apply(live, patch, deployment());
        assert_eq!(
            out,
            pod_spec(json!({"containers": [
                {"name": "web", "image": "nginx:1.25"},
                {"name": "sidecar", "image": "envoy"}
            ]}))
        );
    }

    #[test]
    fn a_new_container_without_an_order_directive_goes_before_the_live_ones() {
        // Upstream's ordering puts patch items first when nothing says where
        // the live-only items sit relative to them; kubectl always sends
        // `$setElementOrder` to pin the order.
        let live = pod_spec(json!({"containers": [{"name": "web", "image": "nginx"}]}));
        let patch = pod_spec(json!({"containers": [{"name": "log", "image": "busybox"}]}));
        let out = apply(live, patch, deployment());
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(|l| l.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["log", "web"]);
    }

    #[test]
    fn an_env_var_is_removed_with_a_delete_directive() {
        let live = pod_spec(json!({"containers": [{"name": "web", "env": [
            {"name": "A", "value": "1"}, {"name": "B", "value": "2"}
        ]}]}));
        let patch = pod_spec(json!({"containers": [{"name": "web", "env": [
            {"name": "A", "$patch": "delete"}
        ]}]}));
        let out = apply(live, patch, deployment());
        assert_eq!(
            out,
            pod_spec(json!({"containers": [{"name": "web", "env": [
                {"name": "B", "value": "2"}
            ]}]}))
        );
    }

    #[test]
    fn replicas_null_removes_the_field() {
        let live = json!({"spec": {"replicas": 3, "paused": false}});
        let out = apply(live, json!({"spec": {"replicas": null}}), deployment());
        assert_eq!(out, json!({"spec": {"paused": false}}));
    }

    #[test]
    fn volumes_retain_keys_clears_the_old_volume_source() {
        let live = pod_spec(json!({"volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "other", "emptyDir": {}}
        ]}));
        let patch = pod_spec(json!({"volumes": [
            {"name": "data", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}}
        ]}));
        let out = apply(live, patch, deployment());
        assert_eq!(
            out,
            pod_spec(json!({"volumes": [
                {"name": "data", "configMap": {"name": "cfg"}},
                {"name": "other", "emptyDir": {}}
            ]}))
        );
    }

    #[test]
    fn deployment_strategy_switch_to_recreate_drops_rolling_update() {
        let live = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        let out = apply(live, patch, deployment());
        assert_eq!(out, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }

    #[test]
    fn retain_keys_must_name_every_field_the_patch_sets() {
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
        let err = apply_patch(&json!({}), &patch, &deployment()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.strategy: field `rollingUpdate` is set by the patch but missing from `$retainKeys`"
        );
    }

    #[test]
    fn container_ports_merge_by_container_port() {
        let live = pod_spec(json!({"containers": [{"name": "web", "ports": [
            {"containerPort": 80, "name": "http"}, {"containerPort": 443}
        ]}]}));
        let patch = pod_spec(json!({"containers": [{"name": "web", "ports": [
            {"containerPort": 80, "name": "web"}, {"containerPort": 9090}
        ]}]}));
        let out = apply(live, patch, deployment());
        assert_eq!(
            out,
            pod_spec(json!({"containers": [{"name": "web", "ports": [
                {"containerPort": 80, "name": "web"}, {"containerPort": 9090}, {"containerPort": 443}
            ]}]}))
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let live = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9000}]}});
        let out = apply(live, patch, MergeSchema::for_kind("v1", "Service"));
        assert_eq!(out, json!({"spec": {"ports": [{"port": 80, "targetPort": 9000}, {"port": 443}]}}));
    }

    #[test]
    fn set_element_order_reorders_the_merged_list() {
        let live = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
        let patch = pod_spec(json!({
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "x"}]
        }));
        let out = apply(live, patch, deployment());
        assert_eq!(out, pod_spec(json!({"containers": [{"name": "b"}, {"name": "a", "image": "x"}]})));
    }

    #[test]
    fn set_element_order_rejects_a_patch_list_in_another_order() {
        let patch = pod_spec(json!({
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b"}, {"name": "a"}]
        }));
        let err = apply_patch(&json!({}), &patch, &deployment()).unwrap_err();
        assert!(matches!(err, PatchError::OrderMismatch { .. }), "{err}");
    }

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list_removes() {
        let live = json!({"metadata": {"finalizers": ["a", "b"]}});
        let schema = MergeSchema::for_kind("v1", "ConfigMap");
        let added = apply(live.clone(), json!({"metadata": {"finalizers": ["b", "c"]}}), schema);
        assert_eq!(added, json!({"metadata": {"finalizers": ["a", "b", "c"]}}));
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
        assert_eq!(apply(live, patch, schema), json!({"metadata": {"finalizers": ["b"]}}));
    }

    #[test]
    fn patch_replace_in_a_list_replaces_the_whole_list() {
        let live = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
        let patch = pod_spec(json!({"containers": [{"name": "c"}, {"$patch": "replace"}]}));
        let out = apply(live, patch, deployment());
        assert_eq!(out, pod_spec(json!({"containers": [{"name": "c"}]})));
    }

    #[test]
    fn patch_replace_on_a_map_replaces_it_whole() {
        let live = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let patch = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}});
        let out = apply(live, patch, deployment());
        assert_eq!(out, json!({"metadata": {"labels": {"c": "3"}}}));
    }

    #[test]
    fn patch_delete_on_a_map_empties_it() {
        let live = json!({"metadata": {"name": "x", "labels": {"a": "1"}}});
        let out = apply(live, json!({"metadata": {"labels": {"$patch": "delete"}}}), deployment());
        assert_eq!(out, json!({"metadata": {"name": "x", "labels": {}}}));
    }

    #[test]
    fn patch_merge_on_a_list_item_is_the_plain_merge() {
        let live = pod_spec(json!({"containers": [{"name": "a", "image": "x"}]}));
        let patch = pod_spec(json!({"containers": [{"name": "a", "$patch": "merge", "tty": true}]}));
        let out = apply(live, patch, deployment());
        assert_eq!(out, pod_spec(json!({"containers": [{"name": "a", "image": "x", "tty": true}]})));
    }

    #[test]
    fn atomic_lists_are_replaced_whole() {
        let live = pod_spec(json!({"tolerations": [{"key": "a"}], "containers": [{"name": "c", "args": ["1", "2"]}]}));
        let patch = pod_spec(json!({"tolerations": [{"key": "b"}], "containers": [{"name": "c", "args": ["3"]}]}));
        let out = apply(live, patch, deployment());
        assert_eq!(out, pod_spec(json!({"tolerations": [{"key": "b"}], "containers": [{"name": "c", "args": ["3"]}]})));
    }

    #[test]
    fn an_unknown_kind_replaces_lists_like_a_json_merge_patch() {
        let live = json!({"spec": {"items": [{"name": "a"}], "keep": 1}});
        let patch = json!({"spec": {"items": [{"name": "b"}]}});
        let out = apply(live, patch, MergeSchema::for_kind("example.com/v1", "Widget"));
        assert_eq!(out, json!({"spec": {"items": [{"name": "b"}], "keep": 1}}));
    }

    #[test]
    fn a_container_without_a_name_is_an_error_naming_the_list() {
        let live = pod_spec(json!({"containers": [{"name": "a"}]}));
        let patch = pod_spec(json!({"containers": [{"image": "x"}]}));
        let err = apply_patch(&live, &patch, &deployment()).unwrap_err();
        assert_eq!(err.to_string(), "spec.template.spec.containers: merge key `name` missing in an item");
    }

    #[test]
    fn an_unknown_directive_is_an_error() {
        let err = apply_patch(&json!({}), &json!({"spec": {"$explode": 1}}), &deployment()).unwrap_err();
        assert_eq!(err.to_string(), "spec: unknown patch directive `$explode`");
        let err = apply_patch(&json!({}), &json!({"spec": {"$patch": "shred"}}), &deployment()).unwrap_err();
        assert!(matches!(err, PatchError::UnknownPatchValue { .. }), "{err}");
    }

    #[test]
    fn nulls_and_directives_inside_a_new_subtree_are_carried_out() {
        let patch = json!({"metadata": {"labels": {"a": "1", "b": null}}, "spec": {"template": {"spec": {
            "containers": [{"name": "x", "$patch": "delete"}, {"name": "y"}]
        }}}});
        let out = apply(json!({}), patch, deployment());
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"template": {"spec": {
                "containers": [{"name": "y"}]
            }}}})
        );
    }

    #[test]
    fn a_patch_that_is_not_an_object_is_rejected() {
        let err = apply_patch(&json!({}), &json!([1]), &deployment()).unwrap_err();
        assert_eq!(err.to_string(), "<root>: expected an object, found a list");
    }

    #[test]
    fn a_list_mixing_objects_and_strings_is_rejected() {
        let live = pod_spec(json!({"containers": [{"name": "a"}]}));
        let err = apply_patch(&live, &pod_spec(json!({"containers": ["b"]})), &deployment()).unwrap_err();
        assert!(matches!(err, PatchError::MixedList { .. }), "{err}");
    }
}
