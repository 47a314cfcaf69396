//! Exponential backoff of relay-protocol.md §4.4: the first attempt has no delay, then 1 s,
//! multiplied by 1.5 per attempt, capped at `http.max_retry_interval`.

use std::time::Duration;

/// Delay before the second attempt.
const INITIAL_INTERVAL: Duration = Duration::from_secs(1);
/// Growth factor per attempt.
const MULTIPLIER: f64 = 1.5;
/// Largest share of a delay added as random jitter, so that many relays (or many retried
/// envelopes) that failed together do not retry in lockstep.
const MAX_JITTER_RATIO: f64 = 0.1;

/// Backoff state; reset it after a success.
#[derive(Clone, Debug)]
pub struct Backoff {
    attempt: u32,
    max_interval: Duration,
}

impl Backoff {
    /// A fresh backoff capped at `max_interval`.
    pub fn new(max_interval: Duration) -> Backoff {
        Backoff {
            attempt: 0,
            max_interval,
        }
    }

    /// Forgets previous failures.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before the next attempt.
    pub fn next_backoff(&mut self) -> Duration {
        let attempt = self.attempt;
        self.attempt = self.attempt.saturating_add(1);
        if attempt == 0 {
            return Duration::ZERO;
        }
        let factor = MULTIPLIER.powi(attempt.saturating_sub(1).min(64) as i32);
        let delay = INITIAL_INTERVAL.as_secs_f64() * factor;
        Duration::from_secs_f64(delay.min(self.max_interval.as_secs_f64()))
    }

    /// Like [`Backoff::next_backoff`] with up to 10% random jitter added.
    pub fn next_backoff_with_jitter(&mut self) -> Duration {
        let delay = self.next_backoff();
        let jitter = rand::random::<f64>() * MAX_JITTER_RATIO;
        delay.mul_f64(1.0 + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_matches_the_protocol() {
        let mut backoff = Backoff::new(Duration::from_secs(3));
        assert_eq!(backoff.next_backoff(), Duration::ZERO);
        assert_eq!(backoff.next_backoff(), Duration::from_secs(1));
        assert_eq!(backoff.next_backoff(), Duration::from_millis(1500));
        assert_eq!(backoff.next_backoff(), Duration::from_millis(2250));
        assert_eq!(backoff.next_backoff(), Duration::from_secs(3));
        backoff.reset();
        assert_eq!(backoff.next_backoff(), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let mut backoff = Backoff::new(Duration::from_secs(60));
        backoff.next_backoff();
        let delay = backoff.next_backoff_with_jitter();
        assert!(delay >= Duration::from_secs(1) && delay <= Duration::from_millis(1100));
    }
}
