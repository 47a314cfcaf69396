//! Legacy (v1) spans into span v2: standalone `span` items and the spans of transactions.
//!
//! The conversion never fails; ids and timestamps are copied as given and validated later by
//! the pipeline (or by extraction), which rejects what is unusable.

use serde_json::{Map, Value};

use super::{
    attribute_from_json, insert_attribute_if_absent, string_attribute, typed_attribute, SpanV2,
    ATTR_SEGMENT_ID,
};

/// Converts a legacy (v1) span — a standalone `span` item or an entry of a transaction's
/// `spans` — into span v2. `name` overrides the span name (the segment of a transaction is
/// named after the transaction); otherwise the name is the `op`.
///
/// Mapping: `timestamp` → `end_timestamp`; `status` → `ok` for `ok`/`cancelled`/`unknown`/none,
/// else `error` (the original in `sentry.status`); `data`, `tags` and `measurements` become
/// attributes under their own names; the v1 fields become `sentry.*` attributes, which win over
/// same-named data; `sentry_tags` fill `sentry.<tag>` where nothing else did.
pub fn legacy_to_v2(legacy: &Map<String, Value>, name: Option<&str>) -> SpanV2 {
    let mut span = SpanV2::new();
    for key in ["trace_id", "parent_span_id", "span_id"] {
        if let Some(value) = legacy.get(key).filter(|value| !value.is_null()) {
            span.insert(key.into(), value.clone());
        }
    }
    let op = legacy
        .get("op")
        .and_then(Value::as_str)
        .filter(|op| !op.is_empty());
    let name = name.or(op).unwrap_or("default");
    span.insert("name".into(), Value::String(name.to_owned()));
    let status = legacy.get("status").and_then(Value::as_str);
    let v2_status = match status {
        None | Some("ok" | "cancelled" | "unknown") => "ok",
        Some(_) => "error",
    };
    span.insert("status".into(), Value::String(v2_status.into()));
    if let Some(is_segment) = legacy.get("is_segment").and_then(Value::as_bool) {
        span.insert("is_segment".into(), Value::Bool(is_segment));
    }
    if let Some(start) = legacy.get("start_timestamp") {
        span.insert("start_timestamp".into(), start.clone());
    }
    if let Some(end) = legacy.get("timestamp") {
        span.insert("end_timestamp".into(), end.clone());
    }
    if let Some(Value::Array(links)) = legacy.get("links") {
        span.insert("links".into(), Value::Array(links.clone()));
    }

    let mut attributes = Map::new();
    if let Some(Value::Object(data)) = legacy.get("data") {
        for (key, value) in data {
            if let Some(attribute) = attribute_from_json(value) {
                attributes.insert(key.clone(), attribute);
            }
        }
    }
    for (key, value) in tag_pairs(legacy.get("tags")) {
        attributes.insert(key, string_attribute(value));
    }
    if let Some(Value::Object(measurements)) = legacy.get("measurements") {
        for (key, measurement) in measurements {
            let value = measurement
                .get("value")
                .and_then(Value::as_f64)
                .and_then(serde_json::Number::from_f64);
            if let Some(value) = value {
                attributes.insert(key.clone(), typed_attribute("double", Value::Number(value)));
            }
        }
    }
    let fields: [(&str, &str); 11] = [
        ("op", "sentry.op"),
        ("description", "sentry.description"),
        ("origin", "sentry.origin"),
        ("exclusive_time", "sentry.exclusive_time"),
        ("segment_id", ATTR_SEGMENT_ID),
        ("profile_id", "sentry.profile_id"),
        ("is_remote", "sentry.is_remote"),
        ("kind", "sentry.kind"),
        ("platform", "sentry.platform"),
        ("was_transaction", "sentry.was_transaction"),
        ("status", "sentry.status"),
    ];
    for (field, attribute_name) in fields {
        let Some(value) = legacy.get(field) else {
            continue;
        };
        let attribute = if field == "exclusive_time" {
            value
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map(|time| typed_attribute("double", Value::Number(time)))
        } else {
            attribute_from_json(value)
        };
        if let Some(attribute) = attribute {
            attributes.insert(attribute_name.to_owned(), attribute);
        }
    }
    if let Some(Value::Object(sentry_tags)) = legacy.get("sentry_tags") {
        for (key, value) in sentry_tags {
            if let Some(attribute) = attribute_from_json(value) {
                insert_attribute_if_absent(&mut attributes, &format!("sentry.{key}"), attribute);
            }
        }
    }
    span.insert("attributes".into(), Value::Object(attributes));
    span
}

