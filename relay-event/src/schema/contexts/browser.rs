//! [`BrowserContext`] (`type: browser`): the web browser.
//!
//! `browser` is the computed description `"<name> <version>"` (normalization.md §7 (contexts)); it
//! is written first (normalization.md §13: `{"browser": "Chrome 120.0.0", "name": "Chrome",
//! "version": "120.0.0", "type": "browser"}`).

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Browser information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct BrowserContext {
    /// The description of the browser: `"<name> <version>"` (e.g. `Chrome 120.0.0`).
    pub browser: Annotated<String>,
    /// The name (e.g. `Chrome`).
    pub name: Annotated<String>,
    /// The version.
    pub version: Annotated<String>,
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
    fn description_first_and_invalid() {
        let input = json!({"browser": "Chrome 120.0.0", "name": "Chrome", "version": "120.0.0"});
        let browser: Annotated<BrowserContext> = from_json(input.clone());
        assert_eq!(to_json(&browser).ok(), Some(input));

        let browser: Annotated<BrowserContext> = from_json(json!({"browser": 5}));
        let description = browser
            .value()
            .map(|b| b.browser.clone())
            .unwrap_or_default();
        assert!(description.value().is_none());
        assert!(description.meta().has_errors());
        assert_eq!(description.meta().original_value(), Some(&Value::I64(5)));
    }
}
