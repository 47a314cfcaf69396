//! Legacy event ingestion: `POST|GET /api/<id>/store/` and `/api/store/` (http-api.md §4.2).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use bytes::Bytes;
use relay_protocol::envelope::{ContentType, Envelope, Item, ItemType};
use relay_protocol::EventId;
use serde::Deserialize;

use crate::endpoints::common::{
    event_id_response, handle_envelope, new_request_envelope, parse_request_envelope,
    require_request_meta, BadStoreRequest, RateLimitResponse,
};
use crate::extractors::{read_body, MetaSource, RequestMeta};
use crate::service::ServiceState;
use crate::utils::encoding::inflate_zlib;

/// A transparent 1×1 GIF, the answer to `GET` store requests.
const TRANSPARENT_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x01, 0x44, 0x00, 0x3b,
];

/// The fields of a JSON event the store endpoint reads.
#[derive(Deserialize)]
struct MinimalEvent {
    #[serde(default)]
    event_id: Option<EventId>,
    #[serde(default, rename = "type")]
    ty: Option<String>,
}

fn authenticate(
    state: &ServiceState,
    request: &HttpRequest,
    project_id: Option<&str>,
) -> Result<RequestMeta, BadStoreRequest> {
    let source = MetaSource {
        project_id,
        path_key: None,
    };
    require_request_meta(state, request, source)
}

/// Decodes a legacy body: JSON, base64 JSON or base64 zlib JSON.
fn decode_event_body(body: &[u8], limit: usize) -> Result<Vec<u8>, BadStoreRequest> {
    if body.is_empty() || body.starts_with(b"{") {
        return Ok(body.to_vec());
    }
    let trimmed: Vec<u8> = body
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&trimmed))
        .map_err(|_| BadStoreRequest::InvalidBody)?;
    if decoded.starts_with(b"{") {
        return Ok(decoded);
    }
    inflate_zlib(&decoded, limit).map_err(|_| BadStoreRequest::InvalidBody)
}

/// Rewrites `NaN`/`Infinity` tokens outside strings (old Python SDKs send them).
fn sanitize_python_json(body: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut index = 0;
    while index < body.len() {
        let byte = body[index];
        if in_string {
            output.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            index += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
        }
        // JSON has no representation of these floats; they are stored as null.
        let rest = &body[index..];
        let token = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|token| rest.starts_with(token));
        if let Some(token) = token {
            output.extend_from_slice(b"null");
            index += token.len();
            continue;
        }
        output.push(byte);
        index += 1;
    }
    output
}

/// Wraps a JSON event into an envelope (envelope.md §10).
fn event_envelope(
    state: &ServiceState,
    meta: &RequestMeta,
    body: Vec<u8>,
) -> Result<(Envelope, RequestMeta), BadStoreRequest> {
    let limit = state.config.max_event_size().as_usize();
    let decoded = decode_event_body(&body, limit)?;
    if decoded.is_empty() {
        return Err(BadStoreRequest::EmptyBody);
    }
    let is_python = meta.client.as_deref().is_some_and(|client| {
        client.starts_with("raven-python/") || client.starts_with("sentry-python/")
    });
    let decoded = if is_python {
        sanitize_python_json(&decoded)
    } else {
        decoded
    };
    let minimal: MinimalEvent = serde_json::from_slice(&decoded)
        .map_err(|error| BadStoreRequest::InvalidJson(format!("{error:?}")))?;
    let event_id = minimal.event_id.unwrap_or_else(EventId::new);
    let item_type = match minimal.ty.as_deref() {
        Some("transaction") => ItemType::Transaction,
        Some("csp") => ItemType::Security,
        Some("feedback") => ItemType::Feedback,
        _ => ItemType::Event,
    };
    let mut envelope = new_request_envelope(meta, Some(event_id));
    let mut item = Item::new(item_type);
    item.set_payload(ContentType::Json, Bytes::from(decoded));
    envelope.add_item(item);
    Ok((envelope, meta.clone()))
}

async fn store(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    project_id: Option<String>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let mut meta = authenticate(&state, &request, project_id.as_deref())?;
    let is_envelope = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == b"application/x-sentry-envelope");
    let limit = if is_envelope {
        state.config.max_envelope_size()
    } else {
        state.config.max_event_size()
    }
    .as_usize();
    let body = read_body(&request, payload, limit).await?;
    if body.is_empty() {
        return Err(BadStoreRequest::EmptyBody.into());
    }
    let (envelope, meta) = if is_envelope {
        (parse_request_envelope(body, &mut meta)?, meta)
    } else {
        event_envelope(&state, &meta, body.to_vec())?
    };
    let handled =
        handle_envelope(&state, envelope, &meta, RateLimitResponse::TooManyRequests).await?;
    Ok(event_id_response(handled.event_id))
}

#[derive(Deserialize)]
struct StoreQuery {
    #[serde(default)]
    sentry_data: Option<String>,
}

async fn store_get(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    project_id: Option<String>,
) -> Result<HttpResponse, actix_web::Error> {
    let meta = authenticate(&state, &request, project_id.as_deref())?;
    let query: StoreQuery = serde_urlencoded::from_str(request.query_string())
        .unwrap_or(StoreQuery { sentry_data: None });
    let data = query.sentry_data.unwrap_or_default();
    let (envelope, meta) = event_envelope(&state, &meta, data.into_bytes())?;
    handle_envelope(&state, envelope, &meta, RateLimitResponse::TooManyRequests).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/gif")
        .body(TRANSPARENT_GIF))
}

/// `POST /api/<id>/store/`.
pub async fn post_with_project(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    store(state, request, Some(path.into_inner()), payload).await
}

/// `POST /api/store/`.
pub async fn post_without_project(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    store(state, request, None, payload).await
}

/// `GET /api/<id>/store/`.
pub async fn get_with_project(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, actix_web::Error> {
    store_get(state, request, Some(path.into_inner())).await
}

/// `GET /api/store/`.
pub async fn get_without_project(
    state: web::Data<ServiceState>,
    request: HttpRequest,
) -> Result<HttpResponse, actix_web::Error> {
    store_get(state, request, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_and_zlib_bodies() {
        let json = br#"{"message":"hi"}"#;
        let base64 = base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(decode_event_body(base64.as_bytes(), 1024).unwrap(), json);
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, json).unwrap();
        let compressed = encoder.finish().unwrap();
        let base64 = base64::engine::general_purpose::STANDARD.encode(compressed);
        assert_eq!(decode_event_body(base64.as_bytes(), 1024).unwrap(), json);
        assert!(matches!(
            decode_event_body(b" {\"a\":1}", 1024),
            Err(BadStoreRequest::InvalidBody)
        ));
    }

    #[test]
    fn python_nan_tokens_become_null_outside_strings() {
        let body = br#"{"a":NaN,"b":"NaN","c":-Infinity,"d":Infinity}"#;
        let sanitized = sanitize_python_json(body);
        assert_eq!(
            sanitized,
            br#"{"a":null,"b":"NaN","c":null,"d":null}"#.to_vec()
        );
    }
}
