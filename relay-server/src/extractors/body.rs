//! Reading a whole request body: capped at the route's limit before and after
//! decompression (http-api.md §1.1, §1.2).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::utils::encoding::{decode_body, DecodeError, RequestEncoding};

/// Why the body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("Failed to buffer the request body: length limit exceeded")]
    TooLarge,
    #[error("Failed to buffer the request body: {0}")]
    Corrupt(String),
    #[error("Failed to buffer the request body: {0}")]
    Payload(String),
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The plain-text answer of buffering routes.
    pub fn to_response(&self) -> HttpResponse {
        HttpResponse::build(self.status())
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

impl actix_web::ResponseError for BodyError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.to_response()
    }
}

/// The request's content encoding. Unsupported encodings were refused with 415 by the
/// decompression middleware already, so anything unknown here is treated as identity.
pub fn request_encoding(request: &HttpRequest) -> RequestEncoding {
    request
        .headers()
        .get(actix_web::http::header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestEncoding::parse)
        .unwrap_or(RequestEncoding::Identity)
}

/// Reads and decodes the whole body, at most `limit` decoded bytes.
pub async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let announced = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let encoding = request_encoding(request);
    if encoding == RequestEncoding::Identity
        && announced.is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let capacity = announced.map_or(0, |length| length.min(limit as u64) as usize);
    let mut raw = BytesMut::with_capacity(capacity);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| BodyError::Payload(error.to_string()))?;
        // A compressed body is never larger than its decoded form by more than a little
        // framing, so the raw read shares the limit.
        if raw.len() + chunk.len() > limit.saturating_add(RAW_FRAMING_ALLOWANCE) {
            return Err(BodyError::TooLarge);
        }
        raw.extend_from_slice(&chunk);
    }
    let raw = raw.freeze();
    if encoding == RequestEncoding::Identity {
        if raw.len() > limit {
            return Err(BodyError::TooLarge);
        }
        return Ok(raw);
    }
    match decode_body(encoding, &raw, limit) {
        Ok(decoded) => Ok(Bytes::from(decoded)),
        Err(DecodeError::TooLarge) => Err(BodyError::TooLarge),
        Err(DecodeError::Corrupt(error)) => Err(BodyError::Corrupt(error.to_string())),
    }
}

/// Extra raw bytes allowed for compression framing of incompressible bodies.
const RAW_FRAMING_ALLOWANCE: usize = 64 * 1024;
