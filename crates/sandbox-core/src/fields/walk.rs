//! From objects to field sets: the paths an object sets, the value at a path, the paths an update
//! changed, and removing a path from an object.

use super::set::{self, FieldSet};
use super::shape::{Kind, ListType, Shape, key_default};
use serde_json::Value;

/// Paths the server keeps for itself: nobody owns them (as upstream's field manager strips them).
const SERVER_OWNED: [&[&str]; 12] = [
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:resourceVersion"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:managedFields"],
    &["f:metadata", "f:deletionTimestamp"],
    &["f:metadata", "f:deletionGracePeriodSeconds"],
];

/// The set of paths an object sets, without the server-owned ones.
pub fn field_set(obj: &Value, shape: Shape) -> FieldSet {
    let mut set = FieldSet::default();
    walk(obj, shape, &mut set);
    set.member = false;
    for owned in SERVER_OWNED {
        let (last, parent) = owned.split_last().expect("paths are not empty");
        let node = parent.iter().try_fold(&mut set, |node, element| node.children.get_mut(*element));
        if let Some(node) = node {
            node.children.remove(*last);
        }
    }
    prune(&mut set);
    set
}

/// Drops branches that hold no path (left behind by stripping).
fn prune(node: &mut FieldSet) {
    for child in node.children.values_mut() {
        prune(child);
    }
    node.children.retain(|_, child| !child.is_empty());
}

fn walk(value: &Value, shape: Shape, node: &mut FieldSet) {
    match (value, shape.kind()) {
        (Value::Object(map), Kind::Struct(_)) if !map.is_empty() => {
            for (name, child) in map {
                walk(child, shape.field(name), node.children.entry(set::field(name)).or_default());
            }
        }
        (Value::Object(map), kind @ (Kind::Map | Kind::Deduced)) if !map.is_empty() => {
            // A map is owned as a whole as well as key by key (FieldsV1 `.`); a value without a
            // schema only key by key.
            node.member = kind == Kind::Map;
            for (name, child) in map {
                let entry = node.children.entry(set::field(name)).or_default();
                walk(child, shape.field(name), entry);
                entry.member = true;
            }
        }
        (Value::Array(items), Kind::List(ListType::Map(keys))) if !items.is_empty() => {
            match items.iter().map(|item| item_key(item, keys, shape.items())).collect::<Option<Vec<String>>>() {
                Some(elements) => {
                    for (element, item) in elements.into_iter().zip(items) {
                        let entry = node.children.entry(element).or_default();
                        walk(item, shape.items(), entry);
                        entry.member = true;
                    }
                }
                // An item without its keys: the list can only be owned whole.
                None => node.member = true,
            }
        }
        (Value::Array(items), Kind::List(ListType::Set)) if !items.is_empty() => {
            // A set is owned as a whole as well as item by item (as `finalizers` shows upstream).
            node.member = true;
            for item in items {
                node.children.entry(set::value(item)).or_default().member = true;
            }
        }
        _ => node.member = true,
    }
}

/// The `k:{…}` element of a map-list item (of shape `item_shape`), or `None` when a key field is
/// missing and has no default.
pub fn item_key(item: &Value, keys: &[Value], item_shape: Shape) -> Option<String> {
    let fields: Option<Vec<(String, Value)>> = keys
        .iter()
        .map(|k| {
            let k = k.as_str()?;
            item.get(k).or_else(|| item_shape.key_default(k)).map(|v| (k.to_string(), v.clone()))
        })
        .collect();
    Some(set::key(&fields?))
}

/// Whether a list item is the one a `k:{…}` or `v:…` element names. A path carries no schema, so
/// only the built-in key defaults fill a missing key (stored custom resources hold their defaults).
fn item_matches(item: &Value, element: &str) -> bool {
    if let Some(value) = element.strip_prefix("v:") {
        return serde_json::from_str::<Value>(value).is_ok_and(|v| &v == item);
    }
    let Some(text) = element.strip_prefix("k:") else { return false };
    let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(text) else { return false };
    keys.iter().all(|(k, v)| item.get(k).or_else(|| key_default(k)) == Some(v))
}

/// The value at a path, if the object has it.
pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |at, element| step(at, element))
}

fn step<'a>(at: &'a Value, element: &str) -> Option<&'a Value> {
    if let Some(name) = element.strip_prefix("f:") {
        return at.as_object()?.get(name);
    }
    if let Some(index) = element.strip_prefix("i:") {
        return at.as_array()?.get(index.parse::<usize>().ok()?);
    }
    at.as_array()?.iter().find(|item| item_matches(item, element))
}

