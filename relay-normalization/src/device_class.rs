//! The device class (normalization.md §7 step 14): tag `device.class` = `1` (low), `2`
//! (medium) or `3` (high), computed from `contexts.device`.
//!
//! * Apple devices (`family` `iPhone`, `iOS` or `iOS-Device`, case-sensitive): the class comes
//!   from the `model` identifier through the tables below; a model not in them (also an
//!   unknown or empty one) is high; no model, no class.
//! * Any other family (an empty one counts): low if `processor_frequency` < 2000 MHz or
//!   `processor_count` < 8 or `memory_size` < 4 GiB; else medium if the frequency < 2500 or
//!   memory < 6 GiB; else high. All three values are needed.
//! * No family, no device context under the key `device`, or one of another type: no class.
//!
//! Runs after the removal of client-sent `device.class` tags ([`crate::tags`]), so the tag is
//! only ever the computed one, appended at the end of the tags (after `server_name`/`site`).
//! The user agent step (17) runs later, so a device context derived from the user agent never
//! yields a class (as in `StoreNormalizer` 0.10.1).

use relay_event::schema::contexts::DeviceContext;
use relay_event::schema::{Context, Event, TagEntry, Tags};
use relay_event::{Annotated, LenientString};

/// The class of a device, the tag value being its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceClass {
    /// `1`.
    Low,
    /// `2`.
    Medium,
    /// `3`.
    High,
}

impl DeviceClass {
    /// The tag value.
    pub fn tag_value(self) -> &'static str {
        match self {
            DeviceClass::Low => "1",
            DeviceClass::Medium => "2",
            DeviceClass::High => "3",
        }
    }

    /// The class of `device`, if it has the data step 14 needs.
    pub fn from_device(device: &DeviceContext) -> Option<Self> {
        let family = device.family.value()?;
        if matches!(family.as_str(), "iPhone" | "iOS" | "iOS-Device") {
            return device.model.value().map(|model| apple_class(model));
        }
        let frequency = *device.processor_frequency.value()?;
        let count = *device.processor_count.value()?;
        let memory = *device.memory_size.value()?;
        Some(if frequency < 2000 || count < 8 || memory < 4 * GIB {
            DeviceClass::Low
        } else if frequency < 2500 || memory < 6 * GIB {
            DeviceClass::Medium
        } else {
            DeviceClass::High
        })
    }
}

const GIB: u64 = 1024 * 1024 * 1024;

/// Apple model identifiers of low-end devices (normalization.md §7 step 14).
const APPLE_LOW: &[&str] = &[
    "iPhone1,1",
    "iPhone1,2",
    "iPhone2,1",
    "iPhone3,1",
    "iPhone3,2",
    "iPhone3,3",
    "iPhone4,1",
    "iPhone5,1",
    "iPhone5,2",
    "iPhone5,3",
    "iPhone5,4",
    "iPhone6,1",
    "iPhone6,2",
    "iPhone7,1",
    "iPhone7,2",
    "iPhone8,1",
    "iPhone8,2",
    "iPhone8,4",
    "iPad1,1",
    "iPad2,1",
    "iPad2,2",
    "iPad2,3",
    "iPad2,4",
    "iPad2,5",
    "iPad2,6",
    "iPad2,7",
    "iPad3,1",
    "iPad3,2",
    "iPad3,3",
    "iPad3,4",
    "iPad3,5",
    "iPad3,6",
    "iPad4,1",
    "iPad4,2",
    "iPad4,3",
    "iPad4,4",
    "iPad4,5",
    "iPad4,6",
    "iPad4,7",
    "iPad4,8",
    "iPad4,9",
    "iPad5,1",
    "iPad5,2",
    "iPad5,3",
    "iPad5,4",
    "iPad6,11",
    "iPad6,12",
];

/// Apple model identifiers of medium devices (normalization.md §7 step 14).
const APPLE_MEDIUM: &[&str] = &[
    "iPhone9,1",
    "iPhone9,2",
    "iPhone9,3",
    "iPhone9,4",
    "iPhone10,1",
    "iPhone10,2",
    "iPhone10,3",
    "iPhone10,4",
    "iPhone10,5",
    "iPhone10,6",
    "iPhone11,2",
    "iPhone11,4",
    "iPhone11,6",
    "iPhone11,8",
    "iPhone12,1",
    "iPhone12,3",
    "iPhone12,5",
    "iPhone12,8",
    "iPad6,3",
    "iPad6,4",
    "iPad6,7",
    "iPad6,8",
    "iPad7,1",
    "iPad7,2",
    "iPad7,3",
    "iPad7,4",
    "iPad7,5",
    "iPad7,6",
    "iPad7,11",
    "iPad7,12",
    "iPad8,1",
    "iPad8,2",
    "iPad8,3",
    "iPad8,4",
    "iPad8,5",
    "iPad8,6",
    "iPad8,7",
    "iPad8,8",
    "iPad8,9",
    "iPad8,10",
    "iPad8,11",
    "iPad8,12",
    "iPad11,1",
    "iPad11,2",
    "iPad11,3",
    "iPad11,4",
    "iPad11,6",
    "iPad11,7",
    "iPad12,1",
    "iPad12,2",
];

