//! Active rate limits and the per-project collection of them.
//!
//! A [`RateLimit`] says "data of these categories, in this scope (and these metric namespaces),
//! is rejected until this instant". [`RateLimits`] is the collection a relay caches per project
//! key and reports in `429` responses.
//!
//! Invariants kept by [`RateLimits`]:
//! * stored limits have their categories and namespaces sorted and deduplicated, so "the same
//!   limit" is plain equality of those lists;
//! * there is at most one limit per (categories, scope, namespaces); adding another keeps the one
//!   that expires later.
//!
//! Time is always passed in as an [`Instant`] so every decision is deterministic in tests.

use std::fmt;
use std::time::{Duration, Instant};

use relay_protocol::{DataCategory, ProjectId, ProjectKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use crate::scoping::Scoping;

/// Fallback duration used when a requested retry-after is so large that the deadline cannot be
/// represented as an [`Instant`] (e.g. an upstream sending `1e300`). Ten years is "forever" for a
/// cache entry while staying far away from platform limits.
const RETRY_AFTER_SECONDS_WHEN_UNREPRESENTABLE: u64 = 10 * 365 * 24 * 60 * 60;

/// The id a rate limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateLimitScope {
    /// Every project of one organization (`organization`).
    Organization(u64),
    /// One project (`project`).
    Project(ProjectId),
    /// One DSN public key (`key`).
    Key(ProjectKey),
}

impl RateLimitScope {
    /// The scope's wire name used in `X-Sentry-Rate-Limits`.
    pub fn name(&self) -> &'static str {
        match self {
            RateLimitScope::Organization(_) => "organization",
            RateLimitScope::Project(_) => "project",
            RateLimitScope::Key(_) => "key",
        }
    }

    /// Whether an item with this scoping is in this scope.
    pub fn matches(&self, scoping: &Scoping) -> bool {
        match self {
            RateLimitScope::Organization(organization_id) => {
                scoping.organization_id == Some(*organization_id)
            }
            RateLimitScope::Project(project_id) => scoping.project_id.as_ref() == Some(project_id),
            RateLimitScope::Key(project_key) => scoping.project_key == *project_key,
        }
    }
}

/// A metric namespace, as named in quotas and in the namespaces part of rate-limit headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricNamespace {
    /// `sessions`: release-health metrics.
    Sessions,
    /// `transactions`: transaction metrics.
    Transactions,
    /// `spans`: span metrics.
    Spans,
    /// `outcomes`: outcome metrics.
    Outcomes,
    /// `unsupported`: placeholder for any namespace name this relay does not know. Kept (rather
    /// than dropped) so a limit naming only unknown namespaces does not widen to all namespaces.
    Unsupported,
}

impl MetricNamespace {
    /// Every namespace, in the order used when writing headers.
    pub const ALL: &'static [MetricNamespace] = &[
        MetricNamespace::Sessions,
        MetricNamespace::Transactions,
        MetricNamespace::Spans,
        MetricNamespace::Outcomes,
        MetricNamespace::Unsupported,
    ];

    /// The wire name, e.g. `"spans"`.
    pub fn name(self) -> &'static str {
        match self {
            MetricNamespace::Sessions => "sessions",
            MetricNamespace::Transactions => "transactions",
            MetricNamespace::Spans => "spans",
            MetricNamespace::Outcomes => "outcomes",
            MetricNamespace::Unsupported => "unsupported",
        }
    }

    /// Parses a wire name; any name that is not a supported namespace yields
    /// [`MetricNamespace::Unsupported`].
    pub fn from_name(name: &str) -> MetricNamespace {
        match name {
            "sessions" => MetricNamespace::Sessions,
            "transactions" => MetricNamespace::Transactions,
            "spans" => MetricNamespace::Spans,
            "outcomes" => MetricNamespace::Outcomes,
            _ => MetricNamespace::Unsupported,
        }
    }
}

impl fmt::Display for MetricNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for MetricNamespace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for MetricNamespace {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(MetricNamespace::from_name(&name))
    }
}

/// Which metric namespace an item being checked belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricNamespaceScoping {
    /// The item is not a metric; limits restricted to namespaces never match it.
    WithoutNamespace,
    /// A metric bucket of exactly this namespace.
    Namespace(MetricNamespace),
    /// Any namespace: used to find every limit that could affect metric buckets.
    AnyNamespace,
}

