//! Fetching project states and the global config from the upstream (managed mode,
//! relay-protocol.md §5.4 and §5.6).
//!
//! Keys requested by the cache are collected for `cache.batch_interval` (plus the current
//! backoff), split into batches of `cache.batch_size` (`no-cache` keys separately) and sent
//! concurrently, at most `limits.max_concurrent_queries` at a time. Failed batches go back
//! into the queue with a longer backoff. A key whose fetch is still unresolved
//! `limits.query_timeout` after its first request is resolved as pending instead (warning
//! `error fetching project state <key>: deadline exceeded`) and fetched again after its
//! per-project backoff.
//!
//! Processing relays with `processing.redis` first ask Redis for every key that was not
//! requested with `no_cache` (redis-and-quotas.md §2.2, [`super::redis_source`]): a new state
//! (enabled or disabled) or "not modified" completes the fetch exactly as the upstream's answer
//! would; a missing key, an unparsable value or any Redis error sends the key on to the
//! upstream in the same round.
//!
//! A maintenance loop runs every second: it expires parked envelopes, evicts stale states and
//! queues proactive refreshes (see [`ProjectCache::maintain`]).

use std::collections::HashMap;

use std::time::{Duration, Instant};

use relay_protocol::ProjectKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "processing")]
use relay_redis::{CacheLookup, ProjectConfigCacheError};

#[cfg(feature = "processing")]
use super::redis_source::error_chain;
use super::redis_source::RedisProjectSource;
use super::{PendingEnvelope, ProjectCache, ProjectState};
use crate::services::shutdown::ShutdownHandle;
use crate::services::upstream::{UpstreamHandle, UpstreamRequestError};
use crate::utils::backoff::Backoff;

/// Path of the project config endpoint, version 3.
pub const PROJECT_CONFIGS_PATH: &str = "/api/0/relays/projectconfigs/?version=3";

/// Failed global-config fetches are only logged after this long without success.
const GLOBAL_CONFIG_ERROR_GRACE: Duration = Duration::from_secs(35);

