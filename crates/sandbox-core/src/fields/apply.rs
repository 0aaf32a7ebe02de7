//! Server-side apply: merging an applied configuration into the live object by field ownership.
//! Fields the applier changes that another manager owns are conflicts (taken over when forced);
//! fields the applier owned and no longer sends are removed unless someone else owns them.

use super::managed::{self, Entry, Operation, Writer};
use super::set::{self, FieldSet, Path};
use super::shape::{Kind, ListType, Shape};
use super::walk;
use serde_json::{Value, json};

/// The manager upstream gives the fields of an object first applied after other writes.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// One field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owner, as upstream prints it: `"kubectl-client-side-apply" using apps/v1`.
    pub manager: String,
    /// The field, as upstream prints it: `.spec.replicas`.
    pub field: String,
    /// The field's path.
    pub path: Path,
}

/// An apply that conflicts: nothing changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// Upstream's message: `Apply failed with 1 conflict: conflict with "x" using apps/v1: .spec.replicas`,
    /// and for several, one `conflicts with` block per manager listing its fields.
    pub fn message(&self) -> String {
        if let [one] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager, one.field);
        }
        let mut managers: Vec<&str> = self.0.iter().map(|c| c.manager.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(self.0.iter().filter(|c| c.manager == manager).map(|c| format!("- {}", c.field)));
        }
        format!("Apply failed with {} conflicts: {}", self.0.len(), lines.join("\n"))
    }

    /// The Status causes upstream lists, one per field.
    pub fn causes(&self) -> Value {
        let causes: Vec<Value> = self
            .0
            .iter()
            .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager), "field": c.field}))
            .collect();
        Value::Array(causes)
    }
}

/// How upstream names an owner in a conflict.
fn owner(entry: &Entry) -> String {
    let mut name = format!("{:?}", entry.manager);
    if !entry.subresource.is_empty() {
        name.push_str(&format!(" with subresource {:?}", entry.subresource));
    }
    match entry.operation {
        Operation::Apply => name,
        Operation::Update => format!("{name} using {}", entry.api_version),
    }
}

/// The annotation client-side apply keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Applies `applied` over `live` (none: the object is created) for `writer`; with `force`,
/// conflicting fields change owner. Returns the new object with its `managedFields`.
///
/// As upstream, an apply by the manager `kubectl` over an object with a last-applied annotation
/// (client-side apply's) takes the fields that annotation names, where they still hold its values,
/// without conflict: that is kubectl's upgrade from client-side to server-side apply. Any other
/// manager opts out of it and meets the conflicts.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    shape: Shape,
    writer: &Writer,
    force: bool,
) -> Result<Value, Conflicts> {
    let conflicts = match apply_once(live, applied, shape, writer, force) {
        Err(conflicts) => conflicts,
        done => return done,
    };
    if writer.manager != UPGRADING_MANAGER {
        return Err(conflicts);
    }
    let Some(allowed) = live.and_then(|l| upgradable_fields(l, shape)) else { return Err(conflicts) };
    let others: Vec<Conflict> = conflicts.0.into_iter().filter(|c| !allowed.contains(&c.path)).collect();
    match others.is_empty() {
        true => apply_once(live, applied, shape, writer, true),
        false => Err(Conflicts(others)),
    }
}

/// The one manager whose applies upgrade client-side-applied fields (kubectl's default for
/// `apply --server-side`).
const UPGRADING_MANAGER: &str = "kubectl";

/// The fields of an object's last-applied annotation that still hold the value it records.
fn upgradable_fields(live: &Value, shape: Shape) -> Option<FieldSet> {
    let text = live["metadata"]["annotations"].get(LAST_APPLIED)?.as_str()?;
    let last: Value = serde_json::from_str(text).ok()?;
    let recorded = walk::field_set(&last, shape);
    let changed = walk::changed(live, &last, &recorded);
    Some(recorded.difference(&changed))
}

