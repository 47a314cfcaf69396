//! The aggregator task: receives buckets from [`super::MetricsHandle`], merges them into the
//! [`Aggregator`] and flushes due buckets (`processing.md` §3.12 "At flush"):
//!
//! * buckets of a project without a project id are dropped with an error log (no scoping);
//! * `sessions` namespace → one `MetricBucketMessage` per bucket on `ingest-metrics`
//!   (`KafkaTopic::MetricsSessions`); sets and distributions whose estimated message size
//!   exceeds `aggregator.max_flush_bytes` are split into several messages of the same bucket;
//! * `c:spans/usage@none` → `accepted` outcomes timestamped with the flush time: category
//!   `span` (quantity = counter value) and, for `is_segment: true`, also `transaction`
//!   (`outcomes.md` §6); span usage is never produced;
//! * every other namespace → dropped.
//!
//! Sessions EAP rollout (§3.6, §7.3.11): when the global option
//! `relay.sessions-eap.rollout-rate` selects the bucket's organization
//! (`(org_id % 100000) / 100000 < rate`), every `session`, `user` and `error` bucket is *also*
//! produced to `snuba-items` as one `TraceItem` of type USER_SESSION. The rate is read through
//! a [`SessionsEapRate`] once per flush that holds session buckets (reading the global config
//! clones it, so never per bucket); a flush without session buckets never reads it.
//!
//! Not implemented at flush yet: per-namespace `metric_bucket` quotas (cached rate limits,
//! `limit: 0`, Redis) and the "over-accept once" span quota of §3.12 steps 1–3.
//!
//! Produce failures cannot become outcomes (metrics carry no data category); enqueue errors
//! are retried briefly while Kafka's local queue is full, then logged, and delivery failures
//! are logged.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use relay_config::Config;
use relay_kafka::messages::{
    item_id_from_uuid, AnyValue, GaugeValue, MetricBucketMessage, MetricBucketValue,
    OutcomeMessage, Timestamp, TraceItem, TraceItemMessage, TraceItemType,
};
use relay_kafka::{EncodeKafkaMessage, KafkaMessage, KafkaTopic};
use relay_protocol::DataCategory;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::aggregator::{Aggregator, AggregatorSettings, MergeError};
use super::{
    parse_mri, Bucket, BucketValue, MetricsHandle, ProjectBucket, Shared, IS_SEGMENT_TAG,
    OUTCOMES_NAMESPACE, SESSIONS_NAMESPACE, SPAN_USAGE_METRIC,
};
use crate::outcome::{Outcome, OutcomeHandle, TrackOutcome};
use crate::services::projects::ProjectCache;
use crate::services::shutdown::{Phase, ShutdownHandle};
use crate::services::store::{Delivery, StoreSink};

/// How often due buckets are looked for. Bucket deadlines have second resolution; checking
/// four times a second keeps the added flush latency small without busy polling.
const FLUSH_TICK: Duration = Duration::from_millis(250);

/// Global option holding the share of organizations whose session buckets also go to
/// `snuba-items` (`project-config.md` §5).
pub const SESSIONS_EAP_ROLLOUT_OPTION: &str = "relay.sessions-eap.rollout-rate";
/// Organization ids are bucketed modulo this for the rollout decision (processing.md §3.6).
const SESSIONS_EAP_ORG_MODULUS: u64 = 100_000;
/// The session buckets written to `snuba-items` and the attribute holding their value.
const SESSIONS_EAP_METRICS: [(&str, &str); 3] = [
    ("c:sessions/session@none", "session_count"),
    ("s:sessions/user@none", "user_id_hash"),
    ("s:sessions/error@none", "errored_session_id_hash"),
];
/// Bucket tags copied into user-session attributes, with their attribute names.
const SESSIONS_EAP_TAGS: [(&str, &str); 5] = [
    ("session.status", "status"),
    ("release", "release"),
    ("environment", "environment"),
    ("sdk", "sdk"),
    ("abnormal_mechanism", "abnormal_mechanism"),
];

/// Reads the current `relay.sessions-eap.rollout-rate`; called at most once per flush.
pub type SessionsEapRate = Arc<dyn Fn() -> f64 + Send + Sync>;

/// A [`SessionsEapRate`] reading the global config held by the project cache (0 until one
/// arrived).
pub fn sessions_eap_rate(projects: ProjectCache) -> SessionsEapRate {
    Arc::new(move || {
        projects
            .global_config()
            .as_ref()
            .map_or(0.0, sessions_eap_rollout_rate)
    })
}

/// The rollout rate in a global config; missing or malformed (not a number) → 0.
pub fn sessions_eap_rollout_rate(global: &serde_json::Value) -> f64 {
    global
        .get("options")
        .and_then(|options| options.get(SESSIONS_EAP_ROLLOUT_OPTION))
        .and_then(serde_json::Value::as_f64)
        .filter(|rate| rate.is_finite())
        .unwrap_or(0.0)
}

