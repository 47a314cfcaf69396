//! The outcome aggregator: sums and emits the outcomes every stage tracks (the vocabulary and
//! the tracking channel are [`crate::outcome`]).
//!
//! Any stage that drops data calls [`OutcomeHandle::track`]. The aggregator task sums
//! identical outcomes per (project, time slot, outcome, reason, category) and emits them the
//! way the mode asks for (relay-protocol.md §7, outcomes.md §4):
//! - `emit_outcomes: false` → nothing is emitted;
//! - client reports (proxy mode, or managed with the default `"as_client_reports"`): only
//!   the representable subset, as `client_report` items in relay-generated envelopes;
//! - `emit_outcomes: true` in managed mode: `c:outcomes/<name>@none` counter buckets in a
//!   `metric_buckets` item.
//!
//! In managed mode outcomes pass through the metrics aggregator's time window: outcomes
//! older than `aggregator.max_secs_in_past` or further than `aggregator.max_secs_in_future`
//! in the future are discarded silently (outcomes.md §4.2; this is what drops client report
//! entries that are valid but older than five days).
//!
//! Tracking never blocks: the channel is bounded; when it is full the outcome is counted in a
//! lost-outcomes counter and logged, so an overloaded relay degrades its statistics, not its
//! ingestion.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "processing")]
use chrono::DateTime;
use chrono::Utc;
use relay_config::{Config, EmitOutcomes, RelayMode};
use relay_protocol::client_report::{ClientReport, DiscardedEvent};
use relay_protocol::{DataCategory, ProjectId, ProjectKey};
use tokio::sync::mpsc;

use crate::outcome::{
    DiscardReason, Outcome, OutcomeHandle, TrackOutcome, OUTCOME_CHANNEL_CAPACITY,
};
use crate::services::forwarding::sink::EnvelopeSink;
use crate::services::projects::ProjectCache;
#[cfg(feature = "processing")]
use crate::services::projects::ProjectStatus;
use crate::services::shutdown::ShutdownHandle;
use crate::utils::relay_envelope::relay_generated_envelope;
#[cfg(feature = "processing")]
use relay_kafka::messages::OutcomeMessage;

/// Where a processing relay produces outcome messages: its Kafka store.
#[cfg(feature = "processing")]
pub type OutcomeProducer = crate::services::store::StoreSink;

/// Without the processing feature there is no Kafka: this type has no values, so the
/// aggregator's `Option<OutcomeProducer>` is always `None`.
#[cfg(not(feature = "processing"))]
#[derive(Clone)]
pub enum OutcomeProducer {}

/// How soon outcome buckets of a project whose config is still pending are flushed again.
const PENDING_PROJECT_FLUSH_RETRY: Duration = Duration::from_secs(1);

