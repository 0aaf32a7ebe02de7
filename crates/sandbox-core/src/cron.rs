//! Cron schedules as CronJobs spell them (five fields, `@descriptors`, `@every`, a `TZ=` prefix): one
//! parser that admission validates with and the CronJob controller schedules with, so what is accepted
//! is exactly what can run. A leaf: it imports nothing of the sandbox.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use std::time::Duration;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    kind: Kind,
    /// The zone named by a `TZ=`/`CRON_TZ=` prefix, if any.
    pub zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Fields(Fields),
    Every(Duration),
}

/// One bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// A `*` (or `?`) day field, which switches day matching from "either" to "both".
    dom_star: bool,
    dow_star: bool,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOUR: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &["", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const DAY_OF_WEEK: Bounds = Bounds { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

/// The five-field spelling of each descriptor.
const DESCRIPTORS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// How far ahead a schedule is searched before it is declared never to fire (as the cron library upstream uses).
const SEARCH_YEARS: i16 = 5;

impl Schedule {
    /// Parses a schedule; the error says what is wrong in the cron library's words.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut spec = text.trim();
        let mut zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let (prefix, rest) = spec.split_once(' ').unwrap_or((spec, ""));
            zone = prefix.split_once('=').map(|(_, z)| z.to_string());
            spec = rest.trim();
        }
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        if let Some(every) = spec.strip_prefix("@every ") {
            let delay = go_duration(every.trim())
                .ok_or_else(|| format!("failed to parse duration {spec}: time: invalid duration \"{every}\""))?;
            return Ok(Self { kind: Kind::Every(delay.max(Duration::from_secs(1))), zone });
        }
        if spec.starts_with('@') {
            let (_, fields) = DESCRIPTORS
                .iter()
                .find(|(d, _)| *d == spec)
                .ok_or_else(|| format!("unrecognized descriptor: {spec}"))?;
            return Ok(Self { kind: Kind::Fields(parse_fields(fields)?), zone });
        }
        Ok(Self { kind: Kind::Fields(parse_fields(spec)?), zone })
    }

    /// The first activation strictly after `after`, read in `tz`; `None` if it never fires.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(delay) => {
                let whole = Timestamp::from_second(after.as_second()).ok()?;
                whole.checked_add(jiff::SignedDuration::try_from(*delay).ok()?).ok()
            }
            Kind::Fields(fields) => fields.next_after(after, tz),
        }
    }
}

fn parse_fields(spec: &str) -> Result<Fields, String> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", parts.len(), parts.join(" ")));
    }
    let (days_of_month, dom_star) = parse_field(parts[2], &DAY_OF_MONTH)?;
    let (days_of_week, dow_star) = parse_field(parts[4], &DAY_OF_WEEK)?;
    Ok(Fields {
        minutes: parse_field(parts[0], &MINUTE)?.0,
        hours: parse_field(parts[1], &HOUR)?.0,
        days_of_month,
        months: parse_field(parts[3], &MONTH)?.0,
        days_of_week,
        dom_star,
        dow_star,
    })
}

/// A comma-separated list of `*`, `N`, `N-M`, each optionally `/step`: the bits and whether it was a bare star.
fn parse_field(field: &str, b: &Bounds) -> Result<(u64, bool), String> {
    let mut bits = 0;
    let mut star = false;
    for range in field.split(',') {
        let (range_bits, range_star) = parse_range(range, b)?;
        bits |= range_bits;
        star |= range_star;
    }
    Ok((bits, star))
}

fn parse_range(expr: &str, b: &Bounds) -> Result<(u64, bool), String> {
    let (range, step) = match expr.split('/').collect::<Vec<_>>()[..] {
        [range] => (range, None),
        [range, step] => (range, Some(number(step)?)),
        _ => return Err(format!("too many slashes: {expr}")),
    };
    let bounds: Vec<&str> = range.split('-').collect();
    let is_star = bounds[0] == "*" || bounds[0] == "?";
    let (start, mut end) = match bounds[..] {
        _ if is_star => (b.min, b.max),
        [single] => (value(single, b)?, value(single, b)?),
        [low, high] => (value(low, b)?, value(high, b)?),
        _ => return Err(format!("too many hyphens: {expr}")),
    };
    if step.is_some() && bounds.len() == 1 {
        // `N/step` runs from N to the field's maximum.
        end = b.max;
    }
    let step = step.unwrap_or(1);
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
    let bits = (start..=end).step_by(step as usize).fold(0u64, |acc, v| acc | 1 << v);
    // A stepped star (`*/5`) restricts the field, so it no longer counts as a bare star.
    Ok((bits, is_star && step == 1))
}

fn value(text: &str, b: &Bounds) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    match b.names.iter().position(|n| !n.is_empty() && *n == lower) {
        Some(index) => Ok(index as u32),
        None => number(text),
    }
}

fn number(text: &str) -> Result<u32, String> {
    match text.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {text}")),
        Ok(n) => u32::try_from(n).map_err(|_| format!("failed to parse int from {text}: value out of range")),
        Err(_) => Err(format!("failed to parse int from {text}: strconv.Atoi: parsing \"{text}\": invalid syntax")),
    }
}

