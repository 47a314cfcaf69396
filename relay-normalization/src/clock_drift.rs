//! Clock drift correction (normalization.md §4.1), also the shifting mechanism of the
//! past/future timestamp check (normalization.md §4.2).
//!
//! The drift is `received_at − sent_at` (signed, microsecond precision). When its magnitude in
//! whole seconds reaches [`CLOCK_DRIFT_THRESHOLD_SECS`] (55 minutes), the drift is added to
//! **every** timestamp-typed value of the event — `timestamp`, `start_timestamp`, `received`,
//! breadcrumb and span timestamps and any other [`Timestamp`] field the schema has — and the
//! meta of the event's `timestamp` gets
//! `["clock_drift", {"sdk_time": "<sent_at>", "server_time": "<received_at>"}]`, both times
//! written as RFC 3339 with a `+00:00` offset (`2023-12-01T00:00:00+00:00`, fractions only
//! when present). Untyped data (`extra`, span `data`, …) is never touched.
//!
//! [`ClockDriftProcessor::with_kind`] is the variant without a minimum that §4.2 uses, with
//! the error kind `past_timestamp` or `future_timestamp`.

use chrono::TimeDelta;
use relay_event::schema::Event;
use relay_event::{
    process_value, Annotated, Error, ErrorKind, Meta, ProcessingResult, ProcessingState, Processor,
    Timestamp, Value,
};

/// The smallest drift, in whole seconds either way, that is corrected (55 minutes).
pub const CLOCK_DRIFT_THRESHOLD_SECS: i64 = 3300;

/// The drift `received_at − sent_at` if it is large enough to be corrected
/// (normalization.md §4.1); the same rule applies to sessions and client reports.
pub fn clock_drift(sent_at: Timestamp, received_at: Timestamp) -> Option<TimeDelta> {
    let drift = received_at.0.signed_duration_since(sent_at.0);
    (drift.num_seconds().abs() >= CLOCK_DRIFT_THRESHOLD_SECS).then_some(drift)
}

/// RFC 3339 with `+00:00`, as written into `sdk_time` and `server_time`.
fn rfc3339(timestamp: Timestamp) -> Value {
    Value::String(timestamp.0.to_rfc3339())
}

/// `timestamp` shifted by `drift`; unchanged if the result is not representable.
pub fn shift_timestamp(timestamp: Timestamp, drift: TimeDelta) -> Timestamp {
    timestamp
        .0
        .timestamp_micros()
        .checked_add(drift.num_microseconds().unwrap_or(i64::MAX))
        .and_then(Timestamp::from_micros)
        .unwrap_or(timestamp)
}

/// Shifts every timestamp of an event by a correction, if one applies (see the module docs).
#[derive(Clone, Debug)]
pub struct ClockDriftProcessor {
    correction: Option<(TimeDelta, Error)>,
}

impl ClockDriftProcessor {
    /// The clock drift correction of §4.1: applies when `sent_at` is known and the drift to
    /// `received_at` is at least [`CLOCK_DRIFT_THRESHOLD_SECS`].
    pub fn new(sent_at: Option<Timestamp>, received_at: Timestamp) -> Self {
        let correction = sent_at.and_then(|sent_at| {
            clock_drift(sent_at, received_at).map(|drift| {
                (
                    drift,
                    Self::error(ErrorKind::ClockDrift, sent_at, received_at),
                )
            })
        });
        ClockDriftProcessor { correction }
    }

    /// A correction without minimum that moves `sdk_time` onto `server_time`, recorded as
    /// `kind` (normalization.md §4.2 step 3).
    pub fn with_kind(kind: ErrorKind, sdk_time: Timestamp, server_time: Timestamp) -> Self {
        let drift = server_time.0.signed_duration_since(sdk_time.0);
        ClockDriftProcessor {
            correction: Some((drift, Self::error(kind, sdk_time, server_time))),
        }
    }

    fn error(kind: ErrorKind, sdk_time: Timestamp, server_time: Timestamp) -> Error {
        Error::new(kind)
            .with("sdk_time", rfc3339(sdk_time))
            .with("server_time", rfc3339(server_time))
    }

    /// Whether a correction applies.
    pub fn is_drifted(&self) -> bool {
        self.correction.is_some()
    }

    /// The drift that is added to every timestamp, if a correction applies.
    pub fn drift(&self) -> Option<TimeDelta> {
        self.correction.as_ref().map(|(drift, _)| *drift)
    }

