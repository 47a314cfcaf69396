//! Logs (`processing.md` §3.4): one `log` container or one log integration item (OTLP logs,
//! Vercel log drain, NEL reports) per envelope becomes one `TraceItem` of type LOG per log on
//! `snuba-items` (§7.3.11).
//!
//! Requires `organizations:ourlogs-ingestion`; without it every log item is dropped silently.
//! A second log item is a duplicate (`invalid`/`duplicate_item`).
//!
//! Accounting: each log counts `log_item` 1 and `log_byte` = its size (the JSON size of the
//! entry, at least 1). A rejected log gets outcomes for both; a stored log's request carries
//! both (outcomes only if producing fails). No accepted outcome is emitted: the counts travel
//! inside the trace item (`outcomes` field) instead.
//!
//! Integration payloads are converted into the log container's entry shape first
//! (`timestamp`, `trace_id`, `span_id`, `level`, `body`, `attributes`), so one pipeline
//! handles them all. Integration logs without a trace id get a random one (OTLP and NEL
//! records often have none); container logs must carry theirs.
//!
//! Not done here (later stages): inbound filters, PII scrubbing, Redis quotas.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use relay_kafka::messages::{
    attributes_from_json, item_id_from_uuid, uuid_v7_at, AnyValue, CategoryCount, Outcomes,
    TraceItem, TraceItemMessage, TraceItemType,
};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::{ContentType, Item, ItemType};
use relay_protocol::DataCategory;
use serde_json::{Map, Value};

use super::event::parse_timestamp;
use super::spans::{
    otlp, parse_browser, parse_container, retention_pair, sequence_nanos, string_attribute,
    unix_nanos, ContainerError, TimestampRules, TooOld, ATTR_OBSERVED_NANOS,
};
use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};
use crate::services::projects::state::OURLOGS_INGESTION_FEATURE;

/// Why a log item, or one log of it, is rejected; `From<LogError> for DiscardReason` names the
/// `invalid` reason of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The item (container, OTLP JSON, Vercel, NEL) is not valid JSON.
    #[error("invalid JSON")]
    InvalidJson,
    /// An OTLP protobuf payload that does not decode.
    #[error("invalid OTLP protobuf")]
    InvalidProto,
    /// A log container whose `item_count` does not match its items.
    #[error("log container item count mismatch")]
    InvalidContainer,
    /// A log that is not an object, or whose required field is missing or invalid.
    #[error("log without a valid {0}")]
    InvalidField(&'static str),
    /// A log older than the retention allows.
    #[error("log timestamp out of range")]
    TooOld,
    /// A log larger than `limits.max_log_size`.
    #[error("log exceeds the size limit")]
    TooLarge,
}

impl From<LogError> for DiscardReason {
    fn from(error: LogError) -> DiscardReason {
        match error {
            LogError::InvalidJson => DiscardReason::InvalidJson,
            LogError::InvalidProto => DiscardReason::InvalidProto,
            LogError::InvalidContainer | LogError::InvalidField(_) => DiscardReason::InvalidLog,
            LogError::TooOld => DiscardReason::Timestamp,
            LogError::TooLarge => DiscardReason::too_large(ItemType::Log),
        }
    }
}

/// Retention product key of logs in `config.retentions`.
const LOG_RETENTION_PRODUCT: &str = "log";

/// Where the logs of an envelope come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LogSource {
    Container,
    OtlpJson,
    OtlpProtobuf,
    VercelJson,
    VercelNdjson,
    Nel,
}

