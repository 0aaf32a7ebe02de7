//! Cron schedule syntax as CronJobs accept it: five fields or a descriptor, with the parser's own error texts.

/// One field's allowed range and, for months and weekdays, its names.
struct Bounds {
    min: i64,
    max: i64,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DAYS_OF_MONTH: Bounds = Bounds { min: 1, max: 31, names: &[] };
/// Month names start at 1 (`jan`), so index 0 is a placeholder.
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &["", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const DAYS_OF_WEEK: Bounds = Bounds { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

const DESCRIPTORS: &[&str] = &["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/// Why a schedule does not parse, worded like the cron library upstream uses; `None` when it is valid.
pub(super) fn schedule_error(schedule: &str) -> Option<String> {
    let mut spec = schedule;
    // A leading TZ=/CRON_TZ= is parsed (and rejected separately by the caller).
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        spec = spec.split_once(' ').map_or("", |(_, rest)| rest.trim());
    }
    if spec.is_empty() {
        return Some("empty spec string".to_string());
    }
    if spec.starts_with('@') {
        return descriptor_error(spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    let bounds = [MINUTES, HOURS, DAYS_OF_MONTH, MONTHS, DAYS_OF_WEEK];
    fields.iter().zip(bounds.iter()).find_map(|(field, b)| field_error(field, b))
}

fn descriptor_error(spec: &str) -> Option<String> {
    if DESCRIPTORS.contains(&spec) {
        return None;
    }
    match spec.strip_prefix("@every ") {
        Some(duration) if is_go_duration(duration) => None,
        Some(duration) => Some(format!("failed to parse duration {spec}: time: invalid duration \"{duration}\"")),
        None => Some(format!("unrecognized descriptor: {spec}")),
    }
}

/// Go's duration syntax, e.g. `90s`, `1h30m`, `1.5h`: one or more number-unit pairs.
fn is_go_duration(text: &str) -> bool {
    let mut rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 || rest[..number_len] == *"." {
            return false;
        }
        rest = &rest[number_len..];
        let Some(unit) = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"].into_iter().find(|u| rest.starts_with(u))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

/// A field is a comma-separated list of ranges, each `*`, `N`, `N-M`, optionally `/step`.
fn field_error(field: &str, bounds: &Bounds) -> Option<String> {
    field.split(',').filter(|r| !r.is_empty()).find_map(|range| range_error(range, bounds).err())
}

fn range_error(expr: &str, b: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (b.min, b.max)
    } else {
        let start = int_or_name(low_and_high[0], b)?;
        match low_and_high.len() {
            1 => (start, start),
            2 => (start, int_or_name(low_and_high[1], b)?),
            _ => return Err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_int(range_and_step[1])?;
            // `N/step` means from N to the field's maximum.
            if low_and_high.len() == 1 {
                end = b.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min));
    }
    if end > b.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", b.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn int_or_name(expr: &str, b: &Bounds) -> Result<i64, String> {
    let lower = expr.to_ascii_lowercase();
    match b.names.iter().position(|n| !n.is_empty() && *n == lower) {
        Some(index) => Ok(index as i64),
        None => parse_int(expr),
    }
}

fn parse_int(expr: &str) -> Result<i64, String> {
    match expr.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {expr}")),
        Ok(n) => Ok(n),
        Err(e) => {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            Err(format!("failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_schedules_parse() {
        for s in [
            "* * * * *",
            "*/5 * * * *",
            "0 3 * * 1-5",
            "15,45 9-17 1 jan,Jul MON",
            "0 0 ? * *",
            "5/15 * * * *",
            "@hourly",
            "@daily",
            "@every 1h30m",
            "TZ=UTC 0 * * * *",
        ] {
            assert_eq!(schedule_error(s), None, "{s}");
        }
    }

    #[test]
    fn invalid_schedules_explain_themselves_like_upstream() {
        let cases = [
            ("x", "expected exactly 5 fields, found 1: [x]"),
            ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* 24 * * *", "end of range (24) above maximum (23): 24"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            ("* * * * 7", "end of range (7) above maximum (6): 7"),
            ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
            ("*/0 * * * *", "step of range should be a positive number: */0"),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("*/2/3 * * * *", "too many slashes: */2/3"),
            ("a * * * *", "failed to parse int from a: strconv.Atoi: parsing \"a\": invalid syntax"),
            ("* * * foo *", "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            ("@every soon", "failed to parse duration @every soon: time: invalid duration \"soon\""),
        ];
        for (s, want) in cases {
            assert_eq!(schedule_error(s).as_deref(), Some(want), "{s}");
        }
    }
}
