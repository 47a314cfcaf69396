//! [`BrowserContext`] (`type: browser`): the web browser.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Browser information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct BrowserContext {
    /// The name (e.g. `Chrome`).
    pub name: Annotated<String>,
    /// The version.
    pub version: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
