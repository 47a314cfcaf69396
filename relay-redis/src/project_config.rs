//! The project-config cache in Redis (`redis-and-quotas.md` §2.1–§2.2).
//!
//! Layout, shared with Sentry (which fills the cache) so that either side can write it:
//!
//! | Key | Value |
//! |---|---|
//! | `<prefix>:<public key>` | the project state object as UTF-8 JSON, optionally one zstd frame of it |
//! | `<prefix>:<public key>.rev` | the plain revision string, equal to the state's `rev` field |
//!
//! `<prefix>` is `processing.projectconfig_cache_prefix` (default
//! [`DEFAULT_PROJECTCONFIG_CACHE_PREFIX`]). Reading tries zstd decompression first and falls back
//! to plain JSON. Expiry belongs to the writer: [`ProjectConfigCache::put`] gives both keys the
//! same TTL (or none); readers never look at it.
//!
//! Invariants: a [`CachedConfig`] always holds a JSON object; its `revision` is the state's `rev`
//! field when that is a string. The writer keeps the `.rev` key consistent with the value: it is
//! written with the value, and removed when the state has no revision, so a stale revision can
//! never make a reader keep an outdated config.

use std::io::Read;
use std::time::Duration;

use redis::AsyncCommands;
use relay_protocol::ProjectKey;
use serde_json::{Map, Value};

use crate::connection::RedisConnection;

/// Default of `processing.projectconfig_cache_prefix` (defined by relay-config).
pub use relay_config::DEFAULT_PROJECTCONFIG_CACHE_PREFIX;
/// Appended to the config key to form the revision key.
pub const REVISION_KEY_SUFFIX: &str = ".rev";
/// Upper bound of a decompressed value. Project configs are kilobytes to a few megabytes; the
/// bound keeps a corrupt or hostile zstd frame from expanding without limit in memory.
pub const MAX_DECODED_CONFIG_SIZE: usize = 64 * 1024 * 1024;

/// The state field holding the revision.
const REVISION_FIELD: &str = "rev";
/// The state field marking a disabled project.
const DISABLED_FIELD: &str = "disabled";
/// `PTTL` answer for a missing key.
const PTTL_MISSING: i64 = -2;
/// `PTTL` answer for a key without expiry.
const PTTL_PERSISTENT: i64 = -1;

/// How a value is (or is to be) stored under the config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueEncoding {
    /// One zstd frame of the JSON text: what Sentry writes, and our writer's default.
    #[default]
    Zstd,
    /// The JSON text as is.
    PlainJson,
}

impl ValueEncoding {
    /// A short name for messages: `zstd` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            ValueEncoding::Zstd => "zstd",
            ValueEncoding::PlainJson => "json",
        }
    }
}

/// A project state read from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedConfig {
    /// The project state object exactly as stored (key order preserved).
    pub state: Map<String, Value>,
    /// The state's `rev` field, when it is a string.
    pub revision: Option<String>,
    /// How the value was stored.
    pub encoding: ValueEncoding,
}

impl CachedConfig {
    /// Whether the state says `"disabled": true`.
    pub fn is_disabled(&self) -> bool {
        self.state.get(DISABLED_FIELD) == Some(&Value::Bool(true))
    }
}

/// Result of the read algorithm of `redis-and-quotas.md` §2.2.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheLookup {
    /// The cache holds the revision the caller already has: keep the current state.
    NotModified,
    /// Nothing cached for the key: ask the upstream.
    Pending,
    /// A different state (enabled or disabled, see [`CachedConfig::is_disabled`]).
    Found(CachedConfig),
}

/// Remaining lifetime of a cached config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheExpiry {
    /// The key does not exist.
    Missing,
    /// The key never expires.
    Never,
    /// The key expires after this long.
    In(Duration),
}

