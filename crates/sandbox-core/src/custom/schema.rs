//! A custom resource's structural schema at work, in upstream's order: unknown fields pruned (or
//! refused under `fieldValidation=Strict`), defaults filled in, then the value checked against
//! types, `required`, `enum`, bounds, lengths and patterns, with upstream's field paths and words
//! (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`).
//! Also the structural check a definition's schema must pass before it is stored.

use super::CustomSpec;
use crate::errors::FieldError;
use serde_json::{Map, Value};

/// Fields every object keeps whatever its schema says.
const ALWAYS_KEPT: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Where a schema sits, for the structural check's wording.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Field,
    Item,
}

/// Adds upstream's structural-schema violations of `schema` (found at `path`) to `errs`.
pub fn check_structural(schema: &Value, path: &str, errs: &mut Vec<FieldError>) {
    check_node(schema, path, Level::Root, errs);
}

fn check_node(schema: &Value, path: &str, level: Level, errs: &mut Vec<FieldError>) {
    let kind = schema["type"].as_str().unwrap_or_default();
    let loose = flag(schema, "x-kubernetes-int-or-string") || flag(schema, "x-kubernetes-preserve-unknown-fields");
    if kind.is_empty() && !loose {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(format!("{path}.type"), detail));
    }
    if level == Level::Root && !kind.is_empty() && kind != "object" {
        errs.push(FieldError::invalid(
            format!("{path}.type"),
            Value::String(kind.into()),
            "must be object at the root",
        ));
    }
    if let Some(pattern) = schema["pattern"].as_str()
        && regex::Regex::new(pattern).is_err()
    {
        let detail = "must be a valid regular expression, but isn't";
        errs.push(FieldError::invalid(format!("{path}.pattern"), Value::String(pattern.into()), detail));
    }
    if schema.get("$ref").is_some() {
        errs.push(FieldError::forbidden(format!("{path}.$ref"), "$ref is not supported"));
    }
    let properties = schema["properties"].as_object();
    if properties.is_some_and(|p| !p.is_empty()) && schema.get("additionalProperties").is_some() {
        errs.push(FieldError::forbidden(
            format!("{path}.additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    for (name, child) in properties.into_iter().flatten() {
        check_node(child, &format!("{path}.properties[{name}]"), Level::Field, errs);
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        check_node(items, &format!("{path}.items"), Level::Item, errs);
    }
    if let Some(more) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        check_node(more, &format!("{path}.additionalProperties"), Level::Field, errs);
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema[name].as_bool().unwrap_or(false)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// The paths of the fields the schema does not declare (what pruning would remove).
pub fn unknown_fields(spec: &CustomSpec, obj: &Value) -> Vec<String> {
    let mut copy = obj.clone();
    strip_unknown(spec, &mut copy)
}

/// Removes the fields the schema does not declare (upstream's pruning) and returns their paths.
pub fn strip_unknown(spec: &CustomSpec, obj: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    if !spec.schema.is_null() {
        prune(&spec.schema, obj, "", true, &mut removed);
    }
    removed
}

/// Pruning with a version's schema other than the one of the type at hand (the storage version's,
/// when an object is converted to it).
pub(super) fn prune_with(schema: &Value, obj: &mut Value) {
    if !schema.is_null() {
        prune(schema, obj, "", true, &mut Vec::new());
    }
}

/// Defaults from a version's schema other than the one of the type at hand (see [`prune_with`]).
pub(super) fn default_with(schema: &Value, obj: &mut Value) {
    if !schema.is_null() {
        default_node(schema, obj);
    }
}

fn prune(schema: &Value, value: &mut Value, path: &str, root: bool, removed: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let keep_all = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let embedded = root || flag(schema, "x-kubernetes-embedded-resource");
            let properties = schema["properties"].as_object();
            let more = schema.get("additionalProperties");
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let at = join(path, &key);
                let child_schema = properties.and_then(|p| p.get(&key)).or(more.filter(|m| m.is_object()));
                match child_schema {
                    Some(child) => prune(child, map.get_mut(&key).expect("key listed"), &at, false, removed),
                    None if keep_all || more == Some(&Value::Bool(true)) => {}
                    None if embedded && ALWAYS_KEPT.contains(&key.as_str()) => {}
                    None => {
                        map.remove(&key);
                        removed.push(at);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items").filter(|i| i.is_object()) {
                for (i, value) in items.iter_mut().enumerate() {
                    prune(item, value, &format!("{path}[{i}]"), false, removed);
                }
            }
        }
        _ => {}
    }
}

/// Fills in the schema's `default`s for absent fields, at every level present in the object.
pub fn apply_defaults(spec: &CustomSpec, obj: &mut Value) {
    if !spec.schema.is_null() {
        default_node(&spec.schema, obj);
    }
}

fn default_node(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema["properties"].as_object() {
                for (key, child) in properties {
                    if !map.contains_key(key)
                        && let Some(default) = child.get("default")
                    {
                        map.insert(key.clone(), default.clone());
                    }
                }
                for (key, child) in properties {
                    if let Some(v) = map.get_mut(key) {
                        default_node(child, v);
                    }
                }
            } else if let Some(more) = schema.get("additionalProperties").filter(|m| m.is_object()) {
                map.values_mut().for_each(|v| default_node(more, v));
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items").filter(|i| i.is_object()) {
                items.iter_mut().for_each(|v| default_node(item, v));
            }
        }
        _ => {}
    }
}

