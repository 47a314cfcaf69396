//! Routing of logical topics to Kafka topics, clusters and shards (`processing.md` §7.4–§7.6).
//!
//! `TopicRouter` is the broker-independent half of the producer: it resolves
//! `processing.topics` against `kafka_config` / `secondary_kafka_configs` once at startup and
//! then decides, per message, the Kafka topic (shard), the cluster, the final 16-byte key and
//! the header block. Keeping it free of librdkafka lets a sink that writes messages somewhere
//! else than Kafka reuse exactly the same decisions.
//!
//! Invariants after `TopicRouter::from_config` succeeded:
//! * every logical topic has at least one shard, and every shard names a producer config that
//!   exists (the default one or a referenced secondary one);
//! * `producer_configs()` lists each referenced config once, in order of first reference, so
//!   one producer is created per cluster config;
//! * a message's headers are sorted by name, with `sentry-reshuffled: 1` appended last when its
//!   key was rate limited.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use relay_config::{KafkaConfigParam, KafkaTopic, ProcessingConfig, TopicDetails};

use crate::error::{KafkaConfigError, ProducerConfigName, TopicConfigError};
use crate::key::{counter_partition_key, shard_index, PartitionKey};
use crate::rate_limit::KeyRateLimiter;

/// Header added to messages whose key was replaced because of `key_rate_limit`.
pub const RESHUFFLED_HEADER_NAME: &str = "sentry-reshuffled";
/// Value of [`RESHUFFLED_HEADER_NAME`].
pub const RESHUFFLED_HEADER_VALUE: &[u8] = b"1";

/// One message to produce, before routing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KafkaMessage {
    /// The natural 128-bit partition key (see [`crate::keyed_partition_key`]); `None` for
    /// messages without one, which then get the topic's counter key.
    pub key: Option<PartitionKey>,
    /// Kafka headers as `(name, value)`; their order does not matter, they are written sorted
    /// by name. Empty means the message is produced without a header block.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The encoded message.
    pub payload: Vec<u8>,
}

/// A message with every routing decision made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedMessage {
    /// The logical topic it was sent to.
    pub topic: KafkaTopic,
    /// The Kafka topic (the selected shard).
    pub topic_name: Arc<str>,
    /// The final key: the natural key, or a counter key when there was none or it was rate
    /// limited.
    pub key: PartitionKey,
    /// Headers sorted by name, `sentry-reshuffled` appended last when applicable.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The encoded message.
    pub payload: Vec<u8>,
    /// Whether the natural key was replaced because of the shard's `key_rate_limit` (the
    /// `sentry-reshuffled` header is then the last header).
    pub reshuffled: bool,
    /// Position of the producer config in [`TopicRouter::producer_configs`].
    pub(crate) producer_index: usize,
}

/// The parameters of one producer, i.e. one cluster config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// The setting the parameters come from.
    pub name: ProducerConfigName,
    /// librdkafka parameters, in configuration order.
    pub params: Vec<KafkaConfigParam>,
}

/// A key under `processing.topics` that names no logical topic. Displays as the startup error
/// `unused topic assignment '<key>'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedTopicAssignment {
    /// The configured key.
    pub key: String,
}

impl fmt::Display for UnusedTopicAssignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unused topic assignment '{}'", self.key)
    }
}

/// One Kafka topic of an assignment.
#[derive(Debug)]
struct Shard {
    topic_name: Arc<str>,
    producer_index: usize,
    rate_limiter: Option<KeyRateLimiter>,
}

/// Where one logical topic goes.
#[derive(Debug)]
struct TopicRoute {
    /// Non-empty, in configuration order.
    shards: Vec<Shard>,
    shard_count: NonZeroUsize,
    /// Source of counter keys; wraps around.
    counter: AtomicU32,
}

