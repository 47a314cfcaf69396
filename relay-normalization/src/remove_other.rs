//! Removal of unknown attributes (normalization.md §9).
//!
//! Unknown (additional) attributes of every schema struct are dropped silently, except:
//!
//! * where the struct's field carries `retain` (contexts and feature flags keep their unknown
//!   keys);
//! * at the top level of the event, where `metadata`, `hashes`, `applecrashreport`, `device`,
//!   `repos` and `query` are dropped silently but every other unknown attribute becomes `null`
//!   with the error `invalid_attribute` (the value is not kept);
//! * in breadcrumbs (`breadcrumbs.values.<n>`), whose unknown attributes also become `null`
//!   with `invalid_attribute`.
//!
//! Free-form data ([`Value`] objects such as `extra`) has no unknown attributes and is left
//! alone. A struct left empty is omitted on output by its field's serialization rule (so
//! `{"request": {"foo": "x"}}` loses `request` entirely).
//!
//! [`drop_empty_sdk_list_elements`] (every mode) then drops the empty elements of the SDK's
//! lists, which Sentry does not write.

use relay_event::schema::{ClientSdkPackage, Event};
use relay_event::{
    Annotated, Array, ErrorKind, Meta, Object, ProcessingResult, ProcessingState, Processor,
    Segment, Value,
};

/// Top-level attributes that are dropped silently (normalization.md §9).
const SILENTLY_DROPPED: &[&str] = &[
    "metadata",
    "hashes",
    "applecrashreport",
    "device",
    "repos",
    "query",
];

/// The removal of unknown attributes of normalization.md §9 as a [`Processor`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RemoveOtherProcessor;

/// Whether `state` is a context (`contexts.<name>`) or inside the feature flags context: their
/// unknown attributes are kept (§9). This stands in for a `retain` attribute, which the typed
/// contexts of `relay-event` do not pass to their values.
fn is_retained_context(state: &ProcessingState<'_>) -> bool {
    // Runs for every struct: the path prefix is read from the ancestors, without collecting
    // the segments.
    match state.depth() {
        0 | 1 => false,
        2 => {
            key_at_depth(state, 1) == Some("contexts")
                && matches!(state.segment(), Some(Segment::Key(_)))
        }
        _ => key_at_depth(state, 1) == Some("contexts") && key_at_depth(state, 2) == Some("flags"),
    }
}

/// Whether `state` is a breadcrumb: `breadcrumbs.values.<n>`.
fn is_breadcrumb(state: &ProcessingState<'_>) -> bool {
    state.depth() == 3
        && matches!(state.segment(), Some(Segment::Index(_)))
        && key_at_depth(state, 2) == Some("values")
        && key_at_depth(state, 1) == Some("breadcrumbs")
}

/// The key of the path segment at `depth` (1 is the first segment below the root) of
/// `state`'s path; `None` for an index or a depth beyond `state`.
fn key_at_depth<'s>(state: &'s ProcessingState<'_>, depth: usize) -> Option<&'s str> {
    let mut current = state;
    while current.depth() > depth {
        current = current.parent()?;
    }
    if current.depth() != depth {
        return None;
    }
    match current.segment()? {
        Segment::Key(key) => Some(key),
        Segment::Index(_) => None,
    }
}

/// Replaces every unknown attribute by `null` with `invalid_attribute`.
fn mark_invalid<'a>(other: impl Iterator<Item = &'a mut Annotated<Value>>) {
    for value in other {
        *value = Annotated(None, Meta::from_error(ErrorKind::InvalidAttribute));
    }
}

impl Processor for RemoveOtherProcessor {
    fn process_other(
        &mut self,
        other: &mut Object<Value>,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        if state.attrs().retain || is_retained_context(state) {
            return Ok(());
        }
        if state.depth() == 0 {
            other.retain(|key, _| !SILENTLY_DROPPED.contains(&key.as_str()));
            mark_invalid(other.values_mut());
        } else if is_breadcrumb(state) {
            mark_invalid(other.values_mut());
        } else {
            other.clear();
        }
        Ok(())
    }
}

