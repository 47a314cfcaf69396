//! [`Mechanism`]: how an exception was captured.
//!
//! `type` is required, non-empty, at most 128 characters; `description` 8192 (+200);
//! `data` 2048 bytes / depth 5 (normalization.md §6.2, §8.1, §8.2). PII (pii.md):
//! `description` and `data` `true`.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// The mechanism by which an exception was generated and handled.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Mechanism {
    /// The kind of mechanism (e.g. `generic`, `onerror`).
    #[metastructure(field = "type", required = true, nonempty = true, max_chars = 128)]
    pub ty: Annotated<String>,
    /// Whether this exception is synthetic (its type is not meaningful for grouping).
    pub synthetic: Annotated<bool>,
    /// A human-readable description.
    #[metastructure(pii = "true", max_chars = 8192, max_chars_allowance = 200)]
    pub description: Annotated<String>,
    /// A link to documentation.
    pub help_link: Annotated<String>,
    /// Whether the exception was handled by the application.
    pub handled: Annotated<bool>,
    /// The source of the exception within a group (e.g. `__context__`).
    pub source: Annotated<String>,
    /// Whether this exception is an exception group.
    pub is_exception_group: Annotated<bool>,
    /// The id of this exception within its group.
    pub exception_id: Annotated<u64>,
    /// The id of the parent exception within its group.
    pub parent_id: Annotated<u64>,
    /// Arbitrary extra data.
    #[metastructure(pii = "true", max_bytes = 2048, max_depth = 5)]
    pub data: Annotated<Object<Value>>,
    /// Operating-system error information (signal, Mach exception, errno, NSError).
    // TODO(schema): MechanismMeta (next batch).
    pub meta: Annotated<Value>,
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
        let input = json!({"type": "generic", "handled": false, "data": {"a": 1}, "z": 0});
        let mechanism: Annotated<Mechanism> = from_json(input.clone());
        assert_eq!(to_json(&mechanism).ok(), Some(input));

        let mechanism: Annotated<Mechanism> = from_json(json!({"handled": "no"}));
        let handled = &mechanism
            .value()
            .map(|m| m.handled.clone())
            .unwrap_or_default();
        assert_eq!(handled.meta().original_value(), Some(&Value::from("no")));
    }
}
