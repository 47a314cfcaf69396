//! The lenient string types of normalization.md §2.
//!
//! * [`LenientString`] (`release`, `user.id`, tag keys and values, …): strings; booleans as
//!   `True` / `False`; integers in decimal; floats with `|x| < 2^53` as their truncated integer
//!   text (`2.5` → `"2"`), larger ones are an error `expected a number with JSON precision`;
//!   arrays and objects are an error `expected a primitive value`.
//! * [`JsonLenientString`] (`exception.value`, query-string values, …): strings as they are,
//!   anything else as its compact JSON text.
//!
//! Both serialize and process as plain strings.

use std::ops::{Deref, DerefMut};

use serde::Serializer;

use crate::annotated::{Annotated, Error, Meta, Value};
use crate::from_value::FromValue;
use crate::into_value::IntoValue;
use crate::json::value_to_json;
use crate::processor::{ProcessValue, ProcessingResult, Processor};
use crate::state::ProcessingState;

/// The largest magnitude (exclusive) of a float that converts to a lenient string.
const JSON_PRECISION_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name(pub String);

        impl Deref for $name {
            type Target = String;
            fn deref(&self) -> &String {
                &self.0
            }
        }

        impl DerefMut for $name {
            fn deref_mut(&mut self) -> &mut String {
                &mut self.0
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name(value)
            }
        }

        impl IntoValue for $name {
            // A leaf: no children, so no child meta (and no map built to find out).
            fn has_child_meta(&self) -> bool {
                false
            }

            fn into_value(self) -> Value {
                Value::String(self.0)
            }
            fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
            fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl ProcessValue for $name {
            fn process_value<P: Processor>(
                &mut self,
                meta: &mut Meta,
                processor: &mut P,
                state: &ProcessingState<'_>,
            ) -> ProcessingResult {
                processor.process_string(&mut self.0, meta, state)
            }
        }
    };
}

string_newtype!(
    /// A string field that also accepts primitives (see the module docs).
    LenientString
);

string_newtype!(
    /// A string field that accepts any value as its JSON text (see the module docs).
    JsonLenientString
);

impl FromValue for LenientString {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        let Annotated(value, mut meta) = value;
        let converted = match &value {
            None => return Annotated(None, meta),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Bool(true)) => Ok("True".to_owned()),
            Some(Value::Bool(false)) => Ok("False".to_owned()),
            Some(Value::I64(n)) => Ok(n.to_string()),
            Some(Value::U64(n)) => Ok(n.to_string()),
            Some(Value::F64(f)) if f.abs() < JSON_PRECISION_LIMIT => {
                // Exact: the truncated value is an integer below 2^53.
                Ok(format!("{}", f.trunc() as i64))
            }
            Some(Value::F64(_)) => Err(Error::expected("a number with JSON precision")),
            Some(Value::Array(_) | Value::Object(_)) => Err(Error::expected("a primitive value")),
        };
        match converted {
            Ok(text) => Annotated(Some(LenientString(text)), meta),
            Err(error) => {
                meta.add_error(error);
                meta.set_original_value(value);
                Annotated(None, meta)
            }
        }
    }
}

impl FromValue for JsonLenientString {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        value.map_value(|value| match value {
            Value::String(s) => JsonLenientString(s),
            other => JsonLenientString(value_to_json(&other).to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::from_value::annotated_from_json;

    fn lenient(json: serde_json::Value) -> Annotated<LenientString> {
        LenientString::from_value(annotated_from_json(json))
    }

    fn text(json: serde_json::Value) -> Option<String> {
        lenient(json).0.map(|s| s.0)
    }

    #[test]
    fn lenient_strings_accept_primitives() {
        assert_eq!(text(json!("x")).as_deref(), Some("x"));
        assert_eq!(text(json!(true)).as_deref(), Some("True"));
        assert_eq!(text(json!(false)).as_deref(), Some("False"));
        assert_eq!(text(json!(123)).as_deref(), Some("123"));
        assert_eq!(
            text(json!(u64::MAX)).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(text(json!(2.5)).as_deref(), Some("2"));
        assert_eq!(text(json!(-2.5)).as_deref(), Some("-2"));
        assert_eq!(text(json!(null)), None);
    }

    #[test]
    fn lenient_strings_reject_containers_and_imprecise_floats() {
        let Annotated(value, meta) = lenient(json!(1e16));
        assert!(value.is_none());
        assert_eq!(
            meta.errors(),
            [Error::expected("a number with JSON precision")]
        );
        assert_eq!(meta.original_value(), Some(&Value::F64(1e16)));

        let Annotated(value, meta) = lenient(json!({"a": 1}));
        assert!(value.is_none());
        assert_eq!(meta.errors(), [Error::expected("a primitive value")]);
        assert!(meta.original_value().is_some());
    }

    #[test]
    fn json_lenient_strings_serialize_other_values() {
        let parse = |json| JsonLenientString::from_value(annotated_from_json(json)).0;
        assert_eq!(parse(json!("x")), Some(JsonLenientString("x".into())));
        assert_eq!(
            parse(json!({"b": [1, 2.5, null], "a": true})),
            Some(JsonLenientString(r#"{"a":true,"b":[1,2.5,null]}"#.into()))
        );
        assert_eq!(parse(json!(null)), None);
    }
}
