//! Streaming lenient parsing: JSON text straight into the annotated model, without an
//! intermediate `serde_json::Value` tree.
//!
//! The reference semantics are those of [`crate::from_json`] (text → `serde_json::Value` →
//! [`annotated_from_json`](crate::annotated_from_json) → [`FromValue::from_value`] → attach
//! `_meta`); everything here must produce exactly the same [`Annotated`] for every input, and
//! fail exactly when `serde_json` would fail to parse the text into a `serde_json::Value`.
//!
//! How:
//!
//! * [`ValueSeed`] builds an `Annotated<Value>` directly from any `serde` deserializer. Numbers
//!   follow `annotated_from_json`: negative integers are `I64`, non-negative ones `I64` when
//!   they fit and `U64` above `i64::MAX`, everything else `F64` (a non-finite float — which
//!   `serde_json` never produces from text — would be null, like `serde_json::Number` makes
//!   it). Duplicate object keys: the last value wins, like `serde_json::Map::insert`.
//! * [`FromValue::deserialize_annotated`] is the typed entry point. Its default goes through
//!   [`ValueSeed`] and `from_value`, so every hand-written `FromValue` stays correct without
//!   changes. Hot containers override it to stream into their typed children: [`Value`],
//!   `Array<T>`, `Object<T>`, `Box<T>`, [`Values`](crate::schema::Values) and every struct
//!   with the `FromValue` derive ([`deserialize_struct`]). Each override handles exactly the
//!   input shape its `from_value` parses field by field (an object for a struct, an array for
//!   `Array<T>`); any other shape is built as a [`Value`] and handed to `from_value`, so the
//!   error, the original value and all coercions come from one implementation.
//! * `from_str_with_meta` parses a document: it removes the `_meta` key of an object root
//!   (the last one wins, like `shift_remove` on a parsed map) while streaming and hands it
//!   back; [`crate::from_json_str`] attaches it with [`crate::json::attach_meta_tree`] — the
//!   same code as the reference.
//!
//! Recursion is bounded by `serde_json`'s recursion limit (128 nested arrays/objects, checked
//! by its deserializer whatever the visitor), so deep input is an error, never a stack
//! overflow.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::annotated::{Annotated, Array, Object, Value};
use crate::from_value::FromValue;
use crate::meta_tree::META_KEY;

/// Builds an `Annotated<Value>` from a deserializer (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Annotated<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Parses one annotated `T` with [`FromValue::deserialize_annotated`]; the field type is
/// inferred from where the result goes.
pub struct AnnotatedSeed<T>(PhantomData<fn() -> T>);

impl<T> AnnotatedSeed<T> {
    /// The seed.
    pub fn new() -> Self {
        AnnotatedSeed(PhantomData)
    }
}

impl<T> Default for AnnotatedSeed<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'de, T: FromValue> DeserializeSeed<'de> for AnnotatedSeed<T> {
    type Value = Annotated<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        T::deserialize_annotated(deserializer)
    }
}

/// Parses one annotated `T` into a place with [`FromValue::deserialize_annotated_into`].
pub struct FieldSeed<'a, T>(pub &'a mut Annotated<T>);

impl<'de, T: FromValue> DeserializeSeed<'de> for FieldSeed<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        T::deserialize_annotated_into(self.0, deserializer)
    }
}

/// The capacity of a typed array when its first element arrives (`serde_json` gives no size
/// hint). Schema elements are large (a frame is ~900 bytes) and the default growth from 1 or
/// 4 elements copies them several times; 16 covers the stack traces and breadcrumb lists of
/// typical events in one allocation. Empty arrays allocate nothing.
const FIRST_ARRAY_CAPACITY: usize = 16;

/// Parses one more element at the end of an array, in place.
struct PushSeed<'a, T>(&'a mut Vec<Annotated<T>>);

impl<'de, T: FromValue> DeserializeSeed<'de> for PushSeed<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.0.capacity() == 0 {
            self.0.reserve(FIRST_ARRAY_CAPACITY);
        }
        self.0.push(Annotated::empty());
        match self.0.last_mut() {
            Some(place) => T::deserialize_annotated_into(place, deserializer),
            None => Ok(()), // unreachable: just pushed
        }
    }
}

