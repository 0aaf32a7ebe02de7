//! Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for.

use crate::registry::ResourceType;
use serde_json::{Value, json};
use std::sync::Arc;

/// Builds a Table of `items` for this kind; `list_meta` becomes its `metadata`.
/// `now` is the reference time for the AGE column (RFC 3339 timestamps are compared to it).
pub fn to_table(_rt: &ResourceType, items: &[Arc<Value>], list_meta: Value, _now: jiff::Timestamp) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| json!({"cells": [o["metadata"]["name"].clone(), o["metadata"]["creationTimestamp"].clone()], "object": o.as_ref().clone()}))
        .collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": "", "priority": 0}
        ],
        "rows": rows,
    })
}
