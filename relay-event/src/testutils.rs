//! Test-only schema structs, implemented by a `macro_rules!` prototype of the future derive
//! (see the crate docs for the contract it follows).

use std::borrow::Cow;

use serde::ser::SerializeMap;
use serde::Serializer;

use crate::{
    invalid_type, process_value, Annotated, Array, FieldAttrs, FromValue, IntoValue, MetaMap,
    Object, Pii, ProcessValue, ProcessingResult, ProcessingState, Processor, SerializePayload,
    SkipSerialization, Timestamp, Value,
};

macro_rules! schema_struct {
    ($name:ident { $($field:ident : $ty:ty = $key:literal, $attrs:expr;)* }) => {
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            $(pub $field: Annotated<$ty>,)*
            pub other: Object<Value>,
        }

        impl FromValue for $name {
            fn from_value(value: Annotated<Value>) -> Annotated<Self> {
                match value {
                    Annotated(Some(Value::Object(mut map)), meta) => {
                        $(let $field = <$ty as FromValue>::from_value(
                            map.remove($key).unwrap_or_default());)*
                        Annotated(Some($name { $($field,)* other: map }), meta)
                    }
                    Annotated(Some(other), meta) => invalid_type(other, meta, "an object"),
                    Annotated(None, meta) => Annotated(None, meta),
                }
            }
        }

        impl IntoValue for $name {
            fn into_value(self) -> Value {
                let mut map = Object::new();
                $(map.insert($key.to_owned(), self.$field.into_annotated_value());)*
                map.extend(self.other);
                Value::Object(map)
            }

            fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                $(if !self.$field.skip_serialization(SkipSerialization::Null) {
                    map.serialize_entry($key, &SerializePayload(&self.$field))?;
                })*
                for (key, value) in &self.other {
                    if !value.skip_serialization(SkipSerialization::Null) {
                        map.serialize_entry(key, &SerializePayload(value))?;
                    }
                }
                map.end()
            }

            fn extract_child_meta(&self) -> MetaMap {
                let mut children = MetaMap::new();
                $(let tree = self.$field.meta_tree();
                if !tree.is_empty() {
                    children.insert($key.to_owned(), tree);
                })*
                for (key, value) in &self.other {
                    let tree = value.meta_tree();
                    if !tree.is_empty() {
                        children.insert(key.clone(), tree);
                    }
                }
                children
            }

            fn is_empty(&self) -> bool {
                $(self.$field.skip_serialization(SkipSerialization::Empty) &&)*
                    self.other.values().all(|v| v.skip_serialization(SkipSerialization::Empty))
            }
        }

        impl ProcessValue for $name {
            fn process_child_values<P: Processor>(
                &mut self,
                processor: &mut P,
                state: &ProcessingState<'_>,
            ) -> ProcessingResult {
                $({
                    static ATTRS: FieldAttrs = $attrs;
                    process_value(
                        &mut self.$field,
                        processor,
                        &state.enter_static($key, Some(Cow::Borrowed(&ATTRS))),
                    )?;
                })*
                processor.process_other(&mut self.other, state)
            }
        }
    };
}

schema_struct!(Exception {
    ty: String = "type", FieldAttrs::new().name("type").max_chars(256, 20);
    value: String = "value", FieldAttrs::new().name("value").max_chars(8192, 200).pii(Pii::Maybe);
});

schema_struct!(ExceptionValues {
    values: Array<Exception> = "values", FieldAttrs::new().name("values").required(true);
});

schema_struct!(Event {
    culprit: String = "culprit", FieldAttrs::new().name("culprit").max_chars(200, 0);
    timestamp: Timestamp = "timestamp", FieldAttrs::new().name("timestamp");
    exception: ExceptionValues = "exception", FieldAttrs::new().name("exception");
    extra: Object<Value> = "extra",
        FieldAttrs::new().name("extra").pii(Pii::True).bag_size(Some(262_144), Some(7));
});
