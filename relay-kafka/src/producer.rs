//! The librdkafka producers of a processing relay and the produce semantics of
//! `processing.md` §7.7.
//!
//! `KafkaProducers` owns one `FutureProducer` per cluster config that a topic references and a
//! [`TopicRouter`] that decides each message's topic, key and headers. Producing never blocks:
//! `send` either enqueues into librdkafka's local queue and hands back a future of the
//! delivery report, or fails at once, with [`ProduceError::QueueFull`] when the queue is at its
//! configured bound so the caller can answer with backpressure instead of losing the message.
//! Delivery reports arrive after librdkafka's own retries; a failed one is the caller's cue to
//! account the item as an `internal` outcome.
//!
//! Dropping the producers discards whatever is still queued, so a graceful shutdown must call
//! [`KafkaProducers::flush`] first. `flush` and `validate_topics` block the calling thread;
//! async callers run them on a blocking thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use relay_config::{KafkaTopic, ProcessingConfig};

use crate::error::{
    DeliveryError, FlushError, KafkaConfigError, ProduceError, TopicValidationError,
};
use crate::routing::{
    KafkaMessage, ProducerConfig, RoutedMessage, TopicRouter, UnusedTopicAssignment,
};

/// Confirmation that Kafka stored a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The logical topic.
    pub topic: KafkaTopic,
    /// The Kafka topic (shard) that stored the message.
    pub topic_name: Arc<str>,
    /// Partition within the topic.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// The delivery report of one enqueued message; resolves once Kafka acknowledged the message or
/// librdkafka gave up on it. Dropping it does not cancel the delivery.
#[must_use = "a dropped delivery report hides delivery failures"]
pub struct KafkaDelivery {
    report: DeliveryFuture,
    topic: KafkaTopic,
    topic_name: Arc<str>,
}

impl KafkaDelivery {
    /// The Kafka topic (shard) the message was routed to.
    pub fn topic_name(&self) -> &str {
        &self.topic_name
    }
}

impl Future for KafkaDelivery {
    type Output = Result<Delivered, DeliveryError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let report = ready!(Pin::new(&mut self.report).poll(context));
        let topic = self.topic;
        let topic_name = Arc::clone(&self.topic_name);
        Poll::Ready(match report {
            Ok(Ok(delivery)) => Ok(Delivered {
                topic,
                topic_name,
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Ok(Err((source, _undelivered_message))) => Err(DeliveryError::Failed {
                topic,
                topic_name,
                source,
            }),
            Err(_canceled) => Err(DeliveryError::ProducerDropped { topic, topic_name }),
        })
    }
}

/// The Kafka producers of a processing relay, with topic routing.
pub struct KafkaProducers {
    router: TopicRouter,
    /// One per `router.producer_configs()`, at the same positions.
    producers: Vec<FutureProducer>,
}

impl KafkaProducers {
    /// Resolves the topic assignments of `config` and creates one producer per referenced
    /// cluster config (`kafka_config` and the used `secondary_kafka_configs` entries).
    ///
    /// Creating a producer does not contact the brokers; see [`Self::validate_topics`].
    pub fn from_config(config: &ProcessingConfig) -> Result<Self, KafkaConfigError> {
        Self::from_router(TopicRouter::from_config(config)?)
    }

    /// Creates the producers for an already resolved router.
    pub fn from_router(router: TopicRouter) -> Result<Self, KafkaConfigError> {
        let producers = router
            .producer_configs()
            .iter()
            .map(create_producer)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { router, producers })
    }

    /// The routing decisions (topic names per logical topic, cluster configs).
    pub fn router(&self) -> &TopicRouter {
        &self.router
    }

    /// Keys under `processing.topics` that name no logical topic, each displaying as the
    /// startup error `unused topic assignment '<key>'`.
    pub fn unused_topic_assignments(&self) -> &[UnusedTopicAssignment] {
        self.router.unused_topic_assignments()
    }

    /// Fetches the metadata of every routed Kafka topic from its cluster (`kafka_validate_topics`);
    /// the first topic that is missing, in error, without partitions or unreachable within
    /// `timeout` fails with `failed to validate the topic with name …`. Blocks the thread.
    ///
    /// Whether asking for a missing topic creates it depends on the broker's
    /// `auto.create.topics.enable` and the producer's `allow.auto.create.topics`.
    pub fn validate_topics(&self, timeout: Duration) -> Result<(), KafkaConfigError> {
        for (producer_index, topic_name) in self.router.producer_topics() {
            let producer = &self.producers[producer_index];
            validate_topic(producer, &topic_name, timeout).map_err(|cause| {
                KafkaConfigError::TopicValidation {
                    topic_name: topic_name.to_string(),
                    cause,
                }
            })?;
        }
        Ok(())
    }

