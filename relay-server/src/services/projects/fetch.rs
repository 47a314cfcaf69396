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
//! A maintenance loop runs every second: it expires parked envelopes, evicts stale states and
//! queues proactive refreshes (see [`ProjectCache::maintain`]).

use std::collections::HashMap;

use std::time::{Duration, Instant};

use relay_protocol::ProjectKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PendingEnvelope, ProjectCache, ProjectState};
use crate::services::processor::EnvelopeProcessor;
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

/// Starts the fetch loops of a managed relay.
pub fn start_fetchers(
    projects: ProjectCache,
    upstream: UpstreamHandle,
    processor: EnvelopeProcessor,
    shutdown: ShutdownHandle,
) {
    tokio::spawn(run_project_fetcher(
        projects.clone(),
        upstream.clone(),
        processor.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(run_global_config_fetcher(
        projects.clone(),
        upstream,
        processor.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(run_cache_maintenance(projects, processor, shutdown));
}

async fn run_project_fetcher(
    projects: ProjectCache,
    upstream: UpstreamHandle,
    processor: EnvelopeProcessor,
    shutdown: ShutdownHandle,
) {
    let config = projects.config();
    let batch_interval = config.cache_batch_interval();
    let batch_size = config.values.cache.batch_size.max(1);
    let max_keys = batch_size * config.values.limits.max_concurrent_queries.max(1);
    let full_config =
        config.processing_enabled() || config.values.cache.project_request_full_config;
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
                    processor.release_parked(released);
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
    processor: EnvelopeProcessor,
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
                        processor.release_parked(released);
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
async fn run_cache_maintenance(
    projects: ProjectCache,
    processor: EnvelopeProcessor,
    shutdown: ShutdownHandle,
) {
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
        processor.expire_parked(maintenance.expired_envelopes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: char) -> ProjectKey {
        ProjectKey::parse(&byte.to_string().repeat(32)).unwrap()
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
