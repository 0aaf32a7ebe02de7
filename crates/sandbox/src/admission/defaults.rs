//! Defaults a real API server fills in, as a learner sees them in `kubectl get -o yaml`.

use crate::registry::ResourceType;
use serde_json::Value;

/// Fills in the fields upstream defaults for this kind (placeholder until implemented).
pub fn apply_defaults(_rt: &ResourceType, _obj: &mut Value) {}
