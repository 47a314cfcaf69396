//! [`Breadcrumb`]: one entry of the event's `breadcrumbs.values`.
//!
//! `type` and `category` 128 characters, `message` 8192 (+200), `data` 2048 bytes / depth 5
//! (normalization.md §8.1, §8.2). PII (pii.md): `message` and `data` `true`.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Timestamp, Value};

use super::{EventId, Level};

/// A breadcrumb: an event that happened before the event.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Breadcrumb {
    /// When it happened.
    pub timestamp: Annotated<Timestamp>,
    /// The type (e.g. `default`, `http`, `navigation`).
    #[metastructure(field = "type", max_chars = 128)]
    pub ty: Annotated<String>,
    /// The category (e.g. `ui.click`).
    #[metastructure(max_chars = 128)]
    pub category: Annotated<String>,
    /// The severity.
    pub level: Annotated<Level>,
    /// A human-readable message.
    #[metastructure(pii = "true", max_chars = 8192, max_chars_allowance = 200)]
    pub message: Annotated<String>,
    /// Arbitrary data.
    #[metastructure(
        pii = "true",
        max_bytes = 2048,
        max_depth = 5,
        skip_serialization = "empty"
    )]
    pub data: Annotated<Object<Value>>,
    /// The id of a related event.
    pub event_id: Annotated<EventId>,
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
        let input = json!({"timestamp": 1.5, "type": "http", "level": "info",
            "data": {"url": "/"}, "origin": "x"});
        let crumb: Annotated<Breadcrumb> = from_json(input.clone());
        assert_eq!(to_json(&crumb).ok(), Some(input));

        let crumb: Annotated<Breadcrumb> = from_json(json!({"level": "loud", "timestamp": []}));
        let crumb = crumb.value().cloned().unwrap_or_default();
        assert_eq!(
            crumb.level.meta().original_value(),
            Some(&Value::from("loud"))
        );
        assert!(crumb.timestamp.meta().has_errors());
    }
}
