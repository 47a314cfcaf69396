//! Resumable uploads, a TUS 1.0.0 subset (http-api.md §4.11):
//! `POST /api/<id>/upload/` creates an upload, `PATCH /api/<id>/upload/<key>/` sends its data.
//!
//! This relay never stores uploads itself (it has no processing mode): after validating a
//! request it forwards it to its upstream with the same protocol and passes the upstream's
//! answer back unchanged, so the `Location` of a created upload is the upstream's, verbatim.
//!
//! What is implemented:
//! - creation: `Tus-Resumable: 1.0.0` (else `412` with `Tus-Version: 1.0.0`), no
//!   `Content-Type` (else `415`), exactly one of `Upload-Length: <n>` and
//!   `Upload-Defer-Length: 1` (else `400`), `Upload-Length` at most `limits.max_upload_size`
//!   (else `413`), and a well-formed `sentry` entry in `Upload-Metadata` when there is one
//!   (base64 of a JSON object whose optional `attachment_type` is a string; else `400`);
//! - data: `Tus-Resumable: 1.0.0`, `Content-Type: application/offset+octet-stream` (else
//!   `415`), a numeric `Upload-Offset` (else `400`) that must be `0` (else `409`), an optional
//!   numeric `X-Decoded-Content-Length` that must match the decoded body (else `400`);
//! - both: authentication like every ingestion route, `403` for a project known to be
//!   disabled, `503` under the memory watermark (data requests only).
//!
//! Deliberately left out, and why:
//! - Resuming: the whole upload is one `PATCH` at offset `0`. Relay keeps no upload state, so
//!   it cannot know any other valid offset; a client that needs another offset gets `409`.
//! - Streaming: the data is buffered (at most `limits.max_upload_size`) and sent through the
//!   upstream queue, which carries whole bodies, compressed per `http.encoding` with
//!   `X-Decoded-Content-Length` set to the decoded size. The upstream request therefore has
//!   the forwarder's deadline (`http.timeout`), not `upload.timeout`, and
//!   `upload.max_concurrent_requests` is not applied separately from the queue's own limit.
//! - Rate limits and the other project checks are left to the upstream, which answers them.

use std::io;

