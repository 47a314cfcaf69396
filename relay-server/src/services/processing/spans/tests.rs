//! Span processor tests, plus the harness the other span-like processors' tests share:
//! an envelope of a fixed project (org 1, project 42, key id 123, event retention 90 /
//! downsampled 390, `retentions.log` 30/390, `retentions.span` 42) run through one
//! processor, with the outcomes it tracked and the messages it produced.
//!
//! The tests of single stages live next to their code; these cover the processor as a
//! whole (source selection, DSC, duplicates, timestamps, span attachments).

use relay_config::Config;
use serde_json::json;
use tokio::sync::mpsc::Receiver;

use chrono::Utc;

use super::*;
use crate::outcome::TrackOutcome;
use crate::services::metrics::BucketValue;
use crate::testutils::{drain_outcomes, processing_context, TestEnvelope, TestProject};

pub const PUBLIC_KEY: &str = crate::testutils::PROJECT_KEY;
pub const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

/// Now as unix seconds.
pub fn now_seconds() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1_000_000.0
}

/// A processor under test.
pub struct Harness {
    pub context: ProcessingContext,
    pub managed: ManagedEnvelope,
    receiver: Receiver<TrackOutcome>,
    pub output: ProcessingOutput,
    outcomes: Vec<TrackOutcome>,
}

/// Envelope headers with a DSC for [`TRACE_ID`].
pub fn default_headers() -> Value {
    json!({"trace": {"trace_id": TRACE_ID, "public_key": PUBLIC_KEY}})
}

/// A harness for `items` (serialized envelope items) with the given project features.
pub fn harness(items: &str, features: &[&str]) -> Harness {
    harness_with(items, features, default_headers())
}

/// [`harness`] with explicit envelope headers.
pub fn harness_with(items: &str, features: &[&str], headers: Value) -> Harness {
    let project = TestProject::new()
        .organization_id(1)
        .key_id(123)
        .features(features)
        .event_retention(90)
        .config("downsampledEventRetention", 390)
        .config(
            "retentions",
            json!({"log": {"standard": 30, "downsampled": 390}, "span": {"standard": 42}}),
        );
    let (managed, receiver) = TestEnvelope::parse(&format!("{headers}\n{items}"))
        .scoping(project.scoping())
        .capturing();
    let context = processing_context(Config::default(), project.build(), &managed);
    Harness {
        context,
        managed,
        receiver,
        output: ProcessingOutput::default(),
        outcomes: Vec::new(),
    }
}

impl Harness {
    /// Runs a processor and collects its outcomes.
    pub fn run(
        &mut self,
        processor: fn(&ProcessingContext, &mut ManagedEnvelope, &mut ProcessingOutput),
    ) {
        processor(&self.context, &mut self.managed, &mut self.output);
        self.outcomes.extend(drain_outcomes(&mut self.receiver));
    }

    /// The payloads produced to `topic`, in order.
    pub fn messages(&self, topic: KafkaTopic) -> Vec<Vec<u8>> {
        self.output
            .requests
            .iter()
            .flat_map(|request| request.messages.iter())
            .filter(|(message_topic, _)| *message_topic == topic)
            .map(|(_, message)| message.payload.clone())
            .collect()
    }

    /// The span messages as JSON.
    pub fn spans(&self) -> Vec<Value> {
        self.messages(KafkaTopic::Spans)
            .iter()
            .map(|payload| serde_json::from_slice(payload).expect("span JSON"))
            .collect()
    }

    pub fn outcomes(&self) -> &[TrackOutcome] {
        &self.outcomes
    }

    /// (reason, category, quantity) of the `invalid` outcomes.
    pub fn outcome_reasons(&self) -> Vec<(String, DataCategory, usize)> {
        self.outcomes
            .iter()
            .map(|tracked| {
                let reason = match &tracked.outcome {
                    Outcome::Invalid(reason) => reason.to_string(),
                    other => format!("{other:?}"),
                };
                (reason, tracked.category, tracked.quantity as usize)
            })
            .collect()
    }

    pub fn remaining_items(&self) -> usize {
        self.managed.envelope().len()
    }

