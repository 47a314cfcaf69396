//! Traversal: the [`Processor`] visitor, the [`ProcessValue`] trait every schema type
//! implements, and [`process_value`], which walks an annotated value.
//!
//! For every annotated value, [`process_value`] calls, in order:
//!
//! 1. [`Processor::before_process`] (also for missing values, so `required` can be checked);
//! 2. if the value is present, [`ProcessValue::process_value`], which dispatches to the
//!    processor method of its kind (`process_string`, `process_array`, …); the default
//!    methods of containers recurse into the children with
//!    [`ProcessValue::process_child_values`];
//! 3. [`Processor::after_process`].
//!
//! Each step may return a [`ProcessingAction`]: deleting the value ends the work on it (the
//! remaining steps are skipped) and processing continues with its siblings;
//! [`ProcessingAction::InvalidTransaction`] stops the whole traversal.

use std::fmt;

use crate::annotated::{Annotated, Array, Meta, Object, Value};
use crate::into_value::IntoValue;
use crate::state::ProcessingState;
use crate::timestamp::Timestamp;

/// What a processor wants done instead of continuing normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessingAction {
    /// Remove the value; its meta is kept unchanged.
    DeleteValueHard,
    /// Remove the value and keep it as the original value in its meta.
    DeleteValueSoft,
    /// Reject the whole event: `invalid transaction event: <reason>` (normalization.md §4.3,
    /// §5).
    InvalidTransaction(&'static str),
}

impl fmt::Display for ProcessingAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessingAction::DeleteValueHard | ProcessingAction::DeleteValueSoft => {
                f.write_str("value deleted")
            }
            ProcessingAction::InvalidTransaction(reason) => {
                write!(f, "invalid transaction event: {reason}")
            }
        }
    }
}

impl std::error::Error for ProcessingAction {}

/// The result of one processing step.
pub type ProcessingResult = Result<(), ProcessingAction>;