/// Drops the empty elements (without meta) of the SDK's `integrations`, `features` and
/// `packages`: Sentry's normalizer does not write them, also when renormalizing. Runs in every
/// mode after the removal of unknown attributes, which leaves a package with only unknown keys
/// (`{"Name": …}`) empty.
pub fn drop_empty_sdk_list_elements(event: &mut Event) {
    let Some(sdk) = event.client_sdk.value_mut() else {
        return;
    };
    // A name: empty when missing or `""`; a package: when it has no attribute at all
    // (`{"name": ""}` stays, as in Sentry's output).
    let empty_name = |name: &Annotated<String>| name.value().is_none_or(String::is_empty);
    let empty_package = |package: &Annotated<ClientSdkPackage>| {
        package.value().is_none_or(|package| {
            package.name.value().is_none()
                && package.version.value().is_none()
                && package.other.is_empty()
        })
    };
    retain_unless(&mut sdk.integrations, empty_name);
    retain_unless(&mut sdk.features, empty_name);
    retain_unless(&mut sdk.packages, empty_package);
}

/// Removes the elements without meta for which `is_empty` holds.
fn retain_unless<T>(list: &mut Annotated<Array<T>>, is_empty: impl Fn(&Annotated<T>) -> bool) {
    if let Some(items) = list.value_mut() {
        items.retain(|item| !item.meta().is_empty() || !is_empty(item));
    }
}

#[cfg(test)]
mod tests {
    use relay_event::schema::Event;
    use relay_event::{from_json, process_value, to_json};
    use serde_json::json;

    use super::*;

    fn remove(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        let result = process_value(
            &mut event,
            &mut RemoveOtherProcessor,
            &ProcessingState::root(),
        );
        assert_eq!(result, Ok(()));
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn empty_sdk_list_elements_are_dropped() {
        // StoreNormalizer 0.10.1, also when renormalizing.
        let mut event: Annotated<Event> = from_json(json!({"sdk": {"name": "a", "version": "1",
            "integrations": ["", "a", null], "features": ["", "b"],
            "packages": [{}, null, {"name": ""}]}}));
        if let Some(event) = event.value_mut() {
            drop_empty_sdk_list_elements(event);
        }
        assert_eq!(
            to_json(&event).ok(),
            Some(
                json!({"sdk": {"name": "a", "version": "1", "integrations": ["a"],
                "features": ["b"], "packages": [{"name": ""}]}})
            )
        );
    }

    #[test]
    fn unknown_top_level_attributes_become_invalid() {
        // The verified example of §9.
        assert_eq!(
            remove(json!({"foo": "bar"})),
            json!({"foo": null, "_meta": {"foo": {"": {"err": ["invalid_attribute"]}}}})
        );
    }

    #[test]
    fn some_top_level_attributes_are_dropped_silently() {
        assert_eq!(
            remove(
                json!({"metadata": {"a": 1}, "hashes": ["h"], "applecrashreport": "x",
                "device": {}, "repos": {}, "query": "q", "platform": "python"})
            ),
            json!({"platform": "python"})
        );
    }

    #[test]
    fn nested_unknown_attributes_are_dropped_silently() {
        // The verified example of §9: `request` is empty afterwards and omitted.
        assert_eq!(remove(json!({"request": {"foo": "x"}})), json!({}));
        assert_eq!(
            remove(json!({"exception": {"values": [{"type": "T", "x": 1,
                "stacktrace": {"frames": [{"function": "f", "y": 2}], "z": 3}}], "w": 4},
                "user": {"id": "1", "plan": "pro"}, "sdk": {"name": "n", "version": "v", "q": 1}})),
            json!({"user": {"id": "1"},
                "exception": {"values": [{"type": "T", "stacktrace": {"frames": [{"function": "f"}]}}]},
                "sdk": {"name": "n", "version": "v"}})
        );
    }

    #[test]
    fn breadcrumb_unknown_attributes_become_invalid() {
        assert_eq!(
            remove(json!({"breadcrumbs": {"values": [{"message": "m", "foo": 1}]}})),
            json!({"breadcrumbs": {"values": [{"message": "m", "foo": null}]},
                "_meta": {"breadcrumbs": {"values": {"0": {"foo": {"": {
                    "err": ["invalid_attribute"]}}}}}}})
        );
    }

    #[test]
    fn free_form_data_is_kept() {
        // The verified example of §9: contexts keep unknown keys.
        let input = json!({"contexts": {"os": {"name": "x", "foo": "y", "type": "os"},
                "flags": {"values": [{"flag": "f", "result": true, "extra": 1}], "type": "flags"}},
            "extra": {"a": {"b": 1}}, "breadcrumbs": {"values": [{"data": {"k": "v"}}]}});
        assert_eq!(remove(input.clone()), input);
    }
}
