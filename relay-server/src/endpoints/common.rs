//! What every ingestion endpoint shares: the error type with its HTTP mapping
//! (http-api.md §6.1), and [`handle_envelope`], which takes a parsed envelope through the
//! fast path (internal items, unknown items, project checks, rate limits, size limits,
//! buffering) and produces the answer.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use relay_protocol::envelope::{Envelope, ItemType};
use relay_protocol::EventId;
use relay_quotas::{RateLimits, Scoping};

use crate::extractors::RequestMeta;
use crate::managed::{ManagedEnvelope, RequestChecks};
use crate::outcome::{DiscardReason, Outcome};
use crate::service::ServiceState;
use crate::services::ingest::IngestError;
use crate::utils::api_error::ApiErrorResponse;

/// The body of a `429` (http-api.md §6.1).
pub const RATE_LIMITED_DETAIL: &str = "Sentry dropped data due to a quota or internal rate limit being reached. This will not affect your application. See https://docs.sentry.io/product/accounts/quotas/ for more information.";

/// Every way an ingestion request can fail, with its status and `detail`.
#[derive(Debug, thiserror::Error)]
pub enum BadStoreRequest {
    #[error("empty request body")]
    EmptyBody,
    #[error("envelope contains internal items")]
    InternalItems,
    #[error("invalid request body")]
    InvalidBody,
    #[error("invalid JSON data: {0}")]
    InvalidJson(String),
    #[error("invalid event envelope")]
    InvalidEnvelope(#[source] relay_protocol::envelope::EnvelopeError),
    #[error("invalid multipart data")]
    InvalidMultipart(String),
    #[error("invalid minidump")]
    InvalidMinidump,
    #[error("missing minidump")]
    MissingMinidump,
    #[error("invalid compression format")]
    InvalidCompression,
    #[error("invalid event id")]
    InvalidEventId,
    #[error("event submission rejected with_reason: {0}")]
    EventRejected(String),
    #[error("envelope exceeded size limits for type '{0}' (https://develop.sentry.dev/sdk/envelopes/#size-limits)")]
    TooLarge(String),
    #[error("request content exceeded size limits")]
    RequestTooLarge,
    #[error("{}", RATE_LIMITED_DETAIL)]
    RateLimited(RateLimits),
    #[error("failed to queue envelope")]
    QueueFailed(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error(transparent)]
    Auth(#[from] crate::extractors::BadEventMeta),
}

impl BadStoreRequest {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            BadStoreRequest::EventRejected(_) => StatusCode::FORBIDDEN,
            BadStoreRequest::TooLarge(_) | BadStoreRequest::RequestTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            BadStoreRequest::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            BadStoreRequest::QueueFailed(_) => StatusCode::SERVICE_UNAVAILABLE,
            BadStoreRequest::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BadStoreRequest::Auth(error) => error.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn causes(&self) -> Vec<String> {
        match self {
            BadStoreRequest::QueueFailed(cause) => vec![cause.clone()],
            BadStoreRequest::InvalidMultipart(cause) if !cause.is_empty() => vec![cause.clone()],
            BadStoreRequest::Auth(error) => error.causes(),
            _ => {
                let mut causes = Vec::new();
                let mut source = std::error::Error::source(self);
                while let Some(cause) = source {
                    causes.push(cause.to_string());
                    source = cause.source();
                }
                causes
            }
        }
    }

    /// Renders the error response, with rate-limit headers for a `429`.
    pub fn to_response(&self) -> HttpResponse {
        if matches!(self, BadStoreRequest::UnsupportedMediaType) {
            return HttpResponse::UnsupportedMediaType().finish();
        }
        let mut builder = HttpResponseBuilder::new(self.status());
        if let BadStoreRequest::RateLimited(limits) = self {
            add_rate_limit_headers(&mut builder, limits);
        }
        if self.status().is_server_error() {
            if self.status() == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(error = %self, "not handling request: service unavailable");
            } else {
                tracing::error!(error = %self, "error handling request");
            }
        }
        builder.json(ApiErrorResponse {
            detail: self.to_string(),
            causes: self.causes(),
        })
    }
}

impl From<IngestError> for BadStoreRequest {
    fn from(error: IngestError) -> BadStoreRequest {
        match error {
            IngestError::Rejected(reason) => {
                BadStoreRequest::EventRejected(reason.rejection_name())
            }
            IngestError::TooLarge(item_name) => BadStoreRequest::TooLarge(item_name),
            IngestError::BufferFull(cause) => BadStoreRequest::QueueFailed(cause),
        }
    }
}

impl actix_web::ResponseError for BadStoreRequest {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.to_response()
    }
}