/// How often the cache maintenance runs (parked envelope expiry, eviction, refreshes).
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetProjectStates {
    public_keys: Vec<ProjectKey>,
    revisions: Vec<Option<String>>,
    full_config: bool,
    no_cache: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetGlobalConfig {
    global: bool,
    public_keys: Vec<ProjectKey>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GetProjectStatesResponse {
    #[serde(default)]
    configs: HashMap<String, Value>,
    #[serde(default)]
    pending: Vec<String>,
    #[serde(default)]
    unchanged: Vec<String>,
    #[serde(default)]
    global: Option<Value>,
    #[serde(default)]
    global_status: Option<String>,
}

/// Starts the fetch loops of a managed relay. With `redis` (a processing relay with
/// `processing.redis`, see [`RedisProjectSource::start`]) project configs are looked up there
/// before the upstream is asked.
pub fn start_fetchers(
    projects: ProjectCache,
    upstream: UpstreamHandle,
    shutdown: ShutdownHandle,
    redis: Option<RedisProjectSource>,
) {
    tokio::spawn(run_project_fetcher(
        projects.clone(),
        upstream.clone(),
        shutdown.clone(),
        redis,
    ));
    tokio::spawn(run_global_config_fetcher(
        projects.clone(),
        upstream,
        shutdown.clone(),
    ));
    tokio::spawn(run_cache_maintenance(projects, shutdown));
}

async fn run_project_fetcher(
    projects: ProjectCache,
    upstream: UpstreamHandle,
    shutdown: ShutdownHandle,
    redis: Option<RedisProjectSource>,
) {
    let config = projects.config();
    let batch_interval = config.cache_batch_interval();
    let batch_size = config.cache_batch_size().max(1);
    let max_keys = batch_size * config.max_concurrent_queries().max(1);
    let full_config = config.processing_enabled() || config.project_request_full_config();
    let failure_interval = config.http_project_failure_interval();
    let mut backoff = Backoff::new(config.http_max_retry_interval());
    let mut failing_since: Option<Instant> = None;
    let mut consecutive_failures = 0u32;

    loop {
        tokio::select! {
            _ = projects.inner.fetch_wakeup.notified() => {}
            _ = shutdown.finished() => return,
        }
        let delay = batch_interval + backoff.next_backoff();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.finished() => return,
        }
        let mut queued = dedup_fetch_queue(projects.take_fetch_queue());
        let now = Instant::now();
        queued.retain(|(key, _)| {
            if !projects.fetch_deadline_passed(key, now) {
                return true;
            }
            tracing::warn!("error fetching project state {key}: deadline exceeded");
            schedule_refetch(&projects, key);
            false
        });
        if queued.len() > max_keys {
            let rest = queued.split_off(max_keys);
            projects.requeue(rest);
            projects.inner.fetch_wakeup.notify_one();
        }
        if let Some(redis) = &redis {
            let (released, for_upstream) = resolve_from_redis(&projects, redis, queued).await;
            projects.release(released);
            queued = for_upstream;
        }
        if queued.is_empty() {
            backoff.reset();
            continue;
        }
        let (no_cache_keys, cached_keys): (Vec<_>, Vec<_>) =
            queued.into_iter().partition(|(_, no_cache)| *no_cache);
        let mut batches = Vec::new();
        for (keys, no_cache) in [(cached_keys, false), (no_cache_keys, true)] {
            for chunk in keys.chunks(batch_size) {
                let public_keys: Vec<ProjectKey> = chunk.iter().map(|(key, _)| *key).collect();
                batches.push((public_keys, no_cache));
            }
        }
        let requests = batches.into_iter().map(|(public_keys, no_cache)| {
            let upstream = upstream.clone();
            let projects = projects.clone();
            async move {
                let revisions = public_keys
                    .iter()
                    .map(|key| projects.revision(key))
                    .collect();
                let request = GetProjectStates {
                    public_keys: public_keys.clone(),
                    revisions,
                    full_config,
                    no_cache,
                };
                let result: Result<GetProjectStatesResponse, UpstreamRequestError> =
                    upstream.send_query(PROJECT_CONFIGS_PATH, &request).await;
                (public_keys, no_cache, result)
            }
        });
        let results = futures::future::join_all(requests).await;
        let mut any_failed = false;
        for (public_keys, no_cache, result) in results {
            match result {
                Ok(response) => {
                    let released = apply_response(&projects, &public_keys, response);
                    projects.release(released);
                }
                Err(error) => {
                    any_failed = true;
                    consecutive_failures += 1;
                    if consecutive_failures >= 2 {
                        tracing::error!(error = %error, "error fetching project states");
                    }
                    projects.requeue(public_keys.into_iter().map(|key| (key, no_cache)).collect());
                }
            }
        }
        if any_failed {
            let since = *failing_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= failure_interval {
                tracing::error!("can't fetch project states");
            }
            projects.inner.fetch_wakeup.notify_one();
        } else {
            consecutive_failures = 0;
            failing_since = None;
            backoff.reset();
        }
    }
}

/// Applies one response (relay-protocol.md §5.2); returns envelopes that may proceed.
fn apply_response(
    projects: &ProjectCache,
    requested: &[ProjectKey],
    mut response: GetProjectStatesResponse,
) -> Vec<PendingEnvelope> {
    let mut released = Vec::new();
    for key in requested {
        let key_str = key.as_str();
        if response.pending.iter().any(|pending| pending == key_str) {
            schedule_refetch(projects, key);
            continue;
        }
        if response
            .unchanged
            .iter()
            .any(|unchanged| unchanged == key_str)
        {
            released.extend(projects.refresh_unchanged(key));
            continue;
        }
        match response.configs.remove(key_str) {
            None | Some(Value::Null) => released.extend(projects.resolve(key, None)),
            Some(value) => match ProjectState::parse(value) {
                Ok(state) => released.extend(projects.resolve(key, Some(state))),
                Err(error) => {
                    tracing::error!(error = %error, "error fetching project state {key}");
                    schedule_refetch(projects, key);
                }
            },
        }
    }
    if projects.inner.fetch_queue.lock().iter().any(|_| true) {
        projects.inner.fetch_wakeup.notify_one();
    }
    released
}

#[cfg(feature = "processing")]
/// Asks Redis for every key not requested with `no_cache` (redis-and-quotas.md §2.2). Returns
/// the envelopes released by resolved keys and the keys the upstream must be asked for.
async fn resolve_from_redis(
    projects: &ProjectCache,
    redis: &RedisProjectSource,
    queued: Vec<(ProjectKey, bool)>,
) -> (Vec<PendingEnvelope>, Vec<(ProjectKey, bool)>) {
    // `no_cache` asks to bypass caches, and Redis is one.
    let (mut for_upstream, lookups): (Vec<_>, Vec<_>) =
        queued.into_iter().partition(|(_, no_cache)| *no_cache);
    if lookups.is_empty() {
        return (Vec::new(), for_upstream);
    }
    let requests: Vec<(ProjectKey, Option<String>)> = lookups
        .iter()
        .map(|(key, _)| (*key, projects.revision(key)))
        .collect();
    let results = match redis.lookup_many(&requests).await {
        Ok(results) => results,
        Err(unavailable) => {
            if redis.should_log_skip() {
                tracing::error!(
                    "cannot read project configs from redis ({unavailable}), asking the \
                     upstream for {} project config(s)",
                    lookups.len()
                );
            }
            for_upstream.extend(lookups);
            return (Vec::new(), for_upstream);
        }
    };

    let mut released = Vec::new();
    let mut connection_errors = Vec::new();
    for ((key, no_cache), result) in lookups.into_iter().zip(results) {
        match apply_redis_result(projects, &key, result) {
            RedisOutcome::Resolved(envelopes) => released.extend(envelopes),
            RedisOutcome::Missing => for_upstream.push((key, no_cache)),
            RedisOutcome::Failed(error) if error.is_connection_error() => {
                connection_errors.push(error);
                for_upstream.push((key, no_cache));
            }
            RedisOutcome::Failed(error) => {
                tracing::error!(
                    "error fetching project state {key} from redis, asking the upstream: {}",
                    error_chain(&error)
                );
                for_upstream.push((key, no_cache));
            }
        }
    }
    // One connection problem fails every key of the round trip; say so once.
    if let Some(error) = connection_errors.first() {
        tracing::error!(
            "redis for project configs failed, asking the upstream for {} project config(s): {}",
            connection_errors.len(),
            error_chain(error)
        );
    }
    (released, for_upstream)
}

/// Without the processing feature there is no Redis source: `redis` cannot exist.
#[cfg(not(feature = "processing"))]
async fn resolve_from_redis(
    _projects: &ProjectCache,
    redis: &RedisProjectSource,
    _queued: Vec<(ProjectKey, bool)>,
) -> (Vec<PendingEnvelope>, Vec<(ProjectKey, bool)>) {
    match *redis {}
}

#[cfg(feature = "processing")]
/// What one Redis answer meant for its key.
enum RedisOutcome {
    /// The fetch completed (new state, disabled, or not modified).
    Resolved(Vec<PendingEnvelope>),
    /// Not in Redis: the upstream decides.
    Missing,
    /// Redis failed or the value is unusable: logged by the caller, the upstream decides.
    Failed(RedisFetchError),
}

#[cfg(feature = "processing")]
/// Why Redis could not answer for one key.
#[derive(Debug, thiserror::Error)]
enum RedisFetchError {
    /// Redis failed, or the value is not a JSON object.
    #[error(transparent)]
    Cache(ProjectConfigCacheError),
    /// The value is JSON but not a usable project state (project-config.md §1.3).
    #[error("the project config in redis for {key} is not a valid project state")]
    InvalidState {
        key: ProjectKey,
        #[source]
        source: serde_json::Error,
    },
}

#[cfg(feature = "processing")]
impl RedisFetchError {
    fn is_connection_error(&self) -> bool {
        matches!(self, RedisFetchError::Cache(error) if error.is_connection_error())
    }
}

#[cfg(feature = "processing")]
/// Applies one Redis answer to the cache (the table of redis-and-quotas.md §2.2).
fn apply_redis_result(
    projects: &ProjectCache,
    key: &ProjectKey,
    result: Result<CacheLookup, ProjectConfigCacheError>,
) -> RedisOutcome {
    match result {
        Ok(CacheLookup::NotModified) => RedisOutcome::Resolved(projects.refresh_unchanged(key)),
        Ok(CacheLookup::Pending) => RedisOutcome::Missing,
        // A disabled state ignores every other field, so it need not parse.
        Ok(CacheLookup::Found(cached)) if cached.is_disabled() => {
            RedisOutcome::Resolved(projects.resolve(key, None))
        }
        Ok(CacheLookup::Found(cached)) => match ProjectState::parse(Value::Object(cached.state)) {
            Ok(state) => RedisOutcome::Resolved(projects.resolve(key, Some(state))),
            Err(source) => {
                RedisOutcome::Failed(RedisFetchError::InvalidState { key: *key, source })
            }
        },
        Err(error) => RedisOutcome::Failed(RedisFetchError::Cache(error)),
    }
}

/// One entry per key; a key queued both with and without `no-cache` keeps the flag.
fn dedup_fetch_queue(mut queued: Vec<(ProjectKey, bool)>) -> Vec<(ProjectKey, bool)> {
    // Within a key the flag sorts descending, so its no-cache request comes first and is
    // the one the dedup keeps.
    queued.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    queued.dedup_by(|later, kept| later.0 == kept.0);
    queued
}

/// Fetches a pending key again after its per-project backoff (relay-protocol.md §5.4 step 6).
fn schedule_refetch(projects: &ProjectCache, key: &ProjectKey) {
    let Some(delay) = projects.mark_still_pending(key) else {
        return;
    };
    let projects = projects.clone();
    let key = *key;
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        projects.refetch_pending(&key);
    });
}

