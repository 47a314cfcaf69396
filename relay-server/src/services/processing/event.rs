//! The event payload of errors and transactions: parsing, finalization (`processing.md` §3.1
//! "Finalization") and the light normalization this relay applies today.
//!
//! Finalization is exact: `event_id` from the envelope header, `_metrics`, `_dsc`, clock-drift
//! correction. Normalization covers the fields Sentry's consumers rely on (`project`,
//! `key_id`, `version`, `grouping_config`, `received`, `timestamp` bounds, defaults for
//! `platform`, `level`, `logger`, `type`, SDK info from the envelope, `{{auto}}` IP, tags as
//! pairs); the full field-level rules of `normalization.md` plug into
//! [`super::stages::normalize_event`].

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use relay_protocol::envelope::TraceHeader;
use relay_protocol::EventId;
use serde_json::{Map, Value};

use super::ProcessingContext;
use crate::outcome::DiscardReason;

/// Clock drift below this is not corrected (`processing.md` §3.1).
pub const MINIMUM_CLOCK_DRIFT: ChronoDuration = ChronoDuration::minutes(55);

/// Placeholder that asks relay to fill in the client IP (events, sessions and spans).
pub const AUTO_IP: &str = "{{auto}}";

/// A parsed event payload.
pub type EventObject = Map<String, Value>;

/// `object[key]` as an object: created when missing, replacing a value of another type.
pub fn object_entry<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let slot = object
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(inner) => inner,
        // Made an object just above.
        _ => unreachable!("the entry was replaced by an object"),
    }
}

/// Parses an event payload; it must be a JSON object.
pub fn parse_event(payload: &[u8]) -> Result<EventObject, DiscardReason> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(event)) => Ok(event),
        Ok(_) | Err(_) => Err(DiscardReason::InvalidJson),
    }
}

/// Serializes the processed event for the `event` message.
pub fn serialize_event(event: &EventObject) -> Bytes {
    // Serializing a `Map<String, Value>` cannot fail: keys are strings, numbers are finite.
    serde_json::to_vec(event).map_or_else(|_| Bytes::new(), Bytes::from)
}

/// Sizes recorded in `_metrics` (`processing.md` §3.1).
#[derive(Clone, Copy, Debug, Default)]
pub struct IngestedBytes {
    pub event: usize,
    pub minidump: usize,
    pub apple_crash_report: usize,
    pub attachments: usize,
}

/// Finalization: `event_id`, `_metrics`, `_dsc`, clock drift.
pub fn finalize(
    context: &ProcessingContext,
    event: &mut EventObject,
    event_id: EventId,
    ingested: IngestedBytes,
) {
    event.insert("event_id".into(), Value::String(event_id.to_string()));

    let mut metrics = match event.remove("_metrics") {
        Some(Value::Object(metrics)) => metrics,
        _ => Map::new(),
    };
    metrics.insert("bytes.ingested.event".into(), ingested.event.into());
    if ingested.minidump > 0 {
        metrics.insert(
            "bytes.ingested.event.minidump".into(),
            ingested.minidump.into(),
        );
    }
    if ingested.apple_crash_report > 0 {
        metrics.insert(
            "bytes.ingested.event.applecrashreport".into(),
            ingested.apple_crash_report.into(),
        );
    }
    if ingested.attachments > 0 {
        metrics.insert(
            "bytes.ingested.event.attachment".into(),
            ingested.attachments.into(),
        );
    }
    event.insert("_metrics".into(), Value::Object(metrics));

    if let Some(TraceHeader::Valid(dsc)) = &context.headers.trace {
        let mut serialized = Vec::new();
        dsc.serialize_into(&mut serialized);
        if let Ok(dsc) = serde_json::from_slice::<Value>(&serialized) {
            event.insert("_dsc".into(), dsc);
        }
    }

    if let Some(sent_at) = context.headers.sent_at {
        let drift = context.received_at - sent_at;
        if drift.abs() >= MINIMUM_CLOCK_DRIFT {
            shift_timestamps(event, drift);
        }
    }
}

/// What kind of event is being normalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Error,
    Transaction,
    Feedback,
    Security,
}

/// The light normalization (see the module docs).
pub fn normalize(context: &ProcessingContext, event: &mut EventObject, kind: EventKind) {
    let received = context.received_at;
    match kind {
        EventKind::Transaction => {
            event.insert("type".into(), "transaction".into());
        }
        EventKind::Feedback => {
            event.insert("type".into(), "feedback".into());
        }
        EventKind::Security => {
            event.entry("type").or_insert_with(|| "csp".into());
        }
        EventKind::Error => {
            let inferred = if event.contains_key("exception") {
                "error"
            } else {
                "default"
            };
            let keep = event.get("type").and_then(Value::as_str).is_some_and(|ty| {
                matches!(
                    ty,
                    "error"
                        | "default"
                        | "csp"
                        | "hpkp"
                        | "expectct"
                        | "expectstaple"
                        | "nel"
                        | "generic"
                )
            });
            if !keep {
                event.insert("type".into(), inferred.into());
            }
        }
    }

    normalize_timestamps(context, event, received);
    event.insert("received".into(), unix_seconds_value(received));
    event.insert("project".into(), context.project_id().0.into());
    if let Some(key_id) = context.key_id() {
        event.insert("key_id".into(), Value::String(key_id.to_string()));
    }
    event.insert(
        "version".into(),
        Value::String(context.headers.version.unwrap_or(7).to_string()),
    );
    if let Some(grouping) = context.project.raw_config.get("groupingConfig") {
        event.insert("grouping_config".into(), grouping.clone());
    }
    event
        .entry("platform")
        .or_insert_with(|| Value::String("other".into()));
    let default_level = if kind == EventKind::Transaction {
        "info"
    } else {
        "error"
    };
    match event.get("level") {
        Some(Value::String(_)) => {}
        _ => {
            event.insert("level".into(), default_level.into());
        }
    }
    event
        .entry("logger")
        .or_insert_with(|| Value::String(String::new()));
    if !event.contains_key("sdk") {
        if let Some((name, version)) = context.client().and_then(|client| client.split_once('/')) {
            event.insert(
                "sdk".into(),
                serde_json::json!({"name": name, "version": version}),
            );
        }
    }
    fill_auto_ip(context, event);
    normalize_tags(event);
}

