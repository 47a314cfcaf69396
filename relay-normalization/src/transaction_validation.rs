//! Transaction validation (normalization.md §5): the checks that reject a transaction event.
//!
//! [`validate_transaction`] does nothing for events that are not of type `transaction`. For a
//! transaction it returns [`ProcessingAction::InvalidTransaction`] with the reason of the first
//! failing check (written as `invalid transaction event: <reason>`; the caller turns it into
//! the outcome `invalid`), in this order:
//!
//! 1. `timestamp` and `start_timestamp` are present, and `timestamp ≥ start_timestamp`;
//! 2. with a timestamp range `[start, end)`: `start_timestamp ≥ start` and `timestamp < end`;
//! 3. there is a trace context, with `trace_id` and `span_id`;
//! 4. every `spans` element is present and valid. Before the checks of one span, a span
//!    without `timestamp` gets the transaction's `timestamp` and `status:
//!    "deadline_exceeded"`; with a range, a span `start_timestamp` / `timestamp` outside it is
//!    replaced by the transaction's `start_timestamp` / `timestamp` (the original, as text, in
//!    `val`, with a bare `invalid_data` error). Then the span's end must not be before its
//!    start, and `trace_id`, `span_id` and `start_timestamp` must be present.
//!
//! Spans checked before a failing one keep their changes; the event is rejected anyway.

use relay_event::schema::{Event, EventType, Span};
use relay_event::{Annotated, ErrorKind, ProcessingAction, Timestamp, Value};

/// The range `[start, end)` that transaction timestamps must fall into (the metrics
/// aggregator's limits in the server: `[now − 5 days, now + 60 s)`).
pub type TimestampRange = (Timestamp, Timestamp);

fn reject(reason: &'static str) -> Result<(), ProcessingAction> {
    Err(ProcessingAction::InvalidTransaction(reason))
}

/// Validates a transaction event (normalization.md §5; see the module docs).
pub fn validate_transaction(
    event: &mut Annotated<Event>,
    range: Option<TimestampRange>,
) -> Result<(), ProcessingAction> {
    let Some(event) = event.value_mut() else {
        return Ok(());
    };
    if event.ty.value() != Some(&EventType::Transaction) {
        return Ok(());
    }

    let Some(&end) = event.timestamp.value() else {
        return reject("timestamp hard-required for transaction events");
    };
    let Some(&start) = event.start_timestamp.value() else {
        return reject("start_timestamp hard-required for transaction events");
    };
    if end < start {
        return reject("end timestamp is smaller than start timestamp");
    }
    if let Some((range_start, range_end)) = range {
        if start < range_start {
            return reject("start timestamp is out of the valid range for metrics");
        }
        if end >= range_end {
            return reject("end timestamp is out of the valid range for metrics");
        }
    }

    let Some(trace) = event.contexts.value().and_then(|contexts| contexts.trace()) else {
        return reject("missing valid trace context");
    };
    if trace.trace_id.value().is_none() {
        return reject("trace context is missing trace_id");
    }
    if trace.span_id.value().is_none() {
        return reject("trace context is missing span_id");
    }

    if let Some(spans) = event.spans.value_mut() {
        for span in spans.iter_mut() {
            let Some(span) = span.value_mut() else {
                return reject("spans must be valid in transaction event");
            };
            validate_span(span, (start, end), range)?;
        }
    }
    Ok(())
}

/// Replaces `timestamp` by `replacement` if it lies outside `range`, keeping the original.
fn clamp(timestamp: &mut Annotated<Timestamp>, range: TimestampRange, replacement: Timestamp) {
    let Some(&value) = timestamp.value() else {
        return;
    };
    if value >= range.0 && value < range.1 {
        return;
    }
    timestamp.set_value(Some(replacement));
    let meta = timestamp.meta_mut();
    meta.add_error(ErrorKind::InvalidData);
    meta.set_original_value(Some(Value::String(value.0.to_string())));
}

