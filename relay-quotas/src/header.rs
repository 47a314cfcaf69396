//! The `X-Sentry-Rate-Limits` and `Retry-After` headers, in both directions.
//!
//! Grammar (one header may list several limits separated by `", "`):
//!
//! ```text
//! limit = retry_after ":" categories ":" scope [ ":" reason [ ":" namespaces ] ]
//! ```
//!
//! Writing is strict and canonical; parsing is lenient because the header comes from an
//! upstream that may be newer than this relay: unknown category names, scopes and namespaces are
//! kept in a form that never widens the limit, and unparsable parts are skipped. Parsing never
//! fails and never panics.

use std::fmt::Write as _;
use std::time::Instant;

use relay_protocol::DataCategory;
use smallvec::SmallVec;

use crate::rate_limit::{
    MetricNamespace, RateLimit, RateLimitScope, RateLimits, ReasonCode, RetryAfter,
};
use crate::scoping::Scoping;

/// Separator between limits when writing a header and when joining several header occurrences.
pub const LIMIT_SEPARATOR: &str = ", ";

/// Reason code of the fallback limit created from a bare upstream `429` (relay-protocol.md §11).
pub const GENERIC_REASON_CODE: &str = "generic";

const PART_SEPARATOR: char = ':';
const LIST_SEPARATOR: char = ';';

/// Parses an `X-Sentry-Rate-Limits` value and binds every limit to `scoping`.
///
/// `organization` and `project` scopes need the corresponding id in `scoping`; when it is not
/// known the limit is bound to the public key instead, the narrowest scope that still covers the
/// request the upstream rejected. Limits are stored exactly as sent (no implied categories), and
/// limits with a zero retry-after are kept even though they are already expired.
pub fn parse_rate_limits_header(scoping: &Scoping, header_value: &str, now: Instant) -> RateLimits {
    let mut rate_limits = RateLimits::new();
    for part in header_value.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if let Some(limit) = parse_limit(scoping, part, now) {
            rate_limits.add_exact(limit);
        }
    }
    rate_limits
}

fn parse_limit(scoping: &Scoping, part: &str, now: Instant) -> Option<RateLimit> {
    let mut components = part.split(PART_SEPARATOR);

    let retry_after_seconds: f64 = components.next()?.parse().ok()?;
    let retry_after = RetryAfter::from_secs_f64_rounded_up(retry_after_seconds, now);

    let mut categories: SmallVec<[DataCategory; 8]> = components
        .next()
        .unwrap_or_default()
        .split(LIST_SEPARATOR)
        .filter(|name| !name.is_empty())
        .map(DataCategory::from_name)
        .collect();
    categories.sort_unstable();
    categories.dedup();

    let scope = bind_scope(scoping, components.next().unwrap_or_default());

    let reason_code = components
        .next()
        .filter(|reason| !reason.is_empty())
        .map(ReasonCode::new);

    let namespaces = components
        .next()
        .unwrap_or_default()
        .split(LIST_SEPARATOR)
        .filter(|name| !name.is_empty())
        .map(MetricNamespace::from_name)
        .collect();

    Some(RateLimit {
        categories,
        scope,
        reason_code,
        retry_after,
        namespaces,
    })
}

/// Maps a scope name to the matching id of `scoping`; missing or unknown scopes, and scopes
/// whose id is unknown, become the public key.
fn bind_scope(scoping: &Scoping, scope_name: &str) -> RateLimitScope {
    match scope_name {
        "organization" => {
            if let Some(organization_id) = scoping.organization_id {
                return RateLimitScope::Organization(organization_id);
            }
        }
        "project" => {
            if let Some(project_id) = scoping.project_id {
                return RateLimitScope::Project(project_id);
            }
        }
        _ => {}
    }
    RateLimitScope::Key(scoping.project_key)
}

