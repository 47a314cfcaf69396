//! The `processing` section (`config.md` §4.11): Kafka producers and topics, Redis, object
//! store.
//!
//! Only the shapes are parsed here. Semantic checks (secondary configs referenced by topics
//! exist, Redis URLs are valid) happen at startup of a processing relay, because the values are
//! accepted as anything while processing is disabled (e.g. `redis: ""`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::byte_size::ByteSize;

/// Default tolerance for timestamps in the future, in seconds.
const DEFAULT_MAX_SECS_IN_FUTURE: u32 = 60;
/// Default oldest accepted session timestamp: five days.
const DEFAULT_MAX_SESSION_SECS_IN_PAST: u32 = 5 * 24 * 60 * 60;
/// Default attachment chunk size: 1 MiB.
const DEFAULT_ATTACHMENT_CHUNK_MIB: u64 = 1;
/// Default of `processing.projectconfig_cache_prefix`, the Redis key prefix of cached project
/// configs.
pub const DEFAULT_PROJECTCONFIG_CACHE_PREFIX: &str = "relayconfig";
/// Default cap on rate-limit durations derived from quotas, in seconds.
const DEFAULT_MAX_RATE_LIMIT_SECS: u32 = 300;

/// One librdkafka parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaConfigParam {
    /// Parameter name, e.g. `bootstrap.servers`.
    pub name: String,
    /// Parameter value.
    pub value: String,
}

/// The Kafka topics a processing relay produces to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KafkaTopic {
    /// `events` / `ingest-events`
    Events,
    /// `attachments` / `ingest-attachments`
    Attachments,
    /// `transactions` / `ingest-transactions`
    Transactions,
    /// `outcomes`
    Outcomes,
    /// `outcomes_billing` / `outcomes-billing`
    OutcomesBilling,
    /// `metrics_sessions` / `ingest-metrics`
    MetricsSessions,
    /// `profiles`
    Profiles,
    /// `replay_recordings` / `ingest-replay-recordings`
    ReplayRecordings,
    /// `monitors` / `ingest-monitors`
    Monitors,
    /// `spans` / `ingest-spans`
    Spans,
    /// `feedback` / `ingest-feedback-events`
    Feedback,
    /// `items` / `snuba-items`
    Items,
}

impl KafkaTopic {
    /// Every topic, in the order of the spec table.
    pub const ALL: [KafkaTopic; 12] = [
        KafkaTopic::Events,
        KafkaTopic::Attachments,
        KafkaTopic::Transactions,
        KafkaTopic::Outcomes,
        KafkaTopic::OutcomesBilling,
        KafkaTopic::MetricsSessions,
        KafkaTopic::Profiles,
        KafkaTopic::ReplayRecordings,
        KafkaTopic::Monitors,
        KafkaTopic::Spans,
        KafkaTopic::Feedback,
        KafkaTopic::Items,
    ];

    /// The logical key under `processing.topics`.
    pub fn logical_key(self) -> &'static str {
        match self {
            KafkaTopic::Events => "events",
            KafkaTopic::Attachments => "attachments",
            KafkaTopic::Transactions => "transactions",
            KafkaTopic::Outcomes => "outcomes",
            KafkaTopic::OutcomesBilling => "outcomes_billing",
            KafkaTopic::MetricsSessions => "metrics_sessions",
            KafkaTopic::Profiles => "profiles",
            KafkaTopic::ReplayRecordings => "replay_recordings",
            KafkaTopic::Monitors => "monitors",
            KafkaTopic::Spans => "spans",
            KafkaTopic::Feedback => "feedback",
            KafkaTopic::Items => "items",
        }
    }

    /// The topic produced to when nothing is configured; also accepted as key.
    pub fn default_topic_name(self) -> &'static str {
        match self {
            KafkaTopic::Events => "ingest-events",
            KafkaTopic::Attachments => "ingest-attachments",
            KafkaTopic::Transactions => "ingest-transactions",
            KafkaTopic::Outcomes => "outcomes",
            KafkaTopic::OutcomesBilling => "outcomes-billing",
            KafkaTopic::MetricsSessions => "ingest-metrics",
            KafkaTopic::Profiles => "profiles",
            KafkaTopic::ReplayRecordings => "ingest-replay-recordings",
            KafkaTopic::Monitors => "ingest-monitors",
            KafkaTopic::Spans => "ingest-spans",
            KafkaTopic::Feedback => "ingest-feedback-events",
            KafkaTopic::Items => "snuba-items",
        }
    }

    /// The CamelCase name used in startup errors (`invalid kafka configuration for topic '…'`).
    pub fn internal_name(self) -> &'static str {
        match self {
            KafkaTopic::Events => "Events",
            KafkaTopic::Attachments => "Attachments",
            KafkaTopic::Transactions => "Transactions",
            KafkaTopic::Outcomes => "Outcomes",
            KafkaTopic::OutcomesBilling => "OutcomesBilling",
            KafkaTopic::MetricsSessions => "MetricsSessions",
            KafkaTopic::Profiles => "Profiles",
            KafkaTopic::ReplayRecordings => "ReplayRecordings",
            KafkaTopic::Monitors => "Monitors",
            KafkaTopic::Spans => "Spans",
            KafkaTopic::Feedback => "Feedback",
            KafkaTopic::Items => "Items",
        }
    }
}