/// Which client-report list an outcome belongs to, if any (relay-protocol.md §7.2).
fn client_report_list(outcome: &Outcome, mode: RelayMode) -> Option<ClientReportList> {
    match outcome {
        Outcome::Filtered(key) if key.is_sampling() => Some(ClientReportList::FilteredSampling),
        Outcome::Filtered(_) => Some(ClientReportList::Filtered),
        Outcome::RateLimited(_) => Some(ClientReportList::RateLimited),
        Outcome::ClientDiscard(_) if mode != RelayMode::Proxy => Some(ClientReportList::Discarded),
        Outcome::Invalid(DiscardReason::InvalidSignature | DiscardReason::MissingSignature) => {
            Some(ClientReportList::Discarded)
        }
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ClientReportList {
    Discarded,
    RateLimited,
    Filtered,
    FilteredSampling,
}

/// Aggregation key: identical outcomes in one slot are summed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct BucketKey {
    project_key: ProjectKey,
    project_id: ProjectId,
    /// Scoping of the Kafka message (processing); the project key determines both.
    organization_id: u64,
    key_id: Option<u64>,
    slot: i64,
    outcome: Outcome,
    category: DataCategory,
}

/// Starts the aggregator and returns its handle.
///
/// With `kafka` (processing relays) every outcome is emitted to the `outcomes` /
/// `outcomes_billing` topics regardless of `outcomes.emit_outcomes` (outcomes.md §4.1, §5).
pub fn start_outcome_aggregator(
    config: Arc<Config>,
    sink: EnvelopeSink,
    kafka: Option<OutcomeProducer>,
    projects: ProjectCache,
    shutdown: ShutdownHandle,
) -> OutcomeHandle {
    let emit = config.emit_outcomes();
    if emit == EmitOutcomes::False && kafka.is_none() {
        return OutcomeHandle::disabled();
    }
    let (sender, receiver) = mpsc::channel(OUTCOME_CHANNEL_CAPACITY);
    let aggregator = OutcomeAggregator {
        bucket_interval: i64::try_from(config.aggregator_bucket_interval().as_secs().max(1))
            .unwrap_or(i64::MAX),
        initial_delay: config.aggregator_initial_delay(),
        mode: config.mode(),
        accepted_window: (config.mode() != RelayMode::Proxy).then(|| AcceptedWindow {
            max_secs_in_past: i64::try_from(config.aggregator_max_secs_in_past())
                .unwrap_or(i64::MAX),
            max_secs_in_future: i64::try_from(config.aggregator_max_secs_in_future())
                .unwrap_or(i64::MAX),
        }),
        as_metrics: kafka.is_some()
            || (emit == EmitOutcomes::True && config.mode() != RelayMode::Proxy),
        kafka,
        projects,
        source: config.outcome_source().map(str::to_owned),
        buckets: BTreeMap::new(),
        sink,
        config,
    };
    tokio::spawn(aggregator.run(receiver, shutdown));
    OutcomeHandle::new(sender)
}

/// The timestamps the metrics aggregator accepts, relative to now (managed mode only).
#[derive(Clone, Copy, Debug)]
struct AcceptedWindow {
    max_secs_in_past: i64,
    max_secs_in_future: i64,
}

impl AcceptedWindow {
    fn contains(&self, timestamp: i64, now: i64) -> bool {
        timestamp >= now.saturating_sub(self.max_secs_in_past)
            && timestamp <= now.saturating_add(self.max_secs_in_future)
    }
}

struct OutcomeAggregator {
    config: Arc<Config>,
    bucket_interval: i64,
    initial_delay: Duration,
    mode: RelayMode,
    /// `None` in proxy mode, which aggregates client reports directly.
    accepted_window: Option<AcceptedWindow>,
    as_metrics: bool,
    /// Processing: outcome messages go to Kafka instead of upstream.
    kafka: Option<OutcomeProducer>,
    /// Project configs, for the scoping of Kafka outcome messages at flush time.
    projects: ProjectCache,
    source: Option<String>,
    buckets: BTreeMap<BucketKey, u64>,
    sink: EnvelopeSink,
}

impl OutcomeAggregator {
    async fn run(mut self, mut receiver: mpsc::Receiver<TrackOutcome>, shutdown: ShutdownHandle) {
        let mut flush_at: Option<tokio::time::Instant> = None;
        let mut draining = false;
        loop {
            let flush_timer = async {
                match flush_at {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = receiver.recv() => {
                    let Some(outcome) = received else { break };
                    if !self.add(outcome) {
                        continue;
                    }
                    if self.initial_delay.is_zero() {
                        self.flush().await;
                    } else if flush_at.is_none() {
                        flush_at = Some(tokio::time::Instant::now() + self.initial_delay);
                    }
                }
                _ = flush_timer => {
                    flush_at = None;
                    self.flush().await;
                }
                _ = shutdown.reached(crate::services::shutdown::Phase::Draining), if !draining => {
                    if self.kafka.is_some() {
                        // Processing keeps producing while envelopes drain; from now on
                        // every outcome is flushed right away, until relay finishes.
                        draining = true;
                        self.initial_delay = Duration::ZERO;
                        self.flush().await;
                        continue;
                    }
                    // Take what is still queued, flush once and stop: the drain of the
                    // upstream queue that follows carries the reports.
                    receiver.close();
                    while let Some(outcome) = receiver.recv().await {
                        self.add(outcome);
                    }
                    self.flush().await;
                    return;
                }
                _ = shutdown.reached(crate::services::shutdown::Phase::Finished), if draining => {
                    while let Ok(outcome) = receiver.try_recv() {
                        self.add(outcome);
                    }
                    self.flush().await;
                    return;
                }
            }
            // Buckets of projects whose config is still pending wait for another flush.
            if !self.buckets.is_empty() && flush_at.is_none() {
                flush_at = Some(tokio::time::Instant::now() + PENDING_PROJECT_FLUSH_RETRY);
            }
        }
        self.flush().await;
    }

    /// Adds an outcome; false when this mode does not emit it.
    fn add(&mut self, tracked: TrackOutcome) -> bool {
        if !self.as_metrics && client_report_list(&tracked.outcome, self.mode).is_none() {
            return false;
        }
        let Some(project_id) = tracked.scoping.project_id else {
            tracing::debug!("dropping outcome without project id");
            return false;
        };
        let timestamp = tracked.timestamp.timestamp();
        if let Some(window) = &self.accepted_window {
            if !window.contains(timestamp, Utc::now().timestamp()) {
                tracing::debug!(
                    timestamp,
                    "dropping outcome outside the aggregator's time window"
                );
                return false;
            }
        }
        let key = BucketKey {
            project_key: tracked.scoping.project_key,
            project_id,
            organization_id: tracked.scoping.organization_id.unwrap_or(0),
            key_id: tracked.scoping.key_id,
            slot: timestamp - timestamp.rem_euclid(self.bucket_interval),
            outcome: tracked.outcome,
            category: tracked.category,
        };
        *self.buckets.entry(key).or_default() += u64::from(tracked.quantity);
        true
    }

    async fn flush(&mut self) {
        let buckets = std::mem::take(&mut self.buckets);
        if buckets.is_empty() {
            return;
        }
        if let Some(kafka) = &self.kafka {
            let waiting =
                produce_outcomes(kafka, &self.projects, self.source.as_deref(), buckets).await;
            self.buckets.extend(waiting);
            return;
        }
        if self.initial_delay.is_zero() && self.mode == RelayMode::Proxy && !self.as_metrics {
            // Every single outcome travels alone (relay-protocol.md §7.2, proxy mode).
            for (key, quantity) in buckets {
                let (project_key, project_id) = (key.project_key, key.project_id);
                self.send_client_reports(&project_key, project_id, vec![(key, quantity)]);
            }
            return;
        }
        let mut per_project: BTreeMap<(ProjectKey, ProjectId), Vec<(BucketKey, u64)>> =
            BTreeMap::new();
        for (key, quantity) in buckets {
            per_project
                .entry((key.project_key, key.project_id))
                .or_default()
                .push((key, quantity));
        }
        for ((project_key, project_id), entries) in per_project {
            if self.as_metrics {
                self.send_metric_buckets(&project_key, project_id, entries);
            } else if self.mode == RelayMode::Proxy {
                // One envelope per (project, time slot).
                let mut per_slot: BTreeMap<i64, Vec<(BucketKey, u64)>> = BTreeMap::new();
                for (key, quantity) in entries {
                    per_slot.entry(key.slot).or_default().push((key, quantity));
                }
                for (_, slot_entries) in per_slot {
                    self.send_client_reports(&project_key, project_id, slot_entries);
                }
            } else {
                self.send_client_reports(&project_key, project_id, entries);
            }
        }
    }

    /// One envelope for the project; one `client_report` item per distinct slot.
    fn send_client_reports(
        &self,
        project_key: &ProjectKey,
        project_id: ProjectId,
        entries: Vec<(BucketKey, u64)>,
    ) {
        let mut reports: BTreeMap<i64, ClientReport> = BTreeMap::new();
        for (key, quantity) in entries {
            let Some(list) = client_report_list(&key.outcome, self.mode) else {
                continue;
            };
            let report = reports.entry(key.slot).or_insert_with(|| ClientReport {
                timestamp: u64::try_from(key.slot).ok(),
                ..ClientReport::default()
            });
            let entry = DiscardedEvent {
                reason: key.outcome.reason().unwrap_or_default(),
                category: key.category,
                quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
            };
            match list {
                ClientReportList::Discarded => report.discarded_events.push(entry),
                ClientReportList::RateLimited => report.rate_limited_events.push(entry),
                ClientReportList::Filtered => report.filtered_events.push(entry),
                ClientReportList::FilteredSampling => report.filtered_sampling_events.push(entry),
            }
        }
        if reports.is_empty() {
            return;
        }
        let items = reports
            .into_values()
            .map(|report| {
                (
                    relay_protocol::envelope::ItemType::ClientReport,
                    report.serialize(),
                )
            })
            .collect();
        let envelope = relay_generated_envelope(&self.config, project_key, project_id, items);
        self.sink
            .submit_relay_generated(envelope, *project_key, project_id);
    }

    /// Outcomes as counter buckets (relay-protocol.md §7.1).
    fn send_metric_buckets(
        &self,
        project_key: &ProjectKey,
        project_id: ProjectId,
        entries: Vec<(BucketKey, u64)>,
    ) {
        let buckets: Vec<serde_json::Value> = entries
            .into_iter()
            .map(|(key, quantity)| {
                let mut tags = serde_json::Map::new();
                if let Some(category) = key.category.value() {
                    tags.insert("category".into(), category.to_string().into());
                }
                if let Some(reason) = key.outcome.reason() {
                    tags.insert("reason".into(), reason.into());
                }
                if let Some(source) = &self.source {
                    tags.insert("source".into(), source.clone().into());
                }
                serde_json::json!({
                    "timestamp": key.slot,
                    "width": 0,
                    "name": format!("c:outcomes/{}@none", key.outcome.name()),
                    "type": "c",
                    "value": quantity as f64,
                    "tags": tags,
                })
            })
            .collect();
        let payload = match serde_json::to_vec(&buckets) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(error = %error, "could not serialize outcome buckets");
                return;
            }
        };
        let envelope = relay_generated_envelope(
            &self.config,
            project_key,
            project_id,
            vec![(relay_protocol::envelope::ItemType::MetricBuckets, payload)],
        );
        self.sink
            .submit_relay_generated(envelope, *project_key, project_id);
    }
}

