//! Tests of `KafkaProducers` against a real Kafka-compatible broker (tansu, started by
//! `scripts/services.sh`) at `127.0.0.1:9092`, or at `RELAY_TEST_KAFKA_BOOTSTRAP` when set.
//!
//! Each test creates its own uniquely named topics, so tests run in parallel and against a
//! broker that outlives them. Messages are read back by assigning partitions directly with
//! explicit offsets, because consumer-group joins are slow on tansu. "Broker down" is a local
//! listener that accepts connections and never answers, which keeps librdkafka waiting exactly
//! like an unresponsive broker, without depending on which ports happen to be free.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use relay_config::ProcessingConfig;
use relay_kafka::{
    counter_partition_key, DeliveryError, KafkaConfigError, KafkaMessage, KafkaProducers,
    KafkaTopic, ProduceError, TopicValidationError,
};

/// Environment variable overriding the broker address.
const BOOTSTRAP_ENV: &str = "RELAY_TEST_KAFKA_BOOTSTRAP";
/// The broker `scripts/services.sh` starts.
const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";
/// Upper bound for anything that needs the broker (topic creation, delivery, consumption).
const BROKER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a message for the unresponsive broker may wait before librdkafka fails it.
const DEAD_BROKER_MESSAGE_TIMEOUT_MS: &str = "100";
/// Linger of the flush test's producer: long enough that nothing is sent before the flush,
/// well within `BROKER_TIMEOUT` (rdkafka's flush waits the linger out).
const FLUSH_TEST_LINGER_MS: &str = "1000";
/// How long the broker may hold a fetch open for more data; short, because tests read small
/// amounts that are already there.
const CONSUMER_FETCH_WAIT_MS: &str = "10";
/// Consumer poll interval; only bounds how long one poll waits, not the test's duration.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

fn bootstrap_servers() -> String {
    std::env::var(BOOTSTRAP_ENV).unwrap_or_else(|_| DEFAULT_BOOTSTRAP.to_owned())
}

/// A topic name no other test (or earlier run against the same broker) uses.
fn unique_topic(purpose: &str) -> String {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "relay-kafka-test-{purpose}-{}-{nanos}-{sequence}",
        std::process::id()
    )
}

async fn create_topics(names: &[&str], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers())
        .create()
        .unwrap();
    let new_topics: Vec<NewTopic> = names
        .iter()
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(BROKER_TIMEOUT));
    let results = tokio::time::timeout(BROKER_TIMEOUT, admin.create_topics(&new_topics, &options))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no Kafka broker answered at {} (run scripts/services.sh)",
                bootstrap_servers()
            )
        })
        .unwrap();
    for result in results {
        if let Err((topic, code)) = result {
            panic!("creating topic {topic} failed: {code}");
        }
    }
}

/// Reads `topic` from offset 0 of every partition until `is_last` accepts a message
/// (included in the result), failing the test if that does not happen within `BROKER_TIMEOUT`.
fn consume_until(
    topic: &str,
    partitions: i32,
    mut is_last: impl FnMut(&[OwnedMessage]) -> bool,
) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers())
        .set("group.id", "relay-kafka-tests")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", CONSUMER_FETCH_WAIT_MS)
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        // Topics are created fresh per test, so they start at offset 0; asking for
        // `Offset::Beginning` would cost an extra offset lookup.
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(0))
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();

    let deadline = Instant::now() + BROKER_TIMEOUT;
    let mut messages = Vec::new();
    while messages.is_empty() || !is_last(&messages) {
        assert!(
            Instant::now() < deadline,
            "expected messages did not arrive on {topic}, got {} messages",
            messages.len()
        );
        if let Some(result) = consumer.poll(POLL_INTERVAL) {
            messages.push(result.unwrap().detach());
        }
    }
    messages
}

/// Reads the first `count` messages of `topic`.
fn consume(topic: &str, partitions: i32, count: usize) -> Vec<OwnedMessage> {
    consume_until(topic, partitions, |messages| messages.len() >= count)
}

/// Payload of the message that ends a test's output on a topic. Tests produce it after every
/// other message was acknowledged, so on a one-partition topic everything before it is exactly
/// what the test produced there: this proves the absence of further messages without waiting.
const END_MARKER: &[u8] = b"end-of-test";

/// Every message of a one-partition topic before its end marker.
fn consume_until_end_marker(topic: &str) -> Vec<OwnedMessage> {
    let mut messages = consume_until(topic, 1, |messages| {
        messages
            .last()
            .is_some_and(|message| message.payload() == Some(END_MARKER))
    });
    messages.pop();
    messages
}

