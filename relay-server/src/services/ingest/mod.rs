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
use std::time::Instant;

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
            managed.reject(Outcome::Invalid(DiscardReason::TooLarge(
                item_name.clone().into(),
            )));
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
            let quotas = &state.config.quotas;
            if !quotas.is_empty() {
                limits.merge_exact(relay_quotas::zero_quota_rate_limits(
                    quotas,
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use relay_protocol::envelope::{Item, ItemType};
    use relay_protocol::{DataCategory, ProjectId};
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;
    use tokio::sync::mpsc::Receiver;

    use super::*;
    use crate::outcome::TrackOutcome;
    use crate::testutils::{
        self, drain_outcomes, envelope_files, json_item, outcome_summary, project_key,
        request_checks, request_scoping, TestEnvelope, TestProject,
    };

    /// An ingest service of a managed relay forwarding into a temporary directory.
    struct Setup {
        service: IngestService,
        projects: ProjectCache,
        budget: MemoryBudget,
        directory: tempfile::TempDir,
        shutdown: ShutdownHandle,
    }

    impl Setup {
        fn new(yaml: &str) -> Setup {
            Setup::with_budget(yaml, MemoryBudget::new(1 << 20, 100))
        }

        fn with_budget(yaml: &str, budget: MemoryBudget) -> Setup {
            let config = Arc::new(testutils::config(yaml));
            let projects = ProjectCache::new(config.clone());
            projects.set_global_config(json!({}));
            let directory = tempfile::tempdir().unwrap();
            let shutdown = ShutdownHandle::new();
            let forwarding =
                testutils::directory_forwarding(config.clone(), directory.path(), &shutdown);
            let service = IngestService::start(
                config,
                projects.clone(),
                Destination::Forwarding(forwarding),
                budget.clone(),
                shutdown.clone(),
            );
            Setup {
                service,
                projects,
                budget,
                directory,
                shutdown,
            }
        }

        /// Makes `project` the enabled state of the test key.
        fn enable(&self, project: &TestProject) {
            let released = self.projects.resolve(&project_key(), Some(project.build()));
            assert!(released.is_empty());
        }

        /// Submits `items` as a request to `/api/42/…` would.
        fn submit(
            &self,
            items: Vec<Item>,
        ) -> (Result<Submitted, IngestError>, Receiver<TrackOutcome>) {
            self.submit_with(items, request_checks())
        }

        fn submit_with(
            &self,
            items: Vec<Item>,
            checks: RequestChecks,
        ) -> (Result<Submitted, IngestError>, Receiver<TrackOutcome>) {
            let (managed, receiver) = TestEnvelope::from_items(items)
                .scoping(request_scoping())
                .capturing();
            (self.service.submit(managed, checks), receiver)
        }

        fn envelope_files(&self) -> Vec<PathBuf> {
            envelope_files(self.directory.path())
        }

        /// Waits until `count` envelope files were written and their permits returned.
        async fn written(&self, count: usize) -> Vec<PathBuf> {
            for _ in 0..500 {
                let files = self.envelope_files();
                if files.len() >= count && self.budget.used_envelopes() == 0 {
                    return files;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!(
                "expected {count} envelope files, found {:?} (budget holds {})",
                self.envelope_files(),
                self.budget.used_envelopes()
            );
        }
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            self.shutdown.finish();
        }
    }

    fn event() -> Item {
        json_item(ItemType::Event, r#"{"message":"hello"}"#)
    }

    fn check_in() -> Item {
        json_item(
            ItemType::CheckIn,
            r#"{"check_in_id":"a460c25ff2554577b920fcfacae4e5eb","monitor_slug":"job","status":"ok"}"#,
        )
    }

    #[tokio::test]
    async fn enabled_project_envelope_is_forwarded_with_a_permit() {
        let setup = Setup::new("");
        setup.enable(&TestProject::new());
        let (result, mut outcomes) = setup.submit(vec![event()]);
        let submitted = result.expect("accepted");
        assert!(submitted.active_limits.is_empty());
        let files = setup.written(1).await;
        assert_eq!(files.len(), 1);
        let written = std::fs::read_to_string(&files[0]).unwrap();
        // A managed relay normalizes the event before forwarding it (`message` → `logentry`).
        assert!(
            written.contains(r#""logentry":{"formatted":"hello"}"#),
            "{written}"
        );
        assert!(drain_outcomes(&mut outcomes).is_empty());
    }

    #[tokio::test]
    async fn zero_limit_quota_drops_limited_items_with_rate_limited_outcomes() {
        let setup = Setup::new("");
        setup.enable(&TestProject::new().quotas(json!([{
            "id": "no-errors",
            "categories": ["error"],
            "scope": "project",
            "limit": 0,
            "reasonCode": "errors_off",
        }])));
        let (result, mut outcomes) = setup.submit(vec![event(), check_in()]);
        let submitted = result.expect("the check-in is still accepted");
        let active: Vec<Option<String>> = submitted
            .active_limits
            .iter()
            .map(|limit| {
                limit
                    .reason_code
                    .as_ref()
                    .map(|code| code.as_str().to_owned())
            })
            .collect();
        assert_eq!(active, vec![Some("errors_off".to_owned())]);
        assert_eq!(
            outcome_summary(&drain_outcomes(&mut outcomes)),
            vec![(
                "rate_limited",
                "errors_off".to_owned(),
                DataCategory::Error,
                1
            )]
        );
        let files = setup.written(1).await;
        let written = std::fs::read_to_string(&files[0]).unwrap();
        assert!(written.contains("check_in"), "{written}");
        assert!(!written.contains("hello"), "{written}");
    }

    #[tokio::test]
    async fn learned_rate_limits_drop_everything_and_nothing_is_written() {
        let setup = Setup::new("");
        setup.enable(&TestProject::new());
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-sentry-rate-limits",
            HeaderValue::from_static("60::organization:org_quota"),
        );
        setup
            .projects
            .learn_upstream_rate_limits(&testutils::scoping(), &headers);
        let (result, mut outcomes) = setup.submit(vec![event()]);
        let submitted = result.expect("an emptied envelope is accepted");
        assert_eq!(submitted.active_limits.len(), 1);
        assert_eq!(
            outcome_summary(&drain_outcomes(&mut outcomes)),
            vec![(
                "rate_limited",
                "org_quota".to_owned(),
                DataCategory::Error,
                1
            )]
        );
        // Nothing is left to send, so nothing holds a permit and no file appears.
        assert_eq!(setup.budget.used_envelopes(), 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(setup.envelope_files().is_empty());
    }

    #[tokio::test]
    async fn oversized_event_is_too_large() {
        let setup = Setup::new("limits: {max_event_size: 10}");
        setup.enable(&TestProject::new());
        let (result, mut outcomes) = setup.submit(vec![event()]);
        match result {
            Err(IngestError::TooLarge(item)) => assert_eq!(item, "event"),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(
            outcome_summary(&drain_outcomes(&mut outcomes)),
            vec![(
                "invalid",
                "too_large:event".to_owned(),
                DataCategory::Error,
                1
            )]
        );
        assert_eq!(setup.budget.used_envelopes(), 0);
    }

    #[tokio::test]
    async fn disabled_project_is_rejected() {
        let setup = Setup::new("");
        setup.projects.resolve(&project_key(), None);
        let (result, mut outcomes) = setup.submit(vec![event()]);
        assert!(matches!(
            result,
            Err(IngestError::Rejected(DiscardReason::ProjectId))
        ));
        let tracked = drain_outcomes(&mut outcomes);
        assert_eq!(
            outcome_summary(&tracked),
            vec![("invalid", "project_id".to_owned(), DataCategory::Error, 1)]
        );
        assert_eq!(tracked[0].scoping, request_scoping());
    }

    #[tokio::test]
    async fn failed_project_check_is_rejected_and_accounted_to_the_project() {
        let setup = Setup::new("");
        setup.enable(&TestProject::new().allowed_domains(&["example.com"]));
        let mut checks = request_checks();
        checks.origin = Some("https://evil.com".parse().unwrap());
        let (result, mut outcomes) = setup.submit_with(vec![event()], checks);
        assert!(matches!(
            result,
            Err(IngestError::Rejected(DiscardReason::Cors))
        ));
        let tracked = drain_outcomes(&mut outcomes);
        assert_eq!(
            outcome_summary(&tracked),
            vec![("invalid", "cors".to_owned(), DataCategory::Error, 1)]
        );
        assert_eq!(tracked[0].scoping, testutils::scoping());
    }

    #[tokio::test]
    async fn exhausted_budget_is_buffer_full() {
        let setup = Setup::with_budget("", MemoryBudget::new(1 << 20, 0));
        setup.enable(&TestProject::new());
        let (result, mut outcomes) = setup.submit(vec![event()]);
        assert!(matches!(result, Err(IngestError::BufferFull(_))));
        assert_eq!(
            outcome_summary(&drain_outcomes(&mut outcomes)),
            vec![("invalid", "internal".to_owned(), DataCategory::Error, 1)]
        );
    }

    #[tokio::test]
    async fn pending_project_parks_the_envelope_until_its_state_is_released() {
        let setup = Setup::new("");
        let (result, mut outcomes) = setup.submit(vec![event()]);
        assert!(result.expect("parked").active_limits.is_empty());
        // Parked with its permit; nothing written yet.
        assert_eq!(setup.budget.used_envelopes(), 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(setup.envelope_files().is_empty());

        let released = setup
            .projects
            .resolve(&project_key(), Some(TestProject::new().build()));
        assert_eq!(released.len(), 1);
        setup.projects.release(released);
        assert_eq!(setup.written(1).await.len(), 1);
        assert!(drain_outcomes(&mut outcomes).is_empty());
    }

    #[tokio::test]
    async fn released_envelope_that_fails_its_checks_is_rejected() {
        let setup = Setup::new("");
        let (result, mut outcomes) = setup.submit(vec![event()]);
        assert!(result.is_ok());
        let other_project = TestProject::new().set("projectId", 99);
        let released = setup
            .projects
            .resolve(&project_key(), Some(other_project.build()));
        setup.projects.release(released);
        for _ in 0..500 {
            if setup.budget.used_envelopes() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let tracked = drain_outcomes(&mut outcomes);
        assert_eq!(
            outcome_summary(&tracked),
            vec![("invalid", "project_id".to_owned(), DataCategory::Error, 1)]
        );
        assert_eq!(tracked[0].scoping.project_id, Some(ProjectId(42)));
        assert!(setup.envelope_files().is_empty());
    }
}