/// A visitor over annotated values. Every method has a default: primitives are left alone,
/// containers recurse into their children.
pub trait Processor: Sized {
    /// Called for every value, present or not, before anything else.
    fn before_process<T: ProcessValue>(
        &mut self,
        value: Option<&T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// Called for every value after it (and its children) were processed, unless it was
    /// deleted.
    fn after_process<T: ProcessValue>(
        &mut self,
        value: Option<&T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// A string.
    fn process_string(
        &mut self,
        value: &mut String,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// A boolean.
    fn process_bool(
        &mut self,
        value: &mut bool,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// A signed integer.
    fn process_i64(
        &mut self,
        value: &mut i64,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// An unsigned integer.
    fn process_u64(
        &mut self,
        value: &mut u64,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// A float.
    fn process_f64(
        &mut self,
        value: &mut f64,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// A timestamp.
    fn process_timestamp(
        &mut self,
        value: &mut Timestamp,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (value, meta, state);
        Ok(())
    }

    /// An array; the default processes every element.
    fn process_array<T: ProcessValue>(
        &mut self,
        value: &mut Array<T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = meta;
        value.process_child_values(self, state)
    }

    /// An object; the default processes every value.
    fn process_object<T: ProcessValue>(
        &mut self,
        value: &mut Object<T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = meta;
        value.process_child_values(self, state)
    }

    /// An untyped value as a whole (so a processor may replace it by another kind, e.g. an
    /// object by its JSON text); the default dispatches to the method of its kind.
    fn process_untyped(
        &mut self,
        value: &mut Value,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        match value {
            Value::Bool(b) => self.process_bool(b, meta, state),
            Value::I64(n) => self.process_i64(n, meta, state),
            Value::U64(n) => self.process_u64(n, meta, state),
            Value::F64(f) => self.process_f64(f, meta, state),
            Value::String(s) => self.process_string(s, meta, state),
            Value::Array(items) => self.process_array(items, meta, state),
            Value::Object(map) => self.process_object(map, meta, state),
        }
    }

    /// The unknown attributes of a struct (`other`), processed at the struct's own state;
    /// the default processes every value under its key.
    fn process_other(
        &mut self,
        other: &mut Object<Value>,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        for (key, value) in other.iter_mut() {
            process_value(value, self, &state.enter_borrowed(key, None))?;
        }
        Ok(())
    }
}

/// A type whose values a [`Processor`] can walk.
///
/// A schema struct implements this field by field (see the crate docs):
/// `process_value` calls its own processor hook (if any) or `process_child_values`, and
/// `process_child_values` calls [`process_value`] on each field with
/// `state.enter_static("<field>", Some(Cow::Borrowed(&FIELD_ATTRS)))`, then
/// [`Processor::process_other`] on its unknown attributes.
pub trait ProcessValue: IntoValue + Sized {
    /// Processes this (present) value: dispatches to the processor method of its kind.
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = meta;
        self.process_child_values(processor, state)
    }

    /// Processes the children of this value; nothing for primitives.
    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let _ = (processor, state);
        Ok(())
    }
}

/// Walks `annotated` with `processor` at `state` (see the module docs). Deletions are applied
/// here and reported as `Ok`; only [`ProcessingAction::InvalidTransaction`] is returned.
pub fn process_value<T: ProcessValue, P: Processor>(
    annotated: &mut Annotated<T>,
    processor: &mut P,
    state: &ProcessingState<'_>,
) -> ProcessingResult {
    let (value, meta) = annotated.pair_mut();
    let result = processor.before_process(value.as_ref(), meta, state);
    if !apply_action(annotated, result)? {
        return Ok(());
    }

    let (value, meta) = annotated.pair_mut();
    if let Some(inner) = value.as_mut() {
        let result = inner.process_value(meta, processor, state);
        if !apply_action(annotated, result)? {
            return Ok(());
        }
    }

    let (value, meta) = annotated.pair_mut();
    let result = processor.after_process(value.as_ref(), meta, state);
    apply_action(annotated, result)?;
    Ok(())
}

/// Applies the outcome of one step; `Ok(false)` when the value was deleted.
fn apply_action<T: IntoValue>(
    annotated: &mut Annotated<T>,
    result: ProcessingResult,
) -> Result<bool, ProcessingAction> {
    match result {
        Ok(()) => Ok(true),
        Err(ProcessingAction::DeleteValueHard) => {
            annotated.set_value(None);
            Ok(false)
        }
        Err(ProcessingAction::DeleteValueSoft) => {
            let original = annotated.take().map(IntoValue::into_value);
            annotated.meta_mut().set_original_value(original);
            Ok(false)
        }
        Err(action @ ProcessingAction::InvalidTransaction(_)) => Err(action),
    }
}

macro_rules! primitive_process_value {
    ($ty:ty, $method:ident) => {
        impl ProcessValue for $ty {
            fn process_value<P: Processor>(
                &mut self,
                meta: &mut Meta,
                processor: &mut P,
                state: &ProcessingState<'_>,
            ) -> ProcessingResult {
                processor.$method(self, meta, state)
            }
        }
    };
}

primitive_process_value!(String, process_string);
primitive_process_value!(bool, process_bool);
primitive_process_value!(i64, process_i64);
primitive_process_value!(u64, process_u64);
primitive_process_value!(f64, process_f64);
primitive_process_value!(Timestamp, process_timestamp);

impl ProcessValue for Value {
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        processor.process_untyped(self, meta, state)
    }

    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        match self {
            Value::Array(items) => items.process_child_values(processor, state),
            Value::Object(map) => map.process_child_values(processor, state),
            _ => Ok(()),
        }
    }
}

impl<T: ProcessValue> ProcessValue for Array<T> {
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        processor.process_array(self, meta, state)
    }

    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let attrs = state.inner_attrs();
        for (index, element) in self.iter_mut().enumerate() {
            process_value(element, processor, &state.enter_index(index, attrs.clone()))?;
        }
        Ok(())
    }
}

impl<T: ProcessValue> ProcessValue for Object<T> {
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        processor.process_object(self, meta, state)
    }

    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let attrs = state.inner_attrs();
        for (key, value) in self.iter_mut() {
            process_value(value, processor, &state.enter_borrowed(key, attrs.clone()))?;
        }
        Ok(())
    }
}