/// Whether the rollout `rate` selects the organization.
fn sessions_eap_selects(organization_id: u64, rate: f64) -> bool {
    // Both sides are below 2^53, so the float conversion is exact.
    ((organization_id % SESSIONS_EAP_ORG_MODULUS) as f64 / SESSIONS_EAP_ORG_MODULUS as f64) < rate
}

/// Estimated bytes of a metric message besides its name, tags and values (keys, ids,
/// timestamps, punctuation).
const MESSAGE_BASE_BYTES: usize = 200;
/// Estimated bytes per tag besides key and value (quotes, colon, comma).
const MESSAGE_TAG_BYTES: usize = 6;
/// Longest JSON text of a set element (`4294967295,`).
const MESSAGE_SET_ELEMENT_BYTES: usize = 11;
/// Longest JSON text of a distribution value (a shortest-roundtrip `f64` plus comma).
const MESSAGE_DISTRIBUTION_ELEMENT_BYTES: usize = 25;

/// Starts the aggregator task of a processing relay and returns its handle.
///
/// Must run inside the tokio runtime. The task ends after a final flush once the shutdown
/// reaches [`Phase::Finished`] (or every handle was dropped).
pub fn start_metrics_aggregator(
    config: Arc<Config>,
    store: StoreSink,
    outcomes: OutcomeHandle,
    shutdown: ShutdownHandle,
    sessions_eap_rate: SessionsEapRate,
) -> MetricsHandle {
    let (handle, receiver) = MetricsHandle::channel();
    let service = MetricsService {
        aggregator: Aggregator::new(AggregatorSettings::from_config(config.aggregator_config())),
        flusher: Flusher {
            store,
            outcomes,
            max_flush_bytes: config.aggregator_max_flush_bytes().max(1),
            sessions_eap_rate,
        },
        shared: handle.shared.clone(),
        rejected: 0,
    };
    tokio::spawn(service.run(receiver, shutdown));
    handle
}

struct MetricsService {
    aggregator: Aggregator,
    flusher: Flusher,
    shared: Arc<Shared>,
    /// Buckets rejected for capacity since the last report (logged once per flush).
    rejected: u64,
}

impl MetricsService {
    async fn run(
        mut self,
        mut receiver: mpsc::Receiver<Vec<ProjectBucket>>,
        shutdown: ShutdownHandle,
    ) {
        let mut ticker = tokio::time::interval(FLUSH_TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut draining = false;
        loop {
            tokio::select! {
                received = receiver.recv() => {
                    let Some(batch) = received else { break };
                    self.merge(batch);
                    if draining {
                        self.flush_all().await;
                    }
                }
                _ = ticker.tick() => self.flush_due().await,
                _ = shutdown.reached(Phase::Draining), if !draining => {
                    // Envelopes still drain through the processors: from now on buckets are
                    // flushed as soon as they arrive.
                    draining = true;
                    self.flush_all().await;
                }
                _ = shutdown.reached(Phase::Finished) => {
                    while let Ok(batch) = receiver.try_recv() {
                        self.merge(batch);
                    }
                    break;
                }
            }
        }
        self.flush_all().await;
    }

    fn merge(&mut self, batch: Vec<ProjectBucket>) {
        let now = Utc::now().timestamp();
        for bucket in batch {
            match self.aggregator.merge(bucket, now) {
                Ok(()) => {}
                Err(MergeError::CapacityExceeded) => self.rejected += 1,
                Err(error) => {
                    tracing::debug!(
                        error = &error as &dyn std::error::Error,
                        "dropping metric bucket"
                    );
                }
            }
        }
        self.update_capacity();
    }

    fn update_capacity(&mut self) {
        self.shared
            .over_capacity
            .store(self.aggregator.is_over_capacity(), Ordering::Relaxed);
        if self.rejected > 0 {
            tracing::error!(
                rejected_buckets = self.rejected,
                bucket_bytes = self.aggregator.total_cost(),
                "aggregator limit exceeded, metric buckets dropped"
            );
            self.rejected = 0;
        }
    }

    async fn flush_due(&mut self) {
        let buckets = self.aggregator.flush_due(Utc::now().timestamp());
        self.flusher.flush(buckets, Utc::now()).await;
        self.update_capacity();
    }

    async fn flush_all(&mut self) {
        let buckets = self.aggregator.flush_all();
        self.flusher.flush(buckets, Utc::now()).await;
        self.update_capacity();
    }
}

/// Turns flushed buckets into Kafka messages and outcomes.
struct Flusher {
    store: StoreSink,
    outcomes: OutcomeHandle,
    max_flush_bytes: usize,
    sessions_eap_rate: SessionsEapRate,
}

impl Flusher {
    async fn flush(&self, buckets: Vec<ProjectBucket>, now: DateTime<Utc>) {
        if buckets.is_empty() {
            return;
        }
        // Read once per flush: the global config may change between flushes, and reading it
        // clones it.
        let eap_rate = if buckets
            .iter()
            .any(|bucket| is_sessions_eap_metric(&bucket.bucket.name))
        {
            (self.sessions_eap_rate)()
        } else {
            0.0
        };
        let mut deliveries = Vec::new();
        for bucket in buckets {
            for (topic, message) in self.route(bucket, now, eap_rate).await {
                if let Some(delivery) = self.send(topic, message).await {
                    deliveries.push(delivery);
                }
            }
        }
        if deliveries
            .iter()
            .any(|delivery| matches!(delivery, Delivery::Kafka(_)))
        {
            tokio::spawn(async move {
                for delivery in deliveries {
                    if let Err(error) = delivery.wait().await {
                        tracing::error!(
                            error = &error as &dyn std::error::Error,
                            "metric bucket was not delivered"
                        );
                    }
                }
            });
        }
    }

