//! [`IntoValue`]: turning typed values back into JSON and collecting their meta.
//!
//! Serialization is split in two, like the output format (normalization.md §10.1): the payload
//! ([`IntoValue::serialize_payload`], which never writes meta) and the meta tree
//! ([`Annotated::meta_tree`], from [`IntoValue::extract_child_meta`]). [`crate::json`] joins
//! them into one JSON document with a trailing `_meta`.
//!
//! Numbers (normalization.md §11): integers are written as integers, floats with the shortest
//! text that round-trips and always with a fraction or exponent (`1704067140.0`, `2.5`,
//! `1e+21`), non-finite floats as `null`.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::annotated::{Annotated, Array, Meta, Object, Value, MAX_ORIGINAL_VALUE_SIZE};
use crate::meta_tree::{MetaMap, MetaTree};

/// A type that can be turned into a [`Value`] and serialized, with the meta of its children.
///
/// A schema struct implements this field by field (see the crate docs): `into_value` builds a
/// [`Value::Object`], `serialize_payload` writes the fields in schema order (skipping them per
/// [`SkipSerialization`]), and `extract_child_meta` collects `field.meta_tree()` of every field
/// with a non-empty tree under the field's name.
pub trait IntoValue {
    /// Converts into the untyped value. The meta of nested annotated children is kept.
    fn into_value(self) -> Value
    where
        Self: Sized;

    /// Writes the payload (without any meta) to `serializer`.
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// The meta trees of the children of this value that have meta, keyed by field name, key
    /// or index. Primitives have no children.
    fn extract_child_meta(&self) -> MetaMap {
        MetaMap::new()
    }

    /// Whether any descendant has meta, i.e. whether [`IntoValue::extract_child_meta`] would
    /// return a non-empty map. Containers override it with an allocation-free walk, so that
    /// a value without meta (the common case) costs no tree building when serialized.
    fn has_child_meta(&self) -> bool {
        !self.extract_child_meta().is_empty()
    }

    /// Whether this value counts as empty for [`SkipSerialization::Empty`]: empty strings,
    /// arrays and objects. Structs should report whether all their fields are empty.
    fn is_empty(&self) -> bool {
        false
    }

    /// Whether this value is written as an empty string, array or object: what an element of
    /// a [`SkipSerialization::EmptyElements`] field must be to be left out. Unlike
    /// [`IntoValue::is_empty`] this is shallow: a struct is blank when all its fields are
    /// left out, not when they are merely empty (`{"name": ""}` is not blank).
    fn is_blank(&self) -> bool {
        self.is_empty()
    }

    /// Whether every element of this list or map is left out under
    /// [`SkipSerialization::EmptyElements`] (missing or blank, without meta). Values without
    /// elements have none to leave out.
    fn has_only_blank_elements(&self) -> bool {
        false
    }

    /// [`IntoValue::serialize_payload`] leaving out the elements that
    /// [`SkipSerialization::EmptyElements`] leaves out; only lists and maps differ.
    fn serialize_payload_without_blank_elements<S: Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        self.serialize_payload(serializer)
    }
}

/// Whether an element of a list or map is left out under [`SkipSerialization::EmptyElements`].
fn is_blank_element<T: IntoValue>(element: &Annotated<T>) -> bool {
    element.meta().is_empty() && element.value().is_none_or(IntoValue::is_blank)
}

/// When an annotated struct field is left out of the output (normalization.md §11).
///
/// A field is never left out while it has meta: its `null` payload is written and its meta
/// appears in `_meta`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SkipSerialization {
    /// Always written, `null` included.
    Never,
    /// Left out when the value is missing (the default for struct fields).
    #[default]
    Null,
    /// Left out when the value is missing or [`IntoValue::is_empty`].
    Empty,
    /// Like [`SkipSerialization::Empty`] for a list or map field, whose elements are also left
    /// out when missing or [`IntoValue::is_blank`] (without meta); the field is left out when
    /// no element remains. Sentry writes `modules` and the SDK's `integrations`, `features`
    /// and `packages` like this (`{"a": "", "b": "1"}` → `{"b": "1"}`, `[""]` → left out).
    /// The `_meta` of the remaining elements keeps their index in the parsed list.
    EmptyElements,
}

