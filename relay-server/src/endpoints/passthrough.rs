//! The fallback forwarder (http-api.md §9) and the pass-through of registration requests
//! (relay-protocol.md §3.4).
//!
//! Requests go through the upstream queue as low-priority jobs that are never retried; the
//! caller waits at most `http.timeout` from the moment the request is queued.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::oneshot;

use crate::extractors::signed::RELAY_API_BODY_LIMIT;
use crate::extractors::{read_body, BodyError};
use crate::service::ServiceState;
use crate::services::upstream::{
    Priority, SignMode, UpstreamJob, UpstreamRequest, UpstreamRequestError, UpstreamResponse,
};

/// Headers never copied between hops.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "keep-alive",
];

/// Additional request headers not copied (the body was decoded; the client re-frames it).
const NOT_FORWARDED: &[&str] = &["host", "content-encoding", "content-length"];

fn is_forwardable(name: &str) -> bool {
    !HOP_BY_HOP.contains(&name) && !NOT_FORWARDED.contains(&name)
}

/// The body limit for a forwarded path (http-api.md §1.2).
fn body_limit(state: &ServiceState, path: &str) -> usize {
    let config = &state.config;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_file_upload = segments.len() >= 7
        && segments.starts_with(&["api", "0", "projects"])
        && ((segments.get(5) == Some(&"releases") && segments.get(7) == Some(&"files"))
            || segments.get(5) == Some(&"dsyms"));
    let is_chunk_upload = segments.len() >= 4
        && segments.starts_with(&["api", "0", "organizations"])
        && segments.get(4) == Some(&"chunk-upload");
    let limit = if is_file_upload {
        config.max_api_file_upload_size()
    } else if is_chunk_upload {
        config.max_api_chunk_upload_size()
    } else {
        config.max_api_payload_size()
    };
    limit.as_usize()
}

struct ForwardJob {
    request: Option<UpstreamRequest>,
    deadline: Instant,
    respond: Option<oneshot::Sender<Result<UpstreamResponse, UpstreamRequestError>>>,
}

impl UpstreamJob for ForwardJob {
    fn priority(&self) -> Priority {
        Priority::Low
    }

    fn retryable(&self) -> bool {
        false
    }

    fn build(&mut self) -> Result<UpstreamRequest, UpstreamRequestError> {
        self.request
            .take()
            .ok_or_else(|| UpstreamRequestError::BuildFailed("request already sent".into()))
    }

    fn complete(mut self: Box<Self>, result: Result<UpstreamResponse, UpstreamRequestError>) {
        if let Some(respond) = self.respond.take() {
            let _ = respond.send(result);
        }
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.deadline)
    }
}

