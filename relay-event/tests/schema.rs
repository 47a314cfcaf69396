//! The typed event schema: lenient parsing of realistic and invalid events, the round trip of
//! every sample event of `shared/corpus/sentry-samples/` (the project's shared folder beside the
//! repository), and the traversal of typed
//! children by a processor.

use std::collections::BTreeMap;
use std::path::Path;

use relay_event::schema::{Event, Level};
use relay_event::{
    from_json, process_value, to_json, Annotated, FieldAttrs, Pii, ProcessingResult,
    ProcessingState, Processor,
};
use serde_json::json;

/// Numbers compare by value (`1` equals `1.0`: typed floats and timestamps are written as
/// floats); everything else structurally (object key order is ignored).
fn normalize_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                if let Some(number) = serde_json::Number::from_f64(f) {
                    *n = number;
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalize_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

/// The paths where `a` and `b` differ.
fn diff(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let null = serde_json::Value::Null;
                diff(
                    &format!("{path}.{key}"),
                    x.get(key).unwrap_or(&null),
                    y.get(key).unwrap_or(&null),
                    out,
                );
            }
        }
        (serde_json::Value::Array(x), serde_json::Value::Array(y)) if x.len() == y.len() => {
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}.{i}"), x, y, out);
            }
        }
        _ if a != b => {
            if std::env::var_os("SCHEMA_DIFF_DEBUG").is_some() {
                eprintln!("{path}: {a} => {b}");
            }
            out.push(path.to_owned());
        }
        _ => {}
    }
}

/// Samples that do not round-trip unchanged, with the paths that differ and the documented
/// rule that changes them (§ are sections of normalization.md).
fn expected_differences() -> BTreeMap<&'static str, Vec<&'static str>> {
    // (sample, differing paths, reason)
    let table: [(&str, &[&str], &str); 15] = [
        (
            "android-ndk.json",
            &[".event_id"],
            "hyphenated event id written as 32 hex digits (§2)",
        ),
        (
            "aspnetcore.json",
            &[".errors", ".key_id", "._meta"],
            "empty `errors` omitted (§11); numeric `key_id` is not a string: null + invalid_data",
        ),
        (
            "cocoa.json",
            &[".contexts.device.type", ".contexts.os.type"],
            "a context without `type` gets its key as `type` (§2)",
        ),
        (
            "cordova.json",
            &[
                ".contexts.os.type",
                ".contexts.app.type",
                ".contexts.device.type",
            ],
            "a context without `type` gets its key as `type` (§2)",
        ),
        (
            "empty-stacktrace.json",
            &[".stacktrace"],
            "a stacktrace with empty frames is empty and omitted (§11)",
        ),
        (
            "generic-event-profiling.json",
            &[".type", "._meta"],
            "`type: 2001` is not an event type name: null + invalid_data",
        ),
        (
            "generic-event.json",
            &[".tags", ".extra", ".sdk.integrations", ".sdk.packages"],
            "tags object becomes sorted pairs (§2); empty `extra`, `sdk.integrations` and \
             `sdk.packages` omitted (§11)",
        ),
        (
            "invalid-interfaces.json",
            &[
                ".breadcrumbs.values.1.timestamp",
                ".breadcrumbs.values.1.level",
                ".breadcrumbs.values.2.timestamp",
                ".breadcrumbs.values.2.data",
                ".debug_meta.images.3.image_size",
                ".debug_meta.images.4.image_size",
                ".exception.values.3.mechanism.description",
                ".logentry.formatted",
                ".sdk.integrations",
                ".sdk.packages",
                ".template.context_line",
                ".template.pre_context.0",
                ".template.post_context.0",
                "._meta",
            ],
            "deliberately invalid values: null + invalid_data + original (§2); string \
             timestamps become float seconds (§2)",
        ),
        (
            "javascript.json",
            &[".contexts.os.type", ".contexts.browser.type"],
            "a context without `type` gets its key as `type` (§2)",
        ),
        (
            "javascript-transaction.json",
            &[".extra"],
            "empty `extra` omitted (§11)",
        ),
        (
            "react-transaction.json",
            &["._meta.user"],
            "an empty meta tree is not written",
        ),
        (
            "transaction-render-blocking-asset.json",
            &[".event_id", "._meta"],
            "`event_id: \"1\"` is not a UUID: null + invalid_data (§2)",
        ),
        (
            "transaction-slow-db-query.json",
            &[".contexts.trace.trace_id", "._meta"],
            "a 30-digit trace id is not the schema's 32-hex TraceId: null + invalid_data (§2)",
        ),
        (
            "transaction.json",
            &[".extra", ".spans.0.tags.error"],
            "empty `extra` omitted (§11); span tag values are JSON-lenient strings (§2)",
        ),
        (
            "unity.json",
            &[
                ".contexts.app.type",
                ".contexts.gpu.vendor_id",
                ".contexts.gpu.type",
                ".contexts.os.type",
                ".contexts.device.type",
                ".breadcrumbs",
                ".tags",
                ".exception.values.0.stacktrace.frames.0.filename",
                ".exception.values.0.stacktrace.frames.0.module",
                ".exception.values.0.stacktrace.frames.0.lineno",
                ".exception.values.0.stacktrace.frames.1.filename",
                ".exception.values.0.stacktrace.frames.1.module",
                ".exception.values.0.stacktrace.frames.2.filename",
                ".exception.values.0.stacktrace.frames.2.module",
                ".exception.values.0.stacktrace.frames.3.filename",
                ".exception.values.0.stacktrace.frames.3.module",
                ".exception.values.0.stacktrace.frames.4.filename",
                ".exception.values.0.stacktrace.frames.4.module",
                ".exception.values.0.stacktrace.frames.5.filename",
                ".exception.values.0.stacktrace.frames.5.module",
                ".exception.values.0.stacktrace.frames.6.filename",
                ".exception.values.0.stacktrace.frames.6.module",
                ".exception.values.0.stacktrace.frames.7.filename",
                ".exception.values.0.stacktrace.frames.7.module",
                ".exception.values.0.stacktrace.frames.8.filename",
                ".exception.values.0.stacktrace.frames.8.module",
                "._meta",
            ],
            "bare breadcrumb array wrapped in `values`, tags object becomes pairs, contexts \
             without `type` get their key as `type` (§2); `lineno: -1` is not an unsigned \
             integer and the numeric gpu `vendor_id` is not the schema's string: null + \
             invalid_data; empty frame `filename` and `module` omitted (§11)",
        ),
    ];
    table
        .into_iter()
        .map(|(sample, paths, _reason)| (sample, paths.to_vec()))
        .collect()
}

