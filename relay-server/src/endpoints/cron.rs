//! Cron check-ins: `GET|POST /api/<id>/cron/<slug>[/<sentry_key>][/]` (http-api.md §4.8).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use relay_protocol::envelope::{ContentType, Item, ItemType};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::endpoints::common::{
    handle_envelope, new_request_envelope, require_request_meta, BadStoreRequest, RateLimitResponse,
};
use crate::extractors::{read_body, MetaSource};
use crate::service::ServiceState;

/// The client recorded for check-ins sent without `sentry_client`.
const HTTP_CHECK_IN_CLIENT: &str = "relay-http";

/// The check-in id used when the query gives none.
const NIL_CHECK_IN_ID: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Deserialize)]
struct CheckInQuery {
    status: String,
    #[serde(default)]
    check_in_id: Option<uuid::Uuid>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
}

async fn handle(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    project_id: String,
    slug: String,
    sentry_key: Option<String>,
    payload: Option<web::Payload>,
) -> Result<HttpResponse, actix_web::Error> {
    let source = MetaSource {
        project_id: Some(&project_id),
        path_key: sentry_key.as_deref(),
    };
    let mut meta = require_request_meta(&state, &request, source)?;
    if meta.client.is_none() {
        meta.client = Some(HTTP_CHECK_IN_CLIENT.to_owned());
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let check_in: Map<String, Value> = if is_json {
        let limit = state.config.max_event_size().as_usize();
        let body = match payload {
            Some(payload) => read_body(&request, payload, limit).await?,
            None => Bytes::new(),
        };
        let mut check_in: Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|error| BadStoreRequest::InvalidJson(format!("{error:?}")))?;
        check_in.insert("monitor_slug".to_owned(), Value::String(slug));
        check_in
    } else {
        let query: CheckInQuery = serde_urlencoded::from_str(request.query_string())
            .map_err(|_| BadStoreRequest::InvalidBody)?;
        let mut check_in = Map::new();
        let check_in_id = query
            .check_in_id
            .map(|id| id.to_string())
            .unwrap_or_else(|| NIL_CHECK_IN_ID.to_owned());
        check_in.insert("check_in_id".to_owned(), Value::String(check_in_id));
        check_in.insert("monitor_slug".to_owned(), Value::String(slug));
        check_in.insert("status".to_owned(), Value::String(query.status));
        if let Some(environment) = query.environment {
            check_in.insert("environment".to_owned(), Value::String(environment));
        }
        if let Some(duration) = query.duration {
            check_in.insert("duration".to_owned(), Value::from(duration));
        }
        check_in
    };
    let payload = serde_json::to_vec(&check_in)
        .map_err(|error| BadStoreRequest::InvalidJson(format!("{error:?}")))?;
    let mut envelope = new_request_envelope(&meta, None);
    let mut item = Item::new(ItemType::CheckIn);
    item.set_payload(ContentType::Json, Bytes::from(payload));
    envelope.add_item(item);
    handle_envelope(&state, envelope, &meta, RateLimitResponse::Silent).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /api/<id>/cron/<slug>/<key>[/]`.
pub async fn post_with_key(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (project_id, slug, key) = path.into_inner();
    handle(state, request, project_id, slug, Some(key), Some(payload)).await
}

/// `POST /api/<id>/cron/<slug>[/]`.
pub async fn post(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (project_id, slug) = path.into_inner();
    handle(state, request, project_id, slug, None, Some(payload)).await
}

/// `GET /api/<id>/cron/<slug>/<key>[/]`.
pub async fn get_with_key(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, actix_web::Error> {
    let (project_id, slug, key) = path.into_inner();
    handle(state, request, project_id, slug, Some(key), None).await
}

/// `GET /api/<id>/cron/<slug>[/]`.
pub async fn get(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, actix_web::Error> {
    let (project_id, slug) = path.into_inner();
    handle(state, request, project_id, slug, None, None).await
}
