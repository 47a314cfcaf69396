//! [`OtelContext`] (`type: otel`): OpenTelemetry attributes and resource.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// OpenTelemetry data of the event.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct OtelContext {
    /// The OpenTelemetry attributes.
    pub attributes: Annotated<Object<Value>>,
    /// The OpenTelemetry resource.
    pub resource: Annotated<Object<Value>>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
