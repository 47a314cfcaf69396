//! The aggregation state: buckets merged per (project key, name, tags, time slot), and which
//! of them are due for flushing. Pure data structure; the clock is passed in (unix seconds),
//! so it is tested without waiting.
//!
//! Merge rules (`processing.md` §3.12, `config.md` §4.9):
//! * the name must be an MRI of at most `max_name_length` bytes whose type letter matches the
//!   value, and every value must be finite; otherwise the bucket is rejected;
//! * a bucket whose timestamp is more than `max_secs_in_past` behind or `max_secs_in_future`
//!   ahead of now is rejected (silently discarded by the caller);
//! * tags whose key is longer than `max_tag_key_length` bytes or whose value is longer than
//!   `max_tag_value_length` characters are removed;
//! * the timestamp is floored to `bucket_interval`;
//! * a bucket flushes at `max(slot end, first merge) + initial_delay`: buckets of the current
//!   slot wait for the slot to end, back-dated buckets still get `initial_delay` to collect.
//!
//! Memory bound: every bucket has an estimated cost (key + value bytes, see
//! [`Aggregator::merge`]); the sum never exceeds `max_total_bucket_bytes`
//! ([`DEFAULT_MAX_TOTAL_BUCKET_BYTES`] when unset), and a project key's sum never exceeds
//! `max_project_key_bucket_bytes` when set. Buckets that would cross a bound are rejected.

use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;

use relay_config::AggregatorConfig;
use relay_protocol::ProjectKey;
use relay_quotas::Scoping;

use super::{parse_mri, Bucket, BucketValue, ProjectBucket};

/// Bound on the estimated bucket memory when `aggregator.max_total_bucket_bytes` is unset.
///
/// A session or span-usage bucket costs a few hundred bytes, so this holds several hundred
/// thousand buckets — far more distinct (project, name, tags, slot) combinations than one relay
/// sees within `bucket_interval + initial_delay` — while keeping a flood of unique tag values
/// from exhausting the memory the envelope buffer needs.
pub const DEFAULT_MAX_TOTAL_BUCKET_BYTES: usize = 256 * 1024 * 1024;

/// Estimated bytes per set element (B-tree nodes hold the `u32` plus structure).
const SET_ELEMENT_COST: usize = 8;
/// Estimated bytes per distribution value.
const DISTRIBUTION_ELEMENT_COST: usize = size_of::<f64>();
/// Estimated bytes per tag besides the key and value text (map node, string headers).
const TAG_OVERHEAD: usize = 3 * size_of::<usize>() * 2;

/// Why a bucket was not merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Not an MRI, too long, or its type letter does not match the value.
    #[error("invalid metric name or value type")]
    InvalidName,
    /// A NaN or infinite value.
    #[error("metric value is not finite")]
    NonFiniteValue,
    /// The timestamp is outside `[now - max_secs_in_past, now + max_secs_in_future]`.
    #[error("metric timestamp is outside the accepted time window")]
    OutsideTimeWindow,
    /// The bucket would exceed the total or per-project-key memory bound.
    #[error("aggregator limit exceeded")]
    CapacityExceeded,
}

/// The aggregator settings, resolved from `aggregator` (`config.md` §4.9).
#[derive(Debug, Clone)]
pub struct AggregatorSettings {
    pub bucket_interval: i64,
    pub initial_delay: i64,
    pub max_secs_in_past: i64,
    pub max_secs_in_future: i64,
    pub max_name_length: usize,
    pub max_tag_key_length: usize,
    pub max_tag_value_length: usize,
    pub max_total_bytes: usize,
    pub max_project_key_bytes: Option<usize>,
}

impl AggregatorSettings {
    pub fn from_config(config: &AggregatorConfig) -> AggregatorSettings {
        let to_usize = |bytes: u64| usize::try_from(bytes).unwrap_or(usize::MAX);
        AggregatorSettings {
            // A zero interval would make flooring divide by zero; one second is the finest slot.
            bucket_interval: i64::from(config.bucket_interval.max(1)),
            initial_delay: i64::from(config.initial_delay),
            max_secs_in_past: i64::try_from(config.max_secs_in_past).unwrap_or(i64::MAX),
            max_secs_in_future: i64::try_from(config.max_secs_in_future).unwrap_or(i64::MAX),
            max_name_length: config.max_name_length,
            max_tag_key_length: config.max_tag_key_length,
            max_tag_value_length: config.max_tag_value_length,
            max_total_bytes: config
                .max_total_bucket_bytes
                .map_or(DEFAULT_MAX_TOTAL_BUCKET_BYTES, to_usize),
            max_project_key_bytes: config.max_project_key_bucket_bytes.map(to_usize),
        }
    }
}

