//! The metrics aggregator of a processing relay (`processing.md` §3.12).
//!
//! Processors hand metric buckets (session metrics, span usage, `metric_buckets` items) to
//! [`MetricsHandle::merge`]. A tokio task ([`start_metrics_aggregator`]) merges them per
//! (project key, name, tags, time slot) in an [`aggregator::Aggregator`] and, once a bucket is
//! due (slot end + `aggregator.initial_delay`), flushes it ([`service`]):
//! * `sessions` namespace → `ingest-metrics` (`MetricsSessions`) as JSON bucket messages;
//!   with a sessions EAP rollout, `session`/`user`/`error` buckets also → `snuba-items` as
//!   USER_SESSION trace items;
//! * `c:spans/usage@none` → `accepted` outcomes (`span`, plus `transaction` for segments);
//! * everything else → dropped (span/transaction metrics are no longer produced).
//!
//! Invariants:
//! * merging never blocks a worker thread: the channel is bounded and a full channel loses the
//!   batch (counted and logged) rather than stalling ingestion;
//! * the memory held by buckets is bounded by `aggregator.max_total_bucket_bytes`, or by
//!   [`aggregator::DEFAULT_MAX_TOTAL_BUCKET_BYTES`] when that is unset; buckets beyond the
//!   bound are rejected (and [`MetricsHandle::is_over_capacity`] turns true so readiness can
//!   report it);
//! * on graceful shutdown (`Phase::Draining`) everything is flushed at once and later buckets
//!   are flushed as they arrive.

pub mod aggregator;
pub mod service;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use relay_quotas::Scoping;
use tokio::sync::mpsc;

pub use service::{sessions_eap_rate, start_metrics_aggregator};

/// Capacity of the merge channel, in batches (one batch ≈ one envelope's buckets). Sized so a
/// burst of a few thousand envelopes never loses metrics while the task is flushing, yet the
/// queued batches stay in the tens of megabytes.
const METRICS_CHANNEL_CAPACITY: usize = 8192;

/// The namespace of session buckets: accepted from any sender, produced to `ingest-metrics`.
pub const SESSIONS_NAMESPACE: &str = "sessions";
/// The namespace of outcome buckets forwarded by trusted relays; produced as outcomes.
pub const OUTCOMES_NAMESPACE: &str = "outcomes";
/// The span usage counter: processing emits it per envelope, the flush turns it into
/// `accepted` outcomes (`span`, plus `transaction` for segments).
pub const SPAN_USAGE_METRIC: &str = "c:spans/usage@none";
/// Tag of span usage buckets marking segment spans (`"true"` / `"false"`).
pub const IS_SEGMENT_TAG: &str = "is_segment";

/// FNV-1a 32-bit offset basis.
const FNV1A32_OFFSET_BASIS: u32 = 0x811c_9dc5;
/// FNV-1a 32-bit prime.
const FNV1A32_PRIME: u32 = 0x0100_0193;

/// The value of a bucket.
#[derive(Clone, Debug, PartialEq)]
pub enum BucketValue {
    Counter(f64),
    Distribution(Vec<f64>),
    Set(BTreeSet<u32>),
    Gauge {
        last: f64,
        min: f64,
        max: f64,
        sum: f64,
        count: u64,
    },
}

impl BucketValue {
    /// A gauge holding one value.
    pub fn gauge(value: f64) -> BucketValue {
        BucketValue::Gauge {
            last: value,
            min: value,
            max: value,
            sum: value,
            count: 1,
        }
    }

