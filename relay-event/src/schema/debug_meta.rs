//! [`DebugMeta`]: debug information files of the event (`debug_meta`), and the typed
//! [`DebugImage`] union.
//!
//! A debug image's `type` selects its struct (fields and required identifiers from the
//! published event schema, normalization.md §6.2): `symbolic`, `macho`, `elf`, `pe`,
//! `pe_dotnet`, `wasm` → [`NativeDebugImage`]; `apple` → [`AppleDebugImage`] (the legacy form
//! that normalization turns into `macho`, normalization.md §6.1); `proguard`, `sourcemap`,
//! `jvm`. Any other type (or none) is kept untyped ([`DebugImage::Other`]); normalization
//! removes those (normalization.md §7, step 10). PII (pii.md): `code_file`, `debug_file`
//! `maybe`. Addresses are [`Addr`]s, identifiers [`DebugId`], [`CodeId`] and [`DebugUuid`]
//! (written in their canonical forms).
//!
//! A non-object image is `invalid_data` `expected an object` with its original value (as in
//! Sentry's normalizer).

use super::{Addr, CodeId, DebugId, DebugUuid};
use crate::{
    invalid_type, Annotated, Array, FromValue, IntoValue, Meta, MetaMap, Object, ProcessValue,
    ProcessingResult, ProcessingState, Processor, Value,
};

/// Debug images and SDK information for symbolication.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct DebugMeta {
    /// Information about the system SDK (e.g. iOS SDK).
    #[metastructure(skip_serialization = "empty")]
    pub sdk_info: Annotated<SystemSdkInfo>,
    /// Debug images loaded into the process.
    #[metastructure(skip_serialization = "empty")]
    pub images: Annotated<Array<DebugImage>>,
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

/// A native debug image (`symbolic`, `macho`, `elf`, `pe`, `pe_dotnet`, `wasm`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct NativeDebugImage {
    /// The identifier of the executable or library.
    pub code_id: Annotated<CodeId>,
    /// The path of the executable or library.
    #[metastructure(required = true, pii = "maybe")]
    pub code_file: Annotated<String>,
    /// The identifier of the debug companion file.
    #[metastructure(required = true)]
    pub debug_id: Annotated<DebugId>,
    /// The path of the debug companion file.
    #[metastructure(pii = "maybe")]
    pub debug_file: Annotated<String>,
    /// The checksum of the debug companion file.
    pub debug_checksum: Annotated<String>,
    /// The CPU architecture (e.g. `arm64`).
    pub arch: Annotated<String>,
    /// The start address of the image in memory.
    pub image_addr: Annotated<Addr>,
    /// The size of the image in bytes.
    pub image_size: Annotated<u64>,
    /// The preferred load address of the image.
    pub image_vmaddr: Annotated<Addr>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// A legacy Apple debug image (`apple`), converted to `macho` by normalization.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct AppleDebugImage {
    /// The path of the image.
    #[metastructure(required = true)]
    pub name: Annotated<String>,
    /// The CPU architecture.
    pub arch: Annotated<String>,
    /// The Mach-O CPU type.
    pub cpu_type: Annotated<u64>,
    /// The Mach-O CPU subtype.
    pub cpu_subtype: Annotated<u64>,
    /// The start address of the image in memory.
    #[metastructure(required = true)]
    pub image_addr: Annotated<Addr>,
    /// The size of the image in bytes.
    #[metastructure(required = true)]
    pub image_size: Annotated<u64>,
    /// The preferred load address of the image.
    pub image_vmaddr: Annotated<Addr>,
    /// The UUID of the image.
    #[metastructure(required = true)]
    pub uuid: Annotated<DebugUuid>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// A ProGuard mapping file (`proguard`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct ProguardDebugImage {
    /// The UUID of the mapping file.
    #[metastructure(required = true)]
    pub uuid: Annotated<DebugUuid>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// A JavaScript source map (`sourcemap`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct SourceMapDebugImage {
    /// The URL or path of the minified file.
    #[metastructure(required = true, pii = "maybe")]
    pub code_file: Annotated<String>,
    /// The debug id of the source map.
    #[metastructure(required = true)]
    pub debug_id: Annotated<DebugId>,
    /// The URL or path of the source map.
    #[metastructure(pii = "maybe")]
    pub debug_file: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// A JVM source bundle (`jvm`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct JvmDebugImage {
    /// The debug id of the source bundle.
    #[metastructure(required = true)]
    pub debug_id: Annotated<DebugId>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// One debug image, typed by its `type`.