impl<T: IntoValue> Annotated<T> {
    /// Whether a struct field holding this value is left out of the output under `mode`.
    pub fn skip_serialization(&self, mode: SkipSerialization) -> bool {
        if !self.meta().is_empty() {
            return false;
        }
        match mode {
            SkipSerialization::Never => false,
            SkipSerialization::Null => self.value().is_none(),
            SkipSerialization::Empty => self.value().is_none_or(IntoValue::is_empty),
            SkipSerialization::EmptyElements => self
                .value()
                .is_none_or(|value| value.is_empty() || value.has_only_blank_elements()),
        }
    }

    /// The meta of this value and all its descendants.
    pub fn meta_tree(&self) -> MetaTree {
        MetaTree {
            meta: self.meta().clone(),
            children: match self.value() {
                Some(value) if value.has_child_meta() => value.extract_child_meta(),
                _ => MetaMap::new(),
            },
        }
    }

    /// Whether this value or any descendant has meta (`!self.meta_tree().is_empty()`,
    /// without building the tree).
    pub fn has_meta(&self) -> bool {
        !self.meta().is_empty() || self.value().is_some_and(IntoValue::has_child_meta)
    }

    /// Converts the value into a [`Value`], keeping the meta.
    pub fn into_annotated_value(self) -> Annotated<Value> {
        let Annotated(value, meta) = self;
        Annotated(value.map(IntoValue::into_value), meta)
    }
}

impl Meta {
    /// Records the original value of a typed value that normalization removes (an exception
    /// without type and value, a logentry without message), as Sentry's normalizer does: in
    /// its full form ([`IntoValue::into_value`]: every field, absent ones as `null`), kept
    /// when its written JSON (absent fields left out, as on output) is smaller than
    /// [`MAX_ORIGINAL_VALUE_SIZE`] bytes; a larger value is dropped silently.
    pub fn set_original_value_of<T: IntoValue>(&mut self, value: T) {
        let mut counter = ByteCounter(0);
        let written = value.serialize_payload(&mut serde_json::Serializer::new(&mut counter));
        let fits = written.is_ok() && counter.0 < MAX_ORIGINAL_VALUE_SIZE;
        if fits {
            self.set_original_value_unchecked(value.into_value());
        }
    }
}

/// Counts the bytes written to it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serializes the payload of an annotated value (`null` when missing); see
/// [`IntoValue::serialize_payload`].
#[derive(Debug)]
pub struct SerializePayload<'a, T>(pub &'a Annotated<T>);

impl<T: IntoValue> Serialize for SerializePayload<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.value() {
            Some(value) => value.serialize_payload(serializer),
            None => serializer.serialize_unit(),
        }
    }
}

/// [`SerializePayload`] of a [`SkipSerialization::EmptyElements`] field: without its blank
/// elements.
#[derive(Debug)]
pub struct SerializePayloadWithoutBlankElements<'a, T>(pub &'a Annotated<T>);

impl<T: IntoValue> Serialize for SerializePayloadWithoutBlankElements<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.value() {
            Some(value) => value.serialize_payload_without_blank_elements(serializer),
            None => serializer.serialize_unit(),
        }
    }
}

impl IntoValue for String {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::String(self)
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
    fn is_empty(&self) -> bool {
        String::is_empty(self)
    }
}

impl IntoValue for bool {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::Bool(self)
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(*self)
    }
}

impl IntoValue for i64 {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::I64(self)
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(*self)
    }
}

impl IntoValue for u64 {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::from(self)
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*self)
    }
}

impl IntoValue for f64 {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::F64(self)
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_finite() {
            serializer.serialize_f64(*self)
        } else {
            serializer.serialize_unit()
        }
    }
}

