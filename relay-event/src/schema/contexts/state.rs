//! [`StateContext`] (`type: state`): the application state (e.g. a Redux store) as
//! documented for Sentry's SDKs (not part of the published schema).

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Application state.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct StateContext {
    /// The state.
    #[metastructure(pii = "true")]
    pub state: Annotated<StateValue>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// The state of a [`StateContext`]: its kind and its value.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct StateValue {
    /// The kind of state (e.g. `redux`).
    #[metastructure(field = "type")]
    pub ty: Annotated<String>,
    /// The state itself.
    #[metastructure(pii = "true")]
    pub value: Annotated<Value>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
