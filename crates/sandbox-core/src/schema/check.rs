//! A compact tree compiled from the definitions, walked to find unknown fields and wrong JSON types.

use super::defs::{Definitions, ref_name};
use super::text::{self, TextRule};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// A JSON value kind a scalar field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Accept {
    String,
    Integer,
    Number,
    Boolean,
}

/// A type decoded by hand upstream (see `data/custom_types.yaml`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomType {
    name: String,
    accepts: Vec<Accept>,
    go_type: String,
    #[serde(default)]
    standalone: bool,
    #[serde(default)]
    parse: TextRule,
}

/// A scalar: which JSON kinds it takes, its integer range, and what its text must be.
#[derive(Debug, Clone)]
struct Scalar {
    accepts: Vec<Accept>,
    range: Option<(i64, i64)>,
    text: TextRule,
    /// Upstream decodes it with a nested call, so its errors carry no field path.
    standalone: bool,
}

#[derive(Debug)]
enum Shape {
    /// An object with known properties (a Go struct).
    Struct { go_name: String, fields: HashMap<String, usize> },
    /// An object whose keys are free (a Go map).
    Map { value: usize },
    /// An array.
    List { item: usize },
    /// A string, number or boolean.
    Scalar(Scalar),
    /// Anything goes: free-form objects, preserved unknown fields, untyped schemas.
    Any,
}

#[derive(Debug)]
struct Node {
    shape: Shape,
    /// How upstream's decode errors name the Go type, e.g. `int32`, `[]v1.Container`.
    go_type: String,
}

/// The compiled schemas of every kind.
#[derive(Debug)]
pub struct Checker {
    nodes: Vec<Node>,
    by_name: HashMap<String, usize>,
}

