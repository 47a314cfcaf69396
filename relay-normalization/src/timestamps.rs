//! Timestamp validation: past and future timestamps and `received` (normalization.md §4.2),
//! stale timestamps before 1970 (normalization.md §4.3).
//!
//! [`normalize_timestamps`] never rejects:
//!
//! 1. an event `timestamp` later than `received_at + max_secs_in_future` is a
//!    `future_timestamp`; otherwise one earlier than `received_at − max_secs_in_past` is a
//!    `past_timestamp` (each check only when its limit is set);
//! 2. for such a timestamp every timestamp of the event is shifted by
//!    `received_at − timestamp` (the clock drift correction without minimum,
//!    [`ClockDriftProcessor::with_kind`]), so `timestamp` becomes `received_at`, and
//!    `[kind, {"sdk_time": <original timestamp>, "server_time": <received_at>}]` is added to the
//!    meta of `timestamp`;
//! 3. `received` is set to `received_at`, a missing `timestamp` to `received_at` (its meta,
//!    e.g. a parse error, is kept);
//! 4. a `time_spent` of 2 147 483 647 or more is removed without a trace.
//!
//! [`check_stale_timestamps`] rejects an event whose `timestamp` or `start_timestamp` lies
//! before the Unix epoch (`invalid transaction event: timestamp is too stale`, for every event
//! type), and removes spans and breadcrumbs with pre-epoch timestamps, leaving `null` with an
//! `invalid_data` error such as `timestamp is too stale: 1969-12-31 23:59:50 UTC`.

use chrono::{DateTime, TimeDelta, Utc};
use relay_event::schema::Event;
use relay_event::{Annotated, Error, ErrorKind, ProcessingAction, Timestamp};

use crate::clock_drift::ClockDriftProcessor;

/// `time_spent` values from this on are removed (normalization.md §4.2 step 6).
const MAX_TIME_SPENT: u64 = 2_147_483_647;

/// `timestamp ± secs`, `None` if not representable.
fn offset(timestamp: Timestamp, secs: u64, forward: bool) -> Option<DateTime<Utc>> {
    let delta = TimeDelta::try_seconds(i64::try_from(secs).ok()?)?;
    if forward {
        timestamp.0.checked_add_signed(delta)
    } else {
        timestamp.0.checked_sub_signed(delta)
    }
}

/// Past/future timestamps, `received`, a missing `timestamp` and `time_spent`
/// (normalization.md §4.2; see the module docs).
pub fn normalize_timestamps(
    event: &mut Annotated<Event>,
    received_at: Timestamp,
    max_secs_in_past: Option<u64>,
    max_secs_in_future: Option<u64>,
) {
    let Some(timestamp) = event
        .value()
        .and_then(|event| event.timestamp.value().copied())
    else {
        return finish(event, received_at);
    };

    let too_new = max_secs_in_future
        .and_then(|secs| offset(received_at, secs, true))
        .is_some_and(|limit| timestamp.0 > limit);
    let too_old = || {
        max_secs_in_past
            .and_then(|secs| offset(received_at, secs, false))
            .is_some_and(|limit| timestamp.0 < limit)
    };
    let kind = if too_new {
        Some(ErrorKind::FutureTimestamp)
    } else if too_old() {
        Some(ErrorKind::PastTimestamp)
    } else {
        None
    };
    if let Some(kind) = kind {
        ClockDriftProcessor::with_kind(kind, timestamp, received_at).apply(event);
    }
    finish(event, received_at);
}

/// Steps 4–6 of §4.2.
fn finish(event: &mut Annotated<Event>, received_at: Timestamp) {
    let Some(event) = event.value_mut() else {
        return;
    };
    event.received.set_value(Some(received_at));
    if event.timestamp.value().is_none() {
        event.timestamp.set_value(Some(received_at));
    }
    if event
        .time_spent
        .value()
        .is_some_and(|time_spent| *time_spent >= MAX_TIME_SPENT)
    {
        event.time_spent.set_value(None);
    }
}