impl LogSource {
    fn of(item: &Item) -> Option<LogSource> {
        match item.ty() {
            ItemType::Log => Some(LogSource::Container),
            ItemType::Integration => match item.content_type()? {
                ContentType::OtelLogsJson => Some(LogSource::OtlpJson),
                ContentType::OtelLogsProtobuf => Some(LogSource::OtlpProtobuf),
                ContentType::VercelLogsJson => Some(LogSource::VercelJson),
                ContentType::VercelLogsNdjson => Some(LogSource::VercelNdjson),
                ContentType::IntegrationNel => Some(LogSource::Nel),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value of `sentry.relay.ingress`.
    fn ingress(self) -> &'static str {
        match self {
            LogSource::Container => "container",
            LogSource::OtlpJson | LogSource::OtlpProtobuf => "otlp",
            LogSource::VercelJson | LogSource::VercelNdjson => "vercel",
            LogSource::Nel => "nel",
        }
    }
}

/// One log in the container entry shape, with its size in bytes.
type SizedLog = (Value, usize);

/// Runs the log processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    if !context.has_feature(OURLOGS_INGESTION_FEATURE) {
        // Without the feature, logs are dropped silently (outcomes.md §3.4).
        managed.take_items_where(|item| LogSource::of(item).is_some());
        return;
    }
    let Some(item) = managed.take_first_where(
        |item| LogSource::of(item).is_some(),
        Outcome::Invalid(DiscardReason::DuplicateItem),
    ) else {
        return;
    };
    let Some(source) = LogSource::of(&item) else {
        return;
    };
    let logs = match expand(&item, source, context.received_at) {
        Ok(logs) => logs,
        Err(error) => {
            managed.track_item_outcome(&item, &Outcome::Invalid(error.into()));
            return;
        }
    };

    let builder = LogBuilder::new(context, source);
    let max_size = context.config.max_log_size().as_usize();
    for (log, size) in logs {
        let size = size.max(1);
        let reject = |reason: DiscardReason| {
            let outcome = Outcome::Invalid(reason);
            managed.track(outcome.clone(), DataCategory::LogItem, 1);
            managed.track(outcome, DataCategory::LogByte, size);
        };
        if size > max_size {
            reject(LogError::TooLarge.into());
            continue;
        }
        let item = match builder.build(&log, size) {
            Ok(item) => item,
            Err(error) => {
                reject(error.into());
                continue;
            }
        };
        if output
            .add_message(
                [(DataCategory::LogItem, 1), (DataCategory::LogByte, size)],
                KafkaTopic::Items,
                &TraceItemMessage::new(item),
            )
            .is_err()
        {
            reject(DiscardReason::Internal);
        }
    }
}

/// Expands an item into logs of the container entry shape.
fn expand(
    item: &Item,
    source: LogSource,
    received: DateTime<Utc>,
) -> Result<Vec<SizedLog>, LogError> {
    let payload = item.payload_slice();
    match source {
        LogSource::Container => {
            let container = parse_container(item).map_err(|error| match error {
                ContainerError::InvalidJson => LogError::InvalidJson,
                ContainerError::CountMismatch { .. } => LogError::InvalidContainer,
            })?;
            Ok(container.entries)
        }
        LogSource::OtlpJson | LogSource::OtlpProtobuf => {
            let request = if source == LogSource::OtlpProtobuf {
                otlp::decode_logs_protobuf(payload).map_err(|_| LogError::InvalidProto)?
            } else {
                serde_json::from_slice(payload).map_err(|_| LogError::InvalidJson)?
            };
            Ok(sized(otlp_logs(&request)))
        }
        LogSource::VercelJson => {
            let entries: Vec<Value> =
                serde_json::from_slice(payload).map_err(|_| LogError::InvalidJson)?;
            Ok(sized(entries.iter().filter_map(vercel_log).collect()))
        }
        LogSource::VercelNdjson => {
            let mut logs = Vec::new();
            for line in payload.split(|byte| *byte == b'\n') {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let entry: Value =
                    serde_json::from_slice(line).map_err(|_| LogError::InvalidJson)?;
                logs.extend(vercel_log(&entry));
            }
            Ok(sized(logs))
        }
        LogSource::Nel => {
            let reports: Vec<Value> =
                serde_json::from_slice(payload).map_err(|_| LogError::InvalidJson)?;
            Ok(sized(
                reports
                    .iter()
                    .filter_map(|report| nel_log(report, received))
                    .collect(),
            ))
        }
    }
}

