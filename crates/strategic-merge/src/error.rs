//! The error type of every patch operation, naming the field path where it went wrong.

use serde_json::Value;
use thiserror::Error;

/// Why a patch could not be applied or computed.
///
/// Each variant carries `path`, the dotted field path (items of keyed lists as
/// `containers[name=web]`), so a message points at the offending field. The
/// root of the document renders as `<root>`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchError {
    /// An item of a list merged by key lacks the key.
    #[error("{path}: merge key `{key}` missing in an item")]
    MissingMergeKey {
        /// Path of the list.
        path: String,
        /// The merge key the schema names for the list.
        key: String,
    },
    /// A value had to be an object and is not.
    #[error("{path}: expected an object, found {found}")]
    NotAnObject {
        /// Path of the value.
        path: String,
        /// What was found, in words ("a string", "a list", ...).
        found: &'static str,
    },
    /// A key starts with `$` but is no directive this crate knows.
    #[error("{path}: unknown patch directive `{directive}`")]
    UnknownDirective {
        /// Path of the object holding the key.
        path: String,
        /// The key as written.
        directive: String,
    },
    /// `$patch` holds something other than `replace`, `delete` or `merge`.
    #[error("{path}: `$patch` must be `replace`, `delete` or `merge`, not {value}")]
    UnknownPatchValue {
        /// Path of the object holding `$patch`.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// A known directive is malformed (wrong value type, empty field name, ...).
    #[error("{path}: directive `{directive}` {reason}")]
    InvalidDirective {
        /// Path of the object holding the directive.
        path: String,
        /// The directive key as written.
        directive: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field set by the patch is missing from the `$retainKeys` list beside it.
    #[error("{path}: field `{field}` is set by the patch but missing from `$retainKeys`")]
    RetainKeysMissing {
        /// Path of the object holding `$retainKeys`.
        path: String,
        /// The field the patch sets.
        field: String,
    },
    /// The patch list's items are not in the order `$setElementOrder` gives, or
    /// the patch holds an item the order list lacks.
    #[error("{path}: the patch items are not in the order `$setElementOrder` gives")]
    OrderMismatch {
        /// Path of the list.
        path: String,
    },
    /// Lists of lists cannot be merged.
    #[error("{path}: a list of lists cannot be merged")]
    ListOfLists {
        /// Path of the list.
        path: String,
    },
    /// A merged list mixes objects and plain values.
    #[error("{path}: list items mix objects and plain values")]
    MixedList {
        /// Path of the list.
        path: String,
    },
    /// A merged list holds objects, but the schema gives it no merge key.
    #[error("{path}: list items are objects but the schema gives the list no merge key")]
    NoMergeKey {
        /// Path of the list.
        path: String,
    },
}

/// Describes a JSON value's type in words, for error messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Renders a field path for messages: the empty path is the document root.
pub(crate) fn show(path: &str) -> String {
    if path.is_empty() { "<root>".to_owned() } else { path.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_merge_key_names_the_list_path_and_key() {
        let err = PatchError::MissingMergeKey { path: "spec.template.spec.containers".into(), key: "name".into() };
        assert_eq!(err.to_string(), "spec.template.spec.containers: merge key `name` missing in an item");
    }

    #[test]
    fn the_empty_path_is_shown_as_the_root() {
        assert_eq!(show(""), "<root>");
        assert_eq!(show("spec"), "spec");
    }
}
