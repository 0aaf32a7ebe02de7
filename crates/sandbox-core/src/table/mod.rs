//! Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for.
//!
//! Columns are data (`data/columns.yaml`, per group-qualified kind): a name, a type, a priority and a
//! cell expression (`expr`) evaluated on each object. Computed cells (pod status, job duration, …)
//! live in `computed` and `pod`; ages use upstream's human durations (`duration`).

mod computed;
mod duration;
mod expr;
mod network_storage;
mod pod;
mod policy_cells;

pub use duration::human_duration;

use crate::registry::ResourceType;
use expr::{Ctx, Expr};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// What each row's `object` carries (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object (`null`).
    None,
    /// A `PartialObjectMetadata` with the object's metadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads the query value; empty means the default (`Metadata`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "" | "Metadata" => Ok(Self::Metadata),
            "None" => Ok(Self::None),
            "Object" => Ok(Self::Object),
            other => Err(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"None\", \"Metadata\", \"Object\""
            )),
        }
    }
}

/// One column as written in the data file.
#[derive(Debug, Clone, Deserialize)]
struct ColumnSpec {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: i64,
    cell: String,
}

#[derive(Debug, Clone, Deserialize)]
struct KindSpec {
    #[serde(default)]
    conditions: Option<String>,
    columns: Vec<ColumnSpec>,
}

#[derive(Debug, Deserialize)]
struct ColumnsFile {
    fallback: KindSpec,
    kinds: BTreeMap<String, KindSpec>,
}

/// A kind's columns with their cell expressions parsed.
#[derive(Debug)]
struct Layout {
    definitions: Vec<Value>,
    cells: Vec<Expr>,
    conditions: Option<Expr>,
}

impl Layout {
    fn build(spec: &KindSpec) -> Result<Self, String> {
        let definitions = spec
            .columns
            .iter()
            .map(|c| {
                json!({"name": c.name, "type": c.kind, "format": c.format, "description": c.description,
                    "priority": c.priority})
            })
            .collect();
        let cells = spec.columns.iter().map(|c| Expr::parse(&c.cell)).collect::<Result<_, _>>()?;
        let conditions = spec.conditions.as_deref().map(Expr::parse).transpose()?;
        Ok(Self { definitions, cells, conditions })
    }
}

struct Layouts {
    fallback: Layout,
    kinds: BTreeMap<String, Layout>,
}

/// Parses the column data; the unit tests make sure this never fails at run time.
fn load() -> Result<Layouts, String> {
    let file: ColumnsFile = serde_norway::from_str(include_str!("data/columns.yaml")).map_err(|e| e.to_string())?;
    let mut kinds = BTreeMap::new();
    for (kind, spec) in &file.kinds {
        kinds.insert(kind.clone(), Layout::build(spec).map_err(|e| format!("{kind}: {e}"))?);
    }
    Ok(Layouts { fallback: Layout::build(&file.fallback)?, kinds })
}

fn layouts() -> &'static Layouts {
    static LAYOUTS: OnceLock<Layouts> = OnceLock::new();
    LAYOUTS.get_or_init(|| load().expect("table/data/columns.yaml is valid (checked by a unit test)"))
}

/// Builds a Table of `items` for this kind; `list_meta` becomes its `metadata`.
/// `now` is the reference time for the AGE column (RFC 3339 timestamps are compared to it).
pub fn to_table(rt: &ResourceType, items: &[Arc<Value>], list_meta: Value, now: jiff::Timestamp) -> Value {
    to_table_with(rt, items, list_meta, now, IncludeObject::Metadata)
}

/// Like [`to_table`], choosing what each row's `object` holds.
pub fn to_table_with(
    rt: &ResourceType,
    items: &[Arc<Value>],
    list_meta: Value,
    now: jiff::Timestamp,
    include: IncludeObject,
) -> Value {
    let all = layouts();
    let own;
    let layout = match rt.custom.as_deref().and_then(|c| custom_layout(c).ok()) {
        Some(built) => {
            own = built;
            &own
        }
        None => all.kinds.get(&rt.qualified_kind()).unwrap_or(&all.fallback),
    };
    let rows: Vec<Value> = items.iter().map(|obj| row(layout, obj, now, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": layout.definitions,
        "rows": rows,
    })
}

/// A custom resource's columns, as upstream's: the name, then `additionalPrinterColumns` (a `date`
/// column shown as an age), or the age alone when the definition declares none.
fn custom_layout(spec: &crate::custom::CustomSpec) -> Result<Layout, String> {
    let name = ColumnSpec {
        name: "Name".into(),
        kind: "string".into(),
        format: "name".into(),
        description: "Name must be unique within a namespace.".into(),
        priority: 0,
        cell: ".metadata.name".into(),
    };
    let age = ColumnSpec {
        name: "Age".into(),
        kind: "date".into(),
        format: String::new(),
        description: "How long ago the object was created.".into(),
        priority: 0,
        cell: "age(.metadata.creationTimestamp)".into(),
    };
    let declared = spec.columns.iter().map(|c| {
        let path = if c.json_path.starts_with('.') { c.json_path.clone() } else { format!(".{}", c.json_path) };
        let cell = if c.kind == "date" { format!("age({path})") } else { path };
        ColumnSpec {
            name: c.name.clone(),
            kind: c.kind.clone(),
            format: c.format.clone(),
            description: c.description.clone(),
            priority: c.priority,
            cell,
        }
    });
    let mut columns = vec![name];
    columns.extend(declared);
    if spec.columns.is_empty() {
        columns.push(age);
    }
    Layout::build(&KindSpec { conditions: None, columns })
}

