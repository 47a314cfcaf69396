//! Exceptions (normalization.md §7.5, §7 step 16).
//!
//! * With exactly one exception and a top-level `stacktrace`, the stack trace moves into the
//!   exception (unless it has one).
//! * An exception with an empty `type` whose `value` is `<word>:<rest>` (`^(\w+):(.*)$`, the
//!   rest on one line) is split into `type` and the trimmed rest as `value`.
//! * An exception with neither `type` nor `value` is removed (original kept) with
//!   `["missing_attribute", {"attribute": "type or value"}]`.
//! * A mechanism `help_link` must start with `http://` or `https://`, else it is removed
//!   (original kept) with `expected http URL`.
//! * The missing names of `mechanism.meta` are filled from the OS tables ([`crate::mechanism`]).

use relay_event::schema::{Event, Exception};
use relay_event::{Annotated, Error, ErrorKind, JsonLenientString, Value};

use crate::mechanism::{self, OsHint};

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits `Type: value` (`^(\w+):(.*)$`) into the type and the trimmed value.
fn split_type_and_value(value: &str) -> Option<(String, String)> {
    let (ty, rest) = value.split_once(':')?;
    let valid = !ty.is_empty() && ty.chars().all(is_word_char) && !rest.contains('\n');
    valid.then(|| (ty.to_owned(), rest.trim().to_owned()))
}

fn normalize_exception(annotated: &mut Annotated<Exception>, os: Option<OsHint>) {
    let Some(exception) = annotated.value_mut() else {
        return;
    };
    if exception.ty.value().is_none_or(String::is_empty) {
        let split = exception
            .value
            .value()
            .and_then(|value| split_type_and_value(value));
        if let Some((ty, value)) = split {
            exception.ty = Annotated::new(ty);
            exception.value = Annotated::new(JsonLenientString(value));
        }
    }
    let no_type = exception.ty.value().is_none_or(String::is_empty);
    let no_value = exception.value.value().is_none_or(|value| value.is_empty());
    if no_type && no_value {
        let original = annotated.take();
        let meta = annotated.meta_mut();
        meta.add_error(
            Error::new(ErrorKind::MissingAttribute).with("attribute", Value::from("type or value")),
        );
        if let Some(original) = original {
            meta.set_original_value_of(original);
        }
        return;
    }
    if let Some(mechanism) = exception.mechanism.value_mut() {
        let link = &mut mechanism.help_link;
        let is_http = |l: &String| l.starts_with("http://") || l.starts_with("https://");
        if link.value().is_some_and(|l| !is_http(l)) {
            let original = link.take().map(Value::String);
            link.meta_mut().add_error(Error::expected("http URL"));
            link.meta_mut().set_original_value(original);
        }
        if let Some(meta) = mechanism.meta.value_mut() {
            mechanism::normalize_mechanism_meta(meta, os);
        }
    }
}

/// Step 16.
pub fn normalize_exceptions(event: &mut Event) {
    let os = OsHint::from_event(event);
    let Some(values) = event
        .exceptions
        .value_mut()
        .as_mut()
        .and_then(|v| v.values.value_mut().as_mut())
    else {
        return;
    };
    if values.len() == 1 && event.stacktrace.value().is_some() {
        if let Some(exception) = values[0].value_mut() {
            if exception.stacktrace.value().is_none() {
                exception.stacktrace = std::mem::take(&mut event.stacktrace);
            }
        }
    }
    for exception in values.iter_mut() {
        normalize_exception(exception, os);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_exceptions(event);
        }
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn verified_exception_example() {
        // §13 snippet.
        assert_eq!(
            run(
                json!({"exception": {"values": [{"value": "ValueError: bad thing"},
                {"type": "", "value": ""}, {"type": "T"}]}})
            ),
            json!({"exception": {"values": [{"type": "ValueError", "value": "bad thing"},
                null, {"type": "T"}]},
                "_meta": {"exception": {"values": {"1": {"": {
                    "err": [["missing_attribute", {"attribute": "type or value"}]],
                    "val": {"type": "", "value": "", "module": null, "stacktrace": null,
                        "raw_stacktrace": null, "thread_id": null, "mechanism": null}}}}}}})
        );
        assert_eq!(
            run(json!({"exception": {"values": [{"value": "not a: type"}]}})),
            json!({"exception": {"values": [{"value": "not a: type"}]}})
        );
    }

    #[test]
    fn top_level_stacktrace_and_help_link() {
        assert_eq!(
            run(json!({"stacktrace": {"frames": [{"function": "f"}]},
                "exception": {"values": [{"type": "E",
                    "mechanism": {"type": "generic", "help_link": "ftp://x"}}]}})),
            json!({"exception": {"values": [{"type": "E",
                    "stacktrace": {"frames": [{"function": "f"}]},
                    "mechanism": {"type": "generic", "help_link": null}}]},
                "_meta": {"exception": {"values": {"0": {"mechanism": {"help_link": {"": {
                    "err": [["invalid_data", {"reason": "expected http URL"}]],
                    "val": "ftp://x"}}}}}}}})
        );
    }
}
