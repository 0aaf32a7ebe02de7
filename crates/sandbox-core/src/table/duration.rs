//! Human-readable ages and durations as kubectl prints them (`5s`, `2m3s`, `3h4m`, `2d3h`, `5y`).

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// Upstream's `HumanDuration`: about two significant figures, finer for short spans.
/// Up to a second in the future counts as now; further ahead is `<invalid>`.
pub fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return with_rest(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return with_rest(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

/// `3h4m`, or just `3h` when the smaller unit is zero.
fn with_rest(big: i64, big_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 { format!("{big}{big_unit}") } else { format!("{big}{big_unit}{small}{small_unit}") }
}

/// Reads an RFC 3339 timestamp; absent, null, empty or malformed values give `None`.
pub fn timestamp(v: Option<&Value>) -> Option<Timestamp> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty()).and_then(|s| s.parse().ok())
}

/// The age of a timestamp at `now`, or `None` when it is not set.
pub fn age(v: Option<&Value>, now: Timestamp) -> Option<String> {
    timestamp(v).map(|t| human_duration(now.duration_since(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(secs: i64) -> String {
        human_duration(SignedDuration::from_secs(secs))
    }

    #[test]
    fn short_spans_show_seconds_then_minutes_and_seconds() {
        assert_eq!(h(0), "0s");
        assert_eq!(h(59), "59s");
        assert_eq!(h(119), "119s");
        assert_eq!(h(123), "2m3s");
        assert_eq!(h(180), "3m");
        assert_eq!(h(599), "9m59s");
        assert_eq!(h(600), "10m");
        assert_eq!(h(179 * 60 + 59), "179m");
    }

    #[test]
    fn hours_and_days_keep_about_two_figures() {
        assert_eq!(h(3 * 3600), "3h");
        assert_eq!(h(3 * 3600 + 4 * 60 + 9), "3h4m");
        assert_eq!(h(8 * 3600 + 59 * 60), "8h");
        assert_eq!(h(47 * 3600), "47h");
        assert_eq!(h(51 * 3600), "2d3h");
        assert_eq!(h(5 * 86400), "5d");
        assert_eq!(h(8 * 86400 + 5 * 3600), "8d");
        assert_eq!(h(400 * 86400), "400d");
    }

    #[test]
    fn years_show_days_until_eight_years() {
        assert_eq!(h(2 * 365 * 86400), "2y");
        assert_eq!(h((3 * 365 + 10) * 86400), "3y10d");
        assert_eq!(h(9 * 365 * 86400 + 86400), "9y");
    }

    #[test]
    fn the_near_future_is_now_and_the_far_future_invalid() {
        assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
        assert_eq!(h(-1), "0s");
        assert_eq!(h(-2), "<invalid>");
    }

    #[test]
    fn ages_come_from_rfc3339_text() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(age(Some(&Value::from("2024-05-01T11:57:57Z")), now).as_deref(), Some("2m3s"));
        assert_eq!(age(Some(&Value::from("2024-05-01T11:59:59.500000Z")), now).as_deref(), Some("0s"));
        assert_eq!(age(Some(&Value::Null), now), None);
        assert_eq!(age(Some(&Value::from("yesterday")), now), None);
    }
}
