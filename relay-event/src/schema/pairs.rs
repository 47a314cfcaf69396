//! Shared implementations for the schema's list and map newtypes ([`Tags`](super::Tags),
//! [`Headers`](super::Headers), [`Contexts`](super::Contexts),
//! [`Measurements`](super::Measurements), [`Breakdowns`](super::Breakdowns)) and for the
//! `[key, value]` pairs of [`Tags`](super::Tags) and [`Headers`](super::Headers).
//!
//! A pair is written as a 2-element array and addressed in `_meta` by index, `"0"` the key and
//! `"1"` the value.

use serde::ser::SerializeSeq;
use serde::Serializer;

use crate::{
    invalid_type, Annotated, Array, FromValue, IntoValue, MetaMap, SerializePayload, Value,
};

/// Implements `Deref` / `DerefMut` to the wrapped container, and [`IntoValue`](crate::IntoValue)
/// and [`ProcessValue`](crate::ProcessValue) delegating to it, for a newtype `$name(pub
/// $target)`. `$process` is the processor hook of the container: `process_array` for an
/// [`Array`](crate::Array), `process_object` for an [`Object`](crate::Object).
macro_rules! container_newtype {
    ($name:ident, $target:ty, $process:ident) => {
        impl ::std::ops::Deref for $name {
            type Target = $target;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl ::std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl $crate::IntoValue for $name {
            fn into_value(self) -> $crate::Value {
                self.0.into_value()
            }
            fn serialize_payload<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                self.0.serialize_payload(serializer)
            }
            fn extract_child_meta(&self) -> $crate::MetaMap {
                self.0.extract_child_meta()
            }
            fn has_child_meta(&self) -> bool {
                self.0.has_child_meta()
            }
            fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl $crate::ProcessValue for $name {
            fn process_value<P: $crate::Processor>(
                &mut self,
                meta: &mut $crate::Meta,
                processor: &mut P,
                state: &$crate::ProcessingState<'_>,
            ) -> $crate::ProcessingResult {
                processor.$process(&mut self.0, meta, state)
            }

            fn process_child_values<P: $crate::Processor>(
                &mut self,
                processor: &mut P,
                state: &$crate::ProcessingState<'_>,
            ) -> $crate::ProcessingResult {
                self.0.process_child_values(processor, state)
            }
        }
    };
}
pub(crate) use container_newtype;

/// Implements [`IntoValue`](crate::IntoValue) for a pair `$name(key, value)` with
/// [`pair_into_value`], [`serialize_pair`] and [`pair_child_meta`].
macro_rules! pair_into_value_impl {
    ($name:ident) => {
        impl $crate::IntoValue for $name {
            fn into_value(self) -> $crate::Value {
                $crate::schema::pairs::pair_into_value(self.0, self.1)
            }

            fn serialize_payload<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                $crate::schema::pairs::serialize_pair(&self.0, &self.1, serializer)
            }

            fn extract_child_meta(&self) -> $crate::MetaMap {
                $crate::schema::pairs::pair_child_meta(&self.0, &self.1)
            }
            fn has_child_meta(&self) -> bool {
                self.0.has_meta() || self.1.has_meta()
            }
        }
    };
}
pub(crate) use pair_into_value_impl;

/// Parses a list of pairs: an array (each element parsed by `T`'s [`FromValue`]) or an object
/// (each entry turned into a pair by `from_entry`, in the object's sorted key order). Any
/// other value is `expected an array` (Sentry's wording for tags and headers, which accept
/// objects too).
pub(crate) fn pairs_from_value<T: FromValue>(
    value: Annotated<Value>,
    from_entry: impl Fn(String, Annotated<Value>) -> T,
) -> Annotated<Array<T>> {
    match value {
        Annotated(Some(Value::Array(items)), meta) => {
            Annotated(Some(items.into_iter().map(T::from_value).collect()), meta)
        }
        Annotated(Some(Value::Object(map)), meta) => Annotated(
            Some(
                map.into_iter()
                    .map(|(key, value)| Annotated::new(from_entry(key, value)))
                    .collect(),
            ),
            meta,
        ),
        Annotated(Some(other), meta) => invalid_type(other, meta, "an array"),
        Annotated(None, meta) => Annotated(None, meta),
    }
}

/// Parses one pair: a 2-element array whose key and value `from_items` turns into the pair;
/// any other value is `expected a tuple`.
pub(crate) fn pair_from_value<T>(
    value: Annotated<Value>,
    from_items: impl FnOnce(Annotated<Value>, Annotated<Value>) -> T,
) -> Annotated<T> {
    match value {
        Annotated(Some(Value::Array(items)), meta) if items.len() == 2 => {
            let mut items = items.into_iter();
            let key = items.next().unwrap_or_default();
            let value = items.next().unwrap_or_default();
            Annotated(Some(from_items(key, value)), meta)
        }
        Annotated(Some(other), meta) => invalid_type(other, meta, "a tuple"),
        Annotated(None, meta) => Annotated(None, meta),
    }
}

/// The value of a pair: the 2-element array of key and value.
pub(crate) fn pair_into_value<K: IntoValue, V: IntoValue>(
    key: Annotated<K>,
    value: Annotated<V>,
) -> Value {
    Value::Array(vec![
        key.into_annotated_value(),
        value.into_annotated_value(),
    ])
}

/// Serializes a pair as the 2-element array of key and value.
pub(crate) fn serialize_pair<K: IntoValue, V: IntoValue, S: Serializer>(
    key: &Annotated<K>,
    value: &Annotated<V>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(2))?;
    seq.serialize_element(&SerializePayload(key))?;
    seq.serialize_element(&SerializePayload(value))?;
    seq.end()
}

/// The `_meta` of a pair's key (`"0"`) and value (`"1"`), each only if not empty.
pub(crate) fn pair_child_meta<K: IntoValue, V: IntoValue>(
    key: &Annotated<K>,
    value: &Annotated<V>,
) -> MetaMap {
    let mut children = MetaMap::new();
    for (index, tree) in [key.meta_tree(), value.meta_tree()].into_iter().enumerate() {
        if !tree.is_empty() {
            children.insert(index.to_string(), tree);
        }
    }
    children
}
