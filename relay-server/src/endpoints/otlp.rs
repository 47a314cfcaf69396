//! OTLP over HTTP: `POST /api/<id>/integration/otlp/v1/{traces,logs}[/]` (http-api.md §4.9).
//!
//! Relay does not parse OTLP: the request body becomes one internal `integration` item whose
//! content type names the signal and the encoding (envelope.md §3.1), and that envelope takes
//! the common ingestion path (project checks, rate limits, size limits, forwarding).
//!
//! Invariants:
//! - Every answer is in the encoding of the request: a protobuf request gets protobuf answers,
//!   every other request (including one with an unsupported `Content-Type`) JSON answers.
//! - Errors keep the HTTP status of the underlying failure; the body is the OTLP status
//!   (`google.rpc.Status`) with the gRPC code mapped from that status.
//! - Logs need the project feature [`OURLOGS_INGESTION_FEATURE`]. It is written into the
//!   envelope's `required_features`, so the ingest checks enforce it exactly when they know the
//!   project config (http-api.md §3.6 check 4): immediately for a known project, after the
//!   fetch for a pending one, and not at all in proxy mode, which has no configs.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use relay_protocol::envelope::{ContentType, Item, ItemType};

use crate::endpoints::common::{
    add_rate_limit_headers, handle_envelope, new_request_envelope, require_request_meta,
    BadStoreRequest, RateLimitResponse,
};
use crate::extractors::{read_body, BodyError, MetaSource};
use crate::service::ServiceState;

/// The project feature that OTLP logs require.
pub use crate::services::projects::state::OURLOGS_INGESTION_FEATURE;

/// MIME type of OTLP/JSON requests.
const JSON_MIME: &str = "application/json";
/// MIME type of OTLP/protobuf requests and answers.
const PROTOBUF_MIME: &str = "application/x-protobuf";

/// gRPC status codes (`google.rpc.Code`) used by the OTLP status mapping.
mod grpc_code {
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// Protobuf wire tag of `google.rpc.Status.code` (field 1, varint).
const STATUS_CODE_TAG: u8 = 0x08;
/// Protobuf wire tag of `google.rpc.Status.message` (field 2, length-delimited).
const STATUS_MESSAGE_TAG: u8 = 0x12;
/// Payload bits per varint byte.
const VARINT_PAYLOAD_BITS: u32 = 7;
/// The varint continuation bit.
const VARINT_CONTINUATION: u8 = 0x80;

/// The essence (`type/subtype`, lowercase) of the request's `Content-Type`; `None` when the
/// header is missing or not a MIME type.
pub(crate) fn request_mime_essence(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    if kind.is_empty() || subtype.is_empty() {
        return None;
    }
    Some(essence)
}

/// How an OTLP request (and therefore its answer) is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpEncoding {
    Json,
    Protobuf,
}

impl OtlpEncoding {
    /// The encoding for a request `Content-Type` essence; `None` for anything unsupported.
    pub fn from_mime_essence(essence: Option<&str>) -> Option<OtlpEncoding> {
        match essence? {
            JSON_MIME => Some(OtlpEncoding::Json),
            PROTOBUF_MIME => Some(OtlpEncoding::Protobuf),
            _ => None,
        }
    }
}

/// Which OTLP signal a route receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpSignal {
    Traces,
    Logs,
}

impl OtlpSignal {
    /// The content type of the internal `integration` item (envelope.md §3.1).
    pub fn integration_content_type(self, encoding: OtlpEncoding) -> ContentType {
        match (self, encoding) {
            (OtlpSignal::Traces, OtlpEncoding::Json) => ContentType::OtelSpansJson,
            (OtlpSignal::Traces, OtlpEncoding::Protobuf) => ContentType::OtelSpansProtobuf,
            (OtlpSignal::Logs, OtlpEncoding::Json) => ContentType::OtelLogsJson,
            (OtlpSignal::Logs, OtlpEncoding::Protobuf) => ContentType::OtelLogsProtobuf,
        }
    }

    /// The project feature the signal needs, if any.
    pub fn required_feature(self) -> Option<&'static str> {
        match self {
            OtlpSignal::Traces => None,
            OtlpSignal::Logs => Some(OURLOGS_INGESTION_FEATURE),
        }
    }
}