/// Whether `timestamp` lies before the Unix epoch.
fn is_stale(timestamp: &Annotated<Timestamp>) -> bool {
    timestamp
        .value()
        .is_some_and(|timestamp| timestamp.0 < DateTime::UNIX_EPOCH)
}

/// The `invalid_data` error of a removed span or breadcrumb.
fn stale_error(field: &str, timestamp: &Annotated<Timestamp>) -> Option<Error> {
    let timestamp = timestamp.value().filter(|_| is_stale(timestamp))?;
    Some(Error::invalid(format!(
        "{field} is too stale: {}",
        timestamp.0
    )))
}

/// The stale-timestamp check (normalization.md §4.3; see the module docs).
pub fn check_stale_timestamps(event: &mut Annotated<Event>) -> Result<(), ProcessingAction> {
    let Some(event) = event.value_mut() else {
        return Ok(());
    };
    if is_stale(&event.timestamp) || is_stale(&event.start_timestamp) {
        return Err(ProcessingAction::InvalidTransaction(
            "timestamp is too stale",
        ));
    }

    if let Some(spans) = event.spans.value_mut() {
        for span in spans.iter_mut() {
            let error = span.value().and_then(|span| {
                stale_error("start_timestamp", &span.start_timestamp)
                    .or_else(|| stale_error("timestamp", &span.timestamp))
            });
            if let Some(error) = error {
                span.set_value(None);
                span.meta_mut().add_error(error);
            }
        }
    }

    let breadcrumbs = event
        .breadcrumbs
        .value_mut()
        .as_mut()
        .and_then(|breadcrumbs| breadcrumbs.values.value_mut().as_mut());
    for breadcrumb in breadcrumbs.into_iter().flatten() {
        let error = breadcrumb
            .value()
            .and_then(|breadcrumb| stale_error("timestamp", &breadcrumb.timestamp));
        if let Some(error) = error {
            breadcrumb.set_value(None);
            breadcrumb.meta_mut().add_error(error);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    const RECEIVED: f64 = 1704067200.0; // 2024-01-01T00:00:00Z

    fn ts(seconds: f64) -> Timestamp {
        Timestamp::from_seconds(seconds).unwrap_or_else(|_| panic!("bad timestamp {seconds}"))
    }

    fn normalize(
        input: serde_json::Value,
        past: Option<u64>,
        future: Option<u64>,
    ) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        normalize_timestamps(&mut event, ts(RECEIVED), past, future);
        to_json(&event).unwrap_or_default()
    }

    fn stale(input: serde_json::Value) -> Result<serde_json::Value, ProcessingAction> {
        let mut event: Annotated<Event> = from_json(input);
        check_stale_timestamps(&mut event)?;
        Ok(to_json(&event).unwrap_or_default())
    }

    #[test]
    fn past_timestamp_shifts_everything_onto_received_at() {
        // The verified example of §4.2 (max_secs_in_past = 86 400).
        let input = json!({"timestamp": "2023-12-01T00:00:00Z",
            "breadcrumbs": [{"timestamp": "2023-11-30T23:59:00Z"}]});
        assert_eq!(
            normalize(input, Some(86_400), None),
            json!({"timestamp": 1704067200.0, "received": 1704067200.0,
                "breadcrumbs": {"values": [{"timestamp": 1704067140.0}]},
                "_meta": {"timestamp": {"": {"err": [["past_timestamp", {
                    "sdk_time": "2023-12-01T00:00:00+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}]]}}}})
        );
    }

    #[test]
    fn future_timestamp_shifts_back() {
        let input = json!({"timestamp": RECEIVED + 61.0, "start_timestamp": RECEIVED + 60.5});
        assert_eq!(
            normalize(input, Some(86_400), Some(60)),
            json!({"timestamp": 1704067200.0, "start_timestamp": 1704067199.5,
                "received": 1704067200.0,
                "_meta": {"timestamp": {"": {"err": [["future_timestamp", {
                    "sdk_time": "2024-01-01T00:01:01+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}]]}}}})
        );
    }

    #[test]
    fn limits_are_exclusive_and_optional() {
        // Exactly at the limits: accepted.
        let input = json!({"timestamp": RECEIVED + 60.0});
        assert_eq!(
            normalize(input, Some(86_400), Some(60)),
            json!({"timestamp": 1704067260.0, "received": 1704067200.0})
        );
        let input = json!({"timestamp": RECEIVED - 86_400.0});
        assert_eq!(
            normalize(input, Some(86_400), Some(60)),
            json!({"timestamp": 1704067200.0 - 86_400.0, "received": 1704067200.0})
        );
        // Without limits nothing is checked.
        let input = json!({"timestamp": 1.0});
        assert_eq!(
            normalize(input, None, None),
            json!({"timestamp": 1.0, "received": 1704067200.0})
        );
    }

    #[test]
    fn received_and_missing_timestamp_are_set() {
        assert_eq!(
            normalize(
                json!({"received": 5, "time_spent": 2_147_483_646u64}),
                None,
                None
            ),
            json!({"timestamp": 1704067200.0, "received": 1704067200.0,
                "time_spent": 2_147_483_646u64})
        );
        // An invalid timestamp keeps its error and original value.
        assert_eq!(
            normalize(json!({"timestamp": "bogus"}), None, None),
            json!({"timestamp": 1704067200.0, "received": 1704067200.0,
                "_meta": {"timestamp": {"": {
                    "err": [["invalid_data", {"reason": "input contains invalid characters"}]],
                    "val": "bogus"}}}})
        );
    }

    #[test]
    fn huge_time_spent_is_removed_silently() {
        assert_eq!(
            normalize(
                json!({"timestamp": RECEIVED, "time_spent": 2_147_483_647u64}),
                None,
                None
            ),
            json!({"timestamp": 1704067200.0, "received": 1704067200.0})
        );
    }

    #[test]
    fn stale_event_timestamps_reject() {
        let action = ProcessingAction::InvalidTransaction("timestamp is too stale");
        assert_eq!(stale(json!({"timestamp": -5})), Err(action.clone()));
        assert_eq!(stale(json!({"start_timestamp": -0.5})), Err(action.clone()));
        assert_eq!(
            action.to_string(),
            "invalid transaction event: timestamp is too stale"
        );
        let input = json!({"timestamp": 0.0, "start_timestamp": 0.0});
        assert_eq!(stale(input.clone()), Ok(input));
    }

    #[test]
    fn stale_spans_and_breadcrumbs_are_removed() {
        let input = json!({
            "timestamp": 10,
            "breadcrumbs": [{"timestamp": -10, "message": "old"}, {"timestamp": 1}],
            "spans": [
                {"start_timestamp": -10, "timestamp": 5},
                {"start_timestamp": 1, "timestamp": -1.5},
                {"start_timestamp": 1, "timestamp": 5},
            ],
        });
        assert_eq!(
            stale(input),
            Ok(json!({
                "timestamp": 10.0,
                "breadcrumbs": {"values": [null, {"timestamp": 1.0}]},
                "spans": [null, null, {"timestamp": 5.0, "start_timestamp": 1.0}],
                "_meta": {
                    "breadcrumbs": {"values": {"0": {"": {"err": [["invalid_data", {
                        "reason": "timestamp is too stale: 1969-12-31 23:59:50 UTC"}]]}}}},
                    "spans": {
                        "0": {"": {"err": [["invalid_data", {
                            "reason": "start_timestamp is too stale: 1969-12-31 23:59:50 UTC"}]]}},
                        "1": {"": {"err": [["invalid_data", {
                            "reason": "timestamp is too stale: 1969-12-31 23:59:58.500 UTC"}]]}},
                    },
                },
            }))
        );
    }
}
