//! Response compression (http-api.md §1).
//!
//! When the client's `Accept-Encoding` allows `zstd`, `br`, `gzip` or `deflate`, a response
//! body of at least [`MIN_COMPRESSED_BODY_SIZE`] bytes is compressed, so small answers such
//! as `{"id":"…"}` never are. Images (except SVG), gRPC and event streams are left alone, as
//! are responses that already carry a `Content-Encoding` and statuses without a body.
//!
//! actix-web's own `middleware::Compress` is not used: it compresses bodies of any size and
//! answers `406` when `Accept-Encoding` names nothing it supports, where relay must simply
//! answer uncompressed. (Enabling actix's `compress-*` features does not touch request
//! bodies read through `web::Payload`; relay decodes those itself in `extractors::body`.)
//!
//! Invariants:
//! - Only bodies already held in memory are compressed (every relay handler builds its body
//!   from bytes); a streaming body passes through unchanged rather than being buffered here.
//! - The encoding is the one with the highest `q` value; ties go to the order of
//!   [`ResponseEncoding`] (zstd, br, gzip, deflate). `q=0` rules an encoding out; `*` and
//!   unknown names are ignored.
//! - A compressed response carries `Content-Encoding` and no stale `Content-Length`. `Vary`
//!   is left as the route set it: http-api.md §5 fixes its value on every CORS answer, large
//!   ones (such as the `429` body) included, so no `accept-encoding` entry is added.

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use relay_config::HttpEncoding;

use crate::utils::encoding::encode_body;

/// Bodies smaller than this are never compressed (http-api.md §1).
pub const MIN_COMPRESSED_BODY_SIZE: u64 = 128;

/// The `q` value of an `Accept-Encoding` entry without one.
const DEFAULT_QUALITY: f32 = 1.0;

/// Content-type prefixes whose bodies are never compressed: already compressed images, gRPC
/// framing and server-sent events (which must reach the client as they are written).
const INCOMPRESSIBLE_CONTENT_TYPES: &[&str] = &["image/", "application/grpc", "text/event-stream"];
/// SVG is text, so it is compressed despite being an image.
const COMPRESSIBLE_IMAGE_TYPE: &str = "image/svg+xml";

/// An encoding relay compresses responses with, in order of preference for equal `q` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResponseEncoding {
    Zstd,
    Brotli,
    Gzip,
    Deflate,
}

impl ResponseEncoding {
    fn parse(token: &str) -> Option<ResponseEncoding> {
        let token = token.trim();
        if token.eq_ignore_ascii_case("zstd") {
            Some(ResponseEncoding::Zstd)
        } else if token.eq_ignore_ascii_case("br") {
            Some(ResponseEncoding::Brotli)
        } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            Some(ResponseEncoding::Gzip)
        } else if token.eq_ignore_ascii_case("deflate") {
            Some(ResponseEncoding::Deflate)
        } else {
            None
        }
    }

    /// The `Content-Encoding` token.
    pub fn name(self) -> &'static str {
        match self {
            ResponseEncoding::Zstd => "zstd",
            ResponseEncoding::Brotli => "br",
            ResponseEncoding::Gzip => "gzip",
            ResponseEncoding::Deflate => "deflate",
        }
    }

    fn codec(self) -> HttpEncoding {
        match self {
            ResponseEncoding::Zstd => HttpEncoding::Zstd,
            ResponseEncoding::Brotli => HttpEncoding::Br,
            ResponseEncoding::Gzip => HttpEncoding::Gzip,
            ResponseEncoding::Deflate => HttpEncoding::Deflate,
        }
    }
}

/// The `q` value of one `Accept-Encoding` entry's parameters; `None` when malformed.
fn entry_quality<'a>(mut parameters: impl Iterator<Item = &'a str>) -> Option<f32> {
    let quality = parameters.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("q")
            .then(|| value.trim().parse::<f32>().ok())
    });
    match quality {
        None => Some(DEFAULT_QUALITY),
        Some(Some(quality)) if (0.0..=1.0).contains(&quality) => Some(quality),
        Some(_) => None,
    }
}

/// The encoding the client prefers among those relay supports, if any.
pub fn preferred_encoding(headers: &HeaderMap) -> Option<ResponseEncoding> {
    let mut best: Option<(ResponseEncoding, f32)> = None;
    let values = headers
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|value| value.to_str().ok());
    for entry in values.flat_map(|value| value.split(',')) {
        let mut parts = entry.split(';');
        let Some(encoding) = parts.next().and_then(ResponseEncoding::parse) else {
            continue;
        };
        let Some(quality) = entry_quality(parts) else {
            continue;
        };
        if quality <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_encoding, best_quality)) => {
                quality > best_quality || (quality == best_quality && encoding < best_encoding)
            }
        };
        if better {
            best = Some((encoding, quality));
        }
    }
    best.map(|(encoding, _)| encoding)
}

