//! Each learner's share of the server: a token bucket on their commands, so that a runaway loop
//! (a script hammering `/api/command`) slows only its own learner, not the class.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `rate` commands a second on average, bursts up to `burst`.
pub struct CommandRate {
    rate: f64,
    burst: f64,
    // A std mutex: held only to refill and take, never across an await.
    state: Mutex<(f64, Instant)>,
}

impl CommandRate {
    /// A full bucket. A burst of twice the rate lets a learner paste a few commands at once.
    pub fn new(rate: u32) -> CommandRate {
        let rate = f64::from(rate.max(1));
        CommandRate { rate, burst: rate * 2.0, state: Mutex::new((rate * 2.0, Instant::now())) }
    }

    /// Takes one command's token at `now`; `Err` says how long until one is free.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let tokens = (tokens + now.saturating_duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            Ok(())
        } else {
            *state = (tokens, now);
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let bucket = CommandRate::new(5);
        let start = Instant::now();
        assert!((0..10).all(|_| bucket.take(start).is_ok()), "a burst of twice the rate passes");
        let wait = bucket.take(start).unwrap_err();
        assert!(wait > Duration::from_millis(150) && wait <= Duration::from_millis(200), "{wait:?}");
        assert!(bucket.take(start + Duration::from_millis(200)).is_ok(), "one token back after 1/rate s");
        assert!(bucket.take(start + Duration::from_millis(200)).is_err());
        let later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| bucket.take(later).is_ok()).count(), 10, "never more than the burst");
    }
}
