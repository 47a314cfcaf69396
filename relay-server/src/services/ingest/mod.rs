//! The ingest service: the fast path every accepted envelope takes, synchronously inside the
//! request that brought it, so the client learns about 403, 413, 429 and 503 at once.
//!
//! In order: the project's status from the cache; for an enabled project the project checks
//! ([`checks`]); cached rate limits (learned from upstream answers, plus zero-limit quotas of
//! the config); size limits; a reservation in the memory budget; then either parking (the
//! project's state is still being fetched) or the hand-off to the [`Destination`].
//!
//! Parked envelopes come back through the project cache's release channel, which this service
//! drains in one task ([`IngestService::start`]); they then run the same checks again against
//! the state that arrived. The project cache alone decides when an envelope is released,
//! including when the state arrives while an envelope is being parked.
//!
//! Every refusal is a domain result ([`IngestError`]) carrying its outcome reason; the
//! endpoints turn it into an HTTP response. Outcomes are recorded here, before returning.

pub mod checks;
pub mod destination;

use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_config::Config;
use relay_protocol::ProjectKey;
use relay_quotas::{RateLimits, Scoping};

pub use self::destination::Destination;
use crate::managed::{ManagedEnvelope, RequestChecks};
use crate::outcome::{DiscardReason, Outcome};
use crate::services::projects::{
    PendingEnvelope, ProjectCache, ProjectState, ProjectStatus, ReleasedEnvelopes,
};
use crate::services::shutdown::ShutdownHandle;
use crate::utils::budget::MemoryBudget;

/// Validity of a zero-limit quota turned into a rate limit (relay-protocol.md §11 step 4).
pub const ZERO_QUOTA_LIMIT_DURATION: Duration = Duration::from_secs(60);

/// Why the fast path refused an envelope. Its outcome was already recorded.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The project is disabled or a project check failed (http-api.md §3.6): `403`.
    #[error("event submission rejected with_reason: {}", .0.rejection_name())]
    Rejected(DiscardReason),
    /// An item or the envelope exceeds a size limit (envelope.md §8): `413`, naming the item
    /// type.
    #[error("envelope exceeded size limits for type '{0}'")]
    TooLarge(String),
    /// The memory budget has no room for the envelope: `503`.
    #[error("failed to queue envelope: {0}")]
    BufferFull(String),
}

/// What the fast path did with an envelope it accepted.
#[derive(Debug, Default)]
pub struct Submitted {
    /// Rate limits that applied to the envelope's items (the endpoint answers 429 when they
    /// are not empty and the route reports limits).
    pub active_limits: RateLimits,
}

/// Handle to the ingest service; cheap to clone.
#[derive(Clone)]
pub struct IngestService {
    inner: Arc<IngestInner>,
}

struct IngestInner {
    config: Arc<Config>,
    projects: ProjectCache,
    destination: Destination,
    budget: MemoryBudget,
}

impl IngestService {
    /// Starts the service and the task that takes envelopes released by the project cache.
    /// Must run inside the tokio runtime.
    pub fn start(
        config: Arc<Config>,
        projects: ProjectCache,
        destination: Destination,
        budget: MemoryBudget,
        shutdown: ShutdownHandle,
    ) -> IngestService {
        let service = IngestService {
            inner: Arc::new(IngestInner {
                config,
                projects,
                destination,
                budget,
            }),
        };
        match service.inner.projects.take_released() {
            Some(released) => {
                tokio::spawn(service.clone().run_release_loop(released, shutdown));
            }
            None => tracing::error!("the project cache's release channel was already taken"),
        }
        service
    }

    /// The project cache the checks read.
    pub fn projects(&self) -> &ProjectCache {
        &self.inner.projects
    }

    /// The memory budget every accepted envelope holds a permit of.
    pub fn budget(&self) -> &MemoryBudget {
        &self.inner.budget
    }

    /// Where accepted envelopes go.
    pub fn destination(&self) -> &Destination {
        &self.inner.destination
    }

