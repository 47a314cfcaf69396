//! Redis for a processing relay (`redis-and-quotas.md` §1–§2, `config.md` §4.11).
//!
//! * Configuration: the typed form of `processing.redis` ([`RedisPools`], [`RedisServer`],
//!   [`RedisTopology`], [`RedisPoolOptions`]), validated with errors that name the offending
//!   setting (`processing.redis…`).
//! * Connections: [`RedisConnection`], one multiplexed, self-reconnecting connection to a
//!   single node or a cluster, honouring the pool options.
//! * The project-config cache: [`ProjectConfigCache`], the reader *and* writer of the cache
//!   that Sentry fills (`<prefix>:<public key>` holding zstd-compressed or plain JSON,
//!   `<prefix>:<public key>.rev` holding the revision).
//!
//! Relay itself only reads the cache; the writer exists for `relay project-config push` and
//! for tests, and produces exactly the bytes a Sentry writer produces, so either can fill the
//! cache for the other.

#![warn(missing_docs)]

mod config;
mod connection;
mod project_config;

pub use config::{
    default_max_connections, RedisConfigError, RedisPoolOptions, RedisPools, RedisServer,
    RedisTopology, PROJECT_CONFIGS_MIN_CONNECTIONS,
};
pub use connection::{RedisConnection, RedisConnectionError};
pub use project_config::{
    decode_value, encode_value, CacheExpiry, CacheLookup, CachedConfig, ProjectConfigCache,
    ProjectConfigCacheError, ValueEncoding, DEFAULT_PROJECTCONFIG_CACHE_PREFIX,
    MAX_DECODED_CONFIG_SIZE, REVISION_KEY_SUFFIX,
};