/// What identifies a bucket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct BucketKey {
    project_key: ProjectKey,
    /// Floored to the bucket interval.
    timestamp: i64,
    name: String,
    tags: BTreeMap<String, String>,
}

impl BucketKey {
    fn cost(&self) -> usize {
        let tags: usize = self
            .tags
            .iter()
            .map(|(key, value)| key.len() + value.len() + TAG_OVERHEAD)
            .sum();
        size_of::<BucketKey>() + size_of::<Entry>() + self.name.len() + tags
    }
}

/// An aggregated bucket.
#[derive(Debug)]
struct Entry {
    /// Scoping and retention of the latest merge (the project key is part of the key, so they
    /// only change when the project config changed).
    scoping: Scoping,
    retention_days: u16,
    value: BucketValue,
    received_at: Option<i64>,
    /// Unix seconds at which the bucket is due.
    flush_at: i64,
    /// Estimated bytes (key + value).
    cost: usize,
}

fn value_cost(value: &BucketValue) -> usize {
    match value {
        BucketValue::Counter(_) | BucketValue::Gauge { .. } => 0,
        BucketValue::Distribution(values) => values.len() * DISTRIBUTION_ELEMENT_COST,
        BucketValue::Set(values) => values.len() * SET_ELEMENT_COST,
    }
}

/// The aggregation state (see the module docs).
#[derive(Debug)]
pub struct Aggregator {
    settings: AggregatorSettings,
    buckets: HashMap<BucketKey, Entry>,
    total_cost: usize,
    project_costs: HashMap<ProjectKey, usize>,
    /// The earliest `flush_at` of all buckets; `None` when empty.
    next_flush: Option<i64>,
}

impl Aggregator {
    pub fn new(settings: AggregatorSettings) -> Aggregator {
        Aggregator {
            settings,
            buckets: HashMap::new(),
            total_cost: 0,
            project_costs: HashMap::new(),
            next_flush: None,
        }
    }

    /// Number of buckets held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The estimated bytes held.
    pub fn total_cost(&self) -> usize {
        self.total_cost
    }

    /// Whether the total bound is reached (a bucket with a new key would be rejected).
    pub fn is_over_capacity(&self) -> bool {
        self.total_cost >= self.settings.max_total_bytes
    }

    /// Validates, normalizes and merges one bucket at time `now` (unix seconds).
    pub fn merge(&mut self, project_bucket: ProjectBucket, now: i64) -> Result<(), MergeError> {
        let ProjectBucket {
            scoping,
            retention_days,
            bucket,
        } = project_bucket;
        let Bucket {
            name,
            timestamp,
            mut tags,
            value,
            received_at,
        } = bucket;

        let valid_name = name.len() <= self.settings.max_name_length
            && parse_mri(&name).is_some_and(|mri| mri.type_code == value.type_code());
        if !valid_name {
            return Err(MergeError::InvalidName);
        }
        if !value.is_finite() {
            return Err(MergeError::NonFiniteValue);
        }
        if timestamp < now.saturating_sub(self.settings.max_secs_in_past)
            || timestamp > now.saturating_add(self.settings.max_secs_in_future)
        {
            return Err(MergeError::OutsideTimeWindow);
        }
        let (max_key, max_value) = (
            self.settings.max_tag_key_length,
            self.settings.max_tag_value_length,
        );
        tags.retain(|key, value| key.len() <= max_key && value.chars().count() <= max_value);

        let interval = self.settings.bucket_interval;
        let slot = timestamp - timestamp.rem_euclid(interval);
        let key = BucketKey {
            project_key: scoping.project_key,
            timestamp: slot,
            name,
            tags,
        };
        let project_key = scoping.project_key;
        let project_cost = self.project_costs.get(&project_key).copied().unwrap_or(0);

        if let Some(entry) = self.buckets.get_mut(&key) {
            // The incoming value's cost bounds what the merge can add (sets may add less).
            let added = value_cost(&value);
            check_capacity(&self.settings, self.total_cost, project_cost, added)?;
            let cost_before = value_cost(&entry.value);
            if !entry.value.merge(value) {
                // Same MRI, so same type letter; unreachable unless the name check is wrong.
                return Err(MergeError::InvalidName);
            }
            // Merging only ever grows a value.
            let delta = value_cost(&entry.value).saturating_sub(cost_before);
            entry.cost += delta;
            entry.received_at = min_option(entry.received_at, received_at);
            entry.scoping = scoping;
            entry.retention_days = retention_days;
            self.add_cost(project_key, delta);
            return Ok(());
        }

        let cost = key.cost() + value_cost(&value);
        check_capacity(&self.settings, self.total_cost, project_cost, cost)?;
        let flush_at = (slot + interval).max(now) + self.settings.initial_delay;
        self.next_flush = Some(self.next_flush.map_or(flush_at, |next| next.min(flush_at)));
        self.buckets.insert(
            key,
            Entry {
                scoping,
                retention_days,
                value,
                received_at,
                flush_at,
                cost,
            },
        );
        self.add_cost(project_key, cost);
        Ok(())
    }

