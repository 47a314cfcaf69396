//! [`Exception`]: one exception of the event's `exception.values`.
//!
//! `type` and `module` 256 (+20) characters, `value` 8192 (+200), `thread_id` 128
//! (normalization.md §8.1). `value` is a JSON-lenient string (normalization.md §2). PII
//! (pii.md): `value` `true`.

use crate::{Annotated, FromValue, IntoValue, JsonLenientString, Object, ProcessValue, Value};

use super::{Mechanism, Stacktrace, ThreadId};

/// An exception (error) of the event.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Exception {
    /// The type of the exception (e.g. `ValueError`).
    #[metastructure(field = "type", max_chars = 256, max_chars_allowance = 20)]
    pub ty: Annotated<String>,
    /// The message of the exception.
    #[metastructure(pii = "true", max_chars = 8192, max_chars_allowance = 200)]
    pub value: Annotated<JsonLenientString>,
    /// The module or package of the exception type.
    #[metastructure(max_chars = 256, max_chars_allowance = 20)]
    pub module: Annotated<String>,
    /// The stack trace where the exception was raised.
    pub stacktrace: Annotated<Stacktrace>,
    /// The unsymbolicated stack trace, if symbolicated.
    pub raw_stacktrace: Annotated<Stacktrace>,
    /// The id of the thread that raised it (see `threads`).
    #[metastructure(max_chars = 128)]
    pub thread_id: Annotated<ThreadId>,
    /// How the exception was captured.
    pub mechanism: Annotated<Mechanism>,
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
    fn roundtrip_and_lenient_value() {
        let input = json!({"type": "E", "value": "boom", "thread_id": 1,
            "mechanism": {"type": "generic"}, "stacktrace": {"frames": [{"function": "f"}]},
            "extra_field": true});
        let exception: Annotated<Exception> = from_json(input.clone());
        assert_eq!(to_json(&exception).ok(), Some(input));

        let exception: Annotated<Exception> = from_json(json!({"value": {"a": 1}, "type": 3}));
        let exception = exception.value().cloned().unwrap_or_default();
        assert_eq!(
            exception.value.value().map(|v| v.as_str()),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(exception.ty.meta().original_value(), Some(&Value::I64(3)));
    }
}