impl TopicRoute {
    fn next_counter_key(&self) -> PartitionKey {
        // Relaxed: the counter only spreads messages, it orders nothing.
        counter_partition_key(self.counter.fetch_add(1, Ordering::Relaxed))
    }

    fn shard(&self, key: &PartitionKey) -> &Shard {
        // In bounds: `shard_index` is below `shard_count`, which is `shards.len()`.
        &self.shards[shard_index(key, self.shard_count)]
    }
}

/// One value per logical topic, in the order of [`KafkaTopic::ALL`].
#[derive(Debug)]
struct PerTopic<T> {
    values: Vec<(KafkaTopic, T)>,
}

impl<T> PerTopic<T> {
    fn try_from_fn<E>(mut make: impl FnMut(KafkaTopic) -> Result<T, E>) -> Result<Self, E> {
        let values = KafkaTopic::ALL
            .into_iter()
            .map(|topic| make(topic).map(|value| (topic, value)))
            .collect::<Result<_, E>>()?;
        Ok(Self { values })
    }

    fn get(&self, topic: KafkaTopic) -> &T {
        // `values` holds every topic of `KafkaTopic::ALL`, so the lookup always succeeds; the
        // scan is over twelve entries.
        self.values
            .iter()
            .find(|(candidate, _)| *candidate == topic)
            .map(|(_, value)| value)
            .unwrap_or_else(|| unreachable!("PerTopic holds every KafkaTopic"))
    }
}

/// The resolved `processing.topics`: which Kafka topic, cluster and key every message gets.
#[derive(Debug)]
pub struct TopicRouter {
    producer_configs: Vec<ProducerConfig>,
    routes: PerTopic<TopicRoute>,
    unused: Vec<UnusedTopicAssignment>,
}

impl TopicRouter {
    /// Resolves every topic assignment; fails on a reference to an undefined secondary config
    /// or an empty shard list. Unknown keys under `topics` are collected, not rejected.
    pub fn from_config(config: &ProcessingConfig) -> Result<Self, KafkaConfigError> {
        let mut producer_configs = Vec::new();
        let started = Instant::now();
        let routes = PerTopic::try_from_fn(|topic| {
            let shards = config.topics.get(topic).topics();
            resolve_route(config, &shards, &mut producer_configs, started)
                .map_err(|cause| KafkaConfigError::InvalidTopicConfig { topic, cause })
        })?;
        let unused = config
            .topics
            .unused_keys()
            .map(|key| UnusedTopicAssignment {
                key: key.to_owned(),
            })
            .collect();
        Ok(Self {
            producer_configs,
            routes,
            unused,
        })
    }

    /// The producer configs referenced by at least one topic, each once.
    pub fn producer_configs(&self) -> &[ProducerConfig] {
        &self.producer_configs
    }

    /// Keys under `processing.topics` that name no logical topic.
    pub fn unused_topic_assignments(&self) -> &[UnusedTopicAssignment] {
        &self.unused
    }

    /// The Kafka topics of a logical topic, in shard order.
    pub fn topic_names(&self, topic: KafkaTopic) -> impl Iterator<Item = &str> {
        self.routes
            .get(topic)
            .shards
            .iter()
            .map(|shard| &*shard.topic_name)
    }