    /// Removes and returns the buckets due at `now`.
    pub fn flush_due(&mut self, now: i64) -> Vec<ProjectBucket> {
        if self.next_flush.is_none_or(|next| next > now) {
            return Vec::new();
        }
        self.take_where(|entry| entry.flush_at <= now)
    }

    /// Removes and returns every bucket (shutdown).
    pub fn flush_all(&mut self) -> Vec<ProjectBucket> {
        self.take_where(|_| true)
    }

    fn take_where(&mut self, due: impl Fn(&Entry) -> bool) -> Vec<ProjectBucket> {
        let mut due_keys = Vec::new();
        let mut next_flush: Option<i64> = None;
        for (key, entry) in &self.buckets {
            if due(entry) {
                due_keys.push(key.clone());
            } else {
                next_flush =
                    Some(next_flush.map_or(entry.flush_at, |next| next.min(entry.flush_at)));
            }
        }
        self.next_flush = next_flush;
        let mut flushed = Vec::with_capacity(due_keys.len());
        for key in due_keys {
            let Some((key, entry)) = self.buckets.remove_entry(&key) else {
                continue;
            };
            self.remove_cost(key.project_key, entry.cost);
            flushed.push(ProjectBucket {
                scoping: entry.scoping,
                retention_days: entry.retention_days,
                bucket: Bucket {
                    name: key.name,
                    timestamp: key.timestamp,
                    tags: key.tags,
                    value: entry.value,
                    received_at: entry.received_at,
                },
            });
        }
        flushed
    }

    fn add_cost(&mut self, project_key: ProjectKey, cost: usize) {
        self.total_cost += cost;
        *self.project_costs.entry(project_key).or_default() += cost;
    }

    fn remove_cost(&mut self, project_key: ProjectKey, cost: usize) {
        self.total_cost = self.total_cost.saturating_sub(cost);
        if let Some(project_cost) = self.project_costs.get_mut(&project_key) {
            *project_cost = project_cost.saturating_sub(cost);
            if *project_cost == 0 {
                self.project_costs.remove(&project_key);
            }
        }
    }
}

fn check_capacity(
    settings: &AggregatorSettings,
    total: usize,
    project: usize,
    added: usize,
) -> Result<(), MergeError> {
    if total.saturating_add(added) > settings.max_total_bytes {
        return Err(MergeError::CapacityExceeded);
    }
    if let Some(max) = settings.max_project_key_bytes {
        if project.saturating_add(added) > max {
            return Err(MergeError::CapacityExceeded);
        }
    }
    Ok(())
}

