//! The envelope processor: project checks, rate limits and size limits, then hand-off to
//! the sink. Shared by the endpoints (synchronously, so the client learns about 403/413/429)
//! and by the project cache (for envelopes that waited for their project's state).
//!
//! In managed mode an envelope of an enabled project then goes through `process_enabled`
//! (SDK client reports become outcomes, [`client_reports`]; normalization, PII scrubbing and
//! inbound filters are further stages that plug in there) and is split into one envelope per
//! product ([`split`]), each stamped with the send time as `sent_at` (relay-protocol.md
//! §8.2). Proxy and static relays forward one envelope per incoming one, unchanged.

pub mod client_reports;
pub mod split;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use relay_config::{Config, RelayMode, UpstreamDescriptor};
use relay_protocol::client_report::ClientReport;
use relay_protocol::envelope::size_limits::SizeLimits;
use relay_protocol::envelope::ItemType;
use relay_protocol::{ProjectId, ProjectKey};
use relay_quotas::{RateLimits, Scoping};
use url::Url;

use crate::endpoints::common::BadStoreRequest;
use crate::services::forward::EnvelopeSink;
use crate::services::managed::ManagedEnvelope;
use crate::services::outcome::{DiscardReason, Outcome};
use crate::services::processing::ProcessingService;
use crate::services::projects::state::VerifySignature;
use crate::services::projects::{PendingEnvelope, ProjectCache, ProjectState, ProjectStatus};
use crate::utils::budget::MemoryBudget;
use crate::utils::origin::is_origin_allowed;

/// Validity of a zero-limit quota turned into a rate limit (relay-protocol.md §11 step 4).
pub const ZERO_QUOTA_LIMIT_DURATION: Duration = Duration::from_secs(60);

/// What the project checks of http-api.md §3.6 need to know about the request.
#[derive(Clone, Debug)]
pub struct RequestChecks {
    /// Project id from the URL, if the route has one.
    pub request_project_id: Option<ProjectId>,
    pub public_key: ProjectKey,
    pub origin: Option<Url>,
    pub required_features: Vec<String>,
    /// `X-Sentry-Relay-Signature`, if sent.
    pub relay_signature: Option<String>,
    /// The request carries the id of an internal static relay.
    pub trusted: bool,
    pub received_at: DateTime<Utc>,
}

/// The result of handing an envelope to the processor.
#[derive(Debug, Default)]
pub struct Submitted {
    /// Rate limits that applied to the envelope's items (429 when not empty).
    pub active_limits: RateLimits,
}

/// Handle to the processor; cheap to clone.
#[derive(Clone)]
pub struct EnvelopeProcessor {
    inner: Arc<ProcessorInner>,
}

struct ProcessorInner {
    config: Arc<Config>,
    projects: ProjectCache,
    sink: EnvelopeSink,
    budget: MemoryBudget,
    /// The processing pipeline; `Some` exactly when processing is enabled.
    processing: Option<ProcessingService>,
}

impl EnvelopeProcessor {
    pub fn new(
        config: Arc<Config>,
        projects: ProjectCache,
        sink: EnvelopeSink,
        budget: MemoryBudget,
        processing: Option<ProcessingService>,
    ) -> EnvelopeProcessor {
        EnvelopeProcessor {
            inner: Arc::new(ProcessorInner {
                config,
                projects,
                sink,
                budget,
                processing,
            }),
        }
    }

    /// The processing pipeline of a processing relay.
    pub fn processing(&self) -> Option<&ProcessingService> {
        self.inner.processing.as_ref()
    }

    pub fn projects(&self) -> &ProjectCache {
        &self.inner.projects
    }

    pub fn budget(&self) -> &MemoryBudget {
        &self.inner.budget
    }

    pub fn sink(&self) -> &EnvelopeSink {
        &self.inner.sink
    }

