//! Span extraction from transactions (processing.md §3.2 steps 10–12): the segment (built from the
//! transaction itself) and every child span become span v2 messages, and all of them are
//! counted in the span usage buckets.
//!
//! Invariant: every span of the transaction, valid or not, is counted in a usage bucket
//! (`span`); `span_indexed` travels with each stored span's request.

use std::collections::HashMap;

use relay_kafka::messages::SpanMessage;
use relay_protocol::{DataCategory, EventId};
use serde_json::{Map, Value};

use super::attributes::dsc_attributes;
use super::ids::normalize_ids;
use super::timestamps::seconds_value;
use super::usage::UsageCounts;
use super::{
    attribute_from_json, attributes_mut, insert_attribute_if_absent, legacy_to_v2, push_span,
    retention_pair, string_attribute, unix_seconds, SpanError, SpanV2, ATTR_INGRESS, ATTR_PIPELINE,
    ATTR_SEGMENT_ID, SPAN_RETENTION_PRODUCT,
};
use crate::managed::ManagedEnvelope;
use crate::outcome::Outcome;
use crate::services::processing::event::{parse_timestamp, EventObject};
use crate::services::processing::{ProcessingContext, ProcessingOutput};

/// Extracts the spans of a transaction (children plus the segment) into store requests
/// (processing.md §3.2 steps 10–12) and the span usage buckets (§3.12).
///
/// Returns whether the span categories of the transaction are accounted for by them — always
/// true: every span (valid or not) is counted in a usage bucket (`span`, accepted at flush)
/// and every stored span's request carries its `span_indexed`.
///
/// A child span that cannot become a message (no usable span id or start timestamp) is
/// rejected with `invalid`/`invalid_span` for `span_indexed`.
pub fn extract_from_transaction(
    context: &ProcessingContext,
    managed: &ManagedEnvelope,
    event_id: EventId,
    event: &EventObject,
    performance_issues_spans: bool,
    output: &mut ProcessingOutput,
) -> bool {
    let (retention_days, downsampled_retention_days) =
        retention_pair(context, SPAN_RETENTION_PRODUCT);
    let spans = spans_from_transaction(context, event);
    let mut usage = UsageCounts::default();
    for extracted in spans {
        usage.add(extracted.is_segment, extracted.is_segment);
        let invalid_span = Outcome::Invalid(SpanError::InvalidTransactionSpan.into());
        let Some(span) = extracted.span else {
            managed.track(invalid_span, DataCategory::SpanIndexed, 1);
            continue;
        };
        let message = SpanMessage::new(
            context.organization_id(),
            context.project_id(),
            context.key_id(),
            context.received_at,
            retention_days,
            downsampled_retention_days,
            span,
        );
        match message {
            Ok(message) => {
                let message = message
                    .with_event_id(event_id)
                    .with_performance_issues_spans(
                        performance_issues_spans && extracted.is_segment,
                    );
                push_span(output, &message);
            }
            Err(error) => {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "dropping an invalid span of a transaction"
                );
                managed.track(invalid_span, DataCategory::SpanIndexed, 1);
            }
        }
    }
    output.buckets.extend(usage.into_buckets(context));
    true
}

/// One span extracted from a transaction; `span` is `None` when it is invalid.
#[derive(Debug)]
struct ExtractedSpan {
    is_segment: bool,
    span: Option<SpanV2>,
}