/// Checks the object against its schema; every problem, in upstream's words.
pub fn validate(spec: &CustomSpec, obj: &Value, errs: &mut Vec<FieldError>) {
    if spec.schema.is_null() {
        return;
    }
    let Some(map) = obj.as_object() else { return };
    // The root's own checks, without apiVersion, kind and metadata (checked as for every kind).
    let mut body: Map<String, Value> = map.clone();
    ALWAYS_KEPT.iter().for_each(|k| {
        body.remove(*k);
    });
    let mut root = spec.schema.clone();
    if let Some(required) = root["required"].as_array_mut() {
        required.retain(|r| !ALWAYS_KEPT.iter().any(|k| r == k));
    }
    check_value(&root, &Value::Object(body), "", errs);
}

/// The type name upstream's validator prints for a JSON value.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(wanted: &str, value: &Value) -> bool {
    match (wanted, value) {
        ("", _) => true,
        ("number", Value::Number(_)) => true,
        (w, v) => w == type_name(v),
    }
}

fn check_value(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if value.is_null() && flag(schema, "nullable") {
        return;
    }
    let wanted = schema["type"].as_str().unwrap_or_default();
    let int_or_string = flag(schema, "x-kubernetes-int-or-string") && matches!(type_name(value), "integer" | "string");
    if !int_or_string && !type_matches(wanted, value) {
        let found = type_name(value);
        let detail = format!("{path} in body must be of type {wanted}: \"{found}\"");
        errs.push(FieldError::invalid(path, Value::String(found.into()), detail));
        return;
    }
    check_enum(schema, value, path, errs);
    check_bounds(schema, value, path, errs);
    match value {
        Value::Object(map) => check_object(schema, map, path, errs),
        Value::Array(items) => {
            if let Some(item) = schema.get("items").filter(|i| i.is_object()) {
                for (i, v) in items.iter().enumerate() {
                    check_value(item, v, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
}

fn check_object(schema: &Value, map: &Map<String, Value>, path: &str, errs: &mut Vec<FieldError>) {
    for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !map.contains_key(name) {
            errs.push(FieldError::required(join(path, name), ""));
        }
    }
    let properties = schema["properties"].as_object();
    let more = schema.get("additionalProperties").filter(|m| m.is_object());
    for (key, v) in map {
        if let Some(child) = properties.and_then(|p| p.get(key)).or(more) {
            check_value(child, v, &join(path, key), errs);
        }
    }
}

fn check_enum(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(allowed) = schema["enum"].as_array() else { return };
    if allowed.contains(value) {
        return;
    }
    let words: Vec<String> =
        allowed.iter().map(|a| a.as_str().map(str::to_string).unwrap_or_else(|| a.to_string())).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    errs.push(FieldError::not_supported(path, value.clone(), &words));
}

fn check_bounds(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let mut fail =
        |detail: String| errs.push(FieldError::invalid(path, value.clone(), format!("{path} in body {detail}")));
    if let Some(n) = value.as_f64() {
        let exclusive = |name: &str| flag(schema, name);
        if let Some(min) = schema.get("minimum").filter(|m| m.is_number()) {
            let m = min.as_f64().unwrap_or_default();
            if exclusive("exclusiveMinimum") && n <= m {
                fail(format!("should be greater than {min}"));
            } else if n < m {
                fail(format!("should be greater than or equal to {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").filter(|m| m.is_number()) {
            let m = max.as_f64().unwrap_or_default();
            if exclusive("exclusiveMaximum") && n >= m {
                fail(format!("should be less than {max}"));
            } else if n > m {
                fail(format!("should be less than or equal to {max}"));
            }
        }
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64().filter(|m| chars < *m) {
            fail(format!("should be at least {min} chars long"));
        }
        if let Some(max) = schema["maxLength"].as_u64().filter(|m| chars > *m) {
            fail(format!("should be at most {max} chars long"));
        }
        if let Some(pattern) = schema["pattern"].as_str()
            && let Ok(re) = regex::Regex::new(pattern)
            && !re.is_match(s)
        {
            fail(format!("should match '{pattern}'"));
        }
    }
    if let Some(items) = value.as_array() {
        let len = items.len() as u64;
        if let Some(min) = schema["minItems"].as_u64().filter(|m| len < *m) {
            fail(format!("should have at least {min} items"));
        }
        if let Some(max) = schema["maxItems"].as_u64().filter(|m| len > *m) {
            fail(format!("should have at most {max} items"));
        }
    }
}
