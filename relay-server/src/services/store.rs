//! The store: where a processing relay's Kafka messages go (`processing.md` §7).
//!
//! Two sinks share one interface:
//! * [`StoreSink::Kafka`]: the librdkafka producers of `processing.kafka_config`, with topic
//!   routing, sharding and keys (relay-kafka). Enqueueing itself never blocks; a local queue
//!   that stays full through the retries is reported to the caller, which turns it into
//!   backpressure or an outcome.
//! * [`StoreSink::Files`] (relay extension, the embedded default): with processing enabled but
//!   no `kafka_config`, every message is appended to one line-delimited file per Kafka topic in
//!   the output directory, with exactly the bytes Kafka would get: JSON messages as they are,
//!   msgpack and protobuf messages base64-encoded. A newcomer can `tail -f` a topic. Each
//!   message is one append to the page cache, also from the aggregators' async tasks; that
//!   short write is accepted because this sink serves the single-user embedded default, not
//!   production throughput.
//!
//! Every message is enqueued through [`StoreSink::send_with_retries_blocking`] (worker threads)
//! or [`StoreSink::send_with_retries`] (async tasks): one retry policy for a full Kafka queue.
//!
//! Invariant: a message handed to either that returns `Ok` is either delivered or
//! reported as failed by its [`Delivery`]; nothing is dropped without the caller knowing.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use parking_lot::Mutex;
use relay_config::Config;
use relay_kafka::messages::{topic_encoding, MessageEncoding, OutcomeMessage};
use relay_kafka::EncodeKafkaMessage;
use relay_kafka::{
    DeliveryError, KafkaDelivery, KafkaMessage, KafkaProducers, KafkaTopic, ProduceError,
    RoutedMessage, TopicRouter,
};

/// Why the store could not be created.
#[derive(Debug, thiserror::Error)]
pub enum StoreSetupError {
    /// `processing.kafka_config` / `processing.topics` are invalid.
    #[error("invalid processing.kafka_config / processing.topics: {0}")]
    Kafka(#[from] relay_kafka::KafkaConfigError),
    /// The output directory of the embedded default cannot be created.
    #[error("cannot create the topic output directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Receives every Kafka message of a processing relay; cheap to clone.
#[derive(Clone)]
pub enum StoreSink {
    Kafka(Arc<KafkaProducers>),
    Files(Arc<TopicFiles>),
}

impl StoreSink {
    /// Produces one outcome message to `outcomes` or `outcomes_billing`, retrying while the
    /// queue is full like every other message ([`StoreSink::send_with_retries`]). Failures are
    /// logged: an outcome about lost data cannot itself become an outcome.
    pub async fn produce_outcome(&self, message: &OutcomeMessage) {
        let topic = message.topic();
        let encoded = match message.to_kafka_message() {
            Ok(encoded) => encoded,
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "cannot encode outcome"
                );
                return;
            }
        };
        match self.send_with_retries(topic, encoded).await {
            // Delivery reports of outcomes are not awaited; librdkafka logs failures.
            Ok(_delivery) => {}
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "cannot produce outcome"
                );
            }
        }
    }

    /// Kafka when `processing.kafka_config` is set, otherwise the topic files in
    /// `output_directory`.
    pub fn from_config(
        config: &Config,
        output_directory: &Path,
    ) -> Result<StoreSink, StoreSetupError> {
        let processing = config.processing_config();
        if processing.kafka_config.is_empty() {
            let router = TopicRouter::from_config(processing)?;
            let files = TopicFiles::new(output_directory.to_owned(), router)?;
            return Ok(StoreSink::Files(Arc::new(files)));
        }
        Ok(StoreSink::Kafka(Arc::new(KafkaProducers::from_config(
            processing,
        )?)))
    }

    /// Enqueues one message, retrying while the Kafka client's queue is full
    /// ([`PRODUCE_RETRIES`] times, [`PRODUCE_RETRY_INTERVAL`] apart); blocks the thread between
    /// attempts. For worker threads, where the pause is backpressure; async code uses
    /// [`StoreSink::send_with_retries`].
    pub fn send_with_retries_blocking(
        &self,
        topic: KafkaTopic,
        message: KafkaMessage,
    ) -> Result<Delivery, ProduceError> {
        let mut prepared = self.prepare(topic, message);
        let mut retries = QueueFullRetries::default();
        loop {
            let result = prepared.try_send();
            if !retries.retry_after(&result) {
                return result;
            }
            std::thread::sleep(PRODUCE_RETRY_INTERVAL);
        }
    }

    /// Like [`StoreSink::send_with_retries_blocking`], but waits between attempts without
    /// blocking the async runtime.
    pub async fn send_with_retries(
        &self,
        topic: KafkaTopic,
        message: KafkaMessage,
    ) -> Result<Delivery, ProduceError> {
        let mut prepared = self.prepare(topic, message);
        let mut retries = QueueFullRetries::default();
        loop {
            let result = prepared.try_send();
            if !retries.retry_after(&result) {
                return result;
            }
            tokio::time::sleep(PRODUCE_RETRY_INTERVAL).await;
        }
    }

    /// Routes a message for [`PreparedMessage::try_send`], which can be retried while the
    /// Kafka client's queue is full (see [`PRODUCE_RETRIES`]).
    fn prepare(&self, topic: KafkaTopic, message: KafkaMessage) -> PreparedMessage<'_> {
        match self {
            StoreSink::Kafka(producers) => {
                PreparedMessage::Kafka(producers, producers.route(topic, message))
            }
            StoreSink::Files(files) => PreparedMessage::Files(files, topic, Some(message)),
        }
    }

    /// Waits until everything enqueued is acknowledged, at most `timeout`. Blocks the thread.
    pub fn flush(&self, timeout: Duration) {
        match self {
            StoreSink::Kafka(producers) => {
                if let Err(error) = producers.flush(timeout) {
                    tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "kafka messages were not all delivered before shutdown"
                    );
                }
            }
            // Every message was written through to the file already.
            StoreSink::Files(_) => {}
        }
    }
}