fn apply_once(
    live: Option<&Value>,
    applied: &Value,
    shape: Shape,
    writer: &Writer,
    force: bool,
) -> Result<Value, Conflicts> {
    let empty = json!({});
    let live_obj = live.unwrap_or(&empty);
    let mut entries = live.map(|l| managed::starting_entries(None, l)).unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        // Fields set before any manager was recorded belong to a placeholder, as upstream.
        let before = Writer { manager: BEFORE_FIRST_APPLY, operation: Operation::Update, subresource: "", ..*writer };
        entries.push(Entry::new(&before, walk::field_set(live_obj, shape)));
    }
    let applied_set = walk::field_set(applied, shape);
    let mut merged = merge(live_obj, applied, shape);
    let changed = walk::changed(live_obj, &merged, &applied_set);
    let mut conflicts = Vec::new();
    for entry in entries.iter_mut().filter(|e| !e.belongs_to(writer)) {
        let taken = entry.set.intersection(&changed);
        for path in taken.paths() {
            conflicts.push(Conflict { manager: owner(entry), field: set::display(&path), path });
        }
        if force {
            entry.set = entry.set.difference(&taken);
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(Conflicts(conflicts));
    }
    let mine = entries.iter().position(|e| e.belongs_to(writer));
    let previous = mine.map(|i| entries[i].set.clone()).unwrap_or_default();
    let others: FieldSet =
        entries.iter().filter(|e| !e.belongs_to(writer)).fold(FieldSet::default(), |all, e| all.union(&e.set));
    remove_dropped(&mut merged, &previous.difference(&applied_set), &applied_set, &others);
    let entry = Entry::new(writer, applied_set);
    match mine {
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    if let Some(meta) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("managedFields".into(), managed::encode(&entries));
    }
    Ok(merged)
}

/// Removes the fields the applier dropped that nobody else owns (nor anything below them) and the
/// applier does not still own below them. Only the outermost of those go, with what they hold: a
/// map-list item is found by its key fields, so they must still be there when it is removed.
fn remove_dropped(obj: &mut Value, dropped: &FieldSet, still: &FieldSet, others: &FieldSet) {
    let removable: Vec<Path> =
        dropped.paths().into_iter().filter(|p| !others.touches(p) && !still.touches(p)).collect();
    for path in &removable {
        let inside_another = removable.iter().any(|outer| outer.len() < path.len() && path.starts_with(outer));
        if !inside_another {
            walk::remove_at(obj, path);
        }
    }
}