/// Writes every active limit as an `X-Sentry-Rate-Limits` value, counting down from `now`.
///
/// Categories are written in ascending numeric id; the reason is omitted when there is none,
/// unless namespaces follow, in which case it is written empty. Expired limits are skipped.
pub fn format_rate_limits_header(rate_limits: &RateLimits, now: Instant) -> String {
    let mut header = String::new();
    for limit in rate_limits.iter() {
        if limit.retry_after.expired(now) {
            continue;
        }
        if !header.is_empty() {
            header.push_str(LIMIT_SEPARATOR);
        }
        write_limit(&mut header, limit, now);
    }
    header
}

fn write_limit(header: &mut String, limit: &RateLimit, now: Instant) {
    // Writing into a String cannot fail.
    let _ = write!(header, "{}", limit.retry_after.remaining_seconds(now));
    header.push(PART_SEPARATOR);

    let mut categories = limit.categories.clone();
    categories.sort_unstable();
    categories.dedup();
    write_list(header, categories.iter().map(|category| category.name()));
    header.push(PART_SEPARATOR);

    header.push_str(limit.scope.name());

    if limit.reason_code.is_none() && limit.namespaces.is_empty() {
        return;
    }
    header.push(PART_SEPARATOR);
    if let Some(reason_code) = &limit.reason_code {
        header.push_str(reason_code.as_str());
    }

    if limit.namespaces.is_empty() {
        return;
    }
    header.push(PART_SEPARATOR);
    let mut namespaces = limit.namespaces.clone();
    namespaces.sort_unstable();
    namespaces.dedup();
    write_list(header, namespaces.iter().map(|namespace| namespace.name()));
}

fn write_list<'a>(header: &mut String, names: impl Iterator<Item = &'a str>) {
    for (index, name) in names.enumerate() {
        if index > 0 {
            header.push(LIST_SEPARATOR);
        }
        header.push_str(name);
    }
}

/// The `Retry-After` value: whole seconds (rounded up) of the active limit expiring last, or
/// `None` when no limit is active.
pub fn retry_after_header(rate_limits: &RateLimits, now: Instant) -> Option<String> {
    let longest = rate_limits.longest(now)?;
    Some(longest.retry_after.remaining_seconds(now).to_string())
}

