//! The flat JSON cost of a typed value (its own bytes without its children, see the databag
//! rules of the parent module), computed without serializing its children.
//!
//! Databag budgets charge every value its flat cost after its children were charged. For
//! structs, enums and timestamps the kind of JSON they become is only known by serializing
//! them; serializing whole subtrees into `serde_json::Value`s at every level made trimming
//! quadratic in the nesting. [`FlatCost`] is a serde `Serializer` that stops at the first
//! level: containers cost `2` and ignore their elements, scalars cost what `serde_json`
//! writes for them. Invariant: `flat_cost_of(v) == flat_cost(&serde_json::to_value(v))` for
//! every value (tested below against the `serde_json::Value` path).

use serde::ser::{
    Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

/// The cost of one element separator or key/value separator, added to every value.
pub const SEPARATOR: usize = 1;
/// `null`, `true`.
const NULL_OR_TRUE: usize = 4;
/// `{}` or `[]`.
const CONTAINER: usize = 2;

/// The flat cost of `value` (see the module docs).
#[cfg(test)]
fn flat_cost_of<T: Serialize + ?Sized>(value: &T) -> usize {
    value.serialize(FlatCost).unwrap_or(0) + SEPARATOR
}

/// Never produced: the serializer cannot fail, serde only needs an error type.
#[derive(Debug)]
pub struct Never;

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("flat cost serializer error")
    }
}

impl std::error::Error for Never {}

impl serde::ser::Error for Never {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Never
    }
}

/// A serde serializer whose output is the flat cost of the serialized value.
pub struct FlatCost;

/// A container whose elements are not looked at.
pub struct Container;

fn float_cost(value: f64) -> usize {
    // serde_json writes non-finite floats as `null` (through `Value`).
    serde_json::Number::from_f64(value).map_or(NULL_OR_TRUE, |n| n.to_string().len())
}

impl Serializer for FlatCost {
    type Ok = usize;
    type Error = Never;
    type SerializeSeq = Container;
    type SerializeTuple = Container;
    type SerializeTupleStruct = Container;
    type SerializeTupleVariant = Container;
    type SerializeMap = Container;
    type SerializeStruct = Container;
    type SerializeStructVariant = Container;

    fn serialize_bool(self, v: bool) -> Result<usize, Never> {
        Ok(if v { NULL_OR_TRUE } else { 5 })
    }
    fn serialize_i8(self, v: i8) -> Result<usize, Never> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<usize, Never> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<usize, Never> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<usize, Never> {
        Ok(v.to_string().len())
    }
    fn serialize_u8(self, v: u8) -> Result<usize, Never> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<usize, Never> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<usize, Never> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<usize, Never> {
        Ok(v.to_string().len())
    }
    fn serialize_f32(self, v: f32) -> Result<usize, Never> {
        Ok(float_cost(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<usize, Never> {
        Ok(float_cost(v))
    }
    fn serialize_char(self, v: char) -> Result<usize, Never> {
        Ok(v.len_utf8() + 2)
    }
    fn serialize_str(self, v: &str) -> Result<usize, Never> {
        Ok(v.len() + 2)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<usize, Never> {
        // serde_json writes bytes as an array of numbers.
        Ok(CONTAINER)
    }
    fn serialize_none(self) -> Result<usize, Never> {
        Ok(NULL_OR_TRUE)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<usize, Never> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<usize, Never> {
        Ok(NULL_OR_TRUE)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<usize, Never> {
        Ok(NULL_OR_TRUE)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<usize, Never> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<usize, Never> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<usize, Never> {
        Ok(CONTAINER)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Container, Never> {
        Ok(Container)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Container, Never> {
        Ok(Container)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Container, Never> {
        Ok(Container)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Container, Never> {
        Ok(Container)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Container, Never> {
        Ok(Container)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Container, Never> {
        Ok(Container)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Container, Never> {
        Ok(Container)
    }
}

// Every container ignores its elements and costs `{}`/`[]`.
macro_rules! container {
    ($trait:ident, $method:ident $(, $key:ident)?) => {
        impl $trait for Container {
            type Ok = usize;
            type Error = Never;
            fn $method<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? _value: &T) -> Result<(), Never> {
                $(let _ = $key;)?
                Ok(())
            }
            fn end(self) -> Result<usize, Never> {
                Ok(CONTAINER)
            }
        }
    };
}

container!(SerializeSeq, serialize_element);
container!(SerializeTuple, serialize_element);
container!(SerializeTupleStruct, serialize_field);
container!(SerializeTupleVariant, serialize_field);
container!(SerializeStruct, serialize_field, key);
container!(SerializeStructVariant, serialize_field, key);

impl SerializeMap for Container {
    type Ok = usize;
    type Error = Never;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, _key: &T) -> Result<(), Never> {
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, _value: &T) -> Result<(), Never> {
        Ok(())
    }
    fn end(self) -> Result<usize, Never> {
        Ok(CONTAINER)
    }
}

#[cfg(test)]
mod tests {
    use relay_event::schema::Event;
    use relay_event::{from_json, Annotated, SerializePayload};
    use serde_json::json;

    use super::*;

    fn reference(json: &serde_json::Value) -> usize {
        super::super::flat_cost(json)
    }

    #[test]
    fn matches_the_serde_json_value_path() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-17),
            json!(u64::MAX),
            json!(1.5),
            json!(1e300),
            json!(1704067200.123456),
            json!("text"),
            json!("ünïcödé"),
            json!([1, 2, 3]),
            json!({"a": {"b": 1}}),
        ];
        for value in values {
            assert_eq!(flat_cost_of(&value), reference(&value), "{value}");
        }
        let event: Annotated<Event> = from_json(json!({
            "level": "warning", "timestamp": 1704067200.5, "logentry": {"formatted": "x"},
            "tags": {"a": "b"}, "contexts": {"os": {"name": "Linux"}},
        }));
        let typed = SerializePayload(&event);
        let via_value = serde_json::to_value(&typed).unwrap();
        assert_eq!(flat_cost_of(&typed), reference(&via_value));
        let level = &event.value().unwrap().level;
        let via_value = serde_json::to_value(SerializePayload(level)).unwrap();
        assert_eq!(
            flat_cost_of(&SerializePayload(level)),
            reference(&via_value)
        );
        let timestamp = &event.value().unwrap().timestamp;
        let via_value = serde_json::to_value(SerializePayload(timestamp)).unwrap();
        assert_eq!(
            flat_cost_of(&SerializePayload(timestamp)),
            reference(&via_value)
        );
    }
}