    /// Runs the synchronous part of ingestion for a freshly received envelope.
    pub fn submit(
        &self,
        mut managed: ManagedEnvelope,
        checks: RequestChecks,
    ) -> Result<Submitted, BadStoreRequest> {
        let status = self
            .inner
            .projects
            .get(&checks.public_key, managed.envelope().headers().no_cache);
        let mut target = None;
        match &status {
            ProjectStatus::Disabled => {
                managed.reject(Outcome::Invalid(DiscardReason::ProjectId));
                return Err(BadStoreRequest::EventRejected("ProjectId".to_owned()));
            }
            ProjectStatus::Enabled(state) => {
                if let Err(reason) = self.check_project(&mut managed, &checks, state) {
                    let detail = reason.rejection_name();
                    managed.reject(Outcome::Invalid(reason));
                    return Err(BadStoreRequest::EventRejected(detail));
                }
                target = advertised_upstream(state);
            }
            ProjectStatus::Pending | ProjectStatus::Proxy => {}
        }

        let limits = self.cached_limits(&checks.public_key, &status, managed.scoping());
        let active_limits = self.enforce_rate_limits(&mut managed, &limits);

        if let Err(too_large) = relay_protocol::envelope::size_limits::check_envelope_size_limits(
            managed.envelope(),
            &envelope_size_limits(&self.inner.config),
        ) {
            let item_name = too_large.item_name.clone();
            managed.reject(Outcome::Invalid(DiscardReason::TooLarge(item_name.clone())));
            return Err(BadStoreRequest::TooLarge(item_name));
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
                return Err(BadStoreRequest::QueueFailed(error.to_string()));
            }
        }