    /// Routes `message` (shard, key, headers) and enqueues it without blocking.
    ///
    /// On success the returned future reports whether Kafka acknowledged the message. A full
    /// local queue fails with [`ProduceError::QueueFull`] immediately.
    pub fn send(
        &self,
        topic: KafkaTopic,
        message: KafkaMessage,
    ) -> Result<KafkaDelivery, ProduceError> {
        self.send_routed(&self.router.route(topic, message))
    }

    /// Routes a message once, for callers that retry [`KafkaProducers::send_routed`] while the
    /// queue is full: the payload is not copied per attempt and the routing (shard, counter or
    /// reshuffled key) stays the same.
    pub fn route(&self, topic: KafkaTopic, message: KafkaMessage) -> RoutedMessage {
        self.router.route(topic, message)
    }

    /// Enqueues an already routed message without blocking (see [`KafkaProducers::send`]).
    pub fn send_routed(&self, routed: &RoutedMessage) -> Result<KafkaDelivery, ProduceError> {
        let topic = routed.topic;
        // In bounds: `producers` was built from `router.producer_configs()`, whose positions
        // the router hands out.
        let producer = &self.producers[routed.producer_index];
        let topic_name = Arc::clone(&routed.topic_name);

        let mut record = FutureRecord::to(&routed.topic_name)
            .key(&routed.key[..])
            .payload(&routed.payload[..]);
        // No header block at all for messages without headers (`processing.md` §7.6).
        if !routed.headers.is_empty() {
            let headers = routed.headers.iter().fold(
                OwnedHeaders::new_with_capacity(routed.headers.len()),
                |headers, (name, value)| {
                    headers.insert(Header {
                        key: name,
                        value: Some(value),
                    })
                },
            );
            record = record.headers(headers);
        }

        match producer.send_result(record) {
            Ok(report) => Ok(KafkaDelivery {
                report,
                topic,
                topic_name,
            }),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                Err(ProduceError::QueueFull { topic, topic_name })
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                Err(ProduceError::MessageTooLarge {
                    topic,
                    topic_name,
                    size: routed.payload.len(),
                })
            }
            Err((source, _)) => Err(ProduceError::Enqueue {
                topic,
                topic_name,
                source,
            }),
        }
    }

    /// Messages queued or awaiting acknowledgement over all producers, plus librdkafka's own
    /// pending client events (librdkafka's out-queue length); zero once everything is flushed.
    pub fn in_flight_count(&self) -> usize {
        self.producers
            .iter()
            .map(|producer| usize::try_from(producer.in_flight_count()).unwrap_or(0))
            .sum()
    }

    /// Waits until every enqueued message is acknowledged or failed, at most `timeout` in total
    /// over all producers, sending batches right away regardless of `queue.buffering.max.ms`.
    /// Blocks the thread; used for graceful shutdown.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let deadline = Instant::now() + timeout;
        let mut first_failure = None;
        for producer in &self.producers {
            // Later producers still get a final non-waiting flush after an earlier one used
            // up the time, which sends whatever they have ready.
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Err(error) = flush_producer(producer, remaining) {
                first_failure.get_or_insert(error);
            }
        }
        match first_failure {
            None => Ok(()),
            Some(source) => Err(FlushError {
                in_flight: self.in_flight_count(),
                timeout,
                source,
            }),
        }
    }
}

/// Flushes one producer: waits until every queued message is delivered or `timeout` passed.
///
/// rdkafka's flush polls in steps and treats the batching delay (`queue.buffering.max.ms`) as
/// running, so a flush takes up to that delay; relay's shutdown budget accounts for it.
fn flush_producer(producer: &FutureProducer, timeout: Duration) -> Result<(), KafkaError> {
    producer.flush(rdkafka::util::Timeout::After(timeout))
}

fn create_producer(config: &ProducerConfig) -> Result<FutureProducer, KafkaConfigError> {
    let mut client_config = ClientConfig::new();
    for param in &config.params {
        client_config.set(&param.name, &param.value);
    }
    client_config.create().map_err(|error| match error {
        KafkaError::ClientConfig(_, description, parameter, _value) => {
            KafkaConfigError::InvalidParameter {
                config: config.name.clone(),
                parameter,
                reason: description,
            }
        }
        source => KafkaConfigError::ProducerCreation {
            config: config.name.clone(),
            source,
        },
    })
}

