//! The field normalization steps of normalization.md §7 that are implemented, in the order of
//! §7 (step numbers in parentheses): transaction names and span ops without project or global
//! rules (2), security reports (3), IP addresses (4, §7.1), release (6), environment (7), user
//! (8), logentry (9, §7.2), breadcrumbs (11), dist (12), tags (13, §7.3), the device class
//! (14), stack traces (15, §7.4), exceptions (16, §7.5), user agent → contexts (17,
//! with [`NormalizationConfig::normalize_user_agent`]), default attributes (21, §7.8),
//! request (24, §7.9), the forced trace context (25, §7.10) and contexts (26, §7.10) with the
//! `raw_description` parsing of `os` and `runtime`.
//!
//! Not implemented yet: span conventions (1), the `txNameRules` and global span-op rules of
//! step 2, the security-report request headers (3), GeoIP (5), debug image types (10),
//! measurements (18), app start (19), performance score, AI costs, breakdowns (20), trace data
//! tags (22), replay context (23), the Android device model names and the `response` context
//! of step 26 (§7.10), span normalization (27, 28), client sample rate (29), and the mechanism
//! `meta` names of §7.5.

use relay_event::schema::Event;
use relay_event::Annotated;

use crate::NormalizationConfig;
use crate::{
    contexts, defaults, device_class, exceptions, logentry, release, request, stacktrace, tags,
    transactions, user, user_agent,
};

/// Runs the implemented §7 steps in order (the caller skips them when renormalizing).
pub fn normalize_fields(event: &mut Annotated<Event>, config: &NormalizationConfig) {
    let client_ip = config.client_ip.filter(|_| config.infer_ip_address);
    if let Some(event) = event.value_mut() {
        transactions::normalize_transaction(event);
        defaults::normalize_security_report_logger(event);
        user::normalize_security_report_ip(event, client_ip);
        user::normalize_ip_address(event, client_ip);
        release::normalize_release_and_environment(event);
        user::normalize_user(event);
        logentry::normalize_logentry(event);
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
    }
    defaults::normalize_default_attributes(event, config);
    if let Some(event) = event.value_mut() {
        request::normalize_request(event);
        contexts::normalize_contexts(event);
    }
}