fn processing_config(yaml: &str) -> ProcessingConfig {
    serde_yaml::from_str(yaml).unwrap()
}

fn header_list(message: &OwnedMessage) -> Option<Vec<(String, Vec<u8>)>> {
    message.headers().map(|headers| {
        headers
            .iter()
            .map(|header| {
                (
                    header.key.to_owned(),
                    header.value.unwrap_or_default().to_vec(),
                )
            })
            .collect()
    })
}

/// A local endpoint that accepts TCP connections but never speaks Kafka: librdkafka keeps
/// waiting for it like for a hung broker. Kept alive by the returned listener.
fn unresponsive_broker() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    (listener, address)
}

#[tokio::test]
async fn round_trip_with_key_and_headers() {
    let topic = unique_topic("round-trip");
    create_topics(&[&topic], 1).await;
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{}'}}], topics: {{events: '{topic}'}}}}",
        bootstrap_servers()
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();

    let natural_key = *b"0123456789abcdef";
    let keyed = KafkaMessage {
        key: Some(natural_key),
        headers: vec![
            ("sampled".into(), b"true".to_vec()),
            ("project_id".into(), b"42".to_vec()),
        ],
        payload: b"first payload".to_vec(),
    };
    let delivery = producers.send(KafkaTopic::Events, keyed).unwrap();
    assert_eq!(delivery.topic_name(), topic);
    let delivered = tokio::time::timeout(BROKER_TIMEOUT, delivery)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered.topic, KafkaTopic::Events);
    assert_eq!(&*delivered.topic_name, topic);
    assert_eq!((delivered.partition, delivered.offset), (0, 0));

    let unkeyed = KafkaMessage {
        key: None,
        headers: Vec::new(),
        payload: b"second payload".to_vec(),
    };
    let delivery = producers.send(KafkaTopic::Events, unkeyed).unwrap();
    let delivered = tokio::time::timeout(BROKER_TIMEOUT, delivery)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered.offset, 1);

    let messages = consume(&topic, 1, 2);
    assert_eq!(messages[0].key(), Some(&natural_key[..]));
    assert_eq!(messages[0].payload(), Some(&b"first payload"[..]));
    assert_eq!(
        header_list(&messages[0]),
        Some(vec![
            ("project_id".to_owned(), b"42".to_vec()),
            ("sampled".to_owned(), b"true".to_vec()),
        ])
    );
    assert_eq!(messages[1].key(), Some(&counter_partition_key(0)[..]));
    assert_eq!(messages[1].payload(), Some(&b"second payload"[..]));
    assert_eq!(header_list(&messages[1]), None);
}

#[tokio::test]
async fn sharded_assignment_routes_key_mod_shard_count() {
    let shards = [
        unique_topic("shard-0"),
        unique_topic("shard-1"),
        unique_topic("shard-2"),
    ];
    let shard_refs: Vec<&str> = shards.iter().map(String::as_str).collect();
    create_topics(&shard_refs, 1).await;
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{}'}}], \
          topics: {{ingest-spans: ['{}', '{}', '{}']}}}}",
        bootstrap_servers(),
        shards[0],
        shards[1],
        shards[2]
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();

    // Keys 0x00.., 0x01.., …: the 128-bit value mod 3 is not simply the last byte mod 3.
    let keys: Vec<[u8; 16]> = (0u8..9).map(|byte| [byte; 16]).collect();
    let mut deliveries = Vec::new();
    for key in &keys {
        let message = KafkaMessage {
            key: Some(*key),
            headers: Vec::new(),
            payload: key.to_vec(),
        };
        deliveries.push(producers.send(KafkaTopic::Spans, message).unwrap());
    }
    // Unkeyed messages take counter keys 0, 1, 2, …: one per shard, in order.
    for _ in 0..3 {
        let message = KafkaMessage {
            payload: b"unkeyed".to_vec(),
            ..KafkaMessage::default()
        };
        deliveries.push(producers.send(KafkaTopic::Spans, message).unwrap());
    }
    for delivery in deliveries {
        tokio::time::timeout(BROKER_TIMEOUT, delivery)
            .await
            .unwrap()
            .unwrap();
    }
    // Key value `i` selects shard `i`.
    for (shard_index, shard) in shards.iter().enumerate() {
        let marker = KafkaMessage {
            key: Some((shard_index as u128).to_be_bytes()),
            headers: Vec::new(),
            payload: END_MARKER.to_vec(),
        };
        let delivered = producers
            .send(KafkaTopic::Spans, marker)
            .unwrap()
            .await
            .unwrap();
        assert_eq!(&*delivered.topic_name, shard);
    }

    for (shard_index, shard) in shards.iter().enumerate() {
        let expected_keyed: Vec<[u8; 16]> = keys
            .iter()
            .filter(|key| u128::from_be_bytes(**key) % 3 == shard_index as u128)
            .copied()
            .collect();
        let messages = consume_until_end_marker(shard);
        let mut received_keyed = Vec::new();
        let mut received_unkeyed = Vec::new();
        for message in &messages {
            let key: [u8; 16] = message.key().unwrap().try_into().unwrap();
            if message.payload() == Some(&b"unkeyed"[..]) {
                received_unkeyed.push(key);
            } else {
                assert_eq!(message.payload(), Some(&key[..]));
                received_keyed.push(key);
            }
        }
        assert_eq!(received_keyed, expected_keyed, "shard {shard_index}");
        assert_eq!(
            received_unkeyed,
            vec![counter_partition_key(shard_index as u32)],
            "shard {shard_index}"
        );
    }
}

