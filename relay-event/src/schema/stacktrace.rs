//! [`Stacktrace`] and [`Frame`]: a stack trace of an exception, thread or the event.
//!
//! Limits (normalization.md §8.1, §8.2): frame `function`/`raw_function` 512 (+20), `symbol`
//! 512, `filename`/`abs_path` 256 (+40), `trust`/`lang` and stack trace `lang` 128; frame
//! `vars` 2048 bytes / depth 5. `frames` is required and non-empty (normalization.md §6.2).
//! PII (pii.md): frame `vars` `true`; `filename`, `abs_path`, `module` `maybe`.

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Value};

use super::LockReason;

/// A stack trace: frames from the oldest (outermost) call to the newest.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Stacktrace {
    /// The frames, oldest first.
    #[metastructure(required = true, nonempty = true)]
    pub frames: Annotated<Array<Frame>>,
    /// Register values of the thread (top frame) at the time of the trace.
    // TODO(schema): register values as addresses (next batch).
    pub registers: Annotated<Object<Value>>,
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
    // TODO(schema): addresses as hex `Addr` with integer input (next batch).
    pub image_addr: Annotated<String>,
    /// The address of the instruction.
    pub instruction_addr: Annotated<String>,
    /// How addresses are to be interpreted.
    #[metastructure(skip_serialization = "empty")]
    pub addr_mode: Annotated<String>,
    /// The function id (WASM).
    pub function_id: Annotated<String>,
    /// The address of the function's start.
    pub symbol_addr: Annotated<String>,
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
            "vars": {"a": [1]}, "x": "y"}], "lang": "rust"});
        let stacktrace: Annotated<Stacktrace> = from_json(input.clone());
        assert_eq!(to_json(&stacktrace).ok(), Some(input));
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
