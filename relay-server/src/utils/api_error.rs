//! The JSON error body every relay endpoint answers with (http-api.md §6):
//! `{"detail": "...", "causes": [...]}`. Shared by the endpoints and the request extractors.

use serde::Serialize;

/// The JSON error body of http-api.md §6.
#[derive(Serialize)]
pub struct ApiErrorResponse {
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
}

impl ApiErrorResponse {
    /// Builds the body from an error and its chain of sources.
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> ApiErrorResponse {
        let mut causes = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        ApiErrorResponse {
            detail: error.to_string(),
            causes,
        }
    }

    /// A body with one cause.
    pub fn with_cause(detail: impl Into<String>, cause: impl Into<String>) -> ApiErrorResponse {
        ApiErrorResponse {
            detail: detail.into(),
            causes: vec![cause.into()],
        }
    }
}