/// The segment span (first) and every child span of a transaction, in span v2.
fn spans_from_transaction(context: &ProcessingContext, event: &EventObject) -> Vec<ExtractedSpan> {
    let empty = Map::new();
    let trace = event
        .get("contexts")
        .and_then(|contexts| contexts.get("trace"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let trace_id = trace.get("trace_id").cloned().unwrap_or(Value::Null);
    let segment_id = trace
        .get("span_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let transaction_name = event.get("transaction").and_then(Value::as_str);
    let end = event.get("timestamp").cloned().unwrap_or(Value::Null);

    let children: Vec<Map<String, Value>> = match event.get("spans") {
        Some(Value::Array(spans)) => spans.iter().filter_map(Value::as_object).cloned().collect(),
        _ => Vec::new(),
    };

    // The segment as a legacy span built from the transaction.
    let mut segment = Map::new();
    segment.insert("trace_id".into(), trace_id.clone());
    segment.insert("span_id".into(), Value::String(segment_id.clone()));
    for (field, key) in [
        ("parent_span_id", "parent_span_id"),
        ("op", "op"),
        ("status", "status"),
        ("origin", "origin"),
        ("data", "data"),
    ] {
        if let Some(value) = trace.get(field) {
            segment.insert(key.into(), value.clone());
        }
    }
    if let Some(name) = transaction_name {
        segment.insert("description".into(), Value::String(name.to_owned()));
    }
    segment.insert("segment_id".into(), Value::String(segment_id.clone()));
    segment.insert("is_segment".into(), Value::Bool(true));
    segment.insert("was_transaction".into(), Value::Bool(true));
    for field in [
        "start_timestamp",
        "timestamp",
        "tags",
        "measurements",
        "platform",
    ] {
        if let Some(value) = event.get(field) {
            segment.insert(field.into(), value.clone());
        }
    }
    if let Some(profile_id) = event
        .get("contexts")
        .and_then(|contexts| contexts.get("profile"))
        .and_then(|profile| profile.get("profile_id"))
    {
        segment.insert("profile_id".into(), profile_id.clone());
    }

    let mut legacy_spans = Vec::with_capacity(children.len() + 1);
    legacy_spans.push(segment);
    for mut child in children {
        if child.get("trace_id").is_none_or(Value::is_null) {
            child.insert("trace_id".into(), trace_id.clone());
        }
        // Normalization gives spans without end the transaction's end (transaction validation, normalization.md §5).
        if child.get("timestamp").is_none_or(Value::is_null) {
            child.insert("timestamp".into(), end.clone());
            child.insert("status".into(), Value::String("deadline_exceeded".into()));
        }
        child
            .entry("segment_id")
            .or_insert_with(|| Value::String(segment_id.clone()));
        child.insert("is_segment".into(), Value::Bool(false));
        legacy_spans.push(child);
    }
    fill_exclusive_times(&mut legacy_spans);

    let shared = transaction_attributes(context, event, trace);
    legacy_spans
        .iter()
        .enumerate()
        .map(|(index, legacy)| {
            let is_segment = index == 0;
            let name = if is_segment { transaction_name } else { None };
            let mut span = legacy_to_v2(legacy, name);
            let attributes = attributes_mut(&mut span);
            for (key, value) in &shared {
                insert_attribute_if_absent(attributes, key, value.clone());
            }
            attributes.insert(ATTR_INGRESS.into(), string_attribute("legacy"));
            attributes.insert(ATTR_PIPELINE.into(), string_attribute("transaction"));
            let span = normalize_ids(span).ok().and_then(|mut span| {
                normalize_extracted_timestamps(&mut span)?;
                Some(span)
            });
            ExtractedSpan { is_segment, span }
        })
        .collect()
}

/// Converts `start_timestamp`/`end_timestamp` to unix seconds; `None` when either is unusable.
fn normalize_extracted_timestamps(span: &mut SpanV2) -> Option<()> {
    let start = span.get("start_timestamp").and_then(parse_timestamp)?;
    let end = span.get("end_timestamp").and_then(parse_timestamp)?;
    span.insert("start_timestamp".into(), seconds_value(start));
    span.insert("end_timestamp".into(), seconds_value(end));
    Some(())
}

/// The attributes every span of a transaction gets from the transaction (`sentry.segment.*`,
/// release, environment, SDK, platform, user, DSC).
fn transaction_attributes(
    context: &ProcessingContext,
    event: &EventObject,
    trace: &Map<String, Value>,
) -> Vec<(String, Value)> {
    let mut attributes = Vec::new();
    let mut add = |name: &str, value: Option<&Value>| {
        if let Some(attribute) = value.and_then(attribute_from_json) {
            attributes.push((name.to_owned(), attribute));
        }
    };
    add(ATTR_SEGMENT_ID, trace.get("span_id"));
    add("sentry.segment.name", event.get("transaction"));
    add("sentry.transaction", event.get("transaction"));
    add("sentry.transaction.op", trace.get("op"));
    add("sentry.trace.status", trace.get("status"));
    add("sentry.release", event.get("release"));
    add("sentry.environment", event.get("environment"));
    add("sentry.dist", event.get("dist"));
    add("sentry.platform", event.get("platform"));
    let sdk = event.get("sdk");
    add("sentry.sdk.name", sdk.and_then(|sdk| sdk.get("name")));
    add("sentry.sdk.version", sdk.and_then(|sdk| sdk.get("version")));
    let user = event.get("user");
    add("sentry.user.id", user.and_then(|user| user.get("id")));
    add("sentry.user.email", user.and_then(|user| user.get("email")));
    add(
        "sentry.user.username",
        user.and_then(|user| user.get("username")),
    );
    add(
        "sentry.user.ip",
        user.and_then(|user| user.get("ip_address")),
    );
    let geo = user.and_then(|user| user.get("geo"));
    for field in ["country_code", "city", "subdivision", "region"] {
        add(
            &format!("sentry.user.geo.{field}"),
            geo.and_then(|geo| geo.get(field)),
        );
    }
    let contexts = event.get("contexts");
    add(
        "sentry.browser.name",
        contexts
            .and_then(|c| c.get("browser"))
            .and_then(|b| b.get("name")),
    );
    add(
        "sentry.os.name",
        contexts
            .and_then(|c| c.get("os"))
            .and_then(|os| os.get("name")),
    );
    if let Some(dsc) = context.headers.dsc() {
        attributes.extend(dsc_attributes(dsc));
    }
    attributes
}

/// Fills `exclusive_time` (milliseconds) where it is missing: the span's duration minus the
/// time covered by its direct children (clipped to the span).
fn fill_exclusive_times(spans: &mut [Map<String, Value>]) {
    let interval = |span: &Map<String, Value>| -> Option<(f64, f64)> {
        let start = unix_seconds(span.get("start_timestamp").and_then(parse_timestamp)?);
        let end = unix_seconds(span.get("timestamp").and_then(parse_timestamp)?);
        Some((start, end))
    };
    let mut children: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for span in spans.iter() {
        let parent = span.get("parent_span_id").and_then(Value::as_str);
        if let (Some(parent), Some(interval)) = (parent, interval(span)) {
            children
                .entry(parent.to_owned())
                .or_default()
                .push(interval);
        }
    }
    for span in spans.iter_mut() {
        if span.get("exclusive_time").is_some_and(Value::is_number) {
            continue;
        }
        let Some((start, end)) = interval(span) else {
            continue;
        };
        let own_id = span
            .get("span_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut covered: Vec<(f64, f64)> = children
            .get(own_id)
            .map(|intervals| {
                intervals
                    .iter()
                    .map(|(child_start, child_end)| (child_start.max(start), child_end.min(end)))
                    .filter(|(child_start, child_end)| child_end > child_start)
                    .collect()
            })
            .unwrap_or_default();
        covered.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut covered_total = 0.0;
        let mut cursor = start;
        for (child_start, child_end) in covered {
            let from = child_start.max(cursor);
            if child_end > from {
                covered_total += child_end - from;
                cursor = child_end;
            }
        }
        let exclusive_ms =
            ((end - start - covered_total).max(0.0) * 1000.0 * 1000.0).round() / 1000.0;
        if let Some(number) = serde_json::Number::from_f64(exclusive_ms) {
            span.insert("exclusive_time".into(), Value::Number(number));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::services::metrics::BucketValue;
    use crate::services::processing::spans::tests::{
        assert_schema_fields, harness, now_seconds, TRACE_ID,
    };

    fn transaction() -> EventObject {
        let now = now_seconds();
        let value = json!({
            "type": "transaction", "transaction": "/users", "platform": "python", "release": "1.0",
            "environment": "prod", "sdk": {"name": "sentry.python", "version": "2.0.0"},
            "user": {"id": "u1", "geo": {"country_code": "AT"}},
            "start_timestamp": now - 2.0, "timestamp": now, "tags": [["t", "v"]],
            "measurements": {"lcp": {"value": 120.0}},
            "contexts": {"trace": {"trace_id": TRACE_ID, "span_id": "aaaaaaaaaaaaaaaa", "op": "http.server", "status": "ok"}},
            "spans": [
                {"span_id": "bbbbbbbbbbbbbbbb", "parent_span_id": "aaaaaaaaaaaaaaaa", "trace_id": TRACE_ID,
                 "op": "db", "description": "SELECT 1", "start_timestamp": now - 1.5, "timestamp": now - 0.5},
                {"span_id": "cccccccccccccccc", "parent_span_id": "aaaaaaaaaaaaaaaa", "op": "http.client",
                 "start_timestamp": now - 1.0},
                {"span_id": "nope", "op": "bad", "start_timestamp": now - 1.0, "timestamp": now}
            ]
        });
        match value {
            Value::Object(event) => event,
            _ => unreachable!(),
        }
    }

    #[test]
    fn transaction_spans_are_extracted() {
        let mut harness = harness("", &[]);
        let event_id = EventId::parse("9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a").unwrap();
        let handled = extract_from_transaction(
            &harness.context,
            &harness.managed,
            event_id,
            &transaction(),
            true,
            &mut harness.output,
        );
        assert!(handled);
        // The child with a broken span id is counted, not lost.
        harness.run(|_, _, _| {});
        assert_eq!(
            harness.outcome_reasons(),
            vec![("invalid_span".to_owned(), DataCategory::SpanIndexed, 1)]
        );
        let spans = harness.spans();
        assert_eq!(spans.len(), 3, "segment + two valid children");
        let segment = &spans[0];
        assert_schema_fields(segment);
        assert_eq!(segment["event_id"], "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a");
        assert_eq!(segment["_performance_issues_spans"], true);
        assert_eq!(segment["is_segment"], true);
        assert_eq!(segment["name"], "/users");
        assert_eq!(segment["span_id"], "aaaaaaaaaaaaaaaa");
        let attributes = &segment["attributes"];
        assert_eq!(attributes["sentry.op"]["value"], "http.server");
        assert_eq!(attributes["sentry.segment.name"]["value"], "/users");
        assert_eq!(attributes["sentry.segment.id"]["value"], "aaaaaaaaaaaaaaaa");
        assert_eq!(attributes["sentry.sdk.name"]["value"], "sentry.python");
        assert_eq!(attributes["sentry.platform"]["value"], "python");
        assert_eq!(attributes["sentry.relay.ingress"]["value"], "legacy");
        assert_eq!(attributes["sentry.relay.pipeline"]["value"], "transaction");
        assert_eq!(attributes["sentry.was_transaction"]["value"], true);
        assert_eq!(attributes["sentry.user.geo.country_code"]["value"], "AT");
        assert_eq!(attributes["sentry.dsc.trace_id"]["value"], TRACE_ID);
        assert_eq!(attributes["t"]["value"], "v");
        assert_eq!(attributes["lcp"]["value"], 120.0);
        // 2 s segment, children cover [-1.5, -0.5] and [-1.0, end]: 1.5 s covered.
        let exclusive = attributes["sentry.exclusive_time"]["value"]
            .as_f64()
            .unwrap();
        assert!((exclusive - 500.0).abs() < 1.0, "{exclusive}");

        let db = &spans[1];
        assert_eq!(db["name"], "db");
        assert_eq!(db["is_segment"], false);
        assert!(db.get("_performance_issues_spans").is_none());
        assert_eq!(db["event_id"], "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a");
        assert_eq!(db["attributes"]["sentry.description"]["value"], "SELECT 1");
        assert_eq!(
            db["attributes"]["sentry.segment.id"]["value"],
            "aaaaaaaaaaaaaaaa"
        );
        assert_eq!(db["attributes"]["sentry.release"]["value"], "1.0");
        // The span without end got the transaction's end.
        assert_eq!(spans[2]["end_timestamp"], segment["end_timestamp"]);
        assert_eq!(spans[2]["trace_id"], TRACE_ID);

        // Usage counts every span, the invalid one included.
        let mut buckets: Vec<_> = harness
            .output
            .buckets
            .iter()
            .map(|bucket| (bucket.bucket.tags.clone(), bucket.bucket.value.clone()))
            .collect();
        buckets.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].1, BucketValue::Counter(3.0));
        assert_eq!(
            buckets[0].0.get("is_segment").map(String::as_str),
            Some("false")
        );
        assert_eq!(buckets[1].1, BucketValue::Counter(1.0));
        assert_eq!(
            buckets[1].0.get("was_transaction").map(String::as_str),
            Some("true")
        );
    }
}
