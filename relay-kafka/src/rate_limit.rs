//! Per-key rate limit of a topic shard (`processing.md` §7.5, `key_rate_limit`).
//!
//! A hot key (one event id or trace id producing a flood of messages) would pin all its messages
//! to one partition. The limiter counts messages per key in fixed windows: all counters reset
//! together every `window_secs`. Once a key has reached `limit_per_window` in the current
//! window, further messages with that key are not admitted; the router then keeps them on the
//! selected shard but replaces their key with a counter key and marks them reshuffled.
//!
//! Memory is bounded by the number of distinct keys seen within one window, because the whole
//! table is dropped at every window boundary.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use relay_config::KeyRateLimit;

use crate::key::PartitionKey;

/// Message counts of the current window.
#[derive(Debug)]
struct Window {
    started: Instant,
    counts: HashMap<PartitionKey, u64>,
}

/// Counts messages per key in fixed windows and refuses keys over their limit.
#[derive(Debug)]
pub struct KeyRateLimiter {
    limit_per_window: u64,
    window_length: Duration,
    window: Mutex<Window>,
}

impl KeyRateLimiter {
    /// A limiter with the configured limit; its first window starts at `now`.
    pub fn new(limit: KeyRateLimit, now: Instant) -> Self {
        Self {
            limit_per_window: limit.limit_per_window,
            window_length: Duration::from_secs(limit.window_secs),
            window: Mutex::new(Window {
                started: now,
                counts: HashMap::new(),
            }),
        }
    }

    /// Counts one message with `key` at `now`; `false` when the key has already reached its
    /// limit in the current window (the message must then be reshuffled).
    pub fn admit(&self, key: &PartitionKey, now: Instant) -> bool {
        // A poisoned lock only means another thread panicked mid-update of plain counters;
        // the counts are still usable, and losing a few is harmless.
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.saturating_duration_since(window.started) >= self.window_length {
            window.started = now;
            window.counts.clear();
        }
        let count = window.counts.entry(*key).or_insert(0);
        if *count >= self.limit_per_window {
            return false;
        }
        *count += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: PartitionKey = [0xaa; 16];
    const KEY_B: PartitionKey = [0xbb; 16];

    fn limiter(limit_per_window: u64, window_secs: u64, now: Instant) -> KeyRateLimiter {
        KeyRateLimiter::new(
            KeyRateLimit {
                limit_per_window,
                window_secs,
            },
            now,
        )
    }

    #[test]
    fn admits_up_to_the_limit_per_key_then_refuses() {
        let start = Instant::now();
        let limiter = limiter(2, 60, start);
        assert!(limiter.admit(&KEY_A, start));
        assert!(limiter.admit(&KEY_A, start));
        assert!(!limiter.admit(&KEY_A, start));
        assert!(!limiter.admit(&KEY_A, start + Duration::from_secs(59)));
        // Other keys have their own count.
        assert!(limiter.admit(&KEY_B, start));
    }

    #[test]
    fn all_counters_reset_when_the_window_ends() {
        let start = Instant::now();
        let limiter = limiter(1, 10, start);
        assert!(limiter.admit(&KEY_A, start));
        assert!(limiter.admit(&KEY_B, start + Duration::from_secs(5)));
        assert!(!limiter.admit(&KEY_A, start + Duration::from_secs(9)));
        // The window is fixed (started at `start`), not sliding per key.
        let next_window = start + Duration::from_secs(10);
        assert!(limiter.admit(&KEY_A, next_window));
        assert!(limiter.admit(&KEY_B, next_window));
        assert!(!limiter.admit(&KEY_B, next_window + Duration::from_secs(9)));
    }

    #[test]
    fn zero_limit_refuses_every_keyed_message() {
        let start = Instant::now();
        let limiter = limiter(0, 60, start);
        assert!(!limiter.admit(&KEY_A, start));
        assert!(!limiter.admit(&KEY_B, start + Duration::from_secs(120)));
    }

    #[test]
    fn clock_going_backwards_does_not_reset_or_panic() {
        let start = Instant::now() + Duration::from_secs(100);
        let limiter = limiter(1, 10, start);
        assert!(limiter.admit(&KEY_A, start));
        assert!(!limiter.admit(&KEY_A, start - Duration::from_secs(50)));
    }
}