impl fmt::Display for KafkaTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.internal_name())
    }
}

/// Per-key rate limit of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRateLimit {
    /// Messages per key and window.
    pub limit_per_window: u64,
    /// Window length in seconds.
    pub window_secs: u64,
}

/// A topic with optional producer config and key rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDetails {
    /// Topic name.
    pub name: String,
    /// Name of a `secondary_kafka_configs` entry; the default producer when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Per-key rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rate_limit: Option<KeyRateLimit>,
}

impl TopicDetails {
    fn named(name: String) -> Self {
        Self {
            name,
            config: None,
            key_rate_limit: None,
        }
    }
}

/// Where messages of one logical topic go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TopicAssignment {
    /// `"topic-name"` on the default producer.
    Single(String),
    /// `{name, config, key_rate_limit}`.
    Detailed(TopicDetails),
    /// A non-empty list of topics; a message goes to shard `key mod N`. Plain names in the list
    /// are stored as details without config and rate limit.
    Sharded(Vec<TopicDetails>),
}

impl TopicAssignment {
    fn default_for(topic: KafkaTopic) -> Self {
        TopicAssignment::Single(topic.default_topic_name().to_owned())
    }

    /// Every topic of the assignment (one unless sharded), with its optional producer config.
    pub fn topics(&self) -> Vec<TopicDetails> {
        match self {
            TopicAssignment::Single(name) => vec![TopicDetails::named(name.clone())],
            TopicAssignment::Detailed(details) => vec![details.clone()],
            TopicAssignment::Sharded(shards) => shards.clone(),
        }
    }
}

const TOPIC_ASSIGNMENT_EXPECTATION: &str =
    "expected a topic name, a {name, config, key_rate_limit} object or a non-empty list of them";

fn topic_details_from_value(value: Value) -> Result<TopicDetails, String> {
    match value {
        Value::String(name) => Ok(TopicDetails::named(name)),
        Value::Mapping(_) => serde_yaml::from_value(value)
            .map_err(|error| format!("invalid topic assignment: {error}")),
        _ => Err(format!(
            "invalid topic assignment: {TOPIC_ASSIGNMENT_EXPECTATION}"
        )),
    }
}

impl<'de> Deserialize<'de> for TopicAssignment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        match Value::deserialize(deserializer)? {
            Value::String(name) => Ok(TopicAssignment::Single(name)),
            value @ Value::Mapping(_) => topic_details_from_value(value)
                .map(TopicAssignment::Detailed)
                .map_err(D::Error::custom),
            Value::Sequence(items) if items.is_empty() => Err(D::Error::custom(
                "invalid topic assignment: a sharded topic list must not be empty",
            )),
            Value::Sequence(items) => items
                .into_iter()
                .map(topic_details_from_value)
                .collect::<Result<Vec<_>, _>>()
                .map(TopicAssignment::Sharded)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(format!(
                "invalid topic assignment: {TOPIC_ASSIGNMENT_EXPECTATION}"
            ))),
        }
    }
}