/// An object key, borrowed from the input when it has no escapes.
pub struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The visitor of [`ValueSeed`].
#[derive(Clone, Copy, Debug)]
pub struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Annotated<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Annotated::new(Value::Bool(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Annotated::new(Value::I64(v)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Annotated::new(Value::from(v)))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `serde_json::Number::from_f64` refuses non-finite floats: they are null there.
        if v.is_finite() {
            Ok(Annotated::new(Value::F64(v)))
        } else {
            Ok(Annotated::empty())
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Annotated::new(Value::String(v.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Annotated::new(Value::String(v)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Annotated::empty())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Annotated::empty())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Annotated::new(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = BTreeMap::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(ValueSeed)?;
            object.insert(key.into_owned(), value);
        }
        Ok(Annotated::new(Value::Object(object)))
    }
}

/// Implements the visits of every input shape a container does not stream itself: the
/// [`Value`] is built and handed to `T::from_value` (the reference semantics).
macro_rules! fallback_visits {
    ($($shape:ident),*) => {
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
            ValueVisitor.visit_unit().map(FromValue::from_value)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            ValueVisitor.visit_none().map(FromValue::from_value)
        }
        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }
        $(fallback_visits!(@ $shape);)*
    };
    (@ seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            ValueVisitor.visit_seq(seq).map(FromValue::from_value)
        }
    };
    (@ map) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            ValueVisitor.visit_map(map).map(FromValue::from_value)
        }
    };
}

/// The fields of a schema struct, streamed one key at a time (generated by the `FromValue`
/// derive; not meant to be implemented by hand).
#[doc(hidden)]
pub trait DeserializeFields: Sized {
    /// The struct with every field absent and no unknown attributes: what parsing `{}` gives.
    fn empty_fields() -> Self;

    /// Parses the value of `key` into its field (the last occurrence of a key wins), or into
    /// the unknown attributes.
    fn deserialize_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// [`FromValue::deserialize_annotated`] of a derived struct: an object streams into the
/// fields, anything else goes through `from_value` (`expected an object`).
#[doc(hidden)]
pub fn deserialize_struct<'de, T, D>(deserializer: D) -> Result<Annotated<T>, D::Error>
where
    T: DeserializeFields + FromValue,
    D: Deserializer<'de>,
{
    let mut place = Annotated::empty();
    deserialize_struct_into(&mut place, deserializer)?;
    Ok(place)
}

/// [`FromValue::deserialize_annotated_into`] of a derived struct.
#[doc(hidden)]
pub fn deserialize_struct_into<'de, T, D>(
    place: &mut Annotated<T>,
    deserializer: D,
) -> Result<(), D::Error>
where
    T: DeserializeFields + FromValue,
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(StructVisitor(place))
}

/// Builds the struct in `place`; other shapes replace `place` with `from_value`'s result.
struct StructVisitor<'a, T>(&'a mut Annotated<T>);

macro_rules! fallback_into {
    ($self:ident, $result:expr) => {{
        *$self.0 = $result.map(FromValue::from_value)?;
        Ok(())
    }};
}

impl<'de, T: DeserializeFields + FromValue> Visitor<'de> for StructVisitor<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_bool::<E>(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_i64::<E>(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_u64::<E>(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_f64::<E>(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_str::<E>(v))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_string::<E>(v))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_unit::<E>())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        fallback_into!(self, ValueVisitor.visit_none::<E>())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        fallback_into!(self, ValueVisitor.visit_seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A key that occurred before is parsed again from scratch: the last one wins whole.
        self.0 .1 = crate::annotated::Meta::default();
        let value = self.0 .0.insert(T::empty_fields());
        while let Some(key) = map.next_key_seed(KeySeed)? {
            value.deserialize_field(key, &mut map)?;
        }
        Ok(())
    }
}

/// `Array<T>`: an array streams its elements into `T`.
pub(crate) struct ArrayVisitor<T>(pub(crate) PhantomData<fn() -> T>);

