//! The typed model of `config.yml` (`config.md` §4) with every default.
//!
//! Invariants:
//! * every section and key is optional (`#[serde(default)]` everywhere) and unknown keys are
//!   ignored; type errors and invalid enum values fail deserialization;
//! * `Default` impls are pure: values that depend on the environment (the Docker-dependent
//!   listen address) are left as `None` here and resolved by [`crate::Config`];
//! * durations are plain integers in the unit named by the key (seconds unless `_ms`);
//! * sections and keys marked *relay extension* do not exist in Sentry's Relay 26.9.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU8};
use std::path::PathBuf;
use std::str::FromStr;

use relay_auth::{PublicKey, RelayId, SecretKey};
use serde::{Deserialize, Serialize};

use crate::aggregator::{AggregatorConfig, SecondaryAggregatorConfig};
use crate::byte_size::ByteSize;
use crate::processing::ProcessingConfig;
use crate::upstream::UpstreamDescriptor;

/// The listen port used when none is configured.
pub const DEFAULT_PORT: u16 = 3000;

/// How the relay operates (`config.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayMode {
    /// Registers upstream, fetches project configs, validates and processes.
    #[default]
    Managed,
    /// Forwards everything unmodified; only upstream rate limits are enforced.
    Proxy,
    /// *Relay extension* (removed from Sentry's Relay, kept here for self-hosted and
    /// air-gapped setups): project configs are read from
    /// `<config dir>/projects/<project_id>.json` instead of being fetched; no registration.
    Static,
}

impl RelayMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayMode::Managed => "managed",
            RelayMode::Proxy => "proxy",
            RelayMode::Static => "static",
        }
    }
}

impl fmt::Display for RelayMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode name other than `managed`, `proxy` or `static`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Relay mode must be one of: managed or proxy or static")]
pub struct RelayModeParseError;

impl FromStr for RelayMode {
    type Err = RelayModeParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "managed" => Ok(RelayMode::Managed),
            "proxy" => Ok(RelayMode::Proxy),
            "static" => Ok(RelayMode::Static),
            _ => Err(RelayModeParseError),
        }
    }
}

/// Instance type, informational only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayInstance {
    /// A regular instance.
    #[default]
    Default,
    /// A canary instance.
    Canary,
}

/// `relay`: identity of the listener and the upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RelayConfig {
    /// Operating mode.
    pub mode: RelayMode,
    /// Instance type.
    pub instance: RelayInstance,
    /// The upstream origin.
    pub upstream: UpstreamDescriptor,
    /// Upstream advertised to downstream relays in served project configs.
    pub advertised_upstream: Option<UpstreamDescriptor>,
    /// Listen address; `None` means the default (`127.0.0.1`, or `0.0.0.0` in Docker), which
    /// [`crate::Config::listen_addr`] resolves. Must be a literal IP address.
    pub host: Option<IpAddr>,
    /// Listen port.
    pub port: u16,
    /// Listen address of the internal routes.
    pub internal_host: Option<IpAddr>,
    /// Listen port of the internal routes.
    pub internal_port: Option<u16>,
    /// Skip project-id validation and rewrite to the upstream's project id.
    pub override_project_ids: bool,
    /// Reload interval of the config directory in seconds (`0` = every 50 ms).
    pub config_reload_interval: Option<u64>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            mode: RelayMode::Managed,
            instance: RelayInstance::Default,
            upstream: UpstreamDescriptor::default(),
            advertised_upstream: None,
            host: None,
            port: DEFAULT_PORT,
            internal_host: None,
            internal_port: None,
            override_project_ids: false,
            config_reload_interval: None,
        }
    }
}

/// Content-Encoding of envelopes and metrics sent upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpEncoding {
    /// No compression.
    Identity,
    /// zlib deflate.
    Deflate,
    /// gzip.
    Gzip,
    /// brotli.
    Br,
    /// zstd (default).
    #[default]
    Zstd,
}

impl HttpEncoding {
    /// The `Content-Encoding` token, `None` for identity (no header is sent).
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            HttpEncoding::Identity => None,
            HttpEncoding::Deflate => Some("deflate"),
            HttpEncoding::Gzip => Some("gzip"),
            HttpEncoding::Br => Some("br"),
            HttpEncoding::Zstd => Some("zstd"),
        }
    }
}

