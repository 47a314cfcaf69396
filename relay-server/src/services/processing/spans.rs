//! Spans (`processing.md` §3.3) and span extraction from transactions (§3.2 steps 10–12).
//!
//! Every span leaves this module as one span v2 JSON message on `ingest-spans` (§7.3.9), in
//! its own [`StoreRequest`], so a failed produce costs exactly that span.
//!
//! Sources, selected per envelope in this order (§2 row 4): one span v2 container, else all
//! legacy `span` items, else one OTLP traces integration item. Anything of another source (or
//! a second container / integration item) is a duplicate (`invalid`/`duplicate_item`).
//! Legacy spans and OTLP spans are converted into span v2 first, so one pipeline handles all.
//!
//! Accounting (outcomes.md §3.4): a span counts `span` 1 and `span_indexed` 1. Spans that
//! are rejected get an outcome for both. A span that is stored emits one
//! `c:spans/usage@none` counter (§3.12) — the aggregator turns it into the `accepted`
//! outcome for `span` — and its store request carries `span_indexed`, which becomes
//! `invalid`/`internal` only if producing fails.
//!
//! The module also holds what the other span-like processors (logs, trace metrics) share:
//! item containers (envelope.md §5), the timestamp rules of §3.2a, typed attributes,
//! EAP retention and the small user-agent parser.
//!
//! Not done here (later stages): dynamic sampling, inbound filters, PII scrubbing, Redis
//! quotas (cached limits were applied before processing), GeoIP, span name inference beyond
//! "op or nothing", web-vital trace metrics.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use relay_kafka::messages::SpanMessage;
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::{
    ContentType, DynamicSamplingContext, IntegrationKind, Item, ItemType,
};
use relay_protocol::{DataCategory, EventId};
use serde_json::{Map, Value};

use super::errors::DUPLICATE_ITEM;
use super::event::{parse_timestamp, EventObject, MINIMUM_CLOCK_DRIFT};
use super::{ProcessingContext, ProcessingOutput, StoreRequest};
use crate::services::managed::ManagedEnvelope;
use crate::services::metrics::{Bucket, BucketValue, ProjectBucket};
use crate::services::outcome::{DiscardReason, Outcome};

/// `invalid` reason: a span without usable ids or timestamps.
pub const INVALID_SPAN: &str = "invalid_span";
/// `invalid` reason: an earlier span with the same span id.
pub const DUPLICATE: &str = "duplicate";
/// `invalid` reason: a span envelope without dynamic sampling context.
pub const MISSING_DSC: &str = "missing_dsc";
/// `invalid` reason: a span whose trace id differs from the DSC's.
pub const INVALID_DSC: &str = "invalid_dsc";
/// `invalid` reason: data that must live in the objectstore could not be stored there. This
/// relay has no objectstore client, so span and trace attachments end here (see
/// `trace_attachments.rs`).
pub const UPLOAD_FAILED: &str = "upload_failed";
/// `invalid` reason: an OTLP protobuf payload that does not decode.
pub const INVALID_PROTO: &str = "invalid_proto";

/// Feature: span attachments are processed (else dropped silently).
const FEATURE_SPAN_ATTACHMENTS: &str = "projects:span-v2-attachment-processing";

/// The usage counter of spans (§3.12).
pub const SPAN_USAGE_METRIC: &str = "c:spans/usage@none";

/// Retention product key of spans in `config.retentions`.
const SPAN_RETENTION_PRODUCT: &str = "span";

/// Attribute: which ingestion path the span took.
const ATTR_INGRESS: &str = "sentry.relay.ingress";
/// Attribute: which processing pipeline produced the span.
const ATTR_PIPELINE: &str = "sentry.relay.pipeline";
/// Attribute: the receive time as decimal nanoseconds (a string).
pub const ATTR_OBSERVED_NANOS: &str = "sentry.observed_timestamp_nanos";
/// Attribute: the segment span id; must be a 16-hex span id when present.
const ATTR_SEGMENT_ID: &str = "sentry.segment.id";
/// Attribute: SDK tie breaker for ordering items with the same timestamp (§3.2a).
const ATTR_TIMESTAMP_SEQUENCE: &str = "sentry.timestamp.sequence";

/// Length of a span id in hex digits.
const SPAN_ID_LEN: usize = 16;
/// Length of a trace id in hex digits.
const TRACE_ID_LEN: usize = 32;

/// Placeholder asking relay to fill in the client IP.
const AUTO_IP: &str = "{{auto}}";

/// A span in the span v2 model: `trace_id`, `span_id`, `name`, `status`, timestamps,
/// `attributes` (`name → {"type", "value"}`), …
pub type SpanV2 = Map<String, Value>;

// --- shared helpers: attributes ------------------------------------------------------------

/// A typed attribute `{"type": ty, "value": value}`.
pub fn typed_attribute(ty: &str, value: Value) -> Value {
    let mut attribute = Map::new();
    attribute.insert("type".into(), Value::String(ty.to_owned()));
    attribute.insert("value".into(), value);
    Value::Object(attribute)
}

/// A `string` attribute.
pub fn string_attribute(value: impl Into<String>) -> Value {
    typed_attribute("string", Value::String(value.into()))
}

/// A typed attribute for a plain JSON value, by its JSON type: strings, booleans, integers
/// (`integer` when they fit in i64, else `double`), floats (`double`), arrays of scalars
/// (`array`). Objects and mixed arrays become their JSON text (`string`), `null` nothing.
pub fn attribute_from_json(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(_) => Some(typed_attribute("string", value.clone())),
        Value::Bool(_) => Some(typed_attribute("boolean", value.clone())),
        Value::Number(number) => match number.as_i64() {
            Some(_) => Some(typed_attribute("integer", value.clone())),
            None => number
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map(|double| typed_attribute("double", Value::Number(double))),
        },
        Value::Array(elements) => {
            let scalars = elements.iter().all(|element| {
                matches!(
                    element,
                    Value::String(_) | Value::Bool(_) | Value::Number(_)
                )
            });
            if scalars {
                Some(typed_attribute("array", value.clone()))
            } else {
                Some(string_attribute(value.to_string()))
            }
        }
        Value::Object(_) => Some(string_attribute(value.to_string())),
    }
}

/// Whether an attribute is set (present and not `null`).
pub fn has_attribute(attributes: &Map<String, Value>, name: &str) -> bool {
    attributes
        .get(name)
        .is_some_and(|attribute| !attribute.is_null())
}

/// The `value` of an attribute, if set.
pub fn attribute_value<'a>(attributes: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    attributes
        .get(name)
        .and_then(|attribute| attribute.get("value"))
        .filter(|value| !value.is_null())
}

/// The string `value` of an attribute.
pub fn attribute_str<'a>(attributes: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    attribute_value(attributes, name).and_then(Value::as_str)
}

/// Inserts an attribute unless it is already set.
pub fn insert_attribute_if_absent(
    attributes: &mut Map<String, Value>,
    name: &str,
    attribute: Value,
) {
    if !has_attribute(attributes, name) {
        attributes.insert(name.to_owned(), attribute);
    }
}

/// The `attributes` object of an item (created when missing or not an object).
pub fn attributes_mut(object: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let slot = object
        .entry("attributes")
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(attributes) => attributes,
        // Made an object just above.
        _ => unreachable!("attributes is an object"),
    }
}

/// `sentry.timestamp.sequence`: a positive number of nanoseconds to add to the timestamp.
pub fn sequence_nanos(attributes: &Map<String, Value>) -> Option<i64> {
    let value = attribute_value(attributes, ATTR_TIMESTAMP_SEQUENCE)?;
    let nanos = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|nanos| nanos.is_finite())
            .map(|nanos| nanos as i64)
    })?;
    (nanos > 0).then_some(nanos)
}

