//! The project cache: what relay knows about each project key.
//!
//! Where states come from depends on the mode: the upstream (`managed`, fetched in batches by
//! [`fetch`]), files in `<config dir>/projects/` (`static`, loaded once at startup) or nowhere
//! (`proxy`: every key is accepted and only learned rate limits apply).
//!
//! Each entry also carries the rate limits learned from upstream `429` answers and, while the
//! state is pending, the envelopes waiting for it. Those envelopes hold buffer permits, so
//! the waiting room is bounded by the same memory budget as the upstream queue.
//!
//! The map is written by the fetcher and by the endpoints (pending envelopes, rate limits)
//! under one short mutex; nothing slow ever happens while it is held.

pub mod fetch;
pub mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use relay_config::{Config, RelayMode};
use relay_protocol::ProjectKey;
use relay_quotas::{RateLimits, Scoping};
use reqwest::header::HeaderMap;
use tokio::sync::Notify;

pub use self::state::ProjectState;
use crate::services::managed::ManagedEnvelope;
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
    pub envelope: ManagedEnvelope,
    pub checks: crate::services::processor::RequestChecks,
    pub queued_at: Instant,
}

#[derive(Default)]
struct ProjectEntry {
    state: Option<EntryState>,
    /// When the state was last fetched successfully.
    fetched_at: Option<Instant>,
    rate_limits: RateLimits,
    pending: Vec<PendingEnvelope>,
    /// Whether the key is in the fetch queue already.
    fetch_requested: bool,
    no_cache: bool,
    /// Backoff between fetches while the upstream answers "pending" (relay-protocol.md §5.4).
    pending_backoff: Option<Backoff>,
}

#[derive(Clone)]
enum EntryState {
    Disabled,
    Enabled(Arc<ProjectState>),
}

struct ProjectCacheInner {
    config: Arc<Config>,
    entries: Mutex<HashMap<ProjectKey, ProjectEntry>>,
    /// Keys to fetch, drained by the fetcher.
    fetch_queue: Mutex<Vec<(ProjectKey, bool)>>,
    fetch_wakeup: Notify,
    /// Managed relays process nothing until the first global config arrived.
    global_ready: AtomicBool,
    global_config: Mutex<Option<serde_json::Value>>,
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
        let global_ready = config.values.relay.mode != RelayMode::Managed;
        ProjectCache {
            inner: Arc::new(ProjectCacheInner {
                config,
                entries: Mutex::new(HashMap::new()),
                fetch_queue: Mutex::new(Vec::new()),
                fetch_wakeup: Notify::new(),
                global_ready: AtomicBool::new(global_ready),
                global_config: Mutex::new(None),
            }),
        }
    }

    fn mode(&self) -> RelayMode {
        self.inner.config.values.relay.mode
    }

    /// Loads every `projects/*.json` of the config directory (static mode).
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
        let now = Instant::now();
        let expiry = self.inner.config.project_expiry();
        let eviction = expiry + self.inner.config.project_grace_period();
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        let age = entry
            .fetched_at
            .map(|fetched_at| now.duration_since(fetched_at));
        if age.is_some_and(|age| age >= eviction) {
            entry.state = None;
            entry.fetched_at = None;
            entry.rate_limits = RateLimits::default();
        }
        let needs_fetch = no_cache || age.is_none_or(|age| age >= expiry);
        // A key waiting for its pending backoff is fetched by that timer, not by every request.
        if needs_fetch && !entry.fetch_requested && entry.pending_backoff.is_none() {
            entry.fetch_requested = true;
            entry.no_cache |= no_cache;
            self.inner.fetch_queue.lock().push((*key, no_cache));
            self.inner.fetch_wakeup.notify_one();
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

    /// Parks an envelope until its project's state is known. Returns it back if the state
    /// became known in the meantime.
    pub fn park(&self, key: &ProjectKey, pending: PendingEnvelope) -> Option<PendingEnvelope> {
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        if entry.state.is_some() && self.inner.global_ready.load(Ordering::Acquire) {
            return Some(pending);
        }
        entry.pending.push(pending);
        None
    }

    /// Stores a fetched state and returns the envelopes that waited for it.
    pub fn resolve(&self, key: &ProjectKey, state: Option<ProjectState>) -> Vec<PendingEnvelope> {
        let state = match state {
            Some(state) if !state.disabled => EntryState::Enabled(Arc::new(state)),
            _ => EntryState::Disabled,
        };
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        entry.state = Some(state);
        entry.fetched_at = Some(Instant::now());
        entry.fetch_requested = false;
        entry.no_cache = false;
        entry.pending_backoff = None;
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
        entry.fetch_requested = false;
        if entry.state.is_some() {
            entry.fetched_at = Some(Instant::now());
        }
        if entry.state.is_none() || !self.inner.global_ready.load(Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut entry.pending)
    }

    /// The key is still pending upstream; returns how long to wait before fetching it again.
    pub fn mark_still_pending(&self, key: &ProjectKey) -> std::time::Duration {
        let max_interval = self.inner.config.http_max_retry_interval();
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        entry.fetch_requested = false;
        entry
            .pending_backoff
            .get_or_insert_with(|| Backoff::new(max_interval))
            .next_backoff()
    }

    /// Queues a fetch for `key` once its pending backoff has elapsed.
    pub fn refetch_pending(&self, key: &ProjectKey) {
        let mut entries = self.inner.entries.lock();
        let entry = entries.entry(*key).or_default();
        if entry.fetch_requested {
            return;
        }
        entry.fetch_requested = true;
        let no_cache = entry.no_cache;
        self.inner.fetch_queue.lock().push((*key, no_cache));
        self.inner.fetch_wakeup.notify_one();
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

    /// Whether the global config is available.
    pub fn global_ready(&self) -> bool {
        self.inner.global_ready.load(Ordering::Acquire)
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

    /// Drops parked envelopes older than `spool.envelopes.max_envelope_delay_secs`.
    pub fn expire_parked(&self, max_delay: std::time::Duration) -> Vec<PendingEnvelope> {
        let now = Instant::now();
        let mut expired = Vec::new();
        let mut entries = self.inner.entries.lock();
        for entry in entries.values_mut() {
            let mut index = 0;
            while index < entry.pending.len() {
                if now.duration_since(entry.pending[index].queued_at) >= max_delay {
                    expired.push(entry.pending.swap_remove(index));
                } else {
                    index += 1;
                }
            }
        }
        expired
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
