//! Flattens an object into leaf fields with readable paths: map keys joined by dots, items of
//! merged lists named by their merge key (`containers[name=nginx].image`), other lists whole.

use serde_json::Value;
use std::collections::BTreeMap;
use strategic_merge::{MergeSchema, PatchStrategy};

/// Leaf fields by path, in path order.
pub type Fields = BTreeMap<String, Value>;

/// The leaves of `value`; `{}` and `[]` count as leaves so that empty values show.
pub fn flatten(value: &Value, schema: &MergeSchema) -> Fields {
    let mut fields = Fields::new();
    walk(value, schema, "", "", &mut fields);
    fields
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn walk(value: &Value, schema: &MergeSchema, path: &str, schema_path: &str, out: &mut Fields) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                if key.starts_with('$') {
                    continue;
                }
                walk(child, schema, &join(path, key), &join(schema_path, key), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let meta = schema.field_meta(schema_path);
            let key = meta.merge_key.as_deref().filter(|_| meta.strategy == PatchStrategy::Merge);
            match key {
                Some(key) if items.iter().all(|i| i.get(key).is_some()) => {
                    for item in items {
                        let id = item.get(key).map(show).unwrap_or_default();
                        let item_path = format!("{path}[{key}={id}]");
                        match item.as_object() {
                            Some(map) => {
                                for (field, child) in map.iter().filter(|(f, _)| f.as_str() != key) {
                                    walk(child, schema, &join(&item_path, field), &join(schema_path, field), out);
                                }
                                if map.len() == 1 {
                                    out.insert(item_path, item.clone());
                                }
                            }
                            None => {
                                out.insert(item_path, item.clone());
                            }
                        }
                    }
                }
                _ => {
                    out.insert(path.to_string(), value.clone());
                }
            }
        }
        other => {
            out.insert(path.to_string(), other.clone());
        }
    }
}

/// A value as the views show it: strings bare, everything else as compact JSON.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a patch deletes: paths set to `null`, and merged-list items marked `$patch: delete`.
pub fn deletions(patch: &Value, schema: &MergeSchema) -> Vec<String> {
    let mut out = Vec::new();
    find_deletions(patch, schema, "", "", &mut out);
    out
}

fn find_deletions(value: &Value, schema: &MergeSchema, path: &str, schema_path: &str, out: &mut Vec<String>) {
    match value {
        Value::Null => out.push(path.to_string()),
        Value::Object(map) => {
            for (key, child) in map {
                if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
                    out.push(join(path, field));
                } else if !key.starts_with('$') {
                    find_deletions(child, schema, &join(path, key), &join(schema_path, key), out);
                }
            }
        }
        Value::Array(items) => {
            let meta = schema.field_meta(schema_path);
            let Some(key) = meta.merge_key.as_deref() else { return };
            for item in items {
                let Some(id) = item.get(key).map(show) else { continue };
                let item_path = format!("{path}[{key}={id}]");
                if item.get("$patch").and_then(Value::as_str) == Some("delete") {
                    out.push(item_path);
                } else if let Some(map) = item.as_object() {
                    for (field, child) in map.iter().filter(|(f, _)| f.as_str() != key) {
                        if !field.starts_with('$') {
                            find_deletions(child, schema, &join(&item_path, field), &join(schema_path, field), out);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Whether `path` is `prefix` or lies under it.
pub fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> MergeSchema {
        MergeSchema::for_kind("apps/v1", "Deployment")
    }

    #[test]
    fn merged_list_items_are_named_by_their_merge_key() {
        let object = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}});
        let fields = flatten(&object, &deployment());
        assert_eq!(fields.get("spec.replicas"), Some(&json!(3)));
        assert_eq!(fields.get("spec.template.spec.containers[name=nginx].image"), Some(&json!("nginx:1.27")));
        assert!(fields.contains_key("spec.template.spec.containers[name=nginx].ports[containerPort=80]"));
    }

    #[test]
    fn deletions_are_read_from_nulls_and_delete_directives() {
        let patch = json!({"spec": {"replicas": null, "template": {"spec": {"containers": [
            {"name": "sidecar", "$patch": "delete"}]}}}});
        let found = deletions(&patch, &deployment());
        assert_eq!(found, ["spec.replicas", "spec.template.spec.containers[name=sidecar]"]);
        assert!(is_under(
            "spec.template.spec.containers[name=sidecar].image",
            "spec.template.spec.containers[name=sidecar]"
        ));
        assert!(!is_under("spec.replicasX", "spec.replicas"));
    }
}
