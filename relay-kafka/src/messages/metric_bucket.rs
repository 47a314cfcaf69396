//! Metric bucket messages (JSON, §7.3.8) on ingest-metrics.
//!
//! Only the plain ("legacy") value encodings are written: counter → number, distribution →
//! array of numbers, set → ascending array of `u32`, gauge → `{last, min, max, sum, count}`.
//! The bucket `width` is not part of the message. Messages have no natural partition key (the
//! router assigns a counter key) and carry the header `namespace` (e.g. `sessions`), taken
//! from the metric's MRI.
//!
//! Invariants checked by [`MetricBucketMessage::new`]: the name is an MRI
//! `<type>:<namespace>/<name>[@<unit>]` whose type letter matches the value, and every float
//! is finite (JSON has no NaN or infinity).

use std::collections::{BTreeMap, BTreeSet};

use relay_protocol::ProjectId;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::{EncodeKafkaMessage, MessageEncodeError};
use crate::PartitionKey;

/// Message kind named in encoding errors.
const MESSAGE_KIND: &str = "metric";

/// Header holding the metric namespace.
const NAMESPACE_HEADER: &str = "namespace";

/// Separates the type letter from the namespace in an MRI.
const MRI_TYPE_SEPARATOR: char = ':';

/// Separates the namespace from the metric name in an MRI.
const MRI_NAMESPACE_SEPARATOR: char = '/';

/// Number of top-level keys of a message with `received_at`.
const MAX_MESSAGE_FIELDS: usize = 9;

/// Why a metric bucket cannot become a message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricBucketMessageError {
    /// The name is not an MRI.
    #[error("metric name `{name}` is not an MRI of the form `<type>:<namespace>/<name>[@<unit>]`")]
    InvalidMri {
        /// The rejected name.
        name: String,
    },
    /// The MRI's type letter differs from the value's type.
    #[error(
        "metric `{name}` has a `{value_type}` bucket value, which does not match its MRI type"
    )]
    TypeMismatch {
        /// The metric name.
        name: String,
        /// The value's type letter.
        value_type: &'static str,
    },
    /// A value is NaN or infinite, which JSON cannot represent.
    #[error("metric `{name}` has a NaN or infinite value, which JSON cannot represent")]
    NonFiniteValue {
        /// The metric name.
        name: String,
    },
}

/// A gauge's summary.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GaugeValue {
    /// Last value set.
    pub last: f64,
    /// Minimum value.
    pub min: f64,
    /// Maximum value.
    pub max: f64,
    /// Sum of all values.
    pub sum: f64,
    /// Number of values.
    pub count: u64,
}

/// A bucket's value; the variant decides the `type` letter.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricBucketValue {
    /// `c`: the counter's sum.
    Counter(f64),
    /// `d`: all recorded values, in recording order.
    Distribution(Vec<f64>),
    /// `s`: the distinct hashed values, ascending.
    Set(BTreeSet<u32>),
    /// `g`: the gauge summary.
    Gauge(GaugeValue),
}

impl MetricBucketValue {
    /// The `type` letter: `c`, `d`, `s` or `g`.
    pub fn type_code(&self) -> &'static str {
        match self {
            MetricBucketValue::Counter(_) => "c",
            MetricBucketValue::Distribution(_) => "d",
            MetricBucketValue::Set(_) => "s",
            MetricBucketValue::Gauge(_) => "g",
        }
    }

    fn is_finite(&self) -> bool {
        match self {
            MetricBucketValue::Counter(value) => value.is_finite(),
            MetricBucketValue::Distribution(values) => values.iter().all(|value| value.is_finite()),
            MetricBucketValue::Set(_) => true,
            MetricBucketValue::Gauge(gauge) => [gauge.last, gauge.min, gauge.max, gauge.sum]
                .iter()
                .all(|value| value.is_finite()),
        }
    }
}

impl Serialize for MetricBucketValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MetricBucketValue::Counter(value) => serializer.serialize_f64(*value),
            MetricBucketValue::Distribution(values) => serializer.collect_seq(values),
            MetricBucketValue::Set(values) => serializer.collect_seq(values),
            MetricBucketValue::Gauge(gauge) => gauge.serialize(serializer),
        }
    }
}

/// One metric bucket message.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricBucketMessage {
    org_id: u64,
    project_id: ProjectId,
    name: String,
    value: MetricBucketValue,
    timestamp: u64,
    tags: BTreeMap<String, String>,
    retention_days: u16,
    received_at: Option<u64>,
    /// The MRI's namespace; only the `namespace` header.
    namespace: String,
}

