//! The `$`-prefixed patch directives: their names, how a key is classified, and path helpers.

use serde_json::{Map, Value};

use crate::error::{PatchError, show};

/// Key of the per-object directive (`replace`, `delete`, `merge`).
pub(crate) const PATCH: &str = "$patch";
/// Key listing the fields to keep in an object with the retainKeys strategy.
pub(crate) const RETAIN_KEYS: &str = "$retainKeys";
/// Prefix of the parallel list giving the order of a merged list.
pub(crate) const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
/// Prefix of the parallel list of plain values to remove from a merged list.
pub(crate) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// What a `$patch` marker asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchOp {
    /// Replace the object (or the list, inside one) with the patch's content.
    Replace,
    /// Delete the object (or the list item with the same merge key).
    Delete,
    /// Merge as usual: the explicit form of the default.
    Merge,
}

/// What a key of a patch object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind<'a> {
    /// A plain field.
    Field,
    /// `$patch`.
    Patch,
    /// `$retainKeys`.
    RetainKeys,
    /// `$setElementOrder/<field>`, with the field.
    SetElementOrder(&'a str),
    /// `$deleteFromPrimitiveList/<field>`, with the field.
    DeleteFromPrimitiveList(&'a str),
}

/// Classifies a key of a patch object; an unknown `$` key is an error.
pub(crate) fn classify<'a>(key: &'a str, path: &str) -> Result<KeyKind<'a>, PatchError> {
    if !key.starts_with('$') {
        return Ok(KeyKind::Field);
    }
    let with_field = |prefix: &str, make: fn(&'a str) -> KeyKind<'a>| {
        let field = &key[prefix.len()..];
        if field.is_empty() { Err(invalid(path, key, "names no field after the `/`")) } else { Ok(make(field)) }
    };
    if key == PATCH {
        Ok(KeyKind::Patch)
    } else if key == RETAIN_KEYS {
        Ok(KeyKind::RetainKeys)
    } else if key.starts_with(SET_ELEMENT_ORDER) {
        with_field(SET_ELEMENT_ORDER, KeyKind::SetElementOrder)
    } else if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
        with_field(DELETE_FROM_PRIMITIVE_LIST, KeyKind::DeleteFromPrimitiveList)
    } else {
        Err(PatchError::UnknownDirective { path: show(path), directive: key.to_owned() })
    }
}

/// Reads the `$patch` marker of an object, if it has one.
pub(crate) fn patch_op(object: &Map<String, Value>, path: &str) -> Result<Option<PatchOp>, PatchError> {
    match object.get(PATCH) {
        None => Ok(None),
        Some(Value::String(s)) if s == "replace" => Ok(Some(PatchOp::Replace)),
        Some(Value::String(s)) if s == "delete" => Ok(Some(PatchOp::Delete)),
        Some(Value::String(s)) if s == "merge" => Ok(Some(PatchOp::Merge)),
        Some(other) => Err(PatchError::UnknownPatchValue { path: show(path), value: other.to_string() }),
    }
}

/// A malformed-directive error.
pub(crate) fn invalid(path: &str, directive: &str, reason: &str) -> PatchError {
    PatchError::InvalidDirective { path: show(path), directive: directive.to_owned(), reason: reason.to_owned() }
}

/// The path of a field inside the object at `path`.
pub(crate) fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

/// The path of the item with merge key `key` = `value` inside the list at `path`.
pub(crate) fn item_path(path: &str, key: &str, value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => format!("{path}[{key}={s}]"),
        Some(other) => format!("{path}[{key}={other}]"),
        None => format!("{path}[]"),
    }
}

/// The text a merge key value sorts by, like upstream's `%v` formatting.
pub(crate) fn sort_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Drops every object carrying a `$patch` marker, at any depth.
pub(crate) fn strip_markers(value: Value) -> Option<Value> {
    match value {
        Value::Object(object) if object.contains_key(PATCH) => None,
        Value::Object(object) => {
            let kept = object.into_iter().filter_map(|(k, v)| strip_markers(v).map(|v| (k, v)));
            Some(Value::Object(kept.collect()))
        }
        Value::Array(items) => Some(Value::Array(items.into_iter().filter_map(strip_markers).collect())),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn directive_keys_are_classified_with_their_field() {
        assert_eq!(classify("image", ""), Ok(KeyKind::Field));
        assert_eq!(classify("$patch", ""), Ok(KeyKind::Patch));
        assert_eq!(classify("$retainKeys", ""), Ok(KeyKind::RetainKeys));
        assert_eq!(classify("$setElementOrder/containers", ""), Ok(KeyKind::SetElementOrder("containers")));
        assert_eq!(
            classify("$deleteFromPrimitiveList/finalizers", ""),
            Ok(KeyKind::DeleteFromPrimitiveList("finalizers"))
        );
    }

    #[test]
    fn an_unknown_dollar_key_is_an_error_naming_it() {
        let err = classify("$frobnicate", "spec").unwrap_err();
        assert_eq!(err.to_string(), "spec: unknown patch directive `$frobnicate`");
    }

    #[test]
    fn a_parallel_list_without_a_field_name_is_invalid() {
        assert!(matches!(classify("$setElementOrder/", "spec"), Err(PatchError::InvalidDirective { .. })));
    }

    #[test]
    fn patch_markers_parse_and_bad_values_are_rejected() {
        let object = |v: Value| json!({ "$patch": v }).as_object().cloned().unwrap_or_default();
        assert_eq!(patch_op(&object(json!("delete")), ""), Ok(Some(PatchOp::Delete)));
        assert_eq!(patch_op(&object(json!("merge")), ""), Ok(Some(PatchOp::Merge)));
        let err = patch_op(&object(json!("explode")), "spec").unwrap_err();
        assert!(err.to_string().contains("\"explode\""), "{err}");
    }

    #[test]
    fn item_paths_show_the_merge_key_value() {
        assert_eq!(item_path("spec.containers", "name", Some(&json!("web"))), "spec.containers[name=web]");
        assert_eq!(item_path("ports", "containerPort", Some(&json!(80))), "ports[containerPort=80]");
    }

    #[test]
    fn markers_are_stripped_at_every_depth() {
        let value = json!({"keep": [{"a": 1}, {"$patch": "delete"}], "gone": {"$patch": "replace"}});
        assert_eq!(strip_markers(value), Some(json!({"keep": [{"a": 1}]})));
    }
}
