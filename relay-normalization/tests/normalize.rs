//! `normalize_event` on a realistic event with invalid and oversized values: the full output,
//! `_meta` and `errors` included, derived from normalization.md §4.2, §6.2, §7, §8, §9 and §10.2.

use relay_event::schema::Event;
use relay_event::{from_json, to_json, Annotated, Timestamp};
use relay_normalization::{normalize_event, NormalizationConfig};
use serde_json::json;

fn repeat(c: &str, n: usize) -> String {
    c.repeat(n)
}

/// Compares without printing the long strings of the event in full on failure.
#[track_caller]
fn assert_json(actual: &serde_json::Value, expected: &serde_json::Value) {
    let short = |v: &serde_json::Value| {
        let text = v.to_string();
        text.replace(&repeat("x", 1000), "<x*1000>")
    };
    assert!(
        actual == expected,
        "actual:   {}\nexpected: {}",
        short(actual),
        short(expected)
    );
}

/// 2024-01-01T00:00:00Z, the received time of normalization.md's examples; the event has no
/// timestamp, so validation (§4.2) sets `timestamp` and `received` to it.
fn received_at() -> Option<Timestamp> {
    Timestamp::from_seconds(1704067200.0).ok()
}

fn input() -> serde_json::Value {
    json!({
        "event_id": "D2132D31-B394-45F1-938D-7E21B6BF0EC4",
        "level": "warn",
        "culprit": repeat("x", 300),
        "logger": "app\nlog",
        "platform": "python",
        "release": " backend@1.2.0 ",
        "dist": "a b",
        "environment": "",
        "tags": {"bad key": "v", "ok": repeat("y", 250)},
        "user": {"id": "42", "plan": "pro"},
        "request": {"url": "https://shop.example.com/cart", "foo": "bar"},
        "contexts": {"os": {"name": "Linux", "foo": "y"}},
        "breadcrumbs": {"values": [{"message": "clicked", "data": {"k": "v"}, "weird": 1}]},
        "exception": {"values": [{"type": "ValueError", "value": "bad input",
            "mechanism": {"handled": true}}]},
        "sdk": {"name": "sentry.python"},
        "extra": {"big": repeat("x", 20_000), "ok": 1},
        "errors": [{"type": "clock_drift", "name": "timestamp"}],
        "hashes": ["h"],
        "foo": "bar",
    })
}

#[test]
fn realistic_event_with_invalid_and_oversized_values() {
    let mut event: Annotated<Event> = from_json(input());
    let config = NormalizationConfig {
        enable_trimming: true,
        received_at: received_at(),
        ..NormalizationConfig::default()
    };
    assert_eq!(normalize_event(&mut event, &config), Ok(()));
    let output = to_json(&event).unwrap_or_default();

    let expected = json!({
        "event_id": "d2132d31b39445f1938d7e21b6bf0ec4",
        "level": "error",
        "type": "error",
        "culprit": format!("{}...", repeat("x", 197)),
        "logger": "",
        "platform": "python",
        "timestamp": 1704067200.0,
        "received": 1704067200.0,
        "release": "backend@1.2.0",
        "dist": null,
        "environment": null,
        // §7 step 8: unknown user attributes move into `user.data`.
        "user": {"id": "42", "sentry_user": "id:42", "data": {"plan": "pro"}},
        "request": {"url": "https://shop.example.com/cart"},
        // §7 steps 25–26: the forced trace context and the os description.
        "contexts": {"os": {"os": "Linux", "name": "Linux", "foo": "y", "type": "os"},
            "trace": {"trace_id": "d2132d31b39445f1938d7e21b6bf0ec4",
                "span_id": "d2132d31b39445f1", "status": "unknown", "type": "trace"}},
        "breadcrumbs": {"values": [{"type": "default", "level": "info", "message": "clicked",
            "data": {"k": "v"}, "weird": null}]},
        "exception": {"values": [{"type": "ValueError", "value": "bad input",
            "mechanism": {"type": null, "handled": true}}]},
        "tags": [["bad-key", "v"], ["ok", format!("{}...", repeat("y", 197))]],
        "extra": {"big": format!("{}...", repeat("x", 16_381)), "ok": 1},
        "sdk": {"name": "sentry.python", "version": null},
        "errors": [
            {"type": "clock_drift", "name": "timestamp"},
            {"type": "invalid_data", "name": "level", "value": "warn",
                "reason": "invalid level"},
            {"type": "invalid_data", "name": "logger", "value": "app\nlog",
                "reason": "invalid character '\\n'"},
            {"type": "invalid_data", "name": "dist", "value": "a b",
                "reason": "invalid character ' '"},
            {"type": "invalid_data", "name": "environment",
                "reason": "expected a non-empty string"},
            {"type": "invalid_attribute", "name": "breadcrumbs.values.0.weird"},
            {"type": "missing_attribute", "name": "exception.values.0.mechanism.type"},
            {"type": "missing_attribute", "name": "sdk.version"},
            {"type": "invalid_attribute", "name": "foo"},
        ],
        "foo": null,
        "_meta": {
            "level": {"": {"err": [["invalid_data", {"reason": "invalid level"}]],
                "val": "warn"}},
            "culprit": {"": {"len": 300, "rem": [["!limit", "s", 197, 200]]}},
            "logger": {"": {"err": [["invalid_data", {"reason": "invalid character '\\n'"}]],
                "val": "app\nlog"}},
            "dist": {"": {"err": [["invalid_data", {"reason": "invalid character ' '"}]],
                "val": "a b"}},
            "environment": {"": {"err": [["invalid_data",
                {"reason": "expected a non-empty string"}]]}},
            "breadcrumbs": {"values": {"0": {"weird": {"": {"err": ["invalid_attribute"]}}}}},
            "exception": {"values": {"0": {"mechanism": {"type": {"": {
                "err": ["missing_attribute"]}}}}}},
            "tags": {
                "1": {"1": {"": {"len": 250, "rem": [["!limit", "s", 197, 200]]}}},
            },
            "extra": {"big": {"": {"len": 20_000, "rem": [["!limit", "s", 16_381, 16_384]]}}},
            "sdk": {"version": {"": {"err": ["missing_attribute"]}}},
            "foo": {"": {"err": ["invalid_attribute"]}},
        },
    });
    assert_json(&output, &expected);

    // Schema order on output (normalization.md §11): unknown attributes, then `_meta`, last.
    let keys: Vec<&str> = output
        .as_object()
        .map(|map| map.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "event_id",
            "level",
            "type",
            "culprit",
            "logger",
            "platform",
            "timestamp",
            "received",
            "release",
            "dist",
            "environment",
            "user",
            "request",
            "contexts",
            "breadcrumbs",
            "exception",
            "tags",
            "extra",
            "sdk",
            "errors",
            "foo",
            "_meta",
        ]
    );
}

#[test]
fn renormalizing_a_normalized_event_changes_nothing() {
    // A second full normalization sees the recorded errors again, so only the renormalize
    // mode (§12) is idempotent: it keeps everything and emits nothing.
    let config = NormalizationConfig {
        enable_trimming: true,
        received_at: received_at(),
        ..NormalizationConfig::default()
    };
    let mut event: Annotated<Event> = from_json(input());
    assert_eq!(normalize_event(&mut event, &config), Ok(()));
    let once = to_json(&event).unwrap_or_default();
    let renormalize = NormalizationConfig {
        is_renormalize: true,
        enable_trimming: true,
        ..NormalizationConfig::default()
    };
    assert_eq!(normalize_event(&mut event, &renormalize), Ok(()));
    assert_json(&to_json(&event).unwrap_or_default(), &once);
}
