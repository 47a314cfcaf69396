//! [`FlagsContext`] (`type: flags`): the feature flags evaluated before the event, as
//! documented for Sentry's SDKs (not part of the published schema): `values` is a list of
//! `{"flag": name, "result": value}`.

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Value};

/// Feature flag evaluations.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct FlagsContext {
    /// The evaluations, oldest first.
    pub values: Annotated<Array<FlagEntry>>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// One feature flag evaluation.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "flagscontextitem")]
pub struct FlagEntry {
    /// The name of the flag.
    pub flag: Annotated<String>,
    /// The evaluation result (usually a boolean).
    pub result: Annotated<Value>,
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
    fn flag_entries() {
        let input =
            json!({"values": [{"flag": "new-ui", "result": true}, {"flag": "v", "result": "b"}]});
        let flags: Annotated<FlagsContext> = from_json(input.clone());
        assert_eq!(to_json(&flags).ok(), Some(input));
        let flags: Annotated<FlagsContext> = from_json(json!({"values": ["x"]}));
        let output = to_json(&flags).unwrap_or_default();
        assert_eq!(output["_meta"]["values"]["0"][""]["val"], "x");
    }
}