    /// The Kafka messages of one flushed bucket with their topics; tracks its outcomes.
    async fn route(
        &self,
        project_bucket: ProjectBucket,
        now: DateTime<Utc>,
        eap_rate: f64,
    ) -> Vec<(KafkaTopic, KafkaMessage)> {
        let ProjectBucket {
            scoping,
            retention_days,
            bucket,
        } = project_bucket;
        let Some(project_id) = scoping.project_id else {
            tracing::error!(
                project_key = %scoping.project_key,
                "dropping metric bucket of a project without project id"
            );
            return Vec::new();
        };
        let Some(namespace) = parse_mri(&bucket.name).map(|mri| mri.namespace) else {
            return Vec::new();
        };
        if bucket.name == SPAN_USAGE_METRIC {
            self.track_span_usage(&scoping, &bucket, now);
            return Vec::new();
        }
        if namespace == OUTCOMES_NAMESPACE {
            self.produce_outcome_bucket(&scoping, project_id, &bucket)
                .await;
            return Vec::new();
        }
        if namespace != SESSIONS_NAMESPACE {
            return Vec::new();
        }
        let organization_id = scoping.organization_id.unwrap_or(0);
        let user_session = if sessions_eap_selects(organization_id, eap_rate) {
            user_session_item(organization_id, project_id.0, retention_days, &bucket, now)
        } else {
            None
        };
        let mut messages: Vec<(KafkaTopic, KafkaMessage)> =
            split_bucket(bucket, self.max_flush_bytes)
                .into_iter()
                .filter_map(|part| {
                    let received_at = part.received_at.and_then(|at| u64::try_from(at).ok());
                    let timestamp = u64::try_from(part.timestamp).unwrap_or(0);
                    let message = MetricBucketMessage::new(
                        organization_id,
                        project_id,
                        part.name,
                        message_value(part.value),
                        timestamp,
                        part.tags,
                        retention_days,
                    );
                    let message = match message {
                        Ok(message) => message,
                        Err(error) => {
                            tracing::error!(
                                error = &error as &dyn std::error::Error,
                                "invalid metric bucket"
                            );
                            return None;
                        }
                    };
                    let message = match received_at {
                        Some(received_at) => message.with_received_at(received_at),
                        None => message,
                    };
                    encode(&message).map(|message| (KafkaTopic::MetricsSessions, message))
                })
                .collect();
        if let Some(item) = user_session {
            if let Some(message) = encode(&TraceItemMessage::new(item)) {
                messages.push((KafkaTopic::Items, message));
            }
        }
        messages
    }

    /// Outcome buckets from a trusted relay (outcomes.md §4.2, §5): one outcome message with
    /// the bucket's timestamp and tags, `source` preserved. Never rate limited.
    async fn produce_outcome_bucket(
        &self,
        scoping: &relay_quotas::Scoping,
        project_id: relay_protocol::ProjectId,
        bucket: &Bucket,
    ) {
        let Some(outcome_id) = parse_mri(&bucket.name)
            .and_then(|mri| crate::outcome::outcome_id_of_bucket_name(mri.name))
        else {
            tracing::error!(name = %bucket.name, "dropping outcome bucket with an unknown outcome");
            return;
        };
        let BucketValue::Counter(count) = bucket.value else {
            tracing::error!(name = %bucket.name, "dropping outcome bucket that is not a counter");
            return;
        };
        let Some(timestamp) = DateTime::from_timestamp(bucket.timestamp, 0) else {
            return;
        };
        let mut message = OutcomeMessage::new(
            timestamp,
            scoping.organization_id.unwrap_or(0),
            project_id,
            scoping.key_id,
            outcome_id,
            count.round().max(0.0) as u64,
        );
        message.reason = bucket.tags.get("reason").cloned();
        message.source = bucket.tags.get("source").cloned();
        message.category = bucket
            .tags
            .get("category")
            .and_then(|category| category.parse::<u32>().ok());
        self.store.produce_outcome(&message).await;
    }

