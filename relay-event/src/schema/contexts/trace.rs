//! [`TraceContext`] (`type: trace`) with the ids [`TraceId`] and [`SpanId`] and the
//! [`SpanStatus`].
//!
//! Per the published schema a trace id is 32 hex digits and a span id 16. Parsing is lenient
//! about form: a trace id may be any UUID text form (hyphenated, braced, any case) and is
//! written as 32 lower-case hex digits; a span id may use either case and is written in lower
//! case. Anything else is `invalid_data` (`not a valid trace id` / `not a valid span id`, or
//! `expected trace id` / `expected span id` for non-strings, Sentry's wording) with the original value.
//! `trace_id` and `span_id` are required (normalization.md §6.2; the transaction checks of
//! normalization.md §5 reject transactions without them). `op` is at most 128 characters,
//! `origin` 128 characters of `a-zA-Z0-9_.` like a span's; `data` has PII level `true`.

use uuid::Uuid;

use super::super::ORIGIN_CHARACTERS;
use crate::{invalid_type, Annotated, Error, FromValue, IntoValue, Object, ProcessValue, Value};

/// A W3C trace id: 32 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceId(String);

impl TraceId {
    /// Parses any UUID text form into the 32-digit form.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text)
            .ok()
            .map(|uuid| TraceId(uuid.simple().to_string()))
    }

    /// The 32 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A W3C span id: 16 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpanId(String);

impl SpanId {
    /// Parses 16 hex digits of either case.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| SpanId(text.to_ascii_lowercase()))
    }

    /// The 16 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a string id with `parse`, reporting `reason` or `expected` on failure.
fn parse_id<T>(
    value: Annotated<Value>,
    parse: fn(&str) -> Option<T>,
    reason: &str,
    expected: &str,
) -> Annotated<T> {
    match value {
        Annotated(Some(Value::String(text)), mut meta) => match parse(&text) {
            Some(id) => Annotated(Some(id), meta),
            None => {
                meta.add_error(Error::invalid(reason));
                meta.set_original_value(Some(Value::String(text)));
                Annotated(None, meta)
            }
        },
        Annotated(Some(other), meta) => invalid_type(other, meta, expected),
        Annotated(None, meta) => Annotated(None, meta),
    }
}

impl FromValue for TraceId {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        parse_id(value, TraceId::parse, "not a valid trace id", "trace id")
    }
}

impl FromValue for SpanId {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        parse_id(value, SpanId::parse, "not a valid span id", "span id")
    }
}

/// The status of a span or trace (the OpenTelemetry status names of the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpanStatus {
    /// `ok`
    Ok,
    /// `cancelled`
    Cancelled,
    /// `unknown`
    Unknown,
    /// `invalid_argument`
    InvalidArgument,
    /// `deadline_exceeded`
    DeadlineExceeded,
    /// `not_found`
    NotFound,
    /// `already_exists`
    AlreadyExists,
    /// `permission_denied`
    PermissionDenied,
    /// `resource_exhausted`
    ResourceExhausted,
    /// `failed_precondition`
    FailedPrecondition,
    /// `aborted`
    Aborted,
    /// `out_of_range`
    OutOfRange,
    /// `unimplemented`
    Unimplemented,
    /// `internal_error`
    InternalError,
    /// `unavailable`
    Unavailable,
    /// `data_loss`
    DataLoss,
    /// `unauthenticated`
    Unauthenticated,
}

const SPAN_STATUSES: [(SpanStatus, &str); 17] = [
    (SpanStatus::Ok, "ok"),
    (SpanStatus::Cancelled, "cancelled"),
    (SpanStatus::Unknown, "unknown"),
    (SpanStatus::InvalidArgument, "invalid_argument"),
    (SpanStatus::DeadlineExceeded, "deadline_exceeded"),
    (SpanStatus::NotFound, "not_found"),
    (SpanStatus::AlreadyExists, "already_exists"),
    (SpanStatus::PermissionDenied, "permission_denied"),
    (SpanStatus::ResourceExhausted, "resource_exhausted"),
    (SpanStatus::FailedPrecondition, "failed_precondition"),
    (SpanStatus::Aborted, "aborted"),
    (SpanStatus::OutOfRange, "out_of_range"),
    (SpanStatus::Unimplemented, "unimplemented"),
    (SpanStatus::InternalError, "internal_error"),
    (SpanStatus::Unavailable, "unavailable"),
    (SpanStatus::DataLoss, "data_loss"),
    (SpanStatus::Unauthenticated, "unauthenticated"),
];

