//! The `aggregator` and `secondary_aggregators` sections (`config.md` §4.9).
//!
//! Invariant: every key is optional and unknown keys are ignored, like everywhere in the config.

use serde::{Deserialize, Serialize};

/// Default width of a time bucket in seconds.
const DEFAULT_BUCKET_INTERVAL_SECS: u32 = 10;
/// Default number of bucket intervals kept.
const DEFAULT_AGGREGATOR_SIZE: u32 = 1;
/// Default wait before flushing a bucket, in seconds.
const DEFAULT_INITIAL_DELAY_SECS: u32 = 30;
/// Default oldest accepted bucket timestamp: five days.
const DEFAULT_MAX_SECS_IN_PAST: u64 = 5 * 24 * 60 * 60;
/// Default newest accepted bucket timestamp.
const DEFAULT_MAX_SECS_IN_FUTURE: u64 = 60;
/// Default length limit for metric names and tag keys/values.
const DEFAULT_MAX_NAME_LENGTH: usize = 200;
/// Default maximum serialized size of one metrics request.
const DEFAULT_MAX_FLUSH_BYTES: usize = 5_000_000;
/// Partitions per second of bucket interval when `flush_partitions` is unset.
const PARTITIONS_PER_BUCKET_SECOND: u32 = 64;

/// How flush times of buckets are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlushBatching {
    /// Spread by project key (default).
    #[default]
    Project,
    /// Spread by bucket.
    Bucket,
    /// Spread by partition.
    Partition,
    /// No spreading; forces a single partition.
    None,
}

/// Settings of one metrics aggregator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AggregatorConfig {
    /// Time-bucket width in seconds.
    pub bucket_interval: u32,
    /// Number of bucket intervals kept.
    pub aggregator_size: u32,
    /// Seconds to wait before flushing a bucket; also the proxy-mode client-report flush delay.
    pub initial_delay: u32,
    /// Oldest accepted bucket timestamp, in seconds before now.
    pub max_secs_in_past: u64,
    /// Newest accepted bucket timestamp, in seconds after now.
    pub max_secs_in_future: u64,
    /// Per-project-key memory cap in bytes.
    pub max_project_key_bucket_bytes: Option<u64>,
    /// Global memory cap in bytes.
    pub max_total_bucket_bytes: Option<u64>,
    /// Number of flush partitions; see [`AggregatorConfig::effective_flush_partitions`].
    pub flush_partitions: Option<u32>,
    /// How flush times are spread (alias `shift_key`).
    #[serde(alias = "shift_key")]
    pub flush_batching: FlushBatching,
    /// Maximum metric name length.
    pub max_name_length: usize,
    /// Maximum tag key length.
    pub max_tag_key_length: usize,
    /// Maximum tag value length.
    pub max_tag_value_length: usize,
    /// Maximum serialized size of one metrics request.
    pub max_flush_bytes: usize,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            bucket_interval: DEFAULT_BUCKET_INTERVAL_SECS,
            aggregator_size: DEFAULT_AGGREGATOR_SIZE,
            initial_delay: DEFAULT_INITIAL_DELAY_SECS,
            max_secs_in_past: DEFAULT_MAX_SECS_IN_PAST,
            max_secs_in_future: DEFAULT_MAX_SECS_IN_FUTURE,
            max_project_key_bucket_bytes: None,
            max_total_bucket_bytes: None,
            flush_partitions: None,
            flush_batching: FlushBatching::Project,
            max_name_length: DEFAULT_MAX_NAME_LENGTH,
            max_tag_key_length: DEFAULT_MAX_NAME_LENGTH,
            max_tag_value_length: DEFAULT_MAX_NAME_LENGTH,
            max_flush_bytes: DEFAULT_MAX_FLUSH_BYTES,
        }
    }
}

impl AggregatorConfig {
    /// The number of flush partitions in effect: one with `flush_batching: none`, otherwise
    /// `flush_partitions` or, when unset, 64 × `bucket_interval` (at least one).
    pub fn effective_flush_partitions(&self) -> u32 {
        if self.flush_batching == FlushBatching::None {
            return 1;
        }
        self.flush_partitions
            .unwrap_or_else(|| PARTITIONS_PER_BUCKET_SECOND.saturating_mul(self.bucket_interval))
            .max(1)
    }
}

/// Metric namespaces a secondary aggregator condition can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricNamespace {
    /// Session metrics.
    Sessions,
    /// Transaction metrics.
    Transactions,
    /// Span metrics.
    Spans,
    /// Outcome metrics.
    Outcomes,
    /// Any other namespace name.
    #[serde(other)]
    Unsupported,
}