/// How often enqueueing into a full Kafka client queue is retried before the message's data
/// becomes an outcome; with [`PRODUCE_RETRY_INTERVAL`] the retries span about a second, long
/// enough for a burst to drain from librdkafka's queue.
pub const PRODUCE_RETRIES: u32 = 20;

/// Pause between produce retries.
pub const PRODUCE_RETRY_INTERVAL: Duration = Duration::from_millis(50);

/// The retry policy of both [`StoreSink::send_with_retries_blocking`] and
/// [`StoreSink::send_with_retries`]: only a full queue is retried, at most [`PRODUCE_RETRIES`]
/// times.
#[derive(Default)]
struct QueueFullRetries {
    attempts: u32,
}

impl QueueFullRetries {
    /// Whether to pause and try again after `result`; counts the retry.
    fn retry_after(&mut self, result: &Result<Delivery, ProduceError>) -> bool {
        let queue_full = matches!(result, Err(error) if error.is_queue_full());
        if queue_full && self.attempts < PRODUCE_RETRIES {
            self.attempts += 1;
            return true;
        }
        false
    }
}

/// A routed message, ready to be enqueued (possibly several times while the queue is full).
enum PreparedMessage<'a> {
    Kafka(&'a KafkaProducers, RoutedMessage),
    /// The message is taken by the first write; topic files never report a full queue.
    Files(&'a TopicFiles, KafkaTopic, Option<KafkaMessage>),
}

impl PreparedMessage<'_> {
    /// Enqueues the message without blocking.
    fn try_send(&mut self) -> Result<Delivery, ProduceError> {
        match self {
            PreparedMessage::Kafka(producers, routed) => {
                producers.send_routed(routed).map(Delivery::Kafka)
            }
            PreparedMessage::Files(files, topic, message) => {
                if let Some(message) = message.take() {
                    files.write(*topic, message);
                }
                Ok(Delivery::Written)
            }
        }
    }
}

/// The acknowledgement of one enqueued message.
pub enum Delivery {
    Kafka(KafkaDelivery),
    /// Written to a topic file: done.
    Written,
}

impl Delivery {
    /// Resolves once the message is stored or definitely failed.
    pub async fn wait(self) -> Result<(), DeliveryError> {
        match self {
            Delivery::Kafka(delivery) => delivery.await.map(|_| ()),
            Delivery::Written => Ok(()),
        }
    }
}

/// One line-delimited file per Kafka topic (the embedded default).
pub struct TopicFiles {
    directory: PathBuf,
    router: TopicRouter,
    /// Opened in append mode; each message is one `write` of a whole line, so readers never
    /// see partial lines and nothing is buffered in relay.
    files: Mutex<HashMap<Arc<str>, File>>,
}