/// The limits learned from an upstream `429` response (relay-protocol.md §11 step 1).
///
/// Every `X-Sentry-Rate-Limits` occurrence is joined and parsed. If that yields no active limit,
/// one generic limit is created instead: all categories, key scope, reason `generic`, lasting
/// the `Retry-After` seconds (a float; missing or unparsable means 0, so the fallback is already
/// expired and effectively nothing is cached). Expired limits are removed from the result except
/// for that fallback.
pub fn rate_limits_from_upstream_429(
    scoping: &Scoping,
    rate_limit_headers: &[&str],
    retry_after: Option<&str>,
    now: Instant,
) -> RateLimits {
    let joined_headers = rate_limit_headers.join(LIMIT_SEPARATOR);
    let mut rate_limits = parse_rate_limits_header(scoping, &joined_headers, now);
    rate_limits.clean_expired(now);
    if !rate_limits.is_empty() {
        return rate_limits;
    }

    let retry_after_seconds = retry_after
        .and_then(|value| value.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    rate_limits.add_exact(RateLimit {
        categories: SmallVec::new(),
        scope: RateLimitScope::Key(scoping.project_key),
        reason_code: Some(ReasonCode::new(GENERIC_REASON_CODE)),
        retry_after: RetryAfter::from_secs_f64_rounded_up(retry_after_seconds, now),
        namespaces: SmallVec::new(),
    });
    rate_limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{scoping, T0};
    use smallvec::smallvec;
    use std::time::Duration;

    fn parse(header: &str) -> RateLimits {
        parse_rate_limits_header(&scoping(), header, *T0)
    }

    fn round_trip(header: &str) -> String {
        format_rate_limits_header(&parse(header), *T0)
    }

    #[test]
    fn spec_examples_round_trip_verbatim() {
        for header in [
            "300:transaction;span:key:monthly_cap",
            "120::organization:org_quota, 30:error;security:project",
            "15:metric_bucket:project::sessions;spans",
            "60::organization:disabled",
            "2400:transaction;span:key:get_lost",
            "10:metric_bucket:organization::spans",
        ] {
            assert_eq!(round_trip(header), header);
        }
    }

    #[test]
    fn parses_spec_example_fields() {
        let scoping = scoping();
        let limits = parse("120::organization:org_quota, 30:error;security:project");
        let parsed: Vec<_> = limits.iter().collect();
        assert_eq!(parsed.len(), 2);

        assert!(parsed[0].categories.is_empty());
        assert_eq!(parsed[0].scope, RateLimitScope::Organization(42));
        assert_eq!(parsed[0].reason_code, Some(ReasonCode::new("org_quota")));
        assert_eq!(parsed[0].retry_after.remaining_seconds(*T0), 120);
        assert!(parsed[0].namespaces.is_empty());

        assert_eq!(
            parsed[1].categories.as_slice(),
            &[DataCategory::Error, DataCategory::Security]
        );
        assert_eq!(
            parsed[1].scope,
            RateLimitScope::Project(scoping.project_id.unwrap())
        );
        assert_eq!(parsed[1].reason_code, None);
        assert_eq!(parsed[1].retry_after.remaining_seconds(*T0), 30);

        let metrics = parse("15:metric_bucket:project::sessions;spans");
        let metric_limit = metrics.iter().next().unwrap();
        assert_eq!(metric_limit.reason_code, None);
        assert_eq!(
            metric_limit.namespaces.as_slice(),
            &[MetricNamespace::Sessions, MetricNamespace::Spans]
        );
    }

    #[test]
    fn retry_after_is_a_float_rounded_up_and_clamped_at_zero() {
        let limits = parse("1.2:error:key, -3:security:key, 7:replay:key");
        let seconds: Vec<_> = limits
            .iter()
            .map(|limit| limit.retry_after.remaining_seconds(*T0))
            .collect();
        assert_eq!(seconds, vec![2, 0, 7]);
        assert!(limits.iter().nth(1).unwrap().retry_after.expired(*T0));
    }

    #[test]
    fn unparsable_and_empty_parts_are_skipped() {
        let limits = parse(" , invalid:error:key,,  60:error:key , :security:key, 1x:replay");
        assert_eq!(limits.len(), 1);
        assert_eq!(
            limits.iter().next().unwrap().categories.as_slice(),
            &[DataCategory::Error]
        );
        assert!(parse("").is_empty());
        assert!(parse("garbage").is_empty());
    }

    #[test]
    fn missing_categories_mean_all_and_missing_scope_means_key() {
        let key = RateLimitScope::Key(scoping().project_key);
        for header in ["60", "60:", "60::", "60::bogus_scope"] {
            let limits = parse(header);
            let limit = limits.iter().next().unwrap();
            assert!(limit.categories.is_empty(), "{header}");
            assert_eq!(limit.scope, key, "{header}");
            assert_eq!(limit.reason_code, None, "{header}");
        }
    }

    #[test]
    fn unknown_categories_are_kept_and_match_nothing_known() {
        let limits = parse("60:bogus;other:key");
        let limit = limits.iter().next().unwrap();
        assert_eq!(limit.categories.as_slice(), &[DataCategory::Unknown]);
        for category in DataCategory::ALL {
            assert!(limits.check(&scoping(), *category, *T0).is_none());
        }

        let mixed = parse("60:error;bogus:key");
        assert_eq!(
            mixed.iter().next().unwrap().categories.as_slice(),
            &[DataCategory::Error, DataCategory::Unknown]
        );
        assert!(mixed.check(&scoping(), DataCategory::Error, *T0).is_some());
    }

    #[test]
    fn empty_reason_is_none_and_unknown_namespaces_are_unsupported() {
        let limits = parse("60:metric_bucket:organization::custom;spans;;");
        let limit = limits.iter().next().unwrap();
        assert_eq!(limit.reason_code, None);
        assert_eq!(
            limit.namespaces.as_slice(),
            &[MetricNamespace::Spans, MetricNamespace::Unsupported]
        );
        assert_eq!(
            format_rate_limits_header(&limits, *T0),
            "60:metric_bucket:organization::spans;unsupported"
        );
    }

    #[test]
    fn scopes_without_known_ids_fall_back_to_the_key() {
        let key_only = Scoping::for_key(scoping().project_key);
        let limits = parse_rate_limits_header(&key_only, "60::organization, 30:error:project", *T0);
        for limit in limits.iter() {
            assert_eq!(limit.scope, RateLimitScope::Key(key_only.project_key));
        }
    }

    #[test]
    fn writer_sorts_categories_by_id_and_counts_down() {
        let mut limits = RateLimits::new();
        limits.add_exact(RateLimit {
            categories: smallvec![
                DataCategory::Span,
                DataCategory::Security,
                DataCategory::Error
            ],
            scope: RateLimitScope::Organization(42),
            reason_code: None,
            retry_after: RetryAfter::from_secs(10, *T0),
            namespaces: SmallVec::new(),
        });
        let later = *T0 + Duration::from_millis(2_500);
        assert_eq!(
            format_rate_limits_header(&limits, later),
            "8:error;security;span:organization"
        );
        assert_eq!(retry_after_header(&limits, later).as_deref(), Some("8"));
        let expired = *T0 + Duration::from_secs(10);
        assert_eq!(format_rate_limits_header(&limits, expired), "");
        assert_eq!(retry_after_header(&limits, expired), None);
    }

    #[test]
    fn retry_after_header_uses_the_longest_limit() {
        let limits = parse("120::organization:org_quota, 30:error;security:project");
        assert_eq!(retry_after_header(&limits, *T0).as_deref(), Some("120"));
        assert_eq!(retry_after_header(&RateLimits::new(), *T0), None);
        let almost = *T0 + Duration::from_millis(119_001);
        assert_eq!(retry_after_header(&limits, almost).as_deref(), Some("1"));
    }

    #[test]
    fn writer_skips_expired_limits() {
        let limits = parse("0:error:key, 5:security:key");
        assert_eq!(format_rate_limits_header(&limits, *T0), "5:security:key");
    }

    #[test]
    fn upstream_429_joins_all_header_occurrences() {
        let limits = rate_limits_from_upstream_429(
            &scoping(),
            &["60:error:key", "30:transaction:organization:org"],
            Some("10"),
            *T0,
        );
        assert_eq!(
            format_rate_limits_header(&limits, *T0),
            "60:error:key, 30:transaction:organization:org"
        );
    }

    #[test]
    fn upstream_429_without_active_limits_creates_a_generic_limit() {
        let cases: [(&[&str], Option<&str>, u64); 5] = [
            (&[], Some("42"), 42),
            (&["garbage"], Some("1.5"), 2),
            (&["0:error:key"], Some("30"), 30),
            (&[], None, 0),
            (&[], Some("soon"), 0),
        ];
        for (headers, retry_after, expected_seconds) in cases {
            let limits = rate_limits_from_upstream_429(&scoping(), headers, retry_after, *T0);
            assert_eq!(limits.len(), 1);
            let limit = limits.iter().next().unwrap();
            assert!(limit.categories.is_empty());
            assert_eq!(limit.scope, RateLimitScope::Key(scoping().project_key));
            assert_eq!(
                limit.reason_code,
                Some(ReasonCode::new(GENERIC_REASON_CODE))
            );
            assert_eq!(
                limit.retry_after.remaining_seconds(*T0),
                expected_seconds,
                "{headers:?} {retry_after:?}"
            );
        }
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics() {
        for header in [
            ":::::::",
            "1e400:error:key",
            "inf::key",
            "-inf::key",
            "NaN::key",
            "18446744073709551616:error:key",
            "60:\u{0}:\u{ff}:😀:😀",
        ] {
            let limits = parse(header);
            let _ = format_rate_limits_header(&limits, *T0);
            let _ = retry_after_header(&limits, *T0);
        }
    }
}
