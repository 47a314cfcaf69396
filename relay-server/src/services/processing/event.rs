//! The event payload of errors and transactions in processing relays: finalization
//! (`processing.md` §3.1 "Finalization") and full normalization (`normalization.md`, through
//! [`crate::services::normalization`]) on the typed event model of `relay-event`.
//!
//! Events that arrive as JSON are parsed straight into the model. Carriers that build an
//! event from other data (raw security reports, Unreal archives, `event.payload` msgpack, form
//! fields, crash placeholders) assemble an [`EventObject`] first and convert it once.
//!
//! The helpers at the end ([`parse_timestamp`], [`unix_seconds_value`], [`fill_auto_ip`]) serve
//! the span-like items (replays, spans) that are still processed as JSON maps.

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use relay_event::schema::{Event, EventId as EventIdValue, EventType};
use relay_event::{Annotated, Object};
use relay_protocol::envelope::TraceHeader;
use relay_protocol::EventId;
use serde_json::{Map, Value};

use super::ProcessingContext;
use crate::outcome::DiscardReason;
use crate::services::normalization::{self, NormalizationDepth, RequestFacts};

/// Clock drift below this is not corrected (`processing.md` §3.1); the same threshold as
/// event normalization's (`normalization.md` §4.1).
pub const MINIMUM_CLOCK_DRIFT: ChronoDuration =
    ChronoDuration::seconds(relay_normalization::clock_drift::CLOCK_DRIFT_THRESHOLD_SECS);

/// Placeholder that asks relay to fill in the client IP (events, sessions and spans).
pub const AUTO_IP: &str = "{{auto}}";

/// An event under construction, before it becomes the typed model (see the module docs).
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

/// Parses an event payload (a JSON object) into the model.
pub fn parse_event(payload: &[u8]) -> Result<Annotated<Event>, DiscardReason> {
    normalization::parse_event(payload)
}

/// Converts an assembled event into the model (leniently, like a parsed payload).
pub fn from_object(event: EventObject) -> Annotated<Event> {
    relay_event::from_json(Value::Object(event))
}

/// Serializes the processed event, `_meta` included, for the `event` message.
pub fn serialize_event(event: &Annotated<Event>) -> Result<Bytes, DiscardReason> {
    normalization::serialize_event(event)
}

/// Sizes recorded in `_metrics` (`processing.md` §3.1).
#[derive(Clone, Copy, Debug, Default)]
pub struct IngestedBytes {
    pub event: usize,
    pub minidump: usize,
    pub apple_crash_report: usize,
    pub attachments: usize,
}

/// Finalization: `event_id` from the envelope, `_metrics`, `_dsc`. The clock-drift correction
/// of finalization runs as the first step of normalization (it needs the same `sent_at`).
pub fn finalize(
    context: &ProcessingContext,
    event: &mut Annotated<Event>,
    event_id: EventId,
    ingested: IngestedBytes,
) {
    let event = event.get_or_insert_with(Event::default);
    event.event_id = Annotated::new(EventIdValue(event_id.0));

    let mut metrics = match event.metrics.take() {
        Some(relay_event::Value::Object(metrics)) => metrics,
        _ => Object::new(),
    };
    let sizes = [
        ("bytes.ingested.event", ingested.event),
        ("bytes.ingested.event.minidump", ingested.minidump),
        (
            "bytes.ingested.event.applecrashreport",
            ingested.apple_crash_report,
        ),
        ("bytes.ingested.event.attachment", ingested.attachments),
    ];
    for (index, (key, bytes)) in sizes.into_iter().enumerate() {
        // The event size is always written, the others only when there is something.
        if index == 0 || bytes > 0 {
            let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
            metrics.insert(
                key.to_owned(),
                Annotated::new(relay_event::Value::U64(bytes)),
            );
        }
    }
    event.metrics = Annotated::new(relay_event::Value::Object(metrics));

    if let Some(TraceHeader::Valid(dsc)) = &context.headers.trace {
        let mut serialized = Vec::new();
        dsc.serialize_into(&mut serialized);
        if let Ok(dsc) = serde_json::from_slice::<Value>(&serialized) {
            event.dsc = relay_event::annotated_from_json(dsc);
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

/// Full normalization (`normalization.md`) of a processing relay, after the event type the
/// carrier dictates is forced (`transaction`, `feedback`; the others are inferred, §7.8).
///
/// Skipped for an event a trusted relay already normalized fully (`fully_normalized` item
/// header), unless this relay's `normalization.level` is `full` (`processing.md` §3.1).
/// `Err` rejects the event (`invalid_transaction`).
pub fn normalize(
    context: &ProcessingContext,
    event: &mut Annotated<Event>,
    kind: EventKind,
    fully_normalized: bool,
) -> Result<(), DiscardReason> {
    if let Some(event) = event.value_mut() {
        match kind {
            EventKind::Transaction => event.ty = Annotated::new(EventType::Transaction),
            EventKind::Feedback => event.ty = Annotated::new(EventType::UserReportV2),
            EventKind::Error | EventKind::Security => {}
        }
    }
    let already_normalized = fully_normalized
        && context.trusted_sender
        && context.config.normalization_level() != relay_config::NormalizationLevel::Full;
    if already_normalized {
        return Ok(());
    }
    let request = RequestFacts {
        headers: &context.headers,
        received_at: context.received_at,
        client_addr: context.client_addr,
        scoping: &context.scoping,
    };
    let config = normalization::normalization_config(
        &context.config,
        &context.normalization,
        &context.project,
        &request,
        NormalizationDepth::Full,
    );
    normalization::normalize_event(event, &config)
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
}
