//! The project cache: what relay knows about each project key.
//!
//! Where states come from depends on the mode: the upstream (`managed`, fetched in batches by
//! [`fetch`]; a processing relay with `processing.redis` asks Redis first, see
//! [`redis_source`]), files in `<config dir>/projects/` (`static`, loaded once at startup) or
//! nowhere (`proxy`: every key is accepted and only learned rate limits apply).
//!
//! File states (`static` mode) are *pinned*: they never go stale, are never evicted and never
//! fetched; keys without a file are fetched as usual.
//!
//! Each entry also carries the rate limits learned from upstream `429` answers and, while the
//! state is pending, the envelopes waiting for it. Those envelopes hold buffer permits, so
//! the waiting room is bounded by the same memory budget as the upstream queue.
//!
//! Lifetime of a managed state (relay-protocol.md §5.4–§5.5): it is *fresh* for
//! `cache.project_expiry` after the first request of the fetch that produced it, then *stale*
//! (still used; a lookup starts a fetch) until it is *evicted* `project_grace_period` later,
//! together with the learned rate limits. A valid `cache.project_refresh_interval` refetches a
//! state without any lookup; such a refresh updates the state but moves neither its fresh
//! window nor its eviction time (a lookup during a refresh turns it into a normal fetch).
//! A fetch still unresolved `limits.query_timeout` after its first request is resolved as
//! pending by the fetcher.
//!
//! The map is written by the fetcher and by the endpoints (pending envelopes, rate limits)
//! under one short mutex; nothing slow ever happens while it is held.

pub mod fetch;
#[cfg(feature = "processing")]
pub mod redis_source;
/// Without the processing feature project configs never come from Redis; this stand-in keeps
/// the fetcher and the health check free of feature switches: its type has no values, so
/// every `Option<RedisProjectSource>` is `None`.
#[cfg(not(feature = "processing"))]
pub mod redis_source {
    use relay_config::Config;

    use crate::services::shutdown::ShutdownHandle;

    /// A project-config Redis, which a relay built without processing never has.
    #[derive(Clone, Debug)]
    pub enum RedisProjectSource {}

    impl RedisProjectSource {
        /// Always `None`: there is no Redis without the processing feature.
        pub fn start(
            _config: &Config,
            _shutdown: ShutdownHandle,
        ) -> Result<Option<RedisProjectSource>, std::convert::Infallible> {
            Ok(None)
        }

        /// Unreachable: no value of this type exists.
        pub fn is_reachable(&self) -> bool {
            match *self {}
        }

        /// Unreachable: no value of this type exists.
        pub fn has_attempted(&self) -> bool {
            match *self {}
        }
    }
}
pub mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use relay_config::{Config, RelayMode};
use relay_protocol::ProjectKey;
use relay_quotas::{RateLimits, Scoping};
use reqwest::header::HeaderMap;
use tokio::sync::{mpsc, Notify};

pub use self::state::{GlobalNormalization, ProjectState};
use crate::managed::{ManagedEnvelope, RequestChecks};
use crate::outcome::{DiscardReason, Outcome};
use crate::utils::backoff::Backoff;

/// What an ingestion request learns about its project.
#[derive(Clone, Debug)]
pub enum ProjectStatus {
    /// Not known yet; a fetch is under way.
    Pending,
    /// Disabled, or the key is unknown upstream.
    Disabled,
    /// Enabled with this state.
    Enabled(Arc<ProjectState>),
    /// Proxy mode: no configs, everything is accepted.
    Proxy,
}

/// An envelope waiting for its project's state, with what its checks need.
pub struct PendingEnvelope {
    /// The parked envelope; it holds its memory-budget permit while it waits.
    pub envelope: ManagedEnvelope,
    /// What the project checks need to know about the request it came with.
    pub checks: RequestChecks,
    /// When it was parked, for `spool.envelopes.max_envelope_delay_secs`.
    pub queued_at: Instant,
}

/// The receiving end of the cache's release channel: batches of parked envelopes whose
/// project state became known. The ingest service takes it once at wiring time
/// ([`ProjectCache::take_released`]) and runs each envelope through the fast path again.
pub type ReleasedEnvelopes = mpsc::UnboundedReceiver<Vec<PendingEnvelope>>;