/// The gRPC code for an HTTP status (http-api.md §4.9).
pub fn grpc_code_for_status(status: StatusCode) -> i32 {
    match status.as_u16() {
        400 | 415 => grpc_code::INVALID_ARGUMENT,
        401 => grpc_code::UNAUTHENTICATED,
        403 => grpc_code::PERMISSION_DENIED,
        404 => grpc_code::NOT_FOUND,
        413 | 429 => grpc_code::RESOURCE_EXHAUSTED,
        501 => grpc_code::UNIMPLEMENTED,
        502 | 503 => grpc_code::UNAVAILABLE,
        504 => grpc_code::DEADLINE_EXCEEDED,
        _ if status.is_server_error() => grpc_code::INTERNAL,
        _ => grpc_code::UNKNOWN,
    }
}

/// Appends `value` as a protobuf varint.
fn write_varint(output: &mut Vec<u8>, mut value: u64) {
    let payload_mask = (1u64 << VARINT_PAYLOAD_BITS) - 1;
    while value > payload_mask {
        output.push((value & payload_mask) as u8 | VARINT_CONTINUATION);
        value >>= VARINT_PAYLOAD_BITS;
    }
    output.push(value as u8);
}

/// The protobuf encoding of `google.rpc.Status { code, message }` (details are never set).
///
/// Proto3 omits fields holding their default value, so a zero code or an empty message
/// writes nothing for that field.
pub fn encode_status_protobuf(code: i32, message: &str) -> Vec<u8> {
    let mut output = Vec::with_capacity(message.len() + 8);
    if code != 0 {
        output.push(STATUS_CODE_TAG);
        // int32 is sign-extended to 64 bits on the wire.
        write_varint(&mut output, i64::from(code) as u64);
    }
    if !message.is_empty() {
        output.push(STATUS_MESSAGE_TAG);
        write_varint(&mut output, message.len() as u64);
        output.extend_from_slice(message.as_bytes());
    }
    output
}

