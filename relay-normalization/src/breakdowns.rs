//! Transaction breakdowns (normalization.md §7 step 20) from the project's `breakdownsV2`
//! config (project-config.md §2): a map from breakdown name to
//! `{"type": "spanOperations", "matches": [op prefixes]}`.
//!
//! For a `spanOperations` breakdown, every span with an `op` and both timestamps is assigned
//! to the first prefix of `matches` its op starts with; the spans of a prefix are merged into
//! non-overlapping intervals and their total length becomes measurement `ops.<prefix>`
//! (milliseconds), and `total.time` is the sum over all prefixes. A breakdown without any
//! matching span is not written. Written breakdowns replace a client-sent breakdown of the
//! same name in `breakdowns`; other names are kept.
//!
//! Deserialization is as lenient as Sentry's Relay (observed with `normalize_project_config`
//! 0.10.1): an unknown `type` parses as [`BreakdownConfig::Unsupported`] and is skipped,
//! while a `spanOperations` breakdown without `matches` makes the project config unparsable.
//! The computation itself could not be checked against `StoreNormalizer`, which ignores its
//! `breakdowns` option (normalization.md §1.1, last row of the table).

use std::collections::BTreeMap;

use relay_event::schema::{Breakdowns, Event, EventType, Measurement, Measurements};
use relay_event::{Annotated, Object};
use serde::{Deserialize, Serialize};

/// One breakdown of `breakdownsV2`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum BreakdownConfig {
    /// Time spent in spans by op prefix.
    SpanOperations {
        /// Op prefixes, first match wins.
        matches: Vec<String>,
    },
    /// Any other type: skipped.
    #[serde(other)]
    Unsupported,
}

/// `breakdownsV2`: breakdown name → config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BreakdownsConfig(pub BTreeMap<String, BreakdownConfig>);

fn span_operations(event: &Event, matches: &[String]) -> Option<Measurements> {
    let mut by_prefix: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for span in event.spans.value()?.iter().filter_map(|s| s.value()) {
        let (Some(op), Some(start), Some(end)) = (
            span.op.value(),
            span.start_timestamp.value(),
            span.timestamp.value(),
        ) else {
            continue;
        };
        let Some(prefix) = matches.iter().find(|p| op.starts_with(p.as_str())) else {
            continue;
        };
        by_prefix
            .entry(prefix.as_str())
            .or_default()
            .push((start.0.timestamp_micros(), end.0.timestamp_micros()));
    }
    if by_prefix.is_empty() {
        return None;
    }
    let mut measurements = Object::new();
    let mut total = 0;
    for (prefix, mut intervals) in by_prefix {
        intervals.sort_unstable();
        let mut covered = 0;
        let mut current: Option<(i64, i64)> = None;
        for (start, end) in intervals {
            current = match current {
                Some((s, e)) if start <= e => Some((s, e.max(end))),
                Some((s, e)) => {
                    covered += (e - s).max(0);
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        if let Some((s, e)) = current {
            covered += (e - s).max(0);
        }
        total += covered;
        measurements.insert(format!("ops.{prefix}"), millis(covered));
    }
    measurements.insert("total.time".to_owned(), millis(total));
    Some(Measurements(measurements))
}

fn millis(micros: i64) -> Annotated<Measurement> {
    Annotated::new(Measurement {
        value: Annotated::new(micros as f64 / 1000.0),
        unit: Annotated::new("millisecond".to_owned()),
        ..Default::default()
    })
}

/// Step 20 breakdowns on a transaction.
pub fn normalize_breakdowns(event: &mut Event, config: &BreakdownsConfig) {
    if event.ty.value() != Some(&EventType::Transaction) {
        return;
    }
    let mut computed = Vec::new();
    for (name, breakdown) in &config.0 {
        if let BreakdownConfig::SpanOperations { matches } = breakdown {
            if let Some(measurements) = span_operations(event, matches) {
                computed.push((name.clone(), measurements));
            }
        }
    }
    if computed.is_empty() {
        return;
    }
    let breakdowns = event
        .breakdowns
        .get_or_insert_with(|| Breakdowns(Object::new()));
    for (name, measurements) in computed {
        breakdowns.0.insert(name, Annotated::new(measurements));
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    #[test]
    fn config_deserializes_like_project_config() {
        let config: BreakdownsConfig = serde_json::from_value(json!({
            "span_ops": {"type": "bogus", "matches": ["db"]},
            "x": {"type": "spanOperations", "matches": ["a"]}}))
        .unwrap_or_default();
        assert_eq!(
            serde_json::to_value(&config).ok(),
            Some(json!({"span_ops": {"type": "unsupported"},
                "x": {"type": "spanOperations", "matches": ["a"]}}))
        );
        assert!(serde_json::from_value::<BreakdownsConfig>(
            json!({"span_ops": {"type": "spanOperations"}})
        )
        .is_err());
        assert!(serde_json::from_value::<BreakdownsConfig>(json!(5)).is_err());
    }

    #[test]
    fn span_operations_breakdown() {
        let config: BreakdownsConfig = serde_json::from_value(json!({
            "span_ops": {"type": "spanOperations",
                "matches": ["http", "db", "browser", "resource"]},
            "nothing": {"type": "spanOperations", "matches": ["queue"]}}))
        .unwrap_or_default();
        let span = |op: &str, start: f64, end: f64| json!({"op": op, "start_timestamp": start, "timestamp": end});
        let mut event: Annotated<Event> = from_json(json!({"type": "transaction",
        "breakdowns": {"custom": {"x": {"value": 1}}, "span_ops": {"old": {"value": 1}}},
        "spans": [
            span("http.client", 0.0, 2.0),
            span("http.server", 1.0, 3.5),   // overlaps the first http span
            span("http", 10.0, 10.25),
            span("db.query", 4.0, 5.0),
            span("db.redis", 4.5, 4.75),     // inside the db span
            span("ui.load", 0.0, 100.0),     // no prefix
            span("browser", 20.0, 20.5),
            {"op": "resource.css", "start_timestamp": 1.0},
        ]}));
        if let Some(event) = event.value_mut() {
            normalize_breakdowns(event, &config);
        }
        let ms = |v: f64| json!({"value": v, "unit": "millisecond"});
        assert_eq!(
            to_json(&event).unwrap_or_default()["breakdowns"],
            json!({"custom": {"x": {"value": 1.0}}, "span_ops": {
                "ops.browser": ms(500.0), "ops.db": ms(1000.0), "ops.http": ms(3750.0),
                "total.time": ms(5250.0)}})
        );
    }
}