/// A machine-readable reason why data was rate limited, reported in outcomes and headers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReasonCode(String);

impl ReasonCode {
    /// Wraps a reason code string.
    pub fn new(reason_code: impl Into<String>) -> Self {
        ReasonCode(reason_code.into())
    }

    /// The reason code as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The instant until which a rate limit is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RetryAfter {
    deadline: Instant,
}

impl RetryAfter {
    /// A limit active until exactly `deadline`.
    pub fn at(deadline: Instant) -> Self {
        RetryAfter { deadline }
    }

    /// A limit active for `seconds` whole seconds from `now`.
    pub fn from_secs(seconds: u64, now: Instant) -> Self {
        let deadline = now
            .checked_add(Duration::from_secs(seconds))
            .or_else(|| {
                now.checked_add(Duration::from_secs(
                    RETRY_AFTER_SECONDS_WHEN_UNREPRESENTABLE,
                ))
            })
            .unwrap_or(now);
        RetryAfter { deadline }
    }

    /// A limit active for a fractional number of seconds from `now`, rounded up to whole seconds.
    ///
    /// Negative values and NaN mean "already expired"; infinity is capped like any other
    /// unrepresentable duration.
    pub fn from_secs_f64_rounded_up(seconds: f64, now: Instant) -> Self {
        // `as` saturates: NaN becomes 0 and +inf becomes u64::MAX, which `from_secs` caps.
        let whole_seconds = seconds.max(0.0).ceil() as u64;
        Self::from_secs(whole_seconds, now)
    }

    /// The instant the limit expires.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the limit is no longer active at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.deadline <= now
    }

    /// Time left until the limit expires (zero once expired).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }

    /// Whole seconds left until the limit expires, rounded up.
    pub fn remaining_seconds(&self, now: Instant) -> u64 {
        let remaining = self.remaining(now);
        let has_fraction = remaining.subsec_nanos() > 0;
        remaining.as_secs() + u64::from(has_fraction)
    }
}

/// One active rate limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Limited categories; empty means every category.
    pub categories: SmallVec<[DataCategory; 8]>,
    /// The id the limit applies to.
    pub scope: RateLimitScope,
    /// Why the data is limited; `None` when the quota had no reason code.
    pub reason_code: Option<ReasonCode>,
    /// Until when the limit is active.
    pub retry_after: RetryAfter,
    /// Limited metric namespaces; empty means every namespace (and non-metric data).
    pub namespaces: SmallVec<[MetricNamespace; 1]>,
}

impl RateLimit {
    /// Whether the limit applies to non-metric data of `category` sent with `scoping`.
    ///
    /// Limits restricted to metric namespaces never match here; use
    /// [`RateLimit::matches_namespaced`] for metric buckets.
    pub fn matches(&self, category: DataCategory, scoping: &Scoping) -> bool {
        self.matches_namespaced(category, scoping, MetricNamespaceScoping::WithoutNamespace)
    }

    /// Whether the limit applies to data of `category` in the metric namespace `namespace` sent
    /// with `scoping`.
    pub fn matches_namespaced(
        &self,
        category: DataCategory,
        scoping: &Scoping,
        namespace: MetricNamespaceScoping,
    ) -> bool {
        self.covers_category(category)
            && self.covers_namespace(namespace)
            && self.scope.matches(scoping)
    }

    /// Whether `category` is in the limit's categories (an empty list covers all).
    pub fn covers_category(&self, category: DataCategory) -> bool {
        self.categories.is_empty() || self.categories.contains(&category)
    }

    fn covers_namespace(&self, namespace: MetricNamespaceScoping) -> bool {
        if self.namespaces.is_empty() {
            return true;
        }
        match namespace {
            MetricNamespaceScoping::WithoutNamespace => false,
            MetricNamespaceScoping::Namespace(namespace) => self.namespaces.contains(&namespace),
            MetricNamespaceScoping::AnyNamespace => true,
        }
    }