/// `processing.topics`: keys may be logical names or default topic names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicAssignments {
    /// Error events.
    #[serde(alias = "ingest-events")]
    pub events: TopicAssignment,
    /// Attachment chunks and attachments.
    #[serde(alias = "ingest-attachments")]
    pub attachments: TopicAssignment,
    /// Transaction events.
    #[serde(alias = "ingest-transactions")]
    pub transactions: TopicAssignment,
    /// Outcomes.
    pub outcomes: TopicAssignment,
    /// Billing outcomes.
    #[serde(alias = "outcomes-billing")]
    pub outcomes_billing: TopicAssignment,
    /// Session metrics.
    #[serde(alias = "ingest-metrics")]
    pub metrics_sessions: TopicAssignment,
    /// Profiles.
    pub profiles: TopicAssignment,
    /// Replay recordings.
    #[serde(alias = "ingest-replay-recordings")]
    pub replay_recordings: TopicAssignment,
    /// Cron check-ins.
    #[serde(alias = "ingest-monitors")]
    pub monitors: TopicAssignment,
    /// Spans.
    #[serde(alias = "ingest-spans")]
    pub spans: TopicAssignment,
    /// User feedback.
    #[serde(alias = "ingest-feedback-events")]
    pub feedback: TopicAssignment,
    /// Trace items (logs, metrics, …).
    #[serde(alias = "snuba-items")]
    pub items: TopicAssignment,
    /// Keys that name no known topic; reported at startup as `unused topic assignment '<key>'`.
    #[serde(flatten, skip_serializing)]
    pub unused: BTreeMap<String, Value>,
}

impl Default for TopicAssignments {
    fn default() -> Self {
        Self {
            events: TopicAssignment::default_for(KafkaTopic::Events),
            attachments: TopicAssignment::default_for(KafkaTopic::Attachments),
            transactions: TopicAssignment::default_for(KafkaTopic::Transactions),
            outcomes: TopicAssignment::default_for(KafkaTopic::Outcomes),
            outcomes_billing: TopicAssignment::default_for(KafkaTopic::OutcomesBilling),
            metrics_sessions: TopicAssignment::default_for(KafkaTopic::MetricsSessions),
            profiles: TopicAssignment::default_for(KafkaTopic::Profiles),
            replay_recordings: TopicAssignment::default_for(KafkaTopic::ReplayRecordings),
            monitors: TopicAssignment::default_for(KafkaTopic::Monitors),
            spans: TopicAssignment::default_for(KafkaTopic::Spans),
            feedback: TopicAssignment::default_for(KafkaTopic::Feedback),
            items: TopicAssignment::default_for(KafkaTopic::Items),
            unused: BTreeMap::new(),
        }
    }
}

impl TopicAssignments {
    /// The assignment of `topic`.
    pub fn get(&self, topic: KafkaTopic) -> &TopicAssignment {
        match topic {
            KafkaTopic::Events => &self.events,
            KafkaTopic::Attachments => &self.attachments,
            KafkaTopic::Transactions => &self.transactions,
            KafkaTopic::Outcomes => &self.outcomes,
            KafkaTopic::OutcomesBilling => &self.outcomes_billing,
            KafkaTopic::MetricsSessions => &self.metrics_sessions,
            KafkaTopic::Profiles => &self.profiles,
            KafkaTopic::ReplayRecordings => &self.replay_recordings,
            KafkaTopic::Monitors => &self.monitors,
            KafkaTopic::Spans => &self.spans,
            KafkaTopic::Feedback => &self.feedback,
            KafkaTopic::Items => &self.items,
        }
    }

    /// Keys under `topics` that name no known topic.
    pub fn unused_keys(&self) -> impl Iterator<Item = &str> {
        self.unused.keys().map(String::as_str)
    }
}

/// Default idle timeout of a pooled Redis connection, in seconds.
const DEFAULT_REDIS_IDLE_TIMEOUT_SECS: u64 = 60;
/// Default timeout for creating a Redis connection, in seconds.
const DEFAULT_REDIS_CREATE_TIMEOUT_SECS: u64 = 3;
/// Default timeout for recycling a Redis connection, in seconds.
const DEFAULT_REDIS_RECYCLE_TIMEOUT_SECS: u64 = 2;
/// Default timeout for a Redis response, in seconds.
const DEFAULT_REDIS_RESPONSE_TIMEOUT_SECS: u64 = 30;

/// Connection pool options accepted next to `server` / `cluster_nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisConnectionOptions {
    /// Pool size; derived from thread counts when absent.
    pub max_connections: Option<u32>,
    /// Idle timeout in seconds.
    pub idle_timeout: u64,
    /// Connection creation timeout in seconds.
    pub create_timeout: u64,
    /// Connection recycle timeout in seconds.
    pub recycle_timeout: u64,
    /// Timeout waiting for a pooled connection, in seconds.
    pub wait_timeout: Option<u64>,
    /// Response timeout in seconds.
    pub response_timeout: u64,
}