impl SpanStatus {
    /// The output name.
    pub fn as_str(self) -> &'static str {
        SPAN_STATUSES
            .iter()
            .find(|(status, _)| *status == self)
            .map_or("unknown", |(_, name)| name)
    }

    /// Parses a status name.
    pub fn parse(name: &str) -> Option<Self> {
        SPAN_STATUSES
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(status, _)| *status)
    }
}

impl FromValue for SpanStatus {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        parse_id(
            value,
            SpanStatus::parse,
            "invalid span status",
            "a span status",
        )
    }
}

super::super::string_enum_value!(TraceId);
super::super::string_enum_value!(SpanId);
super::super::string_enum_value!(SpanStatus);

/// The trace context: the transaction's own span or the span active when an error happened.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct TraceContext {
    /// The trace id.
    #[metastructure(required = true)]
    pub trace_id: Annotated<TraceId>,
    /// The id of the span.
    #[metastructure(required = true)]
    pub span_id: Annotated<SpanId>,
    /// The id of the parent span.
    pub parent_span_id: Annotated<SpanId>,
    /// The operation (e.g. `http.server`).
    #[metastructure(max_chars = 128)]
    pub op: Annotated<String>,
    /// The status.
    pub status: Annotated<SpanStatus>,
    /// The time spent in the span without its children, in milliseconds.
    pub exclusive_time: Annotated<f64>,
    /// The sample rate the client used.
    pub client_sample_rate: Annotated<f64>,
    /// The origin (the instrumentation that created the span).
    #[metastructure(max_chars = 128, characters = ORIGIN_CHARACTERS)]
    pub origin: Annotated<String>,
    /// Whether the trace was sampled.
    pub sampled: Annotated<bool>,
    /// Arbitrary data of the span.
    // TODO(schema): SpanData (the span-data conventions; untyped like `Span.data`).
    #[metastructure(pii = "true")]
    pub data: Annotated<Object<Value>>,
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
    fn ids_are_normalized_leniently() {
        let trace: Annotated<TraceContext> = from_json(json!({
            "trace_id": "A7D67CF7-9677-4551-A95B-E6543CACD459",
            "span_id": "BABAAE0D4B7512D9",
            "status": "ok",
            "op": "http.server",
            "data": {"k": 1},
            "hash": "x",
        }));
        let output = to_json(&trace).unwrap_or_default();
        assert_eq!(
            output,
            json!({"trace_id": "a7d67cf796774551a95be6543cacd459",
                "span_id": "babaae0d4b7512d9", "op": "http.server", "status": "ok",
                "data": {"k": 1}, "hash": "x"})
        );
    }

    #[test]
    fn invalid_ids_and_status_keep_the_original() {
        let trace: Annotated<TraceContext> = from_json(json!({
            "trace_id": "544bb57898d8452a55baff3a83e373",
            "span_id": 5,
            "parent_span_id": "xyz",
            "status": "bad",
        }));
        let output = to_json(&trace).unwrap_or_default();
        let meta = &output["_meta"];
        assert_eq!(
            meta["trace_id"][""]["val"],
            "544bb57898d8452a55baff3a83e373"
        );
        assert_eq!(
            meta["trace_id"][""]["err"][0][1]["reason"],
            "not a valid trace id"
        );
        assert_eq!(
            meta["span_id"][""]["err"][0][1]["reason"],
            "expected span id"
        );
        assert_eq!(meta["span_id"][""]["val"], 5);
        assert_eq!(meta["parent_span_id"][""]["val"], "xyz");
        assert_eq!(meta["status"][""]["val"], "bad");
        assert_eq!(output["trace_id"], serde_json::Value::Null);
    }

    #[test]
    fn every_status_round_trips() {
        for (status, name) in SPAN_STATUSES {
            assert_eq!(SpanStatus::parse(name), Some(status));
            assert_eq!(status.as_str(), name);
        }
    }
}
