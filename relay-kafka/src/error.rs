//! Errors of the Kafka layer: configuration and startup (`KafkaConfigError`), enqueueing
//! (`ProduceError`), delivery (`DeliveryError`) and shutdown (`FlushError`).
//!
//! Messages the spec fixes (`config.md` §4.11, §5) are reproduced verbatim; everything else names
//! the setting, parameter or topic that is at fault. Parameter values are never echoed by this
//! crate because they may hold credentials (`sasl.password`); librdkafka's own description of a
//! rejected value is passed on as the reason.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use relay_config::KafkaTopic;

/// Which `processing` setting holds the parameters of a producer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProducerConfigName {
    /// `processing.kafka_config`, used by topics without `config`.
    Default,
    /// An entry of `processing.secondary_kafka_configs`.
    Secondary(String),
}

impl fmt::Display for ProducerConfigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProducerConfigName::Default => f.write_str("processing.kafka_config"),
            ProducerConfigName::Secondary(name) => {
                write!(f, "processing.secondary_kafka_configs.{name}")
            }
        }
    }
}

/// A Kafka setting that prevents a processing relay from starting.
#[derive(Debug, thiserror::Error)]
pub enum KafkaConfigError {
    /// A topic assignment is unusable; `topic` is the CamelCase internal topic name.
    #[error("invalid kafka configuration for topic '{topic}'")]
    InvalidTopicConfig {
        /// The logical topic whose assignment is at fault.
        topic: KafkaTopic,
        /// What is wrong with it.
        #[source]
        cause: TopicConfigError,
    },
    /// librdkafka rejected a producer parameter (unknown name or invalid value).
    #[error("invalid kafka parameter '{parameter}' in {config}: {reason}")]
    InvalidParameter {
        /// The setting that lists the parameter.
        config: ProducerConfigName,
        /// The parameter name as configured.
        parameter: String,
        /// librdkafka's description of the problem.
        reason: String,
    },
    /// librdkafka accepted every parameter but refused to create the producer, typically because
    /// parameters contradict each other.
    #[error("failed to create the kafka producer configured in {config}")]
    ProducerCreation {
        /// The setting whose parameters were used.
        config: ProducerConfigName,
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// `kafka_validate_topics` is set and a topic could not be confirmed on its cluster.
    #[error("failed to validate the topic with name {topic_name}")]
    TopicValidation {
        /// The Kafka topic name.
        topic_name: String,
        /// Why validation failed.
        #[source]
        cause: TopicValidationError,
    },
}

/// Why a topic assignment is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicConfigError {
    /// The assignment names a `config` that `processing.secondary_kafka_configs` lacks.
    #[error("unknown kafka config name")]
    UnknownConfigName {
        /// The name that was referenced.
        name: String,
    },
    /// A sharded assignment without shards (only constructible programmatically; the config
    /// parser rejects `[]`).
    #[error("a sharded topic list must not be empty")]
    EmptyShardList,
}

/// Why a topic failed validation.
#[derive(Debug, thiserror::Error)]
pub enum TopicValidationError {
    /// The metadata request failed (broker unreachable, timeout).
    #[error("fetching the topic metadata failed")]
    MetadataFetch(#[source] KafkaError),
    /// The broker answered without the topic.
    #[error("the broker returned no metadata for the topic")]
    Missing,
    /// The broker answered with an error for the topic (e.g. unknown topic).
    #[error("the broker reported an error for the topic: {0}")]
    Broker(RDKafkaErrorCode),
    /// The topic exists without partitions, so nothing can be produced to it.
    #[error("the topic has no partitions")]
    NoPartitions,
}

/// A message could not be enqueued into the Kafka client; nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The local producer queue is at `queue.buffering.max.messages` or `…max.kbytes`. The
    /// caller should apply backpressure (HTTP 503) instead of dropping the message.
    #[error("the kafka producer queue is full, cannot enqueue a message for topic '{topic_name}'")]
    QueueFull {
        /// The logical topic.
        topic: KafkaTopic,
        /// The Kafka topic the message was routed to.
        topic_name: Arc<str>,
    },
    /// The message exceeds the producer's `message.max.bytes`.
    #[error(
        "a message of {size} bytes exceeds the kafka producer's message.max.bytes \
         for topic '{topic_name}'"
    )]
    MessageTooLarge {
        /// The logical topic.
        topic: KafkaTopic,
        /// The Kafka topic the message was routed to.
        topic_name: Arc<str>,
        /// Payload size in bytes.
        size: usize,
    },
    /// Any other enqueue failure (e.g. the producer hit a fatal error).
    #[error("failed to enqueue a message for topic '{topic_name}'")]
    Enqueue {
        /// The logical topic.
        topic: KafkaTopic,
        /// The Kafka topic the message was routed to.
        topic_name: Arc<str>,
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
}