fn sized(logs: Vec<Value>) -> Vec<SizedLog> {
    logs.into_iter()
        .map(|log| {
            let size = serde_json::to_vec(&log).map_or(0, |bytes| bytes.len());
            (log, size)
        })
        .collect()
}

/// Builds the trace items of one envelope's logs.
struct LogBuilder<'a> {
    context: &'a ProcessingContext,
    source: LogSource,
    rules: TimestampRules,
    retention: (u16, u16),
}

impl<'a> LogBuilder<'a> {
    fn new(context: &'a ProcessingContext, source: LogSource) -> Self {
        let retention = retention_pair(context, LOG_RETENTION_PRODUCT);
        LogBuilder {
            context,
            source,
            rules: TimestampRules::new(context, retention.0),
            retention,
        }
    }

    /// Validates, normalizes (§3.2a, user agent) and converts one log.
    fn build(&self, log: &Value, size: usize) -> Result<TraceItem, LogError> {
        let invalid = LogError::InvalidField;
        let log = log.as_object().ok_or(invalid("object"))?;
        let timestamp = log
            .get("timestamp")
            .and_then(parse_timestamp)
            .ok_or(invalid("timestamp"))?;
        let trace_id = match log.get("trace_id") {
            Some(id) => normalize_trace_id(id).ok_or(invalid("trace_id"))?,
            None if self.source != LogSource::Container => {
                uuid::Uuid::new_v4().simple().to_string()
            }
            None => return Err(invalid("trace_id")),
        };
        let level = log
            .get("level")
            .and_then(Value::as_str)
            .ok_or(invalid("level"))?;
        let body = match log.get("body") {
            Some(Value::String(body)) => body.clone(),
            _ => return Err(invalid("body")),
        };
        let span_id = log
            .get("span_id")
            .and_then(Value::as_str)
            .filter(|id| id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase);
        let empty = Map::new();
        let json_attributes = log
            .get("attributes")
            .and_then(Value::as_object)
            .unwrap_or(&empty);

        let shift = self
            .rules
            .shift(timestamp)
            .map_err(|TooOld| LogError::TooOld)?;
        let mut timestamp = timestamp + shift;
        if let Some(nanos) = sequence_nanos(json_attributes) {
            timestamp += ChronoDuration::nanoseconds(nanos);
        }

        let mut attributes = attributes_from_json(json_attributes);
        attributes.insert("sentry.body".into(), AnyValue::string(body));
        attributes.insert("sentry.severity_text".into(), AnyValue::string(level));
        if let Some(severity) = log.get("severity_number").and_then(Value::as_i64) {
            attributes.insert("sentry.severity_number".into(), AnyValue::int(severity));
        }
        if let Some(span_id) = span_id {
            attributes.insert("sentry.span_id".into(), AnyValue::string(span_id));
        }
        attributes.insert(
            "sentry.timestamp_precise".into(),
            AnyValue::int(unix_nanos(timestamp)),
        );
        attributes.insert(
            "sentry.payload_size_bytes".into(),
            AnyValue::int(i64::try_from(size).unwrap_or(i64::MAX)),
        );
        attributes
            .entry(ATTR_OBSERVED_NANOS.into())
            .or_insert_with(|| AnyValue::string(unix_nanos(self.context.received_at).to_string()));
        attributes.insert(
            "sentry.relay.ingress".into(),
            AnyValue::string(self.source.ingress()),
        );
        self.add_user_agent(&mut attributes);

        let (retention_days, downsampled_retention_days) = self.retention;
        let key_id = self.context.key_id().unwrap_or(0);
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        let category_count = [(DataCategory::LogItem, 1), (DataCategory::LogByte, size)]
            .into_iter()
            .filter_map(|(category, quantity)| CategoryCount::new(category, quantity))
            .collect();
        Ok(TraceItem {
            organization_id: self.context.organization_id(),
            project_id: self.context.project_id().0,
            trace_id,
            item_id: item_id_from_uuid(uuid_v7_at(timestamp)).to_vec(),
            item_type: TraceItemType::Log as i32,
            timestamp: Some(timestamp.into()),
            attributes,
            client_sample_rate: 1.0,
            server_sample_rate: 1.0,
            retention_days: u32::from(retention_days),
            received: Some(self.context.received_at.into()),
            downsampled_retention_days: u32::from(downsampled_retention_days),
            outcomes: Some(Outcomes {
                category_count,
                key_id,
            }),
        })
    }

