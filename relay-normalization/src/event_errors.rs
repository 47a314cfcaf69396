//! The `errors` list (normalization.md §10.2).
//!
//! After all other steps the event is walked in schema field order (unknown top-level
//! attributes last, as the traversal visits them) and, for every value whose meta has errors,
//! one entry per error is appended to `event.errors`, after the entries already there:
//!
//! ```text
//! {"type": <kind>, "name": <dotted path>, "value": <original value>, <error data…>}
//! ```
//!
//! * `name` is the path of the value (`exception.values.0.mechanism.help_link`; pair lists by
//!   index, `tags.0.1`); it is left out for an error on the event itself (empty path).
//! * `value` is the original value of the meta, only on the first error of a value and only
//!   if one is recorded.
//! * The error's data keys follow (`reason`, `attribute`, `sdk_time`, …). A data key named
//!   `type` or `name` is left out; a data key `value` fills `value` when the meta has no
//!   original value for it (so no entry has two `value` keys).
//!
//! The metas themselves are left unchanged (`_meta` keeps the errors and `val`).

use relay_event::schema::{Event, EventProcessingError};
use relay_event::{
    process_value, Annotated, Error, Meta, Object, ProcessValue, ProcessingResult, ProcessingState,
    Processor, Value,
};

/// Collects the errors of every value as `errors` entries (normalization.md §10.2).
#[derive(Debug, Default)]
pub struct EventErrorsProcessor {
    errors: Vec<EventProcessingError>,
}

impl EventErrorsProcessor {
    /// A collector without entries.
    pub fn new() -> Self {
        EventErrorsProcessor::default()
    }

    /// The entries collected so far, in walk order.
    pub fn into_errors(self) -> Vec<EventProcessingError> {
        self.errors
    }
}

/// One `errors` entry for `error` at `path`.
fn entry(path: &str, error: &Error, original: Option<&Value>) -> EventProcessingError {
    let mut value = original.cloned();
    let mut other = Object::new();
    for (key, data) in error.data() {
        match key.as_str() {
            "type" | "name" => {}
            "value" => {
                if value.is_none() {
                    value = Some(data.clone());
                }
            }
            _ => {
                other.insert(key.clone(), Annotated::new(data.clone()));
            }
        }
    }
    EventProcessingError {
        ty: Annotated::new(error.kind().as_str().to_owned()),
        name: if path.is_empty() {
            Annotated::empty()
        } else {
            Annotated::new(path.to_owned())
        },
        value: Annotated(value, Meta::default()),
        other,
    }
}

impl Processor for EventErrorsProcessor {
    fn before_process<T: ProcessValue>(
        &mut self,
        value: Option<&T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        if !meta.has_errors() {
            return Ok(());
        }
        let path = state.path().to_string();
        // `StoreNormalizer` 0.10.1 lists the errors on an existing top-level `measurements`,
        // `breakdowns` or `tags` value and on an existing trace context `trace_id` twice (e.g.
        // invalid measurement names, §7 step 18; invalid tags written as `[]`; an invalid
        // trace id replaced by the forced trace context), as if the wrapper and the value
        // inside it were visited with the same meta; kept for wire-compatible `errors` lists.
        let doubled = matches!(
            path.as_str(),
            "measurements" | "breakdowns" | "tags" | "contexts.trace.trace_id"
        );
        let passes = if value.is_some() && doubled { 2 } else { 1 };
        for _ in 0..passes {
            for (position, error) in meta.errors().iter().enumerate() {
                let original = if position == 0 {
                    meta.original_value()
                } else {
                    None
                };
                self.errors.push(entry(&path, error, original));
            }
        }
        Ok(())
    }
}

