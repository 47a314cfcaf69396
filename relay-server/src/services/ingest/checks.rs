//! The pure checks of the fast path: the project checks of http-api.md §3.6 against an
//! enabled project's state, and the per-envelope size limits of envelope.md §8 from the
//! config. No I/O and no shared state, so each rule is unit-tested here.

use relay_config::{Config, UpstreamDescriptor};
use relay_protocol::envelope::size_limits::SizeLimits;
use relay_quotas::Scoping;

use crate::managed::RequestChecks;
use crate::outcome::DiscardReason;
use crate::services::projects::state::VerifySignature;
use crate::services::projects::ProjectState;
use crate::utils::origin::is_origin_allowed;

/// Checks a request against an enabled project's state (http-api.md §3.6), in the order the
/// spec gives: project id, origin, public key, required features, relay signature.
///
/// Completes `scoping` with the organization, project and key ids of the state once the
/// project id matched (so later rejections are accounted to the right project); a project id
/// mismatch leaves it as the request had it.
pub fn check_project(
    config: &Config,
    checks: &RequestChecks,
    state: &ProjectState,
    scoping: &mut Scoping,
) -> Result<(), DiscardReason> {
    let mut completed = scoping.clone();
    completed.organization_id = state.organization_id;
    completed.key_id = state.key_id(&checks.public_key);
    if let Some(project_id) = state.project_id {
        let mismatch = checks
            .request_project_id
            .is_some_and(|requested| requested != project_id);
        if mismatch && !config.values.relay.override_project_ids {
            return Err(DiscardReason::ProjectId);
        }
        completed.project_id = Some(project_id);
    }
    *scoping = completed;

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

/// The per-envelope size limits of envelope.md §8 from the `limits` section.
pub fn envelope_size_limits(config: &Config) -> SizeLimits {
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

/// The upstream a project state advertises for its envelopes (`upstream` of the state), if
/// it names a valid one.
pub fn advertised_upstream(state: &ProjectState) -> Option<UpstreamDescriptor> {
    state
        .upstream
        .as_deref()
        .and_then(|upstream| upstream.parse().ok())
}
