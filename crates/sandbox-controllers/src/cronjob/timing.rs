//! The CronJob controller's pure timing decisions, taken from a parsed [`Schedule`] with a clock
//! passed in: the most recent unmet activation, how many were missed, and when to look again.

use gitops_sandbox_core::cron::Schedule;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::time::Duration;

/// How many activations were missed since the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// None: the next activation is still ahead.
    None,
    /// Some, but few enough to act on the latest.
    Few,
    /// More than 100: probably a clock problem.
    Many,
}

/// What the schedule says about the time between the last activation and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent {
    /// The reference point: the last schedule time, else the creation time (raised to the deadline).
    pub earliest: Timestamp,
    /// The latest activation at or before now that has not been acted on.
    pub most_recent: Option<Timestamp>,
    /// How many were missed.
    pub missed: Missed,
}

/// What the controller knows of one CronJob's timing.
#[derive(Debug, Clone)]
pub struct Timing<'a> {
    /// The parsed schedule.
    pub schedule: &'a Schedule,
    /// The zone it is read in.
    pub tz: &'a TimeZone,
    /// `metadata.creationTimestamp`.
    pub created: Timestamp,
    /// `status.lastScheduleTime`.
    pub last_scheduled: Option<Timestamp>,
    /// `spec.startingDeadlineSeconds`.
    pub starting_deadline: Option<i64>,
}

impl Timing<'_> {
    /// The most recent unmet activation, counted as upstream does (an interval estimate, then a
    /// short walk), so a long outage costs a few steps, not one per missed minute.
    pub fn most_recent(&self, now: Timestamp, with_deadline: bool) -> Result<Recent, String> {
        let mut earliest = self.last_scheduled.unwrap_or(self.created);
        if let (true, Some(deadline)) = (with_deadline, self.starting_deadline) {
            let limit = now.checked_sub(jiff::SignedDuration::from_secs(deadline)).unwrap_or(now);
            earliest = earliest.max(limit);
        }
        let none = |missed| Ok(Recent { earliest, most_recent: None, missed });
        let next = |t: Timestamp| self.schedule.next_after(t, self.tz);
        let never = || "time difference between two schedules is less than 1 second".to_string();
        let t1 = next(earliest).ok_or_else(never)?;
        if now < t1 {
            return none(Missed::None);
        }
        let t2 = next(t1).ok_or_else(never)?;
        if now < t2 {
            return Ok(Recent { earliest, most_recent: Some(t1), missed: Missed::None });
        }
        let interval = (t2.as_second() - t1.as_second()).max(1);
        let count = (now.as_second() - t1.as_second()) / interval + 1;
        let jump = jiff::SignedDuration::from_secs((count - 2).max(0) * interval);
        let mut cursor = t1.checked_add(jump).map_err(|e| e.to_string())?;
        let mut most_recent = None;
        while let Some(t) = next(cursor).filter(|t| *t <= now) {
            most_recent = Some(t);
            cursor = t;
        }
        let missed = if count > 100 { Missed::Many } else { Missed::Few };
        match most_recent {
            Some(_) => Ok(Recent { earliest, most_recent, missed }),
            None => none(missed),
        }
    }

    /// How long until the next activation is due (plus upstream's 100 ms of slack); `None` if never.
    pub fn requeue_after(&self, now: Timestamp) -> Option<Duration> {
        let base = match self.most_recent(now, false) {
            Err(_) => now,
            Ok(Recent { most_recent: Some(t), .. }) => t,
            Ok(Recent { earliest, missed: Missed::None, .. }) => earliest,
            Ok(_) => now,
        };
        let next = self.schedule.next_after(base, self.tz)?;
        let wait = next.as_millisecond() - now.as_millisecond() + 100;
        Some(Duration::from_millis(wait.max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn timing<'a>(schedule: &'a Schedule, last: Option<&str>, deadline: Option<i64>) -> Timing<'a> {
        static UTC: TimeZone = TimeZone::UTC;
        Timing {
            schedule,
            tz: &UTC,
            created: at("2024-03-01T10:00:30Z"),
            last_scheduled: last.map(at),
            starting_deadline: deadline,
        }
    }

    #[test]
    fn the_most_recent_unmet_time_is_the_latest_before_now() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        let t = timing(&s, None, None);
        let before = t.most_recent(at("2024-03-01T10:04:00Z"), true).unwrap();
        assert_eq!((before.most_recent, before.missed), (None, Missed::None));
        let one = t.most_recent(at("2024-03-01T10:05:01Z"), true).unwrap();
        assert_eq!(one.most_recent, Some(at("2024-03-01T10:05:00Z")));
        let several = t.most_recent(at("2024-03-01T10:31:00Z"), true).unwrap();
        assert_eq!((several.most_recent, several.missed), (Some(at("2024-03-01T10:30:00Z")), Missed::Few));
        let days = t.most_recent(at("2024-03-05T10:31:00Z"), true).unwrap();
        assert_eq!((days.most_recent, days.missed), (Some(at("2024-03-05T10:30:00Z")), Missed::Many));
    }

    #[test]
    fn a_starting_deadline_forgets_older_misses() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        let t = timing(&s, Some("2024-03-01T10:05:00Z"), Some(60));
        // Two hours later, only activations in the last minute count: 12:00 is 90 s ago.
        let late = t.most_recent(at("2024-03-01T12:01:30Z"), true).unwrap();
        assert_eq!(late.most_recent, None);
        let in_time = t.most_recent(at("2024-03-01T12:00:40Z"), true).unwrap();
        assert_eq!(in_time.most_recent, Some(at("2024-03-01T12:00:00Z")));
        // Without the deadline the same moment sees the 12:00 activation as merely missed.
        assert_eq!(
            t.most_recent(at("2024-03-01T12:01:30Z"), false).unwrap().most_recent,
            Some(at("2024-03-01T12:00:00Z"))
        );
    }

    #[test]
    fn the_requeue_waits_for_the_next_activation() {
        let s = Schedule::parse("@hourly").unwrap();
        let t = timing(&s, Some("2024-03-01T10:00:00Z"), None);
        assert_eq!(t.requeue_after(at("2024-03-01T10:59:00Z")), Some(Duration::from_millis(60_100)));
        let never = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(timing(&never, None, None).requeue_after(at("2024-03-01T10:59:00Z")), None);
        assert!(timing(&never, None, None).most_recent(at("2024-03-01T10:59:00Z"), true).is_err());
    }
}
