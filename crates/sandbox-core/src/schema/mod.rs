//! The served types' schemas: unknown-field detection for `fieldValidation`, and the OpenAPI documents.
//!
//! The schemas are k8s-openapi's (upstream's, with upstream's names), generated on first use and
//! compiled into a small tree that a request walks; nothing here lists fields by hand.

mod check;
pub mod defs;
mod text;

use crate::registry::ResourceType;
use check::Checker;
pub use defs::{Definitions, KindSchema, definitions};
use serde_json::Value;
use std::sync::OnceLock;

fn checker() -> &'static Checker {
    static CHECKER: OnceLock<Checker> = OnceLock::new();
    CHECKER.get_or_init(|| Checker::new(definitions()))
}

/// Builds the schemas and the compiled tree now, so that the first request does not pay for it.
pub fn warm_up() {
    checker();
}

/// Whether the kind has a schema (every built-in kind does; unknown kinds are not checked).
pub fn has_schema(rt: &ResourceType) -> bool {
    root(&rt.group, &rt.version, &rt.kind).is_some()
}

fn root(group: &str, version: &str, kind: &str) -> Option<usize> {
    let kind = definitions().kind(group, version, kind)?;
    checker().root(&kind.name)
}

/// Paths of fields in `obj` that its kind's schema does not know, e.g. `spec.replica`,
/// `spec.template.spec.containers[0].imagee`, in the object's key order. Empty for a valid object
/// or a kind without a schema. Upstream's strict error is `strict decoding error: ` followed by
/// `unknown field "PATH"` for each, joined with `, `.
pub fn unknown_fields(rt: &ResourceType, obj: &Value) -> Vec<String> {
    if let Some(custom) = &rt.custom {
        return crate::custom::unknown_fields(custom, obj);
    }
    unknown_fields_of(&rt.group, &rt.version, &rt.kind, obj)
}

/// [`unknown_fields`] for a kind named directly, e.g. `autoscaling`/`v1`/`Scale` for a scale
/// subresource body.
pub fn unknown_fields_of(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<String> {
    match root(group, version, kind) {
        Some(root) => checker().unknown_fields(root, obj),
        None => Vec::new(),
    }
}

/// Removes the fields [`unknown_fields`] finds (what upstream does under `Warn` and `Ignore`)
/// and returns their paths, so that callers need not parse the paths back.
pub fn strip_unknown_fields(rt: &ResourceType, obj: &mut Value) -> Vec<String> {
    if let Some(custom) = &rt.custom {
        return crate::custom::strip_unknown(custom, obj);
    }
    let Some(root) = root(&rt.group, &rt.version, &rt.kind) else {
        return Vec::new();
    };
    let unknown = checker().unknown_fields(root, obj);
    if !unknown.is_empty() {
        checker().strip_unknown(root, obj);
    }
    unknown
}

/// Values of the wrong JSON type in `obj`, worded as upstream's decoder words them, e.g.
/// `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`,
/// or `illegal base64 data at input byte 4` for a Secret's `data`. Upstream stops at the first and
/// answers 400 BadRequest with `<Kind> in version "<version>" cannot be handled as a <Kind>: <first>`.
pub fn type_errors(rt: &ResourceType, obj: &Value) -> Vec<String> {
    type_errors_of(&rt.group, &rt.version, &rt.kind, obj)
}

/// [`type_errors`] for a kind named directly.
pub fn type_errors_of(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<String> {
    match root(group, version, kind) {
        Some(root) => checker().type_errors(root, obj),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
