//! CORS for ingestion routes (http-api.md §5).
//!
//! Every `OPTIONS` request to such a route is a preflight answered here, without
//! authentication; every other answer (success or error) gets the exposure headers.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::HttpResponse;

const ALLOW_ORIGIN: HeaderValue = HeaderValue::from_static("*");
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("POST");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static(
    "x-sentry-auth,x-requested-with,x-forwarded-for,origin,referer,accept,content-type,authentication,authorization,content-encoding,transfer-encoding",
);
const MAX_AGE: HeaderValue = HeaderValue::from_static("3600");
const EXPOSE_HEADERS: HeaderValue =
    HeaderValue::from_static("x-sentry-error,x-sentry-rate-limits,retry-after");
const VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// The preflight answer for a route accepting `allow`.
pub fn preflight(allow: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW_ORIGIN))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
        .insert_header((header::VARY, VARY))
        .insert_header((header::ALLOW, HeaderValue::from_static(allow)))
        .insert_header((header::CONTENT_LENGTH, HeaderValue::from_static("0")))
        .finish()
}

/// Adds the non-preflight CORS headers to every response of the wrapped route.
pub async fn cors_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_options = request.method() == Method::OPTIONS;
    let mut response = next.call(request).await?;
    if !is_options {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW_ORIGIN);
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
        headers.insert(header::VARY, VARY);
    }
    Ok(response)
}
