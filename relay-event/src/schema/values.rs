//! [`Values`]: the `{"values": [...]}` wrapper of `exception`, `breadcrumbs` and `threads`
//! (normalization.md §2).
//!
//! Parsing accepts `{"values": [...]}` (other keys are kept as unknown attributes), a bare
//! array, or a single object without `values` (wrapped into one element); `{}` is absent; any
//! other value is `invalid_data` `expected a list or values object`. The output is always the
//! object form, without the `null` elements that have no meta and without a `values` key that
//! has neither meta nor written elements (normalization.md §11; such output does not parse
//! back to the same wrapper, as Sentry's does not). `values` is `required` (normalization.md
//! §6.2).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, SeqAccess, Visitor};

use serde::ser::SerializeMap;
use serde::Serializer;

use crate::de::{AnnotatedSeed, ArrayVisitor, KeySeed, ValueSeed, ValueVisitor};
use crate::{
    invalid_type, process_value, Annotated, Array, FieldAttrs, FromValue, IntoValue, MetaMap,
    Object, ProcessValue, ProcessingResult, ProcessingState, Processor, SerializePayload,
    SkipSerialization, Value,
};

/// A list of `T` wrapped in an object under `values`.
#[derive(Clone, Debug, PartialEq)]
pub struct Values<T> {
    /// The elements.
    pub values: Annotated<Array<T>>,
    /// Unknown attributes.
    pub other: Object<Value>,
}

impl<T> Default for Values<T> {
    fn default() -> Self {
        Values {
            values: Annotated::empty(),
            other: Object::new(),
        }
    }
}

impl<T> Values<T> {
    /// Wraps `values`.
    pub fn new(values: Array<T>) -> Self {
        Values {
            values: Annotated::new(values),
            other: Object::new(),
        }
    }
}

static VALUES_ATTRS: FieldAttrs = FieldAttrs::new().name("values").required(true);

impl<T: FromValue> FromValue for Values<T> {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::Array(items)), meta) => {
                let values = Array::<T>::from_value(Annotated::new(Value::Array(items)));
                Annotated(
                    Some(Values {
                        values,
                        other: Object::new(),
                    }),
                    meta,
                )
            }
            Annotated(Some(Value::Object(mut map)), meta) => {
                if map.is_empty() {
                    return Annotated(None, meta);
                }
                let values = match map.remove("values") {
                    Some(values) => Array::<T>::from_value(values),
                    None => {
                        let single = T::from_value(Annotated::new(Value::Object(map)));
                        return Annotated(Some(Values::new(vec![single])), meta);
                    }
                };
                Annotated(Some(Values { values, other: map }), meta)
            }
            Annotated(Some(other), meta) => invalid_type(other, meta, "a list or values object"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }

    fn deserialize_annotated<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Annotated<Self>, D::Error> {
        deserializer.deserialize_any(ValuesVisitor(PhantomData))
    }
}

/// Streams the common shapes (`{"values": [...]}` and a bare array) into `T`; the rare
/// single-object form and wrong types go through `from_value` on the parsed [`Value`].
struct ValuesVisitor<T>(PhantomData<fn() -> T>);

impl<'de, T: FromValue> Visitor<'de> for ValuesVisitor<T> {
    type Value = Annotated<Values<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        ValueVisitor.visit_bool(v).map(FromValue::from_value)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        ValueVisitor.visit_i64(v).map(FromValue::from_value)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        ValueVisitor.visit_u64(v).map(FromValue::from_value)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        ValueVisitor.visit_f64(v).map(FromValue::from_value)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        ValueVisitor.visit_str(v).map(FromValue::from_value)
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        ValueVisitor.visit_string(v).map(FromValue::from_value)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Annotated::empty())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Annotated::empty())
    }
    fn visit_some<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let values = ArrayVisitor::<T>(PhantomData).visit_seq(seq)?;
        Ok(Annotated::new(Values {
            values,
            other: Object::new(),
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = None;
        let mut other = Object::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "values" {
                values = Some(map.next_value_seed(AnnotatedSeed::<Array<T>>::new())?);
            } else {
                let value = map.next_value_seed(ValueSeed)?;
                other.insert(key.into_owned(), value);
            }
        }
        match values {
            Some(values) => Ok(Annotated::new(Values { values, other })),
            // `{}` is absent.
            None if other.is_empty() => Ok(Annotated::empty()),
            // A single object without `values` is one element.
            None => {
                let single = T::from_value(Annotated::new(Value::Object(other)));
                Ok(Annotated::new(Values::new(vec![single])))
            }
        }
    }
}

impl<T: IntoValue> Values<T> {
    /// Whether the `values` key is written: not when it has no meta and no written element (a
    /// `null` element without meta is not written, normalization.md §11), as in Sentry's
    /// output (`{"values": [null]}` → `{}`, renormalized `{"values": [], "x": 1}` →
    /// `{"x": 1}`, which parses back differently: Sentry's quirk, kept).
    fn writes_values(&self) -> bool {
        if !self.values.meta().is_empty() {
            return true;
        }
        self.values
            .value()
            .is_some_and(|items| items.iter().any(is_written_element))
    }
}