/// Decimal nanoseconds since the epoch, the form of `sentry.observed_timestamp_nanos`.
pub fn unix_nanos(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or(0)
}

// --- shared helpers: containers ------------------------------------------------------------

/// Why an item container cannot be expanded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    /// The payload is not a JSON object with an `items` array.
    #[error("container is not a JSON object with an items array")]
    InvalidJson,
    /// `item_count` differs from the number of entries.
    #[error("container declares {declared} items but has {actual}")]
    CountMismatch { declared: u64, actual: usize },
}

/// An expanded item container (envelope.md §5).
#[derive(Debug)]
pub struct Container {
    /// The entries, with their JSON sizes in bytes.
    pub entries: Vec<(Value, usize)>,
    /// The other top-level keys (`version`, `ingest_settings`, …).
    pub metadata: Map<String, Value>,
}

/// Expands a container item; `item_count`, when declared, must match exactly.
pub fn parse_container(item: &Item) -> Result<Container, ContainerError> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(item.payload_slice())
    else {
        return Err(ContainerError::InvalidJson);
    };
    let Some(Value::Array(items)) = object.remove("items") else {
        return Err(ContainerError::InvalidJson);
    };
    if let Some(declared) = item.item_count() {
        if usize::try_from(declared).ok() != Some(items.len()) {
            return Err(ContainerError::CountMismatch {
                declared,
                actual: items.len(),
            });
        }
    }
    let entries = items
        .into_iter()
        .map(|entry| {
            // Serializing a parsed value cannot fail; the size is what the entry weighs.
            let size = serde_json::to_vec(&entry).map_or(0, |bytes| bytes.len());
            (entry, size)
        })
        .collect();
    Ok(Container {
        entries,
        metadata: object,
    })
}

// --- shared helpers: retention and timestamps -------------------------------------------

/// (standard, downsampled) retention of an EAP product (`project-config.md` §3.8):
/// `config.retentions.<product>`, else `eventRetention` / `downsampledEventRetention`.
pub fn retention_pair(context: &ProcessingContext, product: &str) -> (u16, u16) {
    if let Some(pair) = context.product_retention(product) {
        return pair;
    }
    let standard = context.event_retention();
    let downsampled = context
        .project
        .raw_config
        .get("downsampledEventRetention")
        .and_then(Value::as_u64)
        .and_then(|days| u16::try_from(days).ok())
        .unwrap_or(standard);
    (standard, downsampled)
}

/// The item's timestamp is older than its retention (`invalid`/`timestamp`).
#[derive(Debug, PartialEq, Eq)]
pub struct TooOld;

/// The inputs of the §3.2a rules that do not depend on the item.
#[derive(Clone, Copy, Debug)]
pub struct TimestampRules {
    pub received: DateTime<Utc>,
    pub max_secs_in_future: i64,
    pub sent_at: Option<DateTime<Utc>>,
    pub retention_days: u16,
}

impl TimestampRules {
    /// The rules for an envelope and a product retention.
    pub fn new(context: &ProcessingContext, retention_days: u16) -> TimestampRules {
        TimestampRules {
            received: context.received_at,
            max_secs_in_future: i64::from(context.config.values.processing.max_secs_in_future),
            sent_at: context.headers.sent_at,
            retention_days,
        }
    }

    /// The shift to apply to every timestamp of an item whose main timestamp is `timestamp`:
    /// a timestamp too far in the future is moved to the receive time; otherwise a clock drift
    /// of at least 55 minutes between `sent_at` and the receive time is corrected. `Err` when
    /// the corrected timestamp is older than the retention.
    pub fn shift(&self, timestamp: DateTime<Utc>) -> Result<ChronoDuration, TooOld> {
        let zero = ChronoDuration::zero();
        let shift = if timestamp > self.received + ChronoDuration::seconds(self.max_secs_in_future)
        {
            self.received - timestamp
        } else {
            match self.sent_at {
                Some(sent_at) => {
                    let drift = self.received - sent_at;
                    if drift.abs() >= MINIMUM_CLOCK_DRIFT {
                        drift
                    } else {
                        zero
                    }
                }
                None => zero,
            }
        };
        let oldest = self.received - ChronoDuration::days(i64::from(self.retention_days));
        if timestamp + shift < oldest {
            return Err(TooOld);
        }
        Ok(shift)
    }
}

/// Unix seconds (float) of a timestamp, microsecond precision.
pub fn unix_seconds(time: DateTime<Utc>) -> f64 {
    time.timestamp_micros() as f64 / 1_000_000.0
}

fn seconds_value(time: DateTime<Utc>) -> Value {
    serde_json::Number::from_f64(unix_seconds(time)).map_or(Value::Null, Value::Number)
}

// --- shared helpers: user agent ------------------------------------------------------------

/// Browser name and version parsed from a user agent; `None` for non-browser agents (SDKs,
/// bots, libraries).
///
/// Only the common browser families are recognised (enough to fill `browser.name` /
/// `browser.version` for web SDK traffic); the order of the checks matters because most
/// agents mention several products.
pub fn parse_browser(user_agent: &str) -> Option<(String, String)> {
    let version_after = |marker: &str| -> Option<String> {
        let start = user_agent.find(marker)? + marker.len();
        let version: String = user_agent[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let parts: Vec<&str> = version
            .split('.')
            .filter(|part| !part.is_empty())
            .take(3)
            .collect();
        (!parts.is_empty()).then(|| parts.join("."))
    };
    let mobile = user_agent.contains("Mobile");
    let candidates: [(&str, &str, bool); 7] = [
        ("Edg/", "Edge", false),
        ("OPR/", "Opera", false),
        ("Firefox/", "Firefox", mobile),
        ("CriOS/", "Chrome Mobile iOS", false),
        ("Chrome/", "Chrome", mobile),
        ("Version/", "Safari", mobile),
        ("MSIE ", "IE", false),
    ];
    for (marker, name, is_mobile) in candidates {
        if !user_agent.contains(marker) {
            continue;
        }
        // `Version/` alone is not Safari (e.g. Opera Presto); require the Safari token.
        if marker == "Version/" && !user_agent.contains("Safari/") {
            continue;
        }
        let version = version_after(marker)?;
        let name = match (name, is_mobile) {
            ("Safari", true) => "Mobile Safari".to_owned(),
            ("Chrome" | "Firefox", true) => format!("{name} Mobile"),
            _ => name.to_owned(),
        };
        return Some((name, version));
    }
    None
}

// --- shared helpers: DSC ---------------------------------------------------------------------

/// The DSC as `sentry.dsc.*` attributes.
fn dsc_attributes(dsc: &DynamicSamplingContext) -> Vec<(String, Value)> {
    let mut attributes = vec![
        (
            "sentry.dsc.trace_id".to_owned(),
            string_attribute(dsc.trace_id.to_string()),
        ),
        (
            "sentry.dsc.public_key".to_owned(),
            string_attribute(dsc.public_key.as_str()),
        ),
    ];
    let optional = [
        ("release", dsc.release.as_deref()),
        ("environment", dsc.environment.as_deref()),
        ("transaction", dsc.transaction.as_deref()),
        (
            "user_id",
            Some(dsc.user_id.as_str()).filter(|id| !id.is_empty()),
        ),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            attributes.push((format!("sentry.dsc.{key}"), string_attribute(value)));
        }
    }
    if let Some(sample_rate) = dsc.sample_rate {
        attributes.push((
            "sentry.dsc.sample_rate".to_owned(),
            string_attribute(sample_rate.to_string()),
        ));
    }
    if let Some(sampled) = dsc.sampled {
        attributes.push((
            "sentry.dsc.sampled".to_owned(),
            typed_attribute("boolean", Value::Bool(sampled)),
        ));
    }
    if let Some(replay_id) = dsc.replay_id {
        attributes.push((
            "sentry.dsc.replay_id".to_owned(),
            string_attribute(replay_id.simple().to_string()),
        ));
    }
    attributes
}

