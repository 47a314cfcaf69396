//! [`FromValue`]: lenient parsing of untyped values into typed ones (normalization.md §2).
//!
//! Parsing never fails as a whole: a value that does not fit its type becomes `None` with an
//! `invalid_data` error (`{"reason": "expected <type>"}`) and its original value in the meta
//! (if it is small enough, see [`crate::Meta::set_original_value`]). Meta already attached to
//! the input is kept.
//!
//! Input JSON is first turned into an `Annotated<Value>` with [`annotated_from_json`] (JSON
//! `null` becomes `None`), then parsed with [`FromValue::from_value`].

pub mod de;

use crate::annotated::{Annotated, Array, Error, Meta, Object, Value};

/// A type that can be parsed leniently from an untyped [`Value`].
///
/// A schema struct implements this field by field (see the crate docs): it accepts a
/// [`Value::Object`], removes each known field's key and parses it with the field type's
/// `from_value` (a missing key parses `Annotated::empty()`), and keeps the remaining keys as
/// unknown attributes (`Object<Value>`). Any other value is an error via [`invalid_type`].
pub trait FromValue: Sized {
    /// Parses `value`; never fails, see the module docs.
    fn from_value(value: Annotated<Value>) -> Annotated<Self>;

    /// Parses straight from a deserializer, with exactly the result of `from_value` on the
    /// [`Value`] the input would give (see [`crate::de`]); only malformed input is an error.
    ///
    /// The default builds that [`Value`] and calls `from_value`. Containers override it to
    /// stream into their typed children without the intermediate tree.
    fn deserialize_annotated<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Annotated<Self>, D::Error> {
        serde::de::DeserializeSeed::deserialize(de::ValueSeed, deserializer).map(Self::from_value)
    }

    /// [`FromValue::deserialize_annotated`] into `place`, replacing what is there. Large
    /// structs override it to build the value where it lives instead of moving it there
    /// through every layer of the parser (a `Frame` is ~900 bytes).
    fn deserialize_annotated_into<'de, D: serde::Deserializer<'de>>(
        place: &mut Annotated<Self>,
        deserializer: D,
    ) -> Result<(), D::Error> {
        *place = Self::deserialize_annotated(deserializer)?;
        Ok(())
    }
}

/// The result of a value of the wrong type: `None`, the error
/// `["invalid_data", {"reason": "expected <expectation>"}]` and the original value.
pub fn invalid_type<T>(value: Value, mut meta: Meta, expectation: &str) -> Annotated<T> {
    meta.add_error(Error::expected(expectation));
    meta.set_original_value(Some(value));
    Annotated(None, meta)
}

/// Converts parsed JSON into an untyped annotated value; `null` becomes `None` (also inside
/// arrays and objects).
pub fn annotated_from_json(json: serde_json::Value) -> Annotated<Value> {
    let value = match json {
        serde_json::Value::Null => return Annotated::empty(),
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(number) => {
            if let Some(signed) = number.as_i64() {
                Value::I64(signed)
            } else if let Some(unsigned) = number.as_u64() {
                Value::U64(unsigned)
            } else {
                // Without arbitrary precision every JSON number is one of the three.
                Value::F64(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(items) => {
            Value::Array(items.into_iter().map(annotated_from_json).collect())
        }
        serde_json::Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, annotated_from_json(value)))
                .collect(),
        ),
    };
    Annotated::new(value)
}

impl FromValue for Value {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        value
    }

    fn deserialize_annotated<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Annotated<Self>, D::Error> {
        deserializer.deserialize_any(de::ValueVisitor)
    }
}

impl FromValue for String {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(s)), meta) => Annotated(Some(s), meta),
            Annotated(Some(other), meta) => invalid_type(other, meta, "a string"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::Bool(b)), meta) => Annotated(Some(b), meta),
            Annotated(Some(other), meta) => invalid_type(other, meta, "a boolean"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::I64(n)), meta) => Annotated(Some(n), meta),
            Annotated(Some(other), meta) => invalid_type(other, meta, "a signed integer"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl FromValue for u64 {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::U64(n)), meta) => Annotated(Some(n), meta),
            Annotated(Some(Value::I64(n)), meta) => match u64::try_from(n) {
                Ok(n) => Annotated(Some(n), meta),
                Err(_) => invalid_type(Value::I64(n), meta, "an unsigned integer"),
            },
            Annotated(Some(other), meta) => invalid_type(other, meta, "an unsigned integer"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::F64(f)), meta) => Annotated(Some(f), meta),
            // Integers become floats like in JSON (precision loss above 2^53 is accepted).
            Annotated(Some(Value::I64(n)), meta) => Annotated(Some(n as f64), meta),
            Annotated(Some(Value::U64(n)), meta) => Annotated(Some(n as f64), meta),
            Annotated(Some(other), meta) => invalid_type(other, meta, "a floating point number"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl<T: FromValue> FromValue for Array<T> {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::Array(items)), meta) => {
                Annotated(Some(items.into_iter().map(T::from_value).collect()), meta)
            }
            Annotated(Some(other), meta) => invalid_type(other, meta, "an array"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }

    fn deserialize_annotated<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Annotated<Self>, D::Error> {
        deserializer.deserialize_any(de::ArrayVisitor(std::marker::PhantomData))
    }
}