/// The only field a condition can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConditionField {
    /// The metric namespace.
    Namespace,
}

/// Selects the metrics routed to a secondary aggregator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum AggregatorCondition {
    /// `{"op":"eq","field":"namespace","value":"<namespace>"}`
    Eq {
        /// The tested field.
        field: ConditionField,
        /// The namespace it must equal.
        value: MetricNamespace,
    },
    /// All inner conditions hold.
    And {
        /// Inner conditions.
        inner: Vec<AggregatorCondition>,
    },
    /// At least one inner condition holds.
    Or {
        /// Inner conditions.
        inner: Vec<AggregatorCondition>,
    },
    /// The inner condition does not hold.
    Not {
        /// Inner condition.
        inner: Box<AggregatorCondition>,
    },
}

impl AggregatorCondition {
    /// Whether metrics of `namespace` satisfy the condition.
    pub fn matches(&self, namespace: MetricNamespace) -> bool {
        match self {
            AggregatorCondition::Eq {
                field: ConditionField::Namespace,
                value,
            } => *value == namespace,
            AggregatorCondition::And { inner } => {
                inner.iter().all(|condition| condition.matches(namespace))
            }
            AggregatorCondition::Or { inner } => {
                inner.iter().any(|condition| condition.matches(namespace))
            }
            AggregatorCondition::Not { inner } => !inner.matches(namespace),
        }
    }
}

/// One entry of `secondary_aggregators`; the first matching entry wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondaryAggregatorConfig {
    /// Name of the aggregator.
    pub name: String,
    /// Which metrics it receives.
    pub condition: AggregatorCondition,
    /// Its settings; same keys as `aggregator`.
    #[serde(default)]
    pub config: AggregatorConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let config = AggregatorConfig::default();
        assert_eq!(config.bucket_interval, 10);
        assert_eq!(config.aggregator_size, 1);
        assert_eq!(config.initial_delay, 30);
        assert_eq!(config.max_secs_in_past, 432_000);
        assert_eq!(config.max_secs_in_future, 60);
        assert_eq!(config.max_project_key_bucket_bytes, None);
        assert_eq!(config.max_total_bucket_bytes, None);
        assert_eq!(config.flush_partitions, None);
        assert_eq!(config.flush_batching, FlushBatching::Project);
        assert_eq!(config.max_name_length, 200);
        assert_eq!(config.max_tag_key_length, 200);
        assert_eq!(config.max_tag_value_length, 200);
        assert_eq!(config.max_flush_bytes, 5_000_000);
        assert_eq!(config.effective_flush_partitions(), 640);
    }

    #[test]
    fn shift_key_alias_and_single_partition_without_batching() {
        let config: AggregatorConfig =
            serde_yaml::from_str("shift_key: none\nflush_partitions: 8").unwrap();
        assert_eq!(config.flush_batching, FlushBatching::None);
        assert_eq!(config.effective_flush_partitions(), 1);
        let config: AggregatorConfig = serde_yaml::from_str("flush_partitions: 8").unwrap();
        assert_eq!(config.effective_flush_partitions(), 8);
        assert!(serde_yaml::from_str::<AggregatorConfig>("flush_batching: sometimes").is_err());
    }

    #[test]
    fn secondary_aggregator_conditions() {
        let yaml = r#"
- name: sessions
  condition: {op: eq, field: namespace, value: sessions}
  config: {bucket_interval: 60}
- name: not-spans
  condition:
    op: not
    inner: {op: or, inner: [{op: eq, field: namespace, value: spans}]}
- name: odd
  condition: {op: and, inner: [{op: eq, field: namespace, value: custom}]}
"#;
        let aggregators: Vec<SecondaryAggregatorConfig> = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(aggregators[0].config.bucket_interval, 60);
        assert_eq!(aggregators[0].config.initial_delay, 30);
        assert!(aggregators[0].condition.matches(MetricNamespace::Sessions));
        assert!(!aggregators[0].condition.matches(MetricNamespace::Spans));
        assert!(!aggregators[1].condition.matches(MetricNamespace::Spans));
        assert!(aggregators[1].condition.matches(MetricNamespace::Outcomes));
        assert!(aggregators[2]
            .condition
            .matches(MetricNamespace::Unsupported));
        assert!(serde_yaml::from_str::<AggregatorCondition>("{op: xor, inner: []}").is_err());
    }
}
