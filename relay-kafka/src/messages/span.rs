//! Span messages (JSON, §7.3.9) on ingest-spans.
//!
//! One message per span v2: the meta fields first (`organization_id`, `project_id`, `key_id`,
//! `event_id`, `received`, `retention_days`, `downsampled_retention_days`,
//! `_performance_issues_spans`), then the span's own fields in the spec's order (`trace_id`,
//! `parent_span_id`, `span_id`, `name`, `status`, `is_segment`, `start_timestamp`,
//! `end_timestamp`, `links`, `attributes`, `_meta`), then any other span fields in the order the
//! span has them. Unset fields are omitted, never `null`: `key_id`/`event_id` when unknown,
//! `_performance_issues_spans` unless true, span fields that are absent or `null`, and `links`
//! when empty. Attribute values inside `attributes` are written as given (an attribute removed
//! as invalid stays `null`).
//!
//! The partition key is the trace id (UUID bytes, organization id XORed in, §7.4); the only
//! header is `project_id` (decimal).
//!
//! Invariants checked by [`SpanMessage::new`]: the span's `trace_id` is a string of 32 hex
//! digits and its `span_id` one of 16. Span fields that share a name with a meta field are
//! never written (the meta field wins), so the message never has duplicate keys.

use chrono::{DateTime, Utc};
use relay_protocol::{EventId, ProjectId};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{EncodeKafkaMessage, MessageEncodeError};
use crate::{keyed_partition_key, PartitionKey};

/// Message kind named in encoding errors.
const MESSAGE_KIND: &str = "span";

/// Header holding the decimal project id.
const PROJECT_ID_HEADER: &str = "project_id";

/// Span field holding the 32-hex trace id (also the partition key).
const TRACE_ID_FIELD: &str = "trace_id";

/// Span field holding the 16-hex span id.
const SPAN_ID_FIELD: &str = "span_id";

/// Span field that is omitted when it is an empty array.
const LINKS_FIELD: &str = "links";

/// Number of hex digits of a trace id.
const TRACE_ID_HEX_LEN: usize = 32;

/// Number of hex digits of a span id.
const SPAN_ID_HEX_LEN: usize = 16;

/// Microseconds per second, for the `received` float.
const MICROS_PER_SECOND: f64 = 1_000_000.0;

/// The meta field names, in wire order. Span fields with these names are not written.
const META_FIELDS: [&str; 8] = [
    "organization_id",
    "project_id",
    "key_id",
    "event_id",
    "received",
    "retention_days",
    "downsampled_retention_days",
    "_performance_issues_spans",
];

/// The span fields with a fixed position, in wire order; other span fields follow them.
const SPAN_FIELD_ORDER: [&str; 11] = [
    TRACE_ID_FIELD,
    "parent_span_id",
    SPAN_ID_FIELD,
    "name",
    "status",
    "is_segment",
    "start_timestamp",
    "end_timestamp",
    LINKS_FIELD,
    "attributes",
    "_meta",
];

/// Why a span cannot become a message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpanMessageError {
    /// The span has no string under an id field.
    #[error("span has no string `{field}`")]
    MissingId {
        /// `trace_id` or `span_id`.
        field: &'static str,
    },
    /// An id field is not the expected number of hex digits.
    #[error("span `{field}` `{value}` is not {expected_len} hex digits")]
    InvalidId {
        /// `trace_id` or `span_id`.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The required number of hex digits.
        expected_len: usize,
    },
}

/// One span message.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanMessage {
    organization_id: u64,
    project_id: ProjectId,
    key_id: Option<u64>,
    event_id: Option<EventId>,
    received: DateTime<Utc>,
    retention_days: u16,
    downsampled_retention_days: u16,
    performance_issues_spans: bool,
    /// The span v2 fields (`trace_id`, `span_id`, `attributes`, …).
    span: Map<String, Value>,
    /// The parsed `trace_id`; only the partition key.
    trace_id: Uuid,
}