#[derive(Clone, Debug, PartialEq)]
pub enum DebugImage {
    /// `apple` (legacy).
    Apple(Box<AppleDebugImage>),
    /// `symbolic`, `macho`, `elf`, `pe`, `pe_dotnet` or `wasm`; the type name is kept.
    Native(&'static str, Box<NativeDebugImage>),
    /// `proguard`.
    Proguard(Box<ProguardDebugImage>),
    /// `sourcemap`.
    SourceMap(Box<SourceMapDebugImage>),
    /// `jvm`.
    Jvm(Box<JvmDebugImage>),
    /// Any other or missing type, kept as an object (its `type` included).
    Other(Object<Value>),
}

/// The `type` names of native debug images.
const NATIVE_TYPES: [&str; 6] = ["symbolic", "macho", "elf", "pe", "pe_dotnet", "wasm"];

impl DebugImage {
    /// The type name of a typed image, `None` for [`DebugImage::Other`].
    pub fn known_type(&self) -> Option<&'static str> {
        Some(match self {
            DebugImage::Apple(_) => "apple",
            DebugImage::Native(name, _) => name,
            DebugImage::Proguard(_) => "proguard",
            DebugImage::SourceMap(_) => "sourcemap",
            DebugImage::Jvm(_) => "jvm",
            DebugImage::Other(_) => return None,
        })
    }
}

/// A non-object image is `invalid_data` `expected an object` with its original value.
impl FromValue for DebugImage {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        let (mut object, meta) = match value {
            Annotated(Some(Value::Object(object)), meta) => (object, meta),
            Annotated(Some(other), meta) => return invalid_type(other, meta, "an object"),
            Annotated(None, meta) => return Annotated(None, meta),
        };
        let ty = object
            .get("type")
            .and_then(|t| t.value())
            .and_then(Value::as_str);
        let native = NATIVE_TYPES.iter().copied().find(|n| Some(*n) == ty);
        let known = matches!(ty, Some("apple" | "proguard" | "sourcemap" | "jvm"));
        if native.is_none() && !known {
            return Object::<Value>::from_value(Annotated(Some(Value::Object(object)), meta))
                .map_value(DebugImage::Other);
        }
        let ty = ty.unwrap_or_default().to_owned();
        object.remove("type");
        let value = Annotated(Some(Value::Object(object)), meta);
        match (native, ty.as_str()) {
            (Some(name), _) => NativeDebugImage::from_value(value)
                .map_value(|image| DebugImage::Native(name, Box::new(image))),
            (None, "apple") => {
                AppleDebugImage::from_value(value).map_value(|i| DebugImage::Apple(Box::new(i)))
            }
            (None, "proguard") => ProguardDebugImage::from_value(value)
                .map_value(|i| DebugImage::Proguard(Box::new(i))),
            (None, "sourcemap") => SourceMapDebugImage::from_value(value)
                .map_value(|i| DebugImage::SourceMap(Box::new(i))),
            _ => JvmDebugImage::from_value(value).map_value(|i| DebugImage::Jvm(Box::new(i))),
        }
    }
}

/// A typed image is written with its `type` after its fields.
impl IntoValue for DebugImage {
    fn into_value(self) -> Value {
        let ty = self.known_type();
        let value = match self {
            DebugImage::Apple(image) => image.into_value(),
            DebugImage::Native(_, image) => image.into_value(),
            DebugImage::Proguard(image) => image.into_value(),
            DebugImage::SourceMap(image) => image.into_value(),
            DebugImage::Jvm(image) => image.into_value(),
            DebugImage::Other(object) => return Value::Object(object),
        };
        match (value, ty) {
            (Value::Object(mut object), Some(ty)) => {
                object.insert("type".to_owned(), Annotated::new(Value::from(ty)));
                Value::Object(object)
            }
            (other, _) => other,
        }
    }

    // The struct writes its fields as usual (nulls without meta skipped), then `type` is
    // added.
    fn serialize_payload<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        use serde::Serialize as _;
        let plain = serde_json::value::Serializer;
        let json = match self {
            DebugImage::Apple(image) => image.serialize_payload(plain),
            DebugImage::Native(_, image) => image.serialize_payload(plain),
            DebugImage::Proguard(image) => image.serialize_payload(plain),
            DebugImage::SourceMap(image) => image.serialize_payload(plain),
            DebugImage::Jvm(image) => image.serialize_payload(plain),
            DebugImage::Other(object) => return object.serialize_payload(serializer),
        };
        let mut json = json.map_err(S::Error::custom)?;
        if let (Some(object), Some(ty)) = (json.as_object_mut(), self.known_type()) {
            object.insert("type".to_owned(), serde_json::Value::from(ty));
        }
        json.serialize(serializer)
    }

    fn extract_child_meta(&self) -> MetaMap {
        match self {
            DebugImage::Apple(image) => image.extract_child_meta(),
            DebugImage::Native(_, image) => image.extract_child_meta(),
            DebugImage::Proguard(image) => image.extract_child_meta(),
            DebugImage::SourceMap(image) => image.extract_child_meta(),
            DebugImage::Jvm(image) => image.extract_child_meta(),
            DebugImage::Other(object) => object.extract_child_meta(),
        }
    }

    fn has_child_meta(&self) -> bool {
        match self {
            DebugImage::Apple(image) => image.has_child_meta(),
            DebugImage::Native(_, image) => image.has_child_meta(),
            DebugImage::Proguard(image) => image.has_child_meta(),
            DebugImage::SourceMap(image) => image.has_child_meta(),
            DebugImage::Jvm(image) => image.has_child_meta(),
            DebugImage::Other(object) => object.has_child_meta(),
        }
    }

    // A typed image always has its `type`, so it is never empty.
    fn is_empty(&self) -> bool {
        match self {
            DebugImage::Other(object) => object.is_empty(),
            _ => false,
        }
    }
}