/// Appends one `errors` entry per error recorded in the event's meta (normalization.md §10.2).
pub fn emit_event_errors(event: &mut Annotated<Event>) {
    // Most events have no meta at all: an allocation-free check instead of a full traversal
    // that would find nothing.
    if !event.has_meta() {
        return;
    }
    let mut collector = EventErrorsProcessor::new();
    // The collector never deletes nor rejects.
    let _ = process_value(event, &mut collector, &ProcessingState::root());
    let errors = collector.into_errors();
    if errors.is_empty() {
        return;
    }
    let Some(event) = event.value_mut().as_mut() else {
        return;
    };
    let list = event.errors.get_or_insert_with(Vec::new);
    list.extend(errors.into_iter().map(Annotated::new));
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json, ErrorKind};
    use serde_json::json;

    use super::*;

    fn emit(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        emit_event_errors(&mut event);
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn parse_errors_become_entries_with_their_original_value() {
        // The example of §10.2.
        let output = emit(json!({"level": "warn"}));
        assert_eq!(
            output,
            json!({"level": null,
                "errors": [{"type": "invalid_data", "name": "level", "value": "warn",
                    "reason": "invalid level"}],
                "_meta": {"level": {"": {"err": [["invalid_data", {"reason": "invalid level"}]],
                    "val": "warn"}}}})
        );
    }

    #[test]
    fn entries_follow_schema_order_and_keep_existing_ones() {
        // Incoming `_meta` errors are reported, too; unknown top-level attributes come last.
        let output = emit(json!({
            "foo": null,
            "tags": [["a", null]],
            "release": null,
            "errors": [{"type": "clock_drift", "name": "timestamp"}],
            "_meta": {
                "foo": {"": {"err": ["invalid_attribute"]}},
                "tags": {"0": {"1": {"": {"err": [["invalid_data",
                    {"reason": "expected a non-empty value"}]]}}}},
                "release": {"": {"err": ["invalid_data", "value_too_long"], "val": "latest"}},
                "timestamp": {"": {"err": [["past_timestamp", {"sdk_time": "a",
                    "server_time": "b"}]]}},
            },
        }));
        assert_eq!(
            output["errors"],
            json!([
                {"type": "clock_drift", "name": "timestamp"},
                {"type": "past_timestamp", "name": "timestamp", "sdk_time": "a",
                    "server_time": "b"},
                {"type": "invalid_data", "name": "release", "value": "latest"},
                {"type": "value_too_long", "name": "release"},
                {"type": "invalid_data", "name": "tags.0.1",
                    "reason": "expected a non-empty value"},
                {"type": "invalid_attribute", "name": "foo"},
            ])
        );
    }

    #[test]
    fn errors_of_present_tags_and_trace_ids_are_listed_twice() {
        // StoreNormalizer 0.10.1 on `{"tags": 5}` after normalization: `tags: []`.
        let error = json!({"": {"err": [["invalid_data", {"reason": "expected an array"}]],
            "val": 5}});
        let entry = json!({"type": "invalid_data", "name": "tags", "value": 5,
            "reason": "expected an array"});
        let output = emit(json!({"tags": [], "_meta": {"tags": error}}));
        assert_eq!(output["errors"], json!([entry, entry]));
        let output = emit(json!({"tags": null, "_meta": {"tags": error}}));
        assert_eq!(output["errors"], json!([entry]));

        let output = emit(json!({"contexts": {"trace": {"trace_id": "a".repeat(32)}},
            "_meta": {"contexts": {"trace": {"trace_id": {"": {"err": ["missing_attribute"]}}}}}}));
        let entry = json!({"type": "missing_attribute", "name": "contexts.trace.trace_id"});
        assert_eq!(output["errors"], json!([entry, entry]));
    }

    #[test]
    fn data_keys_do_not_clash_with_entry_fields() {
        let mut event: Annotated<Event> = from_json(json!({}));
        event.meta_mut().add_error(
            Error::new(ErrorKind::InvalidData)
                .with("value", Value::from("v"))
                .with("name", Value::from("n")),
        );
        emit_event_errors(&mut event);
        assert_eq!(
            to_json(&event).unwrap_or_default(),
            json!({"errors": [{"type": "invalid_data", "value": "v"}],
                "_meta": {"": {"err": [["invalid_data", {"name": "n", "value": "v"}]]}}})
        );
    }

    #[test]
    fn no_errors_no_list() {
        assert_eq!(emit(json!({"platform": "x"})), json!({"platform": "x"}));
    }
}
