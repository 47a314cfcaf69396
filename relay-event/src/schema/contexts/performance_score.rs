//! [`PerformanceScoreContext`] (`type: performance_score`): the version of the performance
//! score profile used.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Performance score information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct PerformanceScoreContext {
    /// The version of the score profile.
    pub score_profile_version: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
