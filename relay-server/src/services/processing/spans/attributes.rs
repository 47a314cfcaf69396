//! Typed attributes of span-like items (`{"type", "value"}` objects keyed by name): building
//! them from plain JSON, reading and inserting them, and the DSC as `sentry.dsc.*` attributes.
//!
//! Invariant: an attribute counts as set only when present and not `null`; every reader and
//! `insert_attribute_if_absent` agree on that.

use relay_protocol::envelope::DynamicSamplingContext;
use serde_json::{Map, Value};

/// A typed attribute `{"type": ty, "value": value}`.
pub fn typed_attribute(ty: &str, value: Value) -> Value {
    let mut attribute = Map::new();
    attribute.insert("type".into(), Value::String(ty.to_owned()));
    attribute.insert("value".into(), value);
    Value::Object(attribute)
}

/// A `string` attribute.
pub fn string_attribute(value: impl Into<String>) -> Value {
    typed_attribute("string", Value::String(value.into()))
}

/// A typed attribute for a plain JSON value, by its JSON type: strings, booleans, integers
/// (`integer` when they fit in i64, else `double`), floats (`double`), arrays of scalars
/// (`array`). Objects and mixed arrays become their JSON text (`string`), `null` nothing.
pub fn attribute_from_json(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(_) => Some(typed_attribute("string", value.clone())),
        Value::Bool(_) => Some(typed_attribute("boolean", value.clone())),
        Value::Number(number) => match number.as_i64() {
            Some(_) => Some(typed_attribute("integer", value.clone())),
            None => number
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map(|double| typed_attribute("double", Value::Number(double))),
        },
        Value::Array(elements) => {
            let scalars = elements.iter().all(|element| {
                matches!(
                    element,
                    Value::String(_) | Value::Bool(_) | Value::Number(_)
                )
            });
            if scalars {
                Some(typed_attribute("array", value.clone()))
            } else {
                Some(string_attribute(value.to_string()))
            }
        }
        Value::Object(_) => Some(string_attribute(value.to_string())),
    }
}

/// Whether an attribute is set (present and not `null`).
pub fn has_attribute(attributes: &Map<String, Value>, name: &str) -> bool {
    attributes
        .get(name)
        .is_some_and(|attribute| !attribute.is_null())
}

/// The `value` of an attribute, if set.
pub fn attribute_value<'a>(attributes: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    attributes
        .get(name)
        .and_then(|attribute| attribute.get("value"))
        .filter(|value| !value.is_null())
}

/// The string `value` of an attribute.
pub fn attribute_str<'a>(attributes: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    attribute_value(attributes, name).and_then(Value::as_str)
}

/// Inserts an attribute unless it is already set.
pub fn insert_attribute_if_absent(
    attributes: &mut Map<String, Value>,
    name: &str,
    attribute: Value,
) {
    if !has_attribute(attributes, name) {
        attributes.insert(name.to_owned(), attribute);
    }
}

/// The `attributes` object of an item (created when missing or not an object).
pub fn attributes_mut(object: &mut Map<String, Value>) -> &mut Map<String, Value> {
    crate::services::processing::event::object_entry(object, "attributes")
}

/// The DSC as `sentry.dsc.*` attributes.
pub(super) fn dsc_attributes(dsc: &DynamicSamplingContext) -> Vec<(String, Value)> {
    let mut attributes = vec![
        (
            "sentry.dsc.trace_id".to_owned(),
            string_attribute(dsc.trace_id.to_string()),
        ),
        (
            "sentry.dsc.public_key".to_owned(),
            string_attribute(dsc.public_key.as_str()),
        ),
    ];
    let optional = [
        ("release", dsc.release.as_deref()),
        ("environment", dsc.environment.as_deref()),
        ("transaction", dsc.transaction.as_deref()),
        (
            "user_id",
            Some(dsc.user_id.as_str()).filter(|id| !id.is_empty()),
        ),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            attributes.push((format!("sentry.dsc.{key}"), string_attribute(value)));
        }
    }
    if let Some(sample_rate) = dsc.sample_rate {
        attributes.push((
            "sentry.dsc.sample_rate".to_owned(),
            string_attribute(sample_rate.to_string()),
        ));
    }
    if let Some(sampled) = dsc.sampled {
        attributes.push((
            "sentry.dsc.sampled".to_owned(),
            typed_attribute("boolean", Value::Bool(sampled)),
        ));
    }
    if let Some(replay_id) = dsc.replay_id {
        attributes.push((
            "sentry.dsc.replay_id".to_owned(),
            string_attribute(replay_id.simple().to_string()),
        ));
    }
    attributes
}