use actix_web::http::header::{HeaderName, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use base64::Engine;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::endpoints::common::{require_request_meta, BadStoreRequest};
use crate::endpoints::otlp::request_mime_essence;
use crate::endpoints::passthrough::{copy_headers, forwarding_chain, send_through_queue};
use crate::extractors::{read_body, BodyError, MetaSource, RequestMeta};
use crate::service::ServiceState;
use crate::services::projects::ProjectStatus;
use crate::services::upstream::{SignMode, UpstreamRequest};
use crate::utils::api_error::ApiErrorResponse;
use crate::utils::encoding::{content_encoding_name, encode_body};

/// The only TUS protocol version relay speaks.
pub const TUS_VERSION: &str = "1.0.0";
/// The `Upload-Metadata` key that carries Sentry's upload description.
const SENTRY_METADATA_KEY: &str = "sentry";
/// The only value `Upload-Defer-Length` may have.
const DEFER_LENGTH_VALUE: &str = "1";
/// The MIME type of upload data.
const UPLOAD_DATA_MIME: &str = "application/offset+octet-stream";
/// The only offset a data request may start at (see the module docs).
const SUPPORTED_UPLOAD_OFFSET: u64 = 0;

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const TUS_VERSION_HEADER: HeaderName = HeaderName::from_static("tus-version");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const DECODED_CONTENT_LENGTH_NAME: &str = "x-decoded-content-length";
const DECODED_CONTENT_LENGTH: HeaderName = HeaderName::from_static(DECODED_CONTENT_LENGTH_NAME);

/// Why an upload request was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("unsupported TUS protocol version: `Tus-Resumable: 1.0.0` is required")]
    UnsupportedTusVersion,
    #[error("an upload is created without a Content-Type")]
    CreationContentType,
    #[error("upload data must be sent with `Content-Type: application/offset+octet-stream`")]
    DataContentType,
    #[error("exactly one of `Upload-Length` and `Upload-Defer-Length: 1` is required")]
    LengthMissingOrAmbiguous,
    #[error("`Upload-Length` is not a number of bytes")]
    InvalidUploadLength,
    #[error("`Upload-Defer-Length` must be `1`")]
    InvalidDeferLength,
    #[error("`Upload-Length` {length} exceeds the maximum upload size of {limit} bytes")]
    UploadTooLarge { length: u64, limit: u64 },
    #[error("invalid `Upload-Metadata`: {0}")]
    InvalidMetadata(&'static str),
    #[error("`Upload-Offset` is missing or not a number of bytes")]
    InvalidUploadOffset,
    #[error("`Upload-Offset` {0} does not match the upload's offset 0")]
    OffsetMismatch(u64),
    #[error("`X-Decoded-Content-Length` is not a number of bytes")]
    InvalidDecodedLength,
    #[error("`X-Decoded-Content-Length` is {announced} but the body has {actual} bytes")]
    DecodedLengthMismatch { announced: u64, actual: u64 },
    #[error("could not compress the upload for the upstream")]
    Compression(#[source] io::Error),
    #[error(transparent)]
    Request(#[from] BadStoreRequest),
    #[error(transparent)]
    Body(#[from] BodyError),
}

impl UploadError {
    fn status(&self) -> StatusCode {
        match self {
            UploadError::UnsupportedTusVersion => StatusCode::PRECONDITION_FAILED,
            UploadError::CreationContentType | UploadError::DataContentType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            UploadError::UploadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::OffsetMismatch(_) => StatusCode::CONFLICT,
            UploadError::Compression(_) => StatusCode::INTERNAL_SERVER_ERROR,
            UploadError::Request(error) => error.status(),
            UploadError::Body(error) => error.status(),
            UploadError::LengthMissingOrAmbiguous
            | UploadError::InvalidUploadLength
            | UploadError::InvalidDeferLength
            | UploadError::InvalidMetadata(_)
            | UploadError::InvalidUploadOffset
            | UploadError::InvalidDecodedLength
            | UploadError::DecodedLengthMismatch { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

impl actix_web::ResponseError for UploadError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            UploadError::Request(error) => return error.to_response(),
            UploadError::Body(error) => return error.to_response(),
            UploadError::Compression(_) => tracing::error!(error = %self, "upload failed"),
            _ => {}
        }
        let mut builder = HttpResponseBuilder::new(self.status());
        if matches!(self, UploadError::UnsupportedTusVersion) {
            builder.insert_header((TUS_VERSION_HEADER, TUS_VERSION));
        }
        builder.json(ApiErrorResponse::from_error(self))
    }
}

fn header_str<'a>(request: &'a HttpRequest, name: &HeaderName) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap_or_default().trim())
}

fn check_tus_version(request: &HttpRequest) -> Result<(), UploadError> {
    match header_str(request, &TUS_RESUMABLE) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(UploadError::UnsupportedTusVersion),
    }
}

/// Parses a non-negative decimal byte count.
fn parse_byte_count(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The announced length of a new upload; `None` for a deferred length.
fn upload_length(request: &HttpRequest, limit: u64) -> Result<Option<u64>, UploadError> {
    let length = header_str(request, &UPLOAD_LENGTH);
    let deferred = header_str(request, &UPLOAD_DEFER_LENGTH);
    match (length, deferred) {
        (Some(length), None) => {
            let length = parse_byte_count(length).ok_or(UploadError::InvalidUploadLength)?;
            if length > limit {
                return Err(UploadError::UploadTooLarge { length, limit });
            }
            Ok(Some(length))
        }
        (None, Some(DEFER_LENGTH_VALUE)) => Ok(None),
        (None, Some(_)) => Err(UploadError::InvalidDeferLength),
        (None, None) | (Some(_), Some(_)) => Err(UploadError::LengthMissingOrAmbiguous),
    }
}

/// Checks the `sentry` entry of a TUS `Upload-Metadata` value (`key base64,key base64`).
fn validate_metadata(value: &str) -> Result<(), UploadError> {
    for pair in value.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, encoded) = match pair.split_once(' ') {
            Some((key, encoded)) => (key, Some(encoded.trim())),
            None => (pair, None),
        };
        if key != SENTRY_METADATA_KEY {
            continue;
        }
        let encoded = encoded.ok_or(UploadError::InvalidMetadata("`sentry` has no value"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| UploadError::InvalidMetadata("`sentry` is not base64"))?;
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&decoded)
                .map_err(|_| UploadError::InvalidMetadata("`sentry` is not a JSON object"))?;
        let attachment_type_ok = object
            .get("attachment_type")
            .is_none_or(|attachment_type| attachment_type.is_string());
        if !attachment_type_ok {
            return Err(UploadError::InvalidMetadata(
                "`attachment_type` is not a string",
            ));
        }
    }
    Ok(())
}

