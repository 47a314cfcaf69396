//! Trace metrics (`processing.md` §3.5): one `trace_metric` container per envelope becomes
//! one `TraceItem` of type METRIC per metric on `snuba-items` (§7.3.11).
//!
//! Requires `organizations:tracemetrics-ingestion`; without it the items are dropped
//! silently. A second container is a duplicate (`invalid`/`duplicate_item`).
//!
//! Entry shape: `{timestamp, trace_id, span_id?, name, type, unit?, value, attributes?}`.
//! Accounting like logs: `trace_metric` 1 and `trace_metric_byte` = the entry's JSON size per
//! metric; the counts also travel in the trace item's `outcomes`.
//!
//! Not done here (later stages): inbound filters, PII scrubbing, Redis quotas.

use chrono::Duration as ChronoDuration;
use relay_kafka::messages::{
    attributes_from_json, item_id_from_uuid, uuid_v7_at, AnyValue, CategoryCount, Outcomes,
    TraceItem, TraceItemMessage, TraceItemType,
};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::ItemType;
use relay_protocol::DataCategory;
use serde_json::{Map, Value};

use super::event::parse_timestamp;
use super::spans::{
    attribute_value, parse_container, retention_pair, sequence_nanos, unix_nanos, ContainerError,
    TimestampRules, TooOld,
};
use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};

/// Why a trace metric container, or one metric of it, is rejected;
/// `From<TraceMetricError> for DiscardReason` names the `invalid` reason of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TraceMetricError {
    /// The container is not valid JSON.
    #[error("invalid JSON")]
    InvalidJson,
    /// A container whose `item_count` does not match its items.
    #[error("trace metric container item count mismatch")]
    InvalidContainer,
    /// A metric that is not an object, or whose required field is missing or invalid.
    #[error("trace metric without a valid {0}")]
    InvalidField(&'static str),
    /// A metric older than the retention allows.
    #[error("trace metric timestamp out of range")]
    TooOld,
    /// A metric larger than `limits.max_trace_metric_size`.
    #[error("trace metric exceeds the size limit")]
    TooLarge,
}

impl From<TraceMetricError> for DiscardReason {
    fn from(error: TraceMetricError) -> DiscardReason {
        match error {
            TraceMetricError::InvalidJson => DiscardReason::InvalidJson,
            TraceMetricError::InvalidContainer | TraceMetricError::InvalidField(_) => {
                DiscardReason::InvalidTraceMetric
            }
            TraceMetricError::TooOld => DiscardReason::Timestamp,
            TraceMetricError::TooLarge => DiscardReason::too_large(ItemType::TraceMetric),
        }
    }
}

/// Feature gate of trace metrics.
const FEATURE_TRACE_METRICS: &str = "organizations:tracemetrics-ingestion";
/// Retention product key of trace metrics in `config.retentions`.
const RETENTION_PRODUCT: &str = "traceMetric";
/// Attribute holding the SDK's sample rate.
const ATTR_CLIENT_SAMPLE_RATE: &str = "sentry.client_sample_rate";
/// Prefix of the co-occurrence marker attributes.
const COOCCURRENCE_PREFIX: &str = "sentry._internal.cooccuring";

/// Runs the trace metric processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    if !context.has_feature(FEATURE_TRACE_METRICS) {
        // Without the feature, trace metrics are dropped silently (outcomes.md §8).
        managed.take_items_where(|item| *item.ty() == ItemType::TraceMetric);
        return;
    }
    let Some(item) = managed.take_first_where(
        |item| *item.ty() == ItemType::TraceMetric,
        Outcome::Invalid(DiscardReason::DuplicateItem),
    ) else {
        return;
    };
    let container = match parse_container(&item) {
        Ok(container) => container,
        Err(error) => {
            let error = match error {
                ContainerError::InvalidJson => TraceMetricError::InvalidJson,
                ContainerError::CountMismatch { .. } => TraceMetricError::InvalidContainer,
            };
            managed.track_item_outcome(&item, &Outcome::Invalid(error.into()));
            return;
        }
    };

    let retention = retention_pair(context, RETENTION_PRODUCT);
    let rules = TimestampRules::new(context, retention.0);
    let max_size = context.config.max_trace_metric_size().as_usize();
    for (metric, size) in container.entries {
        let size = size.max(1);
        let reject = |reason: DiscardReason| {
            let outcome = Outcome::Invalid(reason);
            managed.track(outcome.clone(), DataCategory::TraceMetric, 1);
            managed.track(outcome, DataCategory::TraceMetricByte, size);
        };
        if size > max_size {
            reject(TraceMetricError::TooLarge.into());
            continue;
        }
        let item = match build(context, &rules, retention, &metric, size) {
            Ok(item) => item,
            Err(error) => {
                reject(error.into());
                continue;
            }
        };
        if output
            .add_message(
                [
                    (DataCategory::TraceMetric, 1),
                    (DataCategory::TraceMetricByte, size),
                ],
                KafkaTopic::Items,
                &TraceItemMessage::new(item),
            )
            .is_err()
        {
            reject(DiscardReason::Internal);
        }
    }
}

