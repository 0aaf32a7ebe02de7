//! The `kubectl.kubernetes.io/last-applied-configuration` annotation, byte for byte as kubectl 1.32
//! writes it, so the lab and the learner's own kubectl can take turns applying the same objects.
//!
//! kubectl stores the object as given (namespace defaulted, any older annotation removed, an empty
//! `annotations` map kept) encoded by Go's `encoding/json`: keys sorted, compact, `<`, `>` and `&`
//! escaped, and a trailing newline.

use serde_json::{Map, Value};

/// The annotation's key.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The annotation's value for `object`: the object without the annotation, Go-encoded, with a newline.
pub fn modified_configuration(object: &Value) -> String {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if let Some(map) = annotations.as_object_mut() {
            map.remove(LAST_APPLIED);
        } else {
            *annotations = Value::Object(Map::new());
        }
    }
    let mut text = go_json(&copy);
    text.push('\n');
    text
}

/// `object` with the annotation set to its [`modified_configuration`] (what kubectl sends).
pub fn with_annotation(object: &Value) -> Value {
    let annotation = modified_configuration(object);
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if !annotations.is_object() {
            *annotations = Value::Object(Map::new());
        }
        if let Some(map) = annotations.as_object_mut() {
            map.insert(LAST_APPLIED.to_string(), Value::String(annotation));
        }
    }
    copy
}

/// The live object's last-applied configuration: `None` without the annotation, `Some(Err)` when it
/// is not JSON.
pub fn original_configuration(live: &Value) -> Option<Result<Value, serde_json::Error>> {
    let text = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    Some(serde_json::from_str(text))
}

/// Encodes like Go's `json.Marshal`: map keys sorted, compact, HTML characters escaped.
pub fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, &map[key]);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_annotation_is_sorted_compact_escaped_and_ends_with_a_newline() {
        let object = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "nginx", "namespace": "default"},
            "spec": {"args": ["echo \"<pre>\" & done"]}});
        assert_eq!(
            modified_configuration(&object),
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{},\"name\":\"nginx\",\"namespace\":\"default\"},\"spec\":{\"args\":[\"echo \\\"\\u003cpre\\u003e\\\" \\u0026 done\"]}}\n"
        );
    }

    #[test]
    fn an_older_annotation_is_left_out_of_the_new_one() {
        let object = json!({"metadata": {"name": "a", "annotations": {LAST_APPLIED: "old", "team": "x"}}});
        assert_eq!(
            modified_configuration(&object),
            "{\"metadata\":{\"annotations\":{\"team\":\"x\"},\"name\":\"a\"}}\n"
        );
        let annotated = with_annotation(&object);
        let back = original_configuration(&annotated).unwrap().unwrap();
        assert_eq!(back, json!({"metadata": {"annotations": {"team": "x"}, "name": "a"}}));
    }
}
