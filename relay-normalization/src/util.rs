//! Small helpers shared by the field steps.

use relay_event::schema::{Event, Stacktrace};
use relay_event::{Annotated, IntoValue, Value};

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

/// Calls `f` on the event's stack trace, then on every exception's and every thread's stack
/// trace, each followed by its raw stack trace when `include_raw` is set.
pub(crate) fn for_each_stacktrace(
    event: &mut Event,
    include_raw: bool,
    mut f: impl FnMut(&mut Annotated<Stacktrace>),
) {
    f(&mut event.stacktrace);
    if let Some(values) = event
        .exceptions
        .value_mut()
        .as_mut()
        .and_then(|v| v.values.value_mut().as_mut())
    {
        for exception in values.iter_mut().filter_map(|e| e.value_mut().as_mut()) {
            f(&mut exception.stacktrace);
            if include_raw {
                f(&mut exception.raw_stacktrace);
            }
        }
    }
    if let Some(values) = event
        .threads
        .value_mut()
        .as_mut()
        .and_then(|v| v.values.value_mut().as_mut())
    {
        for thread in values.iter_mut().filter_map(|t| t.value_mut().as_mut()) {
            f(&mut thread.stacktrace);
            if include_raw {
                f(&mut thread.raw_stacktrace);
            }
        }
    }
}