impl TopicFiles {
    fn new(directory: PathBuf, router: TopicRouter) -> Result<TopicFiles, StoreSetupError> {
        std::fs::create_dir_all(&directory).map_err(|source| StoreSetupError::Directory {
            path: directory.clone(),
            source,
        })?;
        Ok(TopicFiles {
            directory,
            router,
            files: Mutex::new(HashMap::new()),
        })
    }

    /// The file a Kafka topic's messages are appended to: `<topic>.jsonl` for JSON topics,
    /// `<topic>.b64` (one base64 message per line) for msgpack and protobuf topics.
    pub fn file_name(topic: KafkaTopic, topic_name: &str) -> String {
        match topic_encoding(topic) {
            MessageEncoding::Json => format!("{topic_name}.jsonl"),
            MessageEncoding::Msgpack | MessageEncoding::Protobuf => format!("{topic_name}.b64"),
        }
    }

    fn write(&self, topic: KafkaTopic, message: KafkaMessage) {
        let routed = self.router.route(topic, message);
        let mut line = match topic_encoding(topic) {
            MessageEncoding::Json => routed.payload,
            MessageEncoding::Msgpack | MessageEncoding::Protobuf => {
                base64::engine::general_purpose::STANDARD
                    .encode(&routed.payload)
                    .into_bytes()
            }
        };
        line.push(b'\n');
        let mut files = self.files.lock();
        let writer = match files.get_mut(&routed.topic_name) {
            Some(writer) => writer,
            None => {
                let path = self
                    .directory
                    .join(Self::file_name(topic, &routed.topic_name));
                let file = match OpenOptions::new().create(true).append(true).open(&path) {
                    Ok(file) => file,
                    Err(error) => {
                        tracing::error!(path = %path.display(), error = %error, "cannot open topic file, message lost");
                        return;
                    }
                };
                files.entry(routed.topic_name.clone()).or_insert(file)
            }
        };
        if let Err(error) = writer.write_all(&line) {
            tracing::error!(topic = %routed.topic_name, error = %error, "cannot write topic file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_queue_is_retried_and_at_most_produce_retries_times() {
        let full = || {
            Err(ProduceError::QueueFull {
                topic: KafkaTopic::Events,
                topic_name: "ingest-events".into(),
            })
        };
        let mut retries = QueueFullRetries::default();
        for _ in 0..PRODUCE_RETRIES {
            assert!(retries.retry_after(&full()));
        }
        assert!(!retries.retry_after(&full()));

        let mut retries = QueueFullRetries::default();
        assert!(!retries.retry_after(&Ok(Delivery::Written)));
        let too_large = Err(ProduceError::MessageTooLarge {
            topic: KafkaTopic::Events,
            topic_name: "ingest-events".into(),
            size: 10,
        });
        assert!(!retries.retry_after(&too_large));
    }

    fn files_config(directory: &Path) -> Config {
        let mut config = Config::default();
        config.values.processing.enabled = true;
        config.values.output.directory = Some(directory.to_owned());
        config
    }

    #[test]
    fn files_sink_writes_json_as_is_and_msgpack_as_base64_lines() {
        let directory = tempfile::tempdir().unwrap();
        let config = files_config(directory.path());
        let sink = StoreSink::from_config(&config, directory.path()).unwrap();
        let json = KafkaMessage {
            key: None,
            headers: Vec::new(),
            payload: br#"{"outcome":3}"#.to_vec(),
        };
        let msgpack = KafkaMessage {
            key: None,
            headers: Vec::new(),
            payload: vec![0x81, 0xa1, b'a', 0x01],
        };
        for _ in 0..2 {
            assert!(matches!(
                sink.send_with_retries_blocking(KafkaTopic::Outcomes, json.clone()),
                Ok(Delivery::Written)
            ));
        }
        assert!(sink
            .send_with_retries_blocking(KafkaTopic::Events, msgpack)
            .is_ok());
        sink.flush(Duration::from_secs(1));

        let outcomes = std::fs::read_to_string(directory.path().join("outcomes.jsonl")).unwrap();
        assert_eq!(outcomes, "{\"outcome\":3}\n{\"outcome\":3}\n");
        let events = std::fs::read_to_string(directory.path().join("ingest-events.b64")).unwrap();
        assert_eq!(events, "gaFhAQ==\n");
    }
}