fn min_option(left: Option<i64>, right: Option<i64>) -> Option<i64> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.min(right)),
        (left, right) => left.or(right),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use relay_protocol::ProjectId;

    use super::*;

    const NOW: i64 = 1_717_000_005;

    fn settings() -> AggregatorSettings {
        AggregatorSettings::from_config(&AggregatorConfig {
            bucket_interval: 10,
            initial_delay: 30,
            ..AggregatorConfig::default()
        })
    }

    fn project_key(key: &str) -> ProjectKey {
        ProjectKey::parse(key).unwrap()
    }

    fn bucket_for(key: &str, name: &str, timestamp: i64, value: BucketValue) -> ProjectBucket {
        let mut scoping = Scoping::for_key(project_key(key));
        scoping.project_id = Some(ProjectId(42));
        ProjectBucket {
            scoping,
            retention_days: 90,
            bucket: Bucket {
                name: name.to_owned(),
                timestamp,
                tags: BTreeMap::from([("release".to_owned(), "app@1.0".to_owned())]),
                value,
                received_at: Some(timestamp),
            },
        }
    }

    fn counter(timestamp: i64, value: f64) -> ProjectBucket {
        bucket_for(
            "a94ae32be2584e0bbd7a4cbb95971fee",
            "c:sessions/session@none",
            timestamp,
            BucketValue::Counter(value),
        )
    }

    #[test]
    fn buckets_merge_per_key_and_slot() {
        let mut aggregator = Aggregator::new(settings());
        aggregator.merge(counter(1_717_000_001, 1.0), NOW).unwrap();
        aggregator.merge(counter(1_717_000_009, 2.0), NOW).unwrap();
        aggregator.merge(counter(1_717_000_010, 4.0), NOW).unwrap();
        let mut other_tags = counter(1_717_000_001, 8.0);
        other_tags
            .bucket
            .tags
            .insert("environment".into(), "prod".into());
        aggregator.merge(other_tags, NOW).unwrap();
        let other_key = bucket_for(
            "b94ae32be2584e0bbd7a4cbb95971fee",
            "c:sessions/session@none",
            1_717_000_001,
            BucketValue::Counter(16.0),
        );
        aggregator.merge(other_key, NOW).unwrap();
        assert_eq!(aggregator.len(), 4);

        let mut flushed = aggregator.flush_all();
        flushed.sort_by(|left, right| {
            (
                left.bucket.timestamp,
                left.bucket.tags.len(),
                left.scoping.project_key,
            )
                .cmp(&(
                    right.bucket.timestamp,
                    right.bucket.tags.len(),
                    right.scoping.project_key,
                ))
        });
        let values: Vec<(i64, BucketValue)> = flushed
            .iter()
            .map(|bucket| (bucket.bucket.timestamp, bucket.bucket.value.clone()))
            .collect();
        assert_eq!(
            values,
            [
                (1_717_000_000, BucketValue::Counter(3.0)),
                (1_717_000_000, BucketValue::Counter(16.0)),
                (1_717_000_000, BucketValue::Counter(8.0)),
                (1_717_000_010, BucketValue::Counter(4.0)),
            ]
        );
        // The earliest receive time wins.
        assert_eq!(flushed[0].bucket.received_at, Some(1_717_000_001));
        assert!(aggregator.is_empty());
        assert_eq!(aggregator.total_cost(), 0);
    }

    #[test]
    fn buckets_flush_after_the_interval_plus_initial_delay() {
        let mut aggregator = Aggregator::new(settings());
        // Current slot [1717000000, 1717000010): due at 1717000010 + 30.
        aggregator.merge(counter(NOW, 1.0), NOW).unwrap();
        // Back-dated by an hour: due `initial_delay` after the first merge.
        aggregator.merge(counter(NOW - 3600, 1.0), NOW).unwrap();
        assert!(aggregator.flush_due(NOW + 29).is_empty());
        let due = aggregator.flush_due(NOW + 30);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].bucket.timestamp, 1_716_996_400);
        assert!(aggregator.flush_due(1_717_000_039).is_empty());
        let due = aggregator.flush_due(1_717_000_040);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].bucket.timestamp, 1_717_000_000);
        assert!(aggregator.flush_due(i64::MAX).is_empty());
    }

    #[test]
    fn buckets_outside_the_time_window_are_rejected() {
        let mut aggregator = Aggregator::new(settings());
        let past = NOW - 432_000;
        assert_eq!(aggregator.merge(counter(past, 1.0), NOW), Ok(()));
        assert_eq!(
            aggregator.merge(counter(past - 1, 1.0), NOW),
            Err(MergeError::OutsideTimeWindow)
        );
        assert_eq!(aggregator.merge(counter(NOW + 60, 1.0), NOW), Ok(()));
        assert_eq!(
            aggregator.merge(counter(NOW + 61, 1.0), NOW),
            Err(MergeError::OutsideTimeWindow)
        );
    }

    #[test]
    fn invalid_names_and_values_are_rejected() {
        let mut aggregator = Aggregator::new(settings());
        let key = "a94ae32be2584e0bbd7a4cbb95971fee";
        let cases = [
            (
                "sessions",
                BucketValue::Counter(1.0),
                MergeError::InvalidName,
            ),
            (
                "s:sessions/user@none",
                BucketValue::Counter(1.0),
                MergeError::InvalidName,
            ),
            (
                "c:sessions/session@none",
                BucketValue::Counter(f64::NAN),
                MergeError::NonFiniteValue,
            ),
        ];
        for (name, value, error) in cases {
            assert_eq!(
                aggregator.merge(bucket_for(key, name, NOW, value), NOW),
                Err(error),
                "{name}"
            );
        }
        let long_name = format!("c:sessions/{}@none", "n".repeat(200));
        assert_eq!(
            aggregator.merge(
                bucket_for(key, &long_name, NOW, BucketValue::Counter(1.0)),
                NOW
            ),
            Err(MergeError::InvalidName)
        );
        assert!(aggregator.is_empty());
    }

    #[test]
    fn long_tags_are_removed() {
        let mut aggregator = Aggregator::new(settings());
        let mut bucket = counter(NOW, 1.0);
        bucket.bucket.tags.insert("k".repeat(201), "v".into());
        bucket.bucket.tags.insert("long".into(), "ü".repeat(201));
        bucket.bucket.tags.insert("fits".into(), "ü".repeat(200));
        aggregator.merge(bucket, NOW).unwrap();
        let flushed = aggregator.flush_all();
        let keys: Vec<&str> = flushed[0].bucket.tags.keys().map(String::as_str).collect();
        assert_eq!(keys, ["fits", "release"]);
    }

    #[test]
    fn memory_is_bounded_in_total_and_per_project_key() {
        let first = counter(NOW, 1.0);
        let mut probe = Aggregator::new(settings());
        probe.merge(first.clone(), NOW).unwrap();
        let one_bucket = probe.total_cost();
        assert!(one_bucket > 0);

        let mut limited = settings();
        limited.max_total_bytes = one_bucket;
        let mut aggregator = Aggregator::new(limited);
        aggregator.merge(first.clone(), NOW).unwrap();
        assert!(aggregator.is_over_capacity());
        // Merging into the existing counter adds nothing and is still accepted.
        aggregator.merge(first.clone(), NOW).unwrap();
        let mut second = first.clone();
        second.bucket.timestamp += 10;
        assert_eq!(
            aggregator.merge(second.clone(), NOW),
            Err(MergeError::CapacityExceeded)
        );
        aggregator.flush_all();
        assert!(!aggregator.is_over_capacity());
        aggregator.merge(second, NOW).unwrap();

        let mut per_project = settings();
        per_project.max_project_key_bytes = Some(one_bucket + 10);
        let mut aggregator = Aggregator::new(per_project);
        aggregator.merge(first.clone(), NOW).unwrap();
        let mut same_project = first.clone();
        same_project.bucket.timestamp += 10;
        assert_eq!(
            aggregator.merge(same_project, NOW),
            Err(MergeError::CapacityExceeded)
        );
        let other_project = bucket_for(
            "b94ae32be2584e0bbd7a4cbb95971fee",
            "c:sessions/session@none",
            NOW,
            BucketValue::Counter(1.0),
        );
        aggregator.merge(other_project, NOW).unwrap();
    }

    #[test]
    fn set_growth_is_accounted() {
        let key = "a94ae32be2584e0bbd7a4cbb95971fee";
        let set = |values: &[u32]| {
            bucket_for(
                key,
                "s:sessions/user@none",
                NOW,
                BucketValue::Set(values.iter().copied().collect::<BTreeSet<u32>>()),
            )
        };
        let mut aggregator = Aggregator::new(settings());
        aggregator.merge(set(&[1]), NOW).unwrap();
        let base = aggregator.total_cost();
        aggregator.merge(set(&[1]), NOW).unwrap();
        assert_eq!(aggregator.total_cost(), base);
        aggregator.merge(set(&[2, 3]), NOW).unwrap();
        assert_eq!(aggregator.total_cost(), base + 2 * SET_ELEMENT_COST);
        aggregator.flush_all();
        assert_eq!(aggregator.total_cost(), 0);
    }
}