impl Default for RedisConnectionOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            idle_timeout: DEFAULT_REDIS_IDLE_TIMEOUT_SECS,
            create_timeout: DEFAULT_REDIS_CREATE_TIMEOUT_SECS,
            recycle_timeout: DEFAULT_REDIS_RECYCLE_TIMEOUT_SECS,
            wait_timeout: None,
            response_timeout: DEFAULT_REDIS_RESPONSE_TIMEOUT_SECS,
        }
    }
}

/// One Redis deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisServerConfig {
    /// A bare URL string (any string, validated only when processing is enabled).
    Url(String),
    /// `{server: <url>, <options>}`.
    Server {
        /// Server URL.
        server: String,
        /// Pool options.
        options: RedisConnectionOptions,
    },
    /// `{cluster_nodes: [<url>, …], <options>}`.
    Cluster {
        /// Node URLs.
        cluster_nodes: Vec<String>,
        /// Pool options.
        options: RedisConnectionOptions,
    },
}

/// `processing.redis`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisConfig {
    /// One deployment for everything.
    Unified(RedisServerConfig),
    /// `{project_configs: …, quotas: …}`.
    Split {
        /// Deployment for the project-config cache.
        project_configs: Box<RedisServerConfig>,
        /// Deployment for quotas and rate limits.
        quotas: Box<RedisServerConfig>,
    },
}

const SERVER_KEY: &str = "server";
const CLUSTER_NODES_KEY: &str = "cluster_nodes";
const PROJECT_CONFIGS_KEY: &str = "project_configs";
const QUOTAS_KEY: &str = "quotas";
const REDIS_EXPECTATION: &str = "expected a URL, {server: <url>}, {cluster_nodes: [<url>, …]} or \
                                 {project_configs: …, quotas: …}";

fn redis_server_from_value(value: Value) -> Result<RedisServerConfig, String> {
    let invalid = |detail: String| format!("invalid redis configuration: {detail}");
    match value {
        Value::String(url) => Ok(RedisServerConfig::Url(url)),
        Value::Mapping(ref mapping) => {
            let options: RedisConnectionOptions = serde_yaml::from_value(value.clone())
                .map_err(|error| invalid(error.to_string()))?;
            if let Some(server) = mapping.get(SERVER_KEY) {
                let server: String = serde_yaml::from_value(server.clone())
                    .map_err(|error| invalid(format!("server: {error}")))?;
                return Ok(RedisServerConfig::Server { server, options });
            }
            if let Some(nodes) = mapping.get(CLUSTER_NODES_KEY) {
                let cluster_nodes: Vec<String> = serde_yaml::from_value(nodes.clone())
                    .map_err(|error| invalid(format!("cluster_nodes: {error}")))?;
                return Ok(RedisServerConfig::Cluster {
                    cluster_nodes,
                    options,
                });
            }
            Err(invalid(REDIS_EXPECTATION.to_owned()))
        }
        _ => Err(invalid(REDIS_EXPECTATION.to_owned())),
    }
}

fn redis_config_from_value(value: Value) -> Result<RedisConfig, String> {
    let Value::Mapping(mapping) = &value else {
        return redis_server_from_value(value).map(RedisConfig::Unified);
    };
    let project_configs = mapping.get(PROJECT_CONFIGS_KEY);
    let quotas = mapping.get(QUOTAS_KEY);
    match (project_configs, quotas) {
        (None, None) => redis_server_from_value(value).map(RedisConfig::Unified),
        (Some(project_configs), Some(quotas)) => Ok(RedisConfig::Split {
            project_configs: Box::new(redis_server_from_value(project_configs.clone())?),
            quotas: Box::new(redis_server_from_value(quotas.clone())?),
        }),
        _ => Err(
            "invalid redis configuration: project_configs and quotas must be given together"
                .to_owned(),
        ),
    }
}

impl<'de> Deserialize<'de> for RedisConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        redis_config_from_value(value).map_err(serde::de::Error::custom)
    }
}