/// `http`: the upstream client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Seconds from send to response headers; also the forwarder's overall timeout.
    pub timeout: u32,
    /// Connect (incl. TLS) timeout in seconds.
    pub connection_timeout: u32,
    /// Backoff cap in seconds.
    pub max_retry_interval: u32,
    /// Custom `Host` header for upstream requests.
    pub host_header: Option<String>,
    /// Re-registration interval in seconds; `0` or null disables.
    pub auth_interval: Option<u64>,
    /// Seconds of continuous network failure before outage mode.
    pub outage_grace_period: u64,
    /// Seconds before retrying a failed upstream request.
    pub retry_delay: u64,
    /// Seconds of continuous project-fetch failure before it is logged.
    pub project_failure_interval: u64,
    /// Content-Encoding of envelopes and metrics sent upstream.
    pub encoding: HttpEncoding,
    /// Send metrics to `/api/0/relays/metrics/` instead of per-project envelopes.
    pub global_metrics: bool,
    /// Forward unknown `/api/` paths (always off when processing).
    pub forward: bool,
    /// In-process DNS cache.
    pub dns_cache: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: 5,
            connection_timeout: 3,
            max_retry_interval: 60,
            host_header: None,
            auth_interval: Some(600),
            outage_grace_period: 10,
            retry_delay: 1,
            project_failure_interval: 90,
            encoding: HttpEncoding::Zstd,
            global_metrics: false,
            forward: true,
            dns_cache: true,
        }
    }
}

/// `cache`: project-config and relay-key caches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// Request full project configs (`fullConfig`).
    pub project_request_full_config: bool,
    /// Seconds until a project config becomes stale.
    pub project_expiry: u32,
    /// Extra seconds a stale config is used; eviction at expiry + grace.
    pub project_grace_period: u32,
    /// Proactive refresh in seconds, valid only between expiry and expiry + grace.
    pub project_refresh_interval: Option<u32>,
    /// Seconds downstream relay public keys are cached.
    pub relay_expiry: u32,
    /// Seconds "relay unknown" answers are cached.
    pub miss_expiry: u32,
    /// Milliseconds to collect project keys into one query.
    pub batch_interval: u32,
    /// Milliseconds to collect relay ids into one public-key query.
    pub downstream_relays_batch_interval: u32,
    /// Maximum keys per project-config request.
    pub batch_size: usize,
    /// Accepted, unused.
    pub file_interval: u32,
    /// Global config refresh interval in seconds.
    pub global_config_fetch_interval: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            project_request_full_config: false,
            project_expiry: 300,
            project_grace_period: 120,
            project_refresh_interval: None,
            relay_expiry: 3600,
            miss_expiry: 60,
            batch_interval: 100,
            downstream_relays_batch_interval: 100,
            batch_size: 500,
            file_interval: 10,
            global_config_fetch_interval: 10,
        }
    }
}

/// Default for the expanded-operations limits.
const DEFAULT_MAX_EXPANDED_OPERATIONS: usize = 3_000_000;

