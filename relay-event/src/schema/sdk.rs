//! [`ClientSdkInfo`]: the SDK that sent the event (`sdk`).
//!
//! `name` and `version` are required, at most 256 (+20) characters (normalization.md §6.2,
//! §8.1). PII (pii.md): `client_ip` `true`. `settings.infer_ip` decides how the user's IP
//! address is inferred (normalization.md §7.1).

use crate::{
    invalid_type, Annotated, Array, Error, FromValue, IntoValue, Object, ProcessValue, Value,
};

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
    #[metastructure(skip_serialization = "empty_elements")]
    pub integrations: Annotated<Array<String>>,
    /// Enabled features.
    #[metastructure(skip_serialization = "empty_elements")]
    pub features: Annotated<Array<String>>,
    /// Installed packages.
    #[metastructure(skip_serialization = "empty_elements")]
    pub packages: Annotated<Array<ClientSdkPackage>>,
    /// The client's IP address, as seen by relay.
    #[metastructure(pii = "true")]
    pub client_ip: Annotated<String>,
    /// Settings of the SDK that affect processing.
    #[metastructure(skip_serialization = "empty")]
    pub settings: Annotated<ClientSdkSettings>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// Settings of an SDK (`sdk.settings`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct ClientSdkSettings {
    /// How the user's IP address is inferred (normalization.md §7.1).
    pub infer_ip: Annotated<AutoInferSetting>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

impl ClientSdkSettings {
    /// The effective setting of normalization.md §7.1: the parsed value; `never` when the
    /// value was invalid (it carries an error); `legacy` when absent.
    pub fn effective_infer_ip(&self) -> AutoInferSetting {
        effective_infer_ip(&self.infer_ip)
    }
}

impl ClientSdkInfo {
    /// The effective `settings.infer_ip` of normalization.md §7.1 (`legacy` without
    /// settings, `never` for an invalid value).
    pub fn effective_infer_ip(&self) -> AutoInferSetting {
        match &self.settings {
            Annotated(Some(settings), _) => settings.effective_infer_ip(),
            Annotated(None, meta) if meta.has_errors() => AutoInferSetting::Never,
            Annotated(None, _) => AutoInferSetting::Legacy,
        }
    }
}

fn effective_infer_ip(value: &Annotated<AutoInferSetting>) -> AutoInferSetting {
    match value {
        Annotated(Some(setting), _) => *setting,
        Annotated(None, meta) if meta.has_errors() => AutoInferSetting::Never,
        Annotated(None, _) => AutoInferSetting::Legacy,
    }
}

/// `sdk.settings.infer_ip`: `auto`, `never` or `legacy` (normalization.md §7.1).
///
/// Any other string is `invalid_data` `invalid infer_ip setting`, other types `expected an
/// infer_ip setting`; the original value is kept in both cases (normalization treats such a
/// value as `never`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AutoInferSetting {
    /// Infer the IP address from the connection when the SDK sent none.
    Auto,
    /// Never infer the IP address; `{{auto}}` is removed.
    Never,
    /// The behaviour of SDKs without this setting (the default).
    #[default]
    Legacy,
}

impl AutoInferSetting {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoInferSetting::Auto => "auto",
            AutoInferSetting::Never => "never",
            AutoInferSetting::Legacy => "legacy",
        }
    }

    /// Parses a wire name (case-sensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => AutoInferSetting::Auto,
            "never" => AutoInferSetting::Never,
            "legacy" => AutoInferSetting::Legacy,
            _ => return None,
        })
    }
}

impl FromValue for AutoInferSetting {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(name)), mut meta) => {
                match AutoInferSetting::parse(&name) {
                    Some(setting) => Annotated(Some(setting), meta),
                    None => {
                        meta.add_error(Error::invalid("invalid infer_ip setting"));
                        meta.set_original_value(Some(Value::String(name)));
                        Annotated(None, meta)
                    }
                }
            }
            Annotated(Some(other), meta) => invalid_type(other, meta, "an infer_ip setting"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

super::string_enum_value!(AutoInferSetting);

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
    fn settings_infer_ip() {
        let input = json!({"name": "sentry.javascript.browser", "version": "8.0.0",
            "settings": {"infer_ip": "auto", "x": 1}});
        let sdk: Annotated<ClientSdkInfo> = from_json(input.clone());
        assert_eq!(to_json(&sdk).ok(), Some(input));
        let sdk = sdk.value().cloned().unwrap_or_default();
        assert_eq!(sdk.effective_infer_ip(), AutoInferSetting::Auto);
        assert_eq!(
            ClientSdkInfo::default().effective_infer_ip(),
            AutoInferSetting::Legacy
        );

        for (bad, reason) in [
            (json!("always"), "invalid infer_ip setting"),
            (json!(true), "expected an infer_ip setting"),
        ] {
            let sdk: Annotated<ClientSdkInfo> =
                from_json(json!({"settings": {"infer_ip": bad.clone()}}));
            let sdk = sdk.value().cloned().unwrap_or_default();
            let settings = sdk.settings.value().cloned().unwrap_or_default();
            assert!(settings.infer_ip.value().is_none());
            let meta = settings.infer_ip.meta();
            assert_eq!(meta.errors()[0].get("reason"), Some(&Value::from(reason)));
            assert_eq!(
                meta.original_value(),
                crate::annotated_from_json(bad).value()
            );
            assert_eq!(sdk.effective_infer_ip(), AutoInferSetting::Never);
        }
    }

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