// --- ids ------------------------------------------------------------------------------------

/// A hex id of `len` digits, lowercased; trace ids may also be hyphenated UUIDs.
fn normalize_hex_id(value: &Value, len: usize) -> Option<String> {
    let text = value.as_str()?;
    if text.len() == len && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Some(text.to_ascii_lowercase());
    }
    if len == TRACE_ID_LEN {
        return uuid::Uuid::try_parse(text)
            .ok()
            .map(|uuid| uuid.simple().to_string());
    }
    None
}

fn is_span_id(value: &str) -> bool {
    value.len() == SPAN_ID_LEN && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

// --- processor -------------------------------------------------------------------------------

/// Where the spans of an envelope come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpanSource {
    /// A span v2 container.
    Container,
    /// Legacy standalone span JSON, one per item.
    Legacy,
    /// An OTLP traces integration item (JSON or protobuf).
    Otlp,
}

impl SpanSource {
    fn of(item: &Item) -> Option<SpanSource> {
        match item.ty() {
            ItemType::Span if item.is_span_container() => Some(SpanSource::Container),
            ItemType::Span => Some(SpanSource::Legacy),
            ItemType::Integration if item.integration_kind() == Some(IntegrationKind::Spans) => {
                Some(SpanSource::Otlp)
            }
            _ => None,
        }
    }

    /// The value of `sentry.relay.ingress`.
    fn ingress(self) -> &'static str {
        match self {
            SpanSource::Container => "container",
            SpanSource::Legacy => "legacy",
            SpanSource::Otlp => "otlp",
        }
    }
}

/// Span attachments: attachment v2 items with a `span_id` header (even `null`).
fn is_span_attachment(item: &Item) -> bool {
    *item.ty() == ItemType::Attachment
        && item.content_type() == Some(ContentType::TraceAttachment)
        && item.has_span_id()
}

/// One span after expansion; `Err` holds the reason it is rejected.
type Candidate = Result<SpanV2, DiscardReason>;

/// Runs the span processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let attachments = managed.take_items_where(is_span_attachment);
    if context.has_feature(FEATURE_SPAN_ATTACHMENTS) {
        // Span attachments are only ever stored in the objectstore, which this relay lacks.
        for attachment in &attachments {
            managed.track_item_outcome(
                attachment,
                &Outcome::Invalid(DiscardReason::Named(UPLOAD_FAILED)),
            );
        }
    }

    let items = managed.take_items_where(|item| SpanSource::of(item).is_some());
    if items.is_empty() {
        return;
    }
    let sources: Vec<SpanSource> = items.iter().filter_map(SpanSource::of).collect();
    let chosen = if sources.contains(&SpanSource::Container) {
        SpanSource::Container
    } else if sources.contains(&SpanSource::Legacy) {
        SpanSource::Legacy
    } else {
        SpanSource::Otlp
    };
    let mut selected = Vec::new();
    for (item, source) in items.into_iter().zip(sources) {
        // Only legacy spans may come as several items.
        let takes_more = selected.is_empty() || chosen == SpanSource::Legacy;
        if source == chosen && takes_more {
            selected.push(item);
        } else {
            managed.track_item_outcome(
                &item,
                &Outcome::Invalid(DiscardReason::Named(DUPLICATE_ITEM)),
            );
        }
    }

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut ingest_settings = Map::new();
    for item in &selected {
        match expand(item, chosen) {
            Ok((spans, settings)) => {
                candidates.extend(spans);
                if let Some(settings) = settings {
                    ingest_settings = settings;
                }
            }
            Err(reason) => managed.track_item_outcome(item, &Outcome::Invalid(reason)),
        }
    }
    let pipeline = SpanPipeline {
        source: chosen,
        ingest_settings,
    };
    pipeline.run(context, managed, output, candidates);
}

/// The span candidates of one item, plus a container's `ingest_settings`.
type Expanded = (Vec<Candidate>, Option<Map<String, Value>>);

/// Expands one item into span candidates.
fn expand(item: &Item, source: SpanSource) -> Result<Expanded, DiscardReason> {
    match source {
        SpanSource::Container => {
            let container = parse_container(item).map_err(|error| match error {
                ContainerError::InvalidJson => DiscardReason::InvalidJson,
                ContainerError::CountMismatch { .. } => DiscardReason::Named(INVALID_SPAN),
            })?;
            let settings = match container.metadata.get("ingest_settings") {
                Some(Value::Object(settings)) => Some(settings.clone()),
                _ => None,
            };
            let spans = container
                .entries
                .into_iter()
                .map(|(entry, _)| match entry {
                    Value::Object(span) => Ok(span),
                    _ => Err(DiscardReason::Named(INVALID_SPAN)),
                })
                .collect();
            Ok((spans, settings))
        }
        SpanSource::Legacy => {
            let span = match serde_json::from_slice::<Value>(item.payload_slice()) {
                Ok(Value::Object(legacy)) => Ok(legacy_to_v2(&legacy, None)),
                Ok(_) => Err(DiscardReason::Named(INVALID_SPAN)),
                Err(_) => Err(DiscardReason::InvalidJson),
            };
            Ok((vec![span], None))
        }
        SpanSource::Otlp => {
            let request = match item.content_type() {
                Some(ContentType::OtelSpansProtobuf) => {
                    otlp::decode_traces_protobuf(item.payload_slice())
                        .map_err(|_| DiscardReason::Named(INVALID_PROTO))?
                }
                _ => serde_json::from_slice::<Value>(item.payload_slice())
                    .map_err(|_| DiscardReason::InvalidJson)?,
            };
            Ok((
                otlp::traces_to_spans(&request)
                    .into_iter()
                    .map(Ok)
                    .collect(),
                None,
            ))
        }
    }
}

/// The per-span stages shared by all span sources of the span processor.
struct SpanPipeline {
    source: SpanSource,
    ingest_settings: Map<String, Value>,
}

impl SpanPipeline {
    fn run(
        &self,
        context: &ProcessingContext,
        managed: &ManagedEnvelope,
        output: &mut ProcessingOutput,
        candidates: Vec<Candidate>,
    ) {
        let reject = |reason: DiscardReason| {
            let outcome = Outcome::Invalid(reason);
            managed.track(outcome.clone(), DataCategory::Span, 1);
            managed.track(outcome, DataCategory::SpanIndexed, 1);
        };

        // Ids first: they decide duplicates and the DSC check.
        let mut spans: Vec<SpanV2> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            match candidate.and_then(normalize_ids) {
                Ok(span) => spans.push(span),
                Err(reason) => reject(reason),
            }
        }

        // Of several spans with one id, the last one wins.
        let mut last_index: HashMap<String, usize> = HashMap::new();
        for (index, span) in spans.iter().enumerate() {
            last_index.insert(span_id_of(span).to_owned(), index);
        }
        let mut unique = Vec::with_capacity(last_index.len());
        for (index, span) in spans.into_iter().enumerate() {
            if last_index.get(span_id_of(&span)) == Some(&index) {
                unique.push(span);
            } else {
                reject(DiscardReason::Named(DUPLICATE));
            }
        }