fn authenticate(
    state: &ServiceState,
    request: &HttpRequest,
    project_id: &str,
) -> Result<RequestMeta, UploadError> {
    let source = MetaSource {
        project_id: Some(project_id),
        path_key: None,
    };
    Ok(require_request_meta(state, request, source)?)
}

/// Refuses projects known to be disabled; pending and proxy projects pass (the upstream
/// decides about them).
fn reject_disabled_project(state: &ServiceState, meta: &RequestMeta) -> Result<(), UploadError> {
    if matches!(
        state.ingest.projects().get(&meta.public_key, false),
        ProjectStatus::Disabled
    ) {
        return Err(BadStoreRequest::EventRejected("ProjectId".to_owned()).into());
    }
    Ok(())
}

/// Headers for the upstream: the client's (minus hop-by-hop and framing) plus the
/// forwarding chain, as the forwarder sends them.
fn upstream_headers(request: &HttpRequest) -> HeaderMap {
    let mut headers = copy_headers(request);
    if let Ok(chain) = HeaderValue::from_str(&forwarding_chain(request)) {
        headers.append("x-forwarded-for", chain);
    }
    headers
}

fn path_and_query(request: &HttpRequest) -> String {
    request
        .uri()
        .path_and_query()
        .map(|value| value.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned())
}