/// `limits`: sizes, counts, concurrency and timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// In-flight upstream requests.
    pub max_concurrent_requests: usize,
    /// Parallel project-config requests.
    pub max_concurrent_queries: usize,
    /// Maximum event payload size.
    pub max_event_size: ByteSize,
    /// Maximum size of one attachment.
    pub max_attachment_size: ByteSize,
    /// Maximum attachments per envelope.
    pub max_attachment_count: usize,
    /// Maximum total attachment size per envelope.
    pub max_attachments_size: ByteSize,
    /// Maximum upload size.
    pub max_upload_size: ByteSize,
    /// Maximum client report size.
    pub max_client_reports_size: ByteSize,
    /// Maximum client reports per envelope.
    pub max_client_reports_count: usize,
    /// Maximum check-in size.
    pub max_check_in_size: ByteSize,
    /// Maximum envelope size.
    pub max_envelope_size: ByteSize,
    /// Maximum total session size per envelope.
    pub max_sessions_size: ByteSize,
    /// Maximum sessions per envelope.
    pub max_session_count: usize,
    /// Forwarder limit; also the maximum size of upstream JSON answers.
    pub max_api_payload_size: ByteSize,
    /// Forwarded release-file/dsym uploads.
    pub max_api_file_upload_size: ByteSize,
    /// Forwarded chunk uploads.
    pub max_api_chunk_upload_size: ByteSize,
    /// Maximum profile size.
    pub max_profile_size: ByteSize,
    /// Maximum trace metric size.
    pub max_trace_metric_size: ByteSize,
    /// Maximum log size.
    pub max_log_size: ByteSize,
    /// Maximum span size.
    pub max_span_size: ByteSize,
    /// Maximum standalone spans per envelope.
    pub max_standalone_span_count: usize,
    /// Maximum container size.
    pub max_container_size: ByteSize,
    /// Maximum size of a metric buckets item.
    pub max_metric_buckets_size: ByteSize,
    /// Maximum compressed replay size.
    pub max_replay_compressed_size: ByteSize,
    /// Maximum uncompressed replay size (alias `max_replay_size`).
    #[serde(alias = "max_replay_size")]
    pub max_replay_uncompressed_size: ByteSize,
    /// Maximum replay message size.
    pub max_replay_message_size: ByteSize,
    /// Maximum key size of removed attributes.
    pub max_removed_attribute_key_size: ByteSize,
    /// Maximum expanded log operations.
    pub max_expanded_log_operations: usize,
    /// Maximum expanded span operations.
    pub max_expanded_span_operations: usize,
    /// Maximum expanded trace metric operations.
    pub max_expanded_trace_metric_operations: usize,
    /// Worker threads; defaults to the number of CPUs.
    pub max_thread_count: usize,
    /// Concurrency per worker.
    pub max_pool_concurrency: usize,
    /// Deadline in seconds for a project-config query including retries.
    pub query_timeout: u64,
    /// Graceful shutdown budget in seconds after SIGTERM.
    pub shutdown_timeout: u64,
    /// HTTP keep-alive timeout in seconds.
    pub keepalive_timeout: u64,
    /// HTTP idle timeout in seconds.
    pub idle_timeout: Option<u64>,
    /// Maximum concurrent connections (unlimited when absent).
    pub max_connections: Option<usize>,
    /// TCP listen backlog.
    pub tcp_listen_backlog: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 100,
            max_concurrent_queries: 5,
            max_event_size: ByteSize::mebibytes(1),
            max_attachment_size: ByteSize::mebibytes(200),
            max_attachment_count: 30,
            max_attachments_size: ByteSize::mebibytes(200),
            max_upload_size: ByteSize::mebibytes(1024),
            max_client_reports_size: ByteSize::kibibytes(100),
            max_client_reports_count: 100,
            max_check_in_size: ByteSize::kibibytes(100),
            max_envelope_size: ByteSize::mebibytes(200),
            max_sessions_size: ByteSize::mebibytes(10),
            max_session_count: 100,
            max_api_payload_size: ByteSize::mebibytes(20),
            max_api_file_upload_size: ByteSize::mebibytes(40),
            max_api_chunk_upload_size: ByteSize::mebibytes(100),
            max_profile_size: ByteSize::mebibytes(50),
            max_trace_metric_size: ByteSize::mebibytes(1),
            max_log_size: ByteSize::mebibytes(2),
            max_span_size: ByteSize::mebibytes(10),
            max_standalone_span_count: 25,
            max_container_size: ByteSize::mebibytes(12),
            max_metric_buckets_size: ByteSize::mebibytes(1),
            max_replay_compressed_size: ByteSize::mebibytes(10),
            max_replay_uncompressed_size: ByteSize::mebibytes(100),
            max_replay_message_size: ByteSize::mebibytes(15),
            max_removed_attribute_key_size: ByteSize::kibibytes(10),
            max_expanded_log_operations: DEFAULT_MAX_EXPANDED_OPERATIONS,
            max_expanded_span_operations: DEFAULT_MAX_EXPANDED_OPERATIONS,
            max_expanded_trace_metric_operations: DEFAULT_MAX_EXPANDED_OPERATIONS,
            max_thread_count: std::thread::available_parallelism().map_or(1, usize::from),
            max_pool_concurrency: 1,
            query_timeout: 30,
            shutdown_timeout: 10,
            keepalive_timeout: 5,
            idle_timeout: None,
            max_connections: None,
            tcp_listen_backlog: 1024,
        }
    }
}

/// When the readiness probe reports ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthReady {
    /// Only once registered with the upstream (managed mode).
    #[default]
    Authenticated,
    /// Always.
    Always,
}

/// A downstream relay known without asking the upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayInfo {
    /// Its public key (snake_case `public_key` in the config).
    pub public_key: PublicKey,
    /// Whether it is an internal relay.
    #[serde(default)]
    pub internal: bool,
}

/// `auth`: downstream relay authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Readiness condition.
    pub ready: AuthReady,
    /// Statically known downstream relays.
    pub static_relays: BTreeMap<RelayId, RelayInfo>,
    /// Maximum age of relay signatures in seconds.
    pub signature_max_age: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            ready: AuthReady::Authenticated,
            static_relays: BTreeMap::new(),
            signature_max_age: 300,
        }
    }
}

/// `health`: readiness evaluation and memory watermarks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// Readiness evaluation interval in milliseconds.
    pub refresh_interval_ms: u64,
    /// Absolute memory watermark.
    pub max_memory_bytes: Option<ByteSize>,
    /// Relative memory watermark (0.0–1.0).
    pub max_memory_percent: f32,
    /// Per-probe timeout in milliseconds.
    pub probe_timeout_ms: u64,
    /// Memory sampling frequency in milliseconds.
    pub memory_stat_refresh_frequency_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            refresh_interval_ms: 3000,
            max_memory_bytes: None,
            max_memory_percent: 0.95,
            probe_timeout_ms: 900,
            memory_stat_refresh_frequency_ms: 100,
        }
    }
}

/// How envelopes are distributed over buffer partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvelopeSpoolPartitioning {
    /// Round robin.
    #[default]
    RoundRobin,
    /// By the pair of project keys.
    ProjectKeyPair,
}

