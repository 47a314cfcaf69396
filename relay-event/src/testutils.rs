//! Test-only schema structs, implemented with the derives (see the crate docs for the
//! contract they follow).

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Timestamp, Value};

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