impl<T: IntoValue> IntoValue for Array<T> {
    fn into_value(self) -> Value {
        Value::Array(
            self.into_iter()
                .map(Annotated::into_annotated_value)
                .collect(),
        )
    }

    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for element in self {
            seq.serialize_element(&SerializePayload(element))?;
        }
        seq.end()
    }

    fn extract_child_meta(&self) -> MetaMap {
        let mut children = MetaMap::new();
        for (index, element) in self.iter().enumerate() {
            if element.has_meta() {
                children.insert(index.to_string(), element.meta_tree());
            }
        }
        children
    }

    fn has_child_meta(&self) -> bool {
        self.iter().any(Annotated::has_meta)
    }

    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }

    fn has_only_blank_elements(&self) -> bool {
        self.iter().all(is_blank_element)
    }

    fn serialize_payload_without_blank_elements<S: Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for element in self.iter().filter(|element| !is_blank_element(element)) {
            seq.serialize_element(&SerializePayload(element))?;
        }
        seq.end()
    }
}

impl<T: IntoValue> IntoValue for Object<T> {
    fn into_value(self) -> Value {
        Value::Object(
            self.into_iter()
                .map(|(key, value)| (key, value.into_annotated_value()))
                .collect(),
        )
    }

    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self {
            map.serialize_entry(key, &SerializePayload(value))?;
        }
        map.end()
    }

    fn extract_child_meta(&self) -> MetaMap {
        let mut children = MetaMap::new();
        for (key, value) in self {
            if value.has_meta() {
                children.insert(key.clone(), value.meta_tree());
            }
        }
        children
    }

    fn has_child_meta(&self) -> bool {
        self.values().any(Annotated::has_meta)
    }

    fn is_empty(&self) -> bool {
        Object::is_empty(self)
    }

    fn has_only_blank_elements(&self) -> bool {
        self.values().all(is_blank_element)
    }

    fn serialize_payload_without_blank_elements<S: Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.iter().filter(|(_, value)| !is_blank_element(value)) {
            map.serialize_entry(key, &SerializePayload(value))?;
        }
        map.end()
    }
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }

    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => b.serialize_payload(serializer),
            Value::I64(n) => n.serialize_payload(serializer),
            Value::U64(n) => n.serialize_payload(serializer),
            Value::F64(f) => f.serialize_payload(serializer),
            Value::String(s) => s.serialize_payload(serializer),
            Value::Array(items) => items.serialize_payload(serializer),
            Value::Object(map) => map.serialize_payload(serializer),
        }
    }

    fn extract_child_meta(&self) -> MetaMap {
        match self {
            Value::Array(items) => items.extract_child_meta(),
            Value::Object(map) => map.extract_child_meta(),
            _ => MetaMap::new(),
        }
    }

    fn has_child_meta(&self) -> bool {
        match self {
            Value::Array(items) => items.has_child_meta(),
            Value::Object(map) => map.has_child_meta(),
            _ => false,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Value::String(s) => s.is_empty(),
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            _ => false,
        }
    }
}

impl<T: IntoValue> IntoValue for Box<T> {
    fn into_value(self) -> Value {
        (*self).into_value()
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize_payload(serializer)
    }
    fn extract_child_meta(&self) -> MetaMap {
        (**self).extract_child_meta()
    }
    fn has_child_meta(&self) -> bool {
        (**self).has_child_meta()
    }
    fn is_empty(&self) -> bool {
        (**self).is_empty()
    }
    fn is_blank(&self) -> bool {
        (**self).is_blank()
    }
    fn has_only_blank_elements(&self) -> bool {
        (**self).has_only_blank_elements()
    }
    fn serialize_payload_without_blank_elements<S: Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        (**self).serialize_payload_without_blank_elements(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotated::{Error, Meta};

    #[test]
    fn original_values_of_removed_structs_have_every_field() {
        // The size limit applies to the written form (absent fields left out), the stored
        // value has every field: StoreNormalizer 0.10.1 keeps a 586-byte original this way.
        let exception = |module: &str| crate::schema::Exception {
            ty: Annotated::new(String::new()),
            module: Annotated::new(module.to_owned()),
            ..Default::default()
        };
        let mut meta = Meta::default();
        meta.set_original_value_of(exception(&"m".repeat(476)));
        let Some(Value::Object(original)) = meta.original_value() else {
            panic!("kept: {meta:?}");
        };
        assert_eq!(
            original.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "mechanism",
                "module",
                "raw_stacktrace",
                "stacktrace",
                "thread_id",
                "type",
                "value"
            ]
        );
        assert!(original.get("value").is_some_and(Annotated::is_empty));
        assert!(Value::Object(original.clone()).estimate_json_size() >= MAX_ORIGINAL_VALUE_SIZE);

        let mut meta = Meta::default();
        meta.set_original_value_of(exception(&"m".repeat(477)));
        assert!(meta.original_value().is_none());
    }

