//! [`Span`]: one span of a transaction event (`spans`).
//!
//! `timestamp`, `start_timestamp`, `span_id` and `trace_id` are required; `op` and `origin`
//! at most 128 characters, `origin` only `a-zA-Z0-9_.` (normalization.md §6.2, §8.1). PII
//! (pii.md): `description`, `tags`, `links` `maybe`; `data` `true` (the per-key levels of the
//! attribute registry are not modelled here).

use crate::{
    Annotated, Array, FromValue, IntoValue, JsonLenientString, Object, ProcessValue, Timestamp,
    Value,
};

use super::{Measurements, ORIGIN_CHARACTERS};

/// A span of a transaction.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Span {
    /// When the span ended.
    #[metastructure(required = true)]
    pub timestamp: Annotated<Timestamp>,
    /// When the span started.
    #[metastructure(required = true)]
    pub start_timestamp: Annotated<Timestamp>,
    /// The time spent in this span without its children, in milliseconds.
    pub exclusive_time: Annotated<f64>,
    /// The operation (e.g. `db.query`).
    #[metastructure(max_chars = 128)]
    pub op: Annotated<String>,
    /// The span id (16 hex digits).
    // TODO(schema): SpanId / TraceId validation (next batch).
    #[metastructure(required = true)]
    pub span_id: Annotated<String>,
    /// The id of the parent span.
    pub parent_span_id: Annotated<String>,
    /// The trace id (32 hex digits).
    #[metastructure(required = true)]
    pub trace_id: Annotated<String>,
    /// The id of the segment (transaction) span.
    pub segment_id: Annotated<String>,
    /// Whether this span is a segment.
    pub is_segment: Annotated<bool>,
    /// Whether the parent span is in another service.
    pub is_remote: Annotated<bool>,
    /// The status (e.g. `ok`, `internal_error`).
    // TODO(schema): SpanStatus enum (next batch).
    pub status: Annotated<String>,
    /// A description (e.g. the query).
    #[metastructure(pii = "maybe")]
    pub description: Annotated<String>,
    /// Tags of the span.
    #[metastructure(pii = "maybe")]
    pub tags: Annotated<Object<JsonLenientString>>,
    /// The origin of the span (the instrumentation that created it).
    #[metastructure(max_chars = 128, characters = ORIGIN_CHARACTERS)]
    pub origin: Annotated<String>,
    /// The id of the profile the span belongs to.
    pub profile_id: Annotated<String>,
    /// Arbitrary data of the span.
    // TODO(schema): SpanData (next batch).
    #[metastructure(pii = "true")]
    pub data: Annotated<Object<Value>>,
    /// Tags extracted by relay.
    pub sentry_tags: Annotated<Object<Value>>,
    /// When relay received the span.
    pub received: Annotated<Timestamp>,
    /// Measurements of the span.
    #[metastructure(skip_serialization = "empty")]
    pub measurements: Annotated<Measurements>,
    /// The platform of the span.
    #[metastructure(skip_serialization = "empty")]
    pub platform: Annotated<String>,
    /// Whether the span was converted from a transaction.
    pub was_transaction: Annotated<bool>,
    /// The span kind (OpenTelemetry).
    pub kind: Annotated<String>,
    /// Links to other spans.
    #[metastructure(pii = "maybe")]
    pub links: Annotated<Array<Value>>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn roundtrip_and_invalid() {
        let input = json!({"timestamp": 2.5, "start_timestamp": 1.0, "op": "db",
            "span_id": "a", "trace_id": "b", "data": {"k": [1]}, "hash": "h"});
        let span: Annotated<Span> = from_json(input.clone());
        assert_eq!(to_json(&span).ok(), Some(input));

        let span: Annotated<Span> = from_json(json!({"exclusive_time": "1", "op": 1}));
        let span = span.value().cloned().unwrap_or_default();
        assert_eq!(
            span.exclusive_time.meta().original_value(),
            Some(&Value::from("1"))
        );
        assert_eq!(span.op.meta().original_value(), Some(&Value::I64(1)));
    }
}