/// The sample events: `shared/` lies beside the repository (as in development and in CI).
const CORPUS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/sentry-samples"
);

#[test]
fn corpus_round_trip() {
    let dir = Path::new(CORPUS_DIR);
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("the sample corpus {CORPUS_DIR} is missing: {error}"));
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let expected = expected_differences();
    let mut report = BTreeMap::new();
    let mut count = 0;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let mut input: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let event: Annotated<Event> = from_json(input.clone());
        let mut output = to_json(&event).unwrap_or_default();
        normalize_numbers(&mut input);
        normalize_numbers(&mut output);
        let mut paths = Vec::new();
        diff("", &input, &output, &mut paths);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        count += 1;
        if !paths.is_empty() {
            report.insert(name, paths);
        }
    }
    assert!(count >= 48, "only {count} samples");
    let actual: BTreeMap<&str, Vec<&str>> = report
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        actual,
        expected,
        "\n{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}

#[test]
fn realistic_event_parses() {
    let event: Annotated<Event> = from_json(json!({
        "event_id": "52DF9022-8352-46EE-B317-DBD739CCD059",
        "level": "critical",
        "timestamp": "2023-12-31T23:59:50Z",
        "release": 42,
        "tags": {"b": "2", "a": 1},
        "exception": [{"type": "E", "value": "boom",
            "stacktrace": {"frames": [{"function": "main", "lineno": 1}]}}],
        "breadcrumbs": {"values": [{"message": "m", "level": "log"}]},
        "threads": {"values": [{"id": "7", "crashed": true}]},
        "sdk": {"name": "s", "version": "1"},
        "user": {"id": 5},
        "unknown": {"kept": true},
    }));
    let event = event.value().cloned().unwrap_or_default();
    assert_eq!(event.level.value(), Some(&Level::Fatal));
    assert_eq!(
        event.event_id.value().map(|id| id.as_simple()).as_deref(),
        Some("52df9022835246eeb317dbd739ccd059")
    );
    assert_eq!(event.release.value().map(|r| r.as_str()), Some("42"));
    assert!(event.other.contains_key("unknown"));
    let output = to_json(&Annotated::new(event)).unwrap_or_default();
    assert_eq!(output["tags"], json!([["a", "1"], ["b", "2"]]));
    assert_eq!(output["timestamp"], json!(1704067190.0));
    assert_eq!(
        output["exception"]["values"][0]["stacktrace"]["frames"][0]["function"],
        "main"
    );
    assert_eq!(output["breadcrumbs"]["values"][0]["level"], "info");
    assert_eq!(output["user"]["id"], "5");
}