/// `timestamp` defaults to the receive time; out of [received − retention,
/// received + max_secs_in_future] everything is shifted so `timestamp` equals the receive
/// time, recording an event error.
fn normalize_timestamps(
    context: &ProcessingContext,
    event: &mut EventObject,
    received: DateTime<Utc>,
) {
    let Some(timestamp) = event.get("timestamp").and_then(parse_timestamp) else {
        event.insert("timestamp".into(), unix_seconds_value(received));
        return;
    };
    let oldest = received - ChronoDuration::days(i64::from(context.event_retention()));
    let newest = received + ChronoDuration::seconds(i64::from(context.config.max_secs_in_future()));
    let error = if timestamp < oldest {
        "past_timestamp"
    } else if timestamp > newest {
        "future_timestamp"
    } else {
        event.insert("timestamp".into(), unix_seconds_value(timestamp));
        return;
    };
    shift_timestamps(event, received - timestamp);
    let errors = event
        .entry("errors")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(errors) = errors {
        errors.push(serde_json::json!({
            "type": error,
            "name": "timestamp",
            "value": unix_seconds_value(timestamp),
        }));
    }
}

/// Shifts `timestamp` and `start_timestamp` (and span timestamps) by `delta`.
fn shift_timestamps(event: &mut EventObject, delta: ChronoDuration) {
    for key in ["timestamp", "start_timestamp"] {
        shift_field(event, key, delta);
    }
    if let Some(Value::Array(spans)) = event.get_mut("spans") {
        for span in spans.iter_mut().filter_map(Value::as_object_mut) {
            for key in ["timestamp", "start_timestamp"] {
                shift_field(span, key, delta);
            }
        }
    }
}

fn shift_field(object: &mut EventObject, key: &str, delta: ChronoDuration) {
    if let Some(timestamp) = object.get(key).and_then(parse_timestamp) {
        object.insert(key.into(), unix_seconds_value(timestamp + delta));
    }
}

/// A timestamp as unix seconds (number) or RFC 3339 (string, `Z` optional).
pub fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(number) => {
            let seconds = number.as_f64()?;
            if !seconds.is_finite() {
                return None;
            }
            let whole = seconds.floor();
            let nanos = ((seconds - whole) * 1e9).round() as u32;
            DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
        }
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .map(|parsed| parsed.with_timezone(&Utc))
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|naive| naive.and_utc())
            })
            .ok(),
        _ => None,
    }
}

/// Unix seconds with microsecond precision, as Sentry writes event timestamps.
pub fn unix_seconds_value(timestamp: DateTime<Utc>) -> Value {
    let micros = timestamp.timestamp_micros();
    let seconds = micros as f64 / 1_000_000.0;
    serde_json::Number::from_f64(seconds).map_or(Value::Null, Value::Number)
}

pub fn fill_auto_ip(context: &ProcessingContext, event: &mut EventObject) {
    let scrub_ips = context.scrub_ip_addresses();
    let Some(Value::Object(user)) = event.get_mut("user") else {
        return;
    };
    let is_auto = user.get("ip_address").and_then(Value::as_str) == Some(AUTO_IP);
    if !is_auto {
        return;
    }
    match context.client_addr {
        Some(address) if !scrub_ips => {
            user.insert("ip_address".into(), Value::String(address.to_string()));
        }
        _ => {
            user.remove("ip_address");
        }
    }
}

/// Tags as `[[key, value], …]` (objects are converted, non-string values stringified).
fn normalize_tags(event: &mut EventObject) {
    let Some(tags) = event.get_mut("tags") else {
        return;
    };
    let pairs: Vec<Value> = match tags {
        Value::Object(object) => object
            .iter()
            .filter_map(|(key, value)| {
                tag_value(value).map(|value| serde_json::json!([key, value]))
            })
            .collect(),
        Value::Array(entries) => entries
            .iter()
            .filter_map(|entry| {
                let pair = entry.as_array()?;
                let key = pair.first()?.as_str()?;
                let value = tag_value(pair.get(1)?)?;
                Some(serde_json::json!([key, value]))
            })
            .collect(),
        _ => Vec::new(),
    };
    *tags = Value::Array(pairs);
}

fn tag_value(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_from_numbers_and_rfc3339() {
        let expected = DateTime::from_timestamp(1_717_000_000, 500_000_000).unwrap();
        assert_eq!(
            parse_timestamp(&serde_json::json!(1_717_000_000.5)),
            Some(expected)
        );
        assert_eq!(
            parse_timestamp(&serde_json::json!("2024-05-29T16:26:40.5Z")),
            Some(expected)
        );
        assert_eq!(
            parse_timestamp(&serde_json::json!("2024-05-29T16:26:40.5")),
            Some(expected)
        );
        assert_eq!(parse_timestamp(&serde_json::json!(null)), None);
    }

    #[test]
    fn tags_become_pairs() {
        let mut event: EventObject =
            serde_json::from_str(r#"{"tags":{"a":"b","n":1,"x":null}}"#).unwrap();
        normalize_tags(&mut event);
        assert_eq!(event["tags"], serde_json::json!([["a", "b"], ["n", "1"]]));
    }
}
