//! App start backfill (normalization.md §7 step 19): mobile SDKs report app starts as the
//! measurements `app_start_cold` / `app_start_warm`; the `app.vitals.start.*` names are the
//! ones the product queries, so transactions get them too.
//!
//! For transactions only, observed with StoreNormalizer 0.10.1:
//!
//! * unless the measurement `app.vitals.start.value` or the tag `app.vitals.start.type`
//!   exists, the first of `app_start_cold` (type `cold`), `app_start_warm` (type `warm`) that
//!   has a value and the unit `millisecond` is copied into the measurement
//!   `app.vitals.start.value` (unit `millisecond`) and the tag `app.vitals.start.type`;
//! * when the event has any of those three measurements (whatever their unit or value), the
//!   trace op is `ui.load` and the transaction name is not `<unlabeled transaction>`, the
//!   trace context's `data` gets `app.vitals.start.screen` = the name unless it has that key.
//!
//! App start spans (§7 step 27, with span normalization): React Native SDKs 3.x to 4.4 named
//! their app start spans `app_start_cold` / `app_start_warm`; transactions from them get the
//! ops `app.start.cold` / `app.start.warm` the product expects. Which versions count was
//! observed with StoreNormalizer 0.10.1: the SDK `sentry.javascript.react-native` with a
//! version text starting with `3` or with one of `4.0` … `4.4` (a text prefix, so `4.10.0`
//! and `4.40` count too, `4` and `4.5.0` do not). Only the first such span is renamed (a
//! transaction has one app start). Other ops, other SDKs and errors keep their spans
//! unchanged.
//!
//! A missing unit counts as `millisecond`: the measurements step (18), which runs before,
//! fills exactly that unit for both app start measurements, so the result is the same with
//! or without it (it is not implemented yet).

use relay_event::schema::{Contexts, Event, EventType, Measurement, Measurements};
use relay_event::{Annotated, Object, Value};

use crate::util::add_tag_if_absent;

const VALUE: &str = "app.vitals.start.value";
const TYPE_TAG: &str = "app.vitals.start.type";
const SCREEN: &str = "app.vitals.start.screen";
const UNLABELED: &str = "<unlabeled transaction>";

/// The first app start measurement in milliseconds: (type, value).
fn app_start(measurements: &Measurements) -> Option<(&'static str, f64)> {
    [("app_start_cold", "cold"), ("app_start_warm", "warm")]
        .into_iter()
        .find_map(|(name, ty)| {
            let measurement = measurements.0.get(name)?.value()?;
            let is_ms = measurement
                .unit
                .value()
                .is_none_or(|unit| unit == "millisecond");
            Some((ty, *measurement.value.value()?)).filter(|_| is_ms)
        })
}

fn has_tag(event: &Event, key: &str) -> bool {
    event.tags.value().is_some_and(|tags| {
        tags.iter().any(|entry| {
            entry
                .value()
                .and_then(|entry| entry.0.value())
                .is_some_and(|k| k.as_str() == key)
        })
    })
}

/// Step 19.
pub fn normalize_app_start(event: &mut Event) {
    if event.ty.value() != Some(&EventType::Transaction) {
        return;
    }
    let Some(measurements) = event.measurements.value_mut() else {
        return;
    };
    let has_app_start = ["app_start_cold", "app_start_warm", VALUE]
        .iter()
        .any(|name| measurements.0.contains_key(*name));
    if !has_app_start {
        return;
    }
    let backfill = if measurements.0.contains_key(VALUE) {
        None
    } else {
        app_start(measurements)
    };
    if let Some((ty, value)) = backfill {
        if !has_tag(event, TYPE_TAG) {
            if let Some(measurements) = event.measurements.value_mut() {
                measurements.0.insert(
                    VALUE.to_owned(),
                    Annotated::new(Measurement {
                        value: Annotated::new(value),
                        unit: Annotated::new("millisecond".to_owned()),
                        ..Measurement::default()
                    }),
                );
            }
            add_tag_if_absent(event, TYPE_TAG, ty.to_owned());
        }
    }

    let Some(name) = event
        .transaction
        .value()
        .filter(|name| name.as_str() != UNLABELED)
        .cloned()
    else {
        return;
    };
    let Some(trace) = event
        .contexts
        .value_mut()
        .as_mut()
        .and_then(Contexts::trace_mut)
    else {
        return;
    };
    if trace.op.value().map(String::as_str) != Some("ui.load") {
        return;
    }
    let data = trace.data.get_or_insert_with(Object::new);
    let screen = data.entry(SCREEN.to_owned()).or_default();
    if screen.value().is_none() {
        screen.set_value(Some(Value::String(name)));
    }
}

