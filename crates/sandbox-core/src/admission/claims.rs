//! PersistentVolumeClaim checks: at least one access mode, each one upstream knows, and a storage
//! request (as upstream's `ValidatePersistentVolumeClaimSpec`).

use crate::errors::FieldError;
use serde_json::Value;

/// Upstream's access modes, in the sorted order its message lists them.
const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

/// Checks a claim's spec.
pub(super) fn check_claim(obj: &Value, _old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let modes = obj.pointer("/spec/accessModes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if modes.is_empty() {
        errs.push(FieldError::required("spec.accessModes", "at least 1 access mode is required"));
    }
    for mode in modes {
        let known = mode.as_str().is_some_and(|m| ACCESS_MODES.contains(&m));
        if !known {
            errs.push(FieldError::not_supported("spec.accessModes", mode.clone(), ACCESS_MODES));
        }
    }
    if obj.pointer("/spec/resources/requests/storage").is_none() {
        errs.push(FieldError::required("spec.resources[storage]", ""));
    }
}