#[tokio::test]
async fn secondary_config_routing_and_delivery_failure_reports() {
    let on_secondary = unique_topic("secondary");
    let on_default = unique_topic("default");
    create_topics(&[&on_secondary, &on_default], 1).await;
    // The default cluster is down; the secondary one is the real broker.
    let (_listener, dead_address) = unresponsive_broker();
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{dead_address}'}}, \
                          {{name: message.timeout.ms, value: '{DEAD_BROKER_MESSAGE_TIMEOUT_MS}'}}], \
          secondary_kafka_configs: {{real: [{{name: bootstrap.servers, value: '{}'}}]}}, \
          topics: {{events: {{name: '{on_secondary}', config: real}}, \
                    transactions: '{on_default}'}}}}",
        bootstrap_servers()
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();

    let message = KafkaMessage {
        key: Some([7; 16]),
        headers: Vec::new(),
        payload: b"via secondary".to_vec(),
    };
    let delivery = producers.send(KafkaTopic::Events, message).unwrap();
    tokio::time::timeout(BROKER_TIMEOUT, delivery)
        .await
        .unwrap()
        .unwrap();
    let messages = consume(&on_secondary, 1, 1);
    assert_eq!(messages[0].payload(), Some(&b"via secondary"[..]));

    // The same broker holds `on_default`, but it is routed to the dead default cluster: its
    // message must fail after librdkafka's timeout and never arrive.
    let message = KafkaMessage {
        payload: b"via default".to_vec(),
        ..KafkaMessage::default()
    };
    let delivery = producers.send(KafkaTopic::Transactions, message).unwrap();
    let failure = tokio::time::timeout(BROKER_TIMEOUT, delivery)
        .await
        .unwrap()
        .unwrap_err();
    let DeliveryError::Failed {
        topic, topic_name, ..
    } = &failure
    else {
        panic!("expected a delivery failure, got {failure:?}");
    };
    assert_eq!(*topic, KafkaTopic::Transactions);
    assert_eq!(&**topic_name, on_default);
    assert_eq!(
        failure.to_string(),
        format!("kafka did not acknowledge a message for topic '{on_default}'")
    );

    // A producer that reaches `on_default` proves the failed message never arrived.
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{}'}}], \
          topics: {{transactions: '{on_default}'}}}}",
        bootstrap_servers()
    ));
    let reaching_producers = KafkaProducers::from_config(&config).unwrap();
    let marker = KafkaMessage {
        payload: END_MARKER.to_vec(),
        ..KafkaMessage::default()
    };
    reaching_producers
        .send(KafkaTopic::Transactions, marker)
        .unwrap()
        .await
        .unwrap();
    assert!(consume_until_end_marker(&on_default).is_empty());
}