    /// Sorts and deduplicates categories and namespaces so equal limits compare equal.
    fn normalize(&mut self) {
        self.categories.sort_unstable();
        self.categories.dedup();
        self.namespaces.sort_unstable();
        self.namespaces.dedup();
    }

    /// Whether both limits restrict the same data and would replace each other in a collection.
    fn restricts_same_data_as(&self, other: &RateLimit) -> bool {
        self.categories == other.categories
            && self.scope == other.scope
            && self.namespaces == other.namespaces
    }

    /// Adds `span` to a limit naming `transaction` and vice versa: both categories describe the
    /// same traffic, so learning a limit for one must stop the other as well.
    fn with_implied_categories(mut self) -> Self {
        let has_transaction = self.categories.contains(&DataCategory::Transaction);
        let has_span = self.categories.contains(&DataCategory::Span);
        if has_transaction && !has_span {
            self.categories.push(DataCategory::Span);
        }
        if has_span && !has_transaction {
            self.categories.push(DataCategory::Transaction);
        }
        self
    }
}

/// A collection of rate limits, e.g. the cached limits of one project key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimits {
    limits: Vec<RateLimit>,
}

impl RateLimits {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a limit learned for the cache: a limit naming `transaction` also gets `span` and
    /// vice versa, then it is stored like [`RateLimits::add_exact`].
    pub fn add(&mut self, limit: RateLimit) {
        self.add_exact(limit.with_implied_categories());
    }

    /// Adds a limit with exactly its own categories. If a limit for the same categories, scope
    /// and namespaces exists, the one expiring later is kept.
    pub fn add_exact(&mut self, mut limit: RateLimit) {
        limit.normalize();
        let existing = self
            .limits
            .iter_mut()
            .find(|existing| existing.restricts_same_data_as(&limit));
        match existing {
            Some(existing) => {
                if limit.retry_after > existing.retry_after {
                    *existing = limit;
                }
            }
            None => self.limits.push(limit),
        }
    }

    /// Adds every limit of `other` with [`RateLimits::add`].
    pub fn merge(&mut self, other: RateLimits) {
        for limit in other.limits {
            self.add(limit);
        }
    }

    /// Adds every limit of `other` with [`RateLimits::add_exact`].
    pub fn merge_exact(&mut self, other: RateLimits) {
        for limit in other.limits {
            self.add_exact(limit);
        }
    }

    /// Removes every limit that is no longer active at `now`.
    pub fn clean_expired(&mut self, now: Instant) {
        self.limits.retain(|limit| !limit.retry_after.expired(now));
    }

    /// Whether the collection holds no limit at all (expired limits count until cleaned).
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Number of stored limits (expired limits count until cleaned).
    pub fn len(&self) -> usize {
        self.limits.len()
    }

    /// The stored limits in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, RateLimit> {
        self.limits.iter()
    }

    /// The active limit that expires last among those matching non-metric data of `category`
    /// sent with `scoping`.
    pub fn check(
        &self,
        scoping: &Scoping,
        category: DataCategory,
        now: Instant,
    ) -> Option<&RateLimit> {
        self.check_namespaced(
            scoping,
            category,
            MetricNamespaceScoping::WithoutNamespace,
            now,
        )
    }

    /// Like [`RateLimits::check`], for data in a metric namespace.
    pub fn check_namespaced(
        &self,
        scoping: &Scoping,
        category: DataCategory,
        namespace: MetricNamespaceScoping,
        now: Instant,
    ) -> Option<&RateLimit> {
        longest_of(
            self.active(now)
                .filter(|limit| limit.matches_namespaced(category, scoping, namespace)),
        )
    }

    /// Every active limit matching data of `category` in `namespace` sent with `scoping`.
    pub fn matching(
        &self,
        scoping: &Scoping,
        category: DataCategory,
        namespace: MetricNamespaceScoping,
        now: Instant,
    ) -> RateLimits {
        let limits = self
            .active(now)
            .filter(|limit| limit.matches_namespaced(category, scoping, namespace))
            .cloned()
            .collect();
        RateLimits { limits }
    }

    /// The active limit that expires last.
    pub fn longest(&self, now: Instant) -> Option<&RateLimit> {
        longest_of(self.active(now))
    }

    fn active(&self, now: Instant) -> impl Iterator<Item = &RateLimit> {
        self.limits
            .iter()
            .filter(move |limit| !limit.retry_after.expired(now))
    }
}