/// `spool.envelopes`: the envelope buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvelopeSpoolConfig {
    /// SQLite file for on-disk buffering; in-memory when absent. Partition `n>0` uses
    /// `<file>.<n>`. Relative paths are relative to the config directory.
    pub path: Option<PathBuf>,
    /// Disk budget; when full new envelopes are rejected with 503.
    pub max_disk_size: ByteSize,
    /// Bytes accumulated before writing to disk.
    pub batch_size_bytes: ByteSize,
    /// Flush a partial batch after this many seconds.
    pub flush_timeout_secs: Option<u64>,
    /// Envelopes older than this many seconds are dropped from the buffer.
    pub max_envelope_delay_secs: u64,
    /// Disk usage sampling frequency in milliseconds.
    pub disk_usage_refresh_frequency_ms: u64,
    /// Above this memory usage (0.0–1.0) the buffer stops dequeuing.
    pub max_backpressure_memory_percent: f32,
    /// Number of partitions (at least 1).
    pub partitions: NonZeroU8,
    /// Partitioning scheme.
    pub partitioning: EnvelopeSpoolPartitioning,
    /// Unspool rate limit.
    pub max_unspool_envelopes_per_second: Option<NonZeroU32>,
    /// On graceful shutdown, process buffered data instead of keeping it on disk.
    pub ephemeral: bool,
    /// *Relay extension*: bound on the bytes of envelopes held in the in-memory buffer; once
    /// reached, ingestion answers 503.
    pub max_memory_size: ByteSize,
    /// *Relay extension*: bound on the number of envelopes held in the in-memory buffer; once
    /// reached, ingestion answers 503.
    pub max_buffered_envelopes: usize,
    /// *Relay extension*: while the upstream is reachable but slower than ingestion, at most
    /// this many envelopes wait in its send queue; further requests wait for room (flow
    /// control back to the clients) instead of growing the buffer. When the upstream is
    /// unreachable the whole buffer is used.
    pub max_queued_for_upstream: usize,
    /// *Relay extension*: how long (ms) a request waits for room in the upstream send queue
    /// before it is answered 503.
    pub admission_timeout_ms: u64,
}

impl Default for EnvelopeSpoolConfig {
    fn default() -> Self {
        Self {
            path: None,
            max_disk_size: ByteSize::mebibytes(500),
            batch_size_bytes: ByteSize::kibibytes(10),
            flush_timeout_secs: None,
            max_envelope_delay_secs: 86_400,
            disk_usage_refresh_frequency_ms: 100,
            max_backpressure_memory_percent: 0.8,
            partitions: NonZeroU8::MIN,
            partitioning: EnvelopeSpoolPartitioning::RoundRobin,
            max_unspool_envelopes_per_second: None,
            ephemeral: false,
            max_memory_size: ByteSize::mebibytes(64),
            max_buffered_envelopes: 10_000,
            max_queued_for_upstream: 64,
            admission_timeout_ms: 1_000,
        }
    }
}

/// `spool`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpoolConfig {
    /// The envelope buffer.
    pub envelopes: EnvelopeSpoolConfig,
}

/// `routing`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoutingConfig {
    /// Forward (true) or drop (false) unknown envelope items; when absent, true unless
    /// processing (see [`crate::Config::accept_unknown_items`]).
    pub accept_unknown_items: Option<bool>,
}

/// How much normalization runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormalizationLevel {
    /// Only forward-compatible steps.
    #[default]
    Default,
    /// All steps (last relay layer).
    Full,
}

/// `normalization`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NormalizationConfig {
    /// Normalization level.
    pub level: NormalizationLevel,
}

/// `geoip`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GeoIpConfig {
    /// MaxMind database (GeoIP2/GeoLite2 City `.mmdb`) for the `user.geo` of events; wins over
    /// the legacy `processing.geoip_path` (see [`crate::Config::geoip_path`]).
    pub path: Option<PathBuf>,
}

/// `outcomes.emit_outcomes`: `true`, `false` or `"as_client_reports"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EmitOutcomes {
    /// Outcomes are not emitted.
    False,
    /// Outcomes are emitted as outcomes.
    True,
    /// Outcomes are emitted as client reports (default).
    #[default]
    AsClientReports,
}

/// The string spelling of [`EmitOutcomes::AsClientReports`].
const AS_CLIENT_REPORTS: &str = "as_client_reports";

impl Serialize for EmitOutcomes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EmitOutcomes::False => serializer.serialize_bool(false),
            EmitOutcomes::True => serializer.serialize_bool(true),
            EmitOutcomes::AsClientReports => serializer.serialize_str(AS_CLIENT_REPORTS),
        }
    }
}

struct EmitOutcomesVisitor;

impl serde::de::Visitor<'_> for EmitOutcomesVisitor {
    type Value = EmitOutcomes;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("true, false or \"as_client_reports\"")
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<EmitOutcomes, E> {
        Ok(if value {
            EmitOutcomes::True
        } else {
            EmitOutcomes::False
        })
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<EmitOutcomes, E> {
        if value == AS_CLIENT_REPORTS {
            return Ok(EmitOutcomes::AsClientReports);
        }
        Err(E::invalid_value(serde::de::Unexpected::Str(value), &self))
    }
}

