//! Kafka producer infrastructure of a processing relay (`processing.md` §7, `config.md` §4.11).
//!
//! The producer side knows nothing about message encodings: callers hand it encoded payloads with an
//! optional natural partition key and headers, and it takes care of everything between that and
//! a Kafka acknowledgement:
//!
//! * [`TopicRouter`] resolves `processing.topics` (single topic, topic on a secondary cluster,
//!   sharded list) against `kafka_config` / `secondary_kafka_configs`, and per message picks the
//!   shard (`key mod N`), the final 16-byte key (natural, counter, or reshuffled by
//!   `key_rate_limit`) and the sorted header block;
//! * [`KafkaProducers`] creates one librdkafka producer per referenced cluster config, validates
//!   topics at startup, enqueues without ever blocking ([`ProduceError::QueueFull`] means
//!   backpressure), reports each message's delivery, and flushes on shutdown;
//! * [`keyed_partition_key`] derives the key of messages with a natural UUID key;
//! * [`messages`] encodes the message kinds (§7.3) with their keys and headers.

#![warn(missing_docs)]

mod error;
mod key;
pub mod messages;
mod producer;
mod rate_limit;
mod routing;

pub use error::{
    DeliveryError, FlushError, KafkaConfigError, ProduceError, ProducerConfigName,
    TopicConfigError, TopicValidationError,
};
pub use key::{
    counter_partition_key, keyed_partition_key, shard_index, PartitionKey, PARTITION_KEY_LEN,
};
pub use messages::{EncodeKafkaMessage, MessageEncodeError};
pub use producer::{Delivered, KafkaDelivery, KafkaProducers};
pub use relay_config::KafkaTopic;
pub use routing::{
    KafkaMessage, ProducerConfig, RoutedMessage, TopicRouter, UnusedTopicAssignment,
    RESHUFFLED_HEADER_NAME, RESHUFFLED_HEADER_VALUE,
};
