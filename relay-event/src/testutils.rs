//! Test-only schema structs, implemented with the derives (see the crate docs for the
//! contract they follow), and helpers for the tests of leaf types.

use crate::{
    annotated_from_json, to_json, Annotated, Array, FromValue, IntoValue, Object, ProcessValue,
    Timestamp, Value,
};

/// `json` parsed as a `T` and written again (payload and `_meta`).
pub fn written<T: FromValue + IntoValue>(json: serde_json::Value) -> serde_json::Value {
    to_json(&T::from_value(annotated_from_json(json))).unwrap_or_default()
}

/// The `reason` of the first error of `json` parsed as a `T`, which must be rejected with
/// `json` kept as the original value.
pub fn reason_of<T: FromValue>(json: serde_json::Value) -> Option<Value> {
    let Annotated(value, meta) = T::from_value(annotated_from_json(json.clone()));
    assert!(value.is_none());
    assert_eq!(meta.original_value(), Some(&annotated_from_json(json).0?));
    meta.errors().first()?.get("reason").cloned()
}

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Exception {
    #[metastructure(field = "type", max_chars = 256, max_chars_allowance = 20)]
    pub ty: Annotated<String>,
    #[metastructure(max_chars = 8192, max_chars_allowance = 200, pii = "maybe")]
    pub value: Annotated<String>,
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct ExceptionValues {
    #[metastructure(required = true)]
    pub values: Annotated<Array<Exception>>,
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Event {
    #[metastructure(max_chars = 200)]
    pub culprit: Annotated<String>,
    pub timestamp: Annotated<Timestamp>,
    pub exception: Annotated<ExceptionValues>,
    #[metastructure(pii = "true", max_bytes = 262_144, max_depth = 7)]
    pub extra: Annotated<Object<Value>>,
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
