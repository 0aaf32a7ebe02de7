//! `metadata.managedFields`: who set which field. An update hands the fields it changed to its
//! manager (taking them from any other), and a removed field leaves every set.

use super::set::FieldSet;
use super::shape::Shape;
use super::walk;
use serde_json::{Value, json};

/// How a manager wrote its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply: the manager's set is exactly what it applied.
    Apply,
    /// Any other write: the manager's set grows by what it changed.
    Update,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Who (`kubectl-create`, `kube-controller-manager`, a `?fieldManager=`).
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// The version the fields were written in.
    pub api_version: String,
    /// When the entry last changed (RFC 3339).
    pub time: String,
    /// `status`, `scale` or empty for the main resource.
    pub subresource: String,
    /// The fields.
    pub set: FieldSet,
}

/// Who writes, and how.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// The manager's name.
    pub manager: &'a str,
    /// Apply or Update.
    pub operation: Operation,
    /// The object's apiVersion.
    pub api_version: &'a str,
    /// `status`, `scale` or "".
    pub subresource: &'a str,
    /// The write's time, RFC 3339.
    pub time: &'a str,
}

impl Entry {
    /// Whether this entry is the one `writer` keeps.
    pub fn belongs_to(&self, writer: &Writer) -> bool {
        self.manager == writer.manager
            && self.operation == writer.operation
            && self.api_version == writer.api_version
            && self.subresource == writer.subresource
    }

    /// A new entry for `writer`.
    pub fn new(writer: &Writer, set: FieldSet) -> Entry {
        Entry {
            manager: writer.manager.to_string(),
            operation: writer.operation,
            api_version: writer.api_version.to_string(),
            time: writer.time.to_string(),
            subresource: writer.subresource.to_string(),
            set,
        }
    }
}

/// Reads `managedFields`; `None` when it is not a valid list of FieldsV1 entries.
pub fn decode(value: &Value) -> Option<Vec<Entry>> {
    value.as_array()?.iter().map(decode_entry).collect()
}

fn decode_entry(value: &Value) -> Option<Entry> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let operation = match value.get("operation")?.as_str()? {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return None,
    };
    if value.get("fieldsType").is_some_and(|t| t != "FieldsV1") {
        return None;
    }
    let set = match value.get("fieldsV1") {
        Some(fields) => FieldSet::from_fields_v1(fields)?,
        None => FieldSet::default(),
    };
    Some(Entry {
        manager: text("manager"),
        operation,
        api_version: text("apiVersion"),
        time: text("time"),
        subresource: text("subresource"),
        set,
    })
}

/// Writes entries as `managedFields`, dropping those that own nothing.
pub fn encode(entries: &[Entry]) -> Value {
    let items: Vec<Value> = entries
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut item = json!({
                "manager": e.manager, "operation": e.operation.name(), "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": e.set.to_fields_v1(),
            });
            if !e.subresource.is_empty() {
                item["subresource"] = json!(e.subresource);
            }
            item
        })
        .collect();
    Value::Array(items)
}

/// The entries a write starts from: those the new object carries when its writer sent valid ones
/// (how kubectl moves fields from client-side to server-side apply), else the stored ones.
pub fn starting_entries(old: Option<&Value>, new: &Value) -> Vec<Entry> {
    let sent = new["metadata"].get("managedFields").filter(|v| !v.is_null());
    if let Some(entries) = sent.and_then(decode) {
        return entries;
    }
    old.and_then(|o| decode(&o["metadata"]["managedFields"])).unwrap_or_default()
}

/// The `managedFields` after an Update of `old` (none for a create) to `new` by `writer`: the
/// writer's entry gains what it changed, other entries lose it, and removed fields leave all.
/// A `managedFields: []` in the new object clears them, as upstream.
pub fn after_update(old: Option<&Value>, new: &Value, shape: Shape, writer: &Writer) -> Value {
    if new["metadata"]["managedFields"].as_array().is_some_and(Vec::is_empty) {
        return json!([]);
    }
    let mut entries = starting_entries(old, new);
    let empty = json!({});
    let old_obj = old.unwrap_or(&empty);
    let new_set = walk::field_set(new, shape);
    let changed = walk::changed(old_obj, new, &new_set);
    let removed = walk::field_set(old_obj, shape).difference(&new_set);
    if changed.is_empty() && removed.is_empty() {
        // A write that changes no field changes no owner (nor any entry's time).
        return encode(&entries);
    }
    let mut found = false;
    for entry in &mut entries {
        if entry.belongs_to(writer) {
            found = true;
            entry.set = entry.set.union(&changed).difference(&removed);
            entry.time = writer.time.to_string();
        } else {
            entry.set = entry.set.difference(&changed).difference(&removed);
        }
    }
    if !found && !changed.is_empty() {
        entries.push(Entry::new(writer, changed));
    }
    encode(&entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            operation: Operation::Update,
            api_version: "v1",
            subresource: "",
            time: "2026-01-01T00:00:00Z",
        }
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
    }

    #[test]
    fn a_create_owns_every_field_it_set() {
        let shape = Shape::for_kind("v1", "ConfigMap");
        let managed = after_update(None, &cm(json!({"a": "1"})), shape, &writer("kubectl-create"));
        assert_eq!(
            managed,
            json!([{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                    "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {".": {}, "f:a": {}}}}])
        );
    }

    #[test]
    fn an_update_takes_the_fields_it_changes_and_removed_fields_leave_every_set() {
        let shape = Shape::for_kind("v1", "ConfigMap");
        let mut old = cm(json!({"a": "1", "b": "2"}));
        old["metadata"]["managedFields"] = after_update(None, &old, shape, &writer("kubectl-create"));
        let new = {
            let mut new = old.clone();
            new["data"] = json!({"a": "changed"});
            new
        };
        let managed = after_update(Some(&old), &new, shape, &writer("kubectl-edit"));
        let entries = decode(&managed).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].set.to_fields_v1(), json!({"f:data": {}}));
        assert_eq!(entries[0].manager, "kubectl-create");
        assert_eq!(entries[1].set.to_fields_v1(), json!({"f:data": {"f:a": {}}}));
        assert_eq!(entries[1].manager, "kubectl-edit");
    }

    #[test]
    fn sent_entries_replace_the_stored_ones_and_an_empty_list_clears_them() {
        let shape = Shape::for_kind("v1", "ConfigMap");
        let mut old = cm(json!({"a": "1"}));
        old["metadata"]["managedFields"] = after_update(None, &old, shape, &writer("kubectl-client-side-apply"));
        let mut moved = old.clone();
        moved["metadata"]["managedFields"][0]["manager"] = json!("kubectl");
        moved["metadata"]["managedFields"][0]["operation"] = json!("Apply");
        let managed = after_update(Some(&old), &moved, shape, &writer("kubectl"));
        assert_eq!(managed[0]["manager"], "kubectl");
        assert_eq!(managed.as_array().unwrap().len(), 1);
        let mut cleared = old.clone();
        cleared["metadata"]["managedFields"] = json!([]);
        assert_eq!(after_update(Some(&old), &cleared, shape, &writer("x")), json!([]));
    }
}