#[derive(Default)]
struct ProjectEntry {
    state: Option<EntryState>,
    /// When the fetch that produced the state started; the fresh window starts here. Only
    /// fetches asked for by lookups move it, proactive refreshes do not.
    fetched_at: Option<Instant>,
    /// When the state is evicted (`project_expiry + project_grace_period` after the last
    /// fetch asked for by a lookup); `None` for states that never expire (static mode).
    evict_at: Option<Instant>,
    /// When the next proactive refresh is due (`cache.project_refresh_interval`).
    refresh_at: Option<Instant>,
    rate_limits: RateLimits,
    pending: Vec<PendingEnvelope>,
    /// The fetch of this key that is queued or in flight, if any.
    fetch: Option<FetchInProgress>,
    no_cache: bool,
    /// Backoff between fetches while the upstream answers "pending" (relay-protocol.md §5.4).
    pending_backoff: Option<Backoff>,
    /// Loaded from a file at startup: never stale, never fetched, never evicted.
    pinned: bool,
}

/// A fetch of one key, from its first request until it resolves.
#[derive(Clone, Copy, Debug)]
struct FetchInProgress {
    /// When the key was first requested: the deadline (`limits.query_timeout`) runs from
    /// here, and a completed fetch's fresh window starts here.
    requested_at: Instant,
    /// A proactive refresh no lookup asked for: its result keeps the eviction time.
    refresh: bool,
}

impl ProjectEntry {
    /// Drops the state and everything that lives only as long as it (relay-protocol.md §5.5).
    fn evict(&mut self) {
        self.state = None;
        self.fetched_at = None;
        self.evict_at = None;
        self.refresh_at = None;
        self.rate_limits = RateLimits::default();
    }

    /// Whether nothing but an evicted state would be lost by forgetting the entry.
    fn is_disposable(&self) -> bool {
        !self.pinned
            && self.state.is_none()
            && self.pending.is_empty()
            && self.fetch.is_none()
            && self.pending_backoff.is_none()
            && self.rate_limits.is_empty()
    }

    /// Records that a fetch finished: the fresh window and the eviction time start at the
    /// fetch's first request, unless it was a proactive refresh.
    fn complete_fetch(&mut self, timing: &CacheTiming, now: Instant) {
        let fetch = self.fetch.take().unwrap_or(FetchInProgress {
            requested_at: now,
            refresh: false,
        });
        if !fetch.refresh || self.fetched_at.is_none() {
            self.fetched_at = Some(fetch.requested_at);
            self.evict_at = Some(fetch.requested_at + timing.eviction);
        }
        self.refresh_at = timing
            .refresh_interval
            .map(|interval| fetch.requested_at + interval);
        self.no_cache = false;
        self.pending_backoff = None;
    }
}

/// The time settings of the cache (relay-protocol.md §5.4–§5.5).
#[derive(Clone, Copy, Debug)]
struct CacheTiming {
    /// A state this old is stale: still used, but a lookup triggers a fetch.
    expiry: Duration,
    /// A state this old is evicted.
    eviction: Duration,
    /// `cache.project_refresh_interval`, only when it lies strictly between expiry and
    /// eviction.
    refresh_interval: Option<Duration>,
    /// `limits.query_timeout`: how long a key may stay in the fetch queue, retries included.
    query_timeout: Duration,
}

impl CacheTiming {
    fn from_config(config: &Config) -> CacheTiming {
        let expiry = config.project_expiry();
        let eviction = expiry + config.project_grace_period();
        let refresh_interval = config
            .project_refresh_interval()
            .filter(|interval| expiry < *interval && *interval < eviction);
        if let (Some(requested), None) = (config.project_refresh_interval(), refresh_interval) {
            tracing::warn!(
                refresh_interval = requested.as_secs(),
                "cache.project_refresh_interval must lie between project_expiry and \
                 project_expiry + project_grace_period, ignoring it"
            );
        }
        CacheTiming {
            expiry,
            eviction,
            refresh_interval,
            query_timeout: config.query_timeout(),
        }
    }
}

/// What the periodic maintenance found (see [`ProjectCache::maintain`]).
#[derive(Default)]
pub struct Maintenance {
    /// Parked envelopes older than `spool.envelopes.max_envelope_delay_secs`.
    pub expired_envelopes: Vec<PendingEnvelope>,
    /// Keys whose state was evicted.
    pub evicted: usize,
    /// Keys queued for a proactive refresh.
    pub refreshed: usize,
}

#[derive(Clone)]
enum EntryState {
    Disabled,
    Enabled(Arc<ProjectState>),
}