/// A cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectConfigCacheError {
    /// Redis refused or did not answer.
    #[error("redis command on key {key} failed")]
    Redis {
        /// The Redis key the command was about.
        key: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// The value is neither a zstd frame of JSON nor JSON.
    #[error(
        "the cached project config at redis key {key} is not JSON \
         (neither zstd-compressed nor plain)"
    )]
    Parse {
        /// The config key.
        key: String,
        /// Why the JSON parser rejected the (decompressed) bytes.
        #[source]
        source: serde_json::Error,
    },
    /// The value is JSON but not an object.
    #[error("the cached project config at redis key {key} is a JSON {found}, not an object")]
    NotAnObject {
        /// The config key.
        key: String,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// The zstd frame expands beyond [`MAX_DECODED_CONFIG_SIZE`].
    #[error(
        "the cached project config at redis key {key} decompresses to more than {limit} bytes"
    )]
    TooLarge {
        /// The config key.
        key: String,
        /// The bound.
        limit: usize,
    },
    /// The revision key holds bytes that are not UTF-8.
    #[error("the revision at redis key {key} is not UTF-8 text")]
    RevisionNotText {
        /// The revision key.
        key: String,
    },
    /// The state to write has a `rev` that is neither a string nor null.
    #[error("the project config's \"rev\" field must be a string or null, found a JSON {found}")]
    InvalidRevisionField {
        /// The JSON type found.
        found: &'static str,
    },
    /// A TTL below one millisecond, which Redis rejects.
    #[error("the TTL must be at least 1 millisecond, got {ttl:?}")]
    TtlTooShort {
        /// The requested TTL.
        ttl: Duration,
    },
    /// A TTL whose milliseconds do not fit Redis' 64-bit expiry.
    #[error("the TTL {ttl:?} is too long for redis")]
    TtlTooLong {
        /// The requested TTL.
        ttl: Duration,
    },
    /// Encoding the value failed.
    #[error("could not encode the project config")]
    Encode(#[source] std::io::Error),
}

impl ProjectConfigCacheError {
    /// Whether the error says Redis itself is unreachable or unresponsive (refused, dropped
    /// or timed-out connection), as opposed to a problem with one key's data.
    pub fn is_connection_error(&self) -> bool {
        match self {
            ProjectConfigCacheError::Redis { source, .. } => {
                source.is_io_error()
                    || source.is_connection_refusal()
                    || source.is_connection_dropped()
                    || source.is_timeout()
            }
            _ => false,
        }
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The state's revision as the reader sees it: the `rev` field when it is a string. Anything
/// else counts as "no revision", which never equals a held revision.
fn read_revision(state: &Map<String, Value>) -> Option<String> {
    match state.get(REVISION_FIELD) {
        Some(Value::String(revision)) => Some(revision.clone()),
        _ => None,
    }
}

/// The state's revision as the writer stores it; a malformed `rev` is refused rather than
/// written, because the `.rev` key could not represent it.
fn write_revision(state: &Map<String, Value>) -> Result<Option<&str>, ProjectConfigCacheError> {
    match state.get(REVISION_FIELD) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(revision)) => Ok(Some(revision)),
        Some(other) => Err(ProjectConfigCacheError::InvalidRevisionField {
            found: json_type_name(other),
        }),
    }
}

/// Decompresses a zstd value, reading at most one byte past [`MAX_DECODED_CONFIG_SIZE`];
/// `None` when the bytes are not a valid zstd frame (the caller then reads them as plain JSON).
fn decompress_bounded(bytes: &[u8]) -> Option<Vec<u8>> {
    let decoder = zstd::stream::read::Decoder::new(bytes).ok()?;
    let mut decoded = Vec::new();
    // One byte past the bound tells "exactly at the bound" from "beyond it".
    let read_limit = u64::try_from(MAX_DECODED_CONFIG_SIZE)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    decoder
        .take(read_limit)
        .read_to_end(&mut decoded)
        .ok()
        .map(|_| decoded)
}