fn apple_class(model: &str) -> DeviceClass {
    if APPLE_LOW.contains(&model) {
        DeviceClass::Low
    } else if APPLE_MEDIUM.contains(&model) {
        DeviceClass::Medium
    } else {
        DeviceClass::High
    }
}

/// Step 14, second half: appends tag `device.class` when `contexts.device` yields a class.
pub fn normalize_device_class(event: &mut Event) {
    let class = event
        .contexts
        .value()
        .and_then(|contexts| contexts.0.get("device"))
        .and_then(Annotated::value)
        .and_then(|context| match context {
            Context::Device(device) => DeviceClass::from_device(device),
            _ => None,
        });
    if let Some(class) = class {
        let tags = event.tags.get_or_insert_with(Tags::default);
        tags.push(Annotated::new(TagEntry(
            Annotated::new(LenientString("device.class".to_owned())),
            Annotated::new(LenientString(class.tag_value().to_owned())),
        )));
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;
    use crate::tags::{normalize_tags, remove_device_class_tag};

    /// The tags after steps 13 and 14.
    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_tags(event);
            remove_device_class_tag(event);
            normalize_device_class(event);
        }
        to_json(&event).unwrap_or_default()["tags"].clone()
    }

    fn class_of(device: serde_json::Value) -> serde_json::Value {
        run(json!({"contexts": {"device": device}}))
            .get(0)
            .map(|tag| tag[1].clone())
            .unwrap_or_default()
    }

    #[test]
    fn computed_tag_replaces_the_client_tag_at_the_end() {
        // StoreNormalizer 0.10.1.
        assert_eq!(
            run(
                json!({"tags": {"a": "1", "device.class": "9"}, "server_name": "s",
                "contexts": {"device": {"family": "iPhone", "model": "iPhone13,2"}}})
            ),
            json!([["a", "1"], ["server_name", "s"], ["device.class", "3"]])
        );
        assert_eq!(
            run(json!({"tags": [["device.class", "1"], ["device.class", "2"]]})),
            json!(null)
        );
    }

    #[test]
    fn classes_match_the_oracle() {
        // (device context, tag value), outputs of StoreNormalizer 0.10.1.
        let gib = 1u64 << 30;
        let cases = [
            (json!({"family": "iOS", "model": "iPhone8,4"}), json!("1")),
            (
                json!({"family": "iOS-Device", "model": "iPad6,3"}),
                json!("2"),
            ),
            (
                json!({"family": "iPhone", "model": "iPhone10,7"}),
                json!("3"),
            ),
            (json!({"family": "iPhone", "model": "bogus"}), json!("3")),
            (json!({"family": "iPhone", "model": ""}), json!("3")),
            (
                json!({"family": "iPhone", "model": " iPhone8,4"}),
                json!("3"),
            ),
            (json!({"family": "iPhone", "model": "iPad6,11"}), json!("1")),
            (json!({"family": "iPhone", "model": "iPad7,11"}), json!("2")),
            (json!({"family": "iPhone", "model": "iPad6,5"}), json!("3")),
            (json!({"family": "iPhone"}), json!(null)),
            (
                json!({"family": "iphone", "model": "iPhone8,4"}),
                json!(null),
            ),
            (
                json!({"family": "Android", "processor_frequency": 2500, "processor_count": 8,
                    "memory_size": 6 * gib}),
                json!("3"),
            ),
            (
                json!({"family": "Android", "processor_frequency": 2499, "processor_count": 8,
                    "memory_size": 6 * gib}),
                json!("2"),
            ),
            (
                json!({"family": "Android", "processor_frequency": 2500, "processor_count": 8,
                    "memory_size": 6 * gib - 1}),
                json!("2"),
            ),
            (
                json!({"family": "X", "processor_frequency": 3000, "processor_count": 8,
                    "memory_size": 4 * gib - 1}),
                json!("1"),
            ),
            (
                json!({"family": "X", "processor_frequency": 1999, "processor_count": 8,
                    "memory_size": 8 * gib}),
                json!("1"),
            ),
            (
                json!({"family": "", "processor_frequency": 3000, "processor_count": 8,
                    "memory_size": 8 * gib}),
                json!("3"),
            ),
            (
                json!({"family": "X", "processor_count": 8, "memory_size": 8 * gib}),
                json!(null),
            ),
            (
                json!({"processor_frequency": 2000, "processor_count": 7, "memory_size": 8 * gib}),
                json!(null),
            ),
        ];
        for (device, expected) in cases {
            assert_eq!(class_of(device.clone()), expected, "{device}");
        }
        // Only the context under the key `device` counts.
        assert_eq!(
            run(
                json!({"contexts": {"dev": {"type": "device", "family": "iPhone",
                "model": "iPhone1,1"}}})
            ),
            json!(null)
        );
    }
}
