//! The timestamp rules of span-like items (processing.md §3.2a) and EAP retention (`project-config.md`
//! §3.8), shared by spans, logs and trace metrics.
//!
//! A whole item shifts by one offset (future timestamps to the receive time, else clock drift
//! correction), so its internal durations are preserved; an item older than its retention
//! after the shift is rejected ([`TooOld`]).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Map, Value};

use super::attribute_value;
use crate::services::processing::event::MINIMUM_CLOCK_DRIFT;
use crate::services::processing::ProcessingContext;

/// Attribute: SDK tie breaker for ordering items with the same timestamp (§3.2a).
const ATTR_TIMESTAMP_SEQUENCE: &str = "sentry.timestamp.sequence";

/// `sentry.timestamp.sequence`: a positive number of nanoseconds to add to the timestamp.
pub fn sequence_nanos(attributes: &Map<String, Value>) -> Option<i64> {
    let value = attribute_value(attributes, ATTR_TIMESTAMP_SEQUENCE)?;
    let nanos = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|nanos| nanos.is_finite())
            .map(|nanos| nanos as i64)
    })?;
    (nanos > 0).then_some(nanos)
}

/// Decimal nanoseconds since the epoch, the form of `sentry.observed_timestamp_nanos`.
pub fn unix_nanos(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or(0)
}

/// (standard, downsampled) retention of an EAP product (`project-config.md` §3.8):
/// `config.retentions.<product>`, else `eventRetention` / `downsampledEventRetention`.
pub fn retention_pair(context: &ProcessingContext, product: &str) -> (u16, u16) {
    if let Some(pair) = context.product_retention(product) {
        return pair;
    }
    let standard = context.event_retention();
    let downsampled = context
        .project
        .raw_config
        .get("downsampledEventRetention")
        .and_then(Value::as_u64)
        .and_then(|days| u16::try_from(days).ok())
        .unwrap_or(standard);
    (standard, downsampled)
}

/// The item's timestamp is older than its retention (`invalid`/`timestamp`).
#[derive(Debug, PartialEq, Eq)]
pub struct TooOld;

/// The inputs of the §3.2a rules that do not depend on the item.
#[derive(Clone, Copy, Debug)]
pub struct TimestampRules {
    pub received: DateTime<Utc>,
    pub max_secs_in_future: i64,
    pub sent_at: Option<DateTime<Utc>>,
    pub retention_days: u16,
}

impl TimestampRules {
    /// The rules for an envelope and a product retention.
    pub fn new(context: &ProcessingContext, retention_days: u16) -> TimestampRules {
        TimestampRules {
            received: context.received_at,
            max_secs_in_future: i64::from(context.config.max_secs_in_future()),
            sent_at: context.headers.sent_at,
            retention_days,
        }
    }

    /// The shift to apply to every timestamp of an item whose main timestamp is `timestamp`:
    /// a timestamp too far in the future is moved to the receive time; otherwise a clock drift
    /// of at least 55 minutes between `sent_at` and the receive time is corrected. `Err` when
    /// the corrected timestamp is older than the retention.
    pub fn shift(&self, timestamp: DateTime<Utc>) -> Result<ChronoDuration, TooOld> {
        let zero = ChronoDuration::zero();
        let shift = if timestamp > self.received + ChronoDuration::seconds(self.max_secs_in_future)
        {
            self.received - timestamp
        } else {
            match self.sent_at {
                Some(sent_at) => {
                    let drift = self.received - sent_at;
                    if drift.abs() >= MINIMUM_CLOCK_DRIFT {
                        drift
                    } else {
                        zero
                    }
                }
                None => zero,
            }
        };
        let oldest = self.received - ChronoDuration::days(i64::from(self.retention_days));
        if timestamp + shift < oldest {
            return Err(TooOld);
        }
        Ok(shift)
    }
}

/// Unix seconds (float) of a timestamp, microsecond precision.
pub fn unix_seconds(time: DateTime<Utc>) -> f64 {
    time.timestamp_micros() as f64 / 1_000_000.0
}

/// A timestamp as a JSON number of unix seconds (`null` if not representable).
pub(super) fn seconds_value(time: DateTime<Utc>) -> Value {
    serde_json::Number::from_f64(unix_seconds(time)).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_rules() {
        let received = DateTime::from_timestamp(1_717_000_000, 0).unwrap();
        let rules = TimestampRules {
            received,
            max_secs_in_future: 60,
            sent_at: None,
            retention_days: 30,
        };
        assert_eq!(rules.shift(received), Ok(ChronoDuration::zero()));
        assert_eq!(
            rules.shift(received + ChronoDuration::seconds(60)),
            Ok(ChronoDuration::zero())
        );
        assert_eq!(
            rules.shift(received + ChronoDuration::seconds(61)),
            Ok(ChronoDuration::seconds(-61))
        );
        assert_eq!(
            rules.shift(received - ChronoDuration::days(31)),
            Err(TooOld)
        );
        let drifted = TimestampRules {
            sent_at: Some(received - ChronoDuration::hours(2)),
            ..rules
        };
        assert_eq!(
            drifted.shift(received - ChronoDuration::hours(2)),
            Ok(ChronoDuration::hours(2))
        );
        let small_drift = TimestampRules {
            sent_at: Some(received - ChronoDuration::minutes(10)),
            ..rules
        };
        assert_eq!(small_drift.shift(received), Ok(ChronoDuration::zero()));
    }
}