/// The SDK whose old versions sent `app_start_*` span ops.
const REACT_NATIVE_SDK: &str = "sentry.javascript.react-native";

/// Whether a React Native SDK version named app start spans `app_start_*` (see the module
/// docs: a text prefix, as Sentry checks it).
fn sends_legacy_app_start_ops(version: &str) -> bool {
    version.starts_with('3')
        || ["4.0", "4.1", "4.2", "4.3", "4.4"]
            .iter()
            .any(|prefix| version.starts_with(prefix))
}

/// Step 27 (app start spans): `app_start_cold` / `app_start_warm` span ops of old React
/// Native SDKs become `app.start.cold` / `app.start.warm`, in transactions.
pub fn normalize_app_start_spans(event: &mut Event) {
    if event.ty.value() != Some(&EventType::Transaction) {
        return;
    }
    let Some(sdk) = event.client_sdk.value() else {
        return;
    };
    let is_legacy_react_native = sdk.name.value().map(String::as_str) == Some(REACT_NATIVE_SDK)
        && sdk
            .version
            .value()
            .is_some_and(|version| sends_legacy_app_start_ops(version));
    if !is_legacy_react_native {
        return;
    }
    let Some(spans) = event.spans.value_mut() else {
        return;
    };
    for span in spans
        .iter_mut()
        .filter_map(|span| span.value_mut().as_mut())
    {
        let renamed = match span.op.value().map(String::as_str) {
            Some("app_start_cold") => "app.start.cold",
            Some("app_start_warm") => "app.start.warm",
            _ => continue,
        };
        span.op.set_value(Some(renamed.to_owned()));
        // A transaction has one app start; Sentry renames only the first such span.
        return;
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn transaction(measurements: serde_json::Value, op: &str) -> serde_json::Value {
        json!({"type": "transaction", "transaction": "Main", "measurements": measurements,
            "contexts": {"trace": {"op": op}}})
    }

    /// Runs step 19; returns `tags`, `measurements` and the trace `data`.
    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_app_start(event);
        }
        let output = to_json(&event).unwrap();
        json!([
            output["tags"],
            output["measurements"],
            output["contexts"]["trace"]["data"]
        ])
    }

    fn ms(value: f64) -> serde_json::Value {
        json!({"value": value, "unit": "millisecond"})
    }

    #[test]
    fn backfills_the_first_millisecond_app_start() {
        // StoreNormalizer 0.10.1 outputs.
        let output = run(transaction(json!({"app_start_cold": ms(100.0)}), "default"));
        assert_eq!(
            output,
            json!([[["app.vitals.start.type", "cold"]], {"app.vitals.start.value": ms(100.0),
                "app_start_cold": ms(100.0)}, null])
        );
        let measurements = json!({"app_start_warm": ms(100.0), "app_start_cold": ms(200.0)});
        assert_eq!(
            run(transaction(measurements, "ui.load")),
            json!([[["app.vitals.start.type", "cold"]], {"app.vitals.start.value": ms(200.0),
                "app_start_cold": ms(200.0), "app_start_warm": ms(100.0)},
                {"app.vitals.start.screen": "Main"}])
        );
        // A cold start in seconds is skipped for the warm one in milliseconds.
        let measurements = json!({"app_start_cold": {"value": 1.0, "unit": "second"},
            "app_start_warm": ms(2.0)});
        assert_eq!(
            run(transaction(measurements, "ui.load"))[0],
            json!([["app.vitals.start.type", "warm"]])
        );
        // No unit: the measurements step would have made it milliseconds.
        assert_eq!(
            run(transaction(
                json!({"app_start_warm": {"value": 100.0}}),
                "ui.load"
            ))[0],
            json!([["app.vitals.start.type", "warm"]])
        );
    }

    #[test]
    fn existing_values_block_the_backfill_but_not_the_screen() {
        let mut input = transaction(json!({"app_start_warm": ms(100.0)}), "ui.load");
        input["tags"] = json!([["app.vitals.start.type", "x"]]);
        assert_eq!(
            run(input),
            json!([[["app.vitals.start.type", "x"]], {"app_start_warm": ms(100.0)},
                {"app.vitals.start.screen": "Main"}])
        );
        let measurements = json!({"app.vitals.start.value": ms(5.0), "app_start_warm": ms(1.0)});
        assert_eq!(
            run(transaction(measurements.clone(), "ui.load")),
            json!([null, measurements, {"app.vitals.start.screen": "Main"}])
        );
        let measurements = json!({"app_start_cold": {"value": 1.0, "unit": "second"}});
        assert_eq!(
            run(transaction(measurements.clone(), "ui.load")),
            json!([null, measurements, {"app.vitals.start.screen": "Main"}])
        );
        let measurements = json!({"app_start_cold": {"value": "x", "unit": "millisecond"}});
        assert_eq!(
            run(transaction(measurements, "ui.load"))[2],
            json!({"app.vitals.start.screen": "Main"})
        );
    }

    #[test]
    fn the_screen_needs_an_app_start_ui_load_and_a_name() {
        assert_eq!(
            run(transaction(json!({"fcp": ms(1.0)}), "ui.load"))[2],
            json!(null)
        );
        assert_eq!(
            run(transaction(json!({"app_start_cold": ms(1.0)}), "ui.load.x"))[2],
            json!(null)
        );
        let mut input = transaction(json!({"app_start_cold": ms(1.0)}), "ui.load");
        input["transaction"] = json!("<unlabeled transaction>");
        assert_eq!(run(input)[2], json!(null));
        let mut input = transaction(json!({"app_start_cold": ms(1.0)}), "ui.load");
        input["contexts"]["trace"]["data"] = json!({"app.vitals.start.screen": "Other"});
        assert_eq!(run(input)[2], json!({"app.vitals.start.screen": "Other"}));
        // Only tags, no measurement: nothing.
        let mut input = transaction(json!({}), "ui.load");
        input["tags"] = json!([["app.vitals.start.type", "x"]]);
        assert_eq!(run(input)[2], json!(null));
    }

    #[test]
    fn only_transactions() {
        let mut input = transaction(json!({"app_start_cold": ms(1.0)}), "ui.load");
        input["type"] = json!("default");
        assert_eq!(run(input), json!([null, {"app_start_cold": ms(1.0)}, null]));
    }

    #[test]
    fn only_the_first_app_start_span_is_renamed() {
        let mut event: Annotated<Event> = relay_event::from_json(json!({
            "type": "transaction",
            "sdk": {"name": "sentry.javascript.react-native", "version": "4.2.0"},
            "spans": [{"op": "db"}, {"op": "app_start_warm"}, {"op": "app_start_cold"}]
        }));
        if let Some(event) = event.value_mut() {
            normalize_app_start_spans(event);
        }
        let output = relay_event::to_json(&event).unwrap_or_default();
        let ops: Vec<&str> = (0..3)
            .filter_map(|i| output["spans"][i]["op"].as_str())
            .collect();
        assert_eq!(ops, ["db", "app.start.warm", "app_start_cold"]);
    }

    fn app_start_span_op(sdk: serde_json::Value, ty: &str, op: &str) -> String {
        let mut event: Annotated<Event> = relay_event::from_json(json!({
            "type": ty, "sdk": sdk,
            "spans": [{"op": op, "span_id": "dddddddddddddddd", "trace_id": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                "start_timestamp": 1704067190.0, "timestamp": 1704067191.0}]
        }));
        if let Some(event) = event.value_mut() {
            normalize_app_start_spans(event);
        }
        let output = relay_event::to_json(&event).unwrap_or_default();
        output["spans"][0]["op"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The version matrix observed with StoreNormalizer 0.10.1.
    #[test]
    fn legacy_react_native_app_start_span_ops_are_renamed() {
        let react_native =
            |version: &str| json!({"name": "sentry.javascript.react-native", "version": version});
        for version in [
            "3",
            "3.0.0",
            "3.9.0",
            "4.0",
            "4.4.5",
            "4.4.0-beta.1",
            "4.10.0",
            "4.40.0",
        ] {
            assert_eq!(
                app_start_span_op(react_native(version), "transaction", "app_start_cold"),
                "app.start.cold",
                "{version}"
            );
            assert_eq!(
                app_start_span_op(react_native(version), "transaction", "app_start_warm"),
                "app.start.warm",
                "{version}"
            );
        }
        for version in ["4", "4.5.0", "4.9.99", "5.0.0", "2.99.99", "v4.4.0", ""] {
            assert_eq!(
                app_start_span_op(react_native(version), "transaction", "app_start_cold"),
                "app_start_cold",
                "{version}"
            );
        }
        let cocoa = json!({"name": "sentry.cocoa", "version": "4.0.0"});
        assert_eq!(
            app_start_span_op(cocoa, "transaction", "app_start_cold"),
            "app_start_cold"
        );
        assert_eq!(
            app_start_span_op(react_native("4.0.0"), "error", "app_start_cold"),
            "app_start_cold"
        );
        assert_eq!(
            app_start_span_op(react_native("4.0.0"), "transaction", "app_start_hot"),
            "app_start_hot"
        );
    }
}