/// Adds `Retry-After` and `X-Sentry-Rate-Limits` for the active limits.
pub fn add_rate_limit_headers(builder: &mut HttpResponseBuilder, limits: &RateLimits) {
    let now = std::time::Instant::now();
    if let Some(retry_after) = relay_quotas::retry_after_header(limits, now) {
        builder.insert_header(("Retry-After", retry_after));
    }
    let formatted = relay_quotas::format_rate_limits_header(limits, now);
    if !formatted.is_empty() {
        builder.insert_header(("X-Sentry-Rate-Limits", formatted));
    }
}

/// Whether the endpoint answers `429` when items were rate limited (http-api.md §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimitResponse {
    /// envelope, store, security, attachments, OTLP, Vercel.
    TooManyRequests,
    /// minidump, unreal, playstation, cron, nel: limited items are dropped silently.
    Silent,
}

/// What a handled envelope yields for the response.
#[derive(Debug)]
pub struct HandledEnvelope {
    pub event_id: Option<EventId>,
}

/// Takes a parsed envelope through ingestion (http-api.md §3.6, §7, envelope.md §6, §8).
///
/// Waits for room in the upstream send queue first (flow control, see
/// `spool.envelopes.max_queued_for_upstream`), so a slow upstream slows clients down instead
/// of filling the buffer; only when no room appears in time is the request refused with 503.
pub async fn handle_envelope(
    state: &ServiceState,
    mut envelope: Envelope,
    meta: &RequestMeta,
    rate_limit_response: RateLimitResponse,
) -> Result<HandledEnvelope, BadStoreRequest> {
    if !state.config.accept_unknown_items() {
        envelope.retain_items(|item| !item.is_unknown());
    }
    let event_id = envelope.ensure_event_id();

    if state.memory_exhausted() {
        return Err(BadStoreRequest::QueueFailed(
            "relay is running out of memory".to_owned(),
        ));
    }

    let scoping = request_scoping(meta);
    let required_features = envelope.headers().required_features.clone();
    let managed = ManagedEnvelope::new(
        envelope,
        scoping,
        meta.received_at,
        meta.client_ip(),
        state.outcomes.clone(),
    );
    let checks = RequestChecks {
        request_project_id: meta.project_id,
        public_key: meta.public_key,
        origin: meta.origin.clone(),
        required_features,
        relay_signature: meta.relay_signature.clone(),
        trusted: meta.trusted,
        received_at: meta.received_at,
    };
    let max_queued = state.config.spool_max_queued_for_upstream().max(1);
    let admission_timeout = state.config.spool_admission_timeout();
    let admitted = state
        .ingest
        .destination()
        .wait_for_admission(max_queued, admission_timeout)
        .await;
    if !admitted {
        managed.reject(Outcome::Invalid(DiscardReason::Internal));
        return Err(BadStoreRequest::QueueFailed(
            "envelope buffer does not have capacity".to_owned(),
        ));
    }
    let submitted = state.ingest.submit(managed, checks)?;
    if rate_limit_response == RateLimitResponse::TooManyRequests
        && !submitted.active_limits.is_empty()
    {
        return Err(BadStoreRequest::RateLimited(submitted.active_limits));
    }
    Ok(HandledEnvelope { event_id })
}

/// Refuses envelopes from the network that carry internal-only items (envelope.md §4).
pub fn reject_internal_items(envelope: &Envelope) -> Result<(), BadStoreRequest> {
    let has_internal = envelope
        .items()
        .iter()
        .any(|item| matches!(item.ty(), ItemType::Integration));
    if has_internal {
        return Err(BadStoreRequest::InternalItems);
    }
    Ok(())
}