    /// Every (producer index, Kafka topic) pair some logical topic routes to, without repeats.
    pub(crate) fn producer_topics(&self) -> Vec<(usize, Arc<str>)> {
        let mut pairs: Vec<(usize, Arc<str>)> = Vec::new();
        for topic in KafkaTopic::ALL {
            for shard in &self.routes.get(topic).shards {
                let pair = (shard.producer_index, Arc::clone(&shard.topic_name));
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
        }
        pairs
    }

    /// Decides shard, key and headers of `message` (`processing.md` §7.4–§7.6).
    ///
    /// The shard is chosen by the natural key, or by a fresh counter key when there is none.
    /// When the shard rate limits the natural key, the message stays on that shard but gets a
    /// fresh counter key and the `sentry-reshuffled` header.
    pub fn route(&self, topic: KafkaTopic, message: KafkaMessage) -> RoutedMessage {
        let route = self.routes.get(topic);
        let natural_key = message.key;
        let selection_key = natural_key.unwrap_or_else(|| route.next_counter_key());
        let shard = route.shard(&selection_key);
        let reshuffled = match (&natural_key, &shard.rate_limiter) {
            (Some(key), Some(limiter)) => !limiter.admit(key, Instant::now()),
            _ => false,
        };
        let key = if reshuffled {
            route.next_counter_key()
        } else {
            selection_key
        };

        let mut headers = message.headers;
        // Stable, so repeated header names keep the caller's relative order.
        headers.sort_by(|left, right| left.0.cmp(&right.0));
        if reshuffled {
            headers.push((
                RESHUFFLED_HEADER_NAME.to_owned(),
                RESHUFFLED_HEADER_VALUE.to_vec(),
            ));
        }

        RoutedMessage {
            topic,
            topic_name: Arc::clone(&shard.topic_name),
            key,
            headers,
            payload: message.payload,
            reshuffled,
            producer_index: shard.producer_index,
        }
    }
}

fn resolve_route(
    config: &ProcessingConfig,
    shard_details: &[TopicDetails],
    producer_configs: &mut Vec<ProducerConfig>,
    started: Instant,
) -> Result<TopicRoute, TopicConfigError> {
    let shard_count =
        NonZeroUsize::new(shard_details.len()).ok_or(TopicConfigError::EmptyShardList)?;
    let shards = shard_details
        .iter()
        .map(|details| {
            let producer_index =
                producer_index_for(config, details.config.as_deref(), producer_configs)?;
            Ok(Shard {
                topic_name: Arc::from(details.name.as_str()),
                producer_index,
                rate_limiter: details
                    .key_rate_limit
                    .map(|limit| KeyRateLimiter::new(limit, started)),
            })
        })
        .collect::<Result<Vec<_>, TopicConfigError>>()?;
    Ok(TopicRoute {
        shards,
        shard_count,
        counter: AtomicU32::new(0),
    })
}

/// The position of the named cluster config in `producer_configs`, adding it on first use.
fn producer_index_for(
    config: &ProcessingConfig,
    secondary_name: Option<&str>,
    producer_configs: &mut Vec<ProducerConfig>,
) -> Result<usize, TopicConfigError> {
    let (name, params) = match secondary_name {
        None => (ProducerConfigName::Default, &config.kafka_config),
        Some(secondary_name) => {
            let params = config
                .secondary_kafka_configs
                .get(secondary_name)
                .ok_or_else(|| TopicConfigError::UnknownConfigName {
                    name: secondary_name.to_owned(),
                })?;
            (
                ProducerConfigName::Secondary(secondary_name.to_owned()),
                params,
            )
        }
    };
    if let Some(index) = producer_configs
        .iter()
        .position(|existing| existing.name == name)
    {
        return Ok(index);
    }
    producer_configs.push(ProducerConfig {
        name,
        params: params.clone(),
    });
    Ok(producer_configs.len() - 1)
}

#[cfg(test)]
mod tests {
    use relay_config::{KeyRateLimit, TopicAssignment};

    use super::*;
    use crate::key::counter_partition_key;

    fn processing(yaml: &str) -> ProcessingConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn keyed(key_byte: u8) -> KafkaMessage {
        KafkaMessage {
            key: Some([key_byte; 16]),
            ..KafkaMessage::default()
        }
    }

    #[test]
    fn defaults_route_every_topic_to_its_default_name_on_the_default_cluster() {
        let router = TopicRouter::from_config(&ProcessingConfig::default()).unwrap();
        for topic in KafkaTopic::ALL {
            assert_eq!(
                router.topic_names(topic).collect::<Vec<_>>(),
                vec![topic.default_topic_name()]
            );
        }
        assert_eq!(
            router.producer_configs(),
            &[ProducerConfig {
                name: ProducerConfigName::Default,
                params: Vec::new(),
            }]
        );
        assert!(router.unused_topic_assignments().is_empty());
    }

