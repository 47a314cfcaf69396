//! [`Stacktrace`] and [`Frame`]: a stack trace of an exception, thread or the event.
//!
//! Limits (normalization.md §8.1, §8.2): frame `function`/`raw_function` 512 (+20), `symbol`
//! 512, `filename`/`abs_path` 256 (+40), `trust`/`lang` and stack trace `lang` 128; frame
//! `vars` 2048 bytes / depth 5. `frames` is required and non-empty (normalization.md §6.2).
//! PII (pii.md): frame `vars` `true`; `filename`, `abs_path`, `module` `maybe`.
//!
//! Empty strings of frame `function`, `raw_function`, `module`, `package`, `filename`,
//! `abs_path`, `platform` and `addr_mode` are not written (Sentry's normalizer omits them,
//! also when renormalizing), while `symbol`, `context_line`, `trust` and `lang` keep theirs.

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Value};

use super::{Addr, LockReason, RegVal};

/// A stack trace: frames from the oldest (outermost) call to the newest.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "rawstacktrace")]
pub struct Stacktrace {
    /// The frames, oldest first.
    #[metastructure(required = true, nonempty = true)]
    pub frames: Annotated<Array<Frame>>,
    /// Register values of the thread (top frame) at the time of the trace.
    pub registers: Annotated<Object<RegVal>>,
    /// How `instruction_addr` is adjusted (`auto`, `all_but_first`, `all`, `none`).
    pub instruction_addr_adjustment: Annotated<String>,
    /// The language of the stack trace.
    #[metastructure(max_chars = 128)]
    pub lang: Annotated<String>,
    /// Whether this is a snapshot of a non-crashed thread.
    pub snapshot: Annotated<bool>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// One frame of a stack trace.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Frame {
    /// The name of the function.
    #[metastructure(
        max_chars = 512,
        max_chars_allowance = 20,
        skip_serialization = "empty"
    )]
    pub function: Annotated<String>,
    /// The unmangled/original function name.
    #[metastructure(
        max_chars = 512,
        max_chars_allowance = 20,
        skip_serialization = "empty"
    )]
    pub raw_function: Annotated<String>,
    /// The mangled symbol.
    #[metastructure(max_chars = 512)]
    pub symbol: Annotated<String>,
    /// The module (or package) name.
    #[metastructure(pii = "maybe", skip_serialization = "empty")]
    pub module: Annotated<String>,
    /// The package (library or binary) that contains the frame.
    #[metastructure(skip_serialization = "empty")]
    pub package: Annotated<String>,
    /// The source file, relative.
    #[metastructure(
        max_chars = 256,
        max_chars_allowance = 40,
        pii = "maybe",
        skip_serialization = "empty"
    )]
    pub filename: Annotated<String>,
    /// The absolute path of the source file.
    #[metastructure(
        max_chars = 256,
        max_chars_allowance = 40,
        pii = "maybe",
        skip_serialization = "empty"
    )]
    pub abs_path: Annotated<String>,
    /// The line number (1-based).
    pub lineno: Annotated<u64>,
    /// The column number (1-based).
    pub colno: Annotated<u64>,
    /// The platform of this frame, if different from the event's.
    #[metastructure(skip_serialization = "empty")]
    pub platform: Annotated<String>,
    /// Source lines before `context_line`.
    #[metastructure(skip_serialization = "empty")]
    pub pre_context: Annotated<Array<String>>,
    /// The source line of the frame.
    pub context_line: Annotated<String>,
    /// Source lines after `context_line`.
    #[metastructure(skip_serialization = "empty")]
    pub post_context: Annotated<Array<String>>,
    /// Whether the frame belongs to the application.
    pub in_app: Annotated<bool>,
    /// Local variables.
    #[metastructure(pii = "true", max_bytes = 2048, max_depth = 5)]
    pub vars: Annotated<Object<Value>>,
    /// What symbolication and source-map processing recorded about the frame.
    #[metastructure(skip_serialization = "empty")]
    pub data: Annotated<FrameData>,
    /// The start address of the containing image.
    pub image_addr: Annotated<Addr>,
    /// The address of the instruction.
    pub instruction_addr: Annotated<Addr>,
    /// How addresses are to be interpreted.
    #[metastructure(skip_serialization = "empty")]
    pub addr_mode: Annotated<String>,
    /// The function id (WASM).
    pub function_id: Annotated<Addr>,
    /// The address of the function's start.
    pub symbol_addr: Annotated<Addr>,
    /// How the frame was found (`cfi`, `scan`, …).
    #[metastructure(max_chars = 128)]
    pub trust: Annotated<String>,
    /// The language of the frame.
    #[metastructure(max_chars = 128)]
    pub lang: Annotated<String>,
    /// Marks the start of an async stack (JavaScript).
    pub stack_start: Annotated<bool>,
    /// A lock the frame waits on or holds.
    pub lock: Annotated<LockReason>,
    /// The revision of the source file (version control).
    pub file_revision: Annotated<String>,
    /// The index of the parent frame (profiling call trees).
    pub parent_index: Annotated<i64>,
    /// How many samples of a profile hit this frame.
    pub sample_count: Annotated<u64>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// `frame.data`: the original location of a frame that a source map or symbolication
