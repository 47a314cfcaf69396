//! The field normalization steps of normalization.md §7 that are implemented, in the order of
//! §7 (step numbers in parentheses): span conventions (1), transaction names with the
//! project's `txNameRules` and span ops with the global span-op default rules (2), security
//! reports with the submitting request's headers (3), IP addresses (4, §7.1), GeoIP (5, with a
//! database), release (6), environment (7), user (8), logentry (9, §7.2), debug image types
//! (10), breadcrumbs (11), dist (12), tags (13, §7.3), the device class (14, §7.6), stack
//! traces (15, §7.4), exceptions with the mechanism `meta` names (16, §7.5), user agent →
//! contexts (17, §7.7, with [`NormalizationConfig::normalize_user_agent`]), measurements with
//! the measurements config (18), app start backfill (19), performance score, AI costs and
//! breakdowns (20, each only with its config), default attributes (21, §7.8), trace data tags
//! (22), replay context (23), request (24, §7.9), the forced trace context (25, §7.10),
//! contexts (26, §7.10) with the `raw_description` parsing of `os` and `runtime` and the
//! Android device model names, the exclusive
//! time of spans and the app start span ops of old React Native SDKs (27, with
//! `normalize_spans`) and the client sample rate (29).
//!
//! Not implemented yet: the DSC-derived span data of step 27 (normalization.md names it
//! without its rules, and `StoreNormalizer`, which has no DSC, cannot show it), and span
//! enrichment (28, out of scope in normalization.md).

use relay_event::schema::Event;
use relay_event::Annotated;

use crate::NormalizationConfig;
use crate::{
    ai_costs, app_start, breakdowns, contexts, debug_images, defaults, device_class, dsc_context,
    exceptions, exclusive_time, geo, logentry, measurements, performance_score, release, request,
    security_report, span_conventions, stacktrace, tags, trace_tags, transactions, user,
    user_agent,
};

/// Runs the implemented §7 steps in order (the caller skips them when renormalizing).
pub fn normalize_fields(event: &mut Annotated<Event>, config: &NormalizationConfig) {
    let client_ip = config.client_ip.filter(|_| config.infer_ip_address);
    if let Some(event) = event.value_mut() {
        span_conventions::normalize_span_conventions(event, config.normalize_spans);
        let tx_rules = config.transaction_name_rules.as_deref();
        let tx_rules = tx_rules.map_or(&[][..], Vec::as_slice);
        let span_op_defaults = config.span_op_defaults.as_deref();
        let received_at = config.received_at_or_now();
        transactions::normalize_transaction_with_rules(
            event,
            tx_rules,
            span_op_defaults,
            received_at,
        );
        defaults::normalize_security_report_logger(event);
        user::normalize_security_report_ip(event, client_ip);
        security_report::normalize_security_report_headers(
            event,
            config.submitter_headers.as_ref(),
        );
        user::normalize_ip_address(event, client_ip);
        if let Some(lookup) = &config.geoip_lookup {
            // The raw client IP: §7 step 5 does not depend on IP inference.
            geo::normalize_user_geo(event, lookup, config.client_ip);
        }
        release::normalize_release_and_environment(event);
        user::normalize_user(event);
        logentry::normalize_logentry(event);
        debug_images::normalize_debug_images(event);
        defaults::normalize_breadcrumbs(event);
        release::normalize_dist(event);
        tags::normalize_tags(event);
        tags::remove_device_class_tag(event);
        device_class::normalize_device_class(event);
        stacktrace::normalize_stacktraces(event);
        exceptions::normalize_exceptions(event);
        if config.normalize_user_agent {
            user_agent::normalize_user_agent(event);
        }
        measurements::normalize_measurements(event, config.measurements.as_deref());
        app_start::normalize_app_start(event);
        // Step 20: performance score, AI costs, breakdowns (each only with its config).
        if let Some(performance_score) = config.performance_score.as_deref() {
            performance_score::compute_performance_score(event, performance_score);
        }
        if let Some(metadata) = config.ai_model_metadata.as_deref() {
            ai_costs::enrich_ai_costs(event, metadata);
        }
        if let Some(breakdowns) = config.breakdowns.as_deref() {
            breakdowns::normalize_breakdowns(event, breakdowns);
        }
    }
    defaults::normalize_default_attributes(event, config);
    if let Some(event) = event.value_mut() {
        trace_tags::normalize_trace_data_tags(event);
        dsc_context::normalize_replay_context(event, config.replay_id);
        request::normalize_request(event);
        contexts::normalize_contexts(event);
        if config.normalize_spans {
            app_start::normalize_app_start_spans(event);
            exclusive_time::compute_exclusive_time(event);
        }
        dsc_context::normalize_client_sample_rate(event, config.client_sample_rate);
    }
}