impl SpanMessage {
    /// A message for a standalone span, without `event_id` and `_performance_issues_spans`
    /// (add those with the `with_*` methods).
    ///
    /// `span` holds the span v2 fields; its `trace_id` must be 32 and its `span_id` 16 hex
    /// digits. `received` is written as unix seconds with a microsecond fraction.
    pub fn new(
        organization_id: u64,
        project_id: ProjectId,
        key_id: Option<u64>,
        received: DateTime<Utc>,
        retention_days: u16,
        downsampled_retention_days: u16,
        span: Map<String, Value>,
    ) -> Result<Self, SpanMessageError> {
        let trace_id_hex = hex_id(&span, TRACE_ID_FIELD, TRACE_ID_HEX_LEN)?;
        hex_id(&span, SPAN_ID_FIELD, SPAN_ID_HEX_LEN)?;
        // 32 hex digits always parse; the error arm only keeps this free of `unwrap`.
        let trace_id = Uuid::try_parse(trace_id_hex).map_err(|_| SpanMessageError::InvalidId {
            field: TRACE_ID_FIELD,
            value: trace_id_hex.to_owned(),
            expected_len: TRACE_ID_HEX_LEN,
        })?;
        Ok(SpanMessage {
            organization_id,
            project_id,
            key_id,
            event_id: None,
            received,
            retention_days,
            downsampled_retention_days,
            performance_issues_spans: false,
            span,
            trace_id,
        })
    }

    /// Sets `event_id`: the event id of the transaction this span was extracted from.
    pub fn with_event_id(mut self, event_id: EventId) -> Self {
        self.event_id = Some(event_id);
        self
    }

    /// Sets `_performance_issues_spans` (written only when true): the segment span of a
    /// transaction whose organization has `organizations:performance-issues-spans`.
    pub fn with_performance_issues_spans(mut self, performance_issues_spans: bool) -> Self {
        self.performance_issues_spans = performance_issues_spans;
        self
    }

    /// The span's trace id (the partition key before the organization XOR).
    pub fn trace_id(&self) -> Uuid {
        self.trace_id
    }

    /// The span v2 fields as given to [`Self::new`].
    pub fn span(&self) -> &Map<String, Value> {
        &self.span
    }
}

/// The string under `field` if it has exactly `expected_len` ASCII hex digits.
fn hex_id<'a>(
    span: &'a Map<String, Value>,
    field: &'static str,
    expected_len: usize,
) -> Result<&'a str, SpanMessageError> {
    let Some(value) = span.get(field).and_then(Value::as_str) else {
        return Err(SpanMessageError::MissingId { field });
    };
    let is_hex = value.bytes().all(|byte| byte.is_ascii_hexdigit());
    if value.len() != expected_len || !is_hex {
        return Err(SpanMessageError::InvalidId {
            field,
            value: value.to_owned(),
            expected_len,
        });
    }
    Ok(value)
}

/// Whether a span field is written: present fields are, except `null` and empty `links`.
fn is_written(key: &str, value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) if key == LINKS_FIELD => !items.is_empty(),
        _ => true,
    }
}

/// `received` as unix seconds with a microsecond fraction.
///
/// Dividing the exact integer microsecond count yields the double nearest to the decimal
/// value, so the JSON shows exactly six fractional digits at most (`1717000001.123456`);
/// adding a fraction to the seconds would not round that cleanly.
fn received_seconds(received: DateTime<Utc>) -> f64 {
    received.timestamp_micros() as f64 / MICROS_PER_SECOND
}

impl Serialize for SpanMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_map(None)?;
        message.serialize_entry("organization_id", &self.organization_id)?;
        message.serialize_entry("project_id", &self.project_id)?;
        if let Some(key_id) = self.key_id {
            message.serialize_entry("key_id", &key_id)?;
        }
        if let Some(event_id) = &self.event_id {
            message.serialize_entry("event_id", event_id)?;
        }
        message.serialize_entry("received", &received_seconds(self.received))?;
        message.serialize_entry("retention_days", &self.retention_days)?;
        message.serialize_entry(
            "downsampled_retention_days",
            &self.downsampled_retention_days,
        )?;
        if self.performance_issues_spans {
            message.serialize_entry("_performance_issues_spans", &true)?;
        }
        for key in SPAN_FIELD_ORDER {
            if let Some(value) = self.span.get(key) {
                if is_written(key, value) {
                    message.serialize_entry(key, value)?;
                }
            }
        }
        for (key, value) in &self.span {
            let is_placed =
                SPAN_FIELD_ORDER.contains(&key.as_str()) || META_FIELDS.contains(&key.as_str());
            if !is_placed && is_written(key, value) {
                message.serialize_entry(key, value)?;
            }
        }
        message.end()
    }
}