    /// Applies the correction to `event` (nothing if none applies or the event is missing):
    /// shifts every timestamp and records the error on the meta of `timestamp`.
    pub fn apply(mut self, event: &mut Annotated<Event>) {
        let Some((_, error)) = self.correction.clone() else {
            return;
        };
        if event.value().is_none() {
            return;
        }
        // Shifting never rejects or deletes.
        let _ = process_value(event, &mut self, &ProcessingState::root());
        if let Some(event) = event.value_mut() {
            event.timestamp.meta_mut().add_error(error);
        }
    }
}

impl Processor for ClockDriftProcessor {
    fn process_timestamp(
        &mut self,
        value: &mut Timestamp,
        _meta: &mut Meta,
        _state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        if let Some((drift, _)) = &self.correction {
            *value = shift_timestamp(*value, *drift);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn ts(seconds: f64) -> Timestamp {
        Timestamp::from_seconds(seconds).unwrap_or_else(|_| panic!("bad timestamp {seconds}"))
    }

    const RECEIVED: f64 = 1704067200.0; // 2024-01-01T00:00:00Z

    fn correct(input: serde_json::Value, sent_at: Option<Timestamp>) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        ClockDriftProcessor::new(sent_at, ts(RECEIVED)).apply(&mut event);
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn threshold_is_55_minutes_in_whole_seconds() {
        assert!(clock_drift(ts(RECEIVED - 3300.0), ts(RECEIVED)).is_some());
        assert!(clock_drift(ts(RECEIVED + 3300.0), ts(RECEIVED)).is_some());
        // 3299.9 s are 3299 whole seconds.
        assert!(clock_drift(ts(RECEIVED - 3299.9), ts(RECEIVED)).is_none());
        assert!(clock_drift(ts(RECEIVED + 3299.9), ts(RECEIVED)).is_none());
    }

    #[test]
    fn shifts_every_timestamp_and_records_clock_drift() {
        // The SDK clock is one hour behind.
        let input = json!({
            "type": "transaction",
            "timestamp": RECEIVED - 3600.0 - 10.0,
            "start_timestamp": RECEIVED - 3600.0 - 20.5,
            "received": RECEIVED - 3600.0,
            "breadcrumbs": {"values": [{"timestamp": RECEIVED - 3600.0 - 30.0}]},
            "spans": [{"start_timestamp": RECEIVED - 3600.0 - 15.0,
                "timestamp": RECEIVED - 3600.0 - 12.0}],
            "extra": {"t": RECEIVED - 3600.0},
        });
        assert_eq!(
            correct(input, Some(ts(RECEIVED - 3600.0))),
            json!({
                "type": "transaction",
                "timestamp": 1704067190.0,
                "start_timestamp": 1704067179.5,
                "received": 1704067200.0,
                "breadcrumbs": {"values": [{"timestamp": 1704067170.0}]},
                "extra": {"t": 1704063600.0},
                "spans": [{"timestamp": 1704067188.0, "start_timestamp": 1704067185.0}],
                "_meta": {"timestamp": {"": {"err": [["clock_drift", {
                    "sdk_time": "2023-12-31T23:00:00+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}]]}}},
            })
        );
    }

    #[test]
    fn sdk_clock_ahead_and_fractions() {
        let input = json!({"timestamp": RECEIVED + 7200.25});
        assert_eq!(
            correct(input, Some(ts(RECEIVED + 7200.5))),
            json!({"timestamp": 1704067199.75,
                "_meta": {"timestamp": {"": {"err": [["clock_drift", {
                    "sdk_time": "2024-01-01T02:00:00.500+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}]]}}}})
        );
    }

    #[test]
    fn no_correction_below_threshold_or_without_sent_at() {
        let input = json!({"timestamp": RECEIVED - 3000.0});
        assert_eq!(correct(input.clone(), Some(ts(RECEIVED - 3000.0))), input);
        assert_eq!(correct(input.clone(), None), input);
    }

    #[test]
    fn missing_timestamp_still_gets_the_error() {
        assert_eq!(
            correct(json!({"level": "info"}), Some(ts(RECEIVED - 3600.0))),
            json!({"level": "info", "timestamp": null,
                "_meta": {"timestamp": {"": {"err": [["clock_drift", {
                    "sdk_time": "2023-12-31T23:00:00+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}]]}}}})
        );
    }
}