    /// Runs the fast path for a freshly received envelope.
    pub fn submit(
        &self,
        mut managed: ManagedEnvelope,
        checks: RequestChecks,
    ) -> Result<Submitted, IngestError> {
        let status = self
            .inner
            .projects
            .get(&checks.public_key, managed.envelope().headers().no_cache);
        let mut target = None;
        match &status {
            ProjectStatus::Disabled => {
                managed.reject(Outcome::Invalid(DiscardReason::ProjectId));
                return Err(IngestError::Rejected(DiscardReason::ProjectId));
            }
            ProjectStatus::Enabled(state) => {
                if let Err(reason) = self.check_project(&mut managed, &checks, state) {
                    managed.reject(Outcome::Invalid(reason.clone()));
                    return Err(IngestError::Rejected(reason));
                }
                target = checks::advertised_upstream(state);
            }
            ProjectStatus::Pending | ProjectStatus::Proxy => {}
        }

        let limits = self.cached_limits(&checks.public_key, &status, managed.scoping());
        let active_limits = self.enforce_rate_limits(&mut managed, &limits);

        if let Err(too_large) = relay_protocol::envelope::size_limits::check_envelope_size_limits(
            managed.envelope(),
            &checks::envelope_size_limits(&self.inner.config),
        ) {
            let item_name = too_large.item_name.clone();
            managed.reject(Outcome::Invalid(DiscardReason::TooLarge(item_name.clone())));
            return Err(IngestError::TooLarge(item_name));
        }

        if managed.envelope().is_empty() {
            managed.accept();
            return Ok(Submitted { active_limits });
        }

        let size = managed.envelope().serialized_size_hint();
        match self.inner.budget.try_reserve(size) {
            Ok(permit) => managed.set_permit(permit),
            Err(error) => {
                managed.reject(Outcome::Invalid(DiscardReason::Internal));
                return Err(IngestError::BufferFull(error.to_string()));
            }
        }

        match &status {
            ProjectStatus::Pending => {
                let key = checks.public_key;
                let pending = PendingEnvelope {
                    envelope: managed,
                    checks,
                    queued_at: Instant::now(),
                };
                self.inner.projects.park(&key, pending);
            }
            ProjectStatus::Enabled(state) => {
                self.inner
                    .destination
                    .submit_checked(managed, state, target, checks.trusted)
            }
            _ => self.inner.destination.submit_unchecked(managed, target),
        }
        Ok(Submitted { active_limits })
    }

    /// Takes released envelopes until shutdown finishes (what is still parked then is
    /// accounted for by the server's shutdown).
    async fn run_release_loop(self, mut released: ReleasedEnvelopes, shutdown: ShutdownHandle) {
        loop {
            tokio::select! {
                batch = released.recv() => match batch {
                    Some(batch) => self.release_parked(batch),
                    None => return,
                },
                _ = shutdown.finished() => return,
            }
        }
    }

    /// Continues envelopes that waited for their project's state.
    fn release_parked(&self, parked: Vec<PendingEnvelope>) {
        for PendingEnvelope {
            envelope: mut managed,
            checks,
            queued_at,
        } in parked
        {
            let status = self.inner.projects.get(&checks.public_key, false);
            let state = match status {
                ProjectStatus::Enabled(state) => state,
                ProjectStatus::Disabled => {
                    managed.reject(Outcome::Invalid(DiscardReason::ProjectId));
                    continue;
                }
                ProjectStatus::Proxy => {
                    self.inner.destination.submit_unchecked(managed, None);
                    continue;
                }
                ProjectStatus::Pending => {
                    // Evicted again before this envelope got its turn: wait once more.
                    let key = checks.public_key;
                    let pending = PendingEnvelope {
                        envelope: managed,
                        checks,
                        queued_at,
                    };
                    self.inner.projects.park(&key, pending);
                    continue;
                }
            };
            if let Err(reason) = self.check_project(&mut managed, &checks, &state) {
                managed.reject(Outcome::Invalid(reason));
                continue;
            }
            let limits = self.cached_limits(
                &checks.public_key,
                &ProjectStatus::Enabled(state.clone()),
                managed.scoping(),
            );
            self.enforce_rate_limits(&mut managed, &limits);
            self.inner.destination.submit_checked(
                managed,
                &state,
                checks::advertised_upstream(&state),
                checks.trusted,
            );
        }
    }

    /// The project checks; completes the envelope's scoping.
    fn check_project(
        &self,
        managed: &mut ManagedEnvelope,
        checks: &RequestChecks,
        state: &ProjectState,
    ) -> Result<(), DiscardReason> {
        let mut scoping = managed.scoping().clone();
        let result = checks::check_project(&self.inner.config, checks, state, &mut scoping);
        managed.set_scoping(scoping);
        result
    }

    /// Learned limits plus zero-limit quotas of the project's config.
    fn cached_limits(
        &self,
        key: &ProjectKey,
        status: &ProjectStatus,
        scoping: &Scoping,
    ) -> RateLimits {
        let mut limits = self.inner.projects.rate_limits(key);
        if let ProjectStatus::Enabled(state) = status {
            let quotas =
                relay_quotas::parse_quotas(&serde_json::Value::Array(state.config.quotas.clone()));
            if !quotas.is_empty() {
                limits.merge_exact(relay_quotas::zero_quota_rate_limits(
                    &quotas,
                    scoping,
                    Instant::now(),
                ));
            }
        }
        limits
    }

    /// Drops limited items with `rate_limited` outcomes; returns the active limits.
    fn enforce_rate_limits(
        &self,
        managed: &mut ManagedEnvelope,
        limits: &RateLimits,
    ) -> RateLimits {
        if limits.is_empty() {
            return RateLimits::default();
        }
        let scoping = managed.scoping().clone();
        let enforcement = relay_quotas::enforce_cached_rate_limits(
            managed.envelope_mut(),
            limits,
            &scoping,
            Instant::now(),
        );
        tracing::debug!(?scoping, ?limits, active = ?enforcement.active, dropped = ?enforcement.dropped, "enforced cached rate limits");
        for dropped in &enforcement.dropped {
            managed.track(
                Outcome::RateLimited(dropped.reason.clone()),
                dropped.category,
                dropped.quantity,
            );
        }
        enforcement.active
    }
}