impl EncodeKafkaMessage for SpanMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        serde_json::to_vec(self).map_err(|source| MessageEncodeError::Json {
            message_kind: MESSAGE_KIND,
            source,
        })
    }

    /// The trace id with the organization id XORed in; `None` (counter key) for a nil trace
    /// id.
    fn partition_key(&self) -> Option<PartitionKey> {
        keyed_partition_key(self.trace_id.into_bytes(), self.organization_id)
    }

    /// `project_id`.
    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        vec![(
            PROJECT_ID_HEADER.to_owned(),
            self.project_id.to_string().into_bytes(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

    fn span_fields(value: Value) -> Map<String, Value> {
        let Value::Object(fields) = value else {
            panic!("expected an object, got {value:?}");
        };
        fields
    }

    /// The span of the spec example.
    fn example_span() -> Map<String, Value> {
        span_fields(json!({
            "trace_id": TRACE_ID,
            "span_id": "eee19b7ec3c1b175",
            "name": "GET /users",
            "status": "ok",
            "is_segment": true,
            "start_timestamp": 1_717_000_000.0,
            "end_timestamp": 1_717_000_000.5,
            "attributes": {"sentry.op": {"type": "string", "value": "http.server"}},
        }))
    }

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_000_001, 123_456_000).unwrap()
    }

    fn message(span: Map<String, Value>) -> SpanMessage {
        SpanMessage::new(1, ProjectId(42), Some(123), received(), 90, 90, span).unwrap()
    }

    fn encoded_json(message: &SpanMessage) -> (String, Value) {
        let text = String::from_utf8(message.encode().unwrap()).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn spec_example_is_reproduced_byte_for_byte() {
        let (text, _) = encoded_json(&message(example_span()));
        assert_eq!(
            text,
            concat!(
                r#"{"organization_id":1,"project_id":42,"key_id":123,"received":1717000001.123456,"#,
                r#""retention_days":90,"downsampled_retention_days":90,"#,
                r#""trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b175","#,
                r#""name":"GET /users","status":"ok","is_segment":true,"#,
                r#""start_timestamp":1717000000.0,"end_timestamp":1717000000.5,"#,
                r#""attributes":{"sentry.op":{"type":"string","value":"http.server"}}}"#
            )
        );
    }

    #[test]
    fn every_field_in_spec_order_whatever_the_span_order() {
        // Span fields deliberately out of order, with one extra field at the front.
        let span = span_fields(json!({
            "kind": "server",
            "_meta": {"attributes": {"password": {"": {"rem": [["@password", "x"]]}}}},
            "attributes": {"password": null},
            "links": [{"trace_id": TRACE_ID, "span_id": "aaaaaaaaaaaaaaaa", "sampled": true}],
            "end_timestamp": 2.5,
            "start_timestamp": 1.5,
            "is_segment": false,
            "status": "error",
            "name": "db.query",
            "span_id": "eee19b7ec3c1b175",
            "parent_span_id": "a0a0a0a0a0a0a0a0",
            "trace_id": TRACE_ID,
        }));
        let event_id = EventId::parse("9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a").unwrap();
        let message = message(span)
            .with_event_id(event_id)
            .with_performance_issues_spans(true);
        let (text, value) = encoded_json(&message);
        assert_eq!(
            keys(&value),
            [
                "organization_id",
                "project_id",
                "key_id",
                "event_id",
                "received",
                "retention_days",
                "downsampled_retention_days",
                "_performance_issues_spans",
                "trace_id",
                "parent_span_id",
                "span_id",
                "name",
                "status",
                "is_segment",
                "start_timestamp",
                "end_timestamp",
                "links",
                "attributes",
                "_meta",
                "kind",
            ]
        );
        assert_eq!(value["event_id"], "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a");
        assert_eq!(value["_performance_issues_spans"], true);
        // An attribute removed as invalid stays `null`.
        assert!(text.contains(r#""attributes":{"password":null}"#));
        assert!(value["received"].is_f64());
        assert!(value["retention_days"].is_u64());
    }

    #[test]
    fn unset_fields_are_omitted_not_null() {
        let mut span = example_span();
        span.insert("parent_span_id".to_owned(), Value::Null);
        span.insert("links".to_owned(), json!([]));
        span.insert("_meta".to_owned(), Value::Null);
        span.insert("kind".to_owned(), Value::Null);
        let message = SpanMessage::new(1, ProjectId(42), None, received(), 30, 7, span)
            .unwrap()
            .with_performance_issues_spans(false);
        let (text, value) = encoded_json(&message);
        assert_eq!(
            keys(&value),
            [
                "organization_id",
                "project_id",
                "received",
                "retention_days",
                "downsampled_retention_days",
                "trace_id",
                "span_id",
                "name",
                "status",
                "is_segment",
                "start_timestamp",
                "end_timestamp",
                "attributes",
            ]
        );
        assert!(!text.contains("null"));
        assert_eq!(value["retention_days"], 30);
        assert_eq!(value["downsampled_retention_days"], 7);
    }

    #[test]
    fn span_fields_named_like_meta_fields_are_not_written() {
        let mut span = example_span();
        span.insert("project_id".to_owned(), json!(7));
        span.insert("received".to_owned(), json!("yesterday"));
        let (text, value) = encoded_json(&message(span));
        assert_eq!(text.matches(r#""project_id""#).count(), 1);
        assert_eq!(text.matches(r#""received""#).count(), 1);
        assert_eq!(value["project_id"], 42);
        assert_eq!(value["received"], 1_717_000_001.123_456);
    }

    #[test]
    fn received_has_a_microsecond_fraction() {
        let cases = [
            ((1_717_000_001, 0), "1717000001.0"),
            ((1_717_000_001, 999_999_999), "1717000001.999999"),
            ((1_717_000_001, 500_000), "1717000001.0005"),
            ((0, 1_000), "1e-6"),
        ];
        for ((seconds, nanos), expected) in cases {
            let received = DateTime::from_timestamp(seconds, nanos).unwrap();
            let message =
                SpanMessage::new(1, ProjectId(1), None, received, 90, 90, example_span()).unwrap();
            let (text, _) = encoded_json(&message);
            assert!(
                text.contains(&format!(r#""received":{expected},"#)),
                "{text}"
            );
        }
    }

    #[test]
    fn key_is_the_trace_id_with_the_organization_xored_in() {
        let mut span = example_span();
        span.insert(
            "trace_id".to_owned(),
            json!("ff62a8b040f340bda5d830223def1d81"),
        );
        let kafka_message = message(span).to_kafka_message().unwrap();
        let expected = u128::from_str_radix("ff62a8b040f340bca5d830223def1d81", 16).unwrap();
        assert_eq!(kafka_message.key, Some(expected.to_be_bytes()));
    }

    #[test]
    fn nil_trace_id_falls_back_to_a_counter_key() {
        let mut span = example_span();
        span.insert("trace_id".to_owned(), json!("0".repeat(32)));
        assert_eq!(message(span).partition_key(), None);
    }

    #[test]
    fn project_id_is_the_only_header() {
        let message = SpanMessage::new(
            1,
            ProjectId(4_200_000_000_123),
            None,
            received(),
            90,
            90,
            example_span(),
        )
        .unwrap();
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(
            kafka_message.headers,
            [("project_id".to_owned(), b"4200000000123".to_vec())]
        );
        assert_eq!(kafka_message.payload, message.encode().unwrap());
    }

    #[test]
    fn ids_must_be_hex_of_the_right_length() {
        let invalid = [
            ("trace_id", json!("5b8efff798038103d269b633813fc60"), 32),
            (
                "trace_id",
                json!("5b8efff7-9803-8103-d269-b633813fc60c"),
                32,
            ),
            ("trace_id", json!("zb8efff798038103d269b633813fc60c"), 32),
            ("span_id", json!("eee19b7ec3c1b17"), 16),
            ("span_id", json!("eee19b7ec3c1b1755"), 16),
            ("span_id", json!("eee19b7ec3c1b17g"), 16),
        ];
        for (field, value, expected_len) in invalid {
            let mut span = example_span();
            span.insert(field.to_owned(), value.clone());
            let result = SpanMessage::new(1, ProjectId(1), None, received(), 90, 90, span);
            assert_eq!(
                result,
                Err(SpanMessageError::InvalidId {
                    field,
                    value: value.as_str().unwrap().to_owned(),
                    expected_len,
                })
            );
        }
    }

    #[test]
    fn missing_or_non_string_ids_are_rejected() {
        for field in ["trace_id", "span_id"] {
            for value in [None, Some(Value::Null), Some(json!(12))] {
                let mut span = example_span();
                match value {
                    Some(value) => span.insert(field.to_owned(), value),
                    None => span.remove(field),
                };
                let result = SpanMessage::new(1, ProjectId(1), None, received(), 90, 90, span);
                assert_eq!(result, Err(SpanMessageError::MissingId { field }));
            }
        }
    }

    #[test]
    fn uppercase_hex_ids_are_accepted_and_written_unchanged() {
        let mut span = example_span();
        span.insert("span_id".to_owned(), json!("EEE19B7EC3C1B175"));
        let message = message(span);
        let (_, value) = encoded_json(&message);
        assert_eq!(value["span_id"], "EEE19B7EC3C1B175");
        assert_eq!(message.trace_id().simple().to_string(), TRACE_ID);
    }
}