/// Go's duration syntax (`90s`, `1h30m`, `1.5h`) as a std duration.
fn go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let amount: f64 = rest[..len].parse().ok()?;
        rest = &rest[len..];
        let units = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)];
        let (unit, seconds) =
            units.iter().find(|(u, _)| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")))?;
        rest = &rest[unit.len()..];
        total += amount * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

impl Fields {
    fn has(bits: u64, value: i64) -> bool {
        (0..64).contains(&value) && bits & (1 << value) != 0
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = Self::has(self.days_of_month, date.day().into());
        let dow = Self::has(self.days_of_week, date.weekday().to_sunday_zero_offset().into());
        // With either day field a bare star both must match; otherwise either may (classic cron).
        if self.dom_star || self.dow_star { dom && dow } else { dom || dow }
    }

    /// Walks civil time forward field by field, coarsest first, then maps back through the zone.
    fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        let start = local.with().second(0).subsec_nanosecond(0).build().ok()?.checked_add(1.minute()).ok()?;
        let (mut date, mut hour, mut minute) = (start.date(), start.hour(), start.minute());
        let last_year = date.year().saturating_add(SEARCH_YEARS);
        while date.year() <= last_year {
            if !Self::has(self.months, date.month().into()) {
                (date, hour, minute) = (date.first_of_month().checked_add(1.month()).ok()?, 0, 0);
            } else if hour > 23 || !self.day_matches(date) {
                (date, hour, minute) = (date.tomorrow().ok()?, 0, 0);
            } else if minute > 59 || !Self::has(self.hours, hour.into()) {
                (hour, minute) = (hour + 1, 0);
            } else if !Self::has(self.minutes, minute.into()) {
                minute += 1;
            } else {
                let civil = DateTime::from_parts(date, Time::new(hour, minute, 0, 0).ok()?);
                let found = civil.to_zoned(tz.clone()).ok()?.timestamp();
                // A repeated (fall-back) hour can map to a time not after `after`: keep walking.
                if found > after {
                    return Some(found);
                }
                minute += 1;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(spec: &str, after: &str) -> String {
        Schedule::parse(spec).unwrap().next_after(at(after), &TimeZone::UTC).unwrap().to_string()
    }

    #[test]
    fn every_five_minutes_fires_on_multiples_of_five() {
        assert_eq!(next("*/5 * * * *", "2024-03-01T10:02:30Z"), "2024-03-01T10:05:00Z");
        assert_eq!(next("*/5 * * * *", "2024-03-01T10:05:00Z"), "2024-03-01T10:10:00Z");
        assert_eq!(next("*/5 * * * *", "2024-03-01T23:59:00Z"), "2024-03-02T00:00:00Z");
    }

    #[test]
    fn weekday_mornings_skip_the_weekend() {
        // 2024-03-01 is a Friday.
        assert_eq!(next("0 9 * * MON-FRI", "2024-03-01T09:00:00Z"), "2024-03-04T09:00:00Z");
        assert_eq!(next("0 9 * * mon-fri", "2024-03-01T08:59:59Z"), "2024-03-01T09:00:00Z");
    }

    #[test]
    fn descriptors_lists_and_month_names_work() {
        assert_eq!(next("@hourly", "2024-03-01T10:00:00Z"), "2024-03-01T11:00:00Z");
        assert_eq!(next("@daily", "2024-03-01T10:00:00Z"), "2024-03-02T00:00:00Z");
        assert_eq!(next("@weekly", "2024-03-01T10:00:00Z"), "2024-03-03T00:00:00Z");
        assert_eq!(next("@yearly", "2024-03-01T10:00:00Z"), "2025-01-01T00:00:00Z");
        assert_eq!(next("15,45 9-17 * JAN,jul *", "2024-03-01T10:00:00Z"), "2024-07-01T09:15:00Z");
        assert_eq!(next("@every 90s", "2024-03-01T10:00:00.5Z"), "2024-03-01T10:01:30Z");
    }

    #[test]
    fn restricted_day_fields_match_either_day() {
        // The 13th or any Friday: 2024-09-06 is a Friday before the 13th.
        assert_eq!(next("0 0 13 * 5", "2024-09-01T00:00:00Z"), "2024-09-06T00:00:00Z");
        // With a star in one day field, both must match: Fridays only.
        assert_eq!(next("0 0 * * 5", "2024-09-01T00:00:00Z"), "2024-09-06T00:00:00Z");
    }

    #[test]
    fn a_time_zone_moves_the_activation() {
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let s = Schedule::parse("0 9 * * *").unwrap();
        assert_eq!(s.next_after(at("2024-01-10T00:00:00Z"), &tz).unwrap().to_string(), "2024-01-10T08:00:00Z");
        let prefixed = Schedule::parse("TZ=Europe/Paris 0 9 * * *").unwrap();
        assert_eq!(prefixed.zone.as_deref(), Some("Europe/Paris"));
    }

    #[test]
    fn an_impossible_date_never_fires() {
        assert_eq!(Schedule::parse("0 0 30 2 *").unwrap().next_after(at("2024-01-01T00:00:00Z"), &TimeZone::UTC), None);
    }

    #[test]
    fn bad_schedules_say_why() {
        assert_eq!(Schedule::parse("* * *").unwrap_err(), "expected exactly 5 fields, found 3: [* * *]");
        assert_eq!(Schedule::parse("60 * * * *").unwrap_err(), "end of range (60) above maximum (59): 60");
        assert_eq!(Schedule::parse("@fortnightly").unwrap_err(), "unrecognized descriptor: @fortnightly");
        assert_eq!(Schedule::parse("*/0 * * * *").unwrap_err(), "step of range should be a positive number: */0");
    }
}
