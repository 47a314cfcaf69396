//! Quotas as configured in project and global configs (`config.quotas`, redis-and-quotas.md §3).
//!
//! This module only models the JSON object, its validity rules and scope matching, plus the
//! conversion of reject-all quotas (`limit: 0`) into cached rate limits. Counting quotas against
//! Redis happens elsewhere.
//!
//! Deserializing a [`Quota`] fails exactly where the spec says the whole config becomes
//! unparsable (e.g. a negative `limit`, a `groupBy` missing one of its keys); a quota that
//! deserializes but breaks a validity rule is reported by [`Quota::is_valid`] and removed by
//! [`retain_valid_quotas`] / [`parse_quotas`].

use std::time::{Duration, Instant};

use relay_protocol::{CategoryUnit, DataCategory};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use crate::rate_limit::{
    MetricNamespace, MetricNamespaceScoping, RateLimit, RateLimitScope, RateLimits, ReasonCode,
    RetryAfter,
};
use crate::scoping::Scoping;

/// How long a rate limit derived from a reject-all quota stays cached (relay-protocol.md §11).
pub const REJECT_ALL_QUOTA_LIMIT_DURATION: Duration = Duration::from_secs(60);

/// The granularity a quota counts at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QuotaScope {
    /// `organization` (the default when `scope` is missing).
    #[default]
    Organization,
    /// `project`.
    Project,
    /// `key`: one DSN public key.
    Key,
    /// Any other scope name; never matches a `scopeId`.
    Unknown,
}

impl QuotaScope {
    /// The wire name; [`QuotaScope::Unknown`] is written as `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            QuotaScope::Organization => "organization",
            QuotaScope::Project => "project",
            QuotaScope::Key => "key",
            QuotaScope::Unknown => "unknown",
        }
    }

    /// Parses a wire name; unknown names yield [`QuotaScope::Unknown`].
    pub fn from_name(name: &str) -> QuotaScope {
        match name {
            "organization" => QuotaScope::Organization,
            "project" => QuotaScope::Project,
            "key" => QuotaScope::Key,
            _ => QuotaScope::Unknown,
        }
    }
}

impl Serialize for QuotaScope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for QuotaScope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(QuotaScope::from_name(&name))
    }
}

/// An item dimension a quota can count separately by (`groupBy.dimensions`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuotaDimension {
    /// `checkInEnvironment`: the environment of a cron check-in.
    CheckInEnvironment,
    /// `checkInSlug`: the monitor slug of a cron check-in.
    CheckInSlug,
    /// Any other name, kept verbatim; it parses but makes the quota invalid.
    Unknown(String),
}

impl QuotaDimension {
    /// The wire name.
    pub fn name(&self) -> &str {
        match self {
            QuotaDimension::CheckInEnvironment => "checkInEnvironment",
            QuotaDimension::CheckInSlug => "checkInSlug",
            QuotaDimension::Unknown(name) => name,
        }
    }

    /// Parses a wire name; unknown names are kept as [`QuotaDimension::Unknown`].
    pub fn from_name(name: &str) -> QuotaDimension {
        match name {
            "checkInEnvironment" => QuotaDimension::CheckInEnvironment,
            "checkInSlug" => QuotaDimension::CheckInSlug,
            other => QuotaDimension::Unknown(other.to_owned()),
        }
    }
}

impl Serialize for QuotaDimension {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for QuotaDimension {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(QuotaDimension::from_name(&name))
    }
}

/// `groupBy`: count separately per combination of item dimensions. Both keys are required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaGroupBy {
    /// Maximum number of distinct dimension combinations tracked.
    pub max_cardinality: u64,
    /// The dimensions counted separately.
    pub dimensions: Vec<QuotaDimension>,
}

