//! Small helpers shared by the field steps.

use relay_event::{IntoValue, Value};

/// The original value of a removed struct as it was sent: its JSON form without the `null`
/// fields that the typed model adds for absent attributes.
pub(crate) fn original_value<T: IntoValue>(value: T) -> Value {
    match value.into_value() {
        Value::Object(mut object) => {
            object.retain(|_, v| !v.is_empty());
            Value::Object(object)
        }
        other => other,
    }
}