/// The checks of one span; `transaction` is the transaction's `(start, end)`.
fn validate_span(
    span: &mut Span,
    transaction: TimestampRange,
    range: Option<TimestampRange>,
) -> Result<(), ProcessingAction> {
    if span.timestamp.value().is_none() {
        span.timestamp.set_value(Some(transaction.1));
        span.status.set_value(Some("deadline_exceeded".to_owned()));
    }
    if let Some(range) = range {
        clamp(&mut span.start_timestamp, range, transaction.0);
        clamp(&mut span.timestamp, range, transaction.1);
    }
    if let (Some(start), Some(end)) = (span.start_timestamp.value(), span.timestamp.value()) {
        if end < start {
            return reject("end timestamp is smaller than start timestamp");
        }
    }
    if span.trace_id.value().is_none() {
        return reject("span is missing trace_id");
    }
    if span.span_id.value().is_none() {
        return reject("span is missing span_id");
    }
    if span.start_timestamp.value().is_none() {
        return reject("span is missing timestamp");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn ts(seconds: f64) -> Timestamp {
        Timestamp::from_seconds(seconds).unwrap_or_else(|_| panic!("bad timestamp {seconds}"))
    }

    const TRACE: &str = "d2132d31b39445f1938d7e21b6bf0ec4";
    const SPAN: &str = "d2132d31b39445f1";

    fn transaction(extra: serde_json::Value) -> serde_json::Value {
        let mut event = json!({
            "type": "transaction",
            "start_timestamp": 1704067100.5,
            "timestamp": 1704067190.25,
            "contexts": {"trace": {"trace_id": TRACE, "span_id": SPAN}},
        });
        if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                if value.is_null() {
                    event.remove(key);
                } else {
                    event.insert(key.clone(), value.clone());
                }
            }
        }
        event
    }

    fn validate(
        input: serde_json::Value,
        range: Option<TimestampRange>,
    ) -> Result<serde_json::Value, String> {
        let mut event: Annotated<Event> = from_json(input);
        validate_transaction(&mut event, range).map_err(|e| e.to_string())?;
        Ok(to_json(&event).unwrap_or_default())
    }

    fn reason(input: serde_json::Value, range: Option<TimestampRange>) -> String {
        validate(input, range).err().unwrap_or_default()
    }

    #[test]
    fn other_event_types_are_not_checked() {
        let input = json!({"type": "error"});
        assert_eq!(validate(input.clone(), None), Ok(input));
        assert_eq!(validate(json!({}), None), Ok(json!({})));
    }

    #[test]
    fn valid_transaction_passes_unchanged() {
        let input = transaction(json!({"spans": [{"start_timestamp": 1704067101,
            "timestamp": 1704067102, "trace_id": TRACE, "span_id": SPAN}]}));
        let output = validate(input, None);
        assert_eq!(
            output.map(|o| o["spans"].clone()),
            Ok(
                json!([{"timestamp": 1704067102.0, "start_timestamp": 1704067101.0,
                "trace_id": TRACE, "span_id": SPAN}])
            )
        );
    }

    #[test]
    fn timestamp_checks() {
        assert_eq!(
            reason(transaction(json!({"timestamp": null})), None),
            "invalid transaction event: timestamp hard-required for transaction events"
        );
        assert_eq!(
            reason(transaction(json!({"start_timestamp": null})), None),
            "invalid transaction event: start_timestamp hard-required for transaction events"
        );
        assert_eq!(
            reason(transaction(json!({"start_timestamp": 1704067190.5})), None),
            "invalid transaction event: end timestamp is smaller than start timestamp"
        );
        // Equal start and end are fine.
        assert!(validate(transaction(json!({"start_timestamp": 1704067190.25})), None).is_ok());
    }

    #[test]
    fn range_checks() {
        let range = Some((ts(1704067100.5), ts(1704067190.5)));
        assert!(validate(transaction(json!({})), range).is_ok());
        let range = Some((ts(1704067101.0), ts(1704067300.0)));
        assert_eq!(
            reason(transaction(json!({})), range),
            "invalid transaction event: start timestamp is out of the valid range for metrics"
        );
        // The end of the range is exclusive.
        let range = Some((ts(1704067000.0), ts(1704067190.25)));
        assert_eq!(
            reason(transaction(json!({})), range),
            "invalid transaction event: end timestamp is out of the valid range for metrics"
        );
    }

    #[test]
    fn trace_context_checks() {
        assert_eq!(
            reason(transaction(json!({"contexts": null})), None),
            "invalid transaction event: missing valid trace context"
        );
        assert_eq!(
            reason(
                transaction(json!({"contexts": {"os": {"name": "Linux"}}})),
                None
            ),
            "invalid transaction event: missing valid trace context"
        );
        assert_eq!(
            reason(
                transaction(json!({"contexts": {"trace": {"span_id": SPAN}}})),
                None
            ),
            "invalid transaction event: trace context is missing trace_id"
        );
        assert_eq!(
            reason(
                transaction(json!({"contexts": {"trace": {"trace_id": "bad", "span_id": SPAN}}})),
                None
            ),
            "invalid transaction event: trace context is missing trace_id"
        );
        assert_eq!(
            reason(
                transaction(json!({"contexts": {"trace": {"trace_id": TRACE}}})),
                None
            ),
            "invalid transaction event: trace context is missing span_id"
        );
    }

    #[test]
    fn span_checks() {
        let span = |extra: serde_json::Value| {
            let mut span = json!({"start_timestamp": 1704067101, "timestamp": 1704067102,
                "trace_id": TRACE, "span_id": SPAN});
            if let (Some(span), Some(extra)) = (span.as_object_mut(), extra.as_object()) {
                for (key, value) in extra {
                    if value.is_null() {
                        span.remove(key);
                    } else {
                        span.insert(key.clone(), value.clone());
                    }
                }
            }
            transaction(json!({"spans": [span]}))
        };
        let prefix = "invalid transaction event: ";
        let cases = [
            (
                transaction(json!({"spans": [null]})),
                "spans must be valid in transaction event",
            ),
            (
                transaction(json!({"spans": ["nope"]})),
                "spans must be valid in transaction event",
            ),
            (
                span(json!({"timestamp": 1704067100.0})),
                "end timestamp is smaller than start timestamp",
            ),
            (span(json!({"trace_id": null})), "span is missing trace_id"),
            (span(json!({"span_id": null})), "span is missing span_id"),
            (
                span(json!({"start_timestamp": null})),
                "span is missing timestamp",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(reason(input, None), format!("{prefix}{expected}"));
        }
    }

    #[test]
    fn span_without_end_gets_the_transaction_end() {
        // The verified example of §5 (only the validation part).
        let input = transaction(json!({"spans": [{"op": "db", "start_timestamp": 1704067101,
            "trace_id": TRACE, "span_id": SPAN}]}));
        assert_eq!(
            validate(input, None).map(|o| o["spans"].clone()),
            Ok(
                json!([{"timestamp": 1704067190.25, "start_timestamp": 1704067101.0,
                "op": "db", "trace_id": TRACE, "span_id": SPAN,
                "status": "deadline_exceeded"}])
            )
        );
    }

    #[test]
    fn span_timestamps_outside_the_range_are_replaced() {
        let range = Some((ts(1704067100.0), ts(1704067200.0)));
        let input = transaction(json!({"spans": [{"start_timestamp": 1704067050,
            "timestamp": 1704067250.5, "trace_id": TRACE, "span_id": SPAN}]}));
        let output = validate(input, range).unwrap_or_default();
        assert_eq!(
            output["spans"],
            json!([{"timestamp": 1704067190.25, "start_timestamp": 1704067100.5,
                "trace_id": TRACE, "span_id": SPAN}])
        );
        assert_eq!(
            output["_meta"],
            json!({"spans": {"0": {
                "timestamp": {"": {"err": ["invalid_data"],
                    "val": "2024-01-01 00:00:50.500 UTC"}},
                "start_timestamp": {"": {"err": ["invalid_data"],
                    "val": "2023-12-31 23:57:30 UTC"}},
            }}})
        );
    }
}
