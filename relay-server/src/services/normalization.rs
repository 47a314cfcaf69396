//! Event normalization in the server (`normalization.md`, `processing.md` §3.1–§3.2): the
//! knobs of `relay-normalization` that this relay's config, the project config and the
//! request set, and the event payload round trip (parse → normalize → serialize).
//!
//! Two depths (`config.md` §4.8, `normalization.level`):
//!
//! * **full**: processing relays (the last layer) and managed relays with
//!   `normalization.level: full`: every step, including the removal of unknown attributes
//!   (`normalization.md` §9) and the `errors` list (§10.2);
//! * **forward compatible**: managed relays with the default level: the same steps without
//!   those two, because an upstream that knows more attributes normalizes again.
//!
//! Proxy relays never normalize. Everything here is CPU work without I/O: callers run it on a
//! worker pool, never on the HTTP reactor threads.
//!
//! [`NormalizationResources`] holds what outlives a request: the GeoIP database (opened once
//! at startup; a broken `geoip.path` stops startup with the reason) and the parsed global
//! config (through the project cache, which receives it).

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use relay_config::{Config, NormalizationLevel};
use relay_event::schema::Event;
use relay_event::{Annotated, ProcessingAction, Timestamp};
use relay_normalization::geo::{GeoIpError, GeoIpLookup};
use relay_normalization::security_report::SubmitterHeaders;
use relay_normalization::NormalizationConfig;
use relay_protocol::envelope::{EnvelopeHeaders, TraceHeader};
use relay_quotas::Scoping;

use crate::outcome::DiscardReason;
use crate::services::projects::{ProjectCache, ProjectState};

/// The longest metric name the metrics aggregator accepts; measurement names are limited
/// so that their metric names fit (`normalization.md` §7 step 18).
const MAX_METRIC_NAME_LENGTH: usize = 200;

/// What normalization needs beyond one request and one project; cheap to clone. The
/// default has no GeoIP database and no global config (tests, tools).
#[derive(Clone, Default)]
pub struct NormalizationResources {
    geoip: Option<Arc<GeoIpLookup>>,
    projects: Option<ProjectCache>,
}

impl NormalizationResources {
    /// Opens the GeoIP database of `geoip.path` (or `processing.geoip_path`), if configured.
    pub fn load(config: &Config, projects: ProjectCache) -> Result<Self, GeoIpError> {
        // The user-agent regexes take about a second to compile; compile them now, off the
        // request path, instead of in the first event that needs them.
        let compile = std::thread::Builder::new()
            .name("relay-ua-regexes".into())
            .spawn(relay_normalization::user_agent::prepare);
        if let Err(error) = compile {
            // Not fatal: the first event that needs them compiles them.
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "cannot compile the user-agent regexes in the background"
            );
        }
        let geoip = match config.geoip_path() {
            Some(path) => {
                let lookup = GeoIpLookup::open(&path)?;
                tracing::info!(path = %path.display(), "GeoIP database loaded");
                Some(Arc::new(lookup))
            }
            None => None,
        };
        Ok(NormalizationResources {
            geoip,
            projects: Some(projects),
        })
    }

    /// The GeoIP database, if one is configured (replay events and spans, which only
    /// processing relays handle).
    #[cfg(feature = "processing")]
    pub fn geoip(&self) -> Option<&GeoIpLookup> {
        self.geoip.as_deref()
    }
}

/// How much of normalization a relay runs on the events it handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormalizationDepth {
    /// Every step (processing relays; `normalization.level: full`).
    Full,
    /// Every step but the removal of unknown attributes and the `errors` list.
    ForwardCompatible,
}

impl NormalizationDepth {
    /// The depth of this relay: full when processing or configured `full`.
    pub fn of(config: &Config) -> NormalizationDepth {
        if config.processing_enabled() || config.normalization_level() == NormalizationLevel::Full {
            NormalizationDepth::Full
        } else {
            NormalizationDepth::ForwardCompatible
        }
    }
}

/// What the request told about the event (besides the payload).
pub struct RequestFacts<'a> {
    /// The envelope headers: `sent_at`, the client string, the protocol version.
    pub headers: &'a EnvelopeHeaders,
    /// When this relay received the request.
    pub received_at: DateTime<Utc>,
    /// The client address (the outermost relay's `remote_addr` or the peer).
    pub client_addr: Option<IpAddr>,
    /// The project and key the envelope belongs to.
    pub scoping: &'a Scoping,
}