/// The value at a path, for changing it.
pub fn value_at_mut<'a>(obj: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut at = obj;
    for element in path {
        at = if let Some(name) = element.strip_prefix("f:") {
            at.as_object_mut()?.get_mut(name)?
        } else if let Some(index) = element.strip_prefix("i:") {
            at.as_array_mut()?.get_mut(index.parse::<usize>().ok()?)?
        } else {
            at.as_array_mut()?.iter_mut().find(|item| item_matches(item, element))?
        };
    }
    Some(at)
}

/// Removes the value at a path (a field, or a list item); nothing when it is not there.
pub fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else { return };
    match value_at_mut(obj, parent) {
        Some(Value::Object(map)) => {
            if let Some(name) = last.strip_prefix("f:") {
                map.remove(name);
            }
        }
        Some(Value::Array(items)) => items.retain(|item| !item_matches(item, last)),
        _ => {}
    }
}

/// The paths of `new_set` (the set of `new`) that differ from `old`: a leaf whose value changed or
/// appeared, a map or list item that appeared. Walks the set and both objects together, so each
/// value is found once (this runs on every write).
pub fn changed(old: &Value, new: &Value, new_set: &FieldSet) -> FieldSet {
    changed_below(Some(old), Some(new), new_set)
}

fn changed_below(old: Option<&Value>, new: Option<&Value>, node: &FieldSet) -> FieldSet {
    let mut out = FieldSet::default();
    if node.member {
        // A container (a node with longer paths) changed when it appeared; a leaf when its value did.
        out.member = if node.children.is_empty() { old != new } else { old.is_none() };
    }
    for (element, child) in &node.children {
        let below = changed_below(old.and_then(|o| step(o, element)), new.and_then(|n| step(n, element)), child);
        if !below.is_empty() {
            out.children.insert(element.clone(), below);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::set::Path;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u", "labels": {"app": "web"},
                         "finalizers": ["a"]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx", "args": ["-g"], "ports": [{"containerPort": 80}],
                     "resources": {}}
                ]}}
            }
        })
    }

    #[test]
    fn an_objects_field_set_encodes_as_upstream_prints_it() {
        let set = field_set(&deployment(), Shape::for_kind("apps/v1", "Deployment"));
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}, "f:finalizers": {".": {}, "v:\"a\"": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:args": {}, "f:image": {}, "f:name": {}, "f:resources": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}}
                }
            })
        );
    }

    #[test]
    fn paths_reach_keyed_items_with_defaulted_keys_and_set_items() {
        let obj = deployment();
        let set = field_set(&obj, Shape::for_kind("apps/v1", "Deployment"));
        let port: Path = set
            .paths()
            .into_iter()
            .find(|p| p.last().is_some_and(|e| e == "f:containerPort"))
            .expect("the port is in the set");
        assert_eq!(value_at(&obj, &port), Some(&json!(80)));
        let mut changed_obj = obj.clone();
        remove_at(&mut changed_obj, &port[..port.len() - 1]);
        assert_eq!(changed_obj["spec"]["template"]["spec"]["containers"][0]["ports"], json!([]));
        remove_at(&mut changed_obj, &["f:metadata".into(), "f:finalizers".into(), "v:\"a\"".into()]);
        assert_eq!(changed_obj["metadata"]["finalizers"], json!([]));
    }

    /// `changed` as defined, path by path.
    fn changed_by_paths(old: &Value, new: &Value, new_set: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for path in new_set.paths() {
            let container = new_set.node(&path).is_some_and(|n| !n.children.is_empty());
            let before = value_at(old, &path);
            if if container { before.is_none() } else { before != value_at(new, &path) } {
                out.insert(&path);
            }
        }
        out
    }

    #[test]
    fn changed_walks_to_the_same_paths_as_its_definition() {
        let shape = Shape::for_kind("apps/v1", "Deployment");
        let old = deployment();
        let mut edits = vec![old.clone(), json!({}), json!({"spec": {"replicas": 2}})];
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["ports"] =
            json!([{"containerPort": 81}, {"containerPort": 80}]);
        new["metadata"]["finalizers"] = json!(["a", "b"]);
        edits.push(new);
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"] = json!([{"name": "other", "image": "x"}]);
        new["metadata"]["labels"] = json!({});
        edits.push(new);
        for before in &edits {
            for after in &edits {
                let set = field_set(after, shape);
                assert_eq!(changed(before, after, &set), changed_by_paths(before, after, &set), "{before} -> {after}");
            }
        }
    }

    #[test]
    fn an_update_changes_only_the_leaves_it_touched_and_the_items_it_added() {
        let shape = Shape::for_kind("apps/v1", "Deployment");
        let old = deployment();
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        new["metadata"]["labels"]["tier"] = json!("front");
        let changed = changed(&old, &new, &field_set(&new, shape));
        assert_eq!(
            changed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:tier": {}}}, "f:spec": {"f:replicas": {}}})
        );
    }
}
