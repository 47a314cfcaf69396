//! [`ClientSdkInfo`]: the SDK that sent the event (`sdk`).
//!
//! `name` and `version` are required, at most 256 (+20) characters (normalization.md §6.2,
//! §8.1). PII (pii.md): `client_ip` `true`.

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Value};

/// Information about the client SDK.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct ClientSdkInfo {
    /// The SDK name (e.g. `sentry.python`).
    #[metastructure(required = true, max_chars = 256, max_chars_allowance = 20)]
    pub name: Annotated<String>,
    /// The SDK version.
    #[metastructure(required = true, max_chars = 256, max_chars_allowance = 20)]
    pub version: Annotated<String>,
    /// Enabled integrations.
    pub integrations: Annotated<Array<String>>,
    /// Enabled features.
    pub features: Annotated<Array<String>>,
    /// Installed packages.
    pub packages: Annotated<Array<ClientSdkPackage>>,
    /// The client's IP address, as seen by relay.
    #[metastructure(pii = "true")]
    pub client_ip: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// A package of an SDK.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct ClientSdkPackage {
    /// The package name (e.g. `pypi:sentry-sdk`).
    pub name: Annotated<String>,
    /// The package version.
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
    fn roundtrip_and_invalid() {
        let input = json!({"name": "s", "version": "1", "integrations": ["a"],
            "packages": [{"name": "p", "version": "2"}], "q": 1});
        let sdk: Annotated<ClientSdkInfo> = from_json(input.clone());
        assert_eq!(to_json(&sdk).ok(), Some(input));

        let sdk: Annotated<ClientSdkInfo> = from_json(json!({"integrations": "x"}));
        let integrations = sdk
            .value()
            .map(|s| s.integrations.clone())
            .unwrap_or_default();
        assert_eq!(
            integrations.meta().original_value(),
            Some(&Value::from("x"))
        );
    }
}
