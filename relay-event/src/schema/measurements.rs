//! [`Measurements`] and [`Breakdowns`]: numeric measurements of a transaction or span.
//!
//! A measurement's `value` is required (normalization.md §6.2).

use super::pairs::container_newtype;
use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

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

/// Measurements by name (e.g. `lcp`, `app_start_cold`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measurements(pub Object<Measurement>);

container_newtype!(Measurements, Object<Measurement>, process_object);

impl FromValue for Measurements {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        Object::<Measurement>::from_value(value).map_value(Measurements)
    }
}

/// Breakdowns by name (e.g. `span_ops`), each a set of measurements.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Breakdowns(pub Object<Measurements>);

container_newtype!(Breakdowns, Object<Measurements>, process_object);

impl FromValue for Breakdowns {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        Object::<Measurements>::from_value(value).map_value(Breakdowns)
    }
}

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
