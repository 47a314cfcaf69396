//! Span and trace ids: validation and normalization to lowercase hex.
//!
//! Invariant: after [`normalize_ids`], `span_id` is 16 and `trace_id` 32 lowercase hex digits
//! and `parent_span_id` is absent, `null` or 16 lowercase hex digits.

use serde_json::Value;

use super::{Candidate, SpanError, SpanV2};

/// Length of a span id in hex digits.
const SPAN_ID_LEN: usize = 16;
/// Length of a trace id in hex digits.
const TRACE_ID_LEN: usize = 32;

/// A hex id of `len` digits, lowercased; trace ids may also be hyphenated UUIDs.
pub(super) fn normalize_hex_id(value: &Value, len: usize) -> Option<String> {
    let text = value.as_str()?;
    if text.len() == len && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Some(text.to_ascii_lowercase());
    }
    if len == TRACE_ID_LEN {
        return uuid::Uuid::try_parse(text)
            .ok()
            .map(|uuid| uuid.simple().to_string());
    }
    None
}

/// Whether `value` is a 16-hex-digit span id.
pub(super) fn is_span_id(value: &str) -> bool {
    value.len() == SPAN_ID_LEN && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Validates and normalizes `trace_id`, `span_id` and `parent_span_id`.
pub(super) fn normalize_ids(mut span: SpanV2) -> Candidate {
    let invalid = || SpanError::InvalidIds;
    let span_id = span
        .get("span_id")
        .and_then(|id| normalize_hex_id(id, SPAN_ID_LEN))
        .ok_or_else(invalid)?;
    let trace_id = span
        .get("trace_id")
        .and_then(|id| normalize_hex_id(id, TRACE_ID_LEN))
        .ok_or_else(invalid)?;
    span.insert("span_id".into(), Value::String(span_id));
    span.insert("trace_id".into(), Value::String(trace_id));
    match span.get("parent_span_id") {
        None | Some(Value::Null) => {}
        Some(parent) => match normalize_hex_id(parent, SPAN_ID_LEN) {
            Some(parent) => {
                span.insert("parent_span_id".into(), Value::String(parent));
            }
            None => return Err(invalid()),
        },
    }
    Ok(span)
}

/// The (normalized) span id of a span.
pub(super) fn span_id_of(span: &SpanV2) -> &str {
    span.get("span_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The (normalized) trace id of a span.
pub(super) fn trace_id_of(span: &SpanV2) -> &str {
    span.get("trace_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}
