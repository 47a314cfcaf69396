//! [`DebugMeta`]: debug information files of the event (`debug_meta`).

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Value};

/// Debug images and SDK information for symbolication.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct DebugMeta {
    /// Information about the system SDK (e.g. iOS SDK).
    pub sdk_info: Annotated<SystemSdkInfo>,
    /// Debug images loaded into the process.
    // TODO(schema): the DebugImage union (apple, macho, elf, pe, …; next batch).
    #[metastructure(skip_serialization = "empty")]
    pub images: Annotated<Array<Value>>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// The system SDK a native application was built against.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct SystemSdkInfo {
    /// The SDK name (e.g. `iOS`).
    pub sdk_name: Annotated<String>,
    /// The major version.
    pub version_major: Annotated<u64>,
    /// The minor version.
    pub version_minor: Annotated<u64>,
    /// The patch level.
    pub version_patchlevel: Annotated<u64>,
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
        let input = json!({"sdk_info": {"sdk_name": "iOS", "version_major": 10},
            "images": [{"type": "macho"}]});
        let meta: Annotated<DebugMeta> = from_json(input.clone());
        assert_eq!(to_json(&meta).ok(), Some(input));

        let meta: Annotated<DebugMeta> = from_json(json!({"images": {}}));
        let images = meta.value().map(|m| m.images.clone()).unwrap_or_default();
        assert!(images.meta().has_errors());
    }
}
