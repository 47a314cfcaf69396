//! [`LogEntry`]: the event's log message.
//!
//! A value that is not an object is the formatted message: a string as it is, anything else
//! as its JSON text (`5` → `"5"`, as Sentry's normalizer does); its meta goes onto
//! `formatted`.
//!
//! `message` and `formatted` 8192 (+200) characters, `params` 2048 bytes / depth 5
//! (normalization.md §8.1, §8.2). PII (pii.md): `formatted`, `params` `true`, `message`
//! `false`.

use crate::json::value_to_json;
use crate::{Annotated, FromValue, IntoValue, Meta, Object, ProcessValue, Value};

/// A log message, optionally a format string with parameters.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(from_non_object = "from_formatted")]
pub struct LogEntry {
    /// The format string (or raw message).
    #[metastructure(max_chars = 8192, max_chars_allowance = 200)]
    pub message: Annotated<String>,
    /// The formatted message.
    #[metastructure(pii = "true", max_chars = 8192, max_chars_allowance = 200)]
    pub formatted: Annotated<String>,
    /// Format parameters: a list or an object.
    #[metastructure(pii = "true", max_bytes = 2048, max_depth = 5)]
    pub params: Annotated<Value>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

impl LogEntry {
    /// A log entry of only a formatted message: `value` as text (see the module docs).
    fn from_formatted(value: Value, meta: Meta) -> Annotated<Self> {
        let text = match value {
            Value::String(text) => text,
            other => value_to_json(&other).to_string(),
        };
        Annotated::new(LogEntry {
            formatted: Annotated(Some(text), meta),
            ..LogEntry::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn roundtrip_and_invalid() {
        let input = json!({"message": "a %s", "params": ["b"], "formatted": "a b", "x": 1});
        let entry: Annotated<LogEntry> = from_json(input.clone());
        assert_eq!(to_json(&entry).ok(), Some(input));

        for (input, formatted) in [
            (json!("text"), "text"),
            (json!(5), "5"),
            (json!([1]), "[1]"),
        ] {
            let entry: Annotated<LogEntry> = from_json(input);
            assert_eq!(to_json(&entry).ok(), Some(json!({"formatted": formatted})));
        }
        let entry: Annotated<LogEntry> = from_json(json!({"message": 5}));
        let message = entry.value().map(|e| e.message.clone()).unwrap_or_default();
        assert!(message.value().is_none());
        assert_eq!(message.meta().original_value(), Some(&Value::I64(5)));
    }
}
