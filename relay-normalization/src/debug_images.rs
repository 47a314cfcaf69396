//! Debug image types (normalization.md §7 step 10): images Sentry cannot symbolicate with are
//! dropped, so that later consumers only see the image kinds of the event schema.
//!
//! An image object whose `type` is not one of `symbolic`, `macho`, `elf`, `pe`, `pe_dotnet`,
//! `wasm`, `apple`, `proguard`, `sourcemap`, `jvm` (compared exactly; a missing or non-string
//! `type` is unsupported too) is removed, its original kept, with `["invalid_data",
//! {"reason": "unsupported debug image type"}]`. By this step [`crate::legacy`] has already
//! turned `apple` images into `macho` ones. Elements that are not objects are left to the
//! parse step.

use relay_event::schema::Event;
use relay_event::{Error, Value};

/// The `type` names of the debug image kinds of the event schema.
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
        let Some(Value::Object(object)) = image.value() else {
            continue;
        };
        let ty = object
            .get("type")
            .and_then(|ty| ty.value())
            .and_then(Value::as_str);
        if ty.is_some_and(|ty| SUPPORTED_TYPES.contains(&ty)) {
            continue;
        }
        let original = image.take();
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
            .map(|ty| json!({"type": ty, "debug_id": "d"}))
            .collect();
        let mut images: Vec<_> = removed.to_vec();
        images.extend(kept.iter().cloned());
        images.push(json!("str"));
        let output = run(json!(images));
        let mut expected_images = vec![serde_json::Value::Null; removed.len()];
        expected_images.extend(kept);
        expected_images.push(json!("str"));
        assert_eq!(output["debug_meta"]["images"], json!(expected_images));
        let expected_meta: serde_json::Map<_, _> = removed
            .iter()
            .enumerate()
            .map(|(i, original)| (i.to_string(), unsupported(original.clone())))
            .collect();
        assert_eq!(
            output["_meta"]["debug_meta"]["images"],
            serde_json::Value::Object(expected_meta)
        );
    }

    #[test]
    fn removals_are_listed_in_errors() {
        // StoreNormalizer 0.10.1.
        let mut event: Annotated<Event> = from_json(json!({"debug_meta": {"images": [
            {"type": "mystery", "a": 1}, {"type": "elf", "code_file": "/a", "debug_id": "d"}]}}));
        crate::normalize_event(&mut event, &crate::NormalizationConfig::default()).unwrap();
        let output = to_json(&event).unwrap();
        assert_eq!(
            output["errors"],
            json!([{"type": "invalid_data", "name": "debug_meta.images.0",
                "value": {"a": 1, "type": "mystery"}, "reason": "unsupported debug image type"}])
        );
        assert_eq!(
            output["debug_meta"]["images"],
            json!([null, {"type": "elf", "code_file": "/a", "debug_id": "d"}])
        );
    }

    #[test]
    fn nothing_to_do() {
        // An empty list is not written, like in StoreNormalizer 0.10.1.
        assert_eq!(run(json!([])), json!({}));
    }
}
