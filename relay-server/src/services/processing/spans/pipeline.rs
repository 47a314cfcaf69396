//! The per-span stages of the span processor (§3.3), shared by all span sources:
//! id checks, duplicate removal, the DSC check, normalization and the relay attributes, then
//! one store request per span plus the usage buckets.
//!
//! Invariant: every candidate ends either as a produced span (counted in usage) or as an
//! `invalid` outcome for both `span` and `span_indexed`.

use std::collections::HashMap;

use relay_kafka::messages::SpanMessage;
use relay_protocol::DataCategory;
use serde_json::{Map, Value};

use super::attributes::dsc_attributes;
use super::ids::{is_span_id, normalize_ids, span_id_of, trace_id_of};
use super::timestamps::seconds_value;
use super::usage::UsageCounts;
use super::{
    attribute_str, attribute_value, attributes_mut, has_attribute, insert_attribute_if_absent,
    parse_browser, push_span, retention_pair, string_attribute, unix_nanos, Candidate, SpanError,
    SpanSource, SpanV2, TimestampRules, TooOld, ATTR_INGRESS, ATTR_OBSERVED_NANOS, ATTR_PIPELINE,
    ATTR_SEGMENT_ID, SPAN_RETENTION_PRODUCT,
};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};
use crate::services::processing::event::{parse_timestamp, AUTO_IP};
use crate::services::processing::{ProcessingContext, ProcessingOutput};

/// The per-span stages shared by all span sources of the span processor.
pub(super) struct SpanPipeline {
    pub(super) source: SpanSource,
    pub(super) ingest_settings: Map<String, Value>,
}

impl SpanPipeline {
    /// Runs the stages on the candidates of one envelope.
    pub(super) fn run(
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
                Err(error) => reject(error.into()),
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
                reject(SpanError::DuplicateSpanId.into());
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
                    reject(SpanError::MissingDsc.into());
                    continue;
                }
                Some(dsc) if trace_id_of(&span) != dsc.trace_id.to_string() => {
                    reject(SpanError::DscMismatch.into());
                    continue;
                }
                _ => {}
            }
            if let Err(error) = self.normalize(context, &rules, &mut span) {
                reject(error.into());
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
    ) -> Result<(), SpanError> {
        let start = span.get("start_timestamp").and_then(parse_timestamp);
        let end = span.get("end_timestamp").and_then(parse_timestamp);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(SpanError::MissingTimestamps);
        };
        let shift = rules.shift(end).map_err(|TooOld| SpanError::TooOld)?;
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
                return Err(SpanError::InvalidSegmentId);
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
        infer_user_geo(context, attributes);

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
        let scrub = context.scrub_ip_addresses();
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
            if let Some(version) = version {
                attributes.insert("browser.version".into(), string_attribute(version));
            }
        }
    }
}

/// `user.geo.*` (`country_code`, `city`, `subdivision`, `region`) from the span's
/// `client.address`, when a GeoIP database is configured and the span has no location yet
/// (processing.md §3.3 step 6, "geo"), the way `user.geo` is filled for events.
fn infer_user_geo(context: &ProcessingContext, attributes: &mut Map<String, Value>) {
    const GEO_PREFIX: &str = "user.geo.";
    let Some(lookup) = context.normalization.geoip() else {
        return;
    };
    if attributes.keys().any(|name| name.starts_with(GEO_PREFIX)) {
        return;
    }
    let Some(address) = attribute_str(attributes, "client.address")
        .and_then(|address| address.parse::<std::net::IpAddr>().ok())
    else {
        return;
    };
    // A lookup error means a corrupt record: the span goes on without a location.
    let Ok(Some(geo)) = lookup.lookup(address) else {
        return;
    };
    let fields = [
        ("country_code", geo.country_code.0),
        ("city", geo.city.0),
        ("subdivision", geo.subdivision.0),
        ("region", geo.region.0),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            attributes.insert(format!("{GEO_PREFIX}{field}"), string_attribute(value));
        }
    }
}
