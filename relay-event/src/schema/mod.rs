//! The typed event schema: one module per interface of Sentry's event (the published event
//! JSON Schema), built on the annotated model of this crate.
//!
//! Every struct derives [`FromValue`](crate::FromValue), [`IntoValue`](crate::IntoValue) and
//! [`ProcessValue`](crate::ProcessValue) and keeps unknown attributes in `other`. Field
//! attributes carry the schema checks of normalization.md §6.2 (`required`, `nonempty`,
//! `trim_whitespace`, characters), the string and databag limits of normalization.md §8.1 and
//! §8.2 and the PII levels of pii.md. Enum-like fields (`level`, `type`, `event_id`, thread
//! ids, the `values` wrappers, `tags`) have hand-written impls in their modules.
//!
//! This is the first batch: fields whose interface is not modelled yet are
//! `Annotated<Value>` (or `Object<Value>`) with a `TODO(schema)` note, namely
//! the security report (`csp`), request cookies and
//! query string and the internal `_metrics` / `_dsc` /
//! `_performance_issues_spans`. Debug images are typed by their `type` ([`DebugImage`]),
//! with typed identifiers ([`DebugId`], [`CodeId`], [`DebugUuid`]) and addresses ([`Addr`]).

mod addr;
mod breadcrumb;
pub mod contexts;
mod debug_id;
mod debug_meta;
mod event;
mod event_id;
mod exception;
mod headers;
mod level;
mod logentry;
mod measurements;
mod mechanism;
mod pairs;
mod replay;
mod request;
mod sdk;
mod span;
mod stacktrace;
mod tags;
mod template;
mod thread;
mod transaction_info;
mod user;
mod values;

pub use addr::{Addr, RegVal};
pub use breadcrumb::Breadcrumb;
pub use contexts::{Context, Contexts};
pub use debug_id::{CodeId, DebugId, DebugUuid};
pub use debug_meta::{
    AppleDebugImage, DebugImage, DebugMeta, JvmDebugImage, NativeDebugImage, ProguardDebugImage,
    SourceMapDebugImage, SystemSdkInfo,
};
pub use event::{Event, EventProcessingError, EventType, IngestPathEntry};
pub use event_id::EventId;
pub use exception::Exception;
pub use headers::{normalize_header_name, Header, Headers};
pub use level::Level;
pub use logentry::LogEntry;
pub use measurements::{Breakdowns, Measurement, Measurements};
pub use mechanism::{CError, MachException, Mechanism, MechanismMeta, NsError, PosixSignal};
pub use replay::Replay;
pub use request::Request;
pub use sdk::{AutoInferSetting, ClientSdkInfo, ClientSdkPackage, ClientSdkSettings};
pub use span::Span;
pub use stacktrace::{Frame, FrameData, Stacktrace};
pub use tags::{TagEntry, Tags};
pub use template::Template;
pub use thread::{LockReason, LockReasonType, Thread, ThreadId};
pub use transaction_info::{TransactionInfo, TransactionNameChange};
pub use user::{Geo, User};
pub use values::Values;

use crate::CharacterSet;

/// `logger`: denies `\r` and `\n` (normalization.md §6.2).
pub const LOGGER_CHARACTERS: CharacterSet = CharacterSet::deny(&[('\n', '\n'), ('\r', '\r')]);
/// `dist`: only `a-zA-Z0-9_.-` (normalization.md §6.2).
pub const DIST_CHARACTERS: CharacterSet = CharacterSet::allow(&[
    ('a', 'z'),
    ('A', 'Z'),
    ('0', '9'),
    ('_', '_'),
    ('.', '.'),
    ('-', '-'),
]);
/// Tag keys: only `a-zA-Z0-9_.:-` (normalization.md §6.2).
pub const TAG_KEY_CHARACTERS: CharacterSet = CharacterSet::allow(&[
    ('a', 'z'),
    ('A', 'Z'),
    ('0', '9'),
    ('_', '_'),
    ('.', '.'),
    (':', ':'),
    ('-', '-'),
]);
/// Tag values: deny `\n` (normalization.md §6.2).
pub const TAG_VALUE_CHARACTERS: CharacterSet = CharacterSet::deny(&[('\n', '\n')]);
/// Trace and span `origin`: only `a-zA-Z0-9_.` (normalization.md §6.2).
pub const ORIGIN_CHARACTERS: CharacterSet =
    CharacterSet::allow(&[('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_'), ('.', '.')]);

/// Implements [`IntoValue`](crate::IntoValue) (as the string of `as_str`) and a leaf
/// [`ProcessValue`](crate::ProcessValue) for a string-like enum.
macro_rules! string_enum_value {
    ($ty:ty) => {
        impl $crate::IntoValue for $ty {
            // A leaf: no children, so no child meta (and no map built to find out).
            fn has_child_meta(&self) -> bool {
                false
            }

            fn into_value(self) -> $crate::Value {
                $crate::Value::String(self.as_str().to_owned())
            }
            fn serialize_payload<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl $crate::ProcessValue for $ty {}
    };
}
pub(crate) use string_enum_value;