/// Tags as (key, value) strings, from an object or from `[[key, value], …]` pairs.
fn tag_pairs(tags: Option<&Value>) -> Vec<(String, String)> {
    let as_text = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match tags {
        Some(Value::Object(object)) => object
            .iter()
            .filter_map(|(key, value)| as_text(value).map(|value| (key.clone(), value)))
            .collect(),
        Some(Value::Array(pairs)) => pairs
            .iter()
            .filter_map(|pair| {
                let pair = pair.as_array()?;
                let key = pair.first()?.as_str()?;
                Some((key.to_owned(), as_text(pair.get(1)?)?))
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::process;
    use super::super::tests::{
        assert_schema_fields, container_item, harness, legacy_item, now_seconds, v2_span, TRACE_ID,
    };
    use relay_protocol::DataCategory;

    #[test]
    fn legacy_spans_are_converted() {
        let now = now_seconds();
        let legacy = json!({
            "trace_id": TRACE_ID, "span_id": "eee19b7ec3c1b175", "parent_span_id": "aaaaaaaaaaaaaaaa",
            "segment_id": "aaaaaaaaaaaaaaaa", "op": "ui.interaction.click", "description": "button",
            "start_timestamp": now - 1.0, "timestamp": now, "exclusive_time": 12.5, "status": "internal_error",
            "data": {"a": 1, "b": "x"}, "tags": {"t": "v"}, "measurements": {"inp": {"value": 80, "unit": "millisecond"}},
            "sentry_tags": {"browser.name": "Chrome"}
        });
        let mut harness = harness(
            &format!(
                "{}{}",
                legacy_item(&legacy),
                container_item(&[v2_span("bbbbbbbbbbbbbbbb")])
            ),
            &[],
        );
        harness.run(process);
        // A container wins over legacy items, which become duplicates.
        assert_eq!(harness.spans().len(), 1);
        assert!(harness.outcome_reasons().contains(&(
            "duplicate_item".to_owned(),
            DataCategory::Span,
            1
        )));

        let mut harness = super::tests::harness(&legacy_item(&legacy), &[]);
        harness.run(process);
        let spans = harness.spans();
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_schema_fields(span);
        assert_eq!(span["name"], "ui.interaction.click");
        assert_eq!(span["status"], "error");
        assert_eq!(span["parent_span_id"], "aaaaaaaaaaaaaaaa");
        let attributes = &span["attributes"];
        assert_eq!(attributes["sentry.op"]["value"], "ui.interaction.click");
        assert_eq!(attributes["sentry.description"]["value"], "button");
        assert_eq!(attributes["sentry.status"]["value"], "internal_error");
        assert_eq!(
            attributes["sentry.exclusive_time"],
            json!({"type": "double", "value": 12.5})
        );
        assert_eq!(attributes["sentry.segment.id"]["value"], "aaaaaaaaaaaaaaaa");
        assert_eq!(attributes["a"], json!({"type": "integer", "value": 1}));
        assert_eq!(attributes["t"]["value"], "v");
        assert_eq!(attributes["inp"], json!({"type": "double", "value": 80.0}));
        assert_eq!(attributes["sentry.browser.name"]["value"], "Chrome");
        assert_eq!(attributes["sentry.relay.ingress"]["value"], "legacy");
    }
}
