//! An object's identity read from its JSON — name, namespace, uid — the fields nearly every part of
//! the sandbox asks for, in one place. Each is empty when absent (or not a string), never a panic.

use serde_json::Value;

/// The object's name, or "".
pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// The object's namespace, or "" (cluster-scoped objects have none).
pub fn namespace(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// The object's uid, or "" when it has none.
pub fn uid(obj: &Value) -> &str {
    obj["metadata"]["uid"].as_str().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_fields_read_as_text_and_odd_shapes_as_empty() {
        let obj = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u-1"}});
        assert_eq!((name(&obj), namespace(&obj), uid(&obj)), ("web", "default", "u-1"));
        assert_eq!(
            (name(&json!({"metadata": 5})), namespace(&json!(null)), uid(&json!({"metadata": {"uid": 7}}))),
            ("", "", "")
        );
    }
}