    pub fn envelope_is_empty(&self) -> bool {
        self.managed.envelope().is_empty()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // An empty envelope satisfies the drop guard; leftovers are the test's business
        // (`remaining_items`).
        self.managed.envelope_mut().take_items();
    }
}

pub fn container_item(spans: &[Value]) -> String {
    let payload = json!({ "items": spans }).to_string();
    format!(
        "{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":{},\"length\":{}}}\n{}\n",
        spans.len(),
        payload.len(),
        payload
    )
}

pub fn legacy_item(span: &Value) -> String {
    let payload = span.to_string();
    format!(
        "{{\"type\":\"span\",\"length\":{}}}\n{}\n",
        payload.len(),
        payload
    )
}

pub fn v2_span(span_id: &str) -> Value {
    let now = now_seconds();
    json!({
        "trace_id": TRACE_ID, "span_id": span_id, "name": "GET /users", "status": "ok",
        "is_segment": true, "start_timestamp": now - 1.0, "end_timestamp": now,
        "attributes": {"sentry.op": {"type": "string", "value": "http.server"}}
    })
}

pub fn assert_schema_fields(span: &Value) {
    for key in [
        "organization_id",
        "project_id",
        "received",
        "retention_days",
        "span_id",
        "start_timestamp",
        "end_timestamp",
        "trace_id",
        "name",
        "status",
    ] {
        assert!(span.get(key).is_some(), "missing {key} in {span}");
    }
}

#[test]
fn container_spans_are_produced_with_relay_attributes() {
    let mut harness = harness(
        &container_item(&[v2_span("eee19b7ec3c1b175"), v2_span("aaaaaaaaaaaaaaaa")]),
        &[],
    );
    harness.run(process);
    let spans = harness.spans();
    assert_eq!(spans.len(), 2);
    let span = &spans[0];
    assert_schema_fields(span);
    assert_eq!(span["organization_id"], 1);
    assert_eq!(span["project_id"], 42);
    assert_eq!(span["key_id"], 123);
    assert_eq!(span["retention_days"], 42);
    assert_eq!(span["downsampled_retention_days"], 42);
    assert_eq!(span["name"], "GET /users");
    assert!(span.get("event_id").is_none());
    let attributes = &span["attributes"];
    assert_eq!(attributes["sentry.relay.ingress"]["value"], "container");
    assert_eq!(attributes["sentry.relay.pipeline"]["value"], "span_v2");
    assert_eq!(
        attributes["sentry.observed_timestamp_nanos"]["type"],
        "string"
    );
    assert_eq!(attributes["sentry.dsc.trace_id"]["value"], TRACE_ID);
    assert_eq!(attributes["sentry.dsc.public_key"]["value"], PUBLIC_KEY);
    assert!(harness.outcomes().is_empty());
    assert!(harness.envelope_is_empty());
    // Each span is its own request accounting for `span_indexed`.
    assert_eq!(harness.output.requests.len(), 2);
    assert_eq!(
        harness.output.requests[0].quantities.as_slice(),
        &[(DataCategory::SpanIndexed, 1)]
    );
    // Usage: one bucket for the two segments.
    assert_eq!(harness.output.buckets.len(), 1);
    let bucket = &harness.output.buckets[0].bucket;
    assert_eq!(bucket.name, "c:spans/usage@none");
    assert_eq!(bucket.value, BucketValue::Counter(2.0));
    assert_eq!(
        bucket.tags.get("is_segment").map(String::as_str),
        Some("true")
    );
    assert!(!bucket.tags.contains_key("was_transaction"));
}

#[test]
fn dsc_is_required_and_must_match() {
    let span = v2_span("eee19b7ec3c1b175");
    let mut missing = harness_with(&container_item(std::slice::from_ref(&span)), &[], json!({}));
    missing.run(process);
    assert!(missing.spans().is_empty());
    assert!(missing
        .outcome_reasons()
        .contains(&("missing_dsc".to_owned(), DataCategory::Span, 1)));
    assert!(missing.outcome_reasons().contains(&(
        "missing_dsc".to_owned(),
        DataCategory::SpanIndexed,
        1
    )));

    let mut other_trace = span;
    other_trace["trace_id"] = json!("ff62a8b040f340bda5d830223def1d81");
    let mut mismatch = harness(&container_item(&[other_trace]), &[]);
    mismatch.run(process);
    assert!(mismatch.spans().is_empty());
    assert!(mismatch.outcome_reasons().contains(&(
        "invalid_dsc".to_owned(),
        DataCategory::Span,
        1
    )));

    // An envelope sent by a relay needs no DSC.
    let mut relay = harness_with(
        &container_item(&[v2_span("eee19b7ec3c1b175")]),
        &[],
        json!({"client": "Relay/1.0"}),
    );
    relay.run(process);
    assert_eq!(relay.spans().len(), 1);
}

