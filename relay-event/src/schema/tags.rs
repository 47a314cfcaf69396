//! [`Tags`]: the event's key/value tags as a list of pairs (normalization.md §2).
//!
//! Parsing accepts an object (becoming pairs sorted by key, since objects keep their keys
//! sorted) or an array of `[key, value]` pairs; keys and values are lenient strings. An array
//! element that is not a 2-element array becomes `null` with `invalid_data` `expected a
//! tuple`; any other value is `expected an array`. Output is always the array of pairs. Keys and
//! values are limited to 200 characters (normalization.md §8.1), keys allow only
//! `a-zA-Z0-9_.:-`, values deny `\n` (normalization.md §6.2); PII level `maybe` (pii.md).

use std::borrow::Cow;

use super::pairs::{container_newtype, pair_from_value, pair_into_value_impl, pairs_from_value};
use super::{TAG_KEY_CHARACTERS, TAG_VALUE_CHARACTERS};
use crate::{
    process_value, Annotated, Array, FieldAttrs, FromValue, LenientString, Pii, ProcessValue,
    ProcessingResult, ProcessingState, Processor, Value,
};

/// One tag: key and value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TagEntry(pub Annotated<LenientString>, pub Annotated<LenientString>);

/// The list of tags of an event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tags(pub Array<TagEntry>);

container_newtype!(Tags, Array<TagEntry>, process_array);

static KEY_ATTRS: FieldAttrs = FieldAttrs::new()
    .max_chars(200, 0)
    .characters(TAG_KEY_CHARACTERS)
    .pii(Pii::Maybe);
static VALUE_ATTRS: FieldAttrs = FieldAttrs::new()
    .max_chars(200, 0)
    .characters(TAG_VALUE_CHARACTERS)
    .pii(Pii::Maybe);

impl FromValue for TagEntry {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        pair_from_value(value, |key, value| {
            TagEntry(
                LenientString::from_value(key),
                LenientString::from_value(value),
            )
        })
    }
}

pair_into_value_impl!(TagEntry);

impl ProcessValue for TagEntry {
    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        process_value(
            &mut self.0,
            processor,
            &state.enter_index(0, Some(Cow::Borrowed(&KEY_ATTRS))),
        )?;
        process_value(
            &mut self.1,
            processor,
            &state.enter_index(1, Some(Cow::Borrowed(&VALUE_ATTRS))),
        )
    }
}

impl FromValue for Tags {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        pairs_from_value(value, |key, value| {
            TagEntry(
                Annotated::new(LenientString(key)),
                LenientString::from_value(value),
            )
        })
        .map_value(Tags)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn objects_become_sorted_pairs_and_pairs_stay() {
        let tags: Annotated<Tags> = from_json(json!({"b": 1, "a": true}));
        assert_eq!(
            to_json(&tags).ok(),
            Some(json!([["a", "True"], ["b", "1"]]))
        );
        let tags: Annotated<Tags> = from_json(json!([["z", "1"], ["a", "2"]]));
        assert_eq!(to_json(&tags).ok(), Some(json!([["z", "1"], ["a", "2"]])));
    }

    #[test]
    fn bad_elements_are_invalid() {
        let tags: Annotated<Tags> = from_json(json!([["a"], "x", ["k", "v"]]));
        let tags = tags.value().cloned().unwrap_or_default();
        assert!(tags[0].value().is_none());
        assert_eq!(
            tags[0].meta().errors()[0].get("reason"),
            Some(&Value::from("expected a tuple"))
        );
        assert_eq!(tags[1].meta().original_value(), Some(&Value::from("x")));
        assert!(tags[2].value().is_some());

        let tags: Annotated<Tags> = from_json(json!(5));
        assert_eq!(tags.meta().original_value(), Some(&Value::I64(5)));
    }
}