        if matches!(status, ProjectStatus::Pending) {
            let key = checks.public_key;
            let pending = PendingEnvelope {
                envelope: managed,
                checks,
                queued_at: Instant::now(),
            };
            if let Some(pending) = self.inner.projects.park(&key, pending) {
                // The state arrived between lookup and parking.
                self.release_parked(vec![pending]);
            }
            return Ok(Submitted { active_limits });
        }
        match &status {
            ProjectStatus::Enabled(state) => self.hand_off(managed, state, target, checks.trusted),
            _ => self.inner.sink.submit(managed, target),
        }
        Ok(Submitted { active_limits })
    }

    /// Continues envelopes that waited for their project's state.
    pub fn release_parked(&self, parked: Vec<PendingEnvelope>) {
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
                    self.inner.sink.submit(managed, None);
                    continue;
                }
                ProjectStatus::Pending => {
                    let key = checks.public_key;
                    let pending = PendingEnvelope {
                        envelope: managed,
                        checks,
                        queued_at,
                    };
                    if let Some(pending) = self.inner.projects.park(&key, pending) {
                        tracing::debug!("project state changed while re-parking, retrying");
                        self.release_parked_later(pending);
                    }
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
            self.hand_off(managed, &state, advertised_upstream(&state), checks.trusted);
        }
    }

    /// Sends a checked envelope of an enabled project on its way: processed and split per
    /// product in managed mode, unchanged otherwise.
    fn hand_off(
        &self,
        mut managed: ManagedEnvelope,
        state: &Arc<ProjectState>,
        target: Option<UpstreamDescriptor>,
        trusted_sender: bool,
    ) {
        if let Some(processing) = &self.inner.processing {
            self.convert_client_reports(&mut managed, state);
            if managed.envelope().is_empty() {
                managed.accept();
                return;
            }
            processing.submit(managed, Arc::clone(state), trusted_sender);
            return;
        }
        if self.inner.config.values.relay.mode != RelayMode::Managed {
            self.inner.sink.submit(managed, target);
            return;
        }
        self.process_enabled(&mut managed, state);
        let groups = split::product_groups(managed.envelope().items());
        let sent_at = Utc::now();
        for mut part in managed.split_by(&groups) {
            part.envelope_mut().headers_mut().sent_at = Some(sent_at);
            self.inner.sink.submit(part, target.clone());
        }
    }

    /// The managed-mode processing stages for an enabled project.
    fn process_enabled(&self, managed: &mut ManagedEnvelope, state: &ProjectState) {
        self.convert_client_reports(managed, state);
    }

    /// Replaces SDK client reports by the outcomes they report (relay-protocol.md §7.3).
    fn convert_client_reports(&self, managed: &mut ManagedEnvelope, state: &ProjectState) {
        let reports = managed.take_items_where(|item| *item.ty() == ItemType::ClientReport);
        if reports.is_empty() {
            return;
        }
        let context = client_reports::ClientReportContext {
            received_at: managed.received_at(),
            sent_at: managed.envelope().headers().sent_at,
            retention_days: state
                .config
                .event_retention
                .unwrap_or(client_reports::DEFAULT_EVENT_RETENTION_DAYS),
            max_secs_in_future: self.inner.config.values.processing.max_secs_in_future,
        };
        for item in reports {
            let report = match ClientReport::parse(item.payload_slice()) {
                Ok(report) => report,
                Err(error) => {
                    tracing::debug!(error = %error, "dropping unparsable client report");
                    continue;
                }
            };
            let outcomes = match client_reports::reported_outcomes(&report, &context) {
                Ok(outcomes) => outcomes,
                Err(rejection) => {
                    tracing::debug!(%rejection, "dropping client report");
                    continue;
                }
            };
            for reported in outcomes {
                managed.track_at(
                    reported.timestamp,
                    reported.outcome,
                    reported.category,
                    usize::try_from(reported.quantity).unwrap_or(usize::MAX),
                );
            }
        }
    }

    fn release_parked_later(&self, pending: PendingEnvelope) {
        let processor = self.clone();
        tokio::spawn(async move { processor.release_parked(vec![pending]) });
    }

    /// Drops envelopes that waited too long for their project.
    pub fn expire_parked(&self, expired: Vec<PendingEnvelope>) {
        for pending in expired {
            pending
                .envelope
                .reject(Outcome::Invalid(DiscardReason::Timestamp));
        }
    }

    /// The checks of http-api.md §3.6 against an enabled project; updates the scoping.
    fn check_project(
        &self,
        managed: &mut ManagedEnvelope,
        checks: &RequestChecks,
        state: &ProjectState,
    ) -> Result<(), DiscardReason> {
        let config = &self.inner.config;
        let mut scoping = managed.scoping().clone();
        scoping.organization_id = state.organization_id;
        scoping.key_id = state.key_id(&checks.public_key);
        if let Some(project_id) = state.project_id {
            let mismatch = checks
                .request_project_id
                .is_some_and(|requested| requested != project_id);
            if mismatch && !config.values.relay.override_project_ids {
                return Err(DiscardReason::ProjectId);
            }
            scoping.project_id = Some(project_id);
        }
        managed.set_scoping(scoping);

        if let Some(origin) = &checks.origin {
            if !is_origin_allowed(origin, &state.config.allowed_domains) {
                return Err(DiscardReason::Cors);
            }
        }

        match state.public_keys.first() {
            Some(first) if first.public_key != checks.public_key => {
                tracing::error!("public key mismatch on state {}", checks.public_key);
                return Err(DiscardReason::ProjectId);
            }
            None if state.project_id.is_some() => return Err(DiscardReason::ProjectId),
            _ => {}
        }

        let missing_feature = checks
            .required_features
            .iter()
            .find(|feature| !state.config.features.contains(feature));
        if let Some(feature) = missing_feature {
            return Err(DiscardReason::FeatureDisabled(feature.clone()));
        }

        if state.config.trusted_relay_settings.verify_signature == VerifySignature::Enabled
            && !checks.trusted
        {
            let Some(signature) = &checks.relay_signature else {
                return Err(DiscardReason::MissingSignature);
            };
            let max_age = config.signature_max_age();
            let verified = state.config.trusted_relays.iter().any(|key| {
                key.verify(&[], signature, max_age, checks.received_at)
                    .is_ok()
            });
            if !verified {
                return Err(DiscardReason::InvalidSignature);
            }
        }
        Ok(())
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

/// The per-envelope size limits of envelope.md §8 from the `limits` section.
fn envelope_size_limits(config: &Config) -> SizeLimits {
    let limits = &config.values.limits;
    SizeLimits {
        max_event_size: limits.max_event_size.as_bytes(),
        max_attachment_size: limits.max_attachment_size.as_bytes(),
        max_attachment_count: limits.max_attachment_count,
        max_attachments_size: limits.max_attachments_size.as_bytes(),
        max_replay_compressed_size: limits.max_replay_compressed_size.as_bytes(),
        max_sessions_size: limits.max_sessions_size.as_bytes(),
        max_session_count: limits.max_session_count,
        max_client_reports_size: limits.max_client_reports_size.as_bytes(),
        max_client_reports_count: limits.max_client_reports_count,
        max_profile_size: limits.max_profile_size.as_bytes(),
        max_check_in_size: limits.max_check_in_size.as_bytes(),
        max_metric_buckets_size: limits.max_metric_buckets_size.as_bytes(),
        max_log_size: limits.max_log_size.as_bytes(),
        max_trace_metric_size: limits.max_trace_metric_size.as_bytes(),
        max_span_size: limits.max_span_size.as_bytes(),
        max_standalone_span_count: limits.max_standalone_span_count,
        max_container_size: limits.max_container_size.as_bytes(),
    }
}

fn advertised_upstream(state: &ProjectState) -> Option<UpstreamDescriptor> {
    state
        .upstream
        .as_deref()
        .and_then(|upstream| upstream.parse().ok())
}
