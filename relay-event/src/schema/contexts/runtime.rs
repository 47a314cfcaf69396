//! [`RuntimeContext`] (`type: runtime`): the runtime or language VM.
//!
//! `runtime` is the computed description `"<name> <version>"` that normalization fills; it is
//! written first like the `browser` and `os` descriptions (normalization.md §7 (contexts), §13).
//! `raw_description` is the unparsed text normalization parses.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Runtime information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct RuntimeContext {
    /// The description of the runtime: `"<name> <version>"` (e.g. `CPython 3.12.1`).
    pub runtime: Annotated<String>,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn description_fields() {
        let input = json!({"runtime": ".NET Framework 4.8.4250.0", "name": ".NET Framework",
            "version": "4.8.4250.0", "raw_description": ".NET Framework 4.8.4250.0"});
        let runtime: Annotated<RuntimeContext> = from_json(input.clone());
        assert_eq!(to_json(&runtime).ok(), Some(input));

        let runtime: Annotated<RuntimeContext> = from_json(json!({"runtime": false}));
        let description = runtime
            .value()
            .map(|r| r.runtime.clone())
            .unwrap_or_default();
        assert!(description.value().is_none());
        assert!(description.meta().has_errors());
        assert_eq!(
            description.meta().original_value(),
            Some(&Value::Bool(false))
        );
    }
}
