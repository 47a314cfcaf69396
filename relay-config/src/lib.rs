//! The single typed model of relay's configuration directory (`config.md`).
//!
//! * [`Config`] is the loaded directory: `config.yml` values ([`ConfigValues`]), the relay
//!   identity ([`Credentials`] from `credentials.json`) and the directory path. It applies
//!   environment/flag overrides ([`OverridableConfig`]) and performs the startup checks.
//! * [`ConfigValues`] and its section structs mirror `config.yml` with every default of
//!   `config.md` §4; all fields are public.
//! * [`ByteSize`] and [`UpstreamDescriptor`] implement the value grammars of §1.1 and §4.1.
//!
//! I/O is confined to [`Config::from_path`], [`Config::replace_credentials`] and
//! [`OverridableConfig::from_env`].
//!
//! Relay extensions (not in Sentry's Relay 26.9): [`RelayMode::Static`], the `output` section
//! ([`OutputConfig`]) and `spool.envelopes.max_memory_size` /
//! `spool.envelopes.max_buffered_envelopes` ([`EnvelopeSpoolConfig`]).

#![warn(missing_docs)]

mod aggregator;
mod byte_size;
mod config;
mod credentials;
mod overrides;
mod processing;
mod substitution;
mod upstream;
mod values;

pub use aggregator::{
    AggregatorCondition, AggregatorConfig, ConditionField, FlushBatching, MetricNamespace,
    SecondaryAggregatorConfig,
};
pub use byte_size::{ByteSize, ByteSizeError, ByteUnit, MAX_PLAIN_BYTE_COUNT};
pub use config::{
    Config, ConfigError, YamlLocation, CONFIG_FILE_NAME, CREDENTIALS_FILE_NAME,
    GLOBAL_CONFIG_FILE_NAME, OUTPUT_ENVELOPES_DIR_NAME, OUTPUT_TOPICS_DIR_NAME,
    STATIC_PROJECTS_DIR_NAME,
};
pub use credentials::Credentials;
pub use overrides::OverridableConfig;
pub use processing::{
    KafkaConfigParam, KafkaTopic, KeyRateLimit, ObjectstoreAuth, ObjectstoreConfig,
    ProcessingConfig, RedisConfig, RedisConnectionOptions, RedisServerConfig, TopicAssignment,
    TopicAssignments, TopicDetails, DEFAULT_PROJECTCONFIG_CACHE_PREFIX, KAFKA_BOOTSTRAP_SERVERS,
};
pub use substitution::SubstitutionError;
pub use upstream::{UpstreamDescriptor, UpstreamError, UpstreamScheme, DEFAULT_UPSTREAM};
pub use values::{
    AuthConfig, AuthReady, CacheConfig, CogsConfig, ConfigValues, EmitOutcomes,
    EnvelopeSpoolConfig, EnvelopeSpoolPartitioning, GeoIpConfig, HealthConfig, HttpConfig,
    HttpEncoding, LimitsConfig, LogFormat, LogLevel, LoggingConfig, MetricsConfig,
    NormalizationConfig, NormalizationLevel, OutcomesConfig, OutputConfig, RelayConfig, RelayInfo,
    RelayInstance, RelayMode, RelayModeParseError, RoutingConfig, SentryConfig, SpoolConfig,
    UnknownVariantError, UploadConfig, UploadCredentials, DEFAULT_PORT, DEFAULT_SENTRY_DSN,
};
