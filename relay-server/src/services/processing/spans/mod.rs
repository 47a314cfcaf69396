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
//! Accounting (outcomes.md §2.1): a span counts `span` 1 and `span_indexed` 1. Spans that
//! are rejected get an outcome for both. A span that is stored emits one
//! `c:spans/usage@none` counter (§3.12) — the aggregator turns it into the `accepted`
//! outcome for `span` — and its store request carries `span_indexed`, which becomes
//! `invalid`/`internal` only if producing fails.
//!
//! The module also holds what the other span-like processors (logs, trace metrics) share:
//! item containers (envelope.md §5, `container.rs`), the timestamp rules of processing.md §3.2a and EAP
//! retention (`timestamps.rs`), typed attributes (`attributes.rs`) and the browser of a user
//! agent (`relay_normalization::user_agent::parse_browser`, the uap-core regexes events use).
//! They are re-exported here, so users name them `spans::<item>`.
//!
//! Layout: this file selects the span source and expands items into span candidates;
//! `pipeline.rs` runs the per-span stages; `legacy.rs` and [`otlp`] convert the other sources
//! into span v2; `extraction.rs` turns a transaction into spans; `usage.rs` builds the usage
//! buckets; `ids.rs` validates span and trace ids; `tests.rs` holds the processor tests and
//! the test harness the other span-like processors share.
//!
//! Not done here (later stages): dynamic sampling, inbound filters, PII scrubbing, Redis
//! quotas (cached limits were applied before processing), GeoIP, span name inference beyond
//! "op or nothing", web-vital trace metrics.

mod attributes;
mod container;
mod extraction;
mod ids;
mod legacy;
pub mod otlp;
mod pipeline;
#[cfg(test)]
pub(crate) mod tests;
mod timestamps;
mod usage;

use relay_kafka::messages::SpanMessage;
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::{ContentType, IntegrationKind, Item, ItemType};
use relay_protocol::DataCategory;
use serde_json::{Map, Value};

use super::{ProcessingContext, ProcessingOutput, StoreRequest};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};
use pipeline::SpanPipeline;

pub use attributes::{
    attribute_from_json, attribute_str, attribute_value, attributes_mut, has_attribute,
    insert_attribute_if_absent, string_attribute, typed_attribute,
};
pub use container::{parse_container, ContainerError};
pub use extraction::extract_from_transaction;
pub use legacy::legacy_to_v2;
pub use relay_normalization::user_agent::parse_browser;
pub use timestamps::{
    retention_pair, sequence_nanos, unix_nanos, unix_seconds, TimestampRules, TooOld,
};

/// Why a span, or an item of spans, is rejected; `From<SpanError> for DiscardReason` names
/// the `invalid` reason of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    /// The item (container, legacy span, OTLP JSON) is not valid JSON.
    #[error("invalid JSON")]
    InvalidJson,
    /// An OTLP protobuf payload that does not decode.
    #[error("invalid OTLP protobuf")]
    InvalidProto,
    /// A span container whose `item_count` does not match its items.
    #[error("span container item count mismatch")]
    InvalidContainer,
    /// A span that is not a JSON object.
    #[error("span is not a JSON object")]
    NotAnObject,
    /// A span without a valid span id or trace id, or with an invalid parent span id.
    #[error("span without valid ids")]
    InvalidIds,
    /// A span without start or end timestamp.
    #[error("span without start or end timestamp")]
    MissingTimestamps,
    /// A `sentry.segment.id` attribute that is not a span id.
    #[error("invalid segment id")]
    InvalidSegmentId,
    /// A span older than the retention allows.
    #[error("span timestamp out of range")]
    TooOld,
    /// Another span of the envelope has the same span id (the last one wins).
    #[error("another span has the same span id")]
    DuplicateSpanId,
    /// A span envelope without dynamic sampling context.
    #[error("span envelope without dynamic sampling context")]
    MissingDsc,
    /// A span whose trace id differs from the DSC's.
    #[error("span trace id differs from the DSC")]
    DscMismatch,
    /// A span of a transaction that cannot become a span message (no usable span id or
    /// start timestamp).
    #[error("unusable span of a transaction")]
    InvalidTransactionSpan,
}

impl From<SpanError> for DiscardReason {
    fn from(error: SpanError) -> DiscardReason {
        match error {
            SpanError::InvalidJson => DiscardReason::InvalidJson,
            SpanError::InvalidProto => DiscardReason::InvalidProto,
            SpanError::InvalidContainer
            | SpanError::NotAnObject
            | SpanError::InvalidIds
            | SpanError::MissingTimestamps
            | SpanError::InvalidSegmentId
            | SpanError::InvalidTransactionSpan => DiscardReason::InvalidSpan,
            SpanError::TooOld => DiscardReason::Timestamp,
            SpanError::DuplicateSpanId => DiscardReason::Duplicate,
            SpanError::MissingDsc => DiscardReason::MissingDsc,
            SpanError::DscMismatch => DiscardReason::InvalidDsc,
        }
    }
}

/// Feature: span attachments are processed (else dropped silently).
const FEATURE_SPAN_ATTACHMENTS: &str = "projects:span-v2-attachment-processing";

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

/// A span in the span v2 model: `trace_id`, `span_id`, `name`, `status`, timestamps,
/// `attributes` (`name → {"type", "value"}`), …
pub type SpanV2 = Map<String, Value>;

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
type Candidate = Result<SpanV2, SpanError>;

/// Runs the span processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let attachments = managed.take_items_where(is_span_attachment);
    if context.has_feature(FEATURE_SPAN_ATTACHMENTS) {
        // Span attachments are only ever stored in the objectstore, which this relay lacks:
        // the upload fails and there is no Kafka fallback (see `trace_attachments.rs`).
        for attachment in &attachments {
            managed.track_item_outcome(attachment, &Outcome::Invalid(DiscardReason::UploadFailed));
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
            managed.track_item_outcome(&item, &Outcome::Invalid(DiscardReason::DuplicateItem));
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
            Err(error) => managed.track_item_outcome(item, &Outcome::Invalid(error.into())),
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
fn expand(item: &Item, source: SpanSource) -> Result<Expanded, SpanError> {
    match source {
        SpanSource::Container => {
            let container = parse_container(item).map_err(|error| match error {
                ContainerError::InvalidJson => SpanError::InvalidJson,
                ContainerError::CountMismatch { .. } => SpanError::InvalidContainer,
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
                    _ => Err(SpanError::NotAnObject),
                })
                .collect();
            Ok((spans, settings))
        }
        SpanSource::Legacy => {
            let span = match serde_json::from_slice::<Value>(item.payload_slice()) {
                Ok(Value::Object(legacy)) => Ok(legacy_to_v2(&legacy, None)),
                Ok(_) => Err(SpanError::NotAnObject),
                Err(_) => Err(SpanError::InvalidJson),
            };
            Ok((vec![span], None))
        }
        SpanSource::Otlp => {
            let request = match item.content_type() {
                Some(ContentType::OtelSpansProtobuf) => {
                    otlp::decode_traces_protobuf(item.payload_slice())
                        .map_err(|_| SpanError::InvalidProto)?
                }
                _ => serde_json::from_slice::<Value>(item.payload_slice())
                    .map_err(|_| SpanError::InvalidJson)?,
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