/// Decodes a stored value (`redis-and-quotas.md` §2.1): zstd first, else plain JSON.
pub fn decode_value(key: &str, bytes: &[u8]) -> Result<CachedConfig, ProjectConfigCacheError> {
    let (json, encoding) = match decompress_bounded(bytes) {
        Some(decoded) => {
            if decoded.len() > MAX_DECODED_CONFIG_SIZE {
                return Err(ProjectConfigCacheError::TooLarge {
                    key: key.to_owned(),
                    limit: MAX_DECODED_CONFIG_SIZE,
                });
            }
            (std::borrow::Cow::Owned(decoded), ValueEncoding::Zstd)
        }
        None => (std::borrow::Cow::Borrowed(bytes), ValueEncoding::PlainJson),
    };
    let value: Value =
        serde_json::from_slice(&json).map_err(|source| ProjectConfigCacheError::Parse {
            key: key.to_owned(),
            source,
        })?;
    let Value::Object(state) = value else {
        return Err(ProjectConfigCacheError::NotAnObject {
            key: key.to_owned(),
            found: json_type_name(&value),
        });
    };
    Ok(CachedConfig {
        revision: read_revision(&state),
        state,
        encoding,
    })
}

/// Encodes a state for storage: compact JSON, as one zstd frame unless `PlainJson`.
pub fn encode_value(
    state: &Map<String, Value>,
    encoding: ValueEncoding,
) -> Result<Vec<u8>, ProjectConfigCacheError> {
    let json = serde_json::to_vec(state)
        .map_err(|error| ProjectConfigCacheError::Encode(std::io::Error::other(error)))?;
    match encoding {
        ValueEncoding::PlainJson => Ok(json),
        ValueEncoding::Zstd => zstd::encode_all(json.as_slice(), zstd::DEFAULT_COMPRESSION_LEVEL)
            .map_err(ProjectConfigCacheError::Encode),
    }
}

/// `PX` milliseconds for a TTL, refusing what Redis would refuse.
fn ttl_millis(ttl: Duration) -> Result<u64, ProjectConfigCacheError> {
    let millis = u64::try_from(ttl.as_millis())
        .ok()
        .filter(|millis| i64::try_from(*millis).is_ok())
        .ok_or(ProjectConfigCacheError::TtlTooLong { ttl })?;
    if millis == 0 {
        return Err(ProjectConfigCacheError::TtlTooShort { ttl });
    }
    Ok(millis)
}

/// Steps 4–5 of the read algorithm: a value carrying the held revision is not modified (a
/// missing revision never equals anything), anything else is a new state.
fn classify(cached: CachedConfig, held_revision: Option<&str>) -> CacheLookup {
    if held_revision.is_some() && cached.revision.as_deref() == held_revision {
        CacheLookup::NotModified
    } else {
        CacheLookup::Found(cached)
    }
}

/// `SET key value [PX ttl]`.
fn set_command(key: &str, value: &[u8], ttl_millis: Option<u64>) -> redis::Cmd {
    let mut command = redis::cmd("SET");
    command.arg(key).arg(value);
    if let Some(millis) = ttl_millis {
        command.arg("PX").arg(millis);
    }
    command
}

/// Reader and writer of the project-config cache (see the module docs).
#[derive(Debug, Clone)]
pub struct ProjectConfigCache {
    connection: RedisConnection,
    prefix: String,
    write_encoding: ValueEncoding,
}

