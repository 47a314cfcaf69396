//! Signed JSON requests from downstream relays (http-api.md §6.3, relay-protocol.md §2.3).
//!
//! Checks run in the spec's order and the first failure answers: relay id header present
//! and a UUID → relay known → signature header present → body read within the limit →
//! signature verified over the decoded body → JSON parsed (by the endpoint).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use relay_auth::RelayId;

use crate::extractors::{read_body, BodyError};
use crate::service::ServiceState;
use crate::services::relays::RelayInfo;
use crate::utils::api_error::ApiErrorResponse;

/// Body limit of the `/api/0/relays/*` JSON routes.
pub const RELAY_API_BODY_LIMIT: usize = 262_144;

/// A verified request from a downstream relay.
pub struct SignedBody {
    pub relay: RelayInfo,
    pub body: Bytes,
}

/// Why a signed request was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignedRequestError {
    #[error("missing header: x-sentry-relay-id")]
    MissingRelayId,
    #[error("malformed header: x-sentry-relay-id")]
    MalformedRelayId,
    #[error("unknown relay id")]
    UnknownRelay,
    #[error("missing header: x-sentry-relay-signature")]
    MissingSignature,
    #[error("malformed header: x-sentry-relay-signature")]
    MalformedSignature,
    #[error("{0}")]
    Body(BodyError),
    #[error("invalid relay signature")]
    InvalidSignature(#[source] relay_auth::SignatureError),
}

impl SignedRequestError {
    pub fn to_response(&self) -> HttpResponse {
        let status = match self {
            SignedRequestError::Body(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        HttpResponse::build(status).json(ApiErrorResponse::from_error(self))
    }
}

/// Authenticates a downstream relay's request and reads its body.
pub async fn read_signed_body(
    state: &ServiceState,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<SignedBody, SignedRequestError> {
    let relay_id = request
        .headers()
        .get("x-sentry-relay-id")
        .ok_or(SignedRequestError::MissingRelayId)?;
    let relay_id: RelayId = relay_id
        .to_str()
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .ok_or(SignedRequestError::MalformedRelayId)?;
    let relay = state
        .relays
        .get(relay_id)
        .await
        .ok_or(SignedRequestError::UnknownRelay)?;
    let signature = request
        .headers()
        .get("x-sentry-relay-signature")
        .ok_or(SignedRequestError::MissingSignature)?;
    let signature = signature
        .to_str()
        .map_err(|_| SignedRequestError::MalformedSignature)?
        .to_owned();
    let body = read_body(request, payload, RELAY_API_BODY_LIMIT)
        .await
        .map_err(SignedRequestError::Body)?;
    relay
        .public_key
        .verify(
            &body,
            &signature,
            state.config.signature_max_age(),
            chrono::Utc::now(),
        )
        .map_err(SignedRequestError::InvalidSignature)?;
    Ok(SignedBody { relay, body })
}

/// `400 invalid JSON data` with the parser's message as cause.
pub fn invalid_json(error: serde_json::Error) -> HttpResponse {
    HttpResponse::BadRequest().json(ApiErrorResponse::with_cause(
        "invalid JSON data",
        error.to_string(),
    ))
}