    #[test]
    fn secondary_configs_get_one_producer_each_and_only_when_referenced() {
        let config = processing(
            r#"
kafka_config: [{name: bootstrap.servers, value: "default:9092"}]
secondary_kafka_configs:
  big: [{name: bootstrap.servers, value: "big:9092"}]
  unreferenced: [{name: bootstrap.servers, value: "other:9092"}]
topics:
  events: {name: ev, config: big}
  ingest-attachments: [{name: att-0, config: big}, att-1]
"#,
        );
        let router = TopicRouter::from_config(&config).unwrap();
        let names: Vec<_> = router
            .producer_configs()
            .iter()
            .map(|producer| producer.name.clone())
            .collect();
        assert_eq!(
            names,
            vec![
                ProducerConfigName::Secondary("big".into()),
                ProducerConfigName::Default
            ]
        );
        assert_eq!(router.producer_configs()[0].params[0].value, "big:9092");

        let events = router.route(KafkaTopic::Events, keyed(1));
        assert_eq!(&*events.topic_name, "ev");
        assert_eq!(events.producer_index, 0);
        let attachments_on_secondary = router.route(KafkaTopic::Attachments, keyed(0));
        assert_eq!(&*attachments_on_secondary.topic_name, "att-0");
        assert_eq!(attachments_on_secondary.producer_index, 0);
        let attachments_on_default = router.route(KafkaTopic::Attachments, keyed(1));
        assert_eq!(&*attachments_on_default.topic_name, "att-1");
        assert_eq!(attachments_on_default.producer_index, 1);
    }

    #[test]
    fn unknown_secondary_config_names_the_topic_in_camel_case() {
        let config = processing("topics: {profiles: {name: p, config: missing}}");
        let error = TopicRouter::from_config(&config).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid kafka configuration for topic 'Profiles'"
        );
        let KafkaConfigError::InvalidTopicConfig { topic, cause } = error else {
            panic!("expected a topic config error, got {error:?}");
        };
        assert_eq!(topic, KafkaTopic::Profiles);
        assert_eq!(
            cause,
            TopicConfigError::UnknownConfigName {
                name: "missing".into()
            }
        );
        assert_eq!(cause.to_string(), "unknown kafka config name");

