//! The tags step (normalization.md §7.3 steps 2–5) and the removal of client-sent
//! `device.class` tags (§7 step 14).
//!
//! Keys and values were already fixed at parse time (step 1, [`crate::legacy`]). Then: an
//! `environment` tag is removed and becomes the event's environment if it has none; tags
//! `release`, `dist`, `user`, `filename`, `function` and duplicate keys (the first wins) are
//! removed; an empty key or value becomes `null` with `expected a non-empty value`; finally
//! the `server_name` and `site` fields move to the end of the list as tags.

use relay_event::schema::{Event, TagEntry, Tags};
use relay_event::{Annotated, Error, LenientString};

/// Tag keys that are never kept (their data lives in dedicated fields).
const RESERVED_KEYS: &[&str] = &["release", "dist", "user", "filename", "function"];

fn key_of(entry: &Annotated<TagEntry>) -> Option<&str> {
    entry.value()?.0.value().map(|key| key.as_str())
}

/// §7.3 steps 2–5.
pub fn normalize_tags(event: &mut Event) {
    if event.environment.value().is_some_and(String::is_empty) {
        event.environment.set_value(None);
    }
    let server_name = event.server_name.take();
    let site = event.site.take();
    // Always a list, as in Sentry's normalizer: invalid tags are written as `[]` with their
    // error (an empty list without meta is not written, normalization.md §11).
    let tags = event.tags.get_or_insert_with(Tags::default);

    let mut seen = std::collections::BTreeSet::new();
    let mut environment = None;
    tags.retain(|entry| {
        let Some(key) = key_of(entry) else {
            return true;
        };
        if key == "environment" {
            if environment.is_none() {
                environment = entry.value().and_then(|e| e.1.value()).map(|v| v.0.clone());
            }
            return false;
        }
        !RESERVED_KEYS.contains(&key) && seen.insert(key.to_owned())
    });
    if event.environment.value().is_none() {
        if let Some(environment) = environment {
            event.environment.set_value(Some(environment));
        }
    }

    for entry in tags.iter_mut().filter_map(|e| e.value_mut().as_mut()) {
        for part in [&mut entry.0, &mut entry.1] {
            if part.value().is_some_and(|text| text.is_empty()) {
                part.set_value(None);
                part.meta_mut()
                    .add_error(Error::invalid("expected a non-empty value"));
            }
        }
    }

    for (key, value) in [("server_name", server_name), ("site", site)] {
        if let Some(value) = value {
            tags.push(Annotated::new(TagEntry(
                Annotated::new(LenientString(key.to_owned())),
                Annotated::new(LenientString(value)),
            )));
        }
    }
}

/// §7 step 14, first half: any client-sent `device.class` tag is removed.
pub fn remove_device_class_tag(event: &mut Event) {
    if let Some(tags) = event.tags.value_mut() {
        tags.retain(|entry| key_of(entry) != Some("device.class"));
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;
    use crate::{legacy::convert_legacy, schema::SchemaProcessor};

    /// Parse-time fixes, schema checks, then the tag steps, as `normalize_event` orders them.
    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        convert_legacy(&mut event);
        let _ = relay_event::process_value(
            &mut event,
            &mut SchemaProcessor,
            &relay_event::ProcessingState::root(),
        );
        if let Some(event) = event.value_mut() {
            normalize_tags(event);
            remove_device_class_tag(event);
        }
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn invalid_tags_are_written_as_an_empty_list() {
        let output = run(json!({"tags": "a=b"}));
        assert_eq!(output["tags"], json!([]));
        assert_eq!(
            output["_meta"]["tags"][""],
            json!({"err": [["invalid_data", {"reason": "expected an array"}]], "val": "a=b"})
        );
        assert_eq!(run(json!({})), json!({}));
    }

    #[test]
    fn verified_tag_example() {
        // §7.3, first verified example.
        assert_eq!(
            run(
                json!({"tags": {"a": "1", "b": 2, "c": true, "release": "r", "": "x", "e": "",
                "bad key": "v", "k": "multi\nline", "device.class": "x"}})
            ),
            json!({"tags": [[null, "x"], ["a", "1"], ["b", "2"], ["bad-key", "v"], ["c", "True"],
                ["e", null], ["k", null]],
                "_meta": {"tags": {
                    "0": {"0": {"": {"err": [["invalid_data",
                        {"reason": "expected a non-empty value"}]]}}},
                    "5": {"1": {"": {"err": [["invalid_data",
                        {"reason": "expected a non-empty value"}]]}}},
                    "6": {"1": {"": {"err": [["invalid_data",
                        {"reason": "invalid character '\\n'"}]], "val": "multi\nline"}}}}}})
        );
    }

    #[test]
    fn environment_duplicates_server_name_and_site() {
        // §7.3, second verified example.
        assert_eq!(
            run(
                json!({"tags": [["a", "1"], ["a", "2"], ["environment", "e1"]],
                "environment": "e0", "server_name": "srv", "site": "s"})
            ),
            json!({"environment": "e0",
                "tags": [["a", "1"], ["server_name", "srv"], ["site", "s"]]})
        );
        assert_eq!(
            run(json!({"tags": [["environment", "e1"]]})),
            json!({"environment": "e1"})
        );
    }
}
