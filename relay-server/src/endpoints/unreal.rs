//! `POST /api/<id>/unreal/<sentry_key>/`: Unreal Engine crash reports (http-api.md §4.7).

use actix_web::{web, HttpRequest, HttpResponse};
use relay_protocol::envelope::{ContentType, Item, ItemType};
use relay_protocol::EventId;
use serde::Deserialize;

use crate::endpoints::common::{
    handle_envelope, new_request_envelope, require_request_meta, BadStoreRequest, RateLimitResponse,
};
use crate::extractors::{read_body, MetaSource};
use crate::service::ServiceState;

#[derive(Deserialize, Default)]
struct UnrealQuery {
    #[serde(default, rename = "UserID")]
    user_id: Option<String>,
}

pub async fn handle(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (project_id, sentry_key) = path.into_inner();
    let source = MetaSource {
        project_id: Some(&project_id),
        path_key: Some(&sentry_key),
    };
    let meta = require_request_meta(&state, &request, source)?;
    let limit = state.config.max_attachments_size().as_usize();
    let body = read_body(&request, payload, limit).await?;
    if body.is_empty() {
        return Err(BadStoreRequest::EmptyBody.into());
    }
    let event_id = EventId::new();
    let mut envelope = new_request_envelope(&meta, Some(event_id));
    let query: UnrealQuery = serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    if let Some(user_id) = query.user_id {
        envelope
            .headers_mut()
            .other
            .insert("unreal_user_id".to_owned(), user_id.into());
    }
    let mut item = Item::new(ItemType::UnrealReport);
    item.set_payload(ContentType::OctetStream, body);
    envelope.add_item(item);
    handle_envelope(&state, envelope, &meta, RateLimitResponse::Silent).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(event_id.hyphenated()))
}
