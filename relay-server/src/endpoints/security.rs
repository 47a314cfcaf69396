//! Browser security reports: `POST /api/<id>/security/` and `/csp-report/`
//! (http-api.md §4.3), and Network Error Logging: `POST /api/<id>/nel/` (§4.4).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use relay_protocol::envelope::{ContentType, Item, ItemType};
use relay_protocol::EventId;
use serde::Deserialize;

use crate::endpoints::common::{
    handle_envelope, ingest_integration_body, new_request_envelope, require_project_meta,
    BadStoreRequest, RateLimitResponse,
};
use crate::extractors::read_body;
use crate::service::ServiceState;

/// MIME types accepted for security reports.
const SECURITY_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/csp-report",
    "application/reports+json",
];

/// MIME types accepted for NEL reports.
const NEL_CONTENT_TYPES: &[&str] = &["application/json", "application/reports+json"];

/// The content type of internal NEL integration items (envelope.md §3.1).
const NEL_INTEGRATION_CONTENT_TYPE: &str = "application/vnd.sentry.integration.browser.nel+json";

#[derive(Deserialize, Default)]
struct SecurityQuery {
    #[serde(default)]
    sentry_release: Option<String>,
    #[serde(default)]
    sentry_environment: Option<String>,
}

/// The essence (`type/subtype`, lowercase) of the request's content type, `None` when it is
/// missing or not a MIME type.
fn mime_essence(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    if kind.is_empty() || subtype.is_empty() {
        return None;
    }
    Some(essence)
}

fn check_content_type(request: &HttpRequest, allowed: &[&str]) -> Result<(), BadStoreRequest> {
    match mime_essence(request) {
        None => Err(BadStoreRequest::InvalidBody),
        Some(essence) if allowed.contains(&essence.as_str()) => Ok(()),
        Some(_) => Err(BadStoreRequest::UnsupportedMediaType),
    }
}

/// `POST /api/<id>/security/` and `/csp-report/`.
pub async fn handle_security(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let meta = require_project_meta(&state, &request, &path)?;
    check_content_type(&request, SECURITY_CONTENT_TYPES)?;
    let limit = state.config.max_event_size().as_usize();
    let body = read_body(&request, payload, limit).await?;
    if body.is_empty() {
        return Err(BadStoreRequest::EmptyBody.into());
    }
    let query: SecurityQuery =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();

    // A JSON array is a batch: every report gets an envelope of its own.
    let reports: Vec<Bytes> =
        match serde_json::from_slice::<Vec<Box<serde_json::value::RawValue>>>(&body) {
            Ok(entries) => entries
                .into_iter()
                .map(|entry| Bytes::from(entry.get().as_bytes().to_vec()))
                .collect(),
            Err(_) => vec![body],
        };
    let mut limited = None;
    for report in reports {
        let mut envelope = new_request_envelope(&meta, Some(EventId::new()));
        let mut item = Item::new(ItemType::RawSecurity);
        item.set_payload(ContentType::Json, report);
        // Neither header is `type` nor `length`, so setting them cannot fail.
        if let Some(release) = &query.sentry_release {
            let _ = item.set_header("sentry_release", release.clone().into());
        }
        if let Some(environment) = &query.sentry_environment {
            let _ = item.set_header("sentry_environment", environment.clone().into());
        }
        envelope.add_item(item);
        match handle_envelope(&state, envelope, &meta, RateLimitResponse::TooManyRequests).await {
            Ok(_) => {}
            Err(BadStoreRequest::RateLimited(limits)) => limited = Some(limits),
            Err(error) => return Err(error.into()),
        }
    }
    if let Some(limits) = limited {
        return Err(BadStoreRequest::RateLimited(limits).into());
    }
    Ok(HttpResponse::Ok().finish())
}

/// `POST /api/<id>/nel/`.
pub async fn handle_nel(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let meta = require_project_meta(&state, &request, &path)?;
    check_content_type(&request, NEL_CONTENT_TYPES)?;
    let content_type = ContentType::from(NEL_INTEGRATION_CONTENT_TYPE);
    ingest_integration_body(
        &state,
        &request,
        &meta,
        payload,
        content_type,
        RateLimitResponse::Silent,
    )
    .await?;
    Ok(HttpResponse::Ok().finish())
}