/// rewrote. Unknown keys are not kept (normalization.md §9; Sentry's normalizer drops them
/// silently).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct FrameData {
    /// The source map that resolved the frame.
    pub sourcemap: Annotated<String>,
    /// The function name before resolution.
    pub orig_function: Annotated<String>,
    /// The file name before resolution.
    pub orig_filename: Annotated<String>,
    /// The line number before resolution.
    pub orig_lineno: Annotated<u64>,
    /// The column number before resolution.
    pub orig_colno: Annotated<u64>,
    /// The client's `in_app` before server-side rules changed it.
    pub orig_in_app: Annotated<i64>,
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
    fn roundtrip_with_unknown_attributes() {
        let input = json!({"frames": [{"function": "main", "lineno": 3, "in_app": true,
            "vars": {"a": [1]}, "file_revision": "abc", "parent_index": -1, "sample_count": 2,
            "x": "y"}], "lang": "rust"});
        let stacktrace: Annotated<Stacktrace> = from_json(input.clone());
        assert_eq!(to_json(&stacktrace).ok(), Some(input));
    }

    #[test]
    fn empty_frame_names_and_paths_are_not_written() {
        let mut input = serde_json::Map::new();
        for field in [
            "function",
            "raw_function",
            "module",
            "package",
            "filename",
            "abs_path",
            "platform",
            "addr_mode",
            "symbol",
            "context_line",
            "trust",
            "lang",
        ] {
            input.insert(field.to_owned(), json!(""));
        }
        let frame: Annotated<Frame> = from_json(serde_json::Value::Object(input));
        assert_eq!(
            to_json(&frame).ok(),
            Some(json!({"symbol": "", "context_line": "", "trust": "", "lang": ""}))
        );
    }

    #[test]
    fn addresses_and_registers_are_typed() {
        let input = json!({"frames": [{"instruction_addr": "0x00064F9E9", "symbol_addr": 4096,
            "image_addr": "0X10", "function_id": "12"}], "registers": {"rip": "0x01", "x": 5}});
        let stacktrace: Annotated<Stacktrace> = from_json(input);
        assert_eq!(
            to_json(&stacktrace).ok(),
            Some(
                json!({"frames": [{"image_addr": "0x10", "instruction_addr": "0x64f9e9",
                "function_id": "0xc", "symbol_addr": "0x1000"}],
                "registers": {"rip": "0x1", "x": "0x5"}})
            )
        );
    }

    #[test]
    fn frame_lock_is_typed() {
        let input = json!({"function": "run", "lock": {"type": 1, "address": "0x07d7437b",
            "class_name": "Object", "thread_id": "main"}});
        let frame: Annotated<Frame> = from_json(input.clone());
        assert_eq!(to_json(&frame).ok(), Some(input));

        let frame: Annotated<Frame> = from_json(json!({"lock": "x"}));
        let lock = frame.value().map(|f| f.lock.clone()).unwrap_or_default();
        assert!(lock.value().is_none());
        assert_eq!(lock.meta().original_value(), Some(&Value::from("x")));
    }

    #[test]
    fn wrong_types_are_reported() {
        let frame: Annotated<Frame> = from_json(json!({"lineno": "12", "in_app": 1}));
        let frame = frame.value().cloned().unwrap_or_default();
        assert!(frame.lineno.value().is_none());
        assert_eq!(
            frame.lineno.meta().original_value(),
            Some(&Value::from("12"))
        );
        assert_eq!(frame.in_app.meta().original_value(), Some(&Value::I64(1)));
    }
}