#[test]
fn duplicates_invalid_ids_and_segment_ids() {
    let mut first = v2_span("eee19b7ec3c1b175");
    first["name"] = json!("first");
    let mut second = v2_span("eee19b7ec3c1b175");
    second["name"] = json!("second");
    let mut no_id = v2_span("x");
    no_id.as_object_mut().unwrap().remove("span_id");
    let mut bad_segment = v2_span("bbbbbbbbbbbbbbbb");
    bad_segment["attributes"]["sentry.segment.id"] = json!({"type": "string", "value": "nope"});
    let mut harness = harness(&container_item(&[first, second, no_id, bad_segment]), &[]);
    harness.run(process);
    let spans = harness.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0]["name"], "second");
    let reasons = harness.outcome_reasons();
    assert!(reasons.contains(&("duplicate".to_owned(), DataCategory::Span, 1)));
    assert_eq!(
        reasons
            .iter()
            .filter(|(reason, ..)| reason == "invalid_span")
            .count(),
        4
    );
}

#[test]
fn timestamps_follow_the_span_like_rules() {
    let now = now_seconds();
    let mut future = v2_span("eee19b7ec3c1b175");
    future["start_timestamp"] = json!(now + 3599.0);
    future["end_timestamp"] = json!(now + 3600.0);
    let mut old = v2_span("aaaaaaaaaaaaaaaa");
    old["start_timestamp"] = json!(now - 50.0 * 86_400.0);
    old["end_timestamp"] = json!(now - 50.0 * 86_400.0);
    let mut harness = harness(&container_item(&[future, old]), &[]);
    harness.run(process);
    let spans = harness.spans();
    assert_eq!(spans.len(), 1);
    let end = spans[0]["end_timestamp"].as_f64().unwrap();
    let start = spans[0]["start_timestamp"].as_f64().unwrap();
    assert!((end - now).abs() < 5.0);
    assert!((end - start - 1.0).abs() < 0.001);
    assert!(harness
        .outcome_reasons()
        .contains(&("timestamp".to_owned(), DataCategory::Span, 1)));
}

#[test]
fn span_attachments_need_the_feature() {
    let item = "{\"type\":\"attachment\",\"content_type\":\"application/vnd.sentry.trace-attachment\",\"span_id\":\"eee19b7ec3c1b175\",\"length\":3}\nabc\n";
    let mut off = harness(item, &[]);
    off.run(process);
    assert!(off.envelope_is_empty());
    assert!(off.outcomes().is_empty());
    let mut on = harness(item, &["projects:span-v2-attachment-processing"]);
    on.run(process);
    assert!(on.outcome_reasons().contains(&(
        "upload_failed".to_owned(),
        DataCategory::AttachmentItem,
        1
    )));
}

#[test]
fn rejection_reasons() {
    let reason = |error: SpanError| DiscardReason::from(error).to_string();
    assert_eq!(reason(SpanError::InvalidJson), "invalid_json");
    assert_eq!(reason(SpanError::InvalidProto), "invalid_proto");
    for error in [
        SpanError::InvalidContainer,
        SpanError::NotAnObject,
        SpanError::InvalidIds,
        SpanError::MissingTimestamps,
        SpanError::InvalidSegmentId,
        SpanError::InvalidTransactionSpan,
    ] {
        assert_eq!(reason(error), "invalid_span");
    }
    assert_eq!(reason(SpanError::TooOld), "timestamp");
    assert_eq!(reason(SpanError::DuplicateSpanId), "duplicate");
    assert_eq!(reason(SpanError::MissingDsc), "missing_dsc");
    assert_eq!(reason(SpanError::DscMismatch), "invalid_dsc");
}