    /// `browser.name`, `browser.version`, `user_agent.original` from the log's own
    /// `user_agent.original` or the request's user agent, when it is a browser.
    fn add_user_agent(&self, attributes: &mut BTreeMap<String, AnyValue>) {
        if attributes.contains_key("browser.name") {
            return;
        }
        let own = attributes
            .get("user_agent.original")
            .and_then(|value| match &value.value {
                Some(relay_kafka::messages::any_value::Value::StringValue(text)) => {
                    Some(text.clone())
                }
                _ => None,
            });
        let Some(user_agent) = own.or_else(|| self.context.headers.user_agent.clone()) else {
            return;
        };
        if let Some((name, version)) = parse_browser(&user_agent) {
            attributes.insert("browser.name".into(), AnyValue::string(name));
            if let Some(version) = version {
                attributes.insert("browser.version".into(), AnyValue::string(version));
            }
            attributes
                .entry("user_agent.original".into())
                .or_insert_with(|| AnyValue::string(user_agent));
        }
    }
}

/// 32 hex digits (lowercased) or a hyphenated UUID; the nil id is invalid.
fn normalize_trace_id(value: &Value) -> Option<String> {
    let uuid = uuid::Uuid::try_parse(value.as_str()?).ok()?;
    (!uuid.is_nil()).then(|| uuid.simple().to_string())
}

/// A log entry of the container shape.
fn log_entry(
    timestamp: f64,
    trace_id: Option<&str>,
    span_id: Option<&str>,
    level: &str,
    body: String,
    attributes: Map<String, Value>,
) -> Value {
    let mut log = Map::new();
    log.insert(
        "timestamp".into(),
        serde_json::Number::from_f64(timestamp).map_or(Value::Null, Value::Number),
    );
    if let Some(trace_id) = trace_id.filter(|id| !id.is_empty()) {
        log.insert("trace_id".into(), Value::String(trace_id.to_owned()));
    }
    if let Some(span_id) = span_id.filter(|id| !id.is_empty()) {
        log.insert("span_id".into(), Value::String(span_id.to_owned()));
    }
    log.insert("level".into(), Value::String(level.to_owned()));
    log.insert("body".into(), Value::String(body));
    log.insert("attributes".into(), Value::Object(attributes));
    Value::Object(log)
}

/// OTLP severity number → Sentry log level (OTLP log data model ranges of four).
fn level_from_severity(severity: u64) -> &'static str {
    match severity {
        1..=4 => "trace",
        5..=8 => "debug",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "info",
    }
}

