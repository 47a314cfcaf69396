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
        if mismatch && !config.override_project_ids() {
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
    SizeLimits {
        max_event_size: config.max_event_size().as_bytes(),
        max_attachment_size: config.max_attachment_size().as_bytes(),
        max_attachment_count: config.max_attachment_count(),
        max_attachments_size: config.max_attachments_size().as_bytes(),
        max_replay_compressed_size: config.max_replay_compressed_size().as_bytes(),
        max_sessions_size: config.max_sessions_size().as_bytes(),
        max_session_count: config.max_session_count(),
        max_client_reports_size: config.max_client_reports_size().as_bytes(),
        max_client_reports_count: config.max_client_reports_count(),
        max_profile_size: config.max_profile_size().as_bytes(),
        max_check_in_size: config.max_check_in_size().as_bytes(),
        max_metric_buckets_size: config.max_metric_buckets_size().as_bytes(),
        max_log_size: config.max_log_size().as_bytes(),
        max_trace_metric_size: config.max_trace_metric_size().as_bytes(),
        max_span_size: config.max_span_size().as_bytes(),
        max_standalone_span_count: config.max_standalone_span_count(),
        max_container_size: config.max_container_size().as_bytes(),
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

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use relay_protocol::ProjectId;

    use super::*;
    use crate::testutils::{self, request_checks, request_scoping, TestProject};

    const OTHER_KEY: &str = "b94bf9d2a7e24c1a9b2f1dc2bca5c0a7";

    fn check(
        config: &Config,
        checks: &RequestChecks,
        project: &TestProject,
    ) -> (Result<(), DiscardReason>, Scoping) {
        let mut scoping = request_scoping();
        scoping.project_id = checks.request_project_id;
        let result = check_project(config, checks, &project.build(), &mut scoping);
        (result, scoping)
    }

    fn default_config() -> Config {
        Config::default()
    }

    #[test]
    fn matching_request_passes_and_completes_the_scoping() {
        let project = TestProject::new();
        let (result, scoping) = check(&default_config(), &request_checks(), &project);
        assert_eq!(result, Ok(()));
        assert_eq!(scoping, testutils::scoping());
    }

    #[test]
    fn project_id_mismatch_is_rejected_and_leaves_the_scoping_untouched() {
        let mut checks = request_checks();
        checks.request_project_id = Some(ProjectId(99));
        let (result, scoping) = check(&default_config(), &checks, &TestProject::new());
        assert_eq!(result, Err(DiscardReason::ProjectId));
        assert_eq!(scoping.organization_id, None);
        assert_eq!(scoping.project_id, Some(ProjectId(99)));
        assert_eq!(scoping.key_id, None);
    }

    #[test]
    fn override_project_ids_accepts_a_mismatch_with_the_state_s_project() {
        let config = testutils::config("relay: {override_project_ids: true}");
        let mut checks = request_checks();
        checks.request_project_id = Some(ProjectId(99));
        let (result, scoping) = check(&config, &checks, &TestProject::new());
        assert_eq!(result, Ok(()));
        assert_eq!(scoping, testutils::scoping());
    }

    #[test]
    fn request_without_project_id_takes_the_state_s_project() {
        let mut checks = request_checks();
        checks.request_project_id = None;
        let (result, scoping) = check(&default_config(), &checks, &TestProject::new());
        assert_eq!(result, Ok(()));
        assert_eq!(scoping, testutils::scoping());
    }

    #[test]
    fn origin_must_match_allowed_domains() {
        let project = TestProject::new().allowed_domains(&["*.example.com"]);
        let mut checks = request_checks();
        checks.origin = Some("https://app.example.com/page".parse().unwrap());
        assert_eq!(check(&default_config(), &checks, &project).0, Ok(()));

        checks.origin = Some("https://evil.com".parse().unwrap());
        let (result, scoping) = check(&default_config(), &checks, &project);
        assert_eq!(result, Err(DiscardReason::Cors));
        // The project id matched, so the rejection is accounted to the project.
        assert_eq!(scoping, testutils::scoping());

        // Without an origin the domains do not matter; an empty list rejects any origin.
        checks.origin = None;
        assert_eq!(check(&default_config(), &checks, &project).0, Ok(()));
        let closed = TestProject::new().allowed_domains(&[]);
        checks.origin = Some("https://app.example.com".parse().unwrap());
        assert_eq!(
            check(&default_config(), &checks, &closed).0,
            Err(DiscardReason::Cors)
        );
    }

    #[test]
    fn key_must_be_the_state_s_first_public_key() {
        let project = TestProject::new().set(
            "publicKeys",
            serde_json::json!([{"publicKey": OTHER_KEY, "numericId": 1}]),
        );
        let (result, scoping) = check(&default_config(), &request_checks(), &project);
        assert_eq!(result, Err(DiscardReason::ProjectId));
        assert_eq!(scoping.key_id, None);

        // Empty `publicKeys` passes only without a `projectId`.
        let keyless = TestProject::new().set("publicKeys", serde_json::json!([]));
        assert_eq!(
            check(&default_config(), &request_checks(), &keyless).0,
            Err(DiscardReason::ProjectId)
        );
        let anonymous = keyless.set("projectId", serde_json::Value::Null);
        let (result, scoping) = check(&default_config(), &request_checks(), &anonymous);
        assert_eq!(result, Ok(()));
        assert_eq!(scoping.project_id, Some(ProjectId(testutils::PROJECT_ID)));
    }

    #[test]
    fn every_required_feature_must_be_enabled() {
        let project = TestProject::new().features(&["organizations:session-replay"]);
        let mut checks = request_checks();
        checks.required_features = vec!["organizations:session-replay".to_owned()];
        assert_eq!(check(&default_config(), &checks, &project).0, Ok(()));

        checks
            .required_features
            .push("organizations:custom-metrics".to_owned());
        assert_eq!(
            check(&default_config(), &checks, &project).0,
            Err(DiscardReason::FeatureDisabled(
                "organizations:custom-metrics".to_owned()
            ))
        );
    }

    fn signing_project() -> (relay_auth::SecretKey, TestProject) {
        let (secret, public) = relay_auth::generate_key_pair();
        let (_, other) = relay_auth::generate_key_pair();
        let project = TestProject::new()
            .trusted_relays(&[&other, &public])
            .verify_signature(true);
        (secret, project)
    }

    #[test]
    fn verified_project_requires_a_signature() {
        let (_, project) = signing_project();
        assert_eq!(
            check(&default_config(), &request_checks(), &project).0,
            Err(DiscardReason::MissingSignature)
        );
    }

    #[test]
    fn invalid_signatures_are_rejected() {
        let (_, project) = signing_project();
        let (stranger, _) = relay_auth::generate_key_pair();
        let mut checks = request_checks();
        for signature in [
            "garbage".to_owned(),
            stranger.sign(&[]).into_string(),
            // Signed by a trusted key, but over a payload instead of the empty one.
            signing_project().0.sign(b"payload").into_string(),
        ] {
            checks.relay_signature = Some(signature);
            assert_eq!(
                check(&default_config(), &checks, &project).0,
                Err(DiscardReason::InvalidSignature)
            );
        }
    }

    #[test]
    fn valid_signature_of_a_trusted_relay_passes_within_its_max_age() {
        let (secret, project) = signing_project();
        let mut checks = request_checks();
        checks.relay_signature = Some(secret.sign(&[]).into_string());
        assert_eq!(check(&default_config(), &checks, &project).0, Ok(()));

        // The same signature is too old once `auth.signature_max_age` has passed.
        let config = testutils::config("auth: {signature_max_age: 60}");
        checks.received_at = Utc::now() + Duration::seconds(120);
        assert_eq!(
            check(&config, &checks, &project).0,
            Err(DiscardReason::InvalidSignature)
        );
    }

    #[test]
    fn trusted_senders_and_unverified_projects_skip_the_signature_check() {
        let (_, project) = signing_project();
        let mut checks = request_checks();
        checks.trusted = true;
        assert_eq!(check(&default_config(), &checks, &project).0, Ok(()));

        checks.trusted = false;
        checks.relay_signature = Some("garbage".to_owned());
        let unverified = project.verify_signature(false);
        assert_eq!(check(&default_config(), &checks, &unverified).0, Ok(()));
    }

    #[test]
    fn size_limits_come_from_the_limits_section() {
        assert_eq!(
            envelope_size_limits(&default_config()),
            SizeLimits::default()
        );

        let config = testutils::config(
            "limits:
  max_event_size: 1001
  max_attachment_size: 1002
  max_attachment_count: 3
  max_attachments_size: 1004
  max_replay_compressed_size: 1005
  max_sessions_size: 1006
  max_session_count: 7
  max_client_reports_size: 1008
  max_client_reports_count: 9
  max_profile_size: 1010
  max_check_in_size: 1011
  max_metric_buckets_size: 1012
  max_log_size: 1013
  max_trace_metric_size: 1014
  max_span_size: 1015
  max_standalone_span_count: 16
  max_container_size: 1017
",
        );
        assert_eq!(
            envelope_size_limits(&config),
            SizeLimits {
                max_event_size: 1001,
                max_attachment_size: 1002,
                max_attachment_count: 3,
                max_attachments_size: 1004,
                max_replay_compressed_size: 1005,
                max_sessions_size: 1006,
                max_session_count: 7,
                max_client_reports_size: 1008,
                max_client_reports_count: 9,
                max_profile_size: 1010,
                max_check_in_size: 1011,
                max_metric_buckets_size: 1012,
                max_log_size: 1013,
                max_trace_metric_size: 1014,
                max_span_size: 1015,
                max_standalone_span_count: 16,
                max_container_size: 1017,
            }
        );
    }

    #[test]
    fn advertised_upstream_is_the_state_s_valid_upstream() {
        let project = TestProject::new().set("upstream", "https://eu.example.com:8443/");
        let upstream = advertised_upstream(&project.build()).expect("valid upstream");
        assert_eq!(upstream.host(), "eu.example.com");
        assert_eq!(upstream.port(), 8443);

        assert!(advertised_upstream(&TestProject::new().build()).is_none());
        let invalid = TestProject::new().set("upstream", "not an upstream");
        assert!(advertised_upstream(&invalid.build()).is_none());
    }
}
