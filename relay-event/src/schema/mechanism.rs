//! [`Mechanism`]: how an exception was captured.
//!
//! `type` is required, non-empty, at most 128 characters; `description` 8192 (+200);
//! `data` 2048 bytes / depth 5 (normalization.md §6.2, §8.1, §8.2). PII (pii.md):
//! `description` and `data` `true`.
//!
//! [`MechanismMeta`] carries the operating-system error information whose missing names
//! normalization fills (normalization.md §7.5: `errno.name`, `signal.name`,
//! `signal.code_name`, `mach_exception.name`); fields as in the published event schema.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// The mechanism by which an exception was generated and handled.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "exception mechanism")]
pub struct Mechanism {
    /// The kind of mechanism (e.g. `generic`, `onerror`).
    #[metastructure(field = "type", required = true, nonempty = true, max_chars = 128)]
    pub ty: Annotated<String>,
    /// Whether this exception is synthetic (its type is not meaningful for grouping).
    pub synthetic: Annotated<bool>,
    /// A human-readable description.
    #[metastructure(
        pii = "true",
        max_chars = 8192,
        max_chars_allowance = 200,
        skip_serialization = "empty"
    )]
    pub description: Annotated<String>,
    /// A link to documentation.
    #[metastructure(skip_serialization = "empty")]
    pub help_link: Annotated<String>,
    /// Whether the exception was handled by the application.
    pub handled: Annotated<bool>,
    /// The source of the exception within a group (e.g. `__context__`).
    #[metastructure(skip_serialization = "empty")]
    pub source: Annotated<String>,
    /// Whether this exception is an exception group.
    pub is_exception_group: Annotated<bool>,
    /// The id of this exception within its group.
    pub exception_id: Annotated<u64>,
    /// The id of the parent exception within its group.
    pub parent_id: Annotated<u64>,
    /// Arbitrary extra data.
    #[metastructure(
        pii = "true",
        max_bytes = 2048,
        max_depth = 5,
        skip_serialization = "empty"
    )]
    pub data: Annotated<Object<Value>>,
    /// Operating-system error information (signal, Mach exception, errno, NSError).
    #[metastructure(skip_serialization = "empty")]
    pub meta: Annotated<MechanismMeta>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// Operating-system error information of a [`Mechanism`] (`mechanism.meta`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct MechanismMeta {
    /// An error code of the C standard library.
    #[metastructure(skip_serialization = "empty")]
    pub errno: Annotated<CError>,
    /// A POSIX signal.
    #[metastructure(skip_serialization = "empty")]
    pub signal: Annotated<PosixSignal>,
    /// A Mach exception (Darwin).
    #[metastructure(skip_serialization = "empty")]
    pub mach_exception: Annotated<MachException>,
    /// An `NSError` (Darwin).
    #[metastructure(skip_serialization = "empty")]
    pub ns_error: Annotated<NsError>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// An `errno` error code (`mechanism.meta.errno`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct CError {
    /// The error code (ISO C99, POSIX.1-2001 or POSIX.1-2008).
    pub number: Annotated<i64>,
    /// The name of the errno constant (e.g. `ENOENT`).
    pub name: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// A Mach exception (`mechanism.meta.mach_exception`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct MachException {
    /// The exception type (e.g. `6` for `EXC_BREAKPOINT`).
    pub exception: Annotated<i64>,
    /// The exception code.
    pub code: Annotated<u64>,
    /// The exception subcode.
    pub subcode: Annotated<u64>,
    /// The name of the exception constant (e.g. `EXC_BAD_ACCESS`).
    pub name: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// A POSIX signal (`mechanism.meta.signal`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct PosixSignal {
    /// The signal number (e.g. `11`).
    pub number: Annotated<i64>,
    /// The signal code (Darwin).
    pub code: Annotated<i64>,
    /// The name of the signal (e.g. `SIGSEGV`).
    pub name: Annotated<String>,
    /// The name of the signal code (e.g. `SEGV_MAPERR`, Darwin).
    pub code_name: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// An `NSError` (`mechanism.meta.ns_error`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct NsError {
    /// The error code.
    pub code: Annotated<i64>,
    /// The error domain (e.g. `NSURLErrorDomain`).
    pub domain: Annotated<String>,
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
    fn meta_is_typed() {
        let input = json!({"type": "mach", "meta": {
            "signal": {"number": 5, "code": 0, "name": "SIGTRAP"},
            "mach_exception": {"exception": 6, "code": 6425112, "subcode": 8,
                "name": "EXC_BREAKPOINT"},
            "errno": {"number": 2, "name": "ENOENT"},
            "ns_error": {"code": -1009, "domain": "NSURLErrorDomain"}, "x": 1}});
        let mechanism: Annotated<Mechanism> = from_json(input.clone());
        assert_eq!(to_json(&mechanism).ok(), Some(input));
        let meta = mechanism
            .value()
            .and_then(|m| m.meta.value().cloned())
            .unwrap_or_default();
        let mach = meta.mach_exception.value().cloned().unwrap_or_default();
        assert_eq!(mach.code.value(), Some(&6425112));

        let mechanism: Annotated<Mechanism> =
            from_json(json!({"type": "t", "meta": {"signal": {"number": "11"}, "errno": 3}}));
        let meta = mechanism
            .value()
            .and_then(|m| m.meta.value().cloned())
            .unwrap_or_default();
        let signal = meta.signal.value().cloned().unwrap_or_default();
        assert!(signal.number.value().is_none());
        assert!(signal.number.meta().has_errors());
        assert_eq!(
            signal.number.meta().original_value(),
            Some(&Value::from("11"))
        );
        assert!(meta.errno.value().is_none());
        assert_eq!(meta.errno.meta().original_value(), Some(&Value::I64(3)));

        let mechanism: Annotated<Mechanism> = from_json(json!({"type": "t", "meta": "x"}));
        let meta = mechanism
            .value()
            .map(|m| m.meta.clone())
            .unwrap_or_default();
        assert!(meta.value().is_none() && meta.meta().has_errors());
    }

    #[test]
    fn roundtrip_and_invalid() {
        let input = json!({"type": "generic", "handled": false, "data": {"a": 1}, "z": 0});
        let mechanism: Annotated<Mechanism> = from_json(input.clone());
        assert_eq!(to_json(&mechanism).ok(), Some(input));

        let mechanism: Annotated<Mechanism> = from_json(json!({"handled": "no"}));
        let handled = &mechanism
            .value()
            .map(|m| m.handled.clone())
            .unwrap_or_default();
        assert_eq!(handled.meta().original_value(), Some(&Value::from("no")));
    }
}