    /// The MRI type letter of the value: `c`, `d`, `s` or `g`.
    pub fn type_code(&self) -> &'static str {
        match self {
            BucketValue::Counter(_) => "c",
            BucketValue::Distribution(_) => "d",
            BucketValue::Set(_) => "s",
            BucketValue::Gauge { .. } => "g",
        }
    }

    /// Whether every float is finite (JSON cannot carry NaN or infinity).
    pub fn is_finite(&self) -> bool {
        match self {
            BucketValue::Counter(value) => value.is_finite(),
            BucketValue::Distribution(values) => values.iter().all(|value| value.is_finite()),
            BucketValue::Set(_) => true,
            BucketValue::Gauge {
                last,
                min,
                max,
                sum,
                ..
            } => [last, min, max, sum].iter().all(|value| value.is_finite()),
        }
    }

    /// Merges `other` into `self`; `false` (and `self` unchanged) when the types differ.
    pub fn merge(&mut self, other: BucketValue) -> bool {
        match (self, other) {
            (BucketValue::Counter(left), BucketValue::Counter(right)) => *left += right,
            (BucketValue::Distribution(left), BucketValue::Distribution(right)) => {
                left.extend(right)
            }
            (BucketValue::Set(left), BucketValue::Set(right)) => left.extend(right),
            (
                BucketValue::Gauge {
                    last,
                    min,
                    max,
                    sum,
                    count,
                },
                BucketValue::Gauge {
                    last: other_last,
                    min: other_min,
                    max: other_max,
                    sum: other_sum,
                    count: other_count,
                },
            ) => {
                *last = other_last;
                *min = min.min(other_min);
                *max = max.max(other_max);
                *sum += other_sum;
                *count = count.saturating_add(other_count);
            }
            _ => return false,
        }
        true
    }

    /// Number of individual values (1 for counters and gauges).
    pub fn len(&self) -> usize {
        match self {
            BucketValue::Counter(_) | BucketValue::Gauge { .. } => 1,
            BucketValue::Distribution(values) => values.len(),
            BucketValue::Set(values) => values.len(),
        }
    }
}

/// One metric bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// The MRI, e.g. `c:sessions/session@none`.
    pub name: String,
    /// Unix seconds; floored to the bucket interval by the aggregator.
    pub timestamp: i64,
    pub tags: BTreeMap<String, String>,
    pub value: BucketValue,
    /// Earliest receive time (unix seconds) of the data in the bucket.
    pub received_at: Option<i64>,
}

impl Bucket {
    /// The MRI's namespace (`sessions`, `spans`, ...); `None` when the name is not an MRI.
    pub fn namespace(&self) -> Option<&str> {
        parse_mri(&self.name).map(|mri| mri.namespace)
    }
}

/// A bucket with the project it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectBucket {
    pub scoping: Scoping,
    pub retention_days: u16,
    pub bucket: Bucket,
}

/// The parts of a metric resource identifier `<type>:<namespace>/<name>[@<unit>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mri<'a> {
    pub type_code: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    /// `none` when the MRI has no unit.
    pub unit: &'a str,
}

/// Splits an MRI; `None` when `name` is not one (unknown type letter, empty parts).
pub fn parse_mri(mri: &str) -> Option<Mri<'_>> {
    let (type_code, rest) = mri.split_once(':')?;
    if !matches!(type_code, "c" | "d" | "s" | "g") {
        return None;
    }
    let (namespace, name_and_unit) = rest.split_once('/')?;
    let (name, unit) = match name_and_unit.split_once('@') {
        Some((name, unit)) => (name, unit),
        None => (name_and_unit, "none"),
    };
    if namespace.is_empty() || name.is_empty() || unit.is_empty() {
        return None;
    }
    Some(Mri {
        type_code,
        namespace,
        name,
        unit,
    })
}

/// The 32-bit FNV-1a hash of a string's UTF-8 bytes: how set values are derived from strings
/// (`processing.md` §3.6; `"foobarbaz"` → `1617781333`).
pub fn fnv1a32(value: &str) -> u32 {
    value.bytes().fold(FNV1A32_OFFSET_BASIS, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(FNV1A32_PRIME)
    })
}

/// State shared between the handles and the aggregator task.
#[derive(Debug, Default)]
struct Shared {
    /// Batches lost because the channel was full.
    lost_batches: AtomicU64,
    /// The aggregator holds its maximum number of bucket bytes and rejects new buckets.
    over_capacity: AtomicBool,
}

/// Handle to the aggregator; cheap to clone.
#[derive(Clone, Debug)]
pub struct MetricsHandle {
    sender: Option<mpsc::Sender<Vec<ProjectBucket>>>,
    shared: Arc<Shared>,
}

impl MetricsHandle {
    /// A handle that drops everything (non-processing relays).
    #[cfg(test)]
    pub fn disabled() -> MetricsHandle {
        MetricsHandle {
            sender: None,
            shared: Arc::default(),
        }
    }