fn validate_topic(
    producer: &FutureProducer,
    topic_name: &str,
    timeout: Duration,
) -> Result<(), TopicValidationError> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic_name), timeout)
        .map_err(TopicValidationError::MetadataFetch)?;
    let topic = metadata
        .topics()
        .iter()
        .find(|topic| topic.name() == topic_name)
        .ok_or(TopicValidationError::Missing)?;
    if let Some(error) = topic.error() {
        return Err(TopicValidationError::Broker(RDKafkaErrorCode::from(error)));
    }
    if topic.partitions().is_empty() {
        return Err(TopicValidationError::NoPartitions);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use relay_config::KafkaConfigParam;

    use super::*;
    use crate::error::ProducerConfigName;
    use crate::routing::KafkaMessage;

    fn param(name: &str, value: &str) -> KafkaConfigParam {
        KafkaConfigParam {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn unknown_parameter_is_named_with_its_setting() {
        let config = ProcessingConfig {
            kafka_config: vec![param("no.such.parameter", "1")],
            ..ProcessingConfig::default()
        };
        let Err(error) = KafkaProducers::from_config(&config) else {
            panic!("an unknown librdkafka parameter must be rejected");
        };
        let message = error.to_string();
        assert!(
            message.starts_with(
                "invalid kafka parameter 'no.such.parameter' in processing.kafka_config: "
            ),
            "{message}"
        );
    }

    #[test]
    fn invalid_value_is_named_with_its_secondary_setting() {
        let mut config: ProcessingConfig = serde_yaml::from_str(
            "{secondary_kafka_configs: {big: []}, topics: {events: {name: e, config: big}}}",
        )
        .unwrap();
        config.secondary_kafka_configs.insert(
            "big".into(),
            vec![param("queue.buffering.max.messages", "lots")],
        );
        let Err(error) = KafkaProducers::from_config(&config) else {
            panic!("an invalid librdkafka value must be rejected");
        };
        let KafkaConfigError::InvalidParameter {
            config, parameter, ..
        } = &error
        else {
            panic!("expected an invalid parameter error, got {error:?}");
        };
        assert_eq!(config, &ProducerConfigName::Secondary("big".into()));
        assert_eq!(parameter, "queue.buffering.max.messages");
    }

    #[test]
    fn oversized_message_is_refused_at_enqueue() {
        const SMALLEST_MESSAGE_MAX_BYTES: usize = 1000;
        let config = ProcessingConfig {
            kafka_config: vec![param(
                "message.max.bytes",
                &SMALLEST_MESSAGE_MAX_BYTES.to_string(),
            )],
            ..ProcessingConfig::default()
        };
        let producers = KafkaProducers::from_config(&config).unwrap();
        let message = KafkaMessage {
            payload: vec![0; 2 * SMALLEST_MESSAGE_MAX_BYTES],
            ..KafkaMessage::default()
        };
        let Err(error) = producers.send(KafkaTopic::Attachments, message) else {
            panic!("an oversized message must be refused");
        };
        assert!(!error.is_queue_full());
        assert_eq!(
            error.to_string(),
            "a message of 2000 bytes exceeds the kafka producer's message.max.bytes \
             for topic 'ingest-attachments'"
        );
    }

    #[test]
    fn producers_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KafkaProducers>();
        fn assert_send<T: Send>() {}
        assert_send::<KafkaDelivery>();
    }

    #[test]
    fn unreferenced_secondary_configs_are_not_created() {
        let mut config = ProcessingConfig::default();
        config
            .secondary_kafka_configs
            .insert("unused".into(), vec![param("no.such.parameter", "1")]);
        let producers = KafkaProducers::from_config(&config).unwrap();
        assert_eq!(producers.router().producer_configs().len(), 1);
    }

    #[test]
    fn topic_errors_come_before_producer_creation() {
        let mut config: ProcessingConfig =
            serde_yaml::from_str("topics: {items: {name: i, config: absent}}").unwrap();
        config.kafka_config = vec![param("no.such.parameter", "1")];
        let Err(error) = KafkaProducers::from_config(&config) else {
            panic!("an unknown secondary config must be rejected");
        };
        assert_eq!(
            error.to_string(),
            "invalid kafka configuration for topic 'Items'"
        );
    }
}