/// The live object with the applied configuration merged in: structs and maps key by key, map
/// lists item by item (by their keys), sets value by value; everything else replaced.
pub fn merge(live: &Value, applied: &Value, shape: Shape) -> Value {
    match (live, applied, shape.kind()) {
        (Value::Object(l), Value::Object(a), Kind::Struct(_) | Kind::Map | Kind::Deduced) => {
            let mut out = l.clone();
            for (name, value) in a {
                let merged = match l.get(name) {
                    Some(current) => merge(current, value, shape.field(name)),
                    None => value.clone(),
                };
                out.insert(name.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a), Kind::List(ListType::Map(keys))) => {
            let mut out = l.clone();
            for item in a {
                let Some(element) = walk::item_key(item, keys, shape.items()) else { return applied.clone() };
                match out.iter_mut().find(|i| walk::item_key(i, keys, shape.items()).as_ref() == Some(&element)) {
                    Some(current) => *current = merge(current, item, shape.items()),
                    None => out.push(item.clone()),
                }
            }
            Value::Array(out)
        }
        (Value::Array(l), Value::Array(a), Kind::List(ListType::Set)) => {
            let mut out = l.clone();
            out.extend(a.iter().filter(|v| !l.contains(v)).cloned());
            Value::Array(out)
        }
        _ => applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer { manager, operation: Operation::Apply, api_version: "apps/v1", subresource: "", time: "t" }
    }

    fn config(replicas: Option<i64>, image: &str) -> Value {
        let mut c = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}});
        if let Some(r) = replicas {
            c["spec"]["replicas"] = json!(r);
        }
        c
    }

    fn shape() -> Shape<'static> {
        Shape::for_kind("apps/v1", "Deployment")
    }

    #[test]
    fn a_second_manager_changing_a_field_conflicts_and_force_takes_it() {
        let first = apply(None, &config(Some(2), "nginx"), shape(), &writer("kubectl"), false).unwrap();
        let err = apply(Some(&first), &config(Some(3), "nginx"), shape(), &writer("other"), false).unwrap_err();
        assert_eq!(err.message(), "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas");
        let taken = apply(Some(&first), &config(Some(3), "nginx"), shape(), &writer("other"), true).unwrap();
        assert_eq!(taken["spec"]["replicas"], 3);
        let entries = managed::decode(&taken["metadata"]["managedFields"]).unwrap();
        assert!(!entries[0].set.touches(&["f:spec".into(), "f:replicas".into()]));
        // The same value is shared, not a conflict.
        assert!(apply(Some(&taken), &config(Some(3), "nginx"), shape(), &writer("third"), false).is_ok());
    }

    #[test]
    fn a_dropped_field_is_removed_unless_another_manager_owns_it() {
        let first = apply(None, &config(Some(2), "nginx"), shape(), &writer("kubectl"), false).unwrap();
        let dropped = apply(Some(&first), &config(None, "nginx"), shape(), &writer("kubectl"), false).unwrap();
        assert_eq!(dropped["spec"].get("replicas"), None);
        assert_eq!(dropped["spec"]["template"]["spec"]["containers"][0]["image"], "nginx");
        let shared = apply(Some(&first), &config(Some(2), "nginx"), shape(), &writer("other"), false).unwrap();
        let kept = apply(Some(&shared), &config(None, "nginx"), shape(), &writer("kubectl"), false).unwrap();
        assert_eq!(kept["spec"]["replicas"], 2);
    }

    #[test]
    fn several_conflicts_are_listed_per_manager() {
        let c = |m: &str, f: &str| Conflict { manager: m.into(), field: f.into(), path: Vec::new() };
        let conflicts = Conflicts(vec![c("\"a\" using v1", ".x"), c("\"a\" using v1", ".y"), c("\"b\"", ".z")]);
        assert_eq!(
            conflicts.message(),
            "Apply failed with 3 conflicts: conflicts with \"a\" using v1:\n- .x\n- .y\nconflicts with \"b\":\n- .z"
        );
    }

    #[test]
    fn the_first_server_side_apply_takes_what_the_last_applied_annotation_names() {
        let csa = Writer { operation: Operation::Update, ..writer("kubectl-client-side-apply") };
        let mut live = config(Some(2), "nginx");
        let last = serde_json::to_string(&live).unwrap();
        live["metadata"]["annotations"] = json!({});
        live["metadata"]["annotations"][LAST_APPLIED] = json!(last);
        let set = walk::field_set(&live, shape());
        live["metadata"]["managedFields"] = managed::encode(&[Entry::new(&csa, set)]);
        // Another manager opts out of the upgrade: it meets client-side apply's ownership.
        let refused = apply(Some(&live), &config(Some(4), "nginx"), shape(), &writer("other"), false).unwrap_err();
        assert!(refused.message().contains("conflict with \"kubectl-client-side-apply\""), "{}", refused.message());
        let upgraded = apply(Some(&live), &config(Some(4), "nginx"), shape(), &writer("kubectl"), false).unwrap();
        assert_eq!(upgraded["spec"]["replicas"], 4);
        // Once kubectl owns the field, the same change by another manager conflicts with it.
        assert!(apply(Some(&upgraded), &config(Some(5), "nginx"), shape(), &writer("other"), false).is_err());
    }

    #[test]
    fn an_update_owner_prints_with_its_api_version() {
        let csa = Writer { operation: Operation::Update, ..writer("kubectl-client-side-apply") };
        let mut live = config(Some(2), "nginx");
        let set = walk::field_set(&live, shape());
        live["metadata"]["managedFields"] = managed::encode(&[Entry::new(&csa, set)]);
        let err = apply(Some(&live), &config(Some(4), "nginx"), shape(), &writer("other"), false).unwrap_err();
        assert_eq!(
            err.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
    }

    /// A custom resource whose `spec.ports` is a map list keyed by `name`, `spec.tags` a set,
    /// `spec.args` atomic and `spec.selector` an atomic map.
    fn gateway_type() -> crate::registry::ResourceType {
        custom_type(json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "properties": {
                          "name": {"type": "string"}, "port": {"type": "integer"}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "args": {"type": "array", "items": {"type": "string"}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                         "additionalProperties": {"type": "string"}},
        }}}}))
    }

    /// The served type of a definition `lab.example.com/v1` `Gateway` with this schema.
    fn custom_type(schema: Value) -> crate::registry::ResourceType {
        let crd = json!({"spec": {"group": "lab.example.com", "scope": "Namespaced",
            "names": {"kind": "Gateway", "plural": "gateways"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}});
        crate::custom::types_from_crd(&crd).remove(0)
    }

    fn gateway(ports: Value) -> Value {
        json!({"apiVersion": "lab.example.com/v1", "kind": "Gateway", "metadata": {"name": "gw"},
               "spec": {"ports": ports}})
    }

    fn fields_of(obj: &Value, manager: &str) -> Value {
        let entries = managed::decode(&obj["metadata"]["managedFields"]).unwrap();
        entries.into_iter().find(|e| e.manager == manager).map(|e| e.set.to_fields_v1()).unwrap_or(Value::Null)
    }

    #[test]
    fn a_custom_resources_list_types_shape_its_field_set() {
        let rt = gateway_type();
        let obj = json!({"metadata": {"labels": {"a": "b"}}, "spec": {
            "ports": [{"name": "http", "port": 80}], "tags": ["x"], "args": ["-v"], "selector": {"app": "gw"}}});
        assert_eq!(
            walk::field_set(&obj, Shape::for_type(&rt)).to_fields_v1(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {
                "f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
                "f:tags": {".": {}, "v:\"x\"": {}},
                "f:args": {},
                "f:selector": {},
            }})
        );
    }

    #[test]
    fn a_missing_key_of_a_custom_map_list_takes_its_schemas_default() {
        let rt = custom_type(json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                      "items": {"type": "object", "properties": {
                          "port": {"type": "integer"}, "protocol": {"type": "string", "default": "UDP"}}}},
        }}}}));
        let set = walk::field_set(&json!({"spec": {"ports": [{"port": 53}]}}), Shape::for_type(&rt));
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:spec": {"f:ports": {"k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}}}}})
        );
    }

    #[test]
    fn managers_of_a_custom_map_list_own_their_items() {
        let rt = gateway_type();
        let shape = Shape::for_type(&rt);
        let http = json!({"name": "http", "port": 80});
        let https = json!({"name": "https", "port": 443});
        let a = apply(None, &gateway(json!([http])), shape, &writer("a"), false).unwrap();
        let both = apply(Some(&a), &gateway(json!([https])), shape, &writer("b"), false).unwrap();
        assert_eq!(both["spec"]["ports"], json!([http, https]));
        assert_eq!(
            fields_of(&both, "b"),
            json!({"f:spec": {"f:ports": {"k:{\"name\":\"https\"}": {".": {}, "f:name": {}, "f:port": {}}}}})
        );
        // A's change of b's item conflicts, named by the item's key.
        let err =
            apply(Some(&both), &gateway(json!([http, {"name": "https", "port": 8443}])), shape, &writer("a"), false)
                .unwrap_err();
        assert_eq!(
            err.message(),
            "Apply failed with 1 conflict: conflict with \"b\": .spec.ports[name=\"https\"].port"
        );
        // A dropping its item removes that item only.
        let dropped = apply(Some(&both), &gateway(json!([])), shape, &writer("a"), false).unwrap();
        assert_eq!(dropped["spec"]["ports"], json!([https]));
    }

    #[test]
    fn a_custom_atomic_list_is_replaced_and_owned_whole() {
        let rt = gateway_type();
        let shape = Shape::for_type(&rt);
        let args = |a: Value| json!({"apiVersion": "lab.example.com/v1", "kind": "Gateway", "metadata": {"name": "gw"}, "spec": {"args": a}});
        let first = apply(None, &args(json!(["-a"])), shape, &writer("a"), false).unwrap();
        let err = apply(Some(&first), &args(json!(["-b"])), shape, &writer("b"), false).unwrap_err();
        assert_eq!(err.message(), "Apply failed with 1 conflict: conflict with \"a\": .spec.args");
        let taken = apply(Some(&first), &args(json!(["-b"])), shape, &writer("b"), true).unwrap();
        assert_eq!(taken["spec"]["args"], json!(["-b"]));
    }

    #[test]
    fn map_lists_merge_by_key() {
        let live = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}}});
        let applied = json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "2"}]}}}});
        let merged = merge(&live, &applied, shape());
        assert_eq!(merged["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 2);
    }
}