    fn payload<T: IntoValue>(value: &Annotated<T>) -> String {
        serde_json::to_string(&SerializePayload(value)).unwrap_or_default()
    }

    #[test]
    fn numbers_are_formatted_like_the_reference() {
        assert_eq!(payload(&Annotated::new(1704067140.0f64)), "1704067140.0");
        assert_eq!(payload(&Annotated::new(2.5f64)), "2.5");
        assert_eq!(payload(&Annotated::new(1e21f64)), "1e+21");
        assert_eq!(payload(&Annotated::new(f64::NAN)), "null");
        assert_eq!(payload(&Annotated::new(-3i64)), "-3");
        assert_eq!(payload(&Annotated::new(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn containers_keep_nulls_and_collect_child_meta() {
        let mut object = Object::new();
        object.insert("b".into(), Annotated::new(Value::I64(1)));
        object.insert(
            "a".into(),
            Annotated(None, Meta::from_error(Error::invalid("x"))),
        );
        let array: Array<Value> = vec![Annotated::empty(), Annotated::new(Value::Object(object))];
        let value = Annotated::new(Value::Array(array));
        assert_eq!(payload(&value), r#"[null,{"a":null,"b":1}]"#);
        let tree = value.meta_tree();
        assert_eq!(tree.children.len(), 1);
        assert!(tree.children["1"].children["a"].meta.has_errors());
    }

    #[test]
    fn skip_serialization_modes() {
        let missing: Annotated<String> = Annotated::empty();
        let empty = Annotated::new(String::new());
        let with_meta: Annotated<String> = Annotated(None, Meta::from_error(Error::invalid("x")));
        assert!(!missing.skip_serialization(SkipSerialization::Never));
        assert!(missing.skip_serialization(SkipSerialization::Null));
        assert!(!empty.skip_serialization(SkipSerialization::Null));
        assert!(empty.skip_serialization(SkipSerialization::Empty));
        assert!(!with_meta.skip_serialization(SkipSerialization::Empty));
    }

    #[test]
    fn empty_elements_leave_out_blank_elements() {
        let list: Array<Value> = vec![
            Annotated::new(Value::from("")),
            Annotated::empty(),
            Annotated::new(Value::Array(Vec::new())),
        ];
        let blank = Annotated::new(list.clone());
        assert!(!blank.skip_serialization(SkipSerialization::Empty));
        assert!(blank.skip_serialization(SkipSerialization::EmptyElements));

        let mut mixed = list;
        mixed.push(Annotated::new(Value::from("x")));
        mixed.push(Annotated(None, Meta::from_error(Error::invalid("x"))));
        let mixed = Annotated::new(mixed);
        assert!(!mixed.skip_serialization(SkipSerialization::EmptyElements));
        let written = serde_json::to_string(&SerializePayloadWithoutBlankElements(&mixed))
            .unwrap_or_default();
        // The element with meta stays (as null), like a field with meta.
        assert_eq!(written, r#"["x",null]"#);
        assert_eq!(payload(&mixed), r#"["",null,[],"x",null]"#);

        let mut map = Object::new();
        map.insert("a".into(), Annotated::new(Value::from("")));
        map.insert("b".into(), Annotated::new(Value::I64(0)));
        let map = Annotated::new(map);
        let written =
            serde_json::to_string(&SerializePayloadWithoutBlankElements(&map)).unwrap_or_default();
        assert_eq!(written, r#"{"b":0}"#);
    }
}