impl ProcessValue for DebugImage {
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        match self {
            DebugImage::Apple(image) => image.process_value(meta, processor, state),
            DebugImage::Native(_, image) => image.process_value(meta, processor, state),
            DebugImage::Proguard(image) => image.process_value(meta, processor, state),
            DebugImage::SourceMap(image) => image.process_value(meta, processor, state),
            DebugImage::Jvm(image) => image.process_value(meta, processor, state),
            DebugImage::Other(object) => processor.process_object(object, meta, state),
        }
    }

    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        match self {
            DebugImage::Apple(image) => image.process_child_values(processor, state),
            DebugImage::Native(_, image) => image.process_child_values(processor, state),
            DebugImage::Proguard(image) => image.process_child_values(processor, state),
            DebugImage::SourceMap(image) => image.process_child_values(processor, state),
            DebugImage::Jvm(image) => image.process_child_values(processor, state),
            DebugImage::Other(object) => object.process_child_values(processor, state),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn debug_images_are_typed_by_type() {
        let input = json!({"images": [
            {"type": "elf", "code_file": "/system/lib64/libc.so", "code_id": "ab12",
                "debug_id": "ed72b7e0-7d1c-4ba6-a6e4-91c1a6a2dd3e", "image_addr": "0x7a2b000",
                "image_size": 8192, "x": 1},
            {"type": "apple", "name": "/usr/lib/dyld", "uuid": "c7ad3be9-1111-2222-3333-444455556666",
                "image_addr": "0x1000",
                "image_size": 4096, "cpu_type": 16777228},
            {"type": "proguard", "uuid": "2b3d7a8e-91c1-4c55-a9ae-5e1e9d6a0e3b"},
            {"type": "sourcemap", "code_file": "app.min.js",
                "debug_id": "d1d1d1d1-0000-4000-8000-000000000001"},
            {"type": "jvm", "debug_id": "1e1e1e1e-0000-4000-8000-000000000001"},
            {"type": "mystery", "a": 1}]});
        let meta: Annotated<DebugMeta> = from_json(input.clone());
        assert_eq!(to_json(&meta).ok(), Some(input.clone()));
        let images = meta
            .value()
            .and_then(|meta| meta.images.value().cloned())
            .unwrap_or_default();
        let types: Vec<_> = images
            .iter()
            .map(|i| i.value().and_then(DebugImage::known_type))
            .collect();
        assert_eq!(
            types,
            [
                Some("elf"),
                Some("apple"),
                Some("proguard"),
                Some("sourcemap"),
                Some("jvm"),
                None
            ]
        );
        for (image, original) in images
            .into_iter()
            .zip(input["images"].as_array().unwrap_or(&vec![]))
        {
            assert_eq!(to_json(&image).ok().as_ref(), Some(original));
        }
    }

    #[test]
    fn invalid_debug_images() {
        let image: Annotated<DebugImage> =
            from_json(json!({"type": "macho", "code_file": "/a", "debug_id": "d",
                "image_size": "big", "image_addr": "0xZZ"}));
        let Some(DebugImage::Native(_, native)) = image.value() else {
            panic!("not a native image: {image:?}");
        };
        assert!(native.image_size.value().is_none());
        assert_eq!(
            native.debug_id.meta().original_value(),
            Some(&Value::from("d"))
        );
        assert_eq!(
            native.image_addr.meta().original_value(),
            Some(&Value::from("0xZZ"))
        );
        assert!(native.image_size.meta().has_errors());
        assert_eq!(
            native.image_size.meta().original_value(),
            Some(&Value::from("big"))
        );
        let image: Annotated<DebugImage> = from_json(json!("macho"));
        assert!(image.value().is_none());
        assert_eq!(image.meta().original_value(), Some(&Value::from("macho")));
    }

    #[test]
    fn identifiers_and_addresses_are_written_canonically() {
        let meta: Annotated<DebugMeta> = from_json(json!({"images": [
            {"type": "pe", "code_file": "a.dll", "code_id": "5AB380779000",
                "debug_id": "3249D99D-0C40-4931-8610-F4E4FB0B6936-1", "image_addr": "0X0001000",
                "image_vmaddr": 4096},
            {"type": "proguard", "uuid": "{2B3D7A8E-91C1-4C55-A9AE-5E1E9D6A0E3B}"}]}));
        assert_eq!(
            to_json(&meta).ok(),
            Some(json!({"images": [
                {"code_id": "5ab380779000", "code_file": "a.dll",
                    "debug_id": "3249d99d-0c40-4931-8610-f4e4fb0b6936-1", "image_addr": "0x1000",
                    "image_vmaddr": "0x1000", "type": "pe"},
                {"uuid": "2b3d7a8e-91c1-4c55-a9ae-5e1e9d6a0e3b", "type": "proguard"}]}))
        );
    }

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
