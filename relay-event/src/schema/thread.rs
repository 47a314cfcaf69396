//! [`Thread`]: a thread of the process at the time of the event, and [`ThreadId`].
//!
//! Thread `id` is limited to 256 (+20) characters and `name` to 1024 (+100)
//! (normalization.md §8.1).

use crate::{invalid_type, Annotated, FromValue, Object, Value};

use super::Stacktrace;

/// A thread id: a non-negative integer or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThreadId {
    /// A numeric id.
    Int(u64),
    /// A textual id.
    String(String),
}

impl FromValue for ThreadId {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(s)), meta) => Annotated(Some(ThreadId::String(s)), meta),
            Annotated(Some(Value::U64(n)), meta) => Annotated(Some(ThreadId::Int(n)), meta),
            Annotated(Some(Value::I64(n)), meta) if n >= 0 => {
                Annotated(Some(ThreadId::Int(n.unsigned_abs())), meta)
            }
            Annotated(Some(other), meta) => invalid_type(other, meta, "a thread id"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl crate::IntoValue for ThreadId {
    fn into_value(self) -> Value {
        match self {
            ThreadId::Int(n) => Value::from(n),
            ThreadId::String(s) => Value::String(s),
        }
    }

    fn serialize_payload<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ThreadId::Int(n) => serializer.serialize_u64(*n),
            ThreadId::String(s) => serializer.serialize_str(s),
        }
    }
}

impl crate::ProcessValue for ThreadId {
    fn process_value<P: crate::Processor>(
        &mut self,
        meta: &mut crate::Meta,
        processor: &mut P,
        state: &crate::ProcessingState<'_>,
    ) -> crate::ProcessingResult {
        match self {
            ThreadId::Int(n) => processor.process_u64(n, meta, state),
            ThreadId::String(s) => processor.process_string(s, meta, state),
        }
    }
}

/// A process thread of an event.
#[derive(
    Clone, Debug, Default, PartialEq, crate::FromValue, crate::IntoValue, crate::ProcessValue,
)]
pub struct Thread {
    /// The id of the thread, unique among the threads of the event.
    #[metastructure(max_chars = 256, max_chars_allowance = 20)]
    pub id: Annotated<ThreadId>,
    /// The name of the thread.
    #[metastructure(max_chars = 1024, max_chars_allowance = 100)]
    pub name: Annotated<String>,
    /// The stack trace of the thread.
    pub stacktrace: Annotated<Stacktrace>,
    /// The unsymbolicated stack trace, if symbolicated.
    pub raw_stacktrace: Annotated<Stacktrace>,
    /// Whether the thread crashed.
    pub crashed: Annotated<bool>,
    /// Whether the thread was in the foreground.
    pub current: Annotated<bool>,
    /// Whether this is the main thread.
    pub main: Annotated<bool>,
    /// The state of the thread (e.g. `RUNNABLE`).
    pub state: Annotated<String>,
    /// Locks held by the thread, by lock address.
    // TODO(schema): LockReason (next batch).
    pub held_locks: Annotated<Object<Value>>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn parses_ids_and_keeps_unknown_attributes() {
        let input = json!({"id": 5, "name": "main", "crashed": true, "x": 1});
        let thread: Annotated<Thread> = from_json(input.clone());
        assert_eq!(
            thread.value().and_then(|t| t.id.value().cloned()),
            Some(ThreadId::Int(5))
        );
        assert_eq!(to_json(&thread).ok(), Some(input));
    }

    #[test]
    fn invalid_values_are_reported() {
        let thread: Annotated<Thread> = from_json(json!({"id": -1, "crashed": "yes"}));
        let thread = thread.value().cloned().unwrap_or_default();
        assert_eq!(thread.id.meta().original_value(), Some(&Value::I64(-1)));
        assert_eq!(
            thread.crashed.meta().original_value(),
            Some(&Value::from("yes"))
        );
    }
}
