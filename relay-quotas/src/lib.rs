//! Rate limits and quotas of relay, without any I/O.
//!
//! * [`Scoping`]: the organization / project / key ids an item is counted under.
//! * [`RateLimit`] / [`RateLimits`]: active limits, as cached per project key and reported in
//!   `429` responses.
//! * [`parse_rate_limits_header`] / [`format_rate_limits_header`] / [`retry_after_header`]: the
//!   `X-Sentry-Rate-Limits` and `Retry-After` headers (http-api.md §7.2), and
//!   [`rate_limits_from_upstream_429`] for learning limits from an upstream (relay-protocol.md
//!   §11).
//! * [`Quota`]: the quota objects of project configs, and [`zero_quota_rate_limits`] turning
//!   reject-all quotas into cached limits.
//! * [`enforce_cached_rate_limits`]: dropping the limited items of an envelope (http-api.md §7.1).
//!
//! Time is always passed in explicitly as an [`std::time::Instant`], so every function is
//! deterministic; nothing here panics on input data.

#![warn(missing_docs)]

mod enforcement;
mod header;
mod quota;
mod rate_limit;
mod scoping;

pub use enforcement::{enforce_cached_rate_limits, DroppedQuantity, Enforcement};
pub use header::{
    format_rate_limits_header, parse_rate_limits_header, rate_limits_from_upstream_429,
    retry_after_header, GENERIC_REASON_CODE, LIMIT_SEPARATOR,
};
pub use quota::{
    parse_quotas, retain_valid_quotas, zero_quota_rate_limits, Quota, QuotaDimension, QuotaGroupBy,
    QuotaScope, REJECT_ALL_QUOTA_LIMIT_DURATION,
};
pub use rate_limit::{
    MetricNamespace, MetricNamespaceScoping, RateLimit, RateLimitScope, RateLimits, ReasonCode,
    RetryAfter,
};
pub use scoping::Scoping;

#[cfg(test)]
mod test_support {
    use std::sync::LazyLock;
    use std::time::Instant;

    use relay_protocol::{ProjectId, ProjectKey};

    use crate::Scoping;

    /// The "now" every test measures from.
    pub static T0: LazyLock<Instant> = LazyLock::new(Instant::now);

    pub const ORGANIZATION_ID: u64 = 42;
    pub const PROJECT_ID: u64 = 21;
    pub const KEY_ID: u64 = 17;

    pub fn scoping() -> Scoping {
        Scoping {
            organization_id: Some(ORGANIZATION_ID),
            project_id: Some(ProjectId(PROJECT_ID)),
            project_key: ProjectKey::parse("a94ae32be2584e0bbd7a4cbb95971fee").unwrap(),
            key_id: Some(KEY_ID),
        }
    }

    pub fn other_scoping() -> Scoping {
        Scoping {
            organization_id: Some(ORGANIZATION_ID + 1),
            project_id: Some(ProjectId(PROJECT_ID + 1)),
            project_key: ProjectKey::parse("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap(),
            key_id: Some(KEY_ID + 1),
        }
    }
}
