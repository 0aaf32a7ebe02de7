//! Cron schedule syntax as CronJobs accept it: admission checks a schedule with the same parser the
//! CronJob controller runs it with, so what is accepted is exactly what can be scheduled.

use crate::cron::Schedule;

/// Why a schedule does not parse, worded like the cron library upstream uses; `None` when it is valid.
pub(super) fn schedule_error(schedule: &str) -> Option<String> {
    Schedule::parse(schedule).err()
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