impl Serialize for RedisServerConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct ServerForm<'a> {
            server: &'a str,
            #[serde(flatten)]
            options: &'a RedisConnectionOptions,
        }
        #[derive(Serialize)]
        struct ClusterForm<'a> {
            cluster_nodes: &'a [String],
            #[serde(flatten)]
            options: &'a RedisConnectionOptions,
        }
        match self {
            RedisServerConfig::Url(url) => serializer.serialize_str(url),
            RedisServerConfig::Server { server, options } => {
                ServerForm { server, options }.serialize(serializer)
            }
            RedisServerConfig::Cluster {
                cluster_nodes,
                options,
            } => ClusterForm {
                cluster_nodes,
                options,
            }
            .serialize(serializer),
        }
    }
}

impl Serialize for RedisConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct SplitForm<'a> {
            project_configs: &'a RedisServerConfig,
            quotas: &'a RedisServerConfig,
        }
        match self {
            RedisConfig::Unified(server) => server.serialize(serializer),
            RedisConfig::Split {
                project_configs,
                quotas,
            } => SplitForm {
                project_configs,
                quotas,
            }
            .serialize(serializer),
        }
    }
}

/// Credentials for the object store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectstoreAuth {
    /// Key id.
    pub key_id: String,
    /// Signing key.
    pub signing_key: String,
}

/// Default parallel object-store requests.
const DEFAULT_OBJECTSTORE_CONCURRENT_REQUESTS: usize = 10;
/// Default object-store backlog.
const DEFAULT_OBJECTSTORE_BACKLOG: usize = 20;
/// Default object-store request timeout, in seconds.
const DEFAULT_OBJECTSTORE_TIMEOUT_SECS: u64 = 60;
/// Default object-store stream timeout, in seconds.
const DEFAULT_OBJECTSTORE_STREAM_TIMEOUT_SECS: u64 = 300;
/// Default delay between object-store retries, in seconds.
const DEFAULT_OBJECTSTORE_RETRY_DELAY_SECS: f64 = 1.0;
/// Default object-store attempts.
const DEFAULT_OBJECTSTORE_MAX_ATTEMPTS: u32 = 5;

/// `processing.objectstore` (alias `processing.upload`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectstoreConfig {
    /// Object store URL; `None` disables it.
    pub objectstore_url: Option<String>,
    /// Parallel requests.
    pub max_concurrent_requests: usize,
    /// Queued requests.
    pub max_backlog: usize,
    /// Request timeout in seconds.
    pub timeout: u64,
    /// Stream timeout in seconds.
    pub stream_timeout: u64,
    /// Delay between retries in seconds.
    pub retry_delay: f64,
    /// Attempts per upload.
    pub max_attempts: u32,
    /// Send to Kafka when the object store fails.
    pub fallback_to_kafka: bool,
    /// Credentials.
    pub auth: Option<ObjectstoreAuth>,
}

impl Default for ObjectstoreConfig {
    fn default() -> Self {
        Self {
            objectstore_url: None,
            max_concurrent_requests: DEFAULT_OBJECTSTORE_CONCURRENT_REQUESTS,
            max_backlog: DEFAULT_OBJECTSTORE_BACKLOG,
            timeout: DEFAULT_OBJECTSTORE_TIMEOUT_SECS,
            stream_timeout: DEFAULT_OBJECTSTORE_STREAM_TIMEOUT_SECS,
            retry_delay: DEFAULT_OBJECTSTORE_RETRY_DELAY_SECS,
            max_attempts: DEFAULT_OBJECTSTORE_MAX_ATTEMPTS,
            fallback_to_kafka: true,
            auth: None,
        }
    }
}