/// Validates, normalizes (§3.2a) and converts one metric.
fn build(
    context: &ProcessingContext,
    rules: &TimestampRules,
    (retention_days, downsampled_retention_days): (u16, u16),
    metric: &Value,
    size: usize,
) -> Result<TraceItem, TraceMetricError> {
    let invalid = TraceMetricError::InvalidField;
    let metric = metric.as_object().ok_or(invalid("object"))?;
    let timestamp = metric
        .get("timestamp")
        .and_then(parse_timestamp)
        .ok_or(invalid("timestamp"))?;
    let trace_id = metric
        .get("trace_id")
        .and_then(Value::as_str)
        .and_then(|id| uuid::Uuid::try_parse(id).ok())
        .filter(|id| !id.is_nil())
        .ok_or(invalid("trace_id"))?
        .simple()
        .to_string();
    let name = metric
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or(invalid("name"))?;
    let kind = metric
        .get("type")
        .and_then(Value::as_str)
        .filter(|kind| !kind.is_empty())
        .ok_or(invalid("type"))?;
    let value = metric
        .get("value")
        .and_then(Value::as_f64)
        .filter(|value| value.is_finite())
        .ok_or(invalid("value"))?;
    let unit = metric
        .get("unit")
        .and_then(Value::as_str)
        .filter(|unit| !unit.is_empty());
    let span_id = metric
        .get("span_id")
        .and_then(Value::as_str)
        .filter(|id| id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let empty = Map::new();
    let json_attributes = metric
        .get("attributes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    let shift = rules
        .shift(timestamp)
        .map_err(|TooOld| TraceMetricError::TooOld)?;
    let mut timestamp = timestamp + shift;
    if let Some(nanos) = sequence_nanos(json_attributes) {
        timestamp += ChronoDuration::nanoseconds(nanos);
    }
    let client_sample_rate = attribute_value(json_attributes, ATTR_CLIENT_SAMPLE_RATE)
        .and_then(Value::as_f64)
        .filter(|rate| *rate > 0.0 && *rate <= 1.0)
        .unwrap_or(1.0);

    let mut attributes = attributes_from_json(json_attributes);
    attributes.insert("sentry.metric_name".into(), AnyValue::string(name));
    attributes.insert("sentry.metric_type".into(), AnyValue::string(kind));
    if let Some(unit) = unit {
        attributes.insert("sentry.metric_unit".into(), AnyValue::string(unit));
    }
    attributes.insert("sentry.value".into(), AnyValue::double(value));
    attributes.insert(
        "sentry.timestamp_precise".into(),
        AnyValue::int(unix_nanos(timestamp)),
    );
    if let Some(span_id) = span_id {
        attributes.insert(
            "sentry.span_id".into(),
            AnyValue::string(span_id.to_ascii_lowercase()),
        );
    }
    attributes.insert(
        "sentry.payload_size_bytes".into(),
        AnyValue::int(i64::try_from(size).unwrap_or(i64::MAX)),
    );
    let mut markers = vec![("name", name), ("type", kind)];
    if let Some(unit) = unit {
        markers.push(("unit", unit));
    }
    for (field, value) in markers {
        attributes.insert(
            format!("{COOCCURRENCE_PREFIX}.{field}.{value}"),
            AnyValue::bool(true),
        );
    }

    let size = u64::try_from(size).unwrap_or(u64::MAX);
    let category_count = [
        (DataCategory::TraceMetric, 1),
        (DataCategory::TraceMetricByte, size),
    ]
    .into_iter()
    .filter_map(|(category, quantity)| CategoryCount::new(category, quantity))
    .collect();
    Ok(TraceItem {
        organization_id: context.organization_id(),
        project_id: context.project_id().0,
        trace_id,
        item_id: item_id_from_uuid(uuid_v7_at(timestamp)).to_vec(),
        item_type: TraceItemType::Metric as i32,
        timestamp: Some(timestamp.into()),
        attributes,
        client_sample_rate,
        server_sample_rate: 1.0,
        retention_days: u32::from(retention_days),
        received: Some(context.received_at.into()),
        downsampled_retention_days: u32::from(downsampled_retention_days),
        outcomes: Some(Outcomes {
            category_count,
            key_id: context.key_id().unwrap_or(0),
        }),
    })
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use relay_kafka::messages::any_value::Value as Any;

    use super::*;
    use crate::services::processing::spans::tests::{harness, now_seconds};

    fn container(metrics: &[Value]) -> String {
        let payload = serde_json::json!({ "items": metrics }).to_string();
        format!(
            "{{\"type\":\"trace_metric\",\"content_type\":\"application/vnd.sentry.items.trace-metric+json\",\"item_count\":{},\"length\":{}}}\n{}\n",
            metrics.len(),
            payload.len(),
            payload
        )
    }

    fn metric() -> Value {
        serde_json::json!({
            "timestamp": now_seconds(), "trace_id": "5b8efff798038103d269b633813fc60c",
            "name": "api.requests", "type": "counter", "unit": "none", "value": 2,
            "attributes": {"sentry.client_sample_rate": {"type": "double", "value": 0.5}}
        })
    }

    #[test]
    fn metrics_become_trace_items() {
        let mut harness = harness(
            &container(&[metric()]),
            &["organizations:tracemetrics-ingestion"],
        );
        harness.run(process);
        let payloads = harness.messages(KafkaTopic::Items);
        assert_eq!(payloads.len(), 1);
        let item = TraceItem::decode(payloads[0].as_slice()).unwrap();
        assert_eq!(item.item_type, TraceItemType::Metric as i32);
        assert_eq!(item.client_sample_rate, 0.5);
        assert_eq!(
            item.attributes["sentry.value"].value,
            Some(Any::DoubleValue(2.0))
        );
        assert_eq!(
            item.attributes["sentry.metric_name"].value,
            Some(Any::StringValue("api.requests".into()))
        );
        assert_eq!(
            item.attributes["sentry._internal.cooccuring.type.counter"].value,
            Some(Any::BoolValue(true))
        );
        assert!(item
            .attributes
            .contains_key("sentry._internal.cooccuring.unit.none"));
        assert_eq!(item.outcomes.unwrap().category_count[0].data_category, 33);
        // Trace metrics have no `retentions` entry in the test project: event retention.
        assert_eq!(
            (item.retention_days, item.downsampled_retention_days),
            (90, 390)
        );
    }

    #[test]
    fn feature_gate_and_validation() {
        let mut harness_off = harness(&container(&[metric()]), &[]);
        harness_off.run(process);
        assert!(harness_off.messages(KafkaTopic::Items).is_empty());
        assert!(harness_off.outcomes().is_empty());

        let mut no_name = metric();
        no_name.as_object_mut().unwrap().remove("name");
        let mut harness = harness(
            &container(&[no_name]),
            &["organizations:tracemetrics-ingestion"],
        );
        harness.run(process);
        assert!(harness.messages(KafkaTopic::Items).is_empty());
        assert!(harness.outcome_reasons().contains(&(
            "invalid_trace_metric".to_owned(),
            DataCategory::TraceMetric,
            1
        )));
    }

    #[test]
    fn rejection_reasons() {
        let reason = |error: TraceMetricError| DiscardReason::from(error).to_string();
        assert_eq!(reason(TraceMetricError::InvalidJson), "invalid_json");
        assert_eq!(
            reason(TraceMetricError::InvalidContainer),
            "invalid_trace_metric"
        );
        assert_eq!(
            reason(TraceMetricError::InvalidField("name")),
            "invalid_trace_metric"
        );
        assert_eq!(reason(TraceMetricError::TooOld), "timestamp");
        assert_eq!(reason(TraceMetricError::TooLarge), "too_large:trace_metric");
    }
}
