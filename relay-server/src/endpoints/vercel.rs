//! Vercel log drain: `POST /api/<id>/integration/vercel/logs[/]` (http-api.md §4.10).
//!
//! Like OTLP, relay does not parse the drain's payload: the body (a JSON array or NDJSON
//! lines) becomes one internal `integration` item whose content type names the format
//! (envelope.md §3.1). Errors are the ordinary ingestion errors (http-api.md §6.1), including `429` on
//! active rate limits; the success answer is `202` with an empty body.

use actix_web::{web, HttpRequest, HttpResponse};
use relay_protocol::envelope::ContentType;

use crate::endpoints::common::{
    ingest_integration_body, require_project_meta, BadStoreRequest, RateLimitResponse,
};
use crate::endpoints::otlp::request_mime_essence;
use crate::service::ServiceState;

/// The drain formats Vercel sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VercelFormat {
    /// `application/json`: one JSON array of log entries.
    Json,
    /// `application/x-ndjson`: one JSON log entry per line.
    Ndjson,
}

impl VercelFormat {
    /// The format for a request `Content-Type` essence; `None` for anything unsupported.
    pub fn from_mime_essence(essence: Option<&str>) -> Option<VercelFormat> {
        match essence? {
            "application/json" => Some(VercelFormat::Json),
            "application/x-ndjson" => Some(VercelFormat::Ndjson),
            _ => None,
        }
    }

    /// The content type of the internal `integration` item.
    pub fn integration_content_type(self) -> ContentType {
        match self {
            VercelFormat::Json => ContentType::VercelLogsJson,
            VercelFormat::Ndjson => ContentType::VercelLogsNdjson,
        }
    }
}

/// `POST /api/<id>/integration/vercel/logs[/]`.
pub async fn handle(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let meta = require_project_meta(&state, &request, &path)?;
    let format = VercelFormat::from_mime_essence(request_mime_essence(&request).as_deref())
        .ok_or(BadStoreRequest::UnsupportedMediaType)?;
    let content_type = format.integration_content_type();
    let rate_limits = RateLimitResponse::TooManyRequests;
    ingest_integration_body(&state, &request, &meta, payload, content_type, rate_limits).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_mime_essence() {
        assert_eq!(
            VercelFormat::from_mime_essence(Some("application/json")),
            Some(VercelFormat::Json)
        );
        assert_eq!(
            VercelFormat::from_mime_essence(Some("application/x-ndjson")),
            Some(VercelFormat::Ndjson)
        );
        assert_eq!(VercelFormat::from_mime_essence(Some("text/plain")), None);
        assert_eq!(VercelFormat::from_mime_essence(None), None);
    }

    #[test]
    fn item_content_types_name_the_format() {
        assert_eq!(
            VercelFormat::Json.integration_content_type().as_str(),
            "application/vnd.sentry.integration.vercel.logs+json"
        );
        assert_eq!(
            VercelFormat::Ndjson.integration_content_type().as_str(),
            "application/vnd.sentry.integration.vercel.logs+ndjson"
        );
    }
}
