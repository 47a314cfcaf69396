//! HTTP layers wrapped around the routes: response headers every answer carries, the
//! content-encoding gate, response compression, CORS for ingestion routes and method handling.

pub mod compression;
pub mod cors;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpResponse;

use crate::utils::encoding::{RequestEncoding, SUPPORTED_ENCODINGS};

/// Refuses unsupported `Content-Encoding`s with `415` before routing (http-api.md §1.1), so
/// the answer carries no CORS headers.
pub async fn content_encoding_gate<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    let unsupported = request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(RequestEncoding::parse)
                .is_none()
        })
        .unwrap_or(false);
    if unsupported {
        let response = HttpResponse::UnsupportedMediaType()
            .insert_header((header::ACCEPT_ENCODING, SUPPORTED_ENCODINGS))
            .finish();
        return Ok(request.into_response(response).map_into_right_body());
    }
    let response = next.call(request).await?;
    Ok(response.map_into_left_body())
}

/// Collapses runs of `/` in the path before routing (http-api.md §1); the query is kept.
///
/// Only paths that contain `//` are rewritten, so the common case costs one substring scan.
pub async fn merge_slashes<B: MessageBody + 'static>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if request.path().contains("//") {
        if let Some(uri) = merged_uri(request.uri()) {
            request.match_info_mut().get_mut().update(&uri);
            request.head_mut().uri = uri;
        }
    }
    next.call(request).await
}

fn merged_uri(uri: &actix_web::http::Uri) -> Option<actix_web::http::Uri> {
    let mut path = String::with_capacity(uri.path().len());
    for character in uri.path().chars() {
        if character == '/' && path.ends_with('/') {
            continue;
        }
        path.push(character);
    }
    if let Some(query) = uri.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path.parse().ok()?);
    actix_web::http::Uri::from_parts(parts).ok()
}

/// `405` with an `Allow` header listing `methods` (every `GET` route also answers `HEAD`).
pub fn method_not_allowed(methods: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, HeaderValue::from_static(methods)))
        .finish()
}