/// The logs of an OTLP/JSON `ExportLogsServiceRequest`: time (or observed time), ids,
/// level from the severity number (else the severity text), the body as text, resource +
/// scope + record attributes.
fn otlp_logs(request: &Value) -> Vec<Value> {
    otlp::records(request, "resourceLogs", "scopeLogs", "logRecords")
        .into_iter()
        .map(|(mut attributes, record)| {
            let timestamp = otlp::nanos_to_seconds(record.get("timeUnixNano"))
                .filter(|seconds| *seconds > 0.0)
                .or_else(|| otlp::nanos_to_seconds(record.get("observedTimeUnixNano")))
                .unwrap_or(0.0);
            let severity = record
                .get("severityNumber")
                .and_then(|severity| match severity {
                    Value::Number(number) => number.as_u64(),
                    Value::String(text) => severity_from_name(text),
                    _ => None,
                });
            let level = match severity.filter(|severity| *severity > 0) {
                Some(severity) => level_from_severity(severity).to_owned(),
                None => record
                    .get("severityText")
                    .and_then(Value::as_str)
                    .map(|text| normalize_level(&text.to_ascii_lowercase()))
                    .unwrap_or_else(|| "info".to_owned()),
            };
            let body = match record.get("body").map(otlp::plain_value) {
                Some(Value::String(text)) => text,
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            };
            otlp::collect_attributes(record.get("attributes"), &mut attributes);
            if let Some(severity) = severity {
                attributes.insert(
                    "sentry.severity_number".into(),
                    super::spans::typed_attribute("integer", Value::from(severity)),
                );
            }
            let trace_id = record.get("traceId").and_then(Value::as_str);
            let span_id = record.get("spanId").and_then(Value::as_str);
            let mut log = log_entry(timestamp, trace_id, span_id, &level, body, attributes);
            if let (Some(severity), Value::Object(log)) = (severity, &mut log) {
                log.insert("severity_number".into(), Value::from(severity));
            }
            log
        })
        .collect()
}

/// `SEVERITY_NUMBER_INFO` etc. (OTLP/JSON may write enums by name).
fn severity_from_name(name: &str) -> Option<u64> {
    let base = [
        ("TRACE", 1),
        ("DEBUG", 5),
        ("INFO", 9),
        ("WARN", 13),
        ("ERROR", 17),
        ("FATAL", 21),
    ];
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    base.iter().find_map(|(prefix, first)| {
        let suffix = rest.strip_prefix(prefix)?;
        let offset = if suffix.is_empty() {
            0
        } else {
            suffix.parse::<u64>().ok()?.checked_sub(1)?
        };
        Some(first + offset)
    })
}

/// Common level spellings → Sentry log levels.
fn normalize_level(level: &str) -> String {
    match level {
        "warning" => "warn".to_owned(),
        "critical" => "fatal".to_owned(),
        "" => "info".to_owned(),
        other => other.to_owned(),
    }
}

/// `camelCase` → `snake_case`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Flattens an object into `prefix.key` attributes (nested objects joined with `.`).
fn flatten_into(prefix: &str, object: &Map<String, Value>, attributes: &mut Map<String, Value>) {
    for (key, value) in object {
        let name = format!("{prefix}.{}", snake_case(key));
        match value {
            Value::Object(nested) => flatten_into(&name, nested, attributes),
            other => {
                if let Some(attribute) = super::spans::attribute_from_json(other) {
                    attributes.insert(name, attribute);
                }
            }
        }
    }
}

/// One Vercel log drain entry: `timestamp` (ms), `level`, `message`, `traceId`/`spanId`;
/// every other field becomes a `vercel.<snake_case>` attribute.
fn vercel_log(entry: &Value) -> Option<Value> {
    let entry = entry.as_object()?;
    let timestamp = entry.get("timestamp").and_then(Value::as_f64)? / 1000.0;
    let level = normalize_level(entry.get("level").and_then(Value::as_str).unwrap_or("info"));
    let body = entry
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut rest = entry.clone();
    for key in ["timestamp", "level", "message", "traceId", "spanId"] {
        rest.remove(key);
    }
    let mut attributes = Map::new();
    attributes.insert(
        "sentry.origin".into(),
        string_attribute("auto.log_drain.vercel"),
    );
    flatten_into("vercel", &rest, &mut attributes);
    Some(log_entry(
        timestamp,
        entry.get("traceId").and_then(Value::as_str),
        entry.get("spanId").and_then(Value::as_str),
        &level,
        body,
        attributes,
    ))
}