        let config = processing("topics: {ingest-metrics: [ok, {name: bad, config: nope}]}");
        let error = TopicRouter::from_config(&config).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid kafka configuration for topic 'MetricsSessions'"
        );
    }

    #[test]
    fn empty_shard_list_is_a_topic_error() {
        let mut config = ProcessingConfig::default();
        config.topics.spans = TopicAssignment::Sharded(Vec::new());
        let error = TopicRouter::from_config(&config).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid kafka configuration for topic 'Spans'"
        );
        assert!(matches!(
            error,
            KafkaConfigError::InvalidTopicConfig {
                cause: TopicConfigError::EmptyShardList,
                ..
            }
        ));
    }

    #[test]
    fn unused_keys_are_reported_with_the_spec_message() {
        let config = processing("topics: {bogus: x, events: e, also-bogus: [y]}");
        let router = TopicRouter::from_config(&config).unwrap();
        let messages: Vec<String> = router
            .unused_topic_assignments()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            vec![
                "unused topic assignment 'also-bogus'",
                "unused topic assignment 'bogus'"
            ]
        );
    }

    #[test]
    fn sharded_topics_select_key_mod_shard_count() {
        let config = processing("topics: {spans: [s0, s1, s2]}");
        let router = TopicRouter::from_config(&config).unwrap();
        for key_byte in [0u8, 1, 2, 3, 7, 200, 255] {
            let key = [key_byte; 16];
            let expected = (u128::from_be_bytes(key) % 3) as usize;
            let routed = router.route(KafkaTopic::Spans, keyed(key_byte));
            assert_eq!(&*routed.topic_name, format!("s{expected}"), "{key_byte}");
            assert_eq!(routed.key, key);
        }
    }

    #[test]
    fn unkeyed_messages_get_per_topic_counter_keys_round_robin() {
        let config = processing("topics: {spans: [s0, s1, s2]}");
        let router = TopicRouter::from_config(&config).unwrap();
        let mut shard_names = Vec::new();
        for counter in 0..6 {
            let routed = router.route(KafkaTopic::Spans, KafkaMessage::default());
            assert_eq!(routed.key, counter_partition_key(counter));
            shard_names.push(routed.topic_name.to_string());
        }
        assert_eq!(shard_names, ["s0", "s1", "s2", "s0", "s1", "s2"]);
        // Another topic has its own counter.
        let outcome = router.route(KafkaTopic::Outcomes, KafkaMessage::default());
        assert_eq!(outcome.key, counter_partition_key(0));
    }

    #[test]
    fn headers_are_sorted_by_name_and_absent_stays_absent() {
        let router = TopicRouter::from_config(&ProcessingConfig::default()).unwrap();
        let message = KafkaMessage {
            key: None,
            headers: vec![
                ("sampled".into(), b"true".to_vec()),
                ("project_id".into(), b"42".to_vec()),
            ],
            payload: b"payload".to_vec(),
        };
        let routed = router.route(KafkaTopic::Profiles, message);
        assert_eq!(
            routed.headers,
            vec![
                ("project_id".to_owned(), b"42".to_vec()),
                ("sampled".to_owned(), b"true".to_vec())
            ]
        );
        assert_eq!(routed.payload, b"payload");
        assert!(!routed.reshuffled);

        let routed = router.route(KafkaTopic::Events, KafkaMessage::default());
        assert!(routed.headers.is_empty());
    }

    #[test]
    fn rate_limited_keys_stay_on_their_shard_with_a_counter_key_and_the_header() {
        let mut config = ProcessingConfig::default();
        let limit = Some(KeyRateLimit {
            limit_per_window: 1,
            // An hour: the test cannot cross a window boundary.
            window_secs: 3600,
        });
        config.topics.events = TopicAssignment::Sharded(vec![
            TopicDetails {
                name: "e0".into(),
                config: None,
                key_rate_limit: limit,
            },
            TopicDetails {
                name: "e1".into(),
                config: None,
                key_rate_limit: limit,
            },
        ]);
        let router = TopicRouter::from_config(&config).unwrap();
        let hot_key = [0x01; 16]; // odd, so shard e1
        let message = KafkaMessage {
            key: Some(hot_key),
            headers: vec![("z".into(), b"z".to_vec()), ("a".into(), b"a".to_vec())],
            payload: Vec::new(),
        };

        let first = router.route(KafkaTopic::Events, message.clone());
        assert_eq!(&*first.topic_name, "e1");
        assert_eq!(first.key, hot_key);
        assert!(!first.reshuffled);

        let second = router.route(KafkaTopic::Events, message.clone());
        assert_eq!(&*second.topic_name, "e1");
        assert_eq!(second.key, counter_partition_key(0));
        assert!(second.reshuffled);
        let header_names: Vec<&str> = second.headers.iter().map(|h| h.0.as_str()).collect();
        assert_eq!(header_names, ["a", "z", "sentry-reshuffled"]);
        assert_eq!(second.headers[2].1, b"1");

        let third = router.route(KafkaTopic::Events, message);
        assert_eq!(third.key, counter_partition_key(1));

        // Unkeyed messages are never rate limited.
        for _ in 0..3 {
            let unkeyed = router.route(KafkaTopic::Events, KafkaMessage::default());
            assert!(!unkeyed.reshuffled);
        }
    }
}
