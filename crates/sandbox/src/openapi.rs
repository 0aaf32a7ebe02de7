//! The `/openapi/v2` and `/openapi/v3` documents kubectl fetches before `apply`, `diff` and `explain`.

use serde_json::{Value, json};

/// The `/openapi/v3` index: one entry per group version.
pub fn v3_index() -> Value {
    json!({"paths": {}})
}

/// The document for one group version path, such as `api/v1` or `apis/apps/v1`.
pub fn v3_group(_path: &str) -> Option<Value> {
    None
}