    /// `outcomes.md` §6: accepted outcomes for span usage.
    fn track_span_usage(
        &self,
        scoping: &relay_quotas::Scoping,
        bucket: &Bucket,
        now: DateTime<Utc>,
    ) {
        let BucketValue::Counter(count) = bucket.value else {
            return;
        };
        // Counter values are sums of whole spans; the float only comes from the bucket model.
        let quantity = count.round().clamp(0.0, f64::from(u32::MAX)) as u32;
        let is_segment = bucket.tags.get(IS_SEGMENT_TAG).map(String::as_str) == Some("true");
        let categories: &[DataCategory] = if is_segment {
            &[DataCategory::Span, DataCategory::Transaction]
        } else {
            &[DataCategory::Span]
        };
        for category in categories {
            self.outcomes.track(TrackOutcome {
                timestamp: now,
                scoping: scoping.clone(),
                outcome: Outcome::Accepted,
                event_id: None,
                remote_addr: None,
                category: *category,
                quantity,
            });
        }
    }

    /// Enqueues one message, retrying while Kafka's local queue is full.
    async fn send(&self, topic: KafkaTopic, message: KafkaMessage) -> Option<Delivery> {
        match self.store.send_with_retries(topic, message).await {
            Ok(delivery) => Some(delivery),
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "failed to produce metric bucket"
                );
                None
            }
        }
    }
}

/// Encodes a message for the store; encoding errors are logged (they are bugs, not bad input).
fn encode(message: &impl EncodeKafkaMessage) -> Option<KafkaMessage> {
    match message.to_kafka_message() {
        Ok(message) => Some(message),
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "cannot encode metric bucket"
            );
            None
        }
    }
}

/// Whether a bucket is one of those written to `snuba-items` under the sessions EAP rollout.
fn is_sessions_eap_metric(name: &str) -> bool {
    SESSIONS_EAP_METRICS
        .iter()
        .any(|(metric, _)| *metric == name)
}

/// The USER_SESSION trace item of a `session`, `user` or `error` bucket (§7.3.11); `None` for
/// other buckets or a value type that does not match the metric.
fn user_session_item(
    organization_id: u64,
    project_id: u64,
    retention_days: u16,
    bucket: &Bucket,
    now: DateTime<Utc>,
) -> Option<TraceItem> {
    let attribute = SESSIONS_EAP_METRICS
        .iter()
        .find(|(metric, _)| *metric == bucket.name)
        .map(|(_, attribute)| *attribute)?;
    let value = match &bucket.value {
        // Counters are sums of whole sessions; the float only comes from the bucket model.
        BucketValue::Counter(count) => AnyValue::int(count.round() as i64),
        BucketValue::Set(hashes) => AnyValue::array(
            hashes
                .iter()
                .map(|hash| AnyValue::int(i64::from(*hash)))
                .collect(),
        ),
        BucketValue::Distribution(_) | BucketValue::Gauge { .. } => return None,
    };
    let mut attributes = std::collections::BTreeMap::from([(attribute.to_owned(), value)]);
    for (tag, name) in SESSIONS_EAP_TAGS {
        if let Some(value) = bucket.tags.get(tag) {
            attributes.insert(name.to_owned(), AnyValue::string(value.clone()));
        }
    }
    let received = bucket
        .received_at
        .and_then(|at| DateTime::from_timestamp(at, 0))
        .unwrap_or(now);
    Some(TraceItem {
        organization_id,
        project_id,
        trace_id: Uuid::new_v4().hyphenated().to_string(),
        item_id: item_id_from_uuid(Uuid::new_v4()).to_vec(),
        item_type: TraceItemType::UserSession as i32,
        timestamp: Some(Timestamp {
            seconds: bucket.timestamp,
            nanos: 0,
        }),
        attributes,
        client_sample_rate: 1.0,
        server_sample_rate: 1.0,
        retention_days: u32::from(retention_days),
        received: Some(received.into()),
        downsampled_retention_days: u32::from(retention_days),
        outcomes: None,
    })
}

fn message_value(value: BucketValue) -> MetricBucketValue {
    match value {
        BucketValue::Counter(value) => MetricBucketValue::Counter(value),
        BucketValue::Distribution(values) => MetricBucketValue::Distribution(values),
        BucketValue::Set(values) => MetricBucketValue::Set(values),
        BucketValue::Gauge {
            last,
            min,
            max,
            sum,
            count,
        } => MetricBucketValue::Gauge(GaugeValue {
            last,
            min,
            max,
            sum,
            count,
        }),
    }
}