/// `POST /api/<id>/upload/`: validates and forwards the creation request.
pub async fn create(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, UploadError> {
    let meta = authenticate(&state, &request, &path)?;
    check_tus_version(&request)?;
    if request.headers().contains_key(CONTENT_TYPE) {
        return Err(UploadError::CreationContentType);
    }
    upload_length(&request, state.config.max_upload_size().as_bytes())?;
    if let Some(metadata) = header_str(&request, &UPLOAD_METADATA) {
        validate_metadata(metadata)?;
    }
    reject_disabled_project(&state, &meta)?;
    // Creation carries no data (creation-with-upload would need a Content-Type), so the
    // upstream gets an empty body whatever the client sent.
    let upstream_request = UpstreamRequest {
        method: reqwest::Method::POST,
        path: path_and_query(&request),
        headers: upstream_headers(&request),
        body: Bytes::new(),
        sign: SignMode::EmptyIfCredentials,
        target: None,
    };
    Ok(send_through_queue(&state, upstream_request).await)
}

/// `PATCH /api/<id>/upload/<key>/`: validates, buffers and forwards the upload data.
pub async fn append(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, UploadError> {
    let (project_id, _upload_key) = path.into_inner();
    let meta = authenticate(&state, &request, &project_id)?;
    check_tus_version(&request)?;
    if request_mime_essence(&request).as_deref() != Some(UPLOAD_DATA_MIME) {
        return Err(UploadError::DataContentType);
    }
    let offset = header_str(&request, &UPLOAD_OFFSET)
        .and_then(parse_byte_count)
        .ok_or(UploadError::InvalidUploadOffset)?;
    if offset != SUPPORTED_UPLOAD_OFFSET {
        return Err(UploadError::OffsetMismatch(offset));
    }
    let announced_decoded_length = header_str(&request, &DECODED_CONTENT_LENGTH)
        .map(|value| parse_byte_count(value).ok_or(UploadError::InvalidDecodedLength))
        .transpose()?;
    reject_disabled_project(&state, &meta)?;
    if state.memory_exhausted() {
        return Err(
            BadStoreRequest::QueueFailed("relay is running out of memory".to_owned()).into(),
        );
    }

    let limit = state.config.max_upload_size().as_usize();
    let body = read_body(&request, payload, limit).await?;
    let actual = body.len() as u64;
    if let Some(announced) = announced_decoded_length {
        if announced != actual {
            return Err(UploadError::DecodedLengthMismatch { announced, actual });
        }
    }

    let encoding = state.config.http_encoding();
    let mut headers = upstream_headers(&request);
    headers.remove(DECODED_CONTENT_LENGTH_NAME);
    let body = match content_encoding_name(encoding) {
        None => body,
        Some(name) => {
            let encoded = encode_body(encoding, &body).map_err(UploadError::Compression)?;
            headers.insert(
                reqwest::header::CONTENT_ENCODING,
                HeaderValue::from_static(name),
            );
            headers.insert(DECODED_CONTENT_LENGTH_NAME, HeaderValue::from(actual));
            Bytes::from(encoded)
        }
    };
    let upstream_request = UpstreamRequest {
        method: reqwest::Method::PATCH,
        path: path_and_query(&request),
        headers,
        body,
        sign: SignMode::EmptyIfCredentials,
        target: None,
    };
    Ok(send_through_queue(&state, upstream_request).await)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const LIMIT: u64 = 1000;

    fn length_of(headers: &[(&str, &str)]) -> Result<Option<u64>, UploadError> {
        let mut builder = TestRequest::default();
        for header in headers {
            builder = builder.insert_header(*header);
        }
        upload_length(&builder.to_http_request(), LIMIT)
    }

    fn sentry_metadata(json: &str) -> String {
        format!(
            "filename Zm9v,sentry {}",
            base64::engine::general_purpose::STANDARD.encode(json)
        )
    }

    #[test]
    fn exactly_one_length_header_is_required() {
        assert_eq!(length_of(&[("upload-length", "10")]).unwrap(), Some(10));
        assert_eq!(length_of(&[("upload-defer-length", "1")]).unwrap(), None);
        assert!(matches!(
            length_of(&[]),
            Err(UploadError::LengthMissingOrAmbiguous)
        ));
        assert!(matches!(
            length_of(&[("upload-length", "10"), ("upload-defer-length", "1")]),
            Err(UploadError::LengthMissingOrAmbiguous)
        ));
        assert!(matches!(
            length_of(&[("upload-defer-length", "0")]),
            Err(UploadError::InvalidDeferLength)
        ));
        assert!(matches!(
            length_of(&[("upload-length", "-1")]),
            Err(UploadError::InvalidUploadLength)
        ));
    }

    #[test]
    fn upload_length_is_capped() {
        assert_eq!(length_of(&[("upload-length", "1000")]).unwrap(), Some(1000));
        let error = length_of(&[("upload-length", "1001")]).unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn metadata_sentry_entry_is_validated() {
        assert!(
            validate_metadata(&sentry_metadata(r#"{"attachment_type":"event.minidump"}"#)).is_ok()
        );
        assert!(validate_metadata(&sentry_metadata("{}")).is_ok());
        assert!(validate_metadata("filename Zm9v").is_ok());
        assert!(validate_metadata(&sentry_metadata(r#"{"attachment_type":1}"#)).is_err());
        assert!(validate_metadata(&sentry_metadata("[1]")).is_err());
        assert!(validate_metadata("sentry !!!").is_err());
        assert!(validate_metadata("sentry").is_err());
    }

    #[test]
    fn byte_counts_are_plain_decimals() {
        assert_eq!(parse_byte_count("0"), Some(0));
        assert_eq!(parse_byte_count("123"), Some(123));
        assert_eq!(parse_byte_count("+1"), None);
        assert_eq!(parse_byte_count(""), None);
        assert_eq!(parse_byte_count("99999999999999999999999"), None);
    }

    #[test]
    fn statuses_follow_the_spec() {
        assert_eq!(
            UploadError::UnsupportedTusVersion.status(),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            UploadError::CreationContentType.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            UploadError::OffsetMismatch(5).status(),
            StatusCode::CONFLICT
        );
        let response =
            actix_web::ResponseError::error_response(&UploadError::UnsupportedTusVersion);
        assert_eq!(response.headers().get("tus-version").unwrap(), TUS_VERSION);
    }
}
