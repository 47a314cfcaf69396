//! Schema checks (normalization.md §6.2): the field attributes `trim_whitespace`, `nonempty`,
//! allowed / denied `characters` and `required`, applied depth-first to every value.
//!
//! | Attribute | Effect |
//! |---|---|
//! | `trim_whitespace` | leading and trailing whitespace removed, without meta |
//! | `nonempty` (string) | empty string (after trimming) removed, `["invalid_data", {"reason": "expected a non-empty string"}]`, no `val` |
//! | `nonempty` (array, object) | empty container removed, `["invalid_data", {"reason": "expected a non-empty value"}]`, no `val` |
//! | `characters` | at the first offending character the string is removed with `val` kept and `["invalid_data", {"reason": "invalid character '<c>'"}]` (Rust debug escaping of the character) |
//! | `required` | a missing value without any error so far gets `missing_attribute` and stays `null` |
//!
//! The checks on a string run in the order of the table (so `" a b "` in `dist` is trimmed
//! first and its `val` is `"a b"`).

use relay_event::{
    Array, Error, ErrorKind, Meta, Object, ProcessValue, ProcessingAction, ProcessingResult,
    ProcessingState, Processor,
};

/// The schema pass of normalization.md §6.2 as a [`Processor`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SchemaProcessor;

impl SchemaProcessor {
    /// `nonempty` on a container: an empty one is removed with `expected a non-empty value`.
    fn check_nonempty_container(
        is_empty: bool,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        if state.attrs().nonempty && is_empty {
            meta.add_error(Error::invalid("expected a non-empty value"));
            return Err(ProcessingAction::DeleteValueHard);
        }
        Ok(())
    }
}

impl Processor for SchemaProcessor {
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

    fn process_string(
        &mut self,
        value: &mut String,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let attrs = state.attrs();
        if attrs.trim_whitespace {
            let trimmed = value.trim();
            if trimmed.len() != value.len() {
                *value = trimmed.to_owned();
            }
        }
        if attrs.nonempty && value.is_empty() {
            meta.add_error(Error::invalid("expected a non-empty string"));
            return Err(ProcessingAction::DeleteValueHard);
        }
        if let Some(characters) = attrs.characters {
            if let Some(c) = value.chars().find(|&c| !characters.is_valid(c)) {
                meta.add_error(Error::invalid(format!("invalid character {c:?}")));
                return Err(ProcessingAction::DeleteValueSoft);
            }
        }
        Ok(())
    }

    fn process_array<T: ProcessValue>(
        &mut self,
        value: &mut Array<T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        Self::check_nonempty_container(value.is_empty(), meta, state)?;
        value.process_child_values(self, state)
    }

    fn process_object<T: ProcessValue>(
        &mut self,
        value: &mut Object<T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        Self::check_nonempty_container(value.is_empty(), meta, state)?;
        value.process_child_values(self, state)
    }
}

#[cfg(test)]
mod tests {
    use relay_event::schema::Event;
    use relay_event::{from_json, process_value, to_json, Annotated};
    use serde_json::json;

    use super::*;

    fn check(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        let result = process_value(&mut event, &mut SchemaProcessor, &ProcessingState::root());
        assert_eq!(result, Ok(()));
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn trim_whitespace_without_meta() {
        assert_eq!(
            check(
                json!({"release": " backend@1.2.0 ", "environment": "\tprod\n",
                "transaction": "  /index  ", "transaction_info": {"original": " /x "}})
            ),
            json!({"transaction": "/index", "transaction_info": {"original": "/x"},
                "release": "backend@1.2.0", "environment": "prod"})
        );
    }

    #[test]
    fn invalid_characters_keep_the_trimmed_original() {
        // The verified example of §6.2.
        assert_eq!(
            check(json!({"dist": " a b "})),
            json!({"dist": null, "_meta": {"dist": {"": {
                "err": [["invalid_data", {"reason": "invalid character ' '"}]],
                "val": "a b"}}}})
        );
        assert_eq!(
            check(json!({"logger": "a\nb"})),
            json!({"logger": null, "_meta": {"logger": {"": {
                "err": [["invalid_data", {"reason": "invalid character '\\n'"}]],
                "val": "a\nb"}}}})
        );
    }

    #[test]
    fn tag_characters_are_checked_per_key_and_value() {
        assert_eq!(
            check(json!({"tags": [["bad key", "v"], ["k", "multi\nline"], ["ok", "fine"]]})),
            json!({"tags": [[null, "v"], ["k", null], ["ok", "fine"]], "_meta": {"tags": {
                "0": {"0": {"": {"err": [["invalid_data", {"reason": "invalid character ' '"}]],
                    "val": "bad key"}}},
                "1": {"1": {"": {"err": [["invalid_data", {"reason": "invalid character '\\n'"}]],
                    "val": "multi\nline"}}}}}})
        );
    }

    #[test]
    fn nonempty_strings_are_removed_without_original() {
        assert_eq!(
            check(json!({"release": "", "environment": "   ", "dist": "1"})),
            json!({"release": null, "dist": "1", "environment": null, "_meta": {
                "release": {"": {"err": [["invalid_data", {"reason": "expected a non-empty string"}]]}},
                "environment": {"": {"err": [["invalid_data", {"reason": "expected a non-empty string"}]]}}}})
        );
    }

    #[test]
    fn nonempty_containers_are_removed() {
        // The verified example of §6.2: `frames` is required and non-empty.
        assert_eq!(
            check(json!({"stacktrace": {"frames": []}})),
            json!({"stacktrace": {"frames": null}, "_meta": {"stacktrace": {"frames": {"": {
                "err": [["invalid_data", {"reason": "expected a non-empty value"}]]}}}}})
        );
    }

    #[test]
    fn required_values_get_missing_attribute() {
        // The verified example of §6.2.
        assert_eq!(
            check(json!({"sdk": {"name": "x"}})),
            json!({"sdk": {"name": "x", "version": null},
                "_meta": {"sdk": {"version": {"": {"err": ["missing_attribute"]}}}}})
        );
        // A mechanism without `type` and an exception wrapper without `values`.
        assert_eq!(
            check(
                json!({"exception": {"values": [{"value": "v", "mechanism": {"handled": true}}]}})
            ),
            json!({"exception": {"values": [{"value": "v", "mechanism": {"type": null, "handled": true}}]},
                "_meta": {"exception": {"values": {"0": {"mechanism": {"type": {"": {
                    "err": ["missing_attribute"]}}}}}}}})
        );
        // An empty required and non-empty string gets only the non-empty error.
        assert_eq!(
            check(json!({"exception": {"values": [{"value": "v", "mechanism": {"type": ""}}]}})),
            json!({"exception": {"values": [{"value": "v", "mechanism": {"type": null}}]},
                "_meta": {"exception": {"values": {"0": {"mechanism": {"type": {"": {
                    "err": [["invalid_data", {"reason": "expected a non-empty string"}]]}}}}}}}})
        );
    }

    #[test]
    fn an_existing_error_suppresses_missing_attribute() {
        assert_eq!(
            check(json!({"sdk": {"name": {"a": 1}, "version": "1"}})),
            json!({"sdk": {"name": null, "version": "1"}, "_meta": {"sdk": {"name": {"": {
                "err": [["invalid_data", {"reason": "expected a string"}]],
                "val": {"a": 1}}}}}})
        );
    }

    #[test]
    fn valid_values_are_untouched() {
        let input = json!({"release": "1.0", "dist": "a-1_b.c", "logger": "x",
            "tags": [["a:b", "c d"]], "sdk": {"name": "n", "version": "v"}});
        assert_eq!(check(input.clone()), input);
    }
}