/// Splits a set or distribution whose estimated message exceeds `max_bytes` into parts of
/// the same key (each at least one value); other buckets are returned whole.
fn split_bucket(bucket: Bucket, max_bytes: usize) -> Vec<Bucket> {
    let element_bytes = match &bucket.value {
        BucketValue::Set(_) => MESSAGE_SET_ELEMENT_BYTES,
        BucketValue::Distribution(_) => MESSAGE_DISTRIBUTION_ELEMENT_BYTES,
        BucketValue::Counter(_) | BucketValue::Gauge { .. } => return vec![bucket],
    };
    let base = MESSAGE_BASE_BYTES
        + bucket.name.len()
        + bucket
            .tags
            .iter()
            .map(|(key, value)| key.len() + value.len() + MESSAGE_TAG_BYTES)
            .sum::<usize>();
    let per_part = (max_bytes.saturating_sub(base) / element_bytes).max(1);
    if bucket.value.len() <= per_part {
        return vec![bucket];
    }
    let Bucket {
        name,
        timestamp,
        tags,
        value,
        received_at,
    } = bucket;
    let part = |value| Bucket {
        name: name.clone(),
        timestamp,
        tags: tags.clone(),
        value,
        received_at,
    };
    match value {
        BucketValue::Set(values) => {
            let values: Vec<u32> = values.into_iter().collect();
            values
                .chunks(per_part)
                .map(|chunk| part(BucketValue::Set(chunk.iter().copied().collect())))
                .collect()
        }
        BucketValue::Distribution(values) => values
            .chunks(per_part)
            .map(|chunk| part(BucketValue::Distribution(chunk.to_vec())))
            .collect(),
        other => vec![part(other)],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use relay_protocol::{ProjectId, ProjectKey};
    use relay_quotas::Scoping;
    use serde_json::{json, Value};

    use super::*;

    const PUBLIC_KEY: &str = "a94ae32be2584e0bbd7a4cbb95971fee";

    fn files_store(directory: &Path) -> StoreSink {
        let mut config = Config::default();
        config.values.processing.enabled = true;
        config.values.output.directory = Some(directory.to_owned());
        StoreSink::from_config(&config, directory).unwrap()
    }

    fn produced(directory: &Path) -> Vec<Value> {
        match std::fs::read_to_string(directory.join("ingest-metrics.jsonl")) {
            Ok(text) => text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn scoping(project_id: Option<u64>) -> Scoping {
        Scoping {
            organization_id: Some(1),
            project_id: project_id.map(ProjectId),
            project_key: ProjectKey::parse(PUBLIC_KEY).unwrap(),
            key_id: Some(7),
        }
    }

    fn project_bucket(name: &str, tags: &[(&str, &str)], value: BucketValue) -> ProjectBucket {
        ProjectBucket {
            scoping: scoping(Some(42)),
            retention_days: 90,
            bucket: Bucket {
                name: name.to_owned(),
                timestamp: Utc::now().timestamp(),
                tags: tags
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                    .collect(),
                value,
                received_at: Some(1_717_000_012),
            },
        }
    }

    fn flusher(store: StoreSink, outcomes: OutcomeHandle) -> Flusher {
        Flusher {
            store,
            outcomes,
            max_flush_bytes: 5_000_000,
            sessions_eap_rate: Arc::new(|| 0.0),
        }
    }

    /// The TraceItems written to `snuba-items` (base64 protobuf lines in the files store).
    fn produced_items(directory: &Path) -> Vec<TraceItem> {
        use base64::Engine;
        use prost::Message;

        match std::fs::read_to_string(directory.join("snuba-items.b64")) {
            Ok(text) => text
                .lines()
                .map(|line| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(line)
                        .unwrap();
                    TraceItem::decode(bytes.as_slice()).unwrap()
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    #[test]
    fn sessions_eap_rollout_rate_selects_organizations() {
        assert!(!sessions_eap_selects(1, 0.0));
        // 1 / 100000 is not below itself, but below anything larger.
        assert!(!sessions_eap_selects(1, 0.000_01));
        assert!(sessions_eap_selects(1, 0.000_02));
        // Organizations are bucketed modulo 100000.
        assert!(sessions_eap_selects(100_001, 0.000_02));
        assert!(sessions_eap_selects(49_999, 0.5));
        assert!(!sessions_eap_selects(50_000, 0.5));
        assert!(sessions_eap_selects(99_999, 1.0));

        let global = |options| json!({"measurements": {}, "options": options});
        let option = SESSIONS_EAP_ROLLOUT_OPTION;
        assert_eq!(
            sessions_eap_rollout_rate(&global(json!({option: 0.25}))),
            0.25
        );
        assert_eq!(sessions_eap_rollout_rate(&global(json!({option: 1}))), 1.0);
        assert_eq!(
            sessions_eap_rollout_rate(&global(json!({option: "0.5"}))),
            0.0
        );
        assert_eq!(sessions_eap_rollout_rate(&global(json!({}))), 0.0);
        assert_eq!(sessions_eap_rollout_rate(&json!({})), 0.0);
    }

    #[tokio::test]
    async fn selected_session_buckets_are_also_written_as_user_session_items() {
        use std::sync::atomic::AtomicUsize;

        let directory = tempfile::tempdir().unwrap();
        let mut flusher = flusher(files_store(directory.path()), OutcomeHandle::disabled());
        let reads = Arc::new(AtomicUsize::new(0));
        flusher.sessions_eap_rate = {
            let reads = reads.clone();
            Arc::new(move || {
                reads.fetch_add(1, Ordering::Relaxed);
                1.0
            })
        };
        let common = [
            ("release", "app@1.0"),
            ("environment", "production"),
            ("sdk", "sentry.javascript.browser/8.0.0"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut tags = common.to_vec();
            tags.extend_from_slice(extra);
            tags
        };
        let mut session = project_bucket(
            "c:sessions/session@none",
            &with(&[("session.status", "init")]),
            BucketValue::Counter(2.0),
        );
        session.bucket.timestamp = 1_717_000_000;
        let user = project_bucket(
            "s:sessions/user@none",
            &with(&[
                ("session.status", "abnormal"),
                ("abnormal_mechanism", "anr_foreground"),
                ("unlisted", "dropped"),
            ]),
            BucketValue::Set(BTreeSet::from([1_617_781_333, 7])),
        );
        let error = project_bucket(
            "s:sessions/error@none",
            &common,
            BucketValue::Set(BTreeSet::from([4_000_000_000])),
        );
        // Not a session/user/error bucket: only on ingest-metrics.
        let duration = project_bucket(
            "d:sessions/duration@second",
            &common,
            BucketValue::Distribution(vec![1.0]),
        );
        let flushed_at = Utc::now();
        flusher
            .flush(vec![session, user, error, duration], flushed_at)
            .await;
        flusher.store.flush(Duration::from_secs(1));

        assert_eq!(reads.load(Ordering::Relaxed), 1, "rate read once per flush");
        assert_eq!(produced(directory.path()).len(), 4);
        let items = produced_items(directory.path());
        assert_eq!(items.len(), 3);
        for item in &items {
            assert_eq!(item.organization_id, 1);
            assert_eq!(item.project_id, 42);
            assert_eq!(item.item_type, TraceItemType::UserSession as i32);
            let trace_id = Uuid::parse_str(&item.trace_id).unwrap();
            assert_eq!(item.trace_id, trace_id.hyphenated().to_string());
            assert_eq!(trace_id.get_version_num(), 4);
            assert_eq!(item.item_id.len(), 16);
            assert_eq!(item.client_sample_rate, 1.0);
            assert_eq!(item.server_sample_rate, 1.0);
            assert_eq!(item.retention_days, 90);
            assert_eq!(item.downsampled_retention_days, 90);
            assert_eq!(
                item.received,
                Some(Timestamp {
                    seconds: 1_717_000_012,
                    nanos: 0
                })
            );
            assert_eq!(item.outcomes, None);
            assert_eq!(
                item.attributes.get("release"),
                Some(&AnyValue::string("app@1.0"))
            );
            assert_eq!(
                item.attributes.get("environment"),
                Some(&AnyValue::string("production"))
            );
            assert_eq!(
                item.attributes.get("sdk"),
                Some(&AnyValue::string("sentry.javascript.browser/8.0.0"))
            );
        }
        assert_ne!(items[0].item_id, items[1].item_id);
        assert_ne!(items[0].trace_id, items[1].trace_id);

        let session = &items[0];
        assert_eq!(
            session.timestamp,
            Some(Timestamp {
                seconds: 1_717_000_000,
                nanos: 0
            })
        );
        assert_eq!(
            session.attributes.get("session_count"),
            Some(&AnyValue::int(2))
        );
        assert_eq!(
            session.attributes.get("status"),
            Some(&AnyValue::string("init"))
        );
        assert_eq!(session.attributes.len(), 5);

        let user = &items[1];
        assert_eq!(
            user.attributes.get("user_id_hash"),
            Some(&AnyValue::array(vec![
                AnyValue::int(7),
                AnyValue::int(1_617_781_333)
            ]))
        );
        assert_eq!(
            user.attributes.get("status"),
            Some(&AnyValue::string("abnormal"))
        );
        assert_eq!(
            user.attributes.get("abnormal_mechanism"),
            Some(&AnyValue::string("anr_foreground"))
        );
        assert!(!user.attributes.contains_key("unlisted"));
        assert!(!user.attributes.contains_key("session.status"));

        let error = &items[2];
        assert_eq!(
            error.attributes.get("errored_session_id_hash"),
            Some(&AnyValue::array(vec![AnyValue::int(4_000_000_000)]))
        );
        assert!(!error.attributes.contains_key("status"));
        assert_eq!(error.attributes.len(), 4);
    }

    #[tokio::test]
    async fn unselected_organizations_and_other_flushes_write_no_user_sessions() {
        use std::sync::atomic::AtomicUsize;

        let directory = tempfile::tempdir().unwrap();
        let mut flusher = flusher(files_store(directory.path()), OutcomeHandle::disabled());
        let reads = Arc::new(AtomicUsize::new(0));
        flusher.sessions_eap_rate = {
            let reads = reads.clone();
            // Org 1 is at 0.00001: not below this rate.
            Arc::new(move || {
                reads.fetch_add(1, Ordering::Relaxed);
                0.000_01
            })
        };
        let session = project_bucket("c:sessions/session@none", &[], BucketValue::Counter(1.0));
        flusher.flush(vec![session], Utc::now()).await;
        // A flush without session buckets does not read the global config.
        let usage = project_bucket(SPAN_USAGE_METRIC, &[], BucketValue::Counter(1.0));
        flusher.flush(vec![usage], Utc::now()).await;
        flusher.store.flush(Duration::from_secs(1));

        assert_eq!(reads.load(Ordering::Relaxed), 1);
        assert_eq!(produced(directory.path()).len(), 1);
        assert!(produced_items(directory.path()).is_empty());
    }

    #[tokio::test]
    async fn outcome_buckets_of_trusted_relays_become_outcome_messages() {
        let directory = tempfile::tempdir().unwrap();
        let (outcomes, _receiver) = OutcomeHandle::capturing();
        let flusher = flusher(files_store(directory.path()), outcomes);
        let mut invalid = project_bucket(
            "c:outcomes/invalid@none",
            &[
                ("category", "1"),
                ("reason", "too_large:event"),
                ("source", "pop-eu"),
            ],
            BucketValue::Counter(2.0),
        );
        invalid.bucket.timestamp = 1_716_999_990;
        let mut rate_limited = project_bucket(
            "c:outcomes/rate_limited@none",
            &[("category", "4")],
            BucketValue::Counter(1.0),
        );
        rate_limited.bucket.timestamp = 1_716_999_990;
        let unknown = project_bucket("c:outcomes/nonsense@none", &[], BucketValue::Counter(1.0));
        flusher
            .flush(vec![invalid, rate_limited, unknown], Utc::now())
            .await;
        flusher.store.flush(Duration::from_secs(1));

        let outcomes = std::fs::read_to_string(directory.path().join("outcomes.jsonl")).unwrap();
        assert_eq!(
            outcomes,
            "{\"timestamp\":\"2024-05-29T16:26:30.000000Z\",\"org_id\":1,\"project_id\":42,\"key_id\":7,\
             \"outcome\":3,\"reason\":\"too_large:event\",\"source\":\"pop-eu\",\"category\":1,\"quantity\":2}\n"
        );
        let billing =
            std::fs::read_to_string(directory.path().join("outcomes-billing.jsonl")).unwrap();
        assert_eq!(
            billing,
            "{\"timestamp\":\"2024-05-29T16:26:30.000000Z\",\"org_id\":1,\"project_id\":42,\"key_id\":7,\
             \"outcome\":2,\"category\":4,\"quantity\":1}\n"
        );
    }

    #[tokio::test]
    async fn sessions_are_produced_span_usage_becomes_outcomes_and_the_rest_is_dropped() {
        let directory = tempfile::tempdir().unwrap();
        let (outcomes, mut receiver) = OutcomeHandle::capturing();
        let flusher = flusher(files_store(directory.path()), outcomes);
        let mut session = project_bucket(
            "s:sessions/user@none",
            &[
                ("release", "app@1.0"),
                ("sdk", "sentry.javascript.browser/8.0.0"),
                ("environment", "production"),
            ],
            BucketValue::Set(BTreeSet::from([1_617_781_333])),
        );
        session.bucket.timestamp = 1_717_000_000;
        let mut orphan = project_bucket("c:sessions/session@none", &[], BucketValue::Counter(1.0));
        orphan.scoping.project_id = None;
        let buckets = vec![
            session,
            project_bucket(
                SPAN_USAGE_METRIC,
                &[("is_segment", "true")],
                BucketValue::Counter(3.0),
            ),
            project_bucket(
                SPAN_USAGE_METRIC,
                &[("is_segment", "false")],
                BucketValue::Counter(2.0),
            ),
            project_bucket(
                "c:spans/count_per_root_project@none",
                &[],
                BucketValue::Counter(1.0),
            ),
            project_bucket("c:transactions/usage@none", &[], BucketValue::Counter(1.0)),
            project_bucket("c:outcomes/accepted@none", &[], BucketValue::Counter(1.0)),
            orphan,
        ];
        let flushed_at = Utc::now();
        flusher.flush(buckets, flushed_at).await;
        flusher.store.flush(Duration::from_secs(1));

        // The spec example of processing.md §7.3.8, byte for byte.
        let text = std::fs::read_to_string(directory.path().join("ingest-metrics.jsonl")).unwrap();
        assert_eq!(
            text,
            "{\"org_id\":1,\"project_id\":42,\"name\":\"s:sessions/user@none\",\"type\":\"s\",\"value\":[1617781333],\
             \"timestamp\":1717000000,\"tags\":{\"environment\":\"production\",\"release\":\"app@1.0\",\
             \"sdk\":\"sentry.javascript.browser/8.0.0\"},\"retention_days\":90,\"received_at\":1717000012}\n"
        );

        let mut tracked = Vec::new();
        while let Ok(outcome) = receiver.try_recv() {
            tracked.push(outcome);
        }
        let summary: Vec<(Outcome, DataCategory, u32)> = tracked
            .iter()
            .map(|outcome| (outcome.outcome.clone(), outcome.category, outcome.quantity))
            .collect();
        assert_eq!(
            summary,
            [
                (Outcome::Accepted, DataCategory::Span, 3),
                (Outcome::Accepted, DataCategory::Transaction, 3),
                (Outcome::Accepted, DataCategory::Span, 2),
            ]
        );
        assert!(tracked.iter().all(|outcome| outcome.timestamp == flushed_at
            && outcome.scoping == scoping(Some(42))
            && outcome.event_id.is_none()));
    }

    #[tokio::test]
    async fn large_sets_are_split_by_max_flush_bytes() {
        let directory = tempfile::tempdir().unwrap();
        let mut flusher = flusher(files_store(directory.path()), OutcomeHandle::disabled());
        flusher.max_flush_bytes = 1000;
        let values: BTreeSet<u32> = (0..1000u32).map(|value| value * 1_000_003).collect();
        let bucket = project_bucket(
            "s:sessions/error@none",
            &[("release", "app@1.0")],
            BucketValue::Set(values.clone()),
        );
        flusher.flush(vec![bucket], Utc::now()).await;
        flusher.store.flush(Duration::from_secs(1));

        let messages = produced(directory.path());
        assert!(messages.len() > 1);
        let mut merged = BTreeSet::new();
        for message in &messages {
            assert_eq!(message["name"], "s:sessions/error@none");
            assert_eq!(message["tags"], json!({"release": "app@1.0"}));
            let line = serde_json::to_string(message).unwrap();
            assert!(line.len() <= 1000, "{} bytes", line.len());
            for value in message["value"].as_array().unwrap() {
                merged.insert(u32::try_from(value.as_u64().unwrap()).unwrap());
            }
        }
        assert_eq!(merged, values);
    }

    #[test]
    fn split_keeps_counters_whole_and_respects_one_value_minimum() {
        let counter = Bucket {
            name: "c:sessions/session@none".into(),
            timestamp: 0,
            tags: BTreeMap::new(),
            value: BucketValue::Counter(1.0),
            received_at: None,
        };
        assert_eq!(split_bucket(counter.clone(), 1), vec![counter]);
        let distribution = Bucket {
            name: "d:sessions/duration@second".into(),
            timestamp: 0,
            tags: BTreeMap::new(),
            value: BucketValue::Distribution(vec![1.0, 2.0, 3.0]),
            received_at: None,
        };
        let parts = split_bucket(distribution, 1);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].value, BucketValue::Distribution(vec![3.0]));
    }

    #[tokio::test]
    async fn aggregated_buckets_flush_after_the_interval_and_everything_flushes_on_shutdown() {
        let directory = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.values.aggregator.bucket_interval = 1;
        config.values.aggregator.initial_delay = 0;
        let shutdown = ShutdownHandle::new();
        let handle = start_metrics_aggregator(
            Arc::new(config),
            files_store(directory.path()),
            OutcomeHandle::disabled(),
            shutdown.clone(),
            Arc::new(|| 0.0),
        );
        let session = || {
            project_bucket(
                "c:sessions/session@none",
                &[("release", "a")],
                BucketValue::Counter(1.0),
            )
        };
        let mut first = session();
        let mut second = session();
        // Two updates of a slot two seconds ago merge into one bucket that is due at once.
        first.bucket.timestamp -= 2;
        second.bucket.timestamp -= 2;
        handle.merge(vec![first, second]);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while produced(directory.path()).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let messages = produced(directory.path());
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["value"], json!(2.0));

        // A long initial delay: only the shutdown flushes.
        let directory = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.values.aggregator.initial_delay = 3600;
        let shutdown = ShutdownHandle::new();
        let handle = start_metrics_aggregator(
            Arc::new(config),
            files_store(directory.path()),
            OutcomeHandle::disabled(),
            shutdown.clone(),
            Arc::new(|| 0.0),
        );
        handle.merge(vec![session()]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(produced(directory.path()).is_empty());
        shutdown.begin();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while produced(directory.path()).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(produced(directory.path()).len(), 1);
        // While draining, new buckets flush as they arrive.
        handle.merge(vec![session()]);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while produced(directory.path()).len() < 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(produced(directory.path()).len(), 2);
        shutdown.finish();
    }
}
