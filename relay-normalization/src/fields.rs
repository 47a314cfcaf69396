//! The field normalization steps of normalization.md §7 that are implemented, in the order of
//! §7 (step numbers in parentheses): span conventions (1), transaction names and span ops
//! without project or global rules (2), security reports with the submitting request's
//! headers (3), IP addresses (4, §7.1), GeoIP (5, with a database), release (6), environment
//! (7), user (8), logentry (9, §7.2), debug image types (10), breadcrumbs (11), dist (12), tags
//! (13, §7.3), removal of client-sent `device.class` tags (14), stack traces (15, §7.4),
//! exceptions with the mechanism `meta` names (16, §7.5), app start backfill (19), default
//! attributes (21, §7.8), trace data tags (22), replay context (23), request (24, §7.9), the
//! forced trace context (25, §7.10), contexts (26, §7.10) without `raw_description` parsing,
//! and the client sample rate (29).
//!
//! Not implemented yet: the `txNameRules` and global span-op rules of step 2, the device class
//! itself (14, §7.6), user agent → contexts (17, §7.7), measurements (18), performance score,
//! AI costs, breakdowns (20), the `raw_description` parsing of step 26 (§7.10) and span
//! normalization (27, 28).

use relay_event::schema::Event;
use relay_event::Annotated;

use crate::NormalizationConfig;
use crate::{
    app_start, contexts, debug_images, defaults, dsc_context, exceptions, geo, logentry, release,
    request, security_report, span_conventions, stacktrace, tags, trace_tags, transactions, user,
};

/// Runs the implemented §7 steps in order (the caller skips them when renormalizing).
pub fn normalize_fields(event: &mut Annotated<Event>, config: &NormalizationConfig) {
    let client_ip = config.client_ip.filter(|_| config.infer_ip_address);
    if let Some(event) = event.value_mut() {
        span_conventions::normalize_span_conventions(event, config.normalize_spans);
        transactions::normalize_transaction(event);
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
        stacktrace::normalize_stacktraces(event);
        exceptions::normalize_exceptions(event);
        app_start::normalize_app_start(event);
    }
    defaults::normalize_default_attributes(event, config);
    if let Some(event) = event.value_mut() {
        trace_tags::normalize_trace_data_tags(event);
        dsc_context::normalize_replay_context(event, config.replay_id);
        request::normalize_request(event);
        contexts::normalize_contexts(event);
        dsc_context::normalize_client_sample_rate(event, config.client_sample_rate);
    }
}