impl<'de> Deserialize<'de> for EmitOutcomes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EmitOutcomesVisitor)
    }
}

/// `outcomes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OutcomesConfig {
    /// How outcomes are emitted (ignored when processing: always Kafka).
    pub emit_outcomes: EmitOutcomes,
    /// Added as `source` tag to every outcome.
    pub source: Option<String>,
}

/// Reports an unknown name for a case-insensitive config enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}, expected one of: {expected}")]
pub struct UnknownVariantError {
    kind: &'static str,
    value: String,
    expected: &'static str,
}

/// Stderr log level; parsed case-insensitively, the empty string means `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Informational messages (default).
    #[default]
    Info,
    /// Debug messages.
    Debug,
    /// Everything.
    Trace,
    /// Nothing.
    Off,
}

impl LogLevel {
    /// The lowercase spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
            LogLevel::Off => "off",
        }
    }
}

impl FromStr for LogLevel {
    type Err = UnknownVariantError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "" | "error" => Ok(LogLevel::Error),
            "warn" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            "trace" => Ok(LogLevel::Trace),
            "off" => Ok(LogLevel::Off),
            _ => Err(UnknownVariantError {
                kind: "log level",
                value: text.to_owned(),
                expected: "error, warn, info, debug, trace, off",
            }),
        }
    }
}

/// Stderr log format; parsed case-insensitively, the empty string means `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// Pretty on a terminal, simplified otherwise (default).
    #[default]
    Auto,
    /// Human-friendly multi-line output.
    Pretty,
    /// One line per record.
    Simplified,
    /// JSON lines.
    Json,
}

impl LogFormat {
    /// The lowercase spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Auto => "auto",
            LogFormat::Pretty => "pretty",
            LogFormat::Simplified => "simplified",
            LogFormat::Json => "json",
        }
    }
}

impl FromStr for LogFormat {
    type Err = UnknownVariantError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(LogFormat::Auto),
            "pretty" => Ok(LogFormat::Pretty),
            "simplified" => Ok(LogFormat::Simplified),
            "json" => Ok(LogFormat::Json),
            _ => Err(UnknownVariantError {
                kind: "log format",
                value: text.to_owned(),
                expected: "auto, pretty, simplified, json",
            }),
        }
    }
}

macro_rules! serde_via_str {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_str!(LogLevel);
serde_via_str!(LogFormat);

/// `logging`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingConfig {
    /// Stderr log level.
    pub level: LogLevel,
    /// Stderr log format.
    pub format: LogFormat,
    /// Capture backtraces.
    pub enable_backtraces: bool,
    /// Sample rate of relay's own performance traces.
    pub traces_sample_rate: f32,
}

/// `metrics`: relay's own StatsD telemetry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// StatsD/DogStatsD target `host:port`; disabled when absent.
    pub statsd: Option<String>,
    /// StatsD buffer size.
    pub statsd_buffer_size: Option<usize>,
    /// Metric name prefix.
    pub prefix: String,
    /// Tags added to every metric.
    pub default_tags: BTreeMap<String, String>,
    /// Tag name under which the hostname is added.
    pub hostname_tag: Option<String>,
    /// Interval of periodic gauges in seconds; `0` disables.
    pub periodic_secs: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            statsd: None,
            statsd_buffer_size: None,
            prefix: "sentry.relay".to_owned(),
            default_tags: BTreeMap::new(),
            hostname_tag: None,
            periodic_secs: 5,
        }
    }
}

/// The DSN relay reports its own errors to by default.
pub const DEFAULT_SENTRY_DSN: &str = "https://0cc4a37e5aab4da58366266a87a95740@sentry.io/1269704";

/// `sentry`: relay's own error reporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SentryConfig {
    /// Report relay's own warnings and errors.
    pub enabled: bool,
    /// Target of those reports.
    pub dsn: String,
    /// Environment of the reports.
    pub environment: Option<String>,
    /// Server name of the reports.
    pub server_name: Option<String>,
    /// Tags added to every report.
    pub default_tags: Option<BTreeMap<String, String>>,
    /// Native crash database (crash-handler builds).
    #[serde(rename = "_crash_db")]
    pub crash_db: Option<PathBuf>,
}

impl Default for SentryConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dsn: DEFAULT_SENTRY_DSN.to_owned(),
            environment: None,
            server_name: None,
            default_tags: None,
            crash_db: None,
        }
    }
}

/// Keys for signing and verifying upload URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadCredentials {
    /// Signing key.
    pub signing_key: SecretKey,
    /// Verification key.
    pub verification_key: PublicKey,
}

