//! [`AppContext`] (`type: app`): the application.

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Value};

/// Application information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct AppContext {
    /// When the app was started (ISO 8601 text).
    pub app_start_time: Annotated<String>,
    /// An application-specific device hash.
    pub device_app_hash: Annotated<String>,
    /// The build type (e.g. `enterprise`).
    pub build_type: Annotated<String>,
    /// The bundle identifier.
    pub app_identifier: Annotated<String>,
    /// The human-readable name.
    pub app_name: Annotated<String>,
    /// The human-readable version.
    pub app_version: Annotated<String>,
    /// The internal build identifier.
    pub app_build: Annotated<String>,
    /// The memory used by the app in bytes.
    pub app_memory: Annotated<u64>,
    /// Whether the app was in the foreground.
    pub in_foreground: Annotated<bool>,
    /// The names of the visible views.
    #[metastructure(skip_serialization = "empty")]
    pub view_names: Annotated<Array<String>>,
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
    fn parses_app_and_keeps_unknowns() {
        let input = json!({"app_name": "demo", "app_memory": 1024, "in_foreground": true,
            "view_names": ["Main", "Settings"], "permissions": {"camera": "granted"}});
        let app: Annotated<AppContext> = from_json(input.clone());
        assert_eq!(to_json(&app).ok(), Some(input));
        let app: Annotated<AppContext> = from_json(json!({"view_names": "Main"}));
        let app = app.value().cloned().unwrap_or_default();
        assert_eq!(
            app.view_names.meta().original_value(),
            Some(&Value::from("Main"))
        );
    }
}