/// Parses a request body as an envelope and merges the request's metadata into it.
///
/// The envelope header may override request metadata (a downstream relay passes on what the
/// original client sent); `meta` is updated with the merged values.
pub fn parse_request_envelope(
    body: bytes::Bytes,
    meta: &mut RequestMeta,
) -> Result<Envelope, BadStoreRequest> {
    if body.is_empty() {
        return Err(BadStoreRequest::EmptyBody);
    }
    let mut envelope = Envelope::parse(body).map_err(BadStoreRequest::InvalidEnvelope)?;
    let mut protocol_meta = meta.to_protocol_meta();
    envelope
        .complete_with_request_meta(&mut protocol_meta)
        .map_err(BadStoreRequest::InvalidEnvelope)?;
    meta.absorb_protocol_meta(protocol_meta);
    reject_internal_items(&envelope)?;
    Ok(envelope)
}

/// A new envelope for an endpoint that builds its own items, with the request's metadata.
pub fn new_request_envelope(meta: &RequestMeta, event_id: Option<EventId>) -> Envelope {
    let mut envelope = Envelope::from_request_meta(&meta.to_protocol_meta());
    envelope.headers_mut().event_id = event_id;
    envelope
}

/// Authenticates an ingestion request that has no fallback credential source.
pub fn require_request_meta(
    state: &ServiceState,
    request: &actix_web::HttpRequest,
    source: crate::extractors::MetaSource<'_>,
) -> Result<RequestMeta, BadStoreRequest> {
    crate::extractors::extract_request_meta(request, &state.config, source)?.ok_or(
        BadStoreRequest::Auth(crate::extractors::BadEventMeta::MissingAuth),
    )
}

/// Records `outcome` for `items` that are dropped before an envelope reaches the ingest service
/// (e.g. parts of an upload that failed or were too large).
pub fn reject_request_items(
    state: &ServiceState,
    meta: &RequestMeta,
    event_id: Option<EventId>,
    items: Vec<relay_protocol::envelope::Item>,
    outcome: Outcome,
) {
    if items.is_empty() {
        return;
    }
    let mut envelope = new_request_envelope(meta, event_id);
    for item in items {
        envelope.add_item(item);
    }
    ManagedEnvelope::new(
        envelope,
        request_scoping(meta),
        meta.received_at,
        meta.client_ip(),
        state.outcomes.clone(),
    )
    .reject(outcome);
}

/// Authenticates a request to a route with a `<project_id>` path segment and no other
/// credential source in the path.
pub fn require_project_meta(
    state: &ServiceState,
    request: &actix_web::HttpRequest,
    project_id: &str,
) -> Result<RequestMeta, BadStoreRequest> {
    let source = crate::extractors::MetaSource {
        project_id: Some(project_id),
        path_key: None,
    };
    require_request_meta(state, request, source)
}

/// Reads a body of at most `limits.max_container_size` and ingests it as one internal
/// `integration` item of `content_type` (NEL reports, the Vercel log drain).
pub async fn ingest_integration_body(
    state: &ServiceState,
    request: &actix_web::HttpRequest,
    meta: &RequestMeta,
    payload: actix_web::web::Payload,
    content_type: relay_protocol::envelope::ContentType,
    rate_limit_response: RateLimitResponse,
) -> Result<(), actix_web::Error> {
    let limit = state.config.max_container_size().as_usize();
    let body = crate::extractors::read_body(request, payload, limit).await?;
    if body.is_empty() {
        return Err(BadStoreRequest::EmptyBody.into());
    }
    let mut envelope = new_request_envelope(meta, None);
    let mut item = relay_protocol::envelope::Item::new(ItemType::Integration);
    item.set_payload(content_type, body);
    envelope.add_item(item);
    handle_envelope(state, envelope, meta, rate_limit_response).await?;
    Ok(())
}

/// The scoping known from the request alone (before the project config).
pub fn request_scoping(meta: &RequestMeta) -> Scoping {
    Scoping {
        organization_id: None,
        project_id: meta.project_id,
        project_key: meta.public_key,
        key_id: None,
    }
}

/// `{"id": …}` or `{}`.
pub fn event_id_response(event_id: Option<EventId>) -> HttpResponse {
    match event_id {
        Some(id) => HttpResponse::Ok().json(serde_json::json!({ "id": id.to_string() })),
        None => HttpResponse::Ok().json(serde_json::json!({})),
    }
}