impl<T: FromValue> FromValue for Object<T> {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::Object(map)), meta) => Annotated(
                Some(
                    map.into_iter()
                        .map(|(key, value)| (key, T::from_value(value)))
                        .collect(),
                ),
                meta,
            ),
            Annotated(Some(other), meta) => invalid_type(other, meta, "an object"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }

    fn deserialize_annotated<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Annotated<Self>, D::Error> {
        deserializer.deserialize_any(de::ObjectVisitor(std::marker::PhantomData))
    }
}

impl<T: FromValue> FromValue for Box<T> {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        T::from_value(value).map_value(Box::new)
    }

    fn deserialize_annotated<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Annotated<Self>, D::Error> {
        T::deserialize_annotated(deserializer).map(|value| value.map_value(Box::new))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::annotated::ErrorKind;

    fn parse<T: FromValue>(json: serde_json::Value) -> Annotated<T> {
        T::from_value(annotated_from_json(json))
    }

    fn assert_invalid<T: FromValue + std::fmt::Debug>(
        json: serde_json::Value,
        reason: &str,
        original: Value,
    ) {
        let Annotated(value, meta) = parse::<T>(json);
        assert!(value.is_none(), "{value:?}");
        let [error] = meta.errors() else {
            panic!("expected one error, got {:?}", meta.errors());
        };
        assert_eq!(error.kind(), &ErrorKind::InvalidData);
        assert_eq!(error.get("reason"), Some(&Value::from(reason)));
        assert_eq!(meta.original_value(), Some(&original));
    }

    #[test]
    fn json_numbers_keep_their_class() {
        assert_eq!(annotated_from_json(json!(5)).0, Some(Value::I64(5)));
        assert_eq!(annotated_from_json(json!(-5)).0, Some(Value::I64(-5)));
        assert_eq!(
            annotated_from_json(json!(u64::MAX)).0,
            Some(Value::U64(u64::MAX))
        );
        assert_eq!(annotated_from_json(json!(2.0)).0, Some(Value::F64(2.0)));
        assert_eq!(annotated_from_json(json!(null)), Annotated::empty());
    }

    #[test]
    fn primitives_accept_their_type() {
        assert_eq!(parse::<String>(json!("x")).0.as_deref(), Some("x"));
        assert_eq!(parse::<bool>(json!(true)).0, Some(true));
        assert_eq!(parse::<i64>(json!(-7)).0, Some(-7));
        assert_eq!(parse::<u64>(json!(7)).0, Some(7));
        assert_eq!(parse::<u64>(json!(u64::MAX)).0, Some(u64::MAX));
        assert_eq!(parse::<f64>(json!(1.5)).0, Some(1.5));
        assert_eq!(parse::<f64>(json!(3)).0, Some(3.0));
        assert_eq!(parse::<String>(json!(null)), Annotated::empty());
    }

    #[test]
    fn wrong_types_become_null_with_error_and_original() {
        assert_invalid::<String>(json!(42), "expected a string", Value::I64(42));
        assert_invalid::<bool>(json!("yes"), "expected a boolean", Value::from("yes"));
        assert_invalid::<i64>(json!(1.5), "expected a signed integer", Value::F64(1.5));
        assert_invalid::<i64>(
            json!(u64::MAX),
            "expected a signed integer",
            Value::U64(u64::MAX),
        );
        assert_invalid::<u64>(json!(-1), "expected an unsigned integer", Value::I64(-1));
        assert_invalid::<f64>(
            json!("1.5"),
            "expected a floating point number",
            Value::from("1.5"),
        );
        assert_invalid::<Array<String>>(
            json!({"a": 1}),
            "expected an array",
            parse::<Value>(json!({"a": 1}))
                .0
                .unwrap_or(Value::Bool(false)),
        );
        assert_invalid::<Object<String>>(json!("x"), "expected an object", Value::from("x"));
    }

    #[test]
    fn containers_parse_elements_independently() {
        let Annotated(Some(items), meta) = parse::<Array<String>>(json!(["a", 1, null])) else {
            panic!("array expected");
        };
        assert!(meta.is_empty());
        assert_eq!(items[0].0.as_deref(), Some("a"));
        assert!(items[1].0.is_none() && items[1].1.has_errors());
        assert!(items[2].is_empty());

        let Annotated(Some(map), _) = parse::<Object<i64>>(json!({"b": 1, "a": "x"})) else {
            panic!("object expected");
        };
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(map["b"].0, Some(1));
        assert_eq!(map["a"].1.original_value(), Some(&Value::from("x")));
    }

    #[test]
    fn big_originals_are_dropped_but_the_error_stays() {
        let Annotated(value, meta) = parse::<i64>(json!("x".repeat(600)));
        assert!(value.is_none());
        assert!(meta.has_errors());
        assert!(meta.original_value().is_none());
    }

    #[test]
    fn existing_meta_is_kept() {
        let input = Annotated(Some(Value::I64(1)), Meta::from_error(ErrorKind::ClockDrift));
        let Annotated(value, meta) = String::from_value(input);
        assert!(value.is_none());
        assert_eq!(meta.errors().len(), 2);
    }
}
