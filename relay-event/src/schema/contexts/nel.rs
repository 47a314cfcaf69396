//! [`NelContext`] (`type: nel`): a Network Error Logging report.
//!
//! `phase` (`dns`, `connection`, `application`) and `server_ip` are kept as strings.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Network Error Logging information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct NelContext {
    /// The error type (e.g. `dns.unreachable`).
    pub error_type: Annotated<String>,
    /// The IP address of the server the request was sent to.
    pub server_ip: Annotated<String>,
    /// The time between the start of the request and the report, in milliseconds.
    pub elapsed_time: Annotated<u64>,
    /// The phase of the request the error occurred in.
    pub phase: Annotated<String>,
    /// The sampling fraction of the report.
    pub sampling_fraction: Annotated<f64>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