impl<'de, T: FromValue> Visitor<'de> for ArrayVisitor<T> {
    type Value = Annotated<Array<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fallback_visits!(map);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while seq.next_element_seed(PushSeed(&mut items))?.is_some() {}
        Ok(Annotated::new(items))
    }
}

/// `Object<T>`: an object streams its values into `T`.
pub(crate) struct ObjectVisitor<T>(pub(crate) PhantomData<fn() -> T>);

impl<'de, T: FromValue> Visitor<'de> for ObjectVisitor<T> {
    type Value = Annotated<Object<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fallback_visits!(seq);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = BTreeMap::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(AnnotatedSeed::<T>::new())?;
            object.insert(key.into_owned(), value);
        }
        Ok(Annotated::new(object))
    }
}

/// Parses a value of an unknown attribute (kept in `other`).
#[doc(hidden)]
pub fn deserialize_other<'de, A: MapAccess<'de>>(
    other: &mut Object<Value>,
    key: Cow<'de, str>,
    map: &mut A,
) -> Result<(), A::Error> {
    let value = map.next_value_seed(ValueSeed)?;
    other.insert(key.into_owned(), value);
    Ok(())
}

/// Parses and drops the value of an unknown attribute of a struct without `other`. It is
/// parsed fully (not skipped) so that the same inputs are errors as with the reference.
#[doc(hidden)]
pub fn deserialize_ignored<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value_seed(ValueSeed).map(drop)
}

/// Parses a document root into `T`, taking the `_meta` of an object root aside.
fn deserialize_root<'de, T, D>(
    deserializer: D,
) -> Result<(Annotated<T>, Option<serde_json::Value>), D::Error>
where
    T: FromValue,
    D: Deserializer<'de>,
{
    let mut meta = None;
    let value = T::deserialize_annotated(RootDeserializer {
        inner: deserializer,
        meta: &mut meta,
    })?;
    Ok((value, meta))
}

/// Parses a JSON document leniently into `T`; only malformed JSON is an error. Returns the
/// root's `_meta` object (if any) unattached: the caller ([`crate::from_json_str`]) attaches
/// it with the reference code, since `_meta` is rare and small.
pub(crate) fn from_str_with_meta<T: FromValue>(
    text: &str,
) -> serde_json::Result<(Annotated<T>, Option<serde_json::Value>)> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = deserialize_root::<T, _>(&mut deserializer)?;
    deserializer.end()?;
    Ok(parsed)
}

/// Wraps the root deserializer so that an object root hides its `_meta` entries.
struct RootDeserializer<'m, D> {
    inner: D,
    meta: &'m mut Option<serde_json::Value>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for RootDeserializer<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.inner.deserialize_any(RootVisitor {
            inner: visitor,
            meta: self.meta,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct RootVisitor<'m, V> {
    inner: V,
    meta: &'m mut Option<serde_json::Value>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for RootVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.inner.visit_bool(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.inner.visit_i64(v)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.inner.visit_u64(v)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.inner.visit_f64(v)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.inner.visit_str(v)
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.inner.visit_borrowed_str(v)
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.inner.visit_string(v)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(deserializer)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(RootMap {
            inner: map,
            meta: self.meta,
        })
    }
}