#[tokio::test]
async fn topic_validation_succeeds_for_existing_topics_and_names_a_missing_one() {
    let existing = unique_topic("validate");
    create_topics(&[&existing], 2).await;
    let every_topic_to_existing = |except: Option<KafkaTopic>| -> String {
        KafkaTopic::ALL
            .iter()
            .filter(|topic| Some(**topic) != except)
            .map(|topic| format!("{}: '{existing}'", topic.logical_key()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{}'}}], topics: {{{}}}}}",
        bootstrap_servers(),
        every_topic_to_existing(None)
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();
    producers.validate_topics(BROKER_TIMEOUT).unwrap();

    let missing = unique_topic("missing");
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{}'}}, \
                          {{name: allow.auto.create.topics, value: 'false'}}], \
          topics: {{{}, items: ['{existing}', '{missing}']}}}}",
        bootstrap_servers(),
        every_topic_to_existing(Some(KafkaTopic::Items))
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();
    let error = producers.validate_topics(BROKER_TIMEOUT).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("failed to validate the topic with name {missing}")
    );
    assert!(
        matches!(
            error,
            KafkaConfigError::TopicValidation {
                cause: TopicValidationError::Broker(RDKafkaErrorCode::UnknownTopicOrPartition),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn topic_validation_fails_when_the_cluster_is_unreachable() {
    let (_listener, dead_address) = unresponsive_broker();
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{dead_address}'}}]}}"
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();
    let error = producers
        .validate_topics(Duration::from_millis(300))
        .unwrap_err();
    // Topics are validated in the spec's table order, so `events` comes first.
    assert_eq!(
        error.to_string(),
        "failed to validate the topic with name ingest-events"
    );
    assert!(matches!(
        error,
        KafkaConfigError::TopicValidation {
            cause: TopicValidationError::MetadataFetch(_),
            ..
        }
    ));
}

#[tokio::test]
async fn full_local_queue_fails_immediately_without_blocking() {
    let (_listener, dead_address) = unresponsive_broker();
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{dead_address}'}}, \
                          {{name: queue.buffering.max.messages, value: '2'}}]}}"
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();

    let mut accepted = Vec::new();
    for _ in 0..2 {
        accepted.push(
            producers
                .send(KafkaTopic::Outcomes, KafkaMessage::default())
                .unwrap(),
        );
    }
    let started = Instant::now();
    let error = producers
        .send(KafkaTopic::Outcomes, KafkaMessage::default())
        .err()
        .unwrap();
    let refusal_time = started.elapsed();
    assert!(error.is_queue_full(), "{error:?}");
    assert!(matches!(
        &error,
        ProduceError::QueueFull { topic: KafkaTopic::Outcomes, topic_name } if &**topic_name == "outcomes"
    ));
    assert_eq!(
        error.to_string(),
        "the kafka producer queue is full, cannot enqueue a message for topic 'outcomes'"
    );
    // Refusing is a local check; anything near a broker round trip would mean it blocked.
    assert!(refusal_time < Duration::from_millis(50), "{refusal_time:?}");
    assert_eq!(accepted.len(), 2);
}

#[tokio::test]
async fn flush_waits_for_every_acknowledgement() {
    const MESSAGE_COUNT: usize = 50;
    let topic = unique_topic("flush");
    create_topics(&[&topic], 1).await;
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{}'}}, \
                          {{name: queue.buffering.max.ms, value: '{FLUSH_TEST_LINGER_MS}'}}], \
          topics: {{monitors: '{topic}'}}}}",
        bootstrap_servers()
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();
    let deliveries: Vec<_> = (0..MESSAGE_COUNT)
        .map(|index| {
            let message = KafkaMessage {
                key: None,
                headers: Vec::new(),
                payload: index.to_string().into_bytes(),
            };
            producers.send(KafkaTopic::Monitors, message).unwrap()
        })
        .collect();
    // Batching (`queue.buffering.max.ms`) still holds the messages back here; the flush must
    // get every one of them acknowledged before it returns.
    assert!(producers.in_flight_count() >= MESSAGE_COUNT);

    producers.flush(BROKER_TIMEOUT).unwrap();
    assert_eq!(producers.in_flight_count(), 0);
    for (index, delivery) in deliveries.into_iter().enumerate() {
        let delivered = tokio::time::timeout(BROKER_TIMEOUT, delivery)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(delivered.offset, index as i64);
    }
    let messages = consume(&topic, 1, MESSAGE_COUNT);
    let payloads: Vec<String> = messages
        .iter()
        .map(|message| String::from_utf8(message.payload().unwrap().to_vec()).unwrap())
        .collect();
    let expected: Vec<String> = (0..MESSAGE_COUNT).map(|index| index.to_string()).collect();
    assert_eq!(payloads, expected);
}

#[tokio::test]
async fn flush_reports_what_could_not_be_delivered_in_time() {
    let (_listener, dead_address) = unresponsive_broker();
    let config = processing_config(&format!(
        "{{kafka_config: [{{name: bootstrap.servers, value: '{dead_address}'}}]}}"
    ));
    let producers = KafkaProducers::from_config(&config).unwrap();
    let _delivery = producers
        .send(KafkaTopic::Events, KafkaMessage::default())
        .unwrap();
    let timeout = Duration::from_millis(200);
    let error = producers.flush(timeout).unwrap_err();
    assert!(error.in_flight >= 1, "{error:?}");
    assert_eq!(error.timeout, timeout);
}
