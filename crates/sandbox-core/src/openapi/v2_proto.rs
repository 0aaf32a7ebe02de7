//! `/openapi/v2` in protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), the
//! form kubectl asks for when it validates a manifest on the client: gnostic's `openapi.v2.Document`
//! with the swagger version, the info and every definition. kubectl reads only the definitions
//! (and their `x-kubernetes-group-version-kind`) to find a kind's schema; a kind it does not find
//! there is left to the server, which then answers `no matches for kind`.

use super::v2::v2_document;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The content type kubectl asks for.
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The content type the document is sent with: upstream's answer spells the version with a dot,
/// since Go's media-type parser refuses the `@`.
pub const V2_PROTOBUF_REPLY: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The whole document, encoded once.
pub fn v2_document_protobuf() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| document(&v2_document()))
}

/// Protobuf writing: just the wire types this document needs.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn key(&mut self, field: u32, wire: u32) {
        self.varint(u64::from(field << 3 | wire));
    }

    fn bytes(&mut self, field: u32, data: &[u8]) {
        self.key(field, 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }

    fn string(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
    }

    fn message(&mut self, field: u32, body: Writer) {
        self.bytes(field, &body.0);
    }

    fn int(&mut self, field: u32, value: i64) {
        self.key(field, 0);
        self.varint(value as u64);
    }

    fn bool(&mut self, field: u32, value: bool) {
        if value {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn double(&mut self, field: u32, value: f64) {
        self.key(field, 1);
        self.0.extend_from_slice(&value.to_bits().to_le_bytes());
    }
}

/// `Document`: swagger = 1, info = 2, definitions = 9.
fn document(doc: &Value) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(1, doc["swagger"].as_str().unwrap_or("2.0"));
    let mut info = Writer::default();
    info.string(1, doc["info"]["title"].as_str().unwrap_or_default());
    info.string(2, doc["info"]["version"].as_str().unwrap_or_default());
    w.message(2, info);
    let mut definitions = Writer::default();
    for (name, schema) in doc["definitions"].as_object().into_iter().flatten() {
        definitions.message(1, named_schema(name, schema));
    }
    w.message(9, definitions);
    w.0
}

/// `NamedSchema`: name = 1, value = 2.
fn named_schema(name: &str, schema: &Value) -> Writer {
    let mut w = Writer::default();
    w.string(1, name);
    w.message(2, schema_message(schema));
    w
}

/// `Any`: the value as YAML text (JSON is YAML), field 2.
fn any(value: &Value) -> Writer {
    let mut w = Writer::default();
    w.string(2, &value.to_string());
    w
}

/// `Schema`, field by field as gnostic numbers them; keys it has no field for are left out.
fn schema_message(schema: &Value) -> Writer {
    let mut w = Writer::default();
    let Some(map) = schema.as_object() else { return w };
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or_default();
    w.string(1, text("$ref"));
    w.string(2, text("format"));
    w.string(3, text("title"));
    w.string(4, text("description"));
    if let Some(default) = map.get("default") {
        w.message(5, any(default));
    }
    numbers(&mut w, map);
    for required in map.get("required").and_then(Value::as_array).into_iter().flatten() {
        w.string(19, required.as_str().unwrap_or_default());
    }
    for choice in map.get("enum").and_then(Value::as_array).into_iter().flatten() {
        w.message(20, any(choice));
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Writer::default();
            item.key(2, 0);
            item.varint(u64::from(*allowed));
            w.message(21, item);
        }
        Some(inner @ Value::Object(_)) => {
            let mut item = Writer::default();
            item.message(1, schema_message(inner));
            w.message(21, item);
        }
        _ => {}
    }
    nested(&mut w, map);
    for (key, value) in map.iter().filter(|(k, _)| k.starts_with("x-")) {
        let mut named = Writer::default();
        named.string(1, key);
        named.message(2, any(value));
        w.message(31, named);
    }
    w
}

/// The numeric limits (fields 7 to 18).
fn numbers(w: &mut Writer, map: &Map<String, Value>) {
    if let Some(max) = map.get("maximum").and_then(Value::as_f64) {
        w.double(7, max);
    }
    w.bool(8, map.get("exclusiveMaximum") == Some(&Value::Bool(true)));
    if let Some(min) = map.get("minimum").and_then(Value::as_f64) {
        w.double(9, min);
    }
    w.bool(10, map.get("exclusiveMinimum") == Some(&Value::Bool(true)));
    for (key, field) in [
        ("maxLength", 11),
        ("minLength", 12),
        ("maxItems", 14),
        ("minItems", 15),
        ("maxProperties", 17),
        ("minProperties", 18),
    ] {
        if let Some(n) = map.get(key).and_then(Value::as_i64) {
            w.int(field, n);
        }
    }
    w.string(13, map.get("pattern").and_then(Value::as_str).unwrap_or_default());
    w.bool(16, map.get("uniqueItems") == Some(&Value::Bool(true)));
}

/// type (22), items (23), allOf (24) and properties (25).
fn nested(w: &mut Writer, map: &Map<String, Value>) {
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let mut item = Writer::default();
        types.iter().for_each(|t| item.string(1, t));
        w.message(22, item);
    }
    let items: Vec<&Value> = match map.get("items") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    if !items.is_empty() {
        let mut item = Writer::default();
        items.into_iter().for_each(|s| item.message(1, schema_message(s)));
        w.message(23, item);
    }
    for part in map.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        w.message(24, schema_message(part));
    }
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        let mut props = Writer::default();
        properties.iter().for_each(|(name, s)| props.message(1, named_schema(name, s)));
        w.message(25, props);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protobuf::wire::{Raw, Reader};

    /// The top-level fields of a message, with their raw bytes for the length-delimited ones.
    fn fields(buf: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut reader = Reader::new(buf);
        let mut out = Vec::new();
        while let Some(field) = reader.next_field() {
            let (number, raw) = field.expect("well-formed protobuf");
            let bytes = match raw {
                Raw::Len(bytes) => bytes.to_vec(),
                _ => Vec::new(),
            };
            out.push((number, bytes));
        }
        out
    }

    #[test]
    fn the_document_carries_the_version_and_every_definition_with_its_kind() {
        let doc = v2_document_protobuf();
        let top = fields(doc);
        assert_eq!(top[0], (1, b"2.0".to_vec()));
        let definitions = &top.iter().find(|(n, _)| *n == 9).expect("definitions").1;
        let named = fields(definitions);
        let count = v2_document()["definitions"].as_object().map(Map::len).unwrap_or(0);
        assert_eq!(named.len(), count);
        let pod = named
            .iter()
            .map(|(_, bytes)| fields(bytes))
            .find(|f| f[0].1 == b"io.k8s.api.core.v1.Pod")
            .expect("the Pod definition");
        let schema = fields(&pod[1].1);
        let extension = schema.iter().find(|(n, _)| *n == 31).expect("the group-version-kind extension");
        let named_any = fields(&extension.1);
        assert_eq!(named_any[0].1, b"x-kubernetes-group-version-kind");
    }
}