/// The root object without its `_meta` entries (taken into `meta`, the last one wins).
struct RootMap<'m, A> {
    inner: A,
    meta: &'m mut Option<serde_json::Value>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RootMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        loop {
            let Some(key) = self.inner.next_key_seed(KeySeed)? else {
                return Ok(None);
            };
            if key == META_KEY {
                *self.meta = Some(self.inner.next_value()?);
                continue;
            }
            return match key {
                Cow::Borrowed(key) => seed
                    .deserialize(BorrowedStrDeserializer::<Self::Error>::new(key))
                    .map(Some),
                Cow::Owned(key) => seed
                    .deserialize(StringDeserializer::<Self::Error>::new(key))
                    .map(Some),
            };
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::fuzz_event;
    use crate::processor::ProcessValue;
    use crate::schema::Event;
    use crate::{from_json, from_json_slice, to_json, to_json_string};

    /// The reference: a `serde_json::Value` first.
    fn reference<T: FromValue + ProcessValue>(bytes: &[u8]) -> Option<Annotated<T>> {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .map(from_json)
    }

    /// Both parsers agree on acceptance and result, for a typed event and for an untyped
    /// value; returns whether the input was accepted.
    fn same(bytes: &[u8]) -> bool {
        // Also checks the writer and the fixed point.
        fuzz_event(bytes);
        let streamed = from_json_slice::<Value>(bytes).ok();
        assert_eq!(streamed, reference::<Value>(bytes), "{bytes:?}");
        let streamed = from_json_slice::<Event>(bytes).ok();
        assert_eq!(streamed, reference::<Event>(bytes), "{bytes:?}");
        streamed.is_some()
    }

    fn nested(depth: usize, open: &str, close: &str, inner: &str) -> String {
        format!(
            r#"{{"extra":{{"a":{}{inner}{}}}}}"#,
            open.repeat(depth),
            close.repeat(depth)
        )
    }

    #[test]
    fn nesting_is_bounded_by_the_recursion_limit() {
        // The event and `extra` are two levels; serde_json allows 128 in total.
        assert!(same(nested(120, "[", "]", "1").as_bytes()));
        assert!(!same(nested(127, "[", "]", "1").as_bytes()));
        assert!(!same(nested(127, r#"{"k":"#, "}", "1").as_bytes()));
        // Far deeper than any stack could take without the limit: an error, no overflow.
        let deep = nested(200_000, "[", "]", "");
        assert!(from_json_slice::<Event>(deep.as_bytes()).is_err());
        assert!(from_json_slice::<Value>(deep.as_bytes()).is_err());
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(from_json_slice::<Event>(deep.as_bytes()).is_err());
    }

    #[test]
    fn numbers_keep_todays_classes() {
        let cases: [(&str, Option<Value>); 8] = [
            ("-1", Some(Value::I64(-1))),
            ("9223372036854775807", Some(Value::I64(i64::MAX))),
            ("9223372036854775808", Some(Value::U64(1 << 63))),
            ("18446744073709551615", Some(Value::U64(u64::MAX))),
            (
                "18446744073709551616",
                Some(Value::F64(18446744073709551616.0)),
            ),
            (
                "-9223372036854775809",
                Some(Value::F64(-9223372036854775809.0)),
            ),
            ("2.0", Some(Value::F64(2.0))),
            // serde_json reads `-0` as a float.
            ("-0", Some(Value::F64(-0.0))),
        ];
        for (text, expected) in cases {
            let parsed = from_json_slice::<Value>(text.as_bytes())
                .ok()
                .and_then(|v| v.0);
            assert_eq!(parsed, expected, "{text}");
            assert!(same(
                format!(r#"{{"extra":{{"n":{text}}},"culprit":{text}}}"#).as_bytes()
            ));
        }
        // Out of range for f64: an error in both.
        assert!(!same(br#"{"extra":{"n":1e400}}"#));
        assert!(!same(br#"{"unknown":-1e400}"#));
        assert!(same(br#"{"timestamp":1e308,"extra":{"n":1e-400}}"#));
    }

    #[test]
    fn floats_are_parsed_like_the_reference() {
        // Sentry reads these 1 ULP away from the nearest double (serde_json's default float
        // parser: the 17-digit significand is rounded to f64, then divided by a power of ten),
        // and events must carry the values it carries. The workspace therefore builds
        // serde_json without `float_roundtrip`, which would pick the nearest double.
        #[allow(clippy::excessive_precision)]
        let cases: [(&str, f64, f64); 2] = [
            ("1796689483.3923001", 1796689483.3923, 1796689483.3923001),
            ("1796689483.3546999", 1796689483.3547, 1796689483.3546999),
        ];
        for (text, sentry, nearest) in cases {
            assert_ne!(
                sentry, nearest,
                "{text}: the test needs two different doubles"
            );
            let parsed = from_json_slice::<Value>(text.as_bytes())
                .ok()
                .and_then(|v| v.0);
            assert_eq!(parsed, Some(Value::F64(sentry)), "{text}");
            let event = format!(r#"{{"spans":[{{"data":{{"n":{text}}}}}],"timestamp":{text}}}"#);
            assert!(same(event.as_bytes()));
            let written = from_json_slice::<Event>(event.as_bytes())
                .ok()
                .and_then(|event| to_json_string(&event).ok())
                .unwrap_or_default();
            assert!(written.contains(&format!(r#""n":{sentry}"#)), "{written}");
        }
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert!(same(br#"{"level":"info","level":"error"}"#));
        assert!(same(br#"{"level":"info","level":null}"#));
        assert!(same(br#"{"extra":{"a":1,"a":{"b":2}},"extra":{"c":3}}"#));
        assert!(same(br#"{"x":1,"x":[2]}"#));
        assert!(same(
            br#"{"exception":{"values":[{"type":"A"}],"values":[{"type":"B"}],"x":1}}"#
        ));
        assert!(same(br#"{"exception":{"values":[{"type":"A","type":5}]}}"#));
        let event: Annotated<Event> =
            crate::from_json_str(r#"{"level":"info","level":"error"}"#).unwrap_or_default();
        assert_eq!(
            to_json_string(&event).ok().as_deref(),
            Some(r#"{"level":"error"}"#)
        );
        // The last `_meta` of the root wins, wherever it is.
        assert!(same(
            br#"{"_meta":{"culprit":{"":{"len":1}}},"culprit":"c","_meta":{"culprit":{"":{"len":2}}}}"#
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert!(!same(b"{\"culprit\":\"\xff\"}"));
        assert!(!same(b"{\"\xc3\":1}"));
        // Also where the typed parser does not keep the value (a struct without `other`).
        assert!(!same(
            b"{\"sdk\":{\"integrations\":[],\"x\":\"\xed\xa0\x80\"}}"
        ));
        assert!(from_json_slice::<Event>(b"{\"extra\":{\"a\":\"\xe2\x82\"}}").is_err());
    }

    #[test]
    fn malformed_and_odd_documents() {
        for bytes in [
            &b""[..],
            b"   ",
            b"{} x",
            b"{\"a\":1,}",
            b"[1,]",
            b"{\"a\" 1}",
            b"nul",
            b"\"\\ud800\"",
            b"{\"culprit\":\"\\u0000\\ud83d\\ude00\"}",
            b" {} ",
            b"null",
            b"5",
            b"\"event\"",
            b"[1,{\"a\":null}]",
            b"{}",
            b"{\"_meta\":null}",
        ] {
            same(bytes);
        }
    }

    #[test]
    fn meta_of_every_shape_attaches_like_the_reference() {
        for meta in [
            "5",
            "[]",
            "\"x\"",
            "{}",
            r#"{"culprit":5}"#,
            r#"{"culprit":{"":[]}}"#,
            r#"{"culprit":{"":{"err":"x"}}}"#,
            r#"{"culprit":{"":{"err":[5,["a"],["invalid_data",5],["b",{"k":[1,{"z":null}]}],[]]}}}"#,
            r#"{"culprit":{"":{"rem":[5,["r"],["r","q"],["r","s",1],["r","s",-1,2],["r","s",1,2]]}}}"#,
            r#"{"culprit":{"":{"len":-1,"val":{"a":[1,2.5,null]}}}}"#,
            r#"{"culprit":{"":{"len":18446744073709551615}}}"#,
            r#"{"exception":{"values":{"0":{"type":{"":{"err":["invalid_data"]}}},"x":{}}}}"#,
            r#"{"extra":{"a":{"":{"err":["e"]},"0":{"":{"len":1}}}},"":{"err":["root"]}}"#,
            r#"{"tags":{"0":{"1":{"":{"err":["invalid_data"]}}}}}"#,
        ] {
            let input = format!(
                r#"{{"culprit":7,"exception":{{"values":[{{"type":null}}]}},"extra":{{"a":[1]}},"tags":[["k",5]],"_meta":{meta}}}"#
            );
            assert!(same(input.as_bytes()), "{input}");
            let event: Annotated<Event> = from_json_slice(input.as_bytes()).unwrap_or_default();
            assert_eq!(
                to_json_string(&event).ok(),
                to_json(&event).ok().map(|json| json.to_string())
            );
        }
    }
}
