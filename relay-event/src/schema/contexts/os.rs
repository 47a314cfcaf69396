//! [`OsContext`] (`type: os`): the operating system, with its [`LinuxDistribution`].
//!
//! `os` is the computed description `"<name> <version>"` or `"<name>"` that normalization
//! fills (normalization.md §7 (contexts)) and, like the browser's, it is written first
//! (normalization.md §13: `{"os": "Windows >=10", "name": "Windows", "version": ">=10",
//! "type": "os"}`). `raw_description` is the unparsed text normalization parses.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Operating system information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct OsContext {
    /// The description of the OS: `"<name> <version>"` or `"<name>"` (e.g. `Windows 10`).
    pub os: Annotated<String>,
    /// The name of the OS (e.g. `iOS`).
    pub name: Annotated<String>,
    /// The version.
    pub version: Annotated<String>,
    /// The internal build number.
    pub build: Annotated<String>,
    /// The kernel version.
    pub kernel_version: Annotated<String>,
    /// Whether the device is rooted or jailbroken.
    pub rooted: Annotated<bool>,
    /// The Linux distribution.
    pub distribution: Annotated<LinuxDistribution>,
    /// An unprocessed description (e.g. `uname -a` output).
    pub raw_description: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// The Linux distribution of an [`OsContext`].
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct LinuxDistribution {
    /// A stable name (e.g. `ubuntu`).
    pub name: Annotated<String>,
    /// The version.
    pub version: Annotated<String>,
    /// Name, version and release name.
    pub pretty_name: Annotated<String>,
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
        let input = json!({"os": "Windows 10", "name": "Windows", "version": "10",
            "build": "19042", "raw_description": "Microsoft Windows NT 10.0.19042.0"});
        let os: Annotated<OsContext> = from_json(input.clone());
        assert_eq!(to_json(&os).ok(), Some(input));
        let keys: Vec<String> = to_json(&os)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        assert_eq!(keys[0], "os");

        let os: Annotated<OsContext> = from_json(json!({"os": ["x"]}));
        let description = os.value().map(|o| o.os.clone()).unwrap_or_default();
        assert!(description.value().is_none());
        assert!(description.meta().has_errors());
        assert!(description.meta().original_value().is_some());
    }

    #[test]
    fn parses_os_with_distribution() {
        let input = json!({"name": "Linux", "rooted": true,
            "distribution": {"name": "ubuntu", "version": "22.04", "x": 1}, "y": "z"});
        let os: Annotated<OsContext> = from_json(input.clone());
        assert_eq!(to_json(&os).ok(), Some(input));
        let os = os.value().cloned().unwrap_or_default();
        let distribution = os.distribution.value().cloned().unwrap_or_default();
        assert_eq!(
            distribution.name.value().map(String::as_str),
            Some("ubuntu")
        );
    }
}