fn row(layout: &Layout, obj: &Value, now: jiff::Timestamp, include: IncludeObject) -> Value {
    let ctx = Ctx { obj, now };
    let cells: Vec<Value> = layout.cells.iter().map(|c| c.eval(&ctx)).collect();
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells));
    if let Some(conditions) = layout.conditions.as_ref().map(|c| c.eval(&ctx)).filter(Value::is_array) {
        row.insert("conditions".into(), conditions);
    }
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        IncludeObject::Object => obj.clone(),
    };
    row.insert("object".into(), object);
    Value::Object(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use std::path::{Path, PathBuf};

    fn now() -> jiff::Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn rt(kind: &str) -> &'static ResourceType {
        Registry::builtin().types().iter().find(|t| t.kind == kind).unwrap_or_else(|| panic!("{kind} is served"))
    }

    #[test]
    fn the_column_data_loads_and_names_served_kinds() {
        let layouts = load().unwrap();
        let served: Vec<String> = Registry::builtin().types().iter().map(|t| t.qualified_kind()).collect();
        for kind in layouts.kinds.keys() {
            assert!(served.contains(kind), "{kind} is not a served kind");
        }
    }

    #[test]
    fn every_kind_starts_with_a_name_column_or_a_last_seen_column() {
        for (kind, layout) in &load().unwrap().kinds {
            let first = &layout.definitions[0]["name"];
            // PodTemplates call their name column `Template`, as upstream's printer does.
            assert!(first == "Name" || first == "Last Seen" || first == "Template", "{kind} starts with {first}");
        }
    }

    #[test]
    fn kinds_without_columns_show_name_and_created_at() {
        let role = Arc::new(json!({"metadata": {"name": "reader", "creationTimestamp": "2024-05-01T10:00:00Z"}}));
        let table = to_table(rt("Role"), &[role], json!({"resourceVersion": "7"}), now());
        let names: Vec<&Value> = table["columnDefinitions"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
        assert_eq!(names, [&json!("Name"), &json!("Created At")]);
        assert_eq!(table["columnDefinitions"][1]["type"], "date");
        assert_eq!(table["rows"][0]["cells"], json!(["reader", "2024-05-01T10:00:00Z"]));
        assert_eq!(table["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn include_object_chooses_what_rows_carry() {
        let cm = Arc::new(json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}));
        let with = |inc| to_table_with(rt("ConfigMap"), std::slice::from_ref(&cm), json!({}), now(), inc);
        assert_eq!(with(IncludeObject::None)["rows"][0]["object"], Value::Null);
        let partial = &with(IncludeObject::Metadata)["rows"][0]["object"];
        assert_eq!(partial["kind"], "PartialObjectMetadata");
        assert_eq!(partial["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(partial["metadata"]["name"], "c");
        assert!(partial.get("data").is_none());
        assert_eq!(with(IncludeObject::Object)["rows"][0]["object"], *cm);
        assert_eq!(IncludeObject::parse("").unwrap(), IncludeObject::Metadata);
        assert!(IncludeObject::parse("All").unwrap_err().contains("Unsupported value: \"All\""));
    }

    fn read_objects(path: &Path) -> Vec<Arc<Value>> {
        let text = std::fs::read_to_string(path).unwrap();
        serde_norway::Deserializer::from_str(&text)
            .map(|doc| Arc::new(Value::deserialize(doc).unwrap()))
            .filter(|v| !v.is_null())
            .collect()
    }

    /// Each `testdata/NAME.input.yaml` (objects of one kind) must print as `NAME.output.json`.
    /// Run with `UPDATE_GOLDEN=1` to rewrite the outputs after an intended change.
    #[test]
    fn golden_tables_match_their_inputs() {
        let dir = crate::crate_dir().join("src/table/testdata");
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".input.yaml"))
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "no golden inputs in {}", dir.display());
        let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
        let mut failures = Vec::new();
        for input in inputs {
            let objects = read_objects(&input);
            let kind = objects[0]["kind"].as_str().unwrap();
            let table = to_table(rt(kind), &objects, json!({"resourceVersion": "100"}), now());
            let rendered = serde_json::to_string_pretty(&table).unwrap() + "\n";
            let output = PathBuf::from(input.to_string_lossy().replace(".input.yaml", ".output.json"));
            if update {
                std::fs::write(&output, &rendered).unwrap();
            } else if std::fs::read_to_string(&output).ok().as_deref() != Some(rendered.as_str()) {
                failures.push(format!("{} differs; got:\n{rendered}", output.display()));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
