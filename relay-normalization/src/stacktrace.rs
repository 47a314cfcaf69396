//! Stack frames (normalization.md §7.4, §7 step 15).
//!
//! For each frame of the event's `stacktrace` and of every exception's and thread's
//! `stacktrace` (raw stack traces untouched): an empty `abs_path` takes the `filename` (which
//! is cleared); an empty `filename` with an `abs_path` becomes the `abs_path`, or its URL path
//! when the `abs_path` is a `file:`, `http:`, `https:` or `applewebdata:` URL with a path other
//! than empty or `/`; `function` and `symbol` equal to `?` are removed; `null` lines of
//! `pre_context` / `post_context` become `""` and `context_line` defaults to `""` when either
//! list is non-empty.

use relay_event::schema::{Event, Frame, Stacktrace};
use relay_event::Annotated;

fn is_empty(field: &Annotated<String>) -> bool {
    field.value().is_none_or(String::is_empty)
}

fn url_path(abs_path: &str) -> Option<String> {
    let scheme_ok = ["file:", "http:", "https:", "applewebdata:"]
        .iter()
        .any(|scheme| abs_path.starts_with(scheme));
    if !scheme_ok {
        return None;
    }
    let url = url::Url::parse(abs_path).ok()?;
    let path = url.path();
    (!path.is_empty() && path != "/").then(|| path.to_owned())
}

/// §7.4 on one frame.
pub fn normalize_frame(frame: &mut Frame) {
    if is_empty(&frame.abs_path) && frame.filename.value().is_some() {
        frame.abs_path = std::mem::take(&mut frame.filename);
    }
    if is_empty(&frame.filename) {
        if let Some(abs_path) = frame.abs_path.value().filter(|p| !p.is_empty()) {
            let filename = url_path(abs_path).unwrap_or_else(|| abs_path.clone());
            frame.filename = Annotated::new(filename);
        }
    }
    for field in [&mut frame.function, &mut frame.symbol] {
        if field.value().is_some_and(|text| text == "?") {
            field.set_value(None);
        }
    }
    let mut has_context = false;
    for lines in [&mut frame.pre_context, &mut frame.post_context] {
        if let Some(lines) = lines.value_mut() {
            for line in lines.iter_mut() {
                line.get_or_insert_with(String::new);
            }
            has_context |= !lines.is_empty();
        }
    }
    if has_context && frame.context_line.value().is_none() {
        frame.context_line.set_value(Some(String::new()));
    }
}

/// §7.4 on every frame of a stack trace.
pub fn normalize_stacktrace(stacktrace: &mut Annotated<Stacktrace>) {
    let Some(frames) = stacktrace
        .value_mut()
        .as_mut()
        .and_then(|s| s.frames.value_mut().as_mut())
    else {
        return;
    };
    for frame in frames.iter_mut().filter_map(|f| f.value_mut().as_mut()) {
        normalize_frame(frame);
    }
}

/// Step 15: the event's, every exception's and every thread's stack trace.
pub fn normalize_stacktraces(event: &mut Event) {
    crate::util::for_each_stacktrace(event, false, normalize_stacktrace);
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_stacktraces(event);
        }
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn verified_frame_example() {
        // §7.4 verified example.
        assert_eq!(
            run(
                json!({"stacktrace": {"frames": [{"filename": "https://ex.com/a/b.js?x=1",
                "function": "?", "pre_context": [null, "x"], "symbol": "?"}]}})
            ),
            json!({"stacktrace": {"frames": [{"filename": "/a/b.js",
                "abs_path": "https://ex.com/a/b.js?x=1",
                "pre_context": ["", "x"], "context_line": ""}]}})
        );
    }

    #[test]
    fn filename_from_plain_path_in_exceptions_and_threads() {
        assert_eq!(
            run(json!({
                "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
                    {"abs_path": "/srv/app/views.py", "function": "?", "lineno": 10}]}}]},
                "threads": {"values": [{"stacktrace": {"frames": [
                    {"abs_path": "https://ex.com/", "post_context": []}]}}]}})),
            json!({
                "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
                    {"filename": "/srv/app/views.py", "abs_path": "/srv/app/views.py",
                        "lineno": 10}]}}]},
                "threads": {"values": [{"stacktrace": {"frames": [
                    // An empty `post_context` is not written (as in StoreNormalizer).
                    {"filename": "https://ex.com/", "abs_path": "https://ex.com/"}]}}]}})
        );
    }
}
