//! [`RuntimeContext`] (`type: runtime`): the runtime or language VM.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Runtime information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct RuntimeContext {
    /// The name (e.g. `CPython`).
    pub name: Annotated<String>,
    /// The version.
    pub version: Annotated<String>,
    /// The internal build number.
    pub build: Annotated<String>,
    /// An unprocessed description.
    pub raw_description: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