impl ProjectConfigCache {
    /// A cache under `prefix` (usually `processing.projectconfig_cache_prefix`), writing zstd.
    pub fn new(connection: RedisConnection, prefix: impl Into<String>) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
            write_encoding: ValueEncoding::default(),
        }
    }

    /// Chooses how [`put`](Self::put) stores values; reading accepts both regardless.
    pub fn with_write_encoding(mut self, encoding: ValueEncoding) -> Self {
        self.write_encoding = encoding;
        self
    }

    /// The connection the cache uses (a cheap clone sharing its socket), e.g. for `PING`.
    pub fn connection(&self) -> RedisConnection {
        self.connection.clone()
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>:<public key>`.
    pub fn config_key(&self, key: ProjectKey) -> String {
        format!("{}:{}", self.prefix, key)
    }

    /// `<prefix>:<public key>.rev`.
    pub fn revision_key(&self, key: ProjectKey) -> String {
        format!("{}:{}{}", self.prefix, key, REVISION_KEY_SUFFIX)
    }

    fn redis_error(key: &str) -> impl FnOnce(redis::RedisError) -> ProjectConfigCacheError + '_ {
        move |source| ProjectConfigCacheError::Redis {
            key: key.to_owned(),
            source,
        }
    }

    /// The cached state for `key`, `None` when nothing is cached.
    pub async fn get(
        &self,
        key: ProjectKey,
    ) -> Result<Option<CachedConfig>, ProjectConfigCacheError> {
        let config_key = self.config_key(key);
        let bytes: Option<Vec<u8>> = self
            .connection
            .clone()
            .get(&config_key)
            .await
            .map_err(Self::redis_error(&config_key))?;
        bytes
            .map(|bytes| decode_value(&config_key, &bytes))
            .transpose()
    }

    /// The content of the `.rev` key, `None` when it does not exist.
    pub async fn get_revision(
        &self,
        key: ProjectKey,
    ) -> Result<Option<String>, ProjectConfigCacheError> {
        let revision_key = self.revision_key(key);
        let bytes: Option<Vec<u8>> = self
            .connection
            .clone()
            .get(&revision_key)
            .await
            .map_err(Self::redis_error(&revision_key))?;
        bytes
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| ProjectConfigCacheError::RevisionNotText {
                    key: revision_key.clone(),
                })
            })
            .transpose()
    }

    /// The read algorithm of `redis-and-quotas.md` §2.2 for a caller holding `held_revision`.
    ///
    /// A missing revision never equals anything, so without a held revision the `.rev` key is
    /// not consulted and any cached state is [`CacheLookup::Found`].
    pub async fn lookup(
        &self,
        key: ProjectKey,
        held_revision: Option<&str>,
    ) -> Result<CacheLookup, ProjectConfigCacheError> {
        if let Some(held) = held_revision {
            if self.get_revision(key).await?.as_deref() == Some(held) {
                return Ok(CacheLookup::NotModified);
            }
        }
        let Some(cached) = self.get(key).await? else {
            return Ok(CacheLookup::Pending);
        };
        Ok(classify(cached, held_revision))
    }

    /// The read algorithm for many keys at once, in as few round trips as possible; one result
    /// per request, in request order. Each request is a key and the revision the caller holds.
    ///
    /// On a single node this takes at most two pipelined round trips: one `GET` of every
    /// `.rev` key whose revision is held, then one `GET` of every config key not yet known to
    /// be unchanged. A failed round trip fails every key it carried (the error is repeated
    /// per key); decoding errors only fail their own key.
    ///
    /// In a cluster the keys hash to different slots and a pipeline is routed to one node, so
    /// the keys are looked up one by one, concurrently, over the shared connection.
    pub async fn lookup_many(
        &self,
        requests: &[(ProjectKey, Option<String>)],
    ) -> Vec<Result<CacheLookup, ProjectConfigCacheError>> {
        if self.connection.is_cluster() {
            let lookups = requests
                .iter()
                .map(|(key, held)| self.lookup(*key, held.as_deref()));
            return futures::future::join_all(lookups).await;
        }

        let mut results: Vec<Option<Result<CacheLookup, ProjectConfigCacheError>>> =
            requests.iter().map(|_| None).collect();
        let mut connection = self.connection.clone();

        // Round trip 1: the revisions of keys the caller holds a revision for.
        let with_revision: Vec<usize> = requests
            .iter()
            .enumerate()
            .filter(|(_, (_, held))| held.is_some())
            .map(|(index, _)| index)
            .collect();
        if !with_revision.is_empty() {
            let mut pipeline = redis::pipe();
            for &index in &with_revision {
                pipeline.get(self.revision_key(requests[index].0));
            }
            match pipeline
                .query_async::<Vec<Option<Vec<u8>>>>(&mut connection)
                .await
            {
                Ok(revisions) => {
                    for (&index, stored) in with_revision.iter().zip(revisions) {
                        let (key, held) = &requests[index];
                        match stored.map(String::from_utf8) {
                            Some(Ok(stored)) if Some(&stored) == held.as_ref() => {
                                results[index] = Some(Ok(CacheLookup::NotModified));
                            }
                            Some(Err(_)) => {
                                results[index] =
                                    Some(Err(ProjectConfigCacheError::RevisionNotText {
                                        key: self.revision_key(*key),
                                    }));
                            }
                            _ => {}
                        }
                    }
                }
                Err(source) => {
                    for &index in &with_revision {
                        results[index] = Some(Err(ProjectConfigCacheError::Redis {
                            key: self.revision_key(requests[index].0),
                            source: source.clone(),
                        }));
                    }
                }
            }
        }

        // Round trip 2: the values of every key still undecided.
        let undecided: Vec<usize> = (0..requests.len())
            .filter(|&index| results[index].is_none())
            .collect();
        if !undecided.is_empty() {
            let mut pipeline = redis::pipe();
            for &index in &undecided {
                pipeline.get(self.config_key(requests[index].0));
            }
            match pipeline
                .query_async::<Vec<Option<Vec<u8>>>>(&mut connection)
                .await
            {
                Ok(values) => {
                    for (&index, value) in undecided.iter().zip(values) {
                        let (key, held) = &requests[index];
                        results[index] = Some(match value {
                            None => Ok(CacheLookup::Pending),
                            Some(bytes) => decode_value(&self.config_key(*key), &bytes)
                                .map(|cached| classify(cached, held.as_deref())),
                        });
                    }
                }
                Err(source) => {
                    for &index in &undecided {
                        results[index] = Some(Err(ProjectConfigCacheError::Redis {
                            key: self.config_key(requests[index].0),
                            source: source.clone(),
                        }));
                    }
                }
            }
        }

        results
            .into_iter()
            .map(|result| result.unwrap_or(Ok(CacheLookup::Pending)))
            .collect()
    }

    /// Stores `state` for `key` with an optional TTL (applied to both keys; `None` stores them
    /// without expiry, clearing an earlier one).
    ///
    /// On a single node both keys change in one transaction. In a cluster the two keys live in
    /// different hash slots, so the value is written first and the revision second: a reader
    /// in between sees the old revision, fetches the new value and finds its revision differs
    /// from what it holds, which is the correct outcome.
    pub async fn put(
        &self,
        key: ProjectKey,
        state: &Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), ProjectConfigCacheError> {
        let ttl_millis = ttl.map(ttl_millis).transpose()?;
        let revision = write_revision(state)?;
        let value = encode_value(state, self.write_encoding)?;
        let config_key = self.config_key(key);
        let revision_key = self.revision_key(key);

        let value_command = set_command(&config_key, &value, ttl_millis);
        let revision_command = match revision {
            Some(revision) => set_command(&revision_key, revision.as_bytes(), ttl_millis),
            None => {
                let mut delete = redis::cmd("DEL");
                delete.arg(&revision_key);
                delete
            }
        };

        let mut connection = self.connection.clone();
        if connection.is_cluster() {
            value_command
                .query_async::<()>(&mut connection)
                .await
                .map_err(Self::redis_error(&config_key))?;
            revision_command
                .query_async::<()>(&mut connection)
                .await
                .map_err(Self::redis_error(&revision_key))?;
            return Ok(());
        }
        redis::pipe()
            .atomic()
            .add_command(value_command)
            .ignore()
            .add_command(revision_command)
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(Self::redis_error(&config_key))
    }

    /// Removes the state and revision of `key`; `true` when something was cached.
    pub async fn delete(&self, key: ProjectKey) -> Result<bool, ProjectConfigCacheError> {
        let config_key = self.config_key(key);
        let revision_key = self.revision_key(key);
        let mut connection = self.connection.clone();
        // Separate commands: in a cluster the two keys hash to different slots.
        let deleted_configs: u64 = connection
            .del(&config_key)
            .await
            .map_err(Self::redis_error(&config_key))?;
        let deleted_revisions: u64 = connection
            .del(&revision_key)
            .await
            .map_err(Self::redis_error(&revision_key))?;
        Ok(deleted_configs + deleted_revisions > 0)
    }

    /// How long the config key of `key` lives on.
    pub async fn expiry(&self, key: ProjectKey) -> Result<CacheExpiry, ProjectConfigCacheError> {
        let config_key = self.config_key(key);
        let millis: i64 = self
            .connection
            .clone()
            .pttl(&config_key)
            .await
            .map_err(Self::redis_error(&config_key))?;
        Ok(match millis {
            PTTL_MISSING => CacheExpiry::Missing,
            PTTL_PERSISTENT => CacheExpiry::Never,
            millis => CacheExpiry::In(Duration::from_millis(u64::try_from(millis).unwrap_or(0))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "relayconfig:a94ae32be2584e0bbd7a4cbb95971fee";
    const STATE_TEXT: &str = r#"{"disabled":false,"projectId":42,"slug":"s","publicKeys":[{"publicKey":"a94ae32be2584e0bbd7a4cbb95971fee","numericId":1}],"rev":"abc","lastChange":"2025-01-01T00:00:00Z","organizationId":1,"config":{"allowedDomains":["*"]}}"#;

    fn state() -> Map<String, Value> {
        match serde_json::from_str(STATE_TEXT).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!("the fixture is an object"),
        }
    }

    #[test]
    fn decodes_plain_json() {
        let cached = decode_value(KEY, STATE_TEXT.as_bytes()).unwrap();
        assert_eq!(cached.encoding, ValueEncoding::PlainJson);
        assert_eq!(cached.revision.as_deref(), Some("abc"));
        assert_eq!(cached.state, state());
        assert!(!cached.is_disabled());
    }

    #[test]
    fn decodes_a_zstd_frame_of_the_same_text() {
        let frame = zstd::encode_all(STATE_TEXT.as_bytes(), 3).unwrap();
        let cached = decode_value(KEY, &frame).unwrap();
        assert_eq!(cached.encoding, ValueEncoding::Zstd);
        assert_eq!(cached.state, state());
        assert_eq!(cached.revision.as_deref(), Some("abc"));
    }

    #[test]
    fn keeps_key_order() {
        let cached = decode_value(KEY, STATE_TEXT.as_bytes()).unwrap();
        let keys: Vec<&str> = cached.state.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "disabled",
                "projectId",
                "slug",
                "publicKeys",
                "rev",
                "lastChange",
                "organizationId",
                "config"
            ]
        );
    }

    #[test]
    fn disabled_state() {
        let cached = decode_value(KEY, br#"{"disabled":true}"#).unwrap();
        assert!(cached.is_disabled());
        assert_eq!(cached.revision, None);
    }

    #[test]
    fn revision_must_be_a_string_to_count() {
        assert_eq!(
            decode_value(KEY, br#"{"rev":null}"#).unwrap().revision,
            None
        );
        assert_eq!(decode_value(KEY, br#"{"rev":7}"#).unwrap().revision, None);
        assert_eq!(decode_value(KEY, br#"{}"#).unwrap().revision, None);
    }

    #[test]
    fn garbage_is_a_parse_error_naming_the_key() {
        let error = decode_value(KEY, b"\x00\x01not json").unwrap_err();
        assert!(matches!(error, ProjectConfigCacheError::Parse { .. }));
        assert_eq!(
            error.to_string(),
            "the cached project config at redis key relayconfig:a94ae32be2584e0bbd7a4cbb95971fee \
             is not JSON (neither zstd-compressed nor plain)"
        );
        assert!(matches!(
            decode_value(KEY, b"").unwrap_err(),
            ProjectConfigCacheError::Parse { .. }
        ));
    }

    #[test]
    fn corrupt_zstd_frame_is_an_error() {
        let mut frame = zstd::encode_all(STATE_TEXT.as_bytes(), 3).unwrap();
        let middle = frame.len() / 2;
        frame.truncate(middle);
        assert!(matches!(
            decode_value(KEY, &frame).unwrap_err(),
            ProjectConfigCacheError::Parse { .. }
        ));
    }

    #[test]
    fn zstd_frame_of_garbage_is_a_parse_error() {
        let frame = zstd::encode_all(&b"not json"[..], 3).unwrap();
        assert!(matches!(
            decode_value(KEY, &frame).unwrap_err(),
            ProjectConfigCacheError::Parse { .. }
        ));
    }

    #[test]
    fn non_objects_are_rejected() {
        let error = decode_value(KEY, b"[1,2]").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the cached project config at redis key relayconfig:a94ae32be2584e0bbd7a4cbb95971fee \
             is a JSON array, not an object"
        );
        assert!(matches!(
            decode_value(KEY, b"null").unwrap_err(),
            ProjectConfigCacheError::NotAnObject { found: "null", .. }
        ));
    }

    #[test]
    fn decompression_is_bounded() {
        // A few kilobytes of zstd that expand to just over the bound.
        let huge = vec![b' '; MAX_DECODED_CONFIG_SIZE + 1];
        let frame = zstd::encode_all(huge.as_slice(), 3).unwrap();
        assert!(frame.len() < 1024 * 1024);
        assert!(matches!(
            decode_value(KEY, &frame).unwrap_err(),
            ProjectConfigCacheError::TooLarge { .. }
        ));
    }

    #[test]
    fn decompression_at_the_bound_is_accepted() {
        let mut text = vec![b' '; MAX_DECODED_CONFIG_SIZE - 2];
        text.extend_from_slice(b"{}");
        let frame = zstd::encode_all(text.as_slice(), 3).unwrap();
        assert!(decode_value(KEY, &frame).unwrap().state.is_empty());
    }

    #[test]
    fn encoding_round_trips() {
        let plain = encode_value(&state(), ValueEncoding::PlainJson).unwrap();
        assert_eq!(plain, STATE_TEXT.as_bytes());
        let compressed = encode_value(&state(), ValueEncoding::Zstd).unwrap();
        assert_eq!(
            zstd::decode_all(compressed.as_slice()).unwrap(),
            STATE_TEXT.as_bytes()
        );
        assert_eq!(decode_value(KEY, &compressed).unwrap().state, state());
    }

    #[test]
    fn written_revision_must_be_string_or_null() {
        assert_eq!(write_revision(&state()).unwrap(), Some("abc"));
        let mut state = state();
        state.insert("rev".into(), Value::Null);
        assert_eq!(write_revision(&state).unwrap(), None);
        state.remove("rev");
        assert_eq!(write_revision(&state).unwrap(), None);
        state.insert("rev".into(), Value::from(3));
        assert_eq!(
            write_revision(&state).unwrap_err().to_string(),
            "the project config's \"rev\" field must be a string or null, found a JSON number"
        );
    }

    #[test]
    fn ttl_bounds() {
        assert_eq!(ttl_millis(Duration::from_secs(2)).unwrap(), 2000);
        assert_eq!(ttl_millis(Duration::from_millis(1)).unwrap(), 1);
        assert!(matches!(
            ttl_millis(Duration::from_micros(999)),
            Err(ProjectConfigCacheError::TtlTooShort { .. })
        ));
        assert!(matches!(
            ttl_millis(Duration::from_secs(u64::MAX)),
            Err(ProjectConfigCacheError::TtlTooLong { .. })
        ));
    }

    #[test]
    fn set_command_shape() {
        let packed = set_command("k", b"v", Some(1500)).get_packed_command();
        assert_eq!(
            packed,
            b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n1500\r\n"
        );
        let packed = set_command("k", b"v", None).get_packed_command();
        assert_eq!(packed, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    }

    #[test]
    fn encoding_names() {
        assert_eq!(ValueEncoding::Zstd.name(), "zstd");
        assert_eq!(ValueEncoding::PlainJson.name(), "json");
        assert_eq!(ValueEncoding::default(), ValueEncoding::Zstd);
    }
}