/// Transactions and spans must end within this many seconds before the receive time: the
/// metrics aggregator's default `max_secs_in_past` (`normalization.md` §1.1, `[now − 5 days,
/// now + 60 s)`).
fn transaction_range(config: &Config, received_at: DateTime<Utc>) -> (Timestamp, Timestamp) {
    let past = i64::try_from(config.aggregator_max_secs_in_past()).unwrap_or(i64::MAX);
    let future = i64::try_from(config.aggregator_max_secs_in_future()).unwrap_or(i64::MAX);
    let start = received_at
        .checked_sub_signed(ChronoDuration::seconds(past))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let end = received_at
        .checked_add_signed(ChronoDuration::seconds(future))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (Timestamp(start), Timestamp(end))
}

/// The user agent and client hints of the submitting request, as the envelope headers carry
/// them; `None` when the request sent none.
pub fn submitter_headers(headers: &EnvelopeHeaders) -> Option<SubmitterHeaders> {
    let hints = &headers.client_hints;
    if headers.user_agent.is_none() && hints.is_empty() {
        return None;
    }
    Some(SubmitterHeaders {
        user_agent: headers.user_agent.clone(),
        sec_ch_ua_platform: hints.sec_ch_ua_platform.clone(),
        sec_ch_ua_platform_version: hints.sec_ch_ua_platform_version.clone(),
        sec_ch_ua: hints.sec_ch_ua.clone(),
        sec_ch_ua_model: hints.sec_ch_ua_model.clone(),
    })
}

/// The knobs of the server pipeline (`normalization.md` §1.1, the last column).
pub fn normalization_config(
    config: &Config,
    resources: &NormalizationResources,
    project: &ProjectState,
    request: &RequestFacts<'_>,
    depth: NormalizationDepth,
) -> NormalizationConfig {
    let full = depth == NormalizationDepth::Full;
    let retention_days = u64::from(project.config.event_retention_days());
    let global = resources
        .projects
        .as_ref()
        .map(ProjectCache::global_normalization)
        .unwrap_or_default();
    let project_normalization = &project.normalization;
    let dsc = match &request.headers.trace {
        Some(TraceHeader::Valid(dsc)) => Some(dsc),
        _ => None,
    };
    NormalizationConfig {
        is_renormalize: false,
        enable_trimming: true,
        remove_other: Some(full),
        emit_event_errors: Some(full),
        received_at: Some(Timestamp(request.received_at)),
        sent_at: request.headers.sent_at.map(Timestamp),
        max_secs_in_past: Some(retention_days * 86_400),
        max_secs_in_future: Some(u64::from(config.max_secs_in_future())),
        transaction_range: Some(transaction_range(config, request.received_at)),
        client_ip: request.client_addr,
        infer_ip_address: !project.normalization.scrub_ip_addresses,
        project_id: request.scoping.project_id.map(|id| id.0),
        key_id: request.scoping.key_id,
        protocol_version: request.headers.version,
        client: request.headers.client.clone(),
        grouping_config: project_normalization.grouping_config.clone(),
        transaction_name_rules: project_normalization.transaction_name_rules.clone(),
        measurements: project_normalization.combined_measurements(&global, MAX_METRIC_NAME_LENGTH),
        normalize_spans: true,
        normalize_user_agent: true,
        breakdowns: project_normalization.breakdowns.clone(),
        performance_score: project_normalization.performance_score.clone(),
        ai_model_metadata: global.ai_model_metadata.clone(),
        span_op_defaults: global.span_op_defaults.clone(),
        geoip_lookup: resources.geoip.clone(),
        submitter_headers: submitter_headers(request.headers),
        replay_id: dsc
            .and_then(|dsc| dsc.replay_id)
            .map(relay_event::schema::EventId),
        client_sample_rate: dsc.and_then(|dsc| dsc.sample_rate),
    }
}

/// Parses an event payload into the event model. Only malformed JSON and a payload that is
/// not an object are errors (`invalid_json`); every other problem becomes `_meta`.
pub fn parse_event(payload: &[u8]) -> Result<Annotated<Event>, DiscardReason> {
    // Parsed straight into the model, without an intermediate JSON tree.
    let event: Annotated<Event> =
        relay_event::from_json_slice(payload).map_err(|_| DiscardReason::InvalidJson)?;
    // Anything but an object leaves no event (only an error in its meta).
    if event.value().is_none() {
        return Err(DiscardReason::InvalidJson);
    }
    Ok(event)
}

/// Normalizes `event`; `Err` rejects it (`normalization.md` §4.3, §5: invalid transactions
/// and pre-1970 timestamps) with the outcome reason `invalid_transaction`.
pub fn normalize_event(
    event: &mut Annotated<Event>,
    config: &NormalizationConfig,
) -> Result<(), DiscardReason> {
    relay_normalization::normalize_event(event, config).map_err(|action| match action {
        ProcessingAction::InvalidTransaction(reason) => {
            tracing::debug!(reason, "event rejected by normalization");
            DiscardReason::InvalidTransaction
        }
        // Deleting the root is not something normalization asks for; if it ever did, the
        // event would be gone, which is the same as rejecting it.
        ProcessingAction::DeleteValueHard | ProcessingAction::DeleteValueSoft => {
            DiscardReason::Internal
        }
    })
}

