//! The served types' schemas: unknown-field detection for `fieldValidation`, and the OpenAPI documents.

use crate::registry::ResourceType;
use serde_json::Value;

/// Paths of fields in `obj` that its kind's schema does not know, e.g. `spec.replica`.
pub fn unknown_fields(_rt: &ResourceType, _obj: &Value) -> Vec<String> {
    Vec::new()
}