/// One step of a path: a property, a list index or a map key.
#[derive(Clone, Copy)]
enum Step<'a> {
    Field(&'a str),
    Index(usize),
    Key(&'a str),
}

impl Checker {
    /// Compiles every definition once.
    pub fn new(defs: &Definitions) -> Checker {
        let custom: Vec<CustomType> = serde_norway::from_str(include_str!("data/custom_types.yaml"))
            .expect("schema/data/custom_types.yaml is valid (checked by a unit test)");
        let mut compiler = Compiler { defs, custom: &custom, nodes: Vec::new(), by_name: HashMap::new() };
        for name in defs.schemas.keys() {
            compiler.named(name);
        }
        Checker { nodes: compiler.nodes, by_name: compiler.by_name }
    }

    /// The root node of a definition.
    pub fn root(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Paths of fields the schema does not know, in upstream's style (`spec.containers[0].imagee`).
    pub fn unknown_fields(&self, root: usize, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.walk_unknown(root, value, &mut Vec::new(), &mut out);
        out
    }

    fn walk_unknown<'v>(&self, id: usize, value: &'v Value, path: &mut Vec<Step<'v>>, out: &mut Vec<String>) {
        match (&self.nodes[id].shape, value) {
            (Shape::Struct { fields, .. }, Value::Object(map)) => {
                for (key, child) in map {
                    path.push(Step::Field(key));
                    match fields.get(key.as_str()) {
                        Some(&field) => self.walk_unknown(field, child, path, out),
                        None => out.push(render(path)),
                    }
                    path.pop();
                }
            }
            (Shape::Map { value: inner }, Value::Object(map)) if self.nested(*inner) => {
                for (key, child) in map {
                    path.push(Step::Key(key));
                    self.walk_unknown(*inner, child, path, out);
                    path.pop();
                }
            }
            (Shape::List { item }, Value::Array(items)) if self.nested(*item) => {
                for (index, child) in items.iter().enumerate() {
                    path.push(Step::Index(index));
                    self.walk_unknown(*item, child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Removes every field the schema does not know, as upstream drops them when not Strict.
    pub fn strip_unknown(&self, id: usize, value: &mut Value) {
        match (&self.nodes[id].shape, value) {
            (Shape::Struct { fields, .. }, Value::Object(map)) => {
                map.retain(|key, _| fields.contains_key(key.as_str()));
                for (key, child) in map.iter_mut() {
                    if let Some(&field) = fields.get(key.as_str()) {
                        self.strip_unknown(field, child);
                    }
                }
            }
            (Shape::Map { value: inner }, Value::Object(map)) if self.nested(*inner) => {
                map.values_mut().for_each(|child| self.strip_unknown(*inner, child));
            }
            (Shape::List { item }, Value::Array(items)) if self.nested(*item) => {
                items.iter_mut().for_each(|child| self.strip_unknown(*item, child));
            }
            _ => {}
        }
    }

    /// Whether a node can hold fields at all (saves walking lists of strings).
    fn nested(&self, id: usize) -> bool {
        matches!(self.nodes[id].shape, Shape::Struct { .. } | Shape::Map { .. } | Shape::List { .. })
    }

    /// Values of the wrong JSON type, worded like upstream's Go decoder.
    pub fn type_errors(&self, root: usize, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let mut context = GoContext { go_struct: None, fields: Vec::new() };
        self.walk_types(root, value, &mut context, &mut out);
        out
    }

    fn walk_types<'v>(&'v self, id: usize, value: &'v Value, cx: &mut GoContext<'v>, out: &mut Vec<String>) {
        let node = &self.nodes[id];
        if value.is_null() {
            return; // Go leaves the zero value for null, whatever the type
        }
        match (&node.shape, value) {
            (Shape::Struct { go_name, fields }, Value::Object(map)) => {
                for (key, child) in map {
                    let Some(&field) = fields.get(key.as_str()) else {
                        continue;
                    };
                    let outer = cx.go_struct.replace(go_name);
                    cx.fields.push(key);
                    self.walk_types(field, child, cx, out);
                    cx.fields.pop();
                    cx.go_struct = outer;
                }
            }
            (Shape::Map { value: inner }, Value::Object(map)) => {
                map.values().for_each(|child| self.walk_types(*inner, child, cx, out));
            }
            (Shape::List { item }, Value::Array(items)) => {
                items.iter().for_each(|child| self.walk_types(*item, child, cx, out));
            }
            (Shape::Scalar(scalar), _) => out.extend(scalar_error(scalar, value, cx, &node.go_type)),
            (Shape::Any, _) => {}
            (_, other) => out.push(cx.message(json_kind(other), &node.go_type)),
        }
    }
}

/// Where a decode error happened, as Go's decoder tracks it: the innermost struct and the
/// names of the struct fields from the root (list indices and map keys are not part of it).
struct GoContext<'v> {
    go_struct: Option<&'v str>,
    fields: Vec<&'v str>,
}

impl GoContext<'_> {
    fn message(&self, what: &str, go_type: &str) -> String {
        match self.go_struct {
            Some(name) => format!(
                "json: cannot unmarshal {what} into Go struct field {name}.{} of type {go_type}",
                self.fields.join(".")
            ),
            None => format!("json: cannot unmarshal {what} into Go value of type {go_type}"),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `None` when the value fits; otherwise how Go names what it found.
fn scalar_mismatch(accepts: &[Accept], range: Option<(i64, i64)>, value: &Value) -> Option<String> {
    let fits = match value {
        Value::String(_) => accepts.contains(&Accept::String),
        Value::Bool(_) => accepts.contains(&Accept::Boolean),
        Value::Number(n) if accepts.contains(&Accept::Number) => n.is_f64() || n.is_i64() || n.is_u64(),
        Value::Number(n) if accepts.contains(&Accept::Integer) => {
            let (low, high) = range.unwrap_or((i64::MIN, i64::MAX));
            // A whole number out of range, or any fraction, is named with its digits by Go.
            return match n.as_i64() {
                Some(i) if i >= low && i <= high => None,
                _ => Some(format!("number {n}")),
            };
        }
        _ => false,
    };
    (!fits).then(|| json_kind(value).to_string())
}

/// What is wrong with a scalar value, if anything, in upstream's words.
fn scalar_error(scalar: &Scalar, value: &Value, cx: &GoContext, go_type: &str) -> Option<String> {
    if scalar.text == TextRule::Quantity {
        // Upstream parses whatever JSON text it finds, so a wrong type is a parse error too.
        return text::quantity_error(value);
    }
    if let Some(what) = scalar_mismatch(&scalar.accepts, scalar.range, value) {
        return Some(match scalar.standalone {
            true => format!("json: cannot unmarshal {what} into Go value of type {go_type}"),
            false => cx.message(&what, go_type),
        });
    }
    match (scalar.text, value) {
        (TextRule::Base64, Value::String(data)) => text::base64_error(data),
        _ => None,
    }
}

fn render(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(name) | Step::Key(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
    out
}

struct Compiler<'d> {
    defs: &'d Definitions,
    custom: &'d [CustomType],
    nodes: Vec<Node>,
    by_name: HashMap<String, usize>,
}

impl Compiler<'_> {
    /// The node of a named definition, compiled once; recursion finds the reserved slot.
    fn named(&mut self, name: &str) -> usize {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        let id = self.push(Shape::Any, go_type_of(name));
        self.by_name.insert(name.to_string(), id);
        if let Some(custom) = self.custom.iter().find(|c| c.name == name) {
            let shape = Shape::Scalar(Scalar {
                accepts: custom.accepts.clone(),
                range: (custom.go_type == "int32").then_some(INT32),
                text: custom.parse,
                standalone: custom.standalone,
            });
            self.nodes[id] = Node { shape, go_type: custom.go_type.clone() };
            return id;
        }
        let Some(schema) = self.defs.schemas.get(name) else {
            return id;
        };
        let go_name = name.rsplit('.').next().unwrap_or(name).to_string();
        let node = self.shape(schema, Some(go_name));
        self.nodes[id].shape = node.shape;
        id
    }

    fn push(&mut self, shape: Shape, go_type: String) -> usize {
        self.nodes.push(Node { shape, go_type });
        self.nodes.len() - 1
    }

    /// A node for a schema that may be a reference, a one-element `allOf`, or inline.
    fn compile(&mut self, schema: &Value) -> usize {
        if let Some(name) = ref_name(schema) {
            return self.named(name);
        }
        if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            return self.compile(only);
        }
        let node = self.shape(schema, None);
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn shape(&mut self, schema: &Value, go_name: Option<String>) -> Node {
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
        if flag("x-kubernetes-int-or-string") {
            let accepts = vec![Accept::String, Accept::Integer];
            let shape = Shape::Scalar(Scalar { accepts, range: Some(INT32), text: TextRule::Plain, standalone: true });
            return Node { shape, go_type: "int32".into() };
        }
        if flag("x-kubernetes-preserve-unknown-fields") {
            return Node { shape: Shape::Any, go_type: "interface {}".into() };
        }
        let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
        match kind {
            "object" => self.object(schema, go_name),
            "array" => match schema.get("items") {
                Some(items) => {
                    let item = self.compile(items);
                    let go_type = format!("[]{}", self.nodes[item].go_type);
                    Node { shape: Shape::List { item }, go_type }
                }
                None => Node { shape: Shape::Any, go_type: "[]interface {}".into() },
            },
            "string" => {
                scalar(Accept::String, None, format == "byte", if format == "byte" { "[]uint8" } else { "string" })
            }
            "integer" => match format {
                "int32" => scalar(Accept::Integer, Some(INT32), false, "int32"),
                "int64" => scalar(Accept::Integer, None, false, "int64"),
                _ => scalar(Accept::Integer, None, false, "int"),
            },
            "number" => scalar(Accept::Number, None, false, "float64"),
            "boolean" => scalar(Accept::Boolean, None, false, "bool"),
            _ => Node { shape: Shape::Any, go_type: "interface {}".into() },
        }
    }

    fn object(&mut self, schema: &Value, go_name: Option<String>) -> Node {
        if let Some(Value::Object(properties)) = schema.get("properties") {
            let mut fields = HashMap::with_capacity(properties.len());
            for (key, property) in properties {
                fields.insert(key.clone(), self.compile(property));
            }
            let go_name = go_name.unwrap_or_else(|| "struct".into());
            let go_type = format!("v1.{go_name}");
            return Node { shape: Shape::Struct { go_name, fields }, go_type };
        }
        match schema.get("additionalProperties") {
            Some(inner @ Value::Object(_)) => {
                let value = self.compile(inner);
                let go_type = format!("map[string]{}", self.nodes[value].go_type);
                Node { shape: Shape::Map { value }, go_type }
            }
            _ => Node { shape: Shape::Any, go_type: "map[string]interface {}".into() },
        }
    }
}

/// The range of Go's `int32`.
const INT32: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);

fn scalar(accept: Accept, range: Option<(i64, i64)>, base64: bool, go_type: &str) -> Node {
    let text = if base64 { TextRule::Base64 } else { TextRule::Plain };
    let shape = Shape::Scalar(Scalar { accepts: vec![accept], range, text, standalone: false });
    Node { shape, go_type: go_type.into() }
}

/// Go names a named type by its package's last element: `v1.PodSpec`, `resource.Quantity`.
fn go_type_of(name: &str) -> String {
    let mut parts = name.rsplit('.');
    match (parts.next(), parts.next()) {
        (Some(type_name), Some(package)) => format!("{package}.{type_name}"),
        _ => name.to_string(),
    }
}