/// One quota object of a project or global config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    /// Counter name; reject-all quotas may omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Counted categories; empty means all. Unknown names are kept as
    /// [`DataCategory::Unknown`].
    #[serde(default)]
    pub categories: Vec<DataCategory>,
    /// Counting granularity.
    #[serde(default)]
    pub scope: QuotaScope,
    /// Restricts the quota to one org id / project id / numeric key id (decimal string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_id: Option<String>,
    /// `Some(0)` rejects everything, `Some(n)` allows n per window, `None` only counts.
    #[serde(default)]
    pub limit: Option<u64>,
    /// Counting window in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u64>,
    /// Reason reported in outcomes and headers when the quota limits data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<ReasonCode>,
    /// Restricts the quota to metric buckets of one namespace; `None` = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<MetricNamespace>,
    /// Counts separately per combination of item dimensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<QuotaGroupBy>,
}

impl Quota {
    /// Whether the quota passes the validity rules of redis-and-quotas.md §3.2.
    pub fn is_valid(&self) -> bool {
        if self.namespace == Some(MetricNamespace::Unsupported) {
            return false;
        }
        if let Some(group_by) = &self.group_by {
            let has_unknown_dimension = group_by
                .dimensions
                .iter()
                .any(|dimension| matches!(dimension, QuotaDimension::Unknown(_)));
            if group_by.dimensions.is_empty() || has_unknown_dimension {
                return false;
            }
        }

        let mut known_units = self
            .categories
            .iter()
            .filter_map(|category| category.unit());
        let first_known_unit = known_units.next();
        if !self.categories.is_empty() && first_known_unit.is_none() {
            return false;
        }

        if self.is_reject_all() {
            return true;
        }
        // A counted quota sums quantities, which is meaningless across units.
        match first_known_unit {
            None => false,
            Some(unit) => known_units.all(|other_unit| other_unit == unit),
        }
    }

    /// Whether the quota rejects everything it matches (`limit: 0`).
    pub fn is_reject_all(&self) -> bool {
        self.limit == Some(0)
    }

    /// The unit the quota counts in, when its known categories agree on one.
    pub fn unit(&self) -> Option<CategoryUnit> {
        let mut units = self
            .categories
            .iter()
            .filter_map(|category| category.unit());
        let first = units.next()?;
        units.all(|unit| unit == first).then_some(first)
    }

    /// Whether `scopeId` (if any) names the id of `scoping` in the quota's scope
    /// (redis-and-quotas.md §3.3 rule 1).
    pub fn matches_scope_id(&self, scoping: &Scoping) -> bool {
        let Some(scope_id) = &self.scope_id else {
            return true;
        };
        let Ok(scope_id) = scope_id.parse::<u64>() else {
            return false;
        };
        let item_id = match self.scope {
            QuotaScope::Organization => scoping.organization_id,
            QuotaScope::Project => scoping.project_id.map(|project_id| project_id.value()),
            QuotaScope::Key => scoping.key_id,
            QuotaScope::Unknown => None,
        };
        item_id == Some(scope_id)
    }

    /// Whether the quota applies to data of `category` in `namespace` sent with `scoping`,
    /// ignoring `groupBy` dimensions (redis-and-quotas.md §3.3 rules 1–3).
    pub fn matches(
        &self,
        category: DataCategory,
        scoping: &Scoping,
        namespace: MetricNamespaceScoping,
    ) -> bool {
        let category_matches = self.categories.is_empty() || self.categories.contains(&category);
        let namespace_matches = match (self.namespace, namespace) {
            (None, _) => true,
            (Some(_), MetricNamespaceScoping::AnyNamespace) => true,
            (Some(required), MetricNamespaceScoping::Namespace(actual)) => required == actual,
            (Some(_), MetricNamespaceScoping::WithoutNamespace) => false,
        };
        category_matches && namespace_matches && self.matches_scope_id(scoping)
    }

    /// The rate-limit scope this quota's limits are bound to for `scoping`.
    ///
    /// When the organization or project id is not known, or the scope is unknown, the limit is
    /// bound to the public key: the narrowest scope that still covers the current request.
    pub fn rate_limit_scope(&self, scoping: &Scoping) -> RateLimitScope {
        match self.scope {
            QuotaScope::Organization => {
                if let Some(organization_id) = scoping.organization_id {
                    return RateLimitScope::Organization(organization_id);
                }
            }
            QuotaScope::Project => {
                if let Some(project_id) = scoping.project_id {
                    return RateLimitScope::Project(project_id);
                }
            }
            QuotaScope::Key | QuotaScope::Unknown => {}
        }
        RateLimitScope::Key(scoping.project_key)
    }
}

