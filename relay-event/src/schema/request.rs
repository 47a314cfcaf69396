//! [`Request`]: the HTTP request of the event (`request`).
//!
//! Limits (normalization.md §8.1, §8.2): `url` 256 (+40), `fragment` 1024 (+100); `data`,
//! `headers`, `env` 8192 bytes / depth 7, `cookies` 2048 / 5, `query_string` 1024 / 3. PII
//! (pii.md): `url` `maybe`; `data`, `query_string`, `fragment`, `cookies`, `headers`, `env`
//! `true`.

use super::Headers;
use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// An HTTP request.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Request {
    /// The URL, without query string and fragment.
    #[metastructure(pii = "maybe", max_chars = 256, max_chars_allowance = 40)]
    pub url: Annotated<String>,
    /// The HTTP method.
    pub method: Annotated<String>,
    /// The protocol (e.g. `HTTP/1.1`).
    pub protocol: Annotated<String>,
    /// The request body: parsed data or a string.
    #[metastructure(pii = "true", max_bytes = 8192, max_depth = 7)]
    pub data: Annotated<Value>,
    /// The query string: a string, an object or a list of pairs.
    // TODO(schema): query-string pair list; the parsing of the string form (url-decoding)
    // is not described by the spec yet, so all forms are kept as given.
    #[metastructure(
        pii = "true",
        max_bytes = 1024,
        max_depth = 3,
        skip_serialization = "empty"
    )]
    pub query_string: Annotated<Value>,
    /// The URL fragment.
    #[metastructure(
        pii = "true",
        max_chars = 1024,
        max_chars_allowance = 100,
        skip_serialization = "empty"
    )]
    pub fragment: Annotated<String>,
    /// Cookies: a `Cookie` header string, an object or a list of pairs.
    // TODO(schema): cookie pair list; the parsing of the `Cookie` header string form is not
    // described by the spec yet, so all forms are kept as given.
    #[metastructure(
        pii = "true",
        max_bytes = 2048,
        max_depth = 5,
        skip_serialization = "empty"
    )]
    pub cookies: Annotated<Value>,
    /// Headers: an object or a list of pairs, written as pairs.
    #[metastructure(
        pii = "true",
        max_bytes = 8192,
        max_depth = 7,
        skip_serialization = "empty"
    )]
    pub headers: Annotated<Headers>,
    /// The size of the body in bytes.
    pub body_size: Annotated<u64>,
    /// Server environment data (CGI variables).
    #[metastructure(
        pii = "true",
        max_bytes = 8192,
        max_depth = 7,
        skip_serialization = "empty"
    )]
    pub env: Annotated<Object<Value>>,
    /// The content type inferred from the body.
    #[metastructure(skip_serialization = "empty")]
    pub inferred_content_type: Annotated<String>,
    /// The API target of the request (e.g. `graphql`).
    pub api_target: Annotated<String>,
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
    fn roundtrip_and_invalid() {
        let input = json!({"url": "https://x/", "method": "GET", "headers": [["A", "b"]],
            "env": {"REMOTE_ADDR": "::1"}, "y": 2});
        let request: Annotated<Request> = from_json(input.clone());
        assert_eq!(to_json(&request).ok(), Some(input));

        let request: Annotated<Request> = from_json(json!({"body_size": "big", "env": 1}));
        let request = request.value().cloned().unwrap_or_default();
        assert_eq!(
            request.body_size.meta().original_value(),
            Some(&Value::from("big"))
        );
        assert_eq!(request.env.meta().original_value(), Some(&Value::I64(1)));
    }

    #[test]
    fn headers_are_typed_pairs() {
        let request: Annotated<Request> =
            from_json(json!({"headers": {"content-type": "text/html", "x-count": 3}}));
        let output = to_json(&request).unwrap_or_default();
        assert_eq!(
            output["headers"],
            json!([["Content-Type", "text/html"], ["X-Count", "3"]])
        );
        let request: Annotated<Request> = from_json(json!({"headers": 7}));
        let output = to_json(&request).unwrap_or_default();
        assert_eq!(output["_meta"]["headers"][""]["val"], 7);
    }
}