/// The limit with the latest deadline; the first one wins ties so results follow insertion order.
fn longest_of<'a>(limits: impl Iterator<Item = &'a RateLimit>) -> Option<&'a RateLimit> {
    limits.fold(
        None,
        |longest: Option<&RateLimit>, candidate| match longest {
            Some(current) if current.retry_after >= candidate.retry_after => Some(current),
            _ => Some(candidate),
        },
    )
}

impl<'a> IntoIterator for &'a RateLimits {
    type Item = &'a RateLimit;
    type IntoIter = std::slice::Iter<'a, RateLimit>;

    fn into_iter(self) -> Self::IntoIter {
        self.limits.iter()
    }
}

impl IntoIterator for RateLimits {
    type Item = RateLimit;
    type IntoIter = std::vec::IntoIter<RateLimit>;

    fn into_iter(self) -> Self::IntoIter {
        self.limits.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{other_scoping, scoping, T0};
    use smallvec::smallvec;

    fn limit(
        categories: &[DataCategory],
        scope: RateLimitScope,
        seconds: u64,
        reason: Option<&str>,
    ) -> RateLimit {
        RateLimit {
            categories: categories.iter().copied().collect(),
            scope,
            reason_code: reason.map(ReasonCode::new),
            retry_after: RetryAfter::from_secs(seconds, *T0),
            namespaces: SmallVec::new(),
        }
    }

    fn key_scope() -> RateLimitScope {
        RateLimitScope::Key(scoping().project_key)
    }

    #[test]
    fn retry_after_rounds_remaining_seconds_up() {
        let retry_after = RetryAfter::from_secs(10, *T0);
        assert_eq!(retry_after.remaining_seconds(*T0), 10);
        assert_eq!(
            retry_after.remaining_seconds(*T0 + Duration::from_millis(100)),
            10
        );
        assert_eq!(
            retry_after.remaining_seconds(*T0 + Duration::from_secs(9)),
            1
        );
        assert_eq!(
            retry_after.remaining_seconds(*T0 + Duration::from_millis(9_999)),
            1
        );
        assert_eq!(
            retry_after.remaining_seconds(*T0 + Duration::from_secs(10)),
            0
        );
        assert_eq!(
            retry_after.remaining_seconds(*T0 + Duration::from_secs(99)),
            0
        );
        assert!(!retry_after.expired(*T0 + Duration::from_millis(9_999)));
        assert!(retry_after.expired(*T0 + Duration::from_secs(10)));
    }

    #[test]
    fn retry_after_from_float_clamps_and_rounds_up() {
        let cases = [
            (1.2, 2),
            (1.0, 1),
            (0.0, 0),
            (-5.0, 0),
            (f64::NAN, 0),
            (0.0001, 1),
        ];
        for (seconds, expected) in cases {
            let retry_after = RetryAfter::from_secs_f64_rounded_up(seconds, *T0);
            assert_eq!(retry_after.remaining_seconds(*T0), expected, "{seconds}");
        }
        let huge = RetryAfter::from_secs_f64_rounded_up(f64::INFINITY, *T0);
        assert!(huge.remaining_seconds(*T0) >= RETRY_AFTER_SECONDS_WHEN_UNREPRESENTABLE);
    }

    #[test]
    fn scopes_match_their_id_only() {
        let scoping = scoping();
        let other = other_scoping();
        let organization = RateLimitScope::Organization(42);
        let project = RateLimitScope::Project(scoping.project_id.unwrap());
        let key = key_scope();
        for scope in [&organization, &project, &key] {
            assert!(scope.matches(&scoping), "{scope:?}");
            assert!(!scope.matches(&other), "{scope:?}");
        }
        assert_eq!(organization.name(), "organization");
        assert_eq!(project.name(), "project");
        assert_eq!(key.name(), "key");

        let mut without_ids = scoping.clone();
        without_ids.organization_id = None;
        without_ids.project_id = None;
        assert!(!organization.matches(&without_ids));
        assert!(!project.matches(&without_ids));
        assert!(key.matches(&without_ids));
    }

    #[test]
    fn limit_matches_categories_or_all() {
        let scoping = scoping();
        let error_limit = limit(&[DataCategory::Error], key_scope(), 60, None);
        assert!(error_limit.matches(DataCategory::Error, &scoping));
        assert!(!error_limit.matches(DataCategory::Transaction, &scoping));
        assert!(!error_limit.matches(DataCategory::Error, &other_scoping()));

        let all = limit(&[], key_scope(), 60, None);
        assert!(all.matches(DataCategory::Transaction, &scoping));
        assert!(all.matches(DataCategory::Attachment, &scoping));

        let unknown_only = limit(&[DataCategory::Unknown], key_scope(), 60, None);
        for category in DataCategory::ALL {
            assert!(!unknown_only.matches(*category, &scoping));
        }
    }

    #[test]
    fn namespaced_limits_only_match_metrics_of_their_namespace() {
        let scoping = scoping();
        let mut spans_limit = limit(&[DataCategory::MetricBucket], key_scope(), 60, None);
        spans_limit.namespaces = smallvec![MetricNamespace::Spans];

        assert!(!spans_limit.matches(DataCategory::MetricBucket, &scoping));
        let spans = MetricNamespaceScoping::Namespace(MetricNamespace::Spans);
        let sessions = MetricNamespaceScoping::Namespace(MetricNamespace::Sessions);
        assert!(spans_limit.matches_namespaced(DataCategory::MetricBucket, &scoping, spans));
        assert!(!spans_limit.matches_namespaced(DataCategory::MetricBucket, &scoping, sessions));
        assert!(spans_limit.matches_namespaced(
            DataCategory::MetricBucket,
            &scoping,
            MetricNamespaceScoping::AnyNamespace
        ));

        let any_namespace = limit(&[DataCategory::MetricBucket], key_scope(), 60, None);
        assert!(any_namespace.matches_namespaced(DataCategory::MetricBucket, &scoping, sessions));
        assert!(any_namespace.matches(DataCategory::MetricBucket, &scoping));
    }

    #[test]
    fn namespace_names() {
        for namespace in MetricNamespace::ALL {
            assert_eq!(MetricNamespace::from_name(namespace.name()), *namespace);
        }
        assert_eq!(
            MetricNamespace::from_name("custom"),
            MetricNamespace::Unsupported
        );
        let parsed: MetricNamespace = serde_json::from_str("\"bogus\"").unwrap();
        assert_eq!(parsed, MetricNamespace::Unsupported);
        assert_eq!(
            serde_json::to_string(&MetricNamespace::Spans).unwrap(),
            "\"spans\""
        );
    }

    #[test]
    fn add_keeps_the_longer_of_identical_limits() {
        let mut limits = RateLimits::new();
        limits.add(limit(
            &[DataCategory::Error],
            key_scope(),
            10,
            Some("short"),
        ));
        limits.add(limit(&[DataCategory::Error], key_scope(), 60, Some("long")));
        limits.add(limit(
            &[DataCategory::Error],
            key_scope(),
            30,
            Some("middle"),
        ));
        assert_eq!(limits.len(), 1);
        let stored = limits.iter().next().unwrap();
        assert_eq!(stored.reason_code, Some(ReasonCode::new("long")));
        assert_eq!(stored.retry_after.remaining_seconds(*T0), 60);
    }

    #[test]
    fn add_keeps_limits_differing_in_categories_scope_or_namespaces() {
        let mut limits = RateLimits::new();
        limits.add(limit(&[DataCategory::Error], key_scope(), 10, None));
        limits.add(limit(&[DataCategory::Security], key_scope(), 10, None));
        limits.add(limit(
            &[DataCategory::Error],
            RateLimitScope::Organization(42),
            10,
            None,
        ));
        let mut namespaced = limit(&[DataCategory::Error], key_scope(), 10, None);
        namespaced.namespaces = smallvec![MetricNamespace::Spans];
        limits.add(namespaced);
        assert_eq!(limits.len(), 4);
    }

    #[test]
    fn add_treats_categories_as_sets() {
        let mut limits = RateLimits::new();
        limits.add(limit(
            &[DataCategory::Security, DataCategory::Error],
            key_scope(),
            10,
            None,
        ));
        limits.add(limit(
            &[
                DataCategory::Error,
                DataCategory::Security,
                DataCategory::Error,
            ],
            key_scope(),
            20,
            None,
        ));
        assert_eq!(limits.len(), 1);
        let stored = limits.iter().next().unwrap();
        assert_eq!(
            stored.categories.as_slice(),
            &[DataCategory::Error, DataCategory::Security]
        );
    }

    #[test]
    fn add_makes_transaction_and_span_imply_each_other() {
        let mut limits = RateLimits::new();
        limits.add(limit(&[DataCategory::Transaction], key_scope(), 10, None));
        limits.add(limit(
            &[DataCategory::Span],
            RateLimitScope::Organization(42),
            10,
            None,
        ));
        let categories: Vec<_> = limits.iter().map(|l| l.categories.to_vec()).collect();
        assert_eq!(
            categories,
            vec![
                vec![DataCategory::Transaction, DataCategory::Span],
                vec![DataCategory::Transaction, DataCategory::Span],
            ]
        );
        let scoping = scoping();
        assert!(limits.check(&scoping, DataCategory::Span, *T0).is_some());

        let mut exact = RateLimits::new();
        exact.add_exact(limit(&[DataCategory::Transaction], key_scope(), 10, None));
        assert!(exact.check(&scoping, DataCategory::Span, *T0).is_none());
        assert!(exact
            .check(&scoping, DataCategory::Transaction, *T0)
            .is_some());
    }

    #[test]
    fn merge_adds_every_limit() {
        let mut first = RateLimits::new();
        first.add(limit(&[DataCategory::Error], key_scope(), 10, Some("a")));
        let mut second = RateLimits::new();
        second.add(limit(&[DataCategory::Error], key_scope(), 20, Some("b")));
        second.add(limit(&[DataCategory::Transaction], key_scope(), 5, None));
        first.merge(second);
        assert_eq!(first.len(), 2);
        let error = first.check(&scoping(), DataCategory::Error, *T0).unwrap();
        assert_eq!(error.reason_code, Some(ReasonCode::new("b")));
        assert!(first.check(&scoping(), DataCategory::Span, *T0).is_some());
    }

    #[test]
    fn clean_expired_and_check_ignore_expired_limits() {
        let mut limits = RateLimits::new();
        limits.add(limit(&[DataCategory::Error], key_scope(), 10, None));
        limits.add(limit(&[DataCategory::Security], key_scope(), 30, None));
        let later = *T0 + Duration::from_secs(10);
        assert!(limits
            .check(&scoping(), DataCategory::Error, later)
            .is_none());
        assert!(limits
            .check(&scoping(), DataCategory::Security, later)
            .is_some());
        assert_eq!(limits.len(), 2);
        limits.clean_expired(later);
        assert_eq!(limits.len(), 1);
        limits.clean_expired(*T0 + Duration::from_secs(30));
        assert!(limits.is_empty());
    }

    #[test]
    fn check_returns_longest_matching_limit() {
        let mut limits = RateLimits::new();
        limits.add(limit(&[], key_scope(), 10, Some("all")));
        limits.add(limit(
            &[DataCategory::Error],
            RateLimitScope::Organization(42),
            30,
            Some("org"),
        ));
        limits.add(limit(
            &[DataCategory::Security],
            key_scope(),
            90,
            Some("security"),
        ));
        let scoping = scoping();
        let error = limits.check(&scoping, DataCategory::Error, *T0).unwrap();
        assert_eq!(error.reason_code, Some(ReasonCode::new("org")));
        let replay = limits.check(&scoping, DataCategory::Replay, *T0).unwrap();
        assert_eq!(replay.reason_code, Some(ReasonCode::new("all")));
        assert!(limits
            .check(&other_scoping(), DataCategory::Error, *T0)
            .is_none());

        let matching = limits.matching(
            &scoping,
            DataCategory::Error,
            MetricNamespaceScoping::WithoutNamespace,
            *T0,
        );
        assert_eq!(matching.len(), 2);

        let longest = limits.longest(*T0).unwrap();
        assert_eq!(longest.reason_code, Some(ReasonCode::new("security")));
        assert!(limits.longest(*T0 + Duration::from_secs(90)).is_none());
    }
}