impl MetricBucketMessage {
    /// A message without `received_at` (add it with [`Self::with_received_at`]).
    ///
    /// `timestamp` is the bucket start in unix seconds; `tags` are written sorted by key.
    pub fn new(
        org_id: u64,
        project_id: ProjectId,
        name: String,
        value: MetricBucketValue,
        timestamp: u64,
        tags: BTreeMap<String, String>,
        retention_days: u16,
    ) -> Result<Self, MetricBucketMessageError> {
        let Some((type_code, namespace)) = parse_mri(&name) else {
            return Err(MetricBucketMessageError::InvalidMri { name });
        };
        if type_code != value.type_code() {
            return Err(MetricBucketMessageError::TypeMismatch {
                name,
                value_type: value.type_code(),
            });
        }
        if !value.is_finite() {
            return Err(MetricBucketMessageError::NonFiniteValue { name });
        }
        let namespace = namespace.to_owned();
        Ok(MetricBucketMessage {
            org_id,
            project_id,
            name,
            value,
            timestamp,
            tags,
            retention_days,
            received_at: None,
            namespace,
        })
    }

    /// Sets `received_at`: the earliest receive time (unix seconds) of the bucket's data.
    pub fn with_received_at(mut self, received_at: u64) -> Self {
        self.received_at = Some(received_at);
        self
    }

    /// The metric namespace from the MRI, e.g. `sessions`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// Splits an MRI into its type letter and namespace; `None` when it is not an MRI.
fn parse_mri(name: &str) -> Option<(&str, &str)> {
    let (type_code, rest) = name.split_once(MRI_TYPE_SEPARATOR)?;
    let (namespace, metric_name) = rest.split_once(MRI_NAMESPACE_SEPARATOR)?;
    let is_known_type = matches!(type_code, "c" | "d" | "s" | "g");
    if !is_known_type || namespace.is_empty() || metric_name.is_empty() {
        return None;
    }
    Some((type_code, namespace))
}

impl Serialize for MetricBucketMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_struct("MetricBucketMessage", MAX_MESSAGE_FIELDS)?;
        message.serialize_field("org_id", &self.org_id)?;
        message.serialize_field("project_id", &self.project_id)?;
        message.serialize_field("name", &self.name)?;
        message.serialize_field("type", self.value.type_code())?;
        message.serialize_field("value", &self.value)?;
        message.serialize_field("timestamp", &self.timestamp)?;
        message.serialize_field("tags", &self.tags)?;
        message.serialize_field("retention_days", &self.retention_days)?;
        match self.received_at {
            Some(received_at) => message.serialize_field("received_at", &received_at)?,
            None => message.skip_field("received_at")?,
        }
        message.end()
    }
}