/// Copies forwardable request headers.
pub(crate) fn copy_headers(request: &HttpRequest) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in request.headers() {
        if !is_forwardable(name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// The forwarding chain line of http-api.md §3.5.
pub(crate) fn forwarding_chain(request: &HttpRequest) -> String {
    let peer = request.peer_addr().map(|addr| addr.ip().to_string());
    let incoming = [
        "cf-connecting-ip",
        "x-vercel-forwarded-for",
        "x-sentry-forwarded-for",
        "x-forwarded-for",
    ]
    .iter()
    .filter_map(|name| request.headers().get(*name))
    .filter_map(|value| value.to_str().ok())
    .map(str::trim)
    .find(|value| !value.is_empty());
    match (incoming, peer) {
        (Some(incoming), Some(peer)) => format!("{incoming}, {peer}"),
        (Some(incoming), None) => incoming.to_owned(),
        (None, Some(peer)) => peer,
        (None, None) => String::new(),
    }
}

/// Sends a request through the upstream queue and turns the answer (or the failure) into
/// the response for the client (http-api.md §9 steps 3 and 4).
pub(crate) async fn send_through_queue(
    state: &ServiceState,
    upstream_request: UpstreamRequest,
) -> HttpResponse {
    let timeout = state.config.http_timeout();
    let (sender, receiver) = oneshot::channel();
    state.upstream.enqueue(Box::new(ForwardJob {
        request: Some(upstream_request),
        deadline: Instant::now() + timeout,
        respond: Some(sender),
    }));
    let result = match tokio::time::timeout(timeout, receiver).await {
        Err(_) => return HttpResponse::GatewayTimeout().finish(),
        Ok(Err(_)) => return HttpResponse::InternalServerError().finish(),
        Ok(Ok(result)) => result,
    };
    match result {
        Ok(response) => pass_through(response),
        Err(UpstreamRequestError::Timeout) => HttpResponse::GatewayTimeout().finish(),
        Err(UpstreamRequestError::Network(error)) if error.is_timeout() => {
            HttpResponse::GatewayTimeout().finish()
        }
        Err(UpstreamRequestError::Network(_)) => HttpResponse::BadGateway().finish(),
        Err(error) => {
            tracing::error!(error = %error, "error forwarding request");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Streams the upstream's answer back, minus hop-by-hop headers.
///
/// The HTTP client decodes gzip itself and then drops `Content-Encoding`; any other encoding
/// the upstream chose (the caller's `Accept-Encoding` is forwarded) stays on the body, so its
/// header must stay too.
fn pass_through(response: UpstreamResponse) -> HttpResponse {
    let status =
        StatusCode::from_u16(response.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponseBuilder::new(status);
    for (name, value) in &response.headers {
        let name_str = name.as_str();
        if HOP_BY_HOP.contains(&name_str) || name_str == "content-length" || name_str == "server" {
            continue;
        }
        builder.append_header((name_str, value.as_bytes()));
    }
    builder.body(response.body)
}

/// Forwards any request to the upstream (http-api.md §9).
pub async fn forward_request(
    state: &ServiceState,
    request: &HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let path = request.uri().path();
    let forwarding_disabled = !state.config.forwarder_enabled();
    if forwarding_disabled || path == "/api/" || !path.starts_with("/api/") {
        return HttpResponse::NotFound().finish();
    }
    let limit = body_limit(state, path);
    let announced = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return HttpResponse::PayloadTooLarge()
            .content_type("text/plain; charset=utf-8")
            .body("length limit exceeded");
    }
    let body = match read_body(request, payload, limit).await {
        Ok(body) => body,
        // Discovered while streaming: an empty 413 (http-api.md §1.2).
        Err(BodyError::TooLarge) => return HttpResponse::PayloadTooLarge().finish(),
        Err(error) => return error.to_response(),
    };
    let mut headers = copy_headers(request);
    if let Ok(chain) = HeaderValue::from_str(&forwarding_chain(request)) {
        headers.append("x-forwarded-for", chain);
    }
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|value| value.as_str().to_owned())
        .unwrap_or_else(|| path.to_owned());
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    send_through_queue(
        state,
        UpstreamRequest {
            method,
            path: path_and_query,
            headers,
            body,
            sign: SignMode::Unsigned,
            target: None,
        },
    )
    .await
}

/// The actix default service: everything no route matched.
pub async fn fallback(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    forward_request(&state, &request, payload).await
}

/// `/api/0/relays/register/{challenge,response}/`: passed to the upstream unchanged.
pub async fn register(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body: Bytes = match read_body(&request, payload, RELAY_API_BODY_LIMIT).await {
        Ok(body) => body,
        Err(error) => return error.to_response(),
    };
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|value| value.as_str().to_owned())
        .unwrap_or_default();
    send_through_queue(
        &state,
        UpstreamRequest {
            method: reqwest::Method::POST,
            path: path_and_query,
            headers: copy_headers(&request),
            body,
            sign: SignMode::Unsigned,
            target: None,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_framing_headers_are_not_forwarded() {
        assert!(!is_forwardable("connection"));
        assert!(!is_forwardable("content-length"));
        assert!(!is_forwardable("host"));
        assert!(is_forwardable("x-forwarded-for"));
        assert!(is_forwardable("authorization"));
    }
}