async fn run_global_config_fetcher(
    projects: ProjectCache,
    upstream: UpstreamHandle,
    shutdown: ShutdownHandle,
) {
    let interval = projects.config().global_config_fetch_interval();
    let mut last_success = Instant::now();
    let request = GetGlobalConfig {
        global: true,
        public_keys: Vec::new(),
    };
    loop {
        let result: Result<GetProjectStatesResponse, UpstreamRequestError> =
            upstream.send_query(PROJECT_CONFIGS_PATH, &request).await;
        match result {
            Ok(response) => {
                last_success = Instant::now();
                match (response.global, response.global_status.as_deref()) {
                    (Some(_), Some("pending")) => {
                        tracing::info!("global config is still pending upstream");
                    }
                    (Some(global), _) => {
                        let released = projects.set_global_config(global);
                        projects.release(released);
                    }
                    (None, _) => tracing::error!("global config missing in upstream response"),
                }
            }
            Err(error) => {
                if last_success.elapsed() >= GLOBAL_CONFIG_ERROR_GRACE {
                    tracing::error!(error = %error, "failed to fetch global config from upstream");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.finished() => return,
        }
    }
}

/// Expires parked envelopes, evicts old states and queues refreshes, once per
/// [`MAINTENANCE_INTERVAL`].
async fn run_cache_maintenance(projects: ProjectCache, shutdown: ShutdownHandle) {
    let max_delay = projects.config().max_envelope_delay();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(MAINTENANCE_INTERVAL) => {}
            _ = shutdown.finished() => return,
        }
        let maintenance = projects.maintain(max_delay);
        if maintenance.evicted > 0 || maintenance.refreshed > 0 {
            tracing::debug!(
                evicted = maintenance.evicted,
                refreshed = maintenance.refreshed,
                "project cache maintenance"
            );
        }
        projects.reject_expired(maintenance.expired_envelopes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: char) -> ProjectKey {
        ProjectKey::parse(&byte.to_string().repeat(32)).unwrap()
    }

    #[cfg(feature = "processing")]
    use std::sync::Arc;

    #[cfg(feature = "processing")]
    use relay_config::Config;
    #[cfg(feature = "processing")]
    use relay_redis::{ProjectConfigCache, RedisConnection, RedisPoolOptions, RedisServer};
    #[cfg(feature = "processing")]
    use serde_json::{json, Map};

    #[cfg(feature = "processing")]
    use crate::services::projects::ProjectStatus;

    #[cfg(feature = "processing")]
    const REDIS_URL: &str = "redis://127.0.0.1:6379";

    #[cfg(feature = "processing")]
    fn projects() -> ProjectCache {
        let cache = ProjectCache::new(Arc::new(Config::from_yaml_str("{}").unwrap()));
        cache.set_global_config(json!({}));
        cache
    }

    #[cfg(feature = "processing")]
    fn state(key: ProjectKey, revision: Option<&str>) -> Map<String, Value> {
        let Value::Object(map) = json!({
            "disabled": false,
            "projectId": 42,
            "publicKeys": [{"publicKey": key.as_str(), "numericId": 1}],
            "rev": revision,
            "organizationId": 1,
            "config": {"allowedDomains": ["*"]}
        }) else {
            unreachable!("an object literal");
        };
        map
    }

    #[cfg(feature = "processing")]
    fn unique_prefix(test: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("relay-server-unit:{test}:{}:{nanos}", std::process::id())
    }

    #[cfg(feature = "processing")]
    /// A writer for the test prefix, and the source reading it.
    async fn redis(test: &str) -> (ProjectConfigCache, RedisProjectSource) {
        let prefix = unique_prefix(test);
        let server =
            RedisServer::from_url(REDIS_URL, "test", RedisPoolOptions::with_max_connections(4))
                .unwrap();
        let writer =
            ProjectConfigCache::new(RedisConnection::connect(&server).await.unwrap(), &prefix);
        let source = RedisProjectSource::connected_for_tests(REDIS_URL, &prefix).await;
        (writer, source)
    }

    #[cfg(feature = "processing")]
    fn status(projects: &ProjectCache, key: ProjectKey) -> ProjectStatus {
        projects.get(&key, false)
    }

    #[cfg(feature = "processing")]
    #[tokio::test]
    async fn redis_answers_before_the_upstream() {
        let (writer, source) = redis("fetch-order").await;
        let projects = projects();
        let [enabled, disabled, missing, garbage, bypass] = ['a', 'b', 'c', 'd', 'e'].map(key);
        writer
            .put(enabled, &state(enabled, Some("r1")), None)
            .await
            .unwrap();
        let mut off = state(disabled, Some("d1"));
        off.insert("disabled".into(), Value::Bool(true));
        // A disabled state ignores every other field, even a broken one.
        off.insert("config".into(), json!({"trustedRelays": ["not a key"]}));
        writer.put(disabled, &off, None).await.unwrap();
        let mut broken = state(garbage, Some("g1"));
        broken.insert("config".into(), json!({"trustedRelays": ["not a key"]}));
        writer.put(garbage, &broken, None).await.unwrap();
        writer
            .put(bypass, &state(bypass, None), None)
            .await
            .unwrap();

        for key in [enabled, disabled, missing, garbage] {
            assert!(matches!(status(&projects, key), ProjectStatus::Pending));
        }
        projects.get(&bypass, true);
        let queued = dedup_fetch_queue(projects.take_fetch_queue());
        assert_eq!(queued.len(), 5);

        let (released, upstream) = resolve_from_redis(&projects, &source, queued).await;
        assert!(released.is_empty());
        let mut upstream: Vec<_> = upstream.into_iter().collect();
        upstream.sort();
        assert_eq!(
            upstream,
            vec![(missing, false), (garbage, false), (bypass, true)]
        );
        let ProjectStatus::Enabled(state) = status(&projects, enabled) else {
            panic!("expected the redis state");
        };
        assert_eq!(state.rev.as_deref(), Some("r1"));
        // Sanitized on load like any other state.
        assert!(state
            .config
            .features
            .iter()
            .any(|feature| feature == "organizations:profiling"));
        assert!(matches!(
            status(&projects, disabled),
            ProjectStatus::Disabled
        ));
        assert!(matches!(status(&projects, missing), ProjectStatus::Pending));
        for key in [enabled, disabled, missing, garbage, bypass] {
            writer.delete(key).await.unwrap();
        }
    }

    #[cfg(feature = "processing")]
    #[tokio::test]
    async fn held_revision_is_not_modified_until_redis_changes() {
        let (writer, source) = redis("fetch-revision").await;
        let projects = projects();
        let enabled = key('a');
        writer
            .put(enabled, &state(enabled, Some("r1")), None)
            .await
            .unwrap();
        status(&projects, enabled);
        let queued = projects.take_fetch_queue();
        resolve_from_redis(&projects, &source, queued).await;
        let ProjectStatus::Enabled(first) = status(&projects, enabled) else {
            panic!("expected a state");
        };

        // Same revision: the held state object stays (not modified), and its fetch completes.
        projects.refetch_pending(&enabled);
        let (_, upstream) =
            resolve_from_redis(&projects, &source, projects.take_fetch_queue()).await;
        assert!(upstream.is_empty());
        let ProjectStatus::Enabled(same) = status(&projects, enabled) else {
            panic!("expected a state");
        };
        assert!(Arc::ptr_eq(&first, &same));
        assert!(projects.inner.entries.lock()[&enabled].fetch.is_none());

        // A new revision replaces it.
        writer
            .put(enabled, &state(enabled, Some("r2")), None)
            .await
            .unwrap();
        projects.refetch_pending(&enabled);
        resolve_from_redis(&projects, &source, projects.take_fetch_queue()).await;
        assert_eq!(projects.revision(&enabled).as_deref(), Some("r2"));

        // Gone from Redis: the upstream decides, the held state stays meanwhile.
        writer.delete(enabled).await.unwrap();
        projects.refetch_pending(&enabled);
        let (_, upstream) =
            resolve_from_redis(&projects, &source, projects.take_fetch_queue()).await;
        assert_eq!(upstream, vec![(enabled, false)]);
        assert_eq!(projects.revision(&enabled).as_deref(), Some("r2"));
    }

    #[cfg(feature = "processing")]
    #[tokio::test]
    async fn unreachable_redis_sends_everything_upstream() {
        let projects = projects();
        let source = RedisProjectSource::not_connected_for_tests();
        status(&projects, key('a'));
        let started = Instant::now();
        let (released, upstream) =
            resolve_from_redis(&projects, &source, projects.take_fetch_queue()).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(released.is_empty());
        assert_eq!(upstream, vec![(key('a'), false)]);
    }

    #[test]
    fn dedup_keeps_no_cache() {
        let queued = vec![
            (key('b'), false),
            (key('a'), false),
            (key('a'), true),
            (key('b'), false),
            (key('c'), true),
            (key('c'), false),
        ];
        assert_eq!(
            dedup_fetch_queue(queued),
            vec![(key('a'), true), (key('b'), false), (key('c'), true)]
        );
    }
}
