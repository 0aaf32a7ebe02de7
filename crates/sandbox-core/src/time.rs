//! Timestamps as the Kubernetes API writes them: RFC 3339 in UTC, whole seconds
//! (`2026-01-01T00:00:00Z`), and read back from an object's fields.

use jiff::Timestamp;
use serde_json::Value;

/// `at` as the API writes it.
pub fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `at` with microseconds, as a MicroTime field (a Lease's `renewTime`) and etcd's logs write it.
pub fn micro_rfc3339(at: Timestamp) -> String {
    format!("{}.{:06}Z", at.strftime("%Y-%m-%dT%H:%M:%S"), at.subsec_microsecond())
}

/// The current time as the API writes it.
pub fn now_rfc3339() -> String {
    rfc3339(Timestamp::now())
}

/// A timestamp field of an object, if it holds one.
pub fn parse(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_seconds_in_utc_round_trip() {
        let at: Timestamp = "2026-01-02T03:04:05.678Z".parse().unwrap();
        assert_eq!(rfc3339(at), "2026-01-02T03:04:05Z");
        assert_eq!(parse(&json!(rfc3339(at))).map(rfc3339).as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(parse(&json!(5)), None);
    }
}