/// Why an OTLP request failed.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("unable to read body: {0}")]
    Body(#[from] BodyError),
    #[error(transparent)]
    Request(#[from] BadStoreRequest),
}

impl OtlpError {
    /// The HTTP status of the underlying failure.
    pub fn status(&self) -> StatusCode {
        match self {
            OtlpError::Body(error) => error.status(),
            OtlpError::Request(error) => error.status(),
        }
    }

    /// The OTLP status answer in the request's encoding, with rate-limit headers on `429`.
    pub fn to_response(&self, encoding: OtlpEncoding) -> HttpResponse {
        let status = self.status();
        let code = grpc_code_for_status(status);
        let message = self.to_string();
        if status.is_server_error() {
            tracing::warn!(error = %message, "OTLP request failed");
        }
        let mut builder = HttpResponseBuilder::new(status);
        if let OtlpError::Request(BadStoreRequest::RateLimited(limits)) = self {
            add_rate_limit_headers(&mut builder, limits);
        }
        match encoding {
            OtlpEncoding::Json => {
                builder.json(serde_json::json!({ "code": code, "message": message }))
            }
            OtlpEncoding::Protobuf => builder
                .content_type(PROTOBUF_MIME)
                .body(encode_status_protobuf(code, &message)),
        }
    }
}

/// The success answer: `{}` or an empty `Export*ServiceResponse` message.
fn success_response(encoding: OtlpEncoding) -> HttpResponse {
    match encoding {
        OtlpEncoding::Json => HttpResponse::Ok().json(serde_json::json!({})),
        OtlpEncoding::Protobuf => HttpResponse::Ok().content_type(PROTOBUF_MIME).finish(),
    }
}

/// `POST /api/<id>/integration/otlp/v1/traces[/]`.
pub async fn handle_traces(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    handle_signal(&state, &request, &path, payload, OtlpSignal::Traces).await
}

/// `POST /api/<id>/integration/otlp/v1/logs[/]`.
pub async fn handle_logs(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    handle_signal(&state, &request, &path, payload, OtlpSignal::Logs).await
}

async fn handle_signal(
    state: &ServiceState,
    request: &HttpRequest,
    project_id: &str,
    payload: web::Payload,
    signal: OtlpSignal,
) -> HttpResponse {
    let encoding = OtlpEncoding::from_mime_essence(request_mime_essence(request).as_deref());
    let answer_encoding = encoding.unwrap_or(OtlpEncoding::Json);
    match ingest(state, request, project_id, payload, signal, encoding).await {
        Ok(()) => success_response(answer_encoding),
        Err(error) => error.to_response(answer_encoding),
    }
}

async fn ingest(
    state: &ServiceState,
    request: &HttpRequest,
    project_id: &str,
    payload: web::Payload,
    signal: OtlpSignal,
    encoding: Option<OtlpEncoding>,
) -> Result<(), OtlpError> {
    let source = MetaSource {
        project_id: Some(project_id),
        path_key: None,
    };
    let meta = require_request_meta(state, request, source)?;
    let encoding = encoding.ok_or(BadStoreRequest::UnsupportedMediaType)?;
    let limit = state.config.max_container_size().as_usize();
    let body = read_body(request, payload, limit).await?;

    let mut envelope = new_request_envelope(&meta, None);
    if let Some(feature) = signal.required_feature() {
        envelope
            .headers_mut()
            .required_features
            .push(feature.to_owned());
    }
    let mut item = Item::new(ItemType::Integration);
    item.set_payload(signal.integration_content_type(encoding), body);
    envelope.add_item(item);
    handle_envelope(state, envelope, &meta, RateLimitResponse::TooManyRequests).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_the_spec_table() {
        let table = [
            (400, 3),
            (415, 3),
            (401, 16),
            (403, 7),
            (404, 5),
            (413, 8),
            (429, 8),
            (501, 12),
            (502, 14),
            (503, 14),
            (504, 4),
            (500, 13),
            (507, 13),
            (405, 2),
            (409, 2),
        ];
        for (status, code) in table {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(grpc_code_for_status(status), code, "{status}");
        }
    }

    #[test]
    fn status_protobuf_encodes_code_and_message() {
        assert_eq!(
            encode_status_protobuf(8, "too big"),
            b"\x08\x08\x12\x07too big".to_vec()
        );
        assert_eq!(encode_status_protobuf(0, ""), Vec::<u8>::new());
    }

    #[test]
    fn long_messages_get_multi_byte_lengths() {
        let message = "x".repeat(300);
        let encoded = encode_status_protobuf(16, &message);
        // 300 = 0b10_0101100 → 0xac 0x02
        assert_eq!(&encoded[..5], b"\x08\x10\x12\xac\x02");
        assert_eq!(encoded.len(), 5 + 300);
    }

    #[test]
    fn negative_codes_are_sign_extended() {
        let encoded = encode_status_protobuf(-1, "");
        assert_eq!(encoded.len(), 11);
        assert_eq!(encoded[0], STATUS_CODE_TAG);
        assert_eq!(encoded[10], 0x01);
    }

    #[test]
    fn encodings_come_from_the_mime_essence() {
        assert_eq!(
            OtlpEncoding::from_mime_essence(Some("application/json")),
            Some(OtlpEncoding::Json)
        );
        assert_eq!(
            OtlpEncoding::from_mime_essence(Some("application/x-protobuf")),
            Some(OtlpEncoding::Protobuf)
        );
        assert_eq!(OtlpEncoding::from_mime_essence(Some("text/plain")), None);
        assert_eq!(OtlpEncoding::from_mime_essence(None), None);
    }

    #[test]
    fn integration_content_types_name_signal_and_encoding() {
        assert_eq!(
            OtlpSignal::Traces
                .integration_content_type(OtlpEncoding::Json)
                .as_str(),
            "application/vnd.sentry.integration.otel.spans+json"
        );
        assert_eq!(
            OtlpSignal::Logs
                .integration_content_type(OtlpEncoding::Protobuf)
                .as_str(),
            "application/vnd.sentry.integration.otel.logs+protobuf"
        );
        assert_eq!(
            OtlpSignal::Logs.required_feature(),
            Some(OURLOGS_INGESTION_FEATURE)
        );
        assert_eq!(OtlpSignal::Traces.required_feature(), None);
    }

    #[test]
    fn body_errors_are_wrapped_in_the_spec_message() {
        let error = OtlpError::from(BodyError::TooLarge);
        assert_eq!(
            error.to_string(),
            "unable to read body: Failed to buffer the request body: length limit exceeded"
        );
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
