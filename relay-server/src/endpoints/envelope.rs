//! `POST /api/<id>/envelope/` (http-api.md §4.1).

use crate::endpoints::common::{
    event_id_response, handle_envelope, parse_request_envelope, BadStoreRequest, RateLimitResponse,
};
use crate::extractors::{envelope_dsn_meta, extract_request_meta, read_body, MetaSource};
use crate::service::ServiceState;
use actix_web::{web, HttpRequest, HttpResponse};

pub async fn handle(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let source = MetaSource {
        project_id: Some(path.as_str()),
        path_key: None,
    };
    let meta =
        extract_request_meta(&request, &state.config, source).map_err(BadStoreRequest::from)?;
    let limit = state.config.max_envelope_size().as_usize();
    let body = read_body(&request, payload, limit).await?;
    let mut meta = match meta {
        Some(meta) => meta,
        None => envelope_dsn_meta(&request, &state.config, &body).map_err(BadStoreRequest::from)?,
    };
    let envelope = parse_request_envelope(body, &mut meta)?;
    let handled =
        handle_envelope(&state, envelope, &meta, RateLimitResponse::TooManyRequests).await?;
    Ok(event_id_response(handled.event_id))
}
