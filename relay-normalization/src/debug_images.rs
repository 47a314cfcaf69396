//! Debug image types (normalization.md §7 step 10): images Sentry cannot symbolicate with are
//! dropped, so that later consumers only see the image kinds of the event schema.
//!
//! An image object ([`DebugImage::Other`]) whose `type` is not one of `symbolic`, `macho`, `elf`, `pe`, `pe_dotnet`,
//! `wasm`, `apple`, `proguard`, `sourcemap`, `jvm` (compared exactly; a missing or non-string
//! `type` is unsupported too) is removed, its original kept, with `["invalid_data",
//! {"reason": "unsupported debug image type"}]`. By this step [`crate::legacy`] has already
//! turned `apple` images into `macho` ones. Elements that are not objects were reported by
//! the parser (`expected an object`).

use relay_event::schema::{DebugImage, Event};
use relay_event::{Error, IntoValue};

/// The `type` names of the debug image kinds of the event schema (the ones relay-event
/// types; listed for the tests).
#[cfg(test)]
const SUPPORTED_TYPES: &[&str] = &[
    "symbolic",
    "macho",
    "elf",
    "pe",
    "pe_dotnet",
    "wasm",
    "apple",
    "proguard",
    "sourcemap",
    "jvm",
];

/// Step 10.
pub fn normalize_debug_images(event: &mut Event) {
    let Some(images) = event
        .debug_meta
        .value_mut()
        .as_mut()
        .and_then(|debug_meta| debug_meta.images.value_mut().as_mut())
    else {
        return;
    };
    for image in images.iter_mut() {
        if !matches!(image.value(), Some(DebugImage::Other(_))) {
            continue;
        }
        let original = image.take().map(IntoValue::into_value);
        let meta = image.meta_mut();
        meta.add_error(Error::invalid("unsupported debug image type"));
        meta.set_original_value(original);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json, Annotated};
    use serde_json::json;

    use super::*;

    fn run(images: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(json!({"debug_meta": {"images": images}}));
        if let Some(event) = event.value_mut() {
            normalize_debug_images(event);
        }
        to_json(&event).unwrap()
    }

    fn unsupported(original: serde_json::Value) -> serde_json::Value {
        json!({"": {"err": [["invalid_data", {"reason": "unsupported debug image type"}]],
            "val": original}})
    }

    /// A debug id in canonical form (what the parser writes).
    const DEBUG_ID: &str = "ed72b7e0-7d1c-4ba6-a6e4-91c1a6a2dd3e";

    #[test]
    fn unsupported_types_are_removed() {
        // StoreNormalizer 0.10.1: `mystery`, a missing type, `5`, `ELF` and `{}` are
        // unsupported; the known types stay.
        let removed = [
            json!({"type": "mystery", "a": 1}),
            json!({"a": 2}),
            json!({"type": 5}),
            json!({"type": "ELF", "code_file": "/a"}),
            json!({}),
        ];
        let kept: Vec<_> = SUPPORTED_TYPES
            .iter()
            .map(|ty| json!({"type": ty, "debug_id": DEBUG_ID}))
            .collect();
        let mut images: Vec<_> = removed.to_vec();
        images.extend(kept.iter().cloned());
        images.push(json!("str"));
        let output = run(json!(images));
        let mut expected_images = vec![serde_json::Value::Null; removed.len()];
        expected_images.extend(kept);
        expected_images.push(serde_json::Value::Null);
        assert_eq!(output["debug_meta"]["images"], json!(expected_images));
        let mut expected_meta: serde_json::Map<_, _> = removed
            .iter()
            .enumerate()
            .map(|(i, original)| (i.to_string(), unsupported(original.clone())))
            .collect();
        // The parser's error (StoreNormalizer 0.10.1: the same).
        expected_meta.insert(
            (expected_images.len() - 1).to_string(),
            json!({"": {"err": [["invalid_data", {"reason": "expected an object"}]],
                "val": "str"}}),
        );
        assert_eq!(
            output["_meta"]["debug_meta"]["images"],
            serde_json::Value::Object(expected_meta)
        );
    }

    #[test]
    fn removals_are_listed_in_errors() {
        // StoreNormalizer 0.10.1.
        let mut event: Annotated<Event> = from_json(json!({"debug_meta": {"images": [
            {"type": "mystery", "a": 1}, {"type": "elf", "code_file": "/a", "debug_id": DEBUG_ID}]}}));
        crate::normalize_event(&mut event, &crate::NormalizationConfig::default()).unwrap();
        let output = to_json(&event).unwrap();
        assert_eq!(
            output["errors"],
            json!([{"type": "invalid_data", "name": "debug_meta.images.0",
                "value": {"a": 1, "type": "mystery"}, "reason": "unsupported debug image type"}])
        );
        assert_eq!(
            output["debug_meta"]["images"],
            json!([null, {"type": "elf", "code_file": "/a", "debug_id": DEBUG_ID}])
        );
    }

    #[test]
    fn typed_images_through_the_pipeline() {
        // StoreNormalizer 0.10.1, byte for byte for the images (field order included): apple
        // becomes macho, unknown attributes go, required identifiers are reported.
        let mut event: Annotated<Event> = from_json(json!({"debug_meta": {"images": [
            {"type": "apple", "name": "/a", "uuid": "c7ad3be9-1111-2222-3333-444455556666",
                "cpu_type": 1, "arch": "arm64", "x": 1},
            {"type": "elf", "x": 2, "code_file": "/b",
                "debug_id": "ed72b7e0-7d1c-4ba6-a6e4-91c1a6a2dd3e", "image_size": "big"},
            "str", {"type": "proguard"}, {"type": "mystery"}]}}));
        crate::normalize_event(&mut event, &crate::NormalizationConfig::default()).unwrap();
        let output = to_json(&event).unwrap();
        assert_eq!(
            serde_json::to_string(&output["debug_meta"]).unwrap(),
            r#"{"images":[{"code_file":"/a","debug_id":"c7ad3be9-1111-2222-3333-444455556666","arch":"arm64","type":"macho"},{"code_file":"/b","debug_id":"ed72b7e0-7d1c-4ba6-a6e4-91c1a6a2dd3e","image_size":null,"type":"elf"},null,{"uuid":null,"type":"proguard"},null]}"#
        );
        assert_eq!(
            output["_meta"]["debug_meta"]["images"],
            json!({
                "1": {"image_size": {"": {"err": [["invalid_data",
                    {"reason": "expected an unsigned integer"}]], "val": "big"}}},
                "2": {"": {"err": [["invalid_data", {"reason": "expected an object"}]],
                    "val": "str"}},
                "3": {"uuid": {"": {"err": ["missing_attribute"]}}},
                "4": unsupported(json!({"type": "mystery"}))})
        );
        assert_eq!(
            output["errors"],
            json!([
                {"type": "invalid_data", "name": "debug_meta.images.1.image_size",
                    "value": "big", "reason": "expected an unsigned integer"},
                {"type": "invalid_data", "name": "debug_meta.images.2", "value": "str",
                    "reason": "expected an object"},
                {"type": "missing_attribute", "name": "debug_meta.images.3.uuid"},
                {"type": "invalid_data", "name": "debug_meta.images.4",
                    "value": {"type": "mystery"}, "reason": "unsupported debug image type"}])
        );
    }

    #[test]
    fn nothing_to_do() {
        // An empty list is not written, like in StoreNormalizer 0.10.1.
        assert_eq!(run(json!([])), json!({}));
    }
}
