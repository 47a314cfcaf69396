//! [`ProfileContext`] (`type: profile`): the profile the event belongs to.

use super::super::EventId;
use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Profile information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct ProfileContext {
    /// The id of the (transaction) profile.
    pub profile_id: Annotated<EventId>,
    /// The id of the continuous profiler session.
    pub profiler_id: Annotated<EventId>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
