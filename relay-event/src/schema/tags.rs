//! [`Tags`]: the event's key/value tags as a list of pairs (normalization.md §2).
//!
//! Parsing accepts an object (becoming pairs sorted by key, since objects keep their keys
//! sorted) or an array of `[key, value]` pairs; keys and values are lenient strings. An array
//! element that is not a 2-element array becomes `null` with `invalid_data` `expected a
//! tuple`; any other value is `expected tags`. Output is always the array of pairs. Keys and
//! values are limited to 200 characters (normalization.md §8.1), keys allow only
//! `a-zA-Z0-9_.:-`, values deny `\n` (normalization.md §6.2); PII level `maybe` (pii.md).

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use serde::ser::SerializeSeq;
use serde::Serializer;

use super::{TAG_KEY_CHARACTERS, TAG_VALUE_CHARACTERS};
use crate::{
    invalid_type, process_value, Annotated, Array, FieldAttrs, FromValue, IntoValue, LenientString,
    Meta, MetaMap, Pii, ProcessValue, ProcessingResult, ProcessingState, Processor,
    SerializePayload, Value,
};

/// One tag: key and value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TagEntry(pub Annotated<LenientString>, pub Annotated<LenientString>);

/// The list of tags of an event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tags(pub Array<TagEntry>);

impl Deref for Tags {
    type Target = Array<TagEntry>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Tags {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

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
        match value {
            Annotated(Some(Value::Array(items)), meta) if items.len() == 2 => {
                let mut items = items.into_iter();
                let key = items.next().unwrap_or_default();
                let value = items.next().unwrap_or_default();
                Annotated(
                    Some(TagEntry(
                        LenientString::from_value(key),
                        LenientString::from_value(value),
                    )),
                    meta,
                )
            }
            Annotated(Some(other), meta) => invalid_type(other, meta, "a tuple"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl IntoValue for TagEntry {
    fn into_value(self) -> Value {
        Value::Array(vec![
            self.0.into_annotated_value(),
            self.1.into_annotated_value(),
        ])
    }

    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(2))?;
        seq.serialize_element(&SerializePayload(&self.0))?;
        seq.serialize_element(&SerializePayload(&self.1))?;
        seq.end()
    }

    fn extract_child_meta(&self) -> MetaMap {
        let mut children = MetaMap::new();
        for (index, tree) in [self.0.meta_tree(), self.1.meta_tree()]
            .into_iter()
            .enumerate()
        {
            if !tree.is_empty() {
                children.insert(index.to_string(), tree);
            }
        }
        children
    }
}

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
        match value {
            Annotated(Some(Value::Array(items)), meta) => Annotated(
                Some(Tags(items.into_iter().map(TagEntry::from_value).collect())),
                meta,
            ),
            Annotated(Some(Value::Object(map)), meta) => Annotated(
                Some(Tags(
                    map.into_iter()
                        .map(|(key, value)| {
                            Annotated::new(TagEntry(
                                Annotated::new(LenientString(key)),
                                LenientString::from_value(value),
                            ))
                        })
                        .collect(),
                )),
                meta,
            ),
            Annotated(Some(other), meta) => invalid_type(other, meta, "tags"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl IntoValue for Tags {
    fn into_value(self) -> Value {
        self.0.into_value()
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_payload(serializer)
    }
    fn extract_child_meta(&self) -> MetaMap {
        self.0.extract_child_meta()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ProcessValue for Tags {
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        processor.process_array(&mut self.0, meta, state)
    }

    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        self.0.process_child_values(processor, state)
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