struct ProjectCacheInner {
    config: Arc<Config>,
    timing: CacheTiming,
    entries: Mutex<HashMap<ProjectKey, ProjectEntry>>,
    /// Keys to fetch, drained by the fetcher.
    fetch_queue: Mutex<Vec<(ProjectKey, bool)>>,
    fetch_wakeup: Notify,
    /// Managed relays process nothing until the first global config arrived.
    global_ready: AtomicBool,
    global_config: Mutex<Option<serde_json::Value>>,
    /// What normalization reads from `global_config`, parsed once.
    global_normalization: Mutex<Arc<GlobalNormalization>>,
    /// Where released envelopes go. Unbounded, yet bounded in memory: every parked envelope
    /// already holds its memory-budget permit.
    released_sender: mpsc::UnboundedSender<Vec<PendingEnvelope>>,
    /// Taken once by the ingest service at wiring time.
    released_receiver: Mutex<Option<ReleasedEnvelopes>>,
}

/// Handle to the project cache; cheap to clone.
#[derive(Clone)]
pub struct ProjectCache {
    inner: Arc<ProjectCacheInner>,
}

/// Why static project files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StaticProjectsError {
    #[error("could not read project config directory {path}")]
    ReadDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read project config file {path}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid project config file {path}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ProjectCache {
    pub fn new(config: Arc<Config>) -> ProjectCache {
        let global_ready = config.mode() != RelayMode::Managed;
        let (released_sender, released_receiver) = mpsc::unbounded_channel();
        ProjectCache {
            inner: Arc::new(ProjectCacheInner {
                timing: CacheTiming::from_config(&config),
                config,
                entries: Mutex::new(HashMap::new()),
                fetch_queue: Mutex::new(Vec::new()),
                fetch_wakeup: Notify::new(),
                global_ready: AtomicBool::new(global_ready),
                global_config: Mutex::new(None),
                global_normalization: Mutex::new(Arc::default()),
                released_sender,
                released_receiver: Mutex::new(Some(released_receiver)),
            }),
        }
    }

    fn mode(&self) -> RelayMode {
        self.inner.config.mode()
    }

    /// Loads every `projects/*.json` of the config directory (static mode). The states are
    /// pinned: they never expire and are never fetched.
    pub fn load_static_projects(&self, config_dir: &Path) -> Result<usize, StaticProjectsError> {
        let directory = config_dir.join("projects");
        let listing =
            std::fs::read_dir(&directory).map_err(|source| StaticProjectsError::ReadDir {
                path: directory.display().to_string(),
                source,
            })?;
        let mut loaded = 0;
        let mut entries = self.inner.entries.lock();
        for entry in listing.flatten() {
            let path = entry.path();
            if path.extension().and_then(|ext| ext.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read(&path).map_err(|source| StaticProjectsError::ReadFile {
                path: path.display().to_string(),
                source,
            })?;
            let value: serde_json::Value =
                serde_json::from_slice(&text).map_err(|source| StaticProjectsError::Parse {
                    path: path.display().to_string(),
                    source,
                })?;
            let mut state =
                ProjectState::parse(value).map_err(|source| StaticProjectsError::Parse {
                    path: path.display().to_string(),
                    source,
                })?;
            // The file name is the project id when the file does not say otherwise.
            if state.project_id.is_none() {
                state.project_id = path
                    .file_stem()
                    .and_then(|stem| stem.to_str())
                    .and_then(|stem| stem.parse().ok())
                    .map(relay_protocol::ProjectId);
            }
            let state = Arc::new(state);
            for key in &state.public_keys {
                let entry = entries.entry(key.public_key).or_default();
                entry.state = Some(if state.disabled {
                    EntryState::Disabled
                } else {
                    EntryState::Enabled(state.clone())
                });
                entry.fetched_at = Some(Instant::now());
                entry.evict_at = None;
                entry.refresh_at = None;
                entry.pinned = true;
            }
            loaded += 1;
        }
        Ok(loaded)
    }

    /// Looks a project up, scheduling a fetch when the state is missing or stale.
    pub fn get(&self, key: &ProjectKey, no_cache: bool) -> ProjectStatus {
        match self.mode() {
            RelayMode::Proxy => return ProjectStatus::Proxy,
            RelayMode::Static => {
                let entries = self.inner.entries.lock();
                return match entries.get(key).and_then(|entry| entry.state.clone()) {
                    Some(EntryState::Enabled(state)) => ProjectStatus::Enabled(state),
                    _ => ProjectStatus::Disabled,
                };
            }
            RelayMode::Managed => {}
        }
        self.get_at(key, no_cache, Instant::now())
    }

    fn get_at(&self, key: &ProjectKey, no_cache: bool, now: Instant) -> ProjectStatus {
        let timing = self.inner.timing;
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        if entry.evict_at.is_some_and(|evict_at| now >= evict_at) {
            entry.evict();
        }
        let stale = entry
            .fetched_at
            .is_none_or(|fetched_at| now.duration_since(fetched_at) >= timing.expiry);
        let needs_fetch = !entry.pinned && (no_cache || stale);
        // A key waiting for its pending backoff is fetched by that timer, not by every request.
        if needs_fetch && entry.pending_backoff.is_none() {
            match &mut entry.fetch {
                None => {
                    entry.fetch = Some(FetchInProgress {
                        requested_at: now,
                        refresh: false,
                    });
                    entry.no_cache |= no_cache;
                    self.queue_fetch(key, no_cache);
                }
                Some(fetch) => {
                    // A lookup wants this result now: it counts as a normal fetch.
                    fetch.refresh = false;
                    if no_cache && !entry.no_cache {
                        entry.no_cache = true;
                        self.queue_fetch(key, true);
                    }
                }
            }
        }
        if !self.inner.global_ready.load(Ordering::Acquire) {
            return ProjectStatus::Pending;
        }
        match &entry.state {
            None => ProjectStatus::Pending,
            Some(EntryState::Disabled) => ProjectStatus::Disabled,
            Some(EntryState::Enabled(state)) => ProjectStatus::Enabled(state.clone()),
        }
    }

    fn queue_fetch(&self, key: &ProjectKey, no_cache: bool) {
        self.inner.fetch_queue.lock().push((*key, no_cache));
        self.inner.fetch_wakeup.notify_one();
    }

    /// Parks an envelope until its project's state is known.
    ///
    /// This is the one place that handles the parking race: when the state arrived between
    /// the caller's lookup and this call, the envelope is released right away through the
    /// release channel instead of waiting for a state that will not come again.
    pub fn park(&self, key: &ProjectKey, pending: PendingEnvelope) {
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        if entry.state.is_some() && self.inner.global_ready.load(Ordering::Acquire) {
            drop(entries);
            tracing::debug!("project state arrived while parking, releasing");
            self.release(vec![pending]);
            return;
        }
        entry.pending.push(pending);
    }

    /// Hands envelopes whose project state is now known to the release channel. When nobody
    /// took the receiver (unit tests) or it is gone (shutdown), they are rejected as
    /// `internal`, never lost silently.
    pub fn release(&self, envelopes: Vec<PendingEnvelope>) {
        if envelopes.is_empty() {
            return;
        }
        if let Err(mpsc::error::SendError(envelopes)) = self.inner.released_sender.send(envelopes) {
            for pending in envelopes {
                pending
                    .envelope
                    .reject(Outcome::Invalid(DiscardReason::Internal));
            }
        }
    }

    /// The receiving end of the release channel; `Some` exactly once.
    pub fn take_released(&self) -> Option<ReleasedEnvelopes> {
        self.inner.released_receiver.lock().take()
    }

    /// Rejects parked envelopes that waited longer than
    /// `spool.envelopes.max_envelope_delay_secs` for their project.
    pub fn reject_expired(&self, expired: Vec<PendingEnvelope>) {
        for pending in expired {
            pending
                .envelope
                .reject(Outcome::Invalid(DiscardReason::Timestamp));
        }
    }

    /// Stores a fetched state and returns the envelopes that waited for it.
    pub fn resolve(&self, key: &ProjectKey, state: Option<ProjectState>) -> Vec<PendingEnvelope> {
        self.resolve_at(key, state, Instant::now())
    }

    fn resolve_at(
        &self,
        key: &ProjectKey,
        state: Option<ProjectState>,
        now: Instant,
    ) -> Vec<PendingEnvelope> {
        let state = match state {
            Some(state) if !state.disabled => EntryState::Enabled(Arc::new(state)),
            _ => EntryState::Disabled,
        };
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        entry.state = Some(state);
        entry.complete_fetch(&self.inner.timing, now);
        if !self.inner.global_ready.load(Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut entry.pending)
    }

    /// Marks an unchanged state as fresh again.
    pub fn refresh_unchanged(&self, key: &ProjectKey) -> Vec<PendingEnvelope> {
        let mut entries = self.inner.entries.lock();
        let Some(entry) = entries.get_mut(key) else {
            return Vec::new();
        };
        if entry.state.is_none() {
            // Nothing to keep: the state was evicted while the fetch ran. Fetch it again.
            entry.fetch = None;
            return Vec::new();
        }
        entry.complete_fetch(&self.inner.timing, Instant::now());
        if !self.inner.global_ready.load(Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut entry.pending)
    }

    /// The key is still pending upstream (or its fetch deadline passed); returns how long to
    /// wait before fetching it again, or `None` when it needs no refetch: a proactive refresh
    /// that did not complete is simply dropped, the cached state stays in use.
    pub fn mark_still_pending(&self, key: &ProjectKey) -> Option<Duration> {
        let max_interval = self.inner.config.http_max_retry_interval();
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        let was_refresh = entry.fetch.take().is_some_and(|fetch| fetch.refresh);
        if was_refresh && entry.state.is_some() {
            return None;
        }
        Some(
            entry
                .pending_backoff
                .get_or_insert_with(|| Backoff::new(max_interval))
                .next_backoff(),
        )
    }

    /// Queues a fetch for `key` once its pending backoff has elapsed.
    pub fn refetch_pending(&self, key: &ProjectKey) {
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        if entry.fetch.is_some() {
            return;
        }
        entry.fetch = Some(FetchInProgress {
            requested_at: Instant::now(),
            refresh: false,
        });
        let no_cache = entry.no_cache;
        self.queue_fetch(key, no_cache);
    }

    /// Whether the fetch of `key` has outlived `limits.query_timeout` since its first
    /// request (relay-protocol.md §5.4 step 4).
    pub fn fetch_deadline_passed(&self, key: &ProjectKey, now: Instant) -> bool {
        let timeout = self.inner.timing.query_timeout;
        let entries = self.inner.entries.lock();
        entries
            .get(key)
            .and_then(|entry| entry.fetch)
            .is_some_and(|fetch| now.duration_since(fetch.requested_at) >= timeout)
    }

    /// Periodic housekeeping (managed mode): expires parked envelopes, evicts states past
    /// their eviction time (dropping their rate limits, and the entry when nothing else
    /// needs it) and queues due proactive refreshes.
    pub fn maintain(&self, max_envelope_delay: Duration) -> Maintenance {
        self.maintain_at(max_envelope_delay, Instant::now())
    }

    fn maintain_at(&self, max_envelope_delay: Duration, now: Instant) -> Maintenance {
        let mut maintenance = Maintenance::default();
        let mut to_refresh = Vec::new();
        {
            let mut entries = self.inner.entries.lock();
            entries.retain(|key, entry| {
                let mut index = 0;
                while index < entry.pending.len() {
                    if now.duration_since(entry.pending[index].queued_at) >= max_envelope_delay {
                        maintenance
                            .expired_envelopes
                            .push(entry.pending.swap_remove(index));
                    } else {
                        index += 1;
                    }
                }
                if entry.evict_at.is_some_and(|evict_at| now >= evict_at) {
                    entry.evict();
                    maintenance.evicted += 1;
                }
                entry.rate_limits.clean_expired(now);
                let refresh_due = entry.refresh_at.is_some_and(|refresh_at| now >= refresh_at);
                if refresh_due && entry.state.is_some() && entry.fetch.is_none() {
                    entry.refresh_at = None;
                    entry.fetch = Some(FetchInProgress {
                        requested_at: now,
                        refresh: true,
                    });
                    to_refresh.push(*key);
                }
                !entry.is_disposable()
            });
        }
        maintenance.refreshed = to_refresh.len();
        if !to_refresh.is_empty() {
            self.inner
                .fetch_queue
                .lock()
                .extend(to_refresh.into_iter().map(|key| (key, false)));
            self.inner.fetch_wakeup.notify_one();
        }
        maintenance
    }

    /// The revision of the state relay holds, for `revisions` in fetch requests.
    pub fn revision(&self, key: &ProjectKey) -> Option<String> {
        let entries = self.inner.entries.lock();
        match entries.get(key).and_then(|entry| entry.state.as_ref()) {
            Some(EntryState::Enabled(state)) => state.rev.clone(),
            _ => None,
        }
    }

    /// Stores the global config; the first one releases every parked envelope whose
    /// project is known.
    pub fn set_global_config(&self, global: serde_json::Value) -> Vec<PendingEnvelope> {
        *self.inner.global_normalization.lock() =
            Arc::new(GlobalNormalization::from_global_config(&global));
        *self.inner.global_config.lock() = Some(global);
        if self.inner.global_ready.swap(true, Ordering::AcqRel) {
            return Vec::new();
        }
        let mut released = Vec::new();
        let mut entries = self.inner.entries.lock();
        for entry in entries.values_mut() {
            if entry.state.is_some() {
                released.append(&mut entry.pending);
            }
        }
        released
    }

    /// The global config, if one was received (or loaded from `global_config.json`).
    pub fn global_config(&self) -> Option<serde_json::Value> {
        self.inner.global_config.lock().clone()
    }

    /// What normalization reads from the global config (empty until one was received).
    pub fn global_normalization(&self) -> Arc<GlobalNormalization> {
        Arc::clone(&self.inner.global_normalization.lock())
    }

    /// Whether this relay waits for an upstream global config (managed mode).
    pub fn global_ready_required(&self) -> bool {
        self.mode() == RelayMode::Managed
    }

    /// Cached rate limits of the key, without expired ones.
    pub fn rate_limits(&self, key: &ProjectKey) -> RateLimits {
        let mut entries = self.inner.entries.lock();
        match entries.get_mut(key) {
            Some(entry) => {
                entry.rate_limits.clean_expired(Instant::now());
                entry.rate_limits.clone()
            }
            None => RateLimits::default(),
        }
    }

    /// Turns an upstream `429` answer into cached limits (relay-protocol.md §11).
    pub fn learn_upstream_rate_limits(&self, scoping: &Scoping, headers: &HeaderMap) {
        let rate_limits_headers = headers
            .get_all("x-sentry-rate-limits")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>();
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok());
        let limits = relay_quotas::rate_limits_from_upstream_429(
            scoping,
            &rate_limits_headers,
            retry_after,
            Instant::now(),
        );
        tracing::debug!(
            project_key = %scoping.project_key,
            limits = ?limits,
            "learned rate limits from upstream"
        );
        if limits.is_empty() {
            return;
        }
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(scoping.project_key).or_default();
        entry.rate_limits.merge(limits);
    }

    /// Takes the queued fetch requests (for the fetcher).
    fn take_fetch_queue(&self) -> Vec<(ProjectKey, bool)> {
        std::mem::take(&mut *self.inner.fetch_queue.lock())
    }

    /// Puts keys back after a failed fetch.
    fn requeue(&self, keys: Vec<(ProjectKey, bool)>) {
        self.inner.fetch_queue.lock().extend(keys);
    }

    fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Takes every parked envelope (used by shutdown).
    pub fn take_all_parked(&self) -> Vec<PendingEnvelope> {
        let mut entries = self.inner.entries.lock();
        entries
            .values_mut()
            .flat_map(|entry| std::mem::take(&mut entry.pending))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "31a5a894b4524f74a9a8d0e27e21ba91";

    fn cache(yaml: &str) -> ProjectCache {
        let config = Config::from_yaml_str(yaml).unwrap();
        let cache = ProjectCache::new(Arc::new(config));
        cache.set_global_config(serde_json::json!({}));
        cache
    }

    fn key() -> ProjectKey {
        ProjectKey::parse(KEY).unwrap()
    }

    fn state() -> ProjectState {
        ProjectState::parse(serde_json::json!({
            "projectId": 42,
            "publicKeys": [{"publicKey": KEY}],
        }))
        .unwrap()
    }

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    fn queued(cache: &ProjectCache) -> Vec<(ProjectKey, bool)> {
        cache.take_fetch_queue()
    }

    fn add_rate_limit(cache: &ProjectCache, now: Instant) {
        let scoping = Scoping {
            organization_id: None,
            project_id: None,
            project_key: key(),
            key_id: None,
        };
        let limits = relay_quotas::rate_limits_from_upstream_429(&scoping, &[], Some("600"), now);
        assert!(!limits.is_empty());
        cache
            .inner
            .entries
            .lock()
            .entry(key())
            .or_default()
            .rate_limits
            .merge(limits);
    }

    fn has_rate_limits(cache: &ProjectCache) -> bool {
        cache
            .inner
            .entries
            .lock()
            .get(&key())
            .is_some_and(|entry| !entry.rate_limits.is_empty())
    }

    const TIMING: &str =
        "cache: {project_expiry: 2, project_grace_period: 2, project_refresh_interval: 3}";

    #[test]
    fn project_files_are_pinned() {
        let directory = tempfile::tempdir().unwrap();
        let cache = cache(TIMING);
        std::fs::create_dir(directory.path().join("projects")).unwrap();
        std::fs::write(
            directory.path().join("projects").join("42.json"),
            serde_json::json!({"publicKeys": [{"publicKey": KEY}]}).to_string(),
        )
        .unwrap();
        assert_eq!(cache.load_static_projects(directory.path()).unwrap(), 1);

        // Long past expiry and grace: still served, never fetched, never evicted.
        let later = Instant::now() + secs(3600);
        let ProjectStatus::Enabled(state) = cache.get_at(&key(), true, later) else {
            panic!("expected the file state");
        };
        assert_eq!(state.project_id, Some(relay_protocol::ProjectId(42)));
        let maintenance = cache.maintain_at(secs(60), later);
        assert_eq!((maintenance.evicted, maintenance.refreshed), (0, 0));
        assert!(queued(&cache).is_empty());
        // Keys without a file are fetched as usual.
        let other = ProjectKey::parse("a94ae32be2584e0bbd7a4cbb95971fee").unwrap();
        assert!(matches!(
            cache.get_at(&other, false, later),
            ProjectStatus::Pending
        ));
        assert_eq!(queued(&cache), vec![(other, false)]);
    }

    #[test]
    fn first_lookup_is_pending_and_queues_one_fetch() {
        let cache = cache(TIMING);
        let t0 = Instant::now();
        assert!(matches!(
            cache.get_at(&key(), false, t0),
            ProjectStatus::Pending
        ));
        assert!(matches!(
            cache.get_at(&key(), false, t0),
            ProjectStatus::Pending
        ));
        assert_eq!(queued(&cache), vec![(key(), false)]);
    }

    #[test]
    fn stale_state_is_used_and_refetched_then_evicted_with_its_rate_limits() {
        let cache = cache(TIMING);
        let t0 = Instant::now();
        cache.get_at(&key(), false, t0);
        queued(&cache);
        cache.resolve_at(&key(), Some(state()), t0 + Duration::from_millis(100));
        add_rate_limit(&cache, t0);

        // Fresh: no fetch. The fresh window starts at the first request, not at completion.
        assert!(matches!(
            cache.get_at(&key(), false, t0 + secs(1)),
            ProjectStatus::Enabled(_)
        ));
        assert!(queued(&cache).is_empty());

        // Stale: still used, one fetch queued.
        assert!(matches!(
            cache.get_at(&key(), false, t0 + secs(2)),
            ProjectStatus::Enabled(_)
        ));
        assert_eq!(queued(&cache), vec![(key(), false)]);
        // The fetch never completes: at expiry + grace the state is gone, and so are the
        // learned rate limits.
        assert!(has_rate_limits(&cache));
        assert!(matches!(
            cache.get_at(&key(), false, t0 + secs(4)),
            ProjectStatus::Pending
        ));
        assert!(!has_rate_limits(&cache));
    }

    #[test]
    fn refresh_updates_the_state_but_not_the_eviction_time() {
        let cache = cache(TIMING);
        let t0 = Instant::now();
        cache.get_at(&key(), false, t0);
        queued(&cache);
        cache.resolve_at(&key(), Some(state()), t0);

        let before_refresh = cache.maintain_at(secs(60), t0 + Duration::from_millis(2_900));
        assert_eq!(before_refresh.refreshed, 0);
        let at_refresh = cache.maintain_at(secs(60), t0 + secs(3));
        assert_eq!(at_refresh.refreshed, 1);
        assert_eq!(queued(&cache), vec![(key(), false)]);
        // A refresh is queued once.
        assert_eq!(cache.maintain_at(secs(60), t0 + secs(3)).refreshed, 0);

        let mut refreshed = state();
        refreshed.rev = Some("new".into());
        cache.resolve_at(&key(), Some(refreshed), t0 + Duration::from_millis(3_100));
        assert_eq!(cache.revision(&key()).as_deref(), Some("new"));

        let evicted = cache.maintain_at(secs(60), t0 + secs(4));
        assert_eq!(evicted.evicted, 1);
        assert!(matches!(
            cache.get_at(&key(), false, t0 + secs(4)),
            ProjectStatus::Pending
        ));
    }

    #[test]
    fn a_lookup_during_a_refresh_makes_it_a_normal_fetch() {
        let cache = cache(TIMING);
        let t0 = Instant::now();
        cache.get_at(&key(), false, t0);
        queued(&cache);
        cache.resolve_at(&key(), Some(state()), t0);
        assert_eq!(cache.maintain_at(secs(60), t0 + secs(3)).refreshed, 1);
        // The state is stale by now, so the lookup wants a fetch and adopts the refresh.
        cache.get_at(&key(), false, t0 + Duration::from_millis(3_200));
        cache.resolve_at(&key(), Some(state()), t0 + Duration::from_millis(3_500));
        // Eviction now runs from the refresh's first request (3 s).
        assert_eq!(cache.maintain_at(secs(60), t0 + secs(4)).evicted, 0);
        assert!(matches!(
            cache.get_at(&key(), false, t0 + Duration::from_millis(4_500)),
            ProjectStatus::Enabled(_)
        ));
        assert_eq!(cache.maintain_at(secs(60), t0 + secs(7)).evicted, 1);
    }

    #[test]
    fn refresh_interval_outside_the_grace_window_is_ignored() {
        for interval in [1, 2, 4, 10] {
            let cache = cache(&format!(
                "cache: {{project_expiry: 2, project_grace_period: 2, project_refresh_interval: {interval}}}"
            ));
            assert_eq!(cache.inner.timing.refresh_interval, None, "{interval}");
            let t0 = Instant::now();
            cache.get_at(&key(), false, t0);
            queued(&cache);
            cache.resolve_at(&key(), Some(state()), t0);
            for second in 0..4 {
                assert_eq!(cache.maintain_at(secs(60), t0 + secs(second)).refreshed, 0);
            }
        }
        assert_eq!(cache(TIMING).inner.timing.refresh_interval, Some(secs(3)));
    }

    #[test]
    fn failed_refresh_keeps_the_state_without_backoff() {
        let cache = cache(TIMING);
        let t0 = Instant::now();
        cache.get_at(&key(), false, t0);
        queued(&cache);
        cache.resolve_at(&key(), Some(state()), t0);
        cache.maintain_at(secs(60), t0 + secs(3));
        assert_eq!(cache.mark_still_pending(&key()), None);
        assert!(matches!(
            cache.get_at(&key(), false, t0 + Duration::from_millis(3_500)),
            ProjectStatus::Enabled(_)
        ));
        // The stale state triggered a normal fetch right away.
        assert_eq!(queued(&cache).len(), 2);
    }

    #[test]
    fn fetch_deadline_runs_from_the_first_request() {
        let cache = cache("limits: {query_timeout: 5}");
        let t0 = Instant::now();
        cache.get_at(&key(), false, t0);
        cache.get_at(&key(), false, t0 + secs(3));
        assert!(!cache.fetch_deadline_passed(&key(), t0 + Duration::from_millis(4_999)));
        assert!(cache.fetch_deadline_passed(&key(), t0 + secs(5)));
        // Resolved as pending: backoff, then a new fetch with a new deadline.
        assert_eq!(cache.mark_still_pending(&key()), Some(Duration::ZERO));
        assert!(!cache.fetch_deadline_passed(&key(), t0 + secs(5)));
        cache.refetch_pending(&key());
        assert!(cache.fetch_deadline_passed(&key(), Instant::now() + secs(5)));
    }

    #[test]
    fn no_cache_lookup_fetches_a_fresh_state_and_upgrades_a_queued_fetch() {
        let cache = cache(TIMING);
        let t0 = Instant::now();
        cache.get_at(&key(), false, t0);
        cache.get_at(&key(), true, t0);
        assert_eq!(queued(&cache), vec![(key(), false), (key(), true)]);
        cache.resolve_at(&key(), Some(state()), t0);
        cache.get_at(&key(), true, t0 + Duration::from_millis(10));
        assert_eq!(queued(&cache), vec![(key(), true)]);
    }

    #[test]
    fn maintenance_expires_parked_envelopes_and_forgets_unused_entries() {
        let cache = cache(TIMING);
        let t0 = Instant::now();
        cache.get_at(&key(), false, t0);
        let scoping = Scoping {
            organization_id: None,
            project_id: None,
            project_key: key(),
            key_id: None,
        };
        let envelope = ManagedEnvelope::new(
            relay_protocol::envelope::Envelope::new(Default::default()),
            scoping,
            chrono::Utc::now(),
            None,
            crate::outcome::OutcomeHandle::disabled(),
        );
        let checks = crate::managed::RequestChecks {
            request_project_id: None,
            public_key: key(),
            origin: None,
            required_features: Vec::new(),
            relay_signature: None,
            trusted: false,
            received_at: chrono::Utc::now(),
        };
        let parked = PendingEnvelope {
            envelope,
            checks,
            queued_at: t0,
        };
        cache.park(&key(), parked);
        assert!(cache
            .maintain_at(secs(2), t0 + secs(1))
            .expired_envelopes
            .is_empty());
        assert_eq!(
            cache
                .maintain_at(secs(2), t0 + secs(2))
                .expired_envelopes
                .len(),
            1
        );
        // Still fetching: the entry stays.
        assert!(cache.inner.entries.lock().contains_key(&key()));
        cache.resolve_at(&key(), Some(state()), t0);
        assert_eq!(cache.maintain_at(secs(2), t0 + secs(4)).evicted, 1);
        assert!(!cache.inner.entries.lock().contains_key(&key()));
    }
}