impl EncodeKafkaMessage for MetricBucketMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        serde_json::to_vec(self).map_err(|source| MessageEncodeError::Json {
            message_kind: MESSAGE_KIND,
            source,
        })
    }

    /// Metrics have no natural key: the router assigns a counter key.
    fn partition_key(&self) -> Option<PartitionKey> {
        None
    }

    /// `namespace`, e.g. `sessions`.
    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        vec![(
            NAMESPACE_HEADER.to_owned(),
            self.namespace.as_bytes().to_vec(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn session_tags() -> BTreeMap<String, String> {
        // Inserted out of order: the message must sort them.
        [
            ("sdk", "sentry.javascript.browser/8.0.0"),
            ("environment", "production"),
            ("release", "app@1.0"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }

    fn bucket(name: &str, value: MetricBucketValue) -> MetricBucketMessage {
        MetricBucketMessage::new(
            1,
            ProjectId(42),
            name.to_owned(),
            value,
            1_717_000_000,
            session_tags(),
            90,
        )
        .unwrap()
    }

    fn encoded_json(message: &MetricBucketMessage) -> (String, Value) {
        let text = String::from_utf8(message.encode().unwrap()).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    #[test]
    fn spec_example_is_reproduced_byte_for_byte() {
        let message = bucket(
            "s:sessions/user@none",
            MetricBucketValue::Set(BTreeSet::from([1_617_781_333])),
        )
        .with_received_at(1_717_000_012);
        let (text, _) = encoded_json(&message);
        assert_eq!(
            text,
            r#"{"org_id":1,"project_id":42,"name":"s:sessions/user@none","type":"s","value":[1617781333],"timestamp":1717000000,"tags":{"environment":"production","release":"app@1.0","sdk":"sentry.javascript.browser/8.0.0"},"retention_days":90,"received_at":1717000012}"#
        );
    }

    #[test]
    fn counter_is_a_float_and_every_field_has_its_json_type() {
        let message = bucket("c:sessions/session@none", MetricBucketValue::Counter(1.0))
            .with_received_at(1_717_000_001);
        let (text, value) = encoded_json(&message);
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "org_id",
                "project_id",
                "name",
                "type",
                "value",
                "timestamp",
                "tags",
                "retention_days",
                "received_at"
            ]
        );
        assert!(text.contains(r#""value":1.0,"#));
        assert!(value["value"].is_f64());
        assert!(value["org_id"].is_u64());
        assert!(value["project_id"].is_u64());
        assert!(value["timestamp"].is_u64());
        assert!(value["retention_days"].is_u64());
        assert!(value["received_at"].is_u64());
        assert_eq!(value["type"], "c");
        assert_eq!(value["name"], "c:sessions/session@none");
        assert_eq!(
            value["tags"],
            json!({
                "environment": "production",
                "release": "app@1.0",
                "sdk": "sentry.javascript.browser/8.0.0"
            })
        );
        assert!(value.get("width").is_none());
    }

    #[test]
    fn received_at_is_omitted_when_unknown() {
        let message = bucket("c:sessions/session@none", MetricBucketValue::Counter(2.5));
        let (text, value) = encoded_json(&message);
        assert!(value.get("received_at").is_none());
        assert!(text.ends_with(r#""retention_days":90}"#));
    }

    #[test]
    fn set_values_are_ascending_unique_u32() {
        let values = BTreeSet::from([u32::MAX, 3, 1, 3]);
        let message = bucket("s:sessions/error@none", MetricBucketValue::Set(values));
        let (_, value) = encoded_json(&message);
        assert_eq!(value["value"], json!([1, 3, 4_294_967_295u64]));
        assert!(value["value"].as_array().unwrap().iter().all(Value::is_u64));
    }

    #[test]
    fn distribution_is_an_array_of_floats_in_order() {
        let message = bucket(
            "d:sessions/duration@second",
            MetricBucketValue::Distribution(vec![3.0, 1.5, 2.0]),
        );
        let (text, value) = encoded_json(&message);
        assert_eq!(value["type"], "d");
        assert!(text.contains(r#""value":[3.0,1.5,2.0],"#));
    }

    #[test]
    fn gauge_is_an_object_with_last_min_max_sum_count() {
        let gauge = GaugeValue {
            last: 4.0,
            min: 1.0,
            max: 5.0,
            sum: 10.0,
            count: 3,
        };
        let message = bucket("g:sessions/load@none", MetricBucketValue::Gauge(gauge));
        let (text, value) = encoded_json(&message);
        assert_eq!(value["type"], "g");
        assert!(text.contains(r#""value":{"last":4.0,"min":1.0,"max":5.0,"sum":10.0,"count":3},"#));
        assert!(value["value"]["count"].is_u64());
        assert!(value["value"]["sum"].is_f64());
    }

    #[test]
    fn namespace_header_comes_from_the_mri_and_the_key_is_a_counter() {
        let message = bucket("c:sessions/session@none", MetricBucketValue::Counter(1.0));
        assert_eq!(message.namespace(), "sessions");
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(kafka_message.key, None);
        assert_eq!(
            kafka_message.headers,
            [("namespace".to_owned(), b"sessions".to_vec())]
        );
        assert_eq!(kafka_message.payload, message.encode().unwrap());
    }

    #[test]
    fn names_that_are_not_mris_are_rejected() {
        for name in [
            "sessions",
            "c:session@none",
            "c:/session",
            "c:sessions/",
            "x:sessions/session@none",
            "",
        ] {
            let result = MetricBucketMessage::new(
                1,
                ProjectId(1),
                name.to_owned(),
                MetricBucketValue::Counter(1.0),
                0,
                BTreeMap::new(),
                90,
            );
            assert_eq!(
                result,
                Err(MetricBucketMessageError::InvalidMri {
                    name: name.to_owned()
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn value_type_must_match_the_mri() {
        let result = MetricBucketMessage::new(
            1,
            ProjectId(1),
            "c:sessions/session@none".to_owned(),
            MetricBucketValue::Set(BTreeSet::new()),
            0,
            BTreeMap::new(),
            90,
        );
        assert_eq!(
            result,
            Err(MetricBucketMessageError::TypeMismatch {
                name: "c:sessions/session@none".to_owned(),
                value_type: "s",
            })
        );
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let gauge = GaugeValue {
            last: 1.0,
            min: f64::NEG_INFINITY,
            max: 1.0,
            sum: 1.0,
            count: 1,
        };
        let cases = [
            ("c:sessions/a@none", MetricBucketValue::Counter(f64::NAN)),
            (
                "d:sessions/a@none",
                MetricBucketValue::Distribution(vec![1.0, f64::INFINITY]),
            ),
            ("g:sessions/a@none", MetricBucketValue::Gauge(gauge)),
        ];
        for (name, value) in cases {
            let result = MetricBucketMessage::new(
                1,
                ProjectId(1),
                name.to_owned(),
                value,
                0,
                BTreeMap::new(),
                90,
            );
            assert_eq!(
                result,
                Err(MetricBucketMessageError::NonFiniteValue {
                    name: name.to_owned()
                })
            );
        }
    }
}