/// Removes every quota that breaks a validity rule (applied to project-config quotas only).
pub fn retain_valid_quotas(quotas: &mut Vec<Quota>) {
    quotas.retain(Quota::is_valid);
}

/// Reads `config.quotas` leniently: entries that do not deserialize or are invalid are dropped,
/// and anything but an array yields no quotas.
pub fn parse_quotas(value: &serde_json::Value) -> Vec<Quota> {
    let Some(entries) = value.as_array() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| Quota::deserialize(entry).ok())
        .filter(Quota::is_valid)
        .collect()
}

/// Turns every reject-all quota (`limit: 0`) whose `scopeId` matches `scoping` into a rate limit
/// lasting [`REJECT_ALL_QUOTA_LIMIT_DURATION`] from `now` (relay-protocol.md §11 step 4).
///
/// Quotas with `groupBy` are skipped: dimensional limits are never cached or reported. The
/// limits keep exactly the quota's categories (no implied `transaction`/`span`).
pub fn zero_quota_rate_limits(quotas: &[Quota], scoping: &Scoping, now: Instant) -> RateLimits {
    let mut rate_limits = RateLimits::new();
    let retry_after = RetryAfter::from_secs(REJECT_ALL_QUOTA_LIMIT_DURATION.as_secs(), now);
    for quota in quotas {
        if !quota.is_reject_all() || quota.group_by.is_some() || !quota.matches_scope_id(scoping) {
            continue;
        }
        rate_limits.add_exact(RateLimit {
            categories: quota.categories.iter().copied().collect::<SmallVec<_>>(),
            scope: quota.rate_limit_scope(scoping),
            reason_code: quota.reason_code.clone(),
            retry_after,
            namespaces: quota.namespace.into_iter().collect(),
        });
    }
    rate_limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::format_rate_limits_header;
    use crate::test_support::{scoping, T0};
    use serde_json::json;

    fn quota(value: serde_json::Value) -> Quota {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn parses_spec_example() {
        let parsed = quota(json!({
            "id": "pk-errors-hourly", "categories": ["error", "default", "security"],
            "scope": "key", "scopeId": "123", "limit": 5000, "window": 3600,
            "reasonCode": "key_quota"
        }));
        assert_eq!(
            parsed,
            Quota {
                id: Some("pk-errors-hourly".to_owned()),
                categories: vec![
                    DataCategory::Error,
                    DataCategory::Default,
                    DataCategory::Security
                ],
                scope: QuotaScope::Key,
                scope_id: Some("123".to_owned()),
                limit: Some(5000),
                window: Some(3600),
                reason_code: Some(ReasonCode::new("key_quota")),
                namespace: None,
                group_by: None,
            }
        );
        assert!(parsed.is_valid());
        assert_eq!(parsed.unit(), Some(CategoryUnit::Count));
    }

    #[test]
    fn defaults_and_serialization_use_camel_case() {
        let parsed = quota(json!({"limit": 0}));
        assert_eq!(parsed.scope, QuotaScope::Organization);
        assert!(parsed.categories.is_empty());
        assert!(parsed.is_reject_all());

        let with_everything = quota(json!({
            "id": "q", "categories": ["metric_bucket"], "scope": "project", "scopeId": "7",
            "limit": 10, "window": 60, "reasonCode": "r", "namespace": "spans",
            "groupBy": {"maxCardinality": 5, "dimensions": ["checkInSlug"]}
        }));
        let serialized = serde_json::to_value(&with_everything).unwrap();
        assert_eq!(
            serialized,
            json!({
                "id": "q", "categories": ["metric_bucket"], "scope": "project", "scopeId": "7",
                "limit": 10, "window": 60, "reasonCode": "r", "namespace": "spans",
                "groupBy": {"maxCardinality": 5, "dimensions": ["checkInSlug"]}
            })
        );
        assert_eq!(quota(serialized), with_everything);
    }

    #[test]
    fn unknown_scope_and_categories_are_kept() {
        let parsed =
            quota(json!({"limit": 0, "scope": "galaxy", "categories": ["error", "bogus"]}));
        assert_eq!(parsed.scope, QuotaScope::Unknown);
        assert_eq!(
            parsed.categories,
            vec![DataCategory::Error, DataCategory::Unknown]
        );
        assert!(parsed.is_valid());
    }

    #[test]
    fn unparsable_configs_fail_to_deserialize() {
        for value in [
            json!({"limit": -1}),
            json!({"limit": 0, "groupBy": {"dimensions": ["checkInSlug"]}}),
            json!({"limit": 0, "groupBy": {"maxCardinality": 5}}),
        ] {
            assert!(
                serde_json::from_value::<Quota>(value.clone()).is_err(),
                "{value}"
            );
        }
    }

    #[test]
    fn validity_rules() {
        let cases = [
            (json!({"limit": 0}), true),
            (
                json!({"limit": 0, "categories": ["attachment", "error"]}),
                true,
            ),
            (json!({"id": "a", "limit": 10, "window": 60}), false),
            (json!({"id": "a", "window": 60}), false),
            (
                json!({"id": "a", "categories": ["error"], "window": 60}),
                true,
            ),
            (
                json!({"id": "a", "limit": 10, "window": 60, "categories": ["error", "security"]}),
                true,
            ),
            (
                json!({"id": "a", "limit": 10, "window": 60, "categories": ["error", "attachment"]}),
                false,
            ),
            (
                json!({"id": "a", "limit": 10, "window": 60, "categories": ["attachment", "log_byte", "trace_metric_byte"]}),
                true,
            ),
            (
                json!({"id": "a", "limit": 10, "window": 60, "categories": ["profile_duration", "profile_duration_ui"]}),
                true,
            ),
            (
                json!({"id": "a", "limit": 10, "window": 60, "categories": ["profile_duration", "profile"]}),
                false,
            ),
            (
                json!({"id": "a", "limit": 10, "window": 60, "categories": ["error", "bogus"]}),
                true,
            ),
            (json!({"limit": 0, "categories": ["bogus"]}), false),
            (json!({"limit": 0, "namespace": "custom"}), false),
            (json!({"limit": 0, "namespace": "sessions"}), true),
            (json!({"limit": 0, "namespace": null}), true),
            (
                json!({"limit": 0, "groupBy": {"maxCardinality": 1, "dimensions": []}}),
                false,
            ),
            (
                json!({"limit": 0, "groupBy": {"maxCardinality": 1, "dimensions": ["checkInEnvironment", "nope"]}}),
                false,
            ),
            (
                json!({"limit": 0, "groupBy": {"maxCardinality": 1, "dimensions": ["checkInEnvironment", "checkInSlug"]}}),
                true,
            ),
        ];
        for (value, valid) in cases {
            assert_eq!(quota(value.clone()).is_valid(), valid, "{value}");
        }
    }

    #[test]
    fn parse_quotas_drops_invalid_and_unparsable_entries() {
        let quotas = parse_quotas(&json!([
            {"limit": 0, "reasonCode": "first"},
            {"limit": -1},
            {"limit": 0, "namespace": "custom"},
            "not an object",
            {"id": "q", "limit": 5, "window": 10, "categories": ["error"], "reasonCode": "last"}
        ]));
        let reasons: Vec<_> = quotas
            .iter()
            .map(|quota| quota.reason_code.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(reasons, vec!["first", "last"]);
        assert!(parse_quotas(&json!({"limit": 0})).is_empty());

        let mut all = vec![quota(json!({"limit": 0})), quota(json!({"limit": 3}))];
        retain_valid_quotas(&mut all);
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn scope_id_matching() {
        let scoping = scoping();
        let cases = [
            (json!({"limit": 0}), true),
            (
                json!({"limit": 0, "scope": "organization", "scopeId": "42"}),
                true,
            ),
            (
                json!({"limit": 0, "scope": "organization", "scopeId": "43"}),
                false,
            ),
            (
                json!({"limit": 0, "scope": "project", "scopeId": "21"}),
                true,
            ),
            (
                json!({"limit": 0, "scope": "project", "scopeId": "22"}),
                false,
            ),
            (json!({"limit": 0, "scope": "key", "scopeId": "17"}), true),
            (json!({"limit": 0, "scope": "key", "scopeId": "18"}), false),
            (json!({"limit": 0, "scope": "key", "scopeId": "abc"}), false),
            (
                json!({"limit": 0, "scope": "galaxy", "scopeId": "42"}),
                false,
            ),
        ];
        for (value, matches) in cases {
            assert_eq!(
                quota(value.clone()).matches_scope_id(&scoping),
                matches,
                "{value}"
            );
        }
        let mut without_key_id = scoping.clone();
        without_key_id.key_id = None;
        assert!(!quota(json!({"limit": 0, "scope": "key", "scopeId": "17"}))
            .matches_scope_id(&without_key_id));
    }

    #[test]
    fn quota_matching_by_category_and_namespace() {
        let scoping = scoping();
        let spans = MetricNamespaceScoping::Namespace(MetricNamespace::Spans);
        let errors = quota(json!({"limit": 0, "categories": ["error"]}));
        assert!(errors.matches(
            DataCategory::Error,
            &scoping,
            MetricNamespaceScoping::WithoutNamespace
        ));
        assert!(!errors.matches(
            DataCategory::Security,
            &scoping,
            MetricNamespaceScoping::WithoutNamespace
        ));

        let namespaced =
            quota(json!({"limit": 0, "categories": ["metric_bucket"], "namespace": "spans"}));
        assert!(namespaced.matches(DataCategory::MetricBucket, &scoping, spans));
        assert!(!namespaced.matches(
            DataCategory::MetricBucket,
            &scoping,
            MetricNamespaceScoping::Namespace(MetricNamespace::Sessions)
        ));
        assert!(!namespaced.matches(
            DataCategory::MetricBucket,
            &scoping,
            MetricNamespaceScoping::WithoutNamespace
        ));
    }

    #[test]
    fn zero_quotas_become_sixty_second_limits() {
        let scoping = scoping();
        let quotas = parse_quotas(&json!([
            {"limit": 0, "scope": "organization", "reasonCode": "disabled"},
            {"limit": 0, "categories": ["transaction"], "scope": "key", "reasonCode": "get_lost"},
            {"limit": 0, "categories": ["metric_bucket"], "scope": "project", "namespace": "spans"},
            {"limit": 0, "categories": ["error"], "scope": "project", "scopeId": "999"},
            {"limit": 0, "categories": ["monitor"], "groupBy": {"maxCardinality": 1, "dimensions": ["checkInSlug"]}},
            {"id": "counted", "limit": 10, "window": 60, "categories": ["error"]},
            {"id": "count-only", "window": 60, "categories": ["error"]}
        ]));
        assert_eq!(quotas.len(), 7);
        let limits = zero_quota_rate_limits(&quotas, &scoping, *T0);
        assert_eq!(
            format_rate_limits_header(&limits, *T0),
            "60::organization:disabled, 60:transaction:key:get_lost, 60:metric_bucket:project::spans"
        );
        assert!(limits.check(&scoping, DataCategory::Span, *T0).is_some());
        assert!(limits
            .check(
                &scoping,
                DataCategory::Span,
                *T0 + REJECT_ALL_QUOTA_LIMIT_DURATION
            )
            .is_none());
    }

    #[test]
    fn zero_quota_scopes_fall_back_to_the_key_without_ids() {
        let key_only = Scoping::for_key(scoping().project_key);
        let quotas = parse_quotas(&json!([
            {"limit": 0, "scope": "organization"},
            {"limit": 0, "scope": "galaxy", "categories": ["error"]}
        ]));
        let limits = zero_quota_rate_limits(&quotas, &key_only, *T0);
        assert_eq!(
            format_rate_limits_header(&limits, *T0),
            "60::key, 60:error:key"
        );
    }
}