impl<T: ProcessValue> ProcessValue for Box<T> {
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        (**self).process_value(meta, processor, state)
    }

    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        (**self).process_child_values(processor, state)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::annotated::{Error, ErrorKind, Remark, RemarkType};
    use crate::attrs::Pii;
    use crate::json::{from_json, to_json_string};
    use crate::testutils::Event;

    fn parse_event(json: serde_json::Value) -> Annotated<Event> {
        from_json(json)
    }

    /// Records every visited path with a few of its attributes.
    #[derive(Default)]
    struct Recorder(Vec<(String, Option<usize>, Pii, bool, bool)>);

    impl Processor for Recorder {
        fn before_process<T: ProcessValue>(
            &mut self,
            value: Option<&T>,
            _meta: &mut Meta,
            state: &ProcessingState<'_>,
        ) -> ProcessingResult {
            let attrs = state.attrs();
            self.0.push((
                state.path().to_string(),
                attrs.max_chars,
                attrs.pii,
                attrs.required,
                value.is_some(),
            ));
            Ok(())
        }
    }

    #[test]
    fn traversal_visits_paths_in_schema_order_with_attributes() {
        let mut event = parse_event(json!({
            "foo": "bar",
            "extra": {"k": {"n": 1}},
            "exception": {"values": [{"type": "T", "value": "v"}]},
            "culprit": "c",
        }));
        let mut recorder = Recorder::default();
        assert_eq!(
            process_value(&mut event, &mut recorder, &ProcessingState::root()),
            Ok(())
        );
        let paths: Vec<&str> = recorder.0.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                "",
                "culprit",
                "timestamp",
                "exception",
                "exception.values",
                "exception.values.0",
                "exception.values.0.type",
                "exception.values.0.value",
                "extra",
                "extra.k",
                "extra.k.n",
                "foo",
            ]
        );
        let find = |path: &str| recorder.0.iter().find(|r| r.0 == path).cloned();
        assert_eq!(find("culprit").map(|r| r.1), Some(Some(200)));
        assert_eq!(find("timestamp").map(|r| r.4), Some(false));
        assert_eq!(find("exception.values").map(|r| r.3), Some(true));
        assert_eq!(
            find("exception.values.0.type").map(|r| r.1),
            Some(Some(256))
        );
        assert_eq!(
            find("exception.values.0.value").map(|r| r.2),
            Some(Pii::Maybe)
        );
        // Children of a container inherit its PII level, nothing else.
        assert_eq!(
            find("extra.k.n").map(|r| (r.1, r.2)),
            Some((None, Pii::True))
        );
        assert_eq!(find("foo").map(|r| r.2), Some(Pii::False));
    }

    /// Truncates strings to `max_chars` like normalization.md §8.1 (without bag budgets).
    struct Trimmer;

    impl Processor for Trimmer {
        fn process_string(
            &mut self,
            value: &mut String,
            meta: &mut Meta,
            state: &ProcessingState<'_>,
        ) -> ProcessingResult {
            let Some(max_chars) = state.attrs().max_chars else {
                return Ok(());
            };
            let length = value.chars().count();
            if length <= max_chars + state.attrs().max_chars_allowance {
                return Ok(());
            }
            let keep = max_chars.saturating_sub(3);
            let cut = value
                .char_indices()
                .nth(keep)
                .map_or(value.len(), |(i, _)| i);
            value.truncate(cut);
            let start = value.len();
            value.push_str("...");
            meta.add_remark(Remark::with_range(
                RemarkType::Substituted,
                "!limit",
                (start, value.len()),
            ));
            meta.set_original_length(length);
            Ok(())
        }
    }

    #[test]
    fn trimming_records_remark_and_original_length() {
        let mut event = parse_event(json!({
            "culprit": "x".repeat(300),
            "exception": {"values": [{"type": "é".repeat(277), "value": "short"}]},
            "extra": {"k": "y".repeat(300)},
        }));
        assert_eq!(
            process_value(&mut event, &mut Trimmer, &ProcessingState::root()),
            Ok(())
        );
        let text = to_json_string(&event).unwrap_or_default();
        let expected = format!(
            concat!(
                r#"{{"culprit":"{}...","#,
                r#""exception":{{"values":[{{"type":"{}...","value":"short"}}]}},"#,
                r#""extra":{{"k":"{}"}},"#,
                r#""_meta":{{"culprit":{{"":{{"len":300,"rem":[["!limit","s",197,200]]}}}},"#,
                r#""exception":{{"values":{{"0":{{"type":{{"":{{"len":277,"rem":[["!limit","s",506,509]]}}}}}}}}}}}}}}"#
            ),
            "x".repeat(197),
            "é".repeat(253),
            "y".repeat(300),
        );
        assert_eq!(text, expected);
        // 276 characters are within 256 + 20: untouched.
        let mut event = parse_event(json!({"exception": {"values": [{"type": "é".repeat(276)}]}}));
        assert_eq!(
            process_value(&mut event, &mut Trimmer, &ProcessingState::root()),
            Ok(())
        );
        assert!(event.meta_tree().is_empty());
    }

    /// Deletes strings by their content; rejects on `"reject"`.
    struct Deleter;

    impl Processor for Deleter {
        fn process_string(
            &mut self,
            value: &mut String,
            _meta: &mut Meta,
            _state: &ProcessingState<'_>,
        ) -> ProcessingResult {
            match value.as_str() {
                "soft" => Err(ProcessingAction::DeleteValueSoft),
                "hard" => Err(ProcessingAction::DeleteValueHard),
                "reject" => Err(ProcessingAction::InvalidTransaction("test reason")),
                _ => Ok(()),
            }
        }

        fn after_process<T: ProcessValue>(
            &mut self,
            _value: Option<&T>,
            meta: &mut Meta,
            state: &ProcessingState<'_>,
        ) -> ProcessingResult {
            // Deleted values skip after_process: mark the survivors.
            if state.path().to_string().starts_with("extra.") {
                meta.add_remark(Remark::new(RemarkType::Annotated, "seen"));
            }
            Ok(())
        }
    }

    #[test]
    fn deletion_actions() {
        let mut event = parse_event(json!({"extra": {"a": "soft", "b": "hard", "c": "keep"}}));
        assert_eq!(
            process_value(&mut event, &mut Deleter, &ProcessingState::root()),
            Ok(())
        );
        assert_eq!(
            to_json_string(&event).unwrap_or_default(),
            concat!(
                r#"{"extra":{"a":null,"b":null,"c":"keep"},"#,
                r#""_meta":{"extra":{"a":{"":{"val":"soft"}},"c":{"":{"rem":[["seen","a"]]}}}}}"#
            )
        );

        let mut event = parse_event(json!({"extra": {"a": "reject", "b": "x"}}));
        let result = process_value(&mut event, &mut Deleter, &ProcessingState::root());
        assert_eq!(
            result,
            Err(ProcessingAction::InvalidTransaction("test reason"))
        );
        assert_eq!(
            result.err().map(|action| action.to_string()).as_deref(),
            Some("invalid transaction event: test reason")
        );
    }

    /// Adds `missing_attribute` to missing required values (normalization.md §6.2).
    struct Required;

    impl Processor for Required {
        fn before_process<T: ProcessValue>(
            &mut self,
            value: Option<&T>,
            meta: &mut Meta,
            state: &ProcessingState<'_>,
        ) -> ProcessingResult {
            if value.is_none() && state.attrs().required && !meta.has_errors() {
                meta.add_error(ErrorKind::MissingAttribute);
            }
            Ok(())
        }
    }

    #[test]
    fn required_attributes_can_be_checked_on_missing_values() {
        let mut event = parse_event(json!({"exception": {}}));
        assert_eq!(
            process_value(&mut event, &mut Required, &ProcessingState::root()),
            Ok(())
        );
        assert_eq!(
            to_json_string(&event).unwrap_or_default(),
            r#"{"exception":{"values":null},"_meta":{"exception":{"values":{"":{"err":["missing_attribute"]}}}}}"#
        );
        // An existing error suppresses it.
        let mut event = parse_event(json!({"exception": {"values": 1}}));
        assert_eq!(
            process_value(&mut event, &mut Required, &ProcessingState::root()),
            Ok(())
        );
        let errors = event
            .value()
            .and_then(|e| e.exception.value())
            .map(|e| e.values.meta().errors().to_vec());
        assert_eq!(errors, Some(vec![Error::expected("an array")]));
    }
}