/// Serializes an event with its `_meta` (`normalization.md` §10–§11).
pub fn serialize_event(event: &Annotated<Event>) -> Result<Bytes, DiscardReason> {
    relay_event::to_json_vec(event)
        .map(Bytes::from)
        .map_err(|error| {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "cannot serialize a normalized event"
            );
            DiscardReason::Internal
        })
}

#[cfg(test)]
mod tests {
    use relay_protocol::envelope::EnvelopeHeaders;
    use relay_protocol::ProjectId;
    use serde_json::json;

    use super::*;

    fn project(config: serde_json::Value) -> ProjectState {
        ProjectState::parse(json!({"projectId": 42, "config": config})).unwrap()
    }

    fn knobs(
        relay_config: &Config,
        project: &ProjectState,
        depth: NormalizationDepth,
    ) -> NormalizationConfig {
        let headers = EnvelopeHeaders {
            client: Some("sentry.python/2.1.0".into()),
            version: Some(7),
            ..EnvelopeHeaders::default()
        };
        let mut scoping = Scoping::for_key("a94ae32be2584e0bbd7a4cbb95971fee".parse().unwrap());
        scoping.project_id = Some(ProjectId(42));
        scoping.key_id = Some(17);
        let request = RequestFacts {
            headers: &headers,
            received_at: DateTime::from_timestamp(1_704_067_200, 0).unwrap(),
            client_addr: Some("10.0.0.1".parse().unwrap()),
            scoping: &scoping,
        };
        normalization_config(
            relay_config,
            &NormalizationResources::default(),
            project,
            &request,
            depth,
        )
    }

    #[test]
    fn server_knobs_come_from_config_project_and_request() {
        let relay_config = Config::default();
        let project = project(json!({
            "eventRetention": 30,
            "groupingConfig": {"id": "newstyle:2023-01-11"},
            "datascrubbingSettings": {"scrubIpAddresses": true},
        }));
        let config = knobs(&relay_config, &project, NormalizationDepth::Full);
        assert_eq!(config.max_secs_in_past, Some(30 * 86_400));
        assert_eq!(config.max_secs_in_future, Some(60));
        assert!(config.enable_trimming && !config.is_renormalize);
        assert!(config.removes_other() && config.emits_event_errors());
        assert!(!config.infer_ip_address);
        assert_eq!(config.project_id, Some(42));
        assert_eq!(config.key_id, Some(17));
        assert_eq!(config.protocol_version, Some(7));
        assert_eq!(config.client.as_deref(), Some("sentry.python/2.1.0"));
        assert!(config.grouping_config.is_some());
        let (start, end) = config.transaction_range.unwrap();
        assert_eq!(start.0.timestamp(), 1_704_067_200 - 5 * 86_400);
        assert_eq!(end.0.timestamp(), 1_704_067_200 + 60);

        let forward = knobs(
            &relay_config,
            &project,
            NormalizationDepth::ForwardCompatible,
        );
        assert!(!forward.removes_other() && !forward.emits_event_errors());
        let default_project = knobs(&relay_config, &project_default(), NormalizationDepth::Full);
        assert!(default_project.infer_ip_address);
        assert_eq!(default_project.max_secs_in_past, Some(90 * 86_400));
    }

    fn project_default() -> ProjectState {
        project(json!({}))
    }

    #[test]
    fn depth_follows_processing_and_the_level() {
        let managed = Config::default();
        assert_eq!(
            NormalizationDepth::of(&managed),
            NormalizationDepth::ForwardCompatible
        );
        let full = Config::from_yaml_str("normalization:\n  level: full\n").unwrap();
        assert_eq!(NormalizationDepth::of(&full), NormalizationDepth::Full);
    }

    #[test]
    fn payloads_that_are_not_json_objects_are_invalid_json() {
        for payload in [&b"{"[..], b"[]", b"\"text\"", b"null", b"\xff"] {
            assert_eq!(
                parse_event(payload).err(),
                Some(DiscardReason::InvalidJson),
                "{payload:?}"
            );
        }
        assert!(parse_event(br#"{"level": 5}"#).is_ok());
    }

    #[test]
    fn invalid_transactions_are_rejected_as_invalid_transaction() {
        let mut event =
            parse_event(br#"{"type": "transaction", "timestamp": 10, "start_timestamp": 20}"#)
                .unwrap();
        let config = NormalizationConfig::default();
        assert_eq!(
            normalize_event(&mut event, &config),
            Err(DiscardReason::InvalidTransaction)
        );
    }
}
