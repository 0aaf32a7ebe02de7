//! Ingress checks: each HTTP path's type and, for the typed ones, an absolute path (as upstream's
//! `validateHTTPIngressPath`). A wrong `pathType` is a common typo that a real API server refuses.

use crate::errors::FieldError;
use serde_json::{Value, json};

/// Upstream's supported path types, in the sorted order its message lists them.
const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

/// Checks an Ingress's rules.
pub(super) fn check_ingress(obj: &Value, _old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let rules = obj.pointer("/spec/rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let paths = rule.pointer("/http/paths").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (j, path) in paths.iter().enumerate() {
            check_path(path, &format!("spec.rules[{i}].http.paths[{j}]"), errs);
        }
    }
}

fn check_path(path: &Value, at: &str, errs: &mut Vec<FieldError>) {
    let Some(kind) = path.get("pathType").and_then(Value::as_str) else {
        errs.push(FieldError::required(format!("{at}.pathType"), "pathType must be specified"));
        return;
    };
    let text = path.get("path").and_then(Value::as_str).unwrap_or("");
    match kind {
        "Exact" | "Prefix" if !text.starts_with('/') => {
            errs.push(FieldError::invalid(format!("{at}.path"), json!(text), "must be an absolute path"));
        }
        "Exact" | "Prefix" | "ImplementationSpecific" => {}
        other => errs.push(FieldError::not_supported(format!("{at}.pathType"), json!(other), PATH_TYPES)),
    }
}