/// One NEL report (`{age, type, url, user_agent, body: {type, phase, …}}`): a log at
/// `received − age` whose body is the error type, level `info` for `ok` else `warn`; the
/// report body becomes `nel.<key>` attributes.
fn nel_log(report: &Value, received: DateTime<Utc>) -> Option<Value> {
    let report = report.as_object()?;
    let body = report.get("body").and_then(Value::as_object)?;
    let age_ms = report
        .get("age")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0);
    let timestamp = received - ChronoDuration::milliseconds(age_ms);
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let level = if kind == "ok" { "info" } else { "warn" };
    let mut attributes = Map::new();
    attributes.insert(
        "sentry.origin".into(),
        string_attribute("auto.http.browser_report.nel"),
    );
    if let Some(url) = report.get("url").and_then(Value::as_str) {
        attributes.insert("url.full".into(), string_attribute(url));
    }
    if let Some(user_agent) = report.get("user_agent").and_then(Value::as_str) {
        attributes.insert("user_agent.original".into(), string_attribute(user_agent));
    }
    flatten_into("nel", body, &mut attributes);
    let seconds = timestamp.timestamp_micros() as f64 / 1_000_000.0;
    Some(log_entry(
        seconds,
        None,
        None,
        level,
        kind.to_owned(),
        attributes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::processing::spans::tests::{harness, now_seconds, Harness};
    use prost::Message as _;
    use relay_kafka::messages::any_value::Value as Any;

    const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

    fn container(logs: &[Value]) -> String {
        let payload = serde_json::json!({ "items": logs }).to_string();
        format!(
            "{{\"type\":\"log\",\"content_type\":\"application/vnd.sentry.items.log+json\",\"item_count\":{},\"length\":{}}}\n{}\n",
            logs.len(),
            payload.len(),
            payload
        )
    }

    fn log(timestamp: f64) -> Value {
        serde_json::json!({
            "timestamp": timestamp, "trace_id": TRACE_ID, "span_id": "eee19b7ec3c1b175",
            "level": "info", "body": "hello",
            "attributes": {"k": {"type": "string", "value": "v"}, "n": {"type": "integer", "value": 3}}
        })
    }

    fn decode(harness: &Harness) -> Vec<TraceItem> {
        harness
            .messages(KafkaTopic::Items)
            .into_iter()
            .map(|payload| TraceItem::decode(payload.as_slice()).unwrap())
            .collect()
    }

    fn string_attr(item: &TraceItem, name: &str) -> Option<String> {
        match item.attributes.get(name)?.value.as_ref()? {
            Any::StringValue(text) => Some(text.clone()),
            _ => None,
        }
    }

    #[test]
    fn logs_become_trace_items() {
        let now = now_seconds();
        let mut harness = harness(
            &container(&[log(now - 10.0), log(now - 5.0)]),
            &["organizations:ourlogs-ingestion"],
        );
        harness.run(process);
        let items = decode(&harness);
        assert_eq!(items.len(), 2);
        let item = &items[0];
        assert_eq!(item.item_type, TraceItemType::Log as i32);
        assert_eq!(item.trace_id, TRACE_ID);
        assert_eq!(item.organization_id, 1);
        assert_eq!(item.project_id, 42);
        assert_eq!(string_attr(item, "sentry.body").as_deref(), Some("hello"));
        assert_eq!(
            string_attr(item, "sentry.severity_text").as_deref(),
            Some("info")
        );
        assert_eq!(
            string_attr(item, "sentry.span_id").as_deref(),
            Some("eee19b7ec3c1b175")
        );
        assert_eq!(string_attr(item, "k").as_deref(), Some("v"));
        assert_eq!(
            string_attr(item, "sentry.relay.ingress").as_deref(),
            Some("container")
        );
        assert!(string_attr(item, "sentry.observed_timestamp_nanos").is_some());
        assert!(matches!(
            item.attributes["sentry.timestamp_precise"].value,
            Some(Any::IntValue(_))
        ));
        assert_eq!(item.retention_days, 30);
        assert_eq!(item.downsampled_retention_days, 390);
        let outcomes = item.outcomes.as_ref().unwrap();
        assert_eq!(outcomes.key_id, 123);
        assert_eq!(outcomes.category_count[0].data_category, 23);
        assert_eq!(outcomes.category_count[0].quantity, 1);
        assert!(harness.outcomes().is_empty());
    }

    #[test]
    fn without_the_feature_logs_are_dropped_silently() {
        let now = now_seconds();
        let mut harness = harness(&container(&[log(now)]), &[]);
        harness.run(process);
        assert!(decode(&harness).is_empty());
        assert!(harness.outcomes().is_empty());
        assert!(harness.envelope_is_empty());
    }

    #[test]
    fn invalid_and_old_logs_are_rejected() {
        let now = now_seconds();
        let mut missing_body = log(now);
        missing_body.as_object_mut().unwrap().remove("body");
        let old = log(now - 40.0 * 86_400.0);
        let mut harness = harness(
            &container(&[missing_body, old, log(now)]),
            &["organizations:ourlogs-ingestion"],
        );
        harness.run(process);
        assert_eq!(decode(&harness).len(), 1);
        let outcomes = harness.outcome_reasons();
        assert!(outcomes.contains(&("invalid_log".to_owned(), DataCategory::LogItem, 1)));
        assert!(outcomes.contains(&("timestamp".to_owned(), DataCategory::LogItem, 1)));
    }

    #[test]
    fn future_logs_are_moved_to_the_receive_time() {
        let now = now_seconds();
        let mut harness = harness(
            &container(&[log(now + 3600.0)]),
            &["organizations:ourlogs-ingestion"],
        );
        harness.run(process);
        let items = decode(&harness);
        let seconds = items[0].timestamp.unwrap().seconds as f64;
        assert!((seconds - now).abs() < 5.0, "{seconds} vs {now}");
    }

    #[test]
    fn sequence_is_added_in_nanoseconds() {
        let now = now_seconds().floor();
        let mut entry = log(now);
        entry["attributes"]["sentry.timestamp.sequence"] =
            serde_json::json!({"type": "integer", "value": 7});
        let mut harness = harness(&container(&[entry]), &["organizations:ourlogs-ingestion"]);
        harness.run(process);
        let item = &decode(&harness)[0];
        assert_eq!(item.timestamp.unwrap().nanos, 7);
        assert_eq!(
            item.attributes["sentry.timestamp_precise"].value,
            Some(Any::IntValue(now as i64 * 1_000_000_000 + 7))
        );
    }

    #[test]
    fn second_log_item_is_a_duplicate() {
        let now = now_seconds();
        let one = container(&[log(now)]);
        let mut harness = harness(&format!("{one}{one}"), &["organizations:ourlogs-ingestion"]);
        harness.run(process);
        assert_eq!(decode(&harness).len(), 1);
        let outcomes = harness.outcome_reasons();
        assert!(outcomes.contains(&("duplicate_item".to_owned(), DataCategory::LogItem, 1)));
    }

    #[test]
    fn otlp_json_logs_are_converted() {
        let now_nanos = (now_seconds() * 1e9) as u64;
        let request = serde_json::json!({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeLogs": [{"scope": {"name": "lib"}, "logRecords": [{
                "timeUnixNano": now_nanos.to_string(), "severityNumber": 17, "severityText": "ERROR",
                "body": {"stringValue": "boom"}, "traceId": TRACE_ID, "spanId": "eee19b7ec3c1b175",
                "attributes": [{"key": "count", "value": {"intValue": "3"}}]
            }]}]
        }]});
        let logs = otlp_logs(&request);
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0]["level"], "error");
        assert_eq!(logs[0]["body"], "boom");
        assert_eq!(logs[0]["attributes"]["service.name"]["value"], "api");
        assert_eq!(
            logs[0]["attributes"]["count"],
            serde_json::json!({"type": "integer", "value": 3})
        );
        assert_eq!(
            logs[0]["attributes"]["instrumentation.name"]["value"],
            "lib"
        );
    }

    #[test]
    fn otlp_protobuf_logs_decode_like_json() {
        // ExportLogsServiceRequest{resource_logs: [{scope_logs: [{log_records: [{
        //   time_unix_nano: 1_000_000_000, severity_number: 9, body: "hi"}]}]}]}
        let record: Vec<u8> = [
            vec![0x09],
            1_000_000_000u64.to_le_bytes().to_vec(), // 1: fixed64
            vec![0x10, 0x09],                        // 2: severity 9
            vec![0x2a, 0x04, 0x0a, 0x02, b'h', b'i'], // 5: body AnyValue{string "hi"}
        ]
        .concat();
        let scope_logs = [vec![0x12, record.len() as u8], record].concat();
        let resource_logs = [vec![0x12, scope_logs.len() as u8], scope_logs].concat();
        let request = [vec![0x0a, resource_logs.len() as u8], resource_logs].concat();
        let decoded = otlp::decode_logs_protobuf(&request).unwrap();
        let logs = otlp_logs(&decoded);
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0]["timestamp"], 1.0);
        assert_eq!(logs[0]["level"], "info");
        assert_eq!(logs[0]["body"], "hi");
        assert!(otlp::decode_logs_protobuf(&[0x0a, 0x05, 0x01]).is_err());
    }

    #[test]
    fn vercel_and_nel_entries_are_converted() {
        let entry = serde_json::json!({"timestamp": 1_717_000_000_500u64, "level": "warning", "message": "m",
            "deploymentId": "d1", "proxy": {"statusCode": 200}});
        let log = vercel_log(&entry).unwrap();
        assert_eq!(log["timestamp"], 1_717_000_000.5);
        assert_eq!(log["level"], "warn");
        assert_eq!(log["attributes"]["vercel.deployment_id"]["value"], "d1");
        assert_eq!(log["attributes"]["vercel.proxy.status_code"]["value"], 200);

        let received = DateTime::from_timestamp(1_717_000_010, 0).unwrap();
        let report = serde_json::json!({"age": 2000, "type": "network-error", "url": "https://e.com/",
            "body": {"type": "dns.name_not_resolved", "phase": "dns"}});
        let log = nel_log(&report, received).unwrap();
        assert_eq!(log["timestamp"], 1_717_000_008.0);
        assert_eq!(log["body"], "dns.name_not_resolved");
        assert_eq!(log["level"], "warn");
        assert_eq!(log["attributes"]["nel.phase"]["value"], "dns");
        assert_eq!(log["attributes"]["url.full"]["value"], "https://e.com/");
    }

    #[test]
    fn severity_names_map_to_numbers() {
        assert_eq!(severity_from_name("SEVERITY_NUMBER_INFO"), Some(9));
        assert_eq!(severity_from_name("SEVERITY_NUMBER_WARN3"), Some(15));
        assert_eq!(severity_from_name("bogus"), None);
        assert_eq!(level_from_severity(21), "fatal");
    }

    #[test]
    fn rejection_reasons() {
        let reason = |error: LogError| DiscardReason::from(error).to_string();
        assert_eq!(reason(LogError::InvalidJson), "invalid_json");
        assert_eq!(reason(LogError::InvalidProto), "invalid_proto");
        assert_eq!(reason(LogError::InvalidContainer), "invalid_log");
        assert_eq!(reason(LogError::InvalidField("body")), "invalid_log");
        assert_eq!(reason(LogError::TooOld), "timestamp");
        assert_eq!(reason(LogError::TooLarge), "too_large:log");
    }
}