/// Whether a response with these properties may be compressed at all.
fn is_compressible(status: StatusCode, headers: &HeaderMap, body_size: BodySize) -> bool {
    let BodySize::Sized(size) = body_size else {
        return false;
    };
    if size < MIN_COMPRESSED_BODY_SIZE
        || headers.contains_key(header::CONTENT_ENCODING)
        || matches!(
            status,
            StatusCode::SWITCHING_PROTOCOLS
                | StatusCode::NO_CONTENT
                | StatusCode::PARTIAL_CONTENT
                | StatusCode::NOT_MODIFIED
        )
    {
        return false;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if content_type.starts_with(COMPRESSIBLE_IMAGE_TYPE) {
        return true;
    }
    !INCOMPRESSIBLE_CONTENT_TYPES
        .iter()
        .any(|prefix| content_type.starts_with(prefix))
}

/// The middleware: compresses eligible responses per the request's `Accept-Encoding`.
pub async fn compress_responses<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    let encoding = preferred_encoding(request.headers());
    let response = next.call(request).await?;
    let Some(encoding) = encoding else {
        return Ok(response.map_into_left_body());
    };
    let eligible = is_compressible(
        response.status(),
        response.headers(),
        response.response().body().size(),
    );
    if !eligible {
        return Ok(response.map_into_left_body());
    }

    let (http_request, http_response) = response.into_parts();
    let (head, body) = http_response.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => {
            let response = ServiceResponse::new(http_request, head.set_body(body));
            return Ok(response.map_into_left_body());
        }
    };
    let compressed = match encode_body(encoding.codec(), &bytes) {
        Ok(compressed) => compressed,
        Err(error) => {
            tracing::warn!(error = %error, "could not compress response, sending it uncompressed");
            let response = ServiceResponse::new(http_request, head.set_body(BoxBody::new(bytes)));
            return Ok(response.map_into_right_body());
        }
    };
    let mut compressed_response = head.set_body(BoxBody::new(compressed));
    let headers = compressed_response.headers_mut();
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(encoding.name()),
    );
    headers.remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(http_request, compressed_response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use actix_web::test as actix_test;
    use actix_web::{web, App, HttpResponse};

    use super::*;
    use crate::utils::encoding::{decode_body, RequestEncoding};

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn picks_the_highest_quality_then_the_preference_order() {
        assert_eq!(
            preferred_encoding(&accept("gzip, deflate")),
            Some(ResponseEncoding::Gzip)
        );
        assert_eq!(
            preferred_encoding(&accept("gzip, deflate, br, zstd")),
            Some(ResponseEncoding::Zstd)
        );
        assert_eq!(
            preferred_encoding(&accept("zstd;q=0.5, deflate;q=0.9")),
            Some(ResponseEncoding::Deflate)
        );
        assert_eq!(
            preferred_encoding(&accept("BR;Q=1.0")),
            Some(ResponseEncoding::Brotli)
        );
    }

    #[test]
    fn ignores_unknown_excluded_and_malformed_entries() {
        assert_eq!(preferred_encoding(&accept("identity")), None);
        assert_eq!(preferred_encoding(&accept("*")), None);
        assert_eq!(preferred_encoding(&accept("gzip;q=0")), None);
        assert_eq!(preferred_encoding(&accept("gzip;q=abc")), None);
        assert_eq!(preferred_encoding(&accept("gzip;q=2")), None);
        assert_eq!(preferred_encoding(&HeaderMap::new()), None);
        assert_eq!(
            preferred_encoding(&accept("compress, gzip;q=0.1")),
            Some(ResponseEncoding::Gzip)
        );
    }

    #[test]
    fn small_bodies_images_and_streams_stay_uncompressed() {
        let json = {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers
        };
        let ok = StatusCode::OK;
        assert!(is_compressible(ok, &json, BodySize::Sized(128)));
        assert!(!is_compressible(ok, &json, BodySize::Sized(127)));
        assert!(!is_compressible(ok, &json, BodySize::Stream));
        assert!(!is_compressible(
            StatusCode::NO_CONTENT,
            &json,
            BodySize::Sized(500)
        ));
        for (content_type, expected) in [
            ("image/gif", false),
            ("image/svg+xml", true),
            ("application/grpc+proto", false),
            ("text/event-stream", false),
            ("text/plain; charset=utf-8", true),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            assert_eq!(
                is_compressible(ok, &headers, BodySize::Sized(500)),
                expected,
                "{content_type}"
            );
        }
        let mut encoded = json.clone();
        encoded.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert!(!is_compressible(ok, &encoded, BodySize::Sized(500)));
    }

    #[actix_web::test]
    async fn compresses_large_bodies_and_keeps_small_ones() {
        let large = "x".repeat(1000);
        let app = actix_test::init_service(
            App::new()
                .route(
                    "/large",
                    web::get().to(move || {
                        let large = large.clone();
                        async move { HttpResponse::Ok().body(large) }
                    }),
                )
                .route(
                    "/small",
                    web::get().to(|| async { HttpResponse::Ok().body("{\"id\":\"1\"}") }),
                )
                .wrap(actix_web::middleware::from_fn(compress_responses)),
        )
        .await;

        let request = actix_test::TestRequest::get()
            .uri("/large")
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .to_request();
        let response = actix_test::call_service(&app, request).await;
        assert_eq!(
            response.headers().get(header::CONTENT_ENCODING).unwrap(),
            "gzip"
        );
        assert!(response.headers().get(header::CONTENT_LENGTH).is_none());
        let body = actix_test::read_body(response).await;
        let decoded = decode_body(RequestEncoding::Gzip, &body, 10_000).unwrap();
        assert_eq!(decoded, "x".repeat(1000).into_bytes());

        let request = actix_test::TestRequest::get()
            .uri("/small")
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .to_request();
        let response = actix_test::call_service(&app, request).await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(actix_test::read_body(response).await, "{\"id\":\"1\"}");

        let request = actix_test::TestRequest::get().uri("/large").to_request();
        let response = actix_test::call_service(&app, request).await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