/// Without the processing feature `kafka` cannot exist.
#[cfg(not(feature = "processing"))]
async fn produce_outcomes(
    kafka: &OutcomeProducer,
    _projects: &ProjectCache,
    _source: Option<&str>,
    _buckets: BTreeMap<BucketKey, u64>,
) -> BTreeMap<BucketKey, u64> {
    match *kafka {}
}

/// One outcome message per bucket (outcomes.md §5). The org, project and key ids come from
/// the project config at flush time (§4.2): buckets of a pending project are handed back to
/// wait, those of a disabled project or of a config without `projectId` are dropped.
#[cfg(feature = "processing")]
async fn produce_outcomes(
    kafka: &OutcomeProducer,
    projects: &ProjectCache,
    source: Option<&str>,
    buckets: BTreeMap<BucketKey, u64>,
) -> BTreeMap<BucketKey, u64> {
    let mut waiting = BTreeMap::new();
    for (mut key, quantity) in buckets {
        match projects.get(&key.project_key, false) {
            ProjectStatus::Enabled(state) => {
                let Some(project_id) = state.project_id else {
                    tracing::error!(
                        project_key = %key.project_key,
                        "dropping outcomes of a project config without project id"
                    );
                    continue;
                };
                key.project_id = project_id;
                key.organization_id = state.organization_id.unwrap_or(0);
                key.key_id = state.key_id(&key.project_key);
            }
            ProjectStatus::Disabled => continue,
            ProjectStatus::Pending => {
                waiting.insert(key, quantity);
                continue;
            }
            // Processing relays always have project configs; keep the tracked scoping.
            ProjectStatus::Proxy => {}
        }
        let Some(timestamp) = DateTime::from_timestamp(key.slot, 0) else {
            continue;
        };
        let mut message = OutcomeMessage::new(
            timestamp,
            key.organization_id,
            key.project_id,
            key.key_id,
            key.outcome.id(),
            quantity,
        )
        .with_category(key.category);
        if let Some(reason) = key.outcome.reason() {
            message = message.with_reason(reason);
        }
        if let Some(source) = source {
            message = message.with_source(source);
        }
        kafka.produce_outcome(&message).await;
    }
    waiting
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{normalize_sampled_reason, sampled_reason};

    #[cfg(feature = "processing")]
    fn bucket(project_key: ProjectKey) -> (BucketKey, u64) {
        let key = BucketKey {
            project_key,
            project_id: ProjectId(1),
            // Tracked before the config was known: no org, no key id.
            organization_id: 0,
            key_id: None,
            slot: 1_717_000_000,
            outcome: Outcome::Invalid(DiscardReason::TooLarge("event".into())),
            category: DataCategory::Error,
        };
        (key, 3)
    }

    #[cfg(feature = "processing")]
    #[tokio::test]
    async fn kafka_outcomes_take_their_scoping_from_the_config_at_flush() {
        let directory = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.values.processing.enabled = true;
        let store = OutcomeProducer::from_config(&config, directory.path()).unwrap();
        let projects = ProjectCache::new(Arc::new(config));
        let enabled = ProjectKey::parse("a94ae32be2584e0bbd7a4cbb95971fee").unwrap();
        let disabled = ProjectKey::parse("b94ae32be2584e0bbd7a4cbb95971fee").unwrap();
        let pending = ProjectKey::parse("c94ae32be2584e0bbd7a4cbb95971fee").unwrap();
        let state = crate::services::projects::ProjectState::parse(serde_json::json!({
            "projectId": 42,
            "organizationId": 7,
            "publicKeys": [{"publicKey": enabled.as_str(), "numericId": 9}],
            "config": {},
        }))
        .unwrap();
        // Nothing is resolved before the global config arrived (processing.md §1.2).
        projects.set_global_config(serde_json::json!({}));
        for key in [enabled, disabled] {
            projects.get(&key, false);
        }
        projects.resolve(&enabled, Some(state));
        projects.resolve(&disabled, None);

        let buckets = BTreeMap::from([bucket(enabled), bucket(disabled), bucket(pending)]);
        let waiting = produce_outcomes(&store, &projects, None, buckets).await;
        store.flush(Duration::from_secs(1));

        assert_eq!(
            waiting
                .keys()
                .map(|key| key.project_key)
                .collect::<Vec<_>>(),
            [pending]
        );
        let produced = std::fs::read_to_string(directory.path().join("outcomes.jsonl")).unwrap();
        assert_eq!(
            produced,
            "{\"timestamp\":\"2024-05-29T16:26:40.000000Z\",\"org_id\":7,\"project_id\":42,\"key_id\":9,\
             \"outcome\":3,\"reason\":\"too_large:event\",\"category\":1,\"quantity\":3}\n"
        );
    }

    #[test]
    fn client_report_subset() {
        let proxy = RelayMode::Proxy;
        let managed = RelayMode::Managed;
        assert_eq!(
            client_report_list(&Outcome::Filtered(sampled_reason([3000])), proxy),
            Some(ClientReportList::FilteredSampling)
        );
        assert_eq!(
            client_report_list(&Outcome::RateLimited(None), proxy),
            Some(ClientReportList::RateLimited)
        );
        assert_eq!(
            client_report_list(&Outcome::ClientDiscard("x".into()), proxy),
            None
        );
        assert_eq!(
            client_report_list(&Outcome::ClientDiscard("x".into()), managed),
            Some(ClientReportList::Discarded)
        );
        assert_eq!(
            client_report_list(&Outcome::Invalid(DiscardReason::MissingSignature), managed),
            Some(ClientReportList::Discarded)
        );
        assert_eq!(
            client_report_list(&Outcome::Invalid(DiscardReason::ProjectId), managed),
            None
        );
    }

    #[test]
    fn sampled_reasons_use_rule_categories() {
        assert_eq!(sampled_reason([3000]).to_string(), "Sampled:3000");
        assert_eq!(
            sampled_reason([1004, 1000]).to_string(),
            "Sampled:1000,1004"
        );
        // The catch-all comes last, it is not sorted numerically.
        assert_eq!(sampled_reason([7, 1004]).to_string(), "Sampled:1004,0");
        assert_eq!(
            sampled_reason([1450, 1599, 4999, 5000]).to_string(),
            "Sampled:1400,1500,3000,0"
        );
        assert_eq!(
            sampled_reason([3001, 3002, 1]).to_string(),
            "Sampled:3000,0"
        );
        assert_eq!(
            normalize_sampled_reason("Sampled:1,3005,1001")
                .map(|key| key.to_string())
                .as_deref(),
            Some("Sampled:1001,3000,0")
        );
        assert_eq!(normalize_sampled_reason("Sampled:"), None);
        assert_eq!(normalize_sampled_reason("Sampled:1,x"), None);
        assert_eq!(normalize_sampled_reason("Sampled:-1"), None);
        assert_eq!(normalize_sampled_reason("Sampled:+1"), None);
        assert_eq!(normalize_sampled_reason("Sampled:1,,2"), None);
        assert_eq!(normalize_sampled_reason("Sampled:99999999999"), None);
        assert_eq!(normalize_sampled_reason("sampled:1"), None);
        assert_eq!(normalize_sampled_reason("release-version"), None);
    }

    #[test]
    fn accepted_window_bounds() {
        let window = AcceptedWindow {
            max_secs_in_past: 100,
            max_secs_in_future: 10,
        };
        assert!(window.contains(1000, 1000));
        assert!(window.contains(900, 1000));
        assert!(!window.contains(899, 1000));
        assert!(window.contains(1010, 1000));
        assert!(!window.contains(1011, 1000));
    }

    #[test]
    fn reasons_render_like_the_spec() {
        assert_eq!(
            Outcome::Invalid(DiscardReason::TooLarge("attachment:minidump".into()))
                .reason()
                .as_deref(),
            Some("too_large:attachment:minidump")
        );
        assert_eq!(Outcome::RateLimited(None).reason(), None);
        assert_eq!(Outcome::Invalid(DiscardReason::ProjectId).id(), 3);
    }
}