#[test]
fn invalid_fields_become_null_with_meta() {
    let event: Annotated<Event> = from_json(json!({
        "level": "loud",
        "event_id": "nope",
        "timestamp": [],
        "exception": "boom",
        "user": "jane",
        "time_spent": -1,
        "contexts": {"os": {"name": "x"}},
    }));
    let output = to_json(&event).unwrap_or_default();
    for field in [
        "level",
        "event_id",
        "timestamp",
        "exception",
        "user",
        "time_spent",
    ] {
        assert_eq!(output[field], serde_json::Value::Null, "{field}");
        let meta = &output["_meta"][field][""];
        assert_eq!(meta["err"][0][0], "invalid_data", "{field}: {meta}");
    }
    assert_eq!(output["_meta"]["level"][""]["val"], "loud");
    assert_eq!(output["_meta"]["user"][""]["val"], "jane");
    assert_eq!(output["_meta"]["exception"][""]["val"], "boom");
    assert_eq!(
        output["contexts"],
        json!({"os": {"name": "x", "type": "os"}})
    );
}

struct FunctionFinder(Vec<(String, Option<usize>, Pii)>);

impl Processor for FunctionFinder {
    fn process_string(
        &mut self,
        _value: &mut String,
        _meta: &mut relay_event::Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let attrs: &FieldAttrs = state.attrs();
        if attrs.name == Some("function") {
            self.0
                .push((state.path().to_string(), attrs.max_chars, attrs.pii));
        }
        Ok(())
    }
}

#[test]
fn processor_sees_typed_frames() {
    let mut event: Annotated<Event> = from_json(json!({
        "exception": {"values": [{"stacktrace": {"frames": [{"function": "main"}]}}]},
    }));
    let mut finder = FunctionFinder(Vec::new());
    let result = process_value(&mut event, &mut finder, &ProcessingState::root());
    assert!(result.is_ok());
    assert_eq!(
        finder.0,
        [(
            "exception.values.0.stacktrace.frames.0.function".to_owned(),
            Some(512),
            Pii::False
        )]
    );
}

#[test]
fn the_value_of_untyped_fields_is_kept() {
    let event: Annotated<Event> = from_json(json!({"csp": {"blocked_uri": "x"}, "_dsc": {"a": 1}}));
    let output = to_json(&event).unwrap_or_default();
    assert_eq!(
        output,
        json!({"csp": {"blocked_uri": "x"}, "_dsc": {"a": 1}})
    );
}

/// Records the path and `required` of every context value whose field name ends in `_id`.
struct IdFinder(Vec<(String, bool)>);

impl Processor for IdFinder {
    fn before_process<T: relay_event::ProcessValue>(
        &mut self,
        _value: Option<&T>,
        _meta: &mut relay_event::Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let attrs: &FieldAttrs = state.attrs();
        let path = state.path().to_string();
        if attrs.name.is_some_and(|name| name.ends_with("_id")) && path.starts_with("contexts.") {
            self.0.push((path, attrs.required));
        }
        Ok(())
    }
}

#[test]
fn processor_reaches_the_trace_context() {
    let mut event: Annotated<Event> = from_json(json!({
        "contexts": {
            "trace": {"trace_id": "A7D67CF796774551A95BE6543CACD459",
                "span_id": "babaae0d4b7512d9", "op": "http.server"},
            "custom": {"type": "custom", "session_id": "s"},
        },
    }));
    let mut finder = IdFinder(Vec::new());
    let result = process_value(&mut event, &mut finder, &ProcessingState::root());
    assert!(result.is_ok());
    assert_eq!(
        finder.0,
        [
            ("contexts.trace.trace_id".to_owned(), true),
            ("contexts.trace.span_id".to_owned(), true),
            ("contexts.trace.parent_span_id".to_owned(), false),
        ]
    );
    let trace = event
        .value()
        .and_then(|event| event.contexts.value())
        .and_then(|contexts| contexts.trace())
        .and_then(|trace| trace.trace_id.value())
        .map(|id| id.as_str().to_owned());
    assert_eq!(trace.as_deref(), Some("a7d67cf796774551a95be6543cacd459"));
}