    fn channel() -> (MetricsHandle, mpsc::Receiver<Vec<ProjectBucket>>) {
        let (sender, receiver) = mpsc::channel(METRICS_CHANNEL_CAPACITY);
        let handle = MetricsHandle {
            sender: Some(sender),
            shared: Arc::default(),
        };
        (handle, receiver)
    }

    /// Adds buckets to the aggregator. Never blocks: when the aggregator is backed up the
    /// buckets are lost (counted and logged).
    pub fn merge(&self, buckets: Vec<ProjectBucket>) {
        let Some(sender) = &self.sender else {
            return;
        };
        if buckets.is_empty() {
            return;
        }
        match sender.try_send(buckets) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let lost = self.shared.lost_batches.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    lost_batches = lost,
                    "metrics aggregator is backed up, dropping buckets"
                );
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("metrics aggregator is gone, dropping buckets");
            }
        }
    }

    /// Whether the aggregator is full and rejects new buckets (`aggregator limit exceeded`);
    /// readiness should fail while this holds (`config.md` §4.9).
    #[allow(
        dead_code,
        reason = "readiness does not read it yet; the aggregator for every relay wires it in"
    )]
    pub fn is_over_capacity(&self) -> bool {
        self.shared.over_capacity.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_matches_the_spec_example() {
        assert_eq!(fnv1a32("foobarbaz"), 1_617_781_333);
        assert_eq!(fnv1a32(""), FNV1A32_OFFSET_BASIS);
    }

    #[test]
    fn mris_are_split_into_their_parts() {
        let mri = parse_mri("c:sessions/session@none").unwrap();
        assert_eq!(
            (mri.type_code, mri.namespace, mri.name, mri.unit),
            ("c", "sessions", "session", "none")
        );
        assert_eq!(parse_mri("d:spans/duration").unwrap().unit, "none");
        for invalid in [
            "session",
            "x:sessions/a",
            "c:/a",
            "c:sessions/",
            "c:sessions/a@",
            "c:sessions",
        ] {
            assert_eq!(parse_mri(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn values_merge_by_type() {
        let mut counter = BucketValue::Counter(1.0);
        assert!(counter.merge(BucketValue::Counter(2.5)));
        assert_eq!(counter, BucketValue::Counter(3.5));

        let mut set = BucketValue::Set(BTreeSet::from([1, 2]));
        assert!(set.merge(BucketValue::Set(BTreeSet::from([2, 3]))));
        assert_eq!(set, BucketValue::Set(BTreeSet::from([1, 2, 3])));

        let mut distribution = BucketValue::Distribution(vec![1.0]);
        assert!(distribution.merge(BucketValue::Distribution(vec![1.0, 2.0])));
        assert_eq!(distribution, BucketValue::Distribution(vec![1.0, 1.0, 2.0]));

        let mut gauge = BucketValue::gauge(5.0);
        assert!(gauge.merge(BucketValue::gauge(2.0)));
        assert_eq!(
            gauge,
            BucketValue::Gauge {
                last: 2.0,
                min: 2.0,
                max: 5.0,
                sum: 7.0,
                count: 2
            }
        );

        assert!(!counter.merge(BucketValue::gauge(1.0)));
        assert_eq!(counter, BucketValue::Counter(3.5));
    }

    #[test]
    fn disabled_handle_drops_and_full_channel_counts_losses() {
        MetricsHandle::disabled().merge(Vec::new());
        let (handle, _receiver) = MetricsHandle::channel();
        let bucket = ProjectBucket {
            scoping: Scoping::for_key(
                relay_protocol::ProjectKey::parse("a94ae32be2584e0bbd7a4cbb95971fee").unwrap(),
            ),
            retention_days: 90,
            bucket: Bucket {
                name: "c:sessions/session@none".into(),
                timestamp: 0,
                tags: BTreeMap::new(),
                value: BucketValue::Counter(1.0),
                received_at: None,
            },
        };
        for _ in 0..=METRICS_CHANNEL_CAPACITY {
            handle.merge(vec![bucket.clone()]);
        }
        assert_eq!(handle.shared.lost_batches.load(Ordering::Relaxed), 1);
    }
}