/// `processing`: settings of a processing relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessingConfig {
    /// Whether this relay processes (writes to Kafka). Only valid in managed mode.
    pub enabled: bool,
    /// Legacy location of `geoip.path`, used only when `geoip.path` is not set (see
    /// [`crate::Config::geoip_path`]).
    pub geoip_path: Option<PathBuf>,
    /// Tolerance for timestamps in the future, in seconds.
    pub max_secs_in_future: u32,
    /// Oldest accepted session timestamp, in seconds before now.
    pub max_session_secs_in_past: u32,
    /// librdkafka parameters of the default producer.
    pub kafka_config: Vec<KafkaConfigParam>,
    /// Additional producers referenced by topic assignments.
    pub secondary_kafka_configs: BTreeMap<String, Vec<KafkaConfigParam>>,
    /// Topic assignments.
    pub topics: TopicAssignments,
    /// Check that topics exist at startup.
    pub kafka_validate_topics: bool,
    /// Redis deployment(s).
    pub redis: Option<RedisConfig>,
    /// Size of attachment chunks.
    pub attachment_chunk_size: ByteSize,
    /// Redis key prefix for cached project configs.
    pub projectconfig_cache_prefix: String,
    /// Cap on rate-limit durations derived from quotas, in seconds.
    pub max_rate_limit: u32,
    /// Quota cache ratio.
    pub quota_cache_ratio: Option<f32>,
    /// Quota cache maximum.
    pub quota_cache_max: Option<f32>,
    /// Object store for large payloads.
    #[serde(alias = "upload")]
    pub objectstore: ObjectstoreConfig,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            geoip_path: None,
            max_secs_in_future: DEFAULT_MAX_SECS_IN_FUTURE,
            max_session_secs_in_past: DEFAULT_MAX_SESSION_SECS_IN_PAST,
            kafka_config: Vec::new(),
            secondary_kafka_configs: BTreeMap::new(),
            topics: TopicAssignments::default(),
            kafka_validate_topics: false,
            redis: None,
            attachment_chunk_size: ByteSize::mebibytes(DEFAULT_ATTACHMENT_CHUNK_MIB),
            projectconfig_cache_prefix: DEFAULT_PROJECTCONFIG_CACHE_PREFIX.to_owned(),
            max_rate_limit: DEFAULT_MAX_RATE_LIMIT_SECS,
            quota_cache_ratio: None,
            quota_cache_max: None,
            objectstore: ObjectstoreConfig::default(),
        }
    }
}

/// Name of the librdkafka parameter replaced by `RELAY_KAFKA_BROKER_URL`.
pub const KAFKA_BOOTSTRAP_SERVERS: &str = "bootstrap.servers";