/// `upload`: resumable uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadConfig {
    /// Parallel upload requests.
    pub max_concurrent_requests: usize,
    /// Upload timeout in seconds.
    pub timeout: u64,
    /// Maximum seconds between upload creation and use.
    pub max_age: i64,
    /// Upload signing keys; the relay credentials are used when absent.
    pub credentials: Option<UploadCredentials>,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 100,
            timeout: 300,
            max_age: 3600,
            credentials: None,
        }
    }
}

/// `cogs`: resource usage accounting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CogsConfig {
    /// Queue size.
    pub max_queue_size: u64,
    /// Resource id of this relay.
    pub relay_resource_id: String,
}

impl Default for CogsConfig {
    fn default() -> Self {
        Self {
            max_queue_size: 10_000,
            relay_resource_id: "relay_service".to_owned(),
        }
    }
}

/// `output` — *relay extension*.
///
/// When `directory` is set, envelopes that would be sent upstream are written as files into
/// `<directory>/envelopes/` instead (used by the no-upstream embedded default). A relative
/// directory is relative to the config directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputConfig {
    /// Output directory; upstream sending is used when absent.
    pub directory: Option<PathBuf>,
}

/// The whole `config.yml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigValues {
    /// `relay`
    pub relay: RelayConfig,
    /// `http`
    pub http: HttpConfig,
    /// `cache`
    pub cache: CacheConfig,
    /// `limits`
    pub limits: LimitsConfig,
    /// `auth`
    pub auth: AuthConfig,
    /// `health`
    pub health: HealthConfig,
    /// `spool`
    pub spool: SpoolConfig,
    /// `routing`
    pub routing: RoutingConfig,
    /// `normalization`
    pub normalization: NormalizationConfig,
    /// `geoip`
    pub geoip: GeoIpConfig,
    /// `aggregator`
    pub aggregator: AggregatorConfig,
    /// `secondary_aggregators`
    pub secondary_aggregators: Vec<SecondaryAggregatorConfig>,
    /// `outcomes`
    pub outcomes: OutcomesConfig,
    /// `processing`
    pub processing: ProcessingConfig,
    /// `logging`
    pub logging: LoggingConfig,
    /// `metrics`
    pub metrics: MetricsConfig,
    /// `sentry`
    pub sentry: SentryConfig,
    /// `upload`
    pub upload: UploadConfig,
    /// `cogs`
    pub cogs: CogsConfig,
    /// `output` (relay extension)
    pub output: OutputConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;

    #[test]
    fn relay_http_cache_defaults() {
        let values = ConfigValues::default();
        let relay = &values.relay;
        assert_eq!(relay.mode, RelayMode::Managed);
        assert_eq!(relay.instance, RelayInstance::Default);
        assert_eq!(relay.upstream.to_string(), "https://sentry.io/");
        assert_eq!(relay.advertised_upstream, None);
        assert_eq!(relay.host, None);
        assert_eq!(relay.port, 3000);
        assert_eq!(relay.internal_host, None);
        assert_eq!(relay.internal_port, None);
        assert!(!relay.override_project_ids);
        assert_eq!(relay.config_reload_interval, None);

        let http = &values.http;
        assert_eq!(http.timeout, 5);
        assert_eq!(http.connection_timeout, 3);
        assert_eq!(http.max_retry_interval, 60);
        assert_eq!(http.host_header, None);
        assert_eq!(http.auth_interval, Some(600));
        assert_eq!(http.outage_grace_period, 10);
        assert_eq!(http.retry_delay, 1);
        assert_eq!(http.project_failure_interval, 90);
        assert_eq!(http.encoding, HttpEncoding::Zstd);
        assert!(!http.global_metrics);
        assert!(http.forward);
        assert!(http.dns_cache);

        let cache = &values.cache;
        assert!(!cache.project_request_full_config);
        assert_eq!(cache.project_expiry, 300);
        assert_eq!(cache.project_grace_period, 120);
        assert_eq!(cache.project_refresh_interval, None);
        assert_eq!(cache.relay_expiry, 3600);
        assert_eq!(cache.miss_expiry, 60);
        assert_eq!(cache.batch_interval, 100);
        assert_eq!(cache.downstream_relays_batch_interval, 100);
        assert_eq!(cache.batch_size, 500);
        assert_eq!(cache.file_interval, 10);
        assert_eq!(cache.global_config_fetch_interval, 10);
    }

    #[test]
    fn limits_defaults() {
        let limits = LimitsConfig::default();
        assert_eq!(limits.max_concurrent_requests, 100);
        assert_eq!(limits.max_concurrent_queries, 5);
        let sizes = [
            (limits.max_event_size, MIB, "1MiB"),
            (limits.max_attachment_size, 200 * MIB, "200MiB"),
            (limits.max_attachments_size, 200 * MIB, "200MiB"),
            (limits.max_upload_size, 1024 * MIB, "1GiB"),
            (limits.max_client_reports_size, 100 * KIB, "100KiB"),
            (limits.max_check_in_size, 100 * KIB, "100KiB"),
            (limits.max_envelope_size, 200 * MIB, "200MiB"),
            (limits.max_sessions_size, 10 * MIB, "10MiB"),
            (limits.max_api_payload_size, 20 * MIB, "20MiB"),
            (limits.max_api_file_upload_size, 40 * MIB, "40MiB"),
            (limits.max_api_chunk_upload_size, 100 * MIB, "100MiB"),
            (limits.max_profile_size, 50 * MIB, "50MiB"),
            (limits.max_trace_metric_size, MIB, "1MiB"),
            (limits.max_log_size, 2 * MIB, "2MiB"),
            (limits.max_span_size, 10 * MIB, "10MiB"),
            (limits.max_container_size, 12 * MIB, "12MiB"),
            (limits.max_metric_buckets_size, MIB, "1MiB"),
            (limits.max_replay_compressed_size, 10 * MIB, "10MiB"),
            (limits.max_replay_uncompressed_size, 100 * MIB, "100MiB"),
            (limits.max_replay_message_size, 15 * MIB, "15MiB"),
            (limits.max_removed_attribute_key_size, 10 * KIB, "10KiB"),
        ];
        for (size, bytes, shown) in sizes {
            assert_eq!(size.as_bytes(), bytes, "{shown}");
            assert_eq!(size.to_string(), shown);
        }
        assert_eq!(limits.max_attachment_count, 30);
        assert_eq!(limits.max_client_reports_count, 100);
        assert_eq!(limits.max_session_count, 100);
        assert_eq!(limits.max_standalone_span_count, 25);
        assert_eq!(limits.max_expanded_log_operations, 3_000_000);
        assert_eq!(limits.max_expanded_span_operations, 3_000_000);
        assert_eq!(limits.max_expanded_trace_metric_operations, 3_000_000);
        assert_eq!(
            limits.max_thread_count,
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        assert_eq!(limits.max_pool_concurrency, 1);
        assert_eq!(limits.query_timeout, 30);
        assert_eq!(limits.shutdown_timeout, 10);
        assert_eq!(limits.keepalive_timeout, 5);
        assert_eq!(limits.idle_timeout, None);
        assert_eq!(limits.max_connections, None);
        assert_eq!(limits.tcp_listen_backlog, 1024);
    }

    #[test]
    fn auth_health_spool_defaults() {
        let values = ConfigValues::default();
        assert_eq!(values.auth.ready, AuthReady::Authenticated);
        assert!(values.auth.static_relays.is_empty());
        assert_eq!(values.auth.signature_max_age, 300);

        let health = &values.health;
        assert_eq!(health.refresh_interval_ms, 3000);
        assert_eq!(health.max_memory_bytes, None);
        assert_eq!(health.max_memory_percent, 0.95);
        assert_eq!(health.probe_timeout_ms, 900);
        assert_eq!(health.memory_stat_refresh_frequency_ms, 100);

        let spool = &values.spool.envelopes;
        assert_eq!(spool.path, None);
        assert_eq!(spool.max_disk_size.as_bytes(), 500 * MIB);
        assert_eq!(spool.batch_size_bytes.as_bytes(), 10 * KIB);
        assert_eq!(spool.flush_timeout_secs, None);
        assert_eq!(spool.max_envelope_delay_secs, 86_400);
        assert_eq!(spool.disk_usage_refresh_frequency_ms, 100);
        assert_eq!(spool.max_backpressure_memory_percent, 0.8);
        assert_eq!(spool.partitions.get(), 1);
        assert_eq!(spool.partitioning, EnvelopeSpoolPartitioning::RoundRobin);
        assert_eq!(spool.max_unspool_envelopes_per_second, None);
        assert!(!spool.ephemeral);
        assert_eq!(spool.max_memory_size.as_bytes(), 64 * MIB);
        assert_eq!(spool.max_memory_size.to_string(), "64MiB");
        assert_eq!(spool.max_buffered_envelopes, 10_000);
        assert_eq!(spool.max_queued_for_upstream, 64);
        assert_eq!(spool.admission_timeout_ms, 1_000);
    }

    #[test]
    fn remaining_section_defaults() {
        let values = ConfigValues::default();
        assert_eq!(values.routing.accept_unknown_items, None);
        assert_eq!(values.normalization.level, NormalizationLevel::Default);
        assert_eq!(values.geoip.path, None);
        assert!(values.secondary_aggregators.is_empty());
        assert_eq!(values.outcomes.emit_outcomes, EmitOutcomes::AsClientReports);
        assert_eq!(values.outcomes.source, None);

        assert_eq!(values.logging.level, LogLevel::Info);
        assert_eq!(values.logging.format, LogFormat::Auto);
        assert!(!values.logging.enable_backtraces);
        assert_eq!(values.logging.traces_sample_rate, 0.0);

        assert_eq!(values.metrics.statsd, None);
        assert_eq!(values.metrics.statsd_buffer_size, None);
        assert_eq!(values.metrics.prefix, "sentry.relay");
        assert!(values.metrics.default_tags.is_empty());
        assert_eq!(values.metrics.hostname_tag, None);
        assert_eq!(values.metrics.periodic_secs, 5);

        assert!(!values.sentry.enabled);
        assert_eq!(
            values.sentry.dsn,
            "https://0cc4a37e5aab4da58366266a87a95740@sentry.io/1269704"
        );
        assert_eq!(values.sentry.environment, None);
        assert_eq!(values.sentry.server_name, None);
        assert_eq!(values.sentry.default_tags, None);
        assert_eq!(values.sentry.crash_db, None);

        assert_eq!(values.upload.max_concurrent_requests, 100);
        assert_eq!(values.upload.timeout, 300);
        assert_eq!(values.upload.max_age, 3600);
        assert_eq!(values.upload.credentials, None);

        assert_eq!(values.cogs.max_queue_size, 10_000);
        assert_eq!(values.cogs.relay_resource_id, "relay_service");

        assert_eq!(values.output.directory, None);
    }

    #[test]
    fn modes_parse_including_static() {
        for (text, mode) in [
            ("managed", RelayMode::Managed),
            ("proxy", RelayMode::Proxy),
            ("static", RelayMode::Static),
        ] {
            assert_eq!(text.parse::<RelayMode>(), Ok(mode));
            assert_eq!(serde_yaml::from_str::<RelayMode>(text).unwrap(), mode);
            assert_eq!(mode.to_string(), text);
        }
        assert_eq!("capture".parse::<RelayMode>(), Err(RelayModeParseError));
        let error = serde_yaml::from_str::<RelayMode>("capture").unwrap_err();
        assert!(error
            .to_string()
            .contains("unknown variant `capture`, expected one of `managed`, `proxy`, `static`"));
    }

    #[test]
    fn log_level_and_format_are_case_insensitive() {
        assert_eq!("TRACE".parse::<LogLevel>().unwrap(), LogLevel::Trace);
        assert_eq!("Warn".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert_eq!("".parse::<LogLevel>().unwrap(), LogLevel::Error);
        assert_eq!("off".parse::<LogLevel>().unwrap(), LogLevel::Off);
        assert!("verbose".parse::<LogLevel>().is_err());
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("".parse::<LogFormat>().unwrap(), LogFormat::Auto);
        assert!("xml".parse::<LogFormat>().is_err());
        let logging: LoggingConfig = serde_yaml::from_str("level: DEBUG\nformat: Pretty").unwrap();
        assert_eq!(logging.level, LogLevel::Debug);
        assert_eq!(logging.format, LogFormat::Pretty);
        assert!(serde_yaml::from_str::<LoggingConfig>("level: loud").is_err());
    }

    #[test]
    fn emit_outcomes_accepts_bools_and_as_client_reports() {
        let parse = |yaml: &str| serde_yaml::from_str::<EmitOutcomes>(yaml);
        assert_eq!(parse("true").unwrap(), EmitOutcomes::True);
        assert_eq!(parse("false").unwrap(), EmitOutcomes::False);
        assert_eq!(
            parse("as_client_reports").unwrap(),
            EmitOutcomes::AsClientReports
        );
        assert!(parse("\"true\"").is_err());
        assert!(parse("sometimes").is_err());
        assert!(parse("1").is_err());
        assert_eq!(
            serde_yaml::to_string(&EmitOutcomes::True).unwrap(),
            "true\n"
        );
        assert_eq!(
            serde_yaml::to_string(&EmitOutcomes::AsClientReports).unwrap(),
            "as_client_reports\n"
        );
    }

    #[test]
    fn spool_partitions_must_be_positive() {
        assert!(serde_yaml::from_str::<EnvelopeSpoolConfig>("partitions: 0").is_err());
        assert!(
            serde_yaml::from_str::<EnvelopeSpoolConfig>("max_unspool_envelopes_per_second: 0")
                .is_err()
        );
        let spool: EnvelopeSpoolConfig =
            serde_yaml::from_str("partitions: 4\npartitioning: project_key_pair").unwrap();
        assert_eq!(spool.partitions.get(), 4);
        assert_eq!(
            spool.partitioning,
            EnvelopeSpoolPartitioning::ProjectKeyPair
        );
    }

    #[test]
    fn http_auth_interval_null_disables() {
        let http: HttpConfig = serde_yaml::from_str("auth_interval: null").unwrap();
        assert_eq!(http.auth_interval, None);
        let http: HttpConfig = serde_yaml::from_str("encoding: br").unwrap();
        assert_eq!(http.encoding, HttpEncoding::Br);
        assert_eq!(http.auth_interval, Some(600));
        assert_eq!(HttpEncoding::Identity.content_encoding(), None);
        assert!(serde_yaml::from_str::<HttpConfig>("encoding: lz4").is_err());
    }
}