/// A `null` element without meta is left out of `values` (normalization.md §11); its index
/// in `_meta` stays the original one.
fn is_written_element<T: IntoValue>(element: &Annotated<T>) -> bool {
    !element.skip_serialization(SkipSerialization::Null)
}

/// The written elements of a `values` list.
struct WrittenElements<'a, T>(&'a Array<T>);

impl<T: IntoValue> serde::Serialize for WrittenElements<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .iter()
                .filter(|element| is_written_element(element))
                .map(SerializePayload),
        )
    }
}

impl<T: IntoValue> IntoValue for Values<T> {
    fn into_value(self) -> Value {
        let writes_values = self.writes_values();
        let mut map = self.other;
        if writes_values {
            let Annotated(items, meta) = self.values;
            let items = items.map(|items| {
                Value::Array(
                    items
                        .into_iter()
                        .filter(is_written_element)
                        .map(Annotated::into_annotated_value)
                        .collect(),
                )
            });
            map.entry("values".to_owned())
                .or_insert(Annotated(items, meta));
        }
        Value::Object(map)
    }

    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A `values` key in `other` (only possible when code puts it there) takes the place
        // of the field, written once.
        let mut map = serializer.serialize_map(None)?;
        match (self.other.get("values"), self.values.value()) {
            (Some(value), _) => map.serialize_entry("values", &SerializePayload(value))?,
            (None, _) if !self.writes_values() => {}
            (None, Some(items)) => map.serialize_entry("values", &WrittenElements(items))?,
            (None, None) => map.serialize_entry("values", &SerializePayload(&self.values))?,
        }
        for (key, value) in &self.other {
            if key != "values" {
                map.serialize_entry(key, &SerializePayload(value))?;
            }
        }
        map.end()
    }

    fn extract_child_meta(&self) -> MetaMap {
        let mut children = self.other.extract_child_meta();
        let tree = self.values.meta_tree();
        if !tree.is_empty() {
            children.insert("values".to_owned(), tree);
        }
        children
    }

    fn has_child_meta(&self) -> bool {
        self.values.has_meta() || self.other.has_child_meta()
    }

    fn is_empty(&self) -> bool {
        self.values.skip_serialization(SkipSerialization::Empty)
            && self
                .other
                .values()
                .all(|value| value.skip_serialization(SkipSerialization::Empty))
    }
}

impl<T: ProcessValue> ProcessValue for Values<T> {
    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        process_value(
            &mut self.values,
            processor,
            &state.enter_static("values", Some(Cow::Borrowed(&VALUES_ATTRS))),
        )?;
        processor.process_other(&mut self.other, state)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    fn roundtrip(input: serde_json::Value) -> serde_json::Value {
        let parsed: Annotated<Values<String>> = from_json(input);
        to_json(&parsed).unwrap_or_default()
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(
            roundtrip(json!({"values": ["a"], "x": 1})),
            json!({"values": ["a"], "x": 1})
        );
        assert_eq!(roundtrip(json!(["a", "b"])), json!({"values": ["a", "b"]}));
        assert_eq!(roundtrip(json!({})), json!(null));
        let single: Annotated<Values<Object<Value>>> = from_json(json!({"type": "x"}));
        assert_eq!(
            to_json(&single).ok(),
            Some(json!({"values": [{"type": "x"}]}))
        );
    }

    #[test]
    fn null_elements_without_meta_are_not_written() {
        assert_eq!(roundtrip(json!({"values": [null]})), json!({}));
        assert_eq!(roundtrip(json!({"values": []})), json!({}));
        assert_eq!(roundtrip(json!({"values": [], "x": 1})), json!({"x": 1}));
        assert_eq!(roundtrip(json!({"values": null, "x": 1})), json!({"x": 1}));
        assert_eq!(
            roundtrip(json!({"values": [null, "a", null]})),
            json!({"values": ["a"]})
        );

        // With meta, the element and the key stay; the meta keeps the original index.
        let mut parsed: Annotated<Values<String>> = from_json(json!({"values": [null, 1]}));
        if let Some(values) = parsed.value_mut() {
            if let Some(items) = values.values.value_mut() {
                items[1].set_value(None);
            }
        }
        assert_eq!(
            to_json(&parsed).ok(),
            Some(json!({"values": [null], "_meta": {"values": {"1": {"": {
                "err": [["invalid_data", {"reason": "expected a string"}]], "val": 1}}}}}))
        );
        let missing = Annotated::new(Values::<String> {
            values: Annotated(
                None,
                crate::Meta::from_error(crate::ErrorKind::MissingAttribute),
            ),
            other: Object::new(),
        });
        assert_eq!(
            to_json(&missing).ok(),
            Some(
                json!({"values": null, "_meta": {"values": {"": {"err": ["missing_attribute"]}}}})
            )
        );
    }

    #[test]
    fn other_types_are_invalid() {
        let parsed: Annotated<Values<String>> = from_json(json!("nope"));
        assert!(parsed.value().is_none());
        assert_eq!(
            parsed.meta().errors()[0].get("reason"),
            Some(&Value::from("expected a list or values object"))
        );
        assert_eq!(parsed.meta().original_value(), Some(&Value::from("nope")));
    }
}