        let dsc = context.headers.dsc();
        let client_is_relay = context
            .client()
            .and_then(|client| client.split('/').next())
            .is_some_and(|name| name.eq_ignore_ascii_case("relay"));
        let dsc_optional = self.source == SpanSource::Otlp || client_is_relay;

        let (retention_days, downsampled_retention_days) =
            retention_pair(context, SPAN_RETENTION_PRODUCT);
        let rules = TimestampRules::new(context, retention_days);
        let mut usage = UsageCounts::default();
        for mut span in unique {
            match dsc {
                None if !dsc_optional => {
                    reject(DiscardReason::Named(MISSING_DSC));
                    continue;
                }
                Some(dsc) if trace_id_of(&span) != dsc.trace_id.to_string() => {
                    reject(DiscardReason::Named(INVALID_DSC));
                    continue;
                }
                _ => {}
            }
            if let Err(reason) = self.normalize(context, &rules, &mut span) {
                reject(reason);
                continue;
            }
            let is_segment = span.get("is_segment").and_then(Value::as_bool) == Some(true);
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
                    if push_span(output, &message) {
                        usage.add(is_segment, false);
                    } else {
                        reject(DiscardReason::Internal);
                    }
                }
                Err(error) => {
                    tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "span message rejected after validation"
                    );
                    reject(DiscardReason::Internal);
                }
            }
        }
        output.buckets.extend(usage.into_buckets(context));
    }

    /// §3.3 step 6: timestamps (§3.2a), status and name defaults, segment id check, IP and
    /// user-agent inference, and the attributes relay adds.
    fn normalize(
        &self,
        context: &ProcessingContext,
        rules: &TimestampRules,
        span: &mut SpanV2,
    ) -> Result<(), DiscardReason> {
        let start = span.get("start_timestamp").and_then(parse_timestamp);
        let end = span.get("end_timestamp").and_then(parse_timestamp);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(DiscardReason::Named(INVALID_SPAN));
        };
        let shift = rules
            .shift(end)
            .map_err(|TooOld| DiscardReason::Timestamp)?;
        span.insert("start_timestamp".into(), seconds_value(start + shift));
        span.insert("end_timestamp".into(), seconds_value(end + shift));

        match span.get("status") {
            Some(Value::String(_)) => {}
            _ => {
                span.insert("status".into(), Value::String("ok".into()));
            }
        }
        // `_meta` is relay's annotation tree; an SDK has no business sending one.
        span.remove("_meta");

        let attributes = attributes_mut(span);
        if let Some(segment_id) = attribute_value(attributes, ATTR_SEGMENT_ID) {
            if !segment_id.as_str().is_some_and(is_span_id) {
                return Err(DiscardReason::Named(INVALID_SPAN));
            }
        }
        attributes.insert(ATTR_INGRESS.into(), string_attribute(self.source.ingress()));
        attributes.insert(ATTR_PIPELINE.into(), string_attribute("span_v2"));
        insert_attribute_if_absent(
            attributes,
            ATTR_OBSERVED_NANOS,
            string_attribute(unix_nanos(context.received_at).to_string()),
        );
        if let Some(dsc) = context.headers.dsc() {
            for (name, attribute) in dsc_attributes(dsc) {
                attributes.insert(name, attribute);
            }
        }
        self.infer_client_address(context, attributes);
        self.infer_user_agent(context, attributes);

        let has_name = span
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|name| !name.is_empty());
        if !has_name {
            let inferred = span
                .get("attributes")
                .and_then(Value::as_object)
                .and_then(|attributes| attribute_str(attributes, "sentry.op"))
                .unwrap_or_default()
                .to_owned();
            span.insert("name".into(), Value::String(inferred));
        }
        Ok(())
    }

    /// `client.address`: `{{auto}}` is replaced by the client IP; with `infer_ip: auto` an
    /// absent address is filled in. Never when the project scrubs IP addresses.
    fn infer_client_address(
        &self,
        context: &ProcessingContext,
        attributes: &mut Map<String, Value>,
    ) {
        const CLIENT_ADDRESS: &str = "client.address";
        let setting = self.ingest_settings.get("infer_ip").and_then(Value::as_str);
        let is_auto = attribute_str(attributes, CLIENT_ADDRESS) == Some(AUTO_IP);
        let absent = !has_attribute(attributes, CLIENT_ADDRESS);
        if !(is_auto || (absent && setting == Some("auto"))) {
            return;
        }
        let scrub = context
            .project
            .raw_config
            .get("datascrubbingSettings")
            .and_then(|settings| settings.get("scrubIpAddresses"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match context.client_addr {
            Some(address) if !scrub && setting != Some("never") => {
                attributes.insert(CLIENT_ADDRESS.into(), string_attribute(address.to_string()));
            }
            _ => {
                if is_auto {
                    attributes.remove(CLIENT_ADDRESS);
                }
            }
        }
    }

    /// `browser.name` / `browser.version` from the span's `user_agent.original` or, unless
    /// `infer_user_agent: never`, the request's user agent.
    fn infer_user_agent(&self, context: &ProcessingContext, attributes: &mut Map<String, Value>) {
        if has_attribute(attributes, "browser.name") {
            return;
        }
        let setting = self
            .ingest_settings
            .get("infer_user_agent")
            .and_then(Value::as_str);
        let user_agent = match attribute_str(attributes, "user_agent.original") {
            Some(user_agent) => Some(user_agent.to_owned()),
            None if setting != Some("never") => context.headers.user_agent.clone(),
            None => None,
        };
        if let Some((name, version)) = user_agent.as_deref().and_then(parse_browser) {
            attributes.insert("browser.name".into(), string_attribute(name));
            attributes.insert("browser.version".into(), string_attribute(version));
        }
    }
}

/// Validates and normalizes `trace_id`, `span_id` and `parent_span_id`.
fn normalize_ids(mut span: SpanV2) -> Candidate {
    let invalid = || DiscardReason::Named(INVALID_SPAN);
    let span_id = span
        .get("span_id")
        .and_then(|id| normalize_hex_id(id, SPAN_ID_LEN))
        .ok_or_else(invalid)?;
    let trace_id = span
        .get("trace_id")
        .and_then(|id| normalize_hex_id(id, TRACE_ID_LEN))
        .ok_or_else(invalid)?;
    span.insert("span_id".into(), Value::String(span_id));
    span.insert("trace_id".into(), Value::String(trace_id));
    match span.get("parent_span_id") {
        None | Some(Value::Null) => {}
        Some(parent) => match normalize_hex_id(parent, SPAN_ID_LEN) {
            Some(parent) => {
                span.insert("parent_span_id".into(), Value::String(parent));
            }
            None => return Err(invalid()),
        },
    }
    Ok(span)
}

fn span_id_of(span: &SpanV2) -> &str {
    span.get("span_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn trace_id_of(span: &SpanV2) -> &str {
    span.get("trace_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Adds one span message as its own store request accounting for `span_indexed`; false when
/// it cannot be encoded.
fn push_span(output: &mut ProcessingOutput, message: &SpanMessage) -> bool {
    let mut request = StoreRequest::new([(DataCategory::SpanIndexed, 1)]);
    match request.push(KafkaTopic::Spans, message) {
        Ok(()) => {
            output.add(request);
            true
        }
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "cannot encode span"
            );
            false
        }
    }
}

/// Span usage per (`is_segment`, `was_transaction`) tag combination.
#[derive(Debug, Default)]
struct UsageCounts(BTreeMap<(bool, bool), usize>);

impl UsageCounts {
    fn add(&mut self, is_segment: bool, was_transaction: bool) {
        *self.0.entry((is_segment, was_transaction)).or_default() += 1;
    }

    /// One `c:spans/usage@none` bucket per tag combination, at the receive time.
    fn into_buckets(self, context: &ProcessingContext) -> Vec<ProjectBucket> {
        let received = context.received_at.timestamp();
        self.0
            .into_iter()
            .map(|((is_segment, was_transaction), count)| {
                let mut tags = BTreeMap::new();
                tags.insert("is_segment".to_owned(), is_segment.to_string());
                if was_transaction {
                    tags.insert("was_transaction".to_owned(), "true".to_owned());
                }
                ProjectBucket {
                    scoping: context.scoping.clone(),
                    retention_days: context.event_retention(),
                    bucket: Bucket {
                        name: SPAN_USAGE_METRIC.to_owned(),
                        timestamp: received,
                        tags,
                        value: BucketValue::Counter(count as f64),
                        received_at: Some(received),
                    },
                }
            })
            .collect()
    }
}

// --- legacy spans -----------------------------------------------------------------------------

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

// --- extraction from transactions ------------------------------------------------------------

/// Extracts the spans of a transaction (children plus the segment) into store requests
/// (§3.2 steps 10–12) and the span usage buckets (§3.12).
///
/// Returns whether the span categories of the transaction are accounted for by them — always
/// true: every span (valid or not) is counted in a usage bucket (`span`, accepted at flush)
/// and every stored span's request carries its `span_indexed`.
///
/// Known gap: a child span that cannot become a message (no usable span id or start
/// timestamp) should be rejected with `invalid`/`invalid_span` for `span_indexed`, but this
/// function has no access to the envelope's outcome tracker; such spans are logged and
/// dropped.
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
        let invalid_span = Outcome::Invalid(DiscardReason::Named(INVALID_SPAN));
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
        // Normalization gives spans without end the transaction's end (normalization.md §4).
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

// --- OTLP ------------------------------------------------------------------------------------

/// OTLP traces and logs (the `integration` items of the OTLP endpoint): a minimal protobuf
/// reader that turns OTLP protobuf into the OTLP/JSON shape, and the conversion of OTLP/JSON
/// traces into span v2. Logs use the same reader (`logs.rs`).
pub mod otlp {
    use serde_json::{Map, Value};

    use super::{attribute_from_json, string_attribute, SpanV2};

    /// The payload is not valid protobuf of the expected message.
    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    #[error("invalid OTLP protobuf")]
    pub struct ProtoError;

    /// One protobuf field value.
    enum Field<'a> {
        Varint(u64),
        Fixed64(u64),
        Fixed32(u32),
        Bytes(&'a [u8]),
    }

    /// Iterates the fields of one protobuf message.
    struct Reader<'a> {
        data: &'a [u8],
    }

    impl<'a> Reader<'a> {
        fn varint(&mut self) -> Result<u64, ProtoError> {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let (&byte, rest) = self.data.split_first().ok_or(ProtoError)?;
                self.data = rest;
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    return Ok(value);
                }
            }
            Err(ProtoError)
        }

        fn take(&mut self, len: usize) -> Result<&'a [u8], ProtoError> {
            if self.data.len() < len {
                return Err(ProtoError);
            }
            let (head, rest) = self.data.split_at(len);
            self.data = rest;
            Ok(head)
        }

        fn next_field(&mut self) -> Result<Option<(u64, Field<'a>)>, ProtoError> {
            if self.data.is_empty() {
                return Ok(None);
            }
            let key = self.varint()?;
            let number = key >> 3;
            let field = match key & 7 {
                0 => Field::Varint(self.varint()?),
                1 => {
                    let bytes = self.take(8)?;
                    Field::Fixed64(u64::from_le_bytes(
                        bytes.try_into().map_err(|_| ProtoError)?,
                    ))
                }
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| ProtoError)?;
                    Field::Bytes(self.take(len)?)
                }
                5 => {
                    let bytes = self.take(4)?;
                    Field::Fixed32(u32::from_le_bytes(
                        bytes.try_into().map_err(|_| ProtoError)?,
                    ))
                }
                _ => return Err(ProtoError),
            };
            Ok(Some((number, field)))
        }
    }

    /// Calls `visit` for every field of a message.
    fn for_each_field<'a>(
        data: &'a [u8],
        mut visit: impl FnMut(u64, Field<'a>) -> Result<(), ProtoError>,
    ) -> Result<(), ProtoError> {
        let mut reader = Reader { data };
        while let Some((number, field)) = reader.next_field()? {
            visit(number, field)?;
        }
        Ok(())
    }

    fn text(bytes: &[u8]) -> Result<Value, ProtoError> {
        std::str::from_utf8(bytes)
            .map(|text| Value::String(text.to_owned()))
            .map_err(|_| ProtoError)
    }

    fn hex(bytes: &[u8]) -> Value {
        Value::String(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    fn push(object: &mut Map<String, Value>, key: &str, value: Value) {
        if let Value::Array(values) = object
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            values.push(value);
        }
    }

    /// `AnyValue` → its OTLP/JSON form (`{"stringValue": …}` etc.).
    fn any_value(data: &[u8]) -> Result<Value, ProtoError> {
        let mut out = Map::new();
        for_each_field(data, |number, field| {
            match (number, field) {
                (1, Field::Bytes(bytes)) => {
                    out.insert("stringValue".into(), text(bytes)?);
                }
                (2, Field::Varint(value)) => {
                    out.insert("boolValue".into(), Value::Bool(value != 0));
                }
                // int64 travels as a two's complement varint; OTLP/JSON writes it as a string.
                (3, Field::Varint(value)) => {
                    out.insert("intValue".into(), Value::String((value as i64).to_string()));
                }
                (4, Field::Fixed64(bits)) => {
                    let number = serde_json::Number::from_f64(f64::from_bits(bits));
                    out.insert(
                        "doubleValue".into(),
                        number.map_or(Value::Null, Value::Number),
                    );
                }
                (5, Field::Bytes(bytes)) => {
                    let mut values = Vec::new();
                    for_each_field(bytes, |number, field| {
                        if let (1, Field::Bytes(element)) = (number, field) {
                            values.push(any_value(element)?);
                        }
                        Ok(())
                    })?;
                    out.insert("arrayValue".into(), serde_json::json!({ "values": values }));
                }
                (6, Field::Bytes(bytes)) => {
                    let mut values = Vec::new();
                    for_each_field(bytes, |number, field| {
                        if let (1, Field::Bytes(entry)) = (number, field) {
                            values.push(key_value(entry)?);
                        }
                        Ok(())
                    })?;
                    out.insert(
                        "kvlistValue".into(),
                        serde_json::json!({ "values": values }),
                    );
                }
                (7, Field::Bytes(bytes)) => {
                    out.insert("bytesValue".into(), hex(bytes));
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    /// `KeyValue` → `{"key": …, "value": {…}}`.
    fn key_value(data: &[u8]) -> Result<Value, ProtoError> {
        let mut out = Map::new();
        for_each_field(data, |number, field| {
            match (number, field) {
                (1, Field::Bytes(bytes)) => {
                    out.insert("key".into(), text(bytes)?);
                }
                (2, Field::Bytes(bytes)) => {
                    out.insert("value".into(), any_value(bytes)?);
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    /// `Resource` (1: attributes) or `InstrumentationScope` (1: name, 2: version,
    /// 3: attributes).
    fn resource_or_scope(data: &[u8], is_scope: bool) -> Result<Value, ProtoError> {
        let mut out = Map::new();
        for_each_field(data, |number, field| {
            match (is_scope, number, field) {
                (false, 1, Field::Bytes(bytes)) | (true, 3, Field::Bytes(bytes)) => {
                    push(&mut out, "attributes", key_value(bytes)?);
                }
                (true, 1, Field::Bytes(bytes)) => {
                    out.insert("name".into(), text(bytes)?);
                }
                (true, 2, Field::Bytes(bytes)) => {
                    out.insert("version".into(), text(bytes)?);
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    /// Which record type a scope container holds.
    #[derive(Clone, Copy)]
    enum Signal {
        Traces,
        Logs,
    }

    /// `Span` → OTLP/JSON.
    fn span(data: &[u8]) -> Result<Value, ProtoError> {
        let mut out = Map::new();
        for_each_field(data, |number, field| {
            match (number, field) {
                (1, Field::Bytes(bytes)) => {
                    out.insert("traceId".into(), hex(bytes));
                }
                (2, Field::Bytes(bytes)) => {
                    out.insert("spanId".into(), hex(bytes));
                }
                (4, Field::Bytes(bytes)) if !bytes.is_empty() => {
                    out.insert("parentSpanId".into(), hex(bytes));
                }
                (5, Field::Bytes(bytes)) => {
                    out.insert("name".into(), text(bytes)?);
                }
                (6, Field::Varint(kind)) => {
                    out.insert("kind".into(), Value::from(kind));
                }
                (7, Field::Fixed64(nanos)) => {
                    out.insert("startTimeUnixNano".into(), Value::String(nanos.to_string()));
                }
                (8, Field::Fixed64(nanos)) => {
                    out.insert("endTimeUnixNano".into(), Value::String(nanos.to_string()));
                }
                (9, Field::Bytes(bytes)) => push(&mut out, "attributes", key_value(bytes)?),
                (13, Field::Bytes(bytes)) => {
                    let mut link = Map::new();
                    for_each_field(bytes, |number, field| {
                        match (number, field) {
                            (1, Field::Bytes(bytes)) => {
                                link.insert("traceId".into(), hex(bytes));
                            }
                            (2, Field::Bytes(bytes)) => {
                                link.insert("spanId".into(), hex(bytes));
                            }
                            (4, Field::Bytes(bytes)) => {
                                push(&mut link, "attributes", key_value(bytes)?)
                            }
                            (6, Field::Fixed32(flags)) => {
                                link.insert("flags".into(), Value::from(flags));
                            }
                            _ => {}
                        }
                        Ok(())
                    })?;
                    push(&mut out, "links", Value::Object(link));
                }
                (15, Field::Bytes(bytes)) => {
                    let mut status = Map::new();
                    for_each_field(bytes, |number, field| {
                        match (number, field) {
                            (2, Field::Bytes(bytes)) => {
                                status.insert("message".into(), text(bytes)?);
                            }
                            (3, Field::Varint(code)) => {
                                status.insert("code".into(), Value::from(code));
                            }
                            _ => {}
                        }
                        Ok(())
                    })?;
                    out.insert("status".into(), Value::Object(status));
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    /// `LogRecord` → OTLP/JSON.
    fn log_record(data: &[u8]) -> Result<Value, ProtoError> {
        let mut out = Map::new();
        for_each_field(data, |number, field| {
            match (number, field) {
                (1, Field::Fixed64(nanos)) => {
                    out.insert("timeUnixNano".into(), Value::String(nanos.to_string()));
                }
                (11, Field::Fixed64(nanos)) => {
                    out.insert(
                        "observedTimeUnixNano".into(),
                        Value::String(nanos.to_string()),
                    );
                }
                (2, Field::Varint(severity)) => {
                    out.insert("severityNumber".into(), Value::from(severity));
                }
                (3, Field::Bytes(bytes)) => {
                    out.insert("severityText".into(), text(bytes)?);
                }
                (5, Field::Bytes(bytes)) => {
                    out.insert("body".into(), any_value(bytes)?);
                }
                (6, Field::Bytes(bytes)) => push(&mut out, "attributes", key_value(bytes)?),
                (9, Field::Bytes(bytes)) if !bytes.is_empty() => {
                    out.insert("traceId".into(), hex(bytes));
                }
                (10, Field::Bytes(bytes)) if !bytes.is_empty() => {
                    out.insert("spanId".into(), hex(bytes));
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    /// `Scope{Spans,Logs}` → OTLP/JSON.
    fn scope_records(data: &[u8], signal: Signal) -> Result<Value, ProtoError> {
        let records_key = match signal {
            Signal::Traces => "spans",
            Signal::Logs => "logRecords",
        };
        let mut out = Map::new();
        for_each_field(data, |number, field| {
            match (number, field) {
                (1, Field::Bytes(bytes)) => {
                    out.insert("scope".into(), resource_or_scope(bytes, true)?);
                }
                (2, Field::Bytes(bytes)) => {
                    let record = match signal {
                        Signal::Traces => span(bytes)?,
                        Signal::Logs => log_record(bytes)?,
                    };
                    push(&mut out, records_key, record);
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    /// `Export{Trace,Logs}ServiceRequest` → OTLP/JSON.
    fn export_request(data: &[u8], signal: Signal) -> Result<Value, ProtoError> {
        let (resources_key, scopes_key) = match signal {
            Signal::Traces => ("resourceSpans", "scopeSpans"),
            Signal::Logs => ("resourceLogs", "scopeLogs"),
        };
        let mut out = Map::new();
        for_each_field(data, |number, field| {
            if let (1, Field::Bytes(bytes)) = (number, field) {
                let mut resource = Map::new();
                for_each_field(bytes, |number, field| {
                    match (number, field) {
                        (1, Field::Bytes(bytes)) => {
                            resource.insert("resource".into(), resource_or_scope(bytes, false)?);
                        }
                        (2, Field::Bytes(bytes)) => {
                            push(&mut resource, scopes_key, scope_records(bytes, signal)?);
                        }
                        _ => {}
                    }
                    Ok(())
                })?;
                push(&mut out, resources_key, Value::Object(resource));
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    /// Decodes an `ExportTraceServiceRequest` into its OTLP/JSON form.
    pub fn decode_traces_protobuf(data: &[u8]) -> Result<Value, ProtoError> {
        export_request(data, Signal::Traces)
    }

    /// Decodes an `ExportLogsServiceRequest` into its OTLP/JSON form.
    pub fn decode_logs_protobuf(data: &[u8]) -> Result<Value, ProtoError> {
        export_request(data, Signal::Logs)
    }

    /// The plain JSON value of an OTLP/JSON `AnyValue`.
    pub fn plain_value(value: &Value) -> Value {
        let Some(object) = value.as_object() else {
            return Value::Null;
        };
        if let Some(text) = object.get("stringValue") {
            return text.clone();
        }
        if let Some(flag) = object.get("boolValue") {
            return flag.clone();
        }
        if let Some(integer) = object.get("intValue") {
            return match integer {
                Value::String(text) => text.parse::<i64>().map_or(Value::Null, Value::from),
                other => other.clone(),
            };
        }
        if let Some(double) = object.get("doubleValue") {
            return match double {
                Value::String(text) => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
                other => other.clone(),
            };
        }
        if let Some(array) = object.get("arrayValue") {
            let values = array
                .get("values")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            return Value::Array(values.iter().map(plain_value).collect());
        }
        if let Some(list) = object.get("kvlistValue") {
            let mut map = Map::new();
            for entry in list
                .get("values")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(key) = entry.get("key").and_then(Value::as_str) {
                    map.insert(
                        key.to_owned(),
                        entry.get("value").map_or(Value::Null, plain_value),
                    );
                }
            }
            return Value::Object(map);
        }
        if let Some(bytes) = object.get("bytesValue") {
            return bytes.clone();
        }
        Value::Null
    }

    /// OTLP/JSON `attributes` (`[{key, value}]`) into typed attributes (later keys win).
    pub fn collect_attributes(list: Option<&Value>, into: &mut Map<String, Value>) {
        for entry in list
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(key) = entry.get("key").and_then(Value::as_str) else {
                continue;
            };
            let value = entry.get("value").map_or(Value::Null, plain_value);
            if let Some(attribute) = attribute_from_json(&value) {
                into.insert(key.to_owned(), attribute);
            }
        }
    }

    /// A nanosecond timestamp (string or number) as unix seconds.
    pub fn nanos_to_seconds(value: Option<&Value>) -> Option<f64> {
        let nanos = match value? {
            Value::String(text) => text.parse::<u64>().ok()?,
            Value::Number(number) => number.as_u64()?,
            _ => return None,
        };
        Some(nanos as f64 / 1e9)
    }

    /// The `resource → scope → record` triples of an OTLP/JSON export request, with the
    /// resource and scope attributes merged into one attribute map per scope.
    pub fn records<'a>(
        request: &'a Value,
        resources_key: &str,
        scopes_key: &str,
        records_key: &str,
    ) -> Vec<(Map<String, Value>, &'a Value)> {
        let mut out = Vec::new();
        let array = |value: Option<&'a Value>| {
            value
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        for resource in array(request.get(resources_key)) {
            let mut resource_attributes = Map::new();
            collect_attributes(
                resource.get("resource").and_then(|r| r.get("attributes")),
                &mut resource_attributes,
            );
            for scope in array(resource.get(scopes_key)) {
                let mut shared = resource_attributes.clone();
                if let Some(scope_info) = scope.get("scope") {
                    if let Some(name) = scope_info
                        .get("name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                    {
                        shared.insert("instrumentation.name".into(), string_attribute(name));
                    }
                    if let Some(version) = scope_info
                        .get("version")
                        .and_then(Value::as_str)
                        .filter(|v| !v.is_empty())
                    {
                        shared.insert("instrumentation.version".into(), string_attribute(version));
                    }
                    collect_attributes(scope_info.get("attributes"), &mut shared);
                }
                for record in array(scope.get(records_key)) {
                    out.push((shared.clone(), record));
                }
            }
        }
        out
    }

    /// OTLP span kinds by enum value.
    fn span_kind(kind: Option<&Value>) -> Option<&'static str> {
        let kind = match kind? {
            Value::Number(number) => number.as_u64()?,
            Value::String(text) => match text.as_str() {
                "SPAN_KIND_INTERNAL" => 1,
                "SPAN_KIND_SERVER" => 2,
                "SPAN_KIND_CLIENT" => 3,
                "SPAN_KIND_PRODUCER" => 4,
                "SPAN_KIND_CONSUMER" => 5,
                _ => return None,
            },
            _ => return None,
        };
        match kind {
            1 => Some("internal"),
            2 => Some("server"),
            3 => Some("client"),
            4 => Some("producer"),
            5 => Some("consumer"),
            _ => None,
        }
    }

    /// The spans of an OTLP/JSON `ExportTraceServiceRequest` in span v2: ids as given
    /// (hex), `startTimeUnixNano`/`endTimeUnixNano` as seconds, status code 2 (`ERROR`) →
    /// `error` else `ok`, resource + scope + span attributes (span wins), `kind` as
    /// `sentry.kind`, `sentry.op` from the `sentry.op` attribute if any. A span without a
    /// parent is a segment.
    pub fn traces_to_spans(request: &Value) -> Vec<SpanV2> {
        records(request, "resourceSpans", "scopeSpans", "spans")
            .into_iter()
            .map(|(shared, record)| {
                let mut span = SpanV2::new();
                for (from, to) in [
                    ("traceId", "trace_id"),
                    ("spanId", "span_id"),
                    ("parentSpanId", "parent_span_id"),
                ] {
                    if let Some(id) = record
                        .get(from)
                        .and_then(Value::as_str)
                        .filter(|id| !id.is_empty())
                    {
                        span.insert(to.into(), Value::String(id.to_owned()));
                    }
                }
                let name = record
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                span.insert("name".into(), Value::String(name.to_owned()));
                let is_error = record
                    .get("status")
                    .and_then(|status| status.get("code"))
                    .is_some_and(|code| {
                        code.as_u64() == Some(2) || code.as_str() == Some("STATUS_CODE_ERROR")
                    });
                span.insert(
                    "status".into(),
                    Value::String(if is_error { "error" } else { "ok" }.into()),
                );
                span.insert(
                    "is_segment".into(),
                    Value::Bool(!span.contains_key("parent_span_id")),
                );
                for (from, to) in [
                    ("startTimeUnixNano", "start_timestamp"),
                    ("endTimeUnixNano", "end_timestamp"),
                ] {
                    if let Some(seconds) =
                        nanos_to_seconds(record.get(from)).and_then(serde_json::Number::from_f64)
                    {
                        span.insert(to.into(), Value::Number(seconds));
                    }
                }
                let mut attributes = shared;
                collect_attributes(record.get("attributes"), &mut attributes);
                if let Some(kind) = span_kind(record.get("kind")) {
                    attributes.insert("sentry.kind".into(), string_attribute(kind));
                }
                if let Some(message) = record
                    .get("status")
                    .and_then(|status| status.get("message"))
                    .and_then(Value::as_str)
                    .filter(|message| !message.is_empty())
                {
                    attributes.insert("sentry.status.message".into(), string_attribute(message));
                }
                let links: Vec<Value> = record
                    .get("links")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|link| {
                        let mut out = Map::new();
                        out.insert("trace_id".into(), link.get("traceId")?.clone());
                        out.insert("span_id".into(), link.get("spanId")?.clone());
                        if let Some(flags) = link.get("flags").and_then(Value::as_u64) {
                            // W3C trace flags: bit 0 is "sampled".
                            out.insert("sampled".into(), Value::Bool(flags & 1 == 1));
                        }
                        let mut link_attributes = Map::new();
                        collect_attributes(link.get("attributes"), &mut link_attributes);
                        if !link_attributes.is_empty() {
                            out.insert("attributes".into(), Value::Object(link_attributes));
                        }
                        Some(Value::Object(out))
                    })
                    .collect();
                if !links.is_empty() {
                    span.insert("links".into(), Value::Array(links));
                }
                span.insert("attributes".into(), Value::Object(attributes));
                span
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Span processor tests, plus the harness the other span-like processors' tests share:
    //! an envelope of a fixed project (org 1, project 42, key id 123, event retention 90 /
    //! downsampled 390, `retentions.log` 30/390, `retentions.span` 42) run through one
    //! processor, with the outcomes it tracked and the messages it produced.

    use std::sync::Arc;

    use bytes::Bytes;
    use relay_config::Config;
    use relay_protocol::envelope::Envelope;
    use relay_protocol::ProjectKey;
    use relay_quotas::Scoping;
    use serde_json::json;
    use tokio::sync::mpsc::Receiver;

    use super::*;
    use crate::services::outcome::{OutcomeHandle, TrackOutcome};
    use crate::services::projects::ProjectState;

    pub const PUBLIC_KEY: &str = "31a5a894b4524f74a9a8d0e27e21ba91";
    pub const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

    /// Now as unix seconds.
    pub fn now_seconds() -> f64 {
        Utc::now().timestamp_micros() as f64 / 1_000_000.0
    }

    /// A processor under test.
    pub struct Harness {
        pub context: ProcessingContext,
        managed: ManagedEnvelope,
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
        let envelope = Envelope::parse(Bytes::from(format!("{headers}\n{items}")))
            .expect("test envelope parses");
        let project = ProjectState::parse(json!({
            "projectId": 42,
            "organizationId": 1,
            "publicKeys": [{"publicKey": PUBLIC_KEY, "numericId": 123}],
            "config": {
                "features": features,
                "eventRetention": 90,
                "downsampledEventRetention": 390,
                "retentions": {"log": {"standard": 30, "downsampled": 390}, "span": {"standard": 42}},
            },
        }))
        .expect("test project parses");
        let scoping = Scoping {
            organization_id: Some(1),
            project_id: Some(relay_protocol::ProjectId(42)),
            project_key: ProjectKey::parse(PUBLIC_KEY).expect("valid key"),
            key_id: Some(123),
        };
        let (outcomes, receiver) = OutcomeHandle::capturing();
        let managed = ManagedEnvelope::new(envelope, scoping, Utc::now(), None, outcomes);
        let context =
            ProcessingContext::new(Arc::new(Config::default()), Arc::new(project), &managed);
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
            while let Ok(outcome) = self.receiver.try_recv() {
                self.outcomes.push(outcome);
            }
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

    fn container_item(spans: &[Value]) -> String {
        let payload = json!({ "items": spans }).to_string();
        format!(
            "{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":{},\"length\":{}}}\n{}\n",
            spans.len(),
            payload.len(),
            payload
        )
    }

    fn legacy_item(span: &Value) -> String {
        let payload = span.to_string();
        format!(
            "{{\"type\":\"span\",\"length\":{}}}\n{}\n",
            payload.len(),
            payload
        )
    }

    fn v2_span(span_id: &str) -> Value {
        let now = now_seconds();
        json!({
            "trace_id": TRACE_ID, "span_id": span_id, "name": "GET /users", "status": "ok",
            "is_segment": true, "start_timestamp": now - 1.0, "end_timestamp": now,
            "attributes": {"sentry.op": {"type": "string", "value": "http.server"}}
        })
    }

    fn assert_schema_fields(span: &Value) {
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
        let mut missing =
            harness_with(&container_item(std::slice::from_ref(&span)), &[], json!({}));
        missing.run(process);
        assert!(missing.spans().is_empty());
        assert!(missing.outcome_reasons().contains(&(
            "missing_dsc".to_owned(),
            DataCategory::Span,
            1
        )));
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
        assert!(harness.outcome_reasons().contains(&(
            "timestamp".to_owned(),
            DataCategory::Span,
            1
        )));
    }

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

    #[test]
    fn otlp_json_traces_are_converted_without_dsc() {
        let now_nanos = (now_seconds() * 1e9) as u64;
        let request = json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeSpans": [{"scope": {"name": "lib", "version": "1"}, "spans": [{
                "traceId": TRACE_ID, "spanId": "eee19b7ec3c1b175", "name": "GET /", "kind": 2,
                "startTimeUnixNano": (now_nanos - 1_000_000_000).to_string(), "endTimeUnixNano": now_nanos.to_string(),
                "status": {"code": 2, "message": "boom"},
                "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}]
            }]}]
        }]});
        let payload = request.to_string();
        let item = format!(
            "{{\"type\":\"integration\",\"content_type\":\"application/vnd.sentry.integration.otel.spans+json\",\"length\":{}}}\n{}\n",
            payload.len(),
            payload
        );
        let mut harness = harness_with(&item, &[], json!({}));
        harness.run(process);
        let spans = harness.spans();
        assert_eq!(spans.len(), 1, "{:?}", harness.outcome_reasons());
        let span = &spans[0];
        assert_eq!(span["name"], "GET /");
        assert_eq!(span["status"], "error");
        assert_eq!(span["is_segment"], true);
        assert_eq!(span["attributes"]["service.name"]["value"], "api");
        assert_eq!(span["attributes"]["http.method"]["value"], "GET");
        assert_eq!(span["attributes"]["sentry.kind"]["value"], "server");
        assert_eq!(span["attributes"]["sentry.relay.ingress"]["value"], "otlp");
    }

    #[test]
    fn otlp_protobuf_traces_decode() {
        // ExportTraceServiceRequest{resource_spans: [{scope_spans: [{spans: [{trace_id, span_id,
        // name: "n", start 1s, end 2s}]}]}]}
        let trace_id: Vec<u8> = (1..=16).collect();
        let span_id: Vec<u8> = (1..=8).collect();
        let span = [
            vec![0x0a, 16],
            trace_id,
            vec![0x12, 8],
            span_id,
            vec![0x2a, 1, b'n'],
            vec![0x39],
            1_000_000_000u64.to_le_bytes().to_vec(),
            vec![0x41],
            2_000_000_000u64.to_le_bytes().to_vec(),
        ]
        .concat();
        let scope = [vec![0x12, span.len() as u8], span].concat();
        let resource = [vec![0x12, scope.len() as u8], scope].concat();
        let request = [vec![0x0a, resource.len() as u8], resource].concat();
        let json = otlp::decode_traces_protobuf(&request).unwrap();
        let spans = otlp::traces_to_spans(&json);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0]["trace_id"], "0102030405060708090a0b0c0d0e0f10");
        assert_eq!(spans[0]["span_id"], "0102030405060708");
        assert_eq!(spans[0]["start_timestamp"], 1.0);
        assert_eq!(spans[0]["end_timestamp"], 2.0);
        assert!(otlp::decode_traces_protobuf(&[0x0a, 0x09]).is_err());
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

    #[test]
    fn timestamp_rules() {
        let received = DateTime::from_timestamp(1_717_000_000, 0).unwrap();
        let rules = TimestampRules {
            received,
            max_secs_in_future: 60,
            sent_at: None,
            retention_days: 30,
        };
        assert_eq!(rules.shift(received), Ok(ChronoDuration::zero()));
        assert_eq!(
            rules.shift(received + ChronoDuration::seconds(60)),
            Ok(ChronoDuration::zero())
        );
        assert_eq!(
            rules.shift(received + ChronoDuration::seconds(61)),
            Ok(ChronoDuration::seconds(-61))
        );
        assert_eq!(
            rules.shift(received - ChronoDuration::days(31)),
            Err(TooOld)
        );
        let drifted = TimestampRules {
            sent_at: Some(received - ChronoDuration::hours(2)),
            ..rules
        };
        assert_eq!(
            drifted.shift(received - ChronoDuration::hours(2)),
            Ok(ChronoDuration::hours(2))
        );
        let small_drift = TimestampRules {
            sent_at: Some(received - ChronoDuration::minutes(10)),
            ..rules
        };
        assert_eq!(small_drift.shift(received), Ok(ChronoDuration::zero()));
    }

    #[test]
    fn browsers_are_recognised() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36";
        assert_eq!(
            parse_browser(chrome),
            Some(("Chrome".into(), "120.0.6099".into()))
        );
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
        assert_eq!(
            parse_browser(safari),
            Some(("Safari".into(), "17.1".into()))
        );
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(
            parse_browser(firefox),
            Some(("Firefox".into(), "121.0".into()))
        );
        let edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.77";
        assert_eq!(
            parse_browser(edge),
            Some(("Edge".into(), "120.0.2210".into()))
        );
        assert_eq!(parse_browser("sentry.python/2.0.0"), None);
    }

    #[test]
    fn container_count_must_match() {
        let payload = json!({"items": [v2_span("eee19b7ec3c1b175")]}).to_string();
        let item = format!(
            "{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":2,\"length\":{}}}\n{}\n",
            payload.len(),
            payload
        );
        let mut harness = harness(&item, &[]);
        harness.run(process);
        assert!(harness.spans().is_empty());
        assert!(harness.outcome_reasons().contains(&(
            "invalid_span".to_owned(),
            DataCategory::Span,
            2
        )));
    }
}