impl ProcessingConfig {
    /// Sets `bootstrap.servers` in the default producer config, replacing an existing entry.
    pub fn set_kafka_bootstrap_servers(&mut self, servers: String) {
        let existing = self
            .kafka_config
            .iter_mut()
            .find(|param| param.name == KAFKA_BOOTSTRAP_SERVERS);
        match existing {
            Some(param) => param.value = servers,
            None => self.kafka_config.push(KafkaConfigParam {
                name: KAFKA_BOOTSTRAP_SERVERS.to_owned(),
                value: servers,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let config = ProcessingConfig::default();
        assert!(!config.enabled);
        assert_eq!(config.geoip_path, None);
        assert_eq!(config.max_secs_in_future, 60);
        assert_eq!(config.max_session_secs_in_past, 432_000);
        assert!(config.kafka_config.is_empty());
        assert!(config.secondary_kafka_configs.is_empty());
        assert!(!config.kafka_validate_topics);
        assert_eq!(config.redis, None);
        assert_eq!(config.attachment_chunk_size.as_bytes(), 1024 * 1024);
        assert_eq!(config.attachment_chunk_size.to_string(), "1MiB");
        assert_eq!(config.projectconfig_cache_prefix, "relayconfig");
        assert_eq!(config.max_rate_limit, 300);
        assert_eq!(config.quota_cache_ratio, None);
        assert_eq!(config.quota_cache_max, None);
        let objectstore = &config.objectstore;
        assert_eq!(objectstore.objectstore_url, None);
        assert_eq!(objectstore.max_concurrent_requests, 10);
        assert_eq!(objectstore.max_backlog, 20);
        assert_eq!(objectstore.timeout, 60);
        assert_eq!(objectstore.stream_timeout, 300);
        assert_eq!(objectstore.retry_delay, 1.0);
        assert_eq!(objectstore.max_attempts, 5);
        assert!(objectstore.fallback_to_kafka);
        assert_eq!(objectstore.auth, None);
        for topic in KafkaTopic::ALL {
            assert_eq!(
                config.topics.get(topic),
                &TopicAssignment::Single(topic.default_topic_name().to_owned())
            );
        }
    }

    #[test]
    fn topic_shapes_and_aliases() {
        let yaml = r#"
events: custom-events
ingest-attachments: {name: att, config: big}
transactions:
  name: tx
  key_rate_limit: {limit_per_window: 10, window_secs: 60}
spans: [spans-a, {name: spans-b, config: other}]
bogus: whatever
"#;
        let topics: TopicAssignments = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(
            topics.events,
            TopicAssignment::Single("custom-events".into())
        );
        assert_eq!(
            topics.attachments,
            TopicAssignment::Detailed(TopicDetails {
                name: "att".into(),
                config: Some("big".into()),
                key_rate_limit: None,
            })
        );
        let TopicAssignment::Detailed(transactions) = &topics.transactions else {
            panic!("transactions should be detailed");
        };
        assert_eq!(
            transactions.key_rate_limit,
            Some(KeyRateLimit {
                limit_per_window: 10,
                window_secs: 60
            })
        );
        assert_eq!(topics.spans.topics().len(), 2);
        assert_eq!(topics.spans.topics()[1].config.as_deref(), Some("other"));
        assert_eq!(topics.unused_keys().collect::<Vec<_>>(), vec!["bogus"]);
        assert_eq!(topics.outcomes, TopicAssignment::Single("outcomes".into()));
    }

    #[test]
    fn invalid_topic_shapes() {
        assert!(serde_yaml::from_str::<TopicAssignment>("[]").is_err());
        assert!(serde_yaml::from_str::<TopicAssignment>("42").is_err());
        assert!(serde_yaml::from_str::<TopicAssignment>("{config: x}").is_err());
        assert!(serde_yaml::from_str::<TopicAssignment>("[[a]]").is_err());
    }

    #[test]
    fn redis_shapes() {
        let config: RedisConfig = serde_yaml::from_str("redis://127.0.0.1").unwrap();
        assert_eq!(
            config,
            RedisConfig::Unified(RedisServerConfig::Url("redis://127.0.0.1".into()))
        );
        let config: RedisConfig = serde_yaml::from_str("\"\"").unwrap();
        assert_eq!(
            config,
            RedisConfig::Unified(RedisServerConfig::Url(String::new()))
        );

        let config: RedisConfig =
            serde_yaml::from_str("{server: 'redis://a', max_connections: 30, idle_timeout: 5}")
                .unwrap();
        let RedisConfig::Unified(RedisServerConfig::Server { server, options }) = config else {
            panic!("expected a server config");
        };
        assert_eq!(server, "redis://a");
        assert_eq!(options.max_connections, Some(30));
        assert_eq!(options.idle_timeout, 5);
        assert_eq!(options.create_timeout, 3);
        assert_eq!(options.recycle_timeout, 2);
        assert_eq!(options.wait_timeout, None);
        assert_eq!(options.response_timeout, 30);

        let config: RedisConfig =
            serde_yaml::from_str("{cluster_nodes: ['redis://a', 'redis://b']}").unwrap();
        assert!(matches!(
            config,
            RedisConfig::Unified(RedisServerConfig::Cluster { ref cluster_nodes, .. })
                if cluster_nodes.len() == 2
        ));

        let config: RedisConfig = serde_yaml::from_str(
            "{project_configs: 'redis://a', quotas: {cluster_nodes: ['redis://b']}}",
        )
        .unwrap();
        assert!(matches!(config, RedisConfig::Split { .. }));

        for bad in ["42", "{foo: bar}", "{project_configs: 'redis://a'}", "[a]"] {
            assert!(serde_yaml::from_str::<RedisConfig>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redis_round_trips_through_yaml() {
        for yaml in [
            "redis://a",
            "{server: 'redis://a', max_connections: 30}",
            "{cluster_nodes: ['redis://a']}",
            "{project_configs: 'redis://a', quotas: {server: 'redis://b'}}",
        ] {
            let config: RedisConfig = serde_yaml::from_str(yaml).unwrap();
            let written = serde_yaml::to_string(&config).unwrap();
            let back: RedisConfig = serde_yaml::from_str(&written).unwrap();
            assert_eq!(back, config, "{yaml}");
        }
    }

    #[test]
    fn bootstrap_servers_are_set_or_replaced() {
        let mut config = ProcessingConfig::default();
        config.set_kafka_bootstrap_servers("a:9092".into());
        config.set_kafka_bootstrap_servers("b:9092".into());
        assert_eq!(
            config.kafka_config,
            vec![KafkaConfigParam {
                name: "bootstrap.servers".into(),
                value: "b:9092".into()
            }]
        );
    }

    #[test]
    fn objectstore_upload_alias() {
        let config: ProcessingConfig =
            serde_yaml::from_str("upload: {objectstore_url: 'http://store'}").unwrap();
        assert_eq!(
            config.objectstore.objectstore_url.as_deref(),
            Some("http://store")
        );
    }
}
