//! [`Thread`]: a thread of the process at the time of the event, and [`ThreadId`].
//!
//! Thread `id` is limited to 256 (+20) characters and `name` to 1024 (+100)
//! (normalization.md §8.1).
//!
//! [`LockReason`] (thread `held_locks`, frame `lock`) has the fields of the published event
//! schema. Its `type` ([`LockReasonType`]) is the Android SDK's bit value (`1` locked, `2`
//! waiting, `4` sleeping, `8` blocked), which is what SDKs send and what is written; the
//! schema's names (`locked`, …) are accepted as well. Anything else is `invalid_data`
//! `invalid lock reason type` with the original value.

use crate::{invalid_type, Annotated, Error, FromValue, Object, Value};

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
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

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

    // Like a string field: Sentry leaves out a lock's empty textual `thread_id`.
    fn is_empty(&self) -> bool {
        matches!(self, ThreadId::String(s) if s.is_empty())
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

/// The kind of a [`LockReason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockReasonType {
    /// The thread holds the lock (`1`).
    Locked,
    /// The thread waits on the lock (`2`).
    Waiting,
    /// The thread sleeps (`4`).
    Sleeping,
    /// The thread is blocked on the lock (`8`).
    Blocked,
}

impl LockReasonType {
    /// The wire value (the Android SDK's bit value).
    pub fn code(self) -> u64 {
        match self {
            LockReasonType::Locked => 1,
            LockReasonType::Waiting => 2,
            LockReasonType::Sleeping => 4,
            LockReasonType::Blocked => 8,
        }
    }

    /// The type of a wire value.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => LockReasonType::Locked,
            2 => LockReasonType::Waiting,
            4 => LockReasonType::Sleeping,
            8 => LockReasonType::Blocked,
            _ => return None,
        })
    }

    /// The name of the published event schema.
    pub fn as_str(self) -> &'static str {
        match self {
            LockReasonType::Locked => "locked",
            LockReasonType::Waiting => "waiting",
            LockReasonType::Sleeping => "sleeping",
            LockReasonType::Blocked => "blocked",
        }
    }

    /// The type of a schema name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "locked" => LockReasonType::Locked,
            "waiting" => LockReasonType::Waiting,
            "sleeping" => LockReasonType::Sleeping,
            "blocked" => LockReasonType::Blocked,
            _ => return None,
        })
    }
}

impl FromValue for LockReasonType {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        let Annotated(value, mut meta) = value;
        let parsed = match &value {
            None => return Annotated(None, meta),
            Some(Value::U64(n)) => LockReasonType::from_code(*n),
            Some(Value::I64(n)) => u64::try_from(*n).ok().and_then(LockReasonType::from_code),
            Some(Value::String(name)) => LockReasonType::parse(name),
            Some(other) => return invalid_type(other.clone(), meta, "a lock reason type"),
        };
        match parsed {
            Some(ty) => Annotated(Some(ty), meta),
            None => {
                meta.add_error(Error::invalid("invalid lock reason type"));
                meta.set_original_value(value);
                Annotated(None, meta)
            }
        }
    }
}

impl crate::IntoValue for LockReasonType {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::from(self.code())
    }

    fn serialize_payload<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.code())
    }
}

impl crate::ProcessValue for LockReasonType {}

/// A lock a thread holds or waits on (thread `held_locks`, frame `lock`).
#[derive(
    Clone, Debug, Default, PartialEq, crate::FromValue, crate::IntoValue, crate::ProcessValue,
)]
pub struct LockReason {
    /// The kind of lock.
    #[metastructure(field = "type", required = true)]
    pub ty: Annotated<LockReasonType>,
    /// The address of the monitor object.
    #[metastructure(skip_serialization = "empty")]
    pub address: Annotated<String>,
    /// The package name of the locked object.
    #[metastructure(skip_serialization = "empty")]
    pub package_name: Annotated<String>,
    /// The class name of the locked object.
    #[metastructure(skip_serialization = "empty")]
    pub class_name: Annotated<String>,
    /// The thread that holds the lock.
    #[metastructure(skip_serialization = "empty")]
    pub thread_id: Annotated<ThreadId>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
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
    #[metastructure(skip_serialization = "empty")]
    pub state: Annotated<String>,
    /// Locks held by the thread, by lock address.
    pub held_locks: Annotated<Object<LockReason>>,
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
    fn held_locks_are_typed() {
        let input = json!({"id": 1, "state": "BLOCKED", "held_locks": {
            "0x0d3a2f0a": {"type": 8, "address": "0x0d3a2f0a", "package_name": "java.lang",
                "class_name": "Object", "thread_id": 11, "x": 1}}});
        let thread: Annotated<Thread> = from_json(input.clone());
        assert_eq!(to_json(&thread).ok(), Some(input));
        let locks = thread
            .value()
            .and_then(|t| t.held_locks.value().cloned())
            .unwrap_or_default();
        let lock = locks
            .get("0x0d3a2f0a")
            .and_then(|l| l.value().cloned())
            .unwrap_or_default();
        assert_eq!(lock.ty.value(), Some(&LockReasonType::Blocked));
        assert_eq!(lock.thread_id.value(), Some(&ThreadId::Int(11)));

        let lock: Annotated<LockReason> = from_json(json!({"type": "waiting"}));
        let ty = lock.value().map(|l| l.ty.clone()).unwrap_or_default();
        assert_eq!(ty.value(), Some(&LockReasonType::Waiting));
        assert_eq!(to_json(&ty).ok(), Some(json!(2)));

        for (bad, reason) in [
            (json!(3), "invalid lock reason type"),
            (json!("held"), "invalid lock reason type"),
            (json!([1]), "expected a lock reason type"),
        ] {
            let lock: Annotated<LockReason> = from_json(json!({"type": bad.clone()}));
            let ty = lock.value().map(|l| l.ty.clone()).unwrap_or_default();
            assert!(ty.value().is_none());
            assert_eq!(
                ty.meta().errors()[0].get("reason"),
                Some(&Value::from(reason))
            );
            assert_eq!(
                ty.meta().original_value(),
                crate::annotated_from_json(bad).value()
            );
        }
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