impl ProduceError {
    /// Whether the failure is a full local queue, i.e. temporary and a reason for backpressure
    /// rather than an `internal` outcome.
    pub fn is_queue_full(&self) -> bool {
        matches!(self, ProduceError::QueueFull { .. })
    }
}

/// An enqueued message was not acknowledged by Kafka.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// librdkafka gave up after its own retries (`message.timeout.ms`, fatal broker error).
    #[error("kafka did not acknowledge a message for topic '{topic_name}'")]
    Failed {
        /// The logical topic.
        topic: KafkaTopic,
        /// The Kafka topic the message was sent to.
        topic_name: Arc<str>,
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// The producer was dropped (without flushing) while the message was in flight.
    #[error(
        "the kafka producer shut down before a message for topic '{topic_name}' was acknowledged"
    )]
    ProducerDropped {
        /// The logical topic.
        topic: KafkaTopic,
        /// The Kafka topic the message was sent to.
        topic_name: Arc<str>,
    },
}

/// Flushing did not finish within its timeout.
#[derive(Debug, thiserror::Error)]
#[error("{in_flight} kafka messages were not acknowledged within {timeout:?}")]
pub struct FlushError {
    /// Messages still queued or awaiting acknowledgement over all producers (librdkafka's
    /// out-queue length, which also counts pending client events).
    pub in_flight: usize,
    /// The timeout that was exceeded.
    pub timeout: Duration,
    /// librdkafka's error of the first producer that did not finish.
    #[source]
    pub source: KafkaError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_messages_are_verbatim() {
        let error = KafkaConfigError::InvalidTopicConfig {
            topic: KafkaTopic::Profiles,
            cause: TopicConfigError::UnknownConfigName {
                name: "missing".into(),
            },
        };
        assert_eq!(
            error.to_string(),
            "invalid kafka configuration for topic 'Profiles'"
        );
        let cause = std::error::Error::source(&error).unwrap();
        assert_eq!(cause.to_string(), "unknown kafka config name");

        let error = KafkaConfigError::TopicValidation {
            topic_name: "ingest-events".into(),
            cause: TopicValidationError::Missing,
        };
        assert_eq!(
            error.to_string(),
            "failed to validate the topic with name ingest-events"
        );
    }

    #[test]
    fn producer_config_names_point_at_the_setting() {
        assert_eq!(
            ProducerConfigName::Default.to_string(),
            "processing.kafka_config"
        );
        assert_eq!(
            ProducerConfigName::Secondary("big".into()).to_string(),
            "processing.secondary_kafka_configs.big"
        );
        let error = KafkaConfigError::InvalidParameter {
            config: ProducerConfigName::Secondary("big".into()),
            parameter: "queue.buffering.max.messages".into(),
            reason: "out of range".into(),
        };
        assert_eq!(
            error.to_string(),
            "invalid kafka parameter 'queue.buffering.max.messages' in \
             processing.secondary_kafka_configs.big: out of range"
        );
    }

    #[test]
    fn only_queue_full_is_backpressure() {
        let full = ProduceError::QueueFull {
            topic: KafkaTopic::Events,
            topic_name: "ingest-events".into(),
        };
        assert!(full.is_queue_full());
        let too_large = ProduceError::MessageTooLarge {
            topic: KafkaTopic::Events,
            topic_name: "ingest-events".into(),
            size: 10,
        };
        assert!(!too_large.is_queue_full());
    }
}
