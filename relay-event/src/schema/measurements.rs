//! [`Measurements`] and [`Breakdowns`]: numeric measurements of a transaction or span.
//!
//! A measurement's `value` is required (normalization.md §6.2).

use std::ops::{Deref, DerefMut};

use serde::Serializer;

use crate::{
    Annotated, FromValue, IntoValue, Meta, MetaMap, Object, ProcessValue, ProcessingResult,
    ProcessingState, Processor, Value,
};

/// One measurement: a value and its unit.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Measurement {
    /// The value.
    #[metastructure(required = true)]
    pub value: Annotated<f64>,
    /// The unit (e.g. `millisecond`, `none`).
    // TODO(schema): MetricUnit (next batch).
    pub unit: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

macro_rules! object_newtype {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name(pub Object<$inner>);

        impl Deref for $name {
            type Target = Object<$inner>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl FromValue for $name {
            fn from_value(value: Annotated<Value>) -> Annotated<Self> {
                Object::<$inner>::from_value(value).map_value($name)
            }
        }

        impl IntoValue for $name {
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

        impl ProcessValue for $name {
            fn process_value<P: Processor>(
                &mut self,
                meta: &mut Meta,
                processor: &mut P,
                state: &ProcessingState<'_>,
            ) -> ProcessingResult {
                processor.process_object(&mut self.0, meta, state)
            }

            fn process_child_values<P: Processor>(
                &mut self,
                processor: &mut P,
                state: &ProcessingState<'_>,
            ) -> ProcessingResult {
                self.0.process_child_values(processor, state)
            }
        }
    };
}

object_newtype!(
    /// Measurements by name (e.g. `lcp`, `app_start_cold`).
    Measurements,
    Measurement
);

object_newtype!(
    /// Breakdowns by name (e.g. `span_ops`), each a set of measurements.
    Breakdowns,
    Measurements
);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn roundtrip_and_invalid() {
        let input = json!({"lcp": {"value": 2.5, "unit": "millisecond"}, "fp": {"value": 1}});
        let measurements: Annotated<Measurements> = from_json(input.clone());
        assert_eq!(
            to_json(&measurements).ok(),
            Some(json!({"lcp": {"value": 2.5,
            "unit": "millisecond"}, "fp": {"value": 1.0}}))
        );

        let breakdowns: Annotated<Breakdowns> =
            from_json(json!({"ops": {"db": {"value": "x"}}, "bad": 1}));
        let breakdowns = breakdowns.value().cloned().unwrap_or_default();
        assert_eq!(
            breakdowns["bad"].meta().original_value(),
            Some(&Value::I64(1))
        );
        let db = &breakdowns["ops"].value().cloned().unwrap_or_default()["db"];
        let value = db.value().map(|m| m.value.clone()).unwrap_or_default();
        assert_eq!(value.meta().original_value(), Some(&Value::from("x")));
    }
}
