//! Semantic validation of objects, with upstream's field paths and wording.

use crate::errors::FieldError;
use crate::registry::ResourceType;
use serde_json::Value;

/// Checks an object (and, on update, the stored one it replaces); returns every problem found.
pub fn validate(_rt: &ResourceType, _obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    Vec::new()
}
