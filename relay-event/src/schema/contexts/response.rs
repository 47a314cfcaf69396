//! [`ResponseContext`] (`type: response`): the HTTP response of the event.
//!
//! Limits and PII like the request's (normalization.md §8.2, pii.md): `headers` 8192 bytes /
//! depth 7, `cookies` 2048 / 5, `data` 8192 / 7, all three PII `true`.

use super::super::Headers;
use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// An HTTP response.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct ResponseContext {
    /// Cookies set by the response.
    #[metastructure(
        pii = "true",
        max_bytes = 2048,
        max_depth = 5,
        skip_serialization = "empty"
    )]
    pub cookies: Annotated<Value>,
    /// The response headers.
    #[metastructure(
        pii = "true",
        max_bytes = 8192,
        max_depth = 7,
        skip_serialization = "empty"
    )]
    pub headers: Annotated<Headers>,
    /// The HTTP status code.
    pub status_code: Annotated<u64>,
    /// The size of the body in bytes.
    pub body_size: Annotated<u64>,
    /// The response body: parsed data or a string.
    #[metastructure(pii = "true", max_bytes = 8192, max_depth = 7)]
    pub data: Annotated<Value>,
    /// The content type inferred from the body.
    #[metastructure(skip_serialization = "empty")]
    pub inferred_content_type: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn parses_a_response() {
        let response: Annotated<ResponseContext> = from_json(json!({"status_code": 500,
            "headers": {"content-type": "application/json"}, "body_size": "x", "extra": 1}));
        let output = to_json(&response).unwrap_or_default();
        assert_eq!(output["status_code"], 500);
        assert_eq!(
            output["headers"],
            json!([["Content-Type", "application/json"]])
        );
        assert_eq!(output["extra"], 1);
        assert_eq!(output["_meta"]["body_size"][""]["val"], "x");
    }
}
