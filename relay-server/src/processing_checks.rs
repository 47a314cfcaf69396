//! Startup checks of the `processing` section (config.md §5 items 3 and 5): a processing relay
//! with a broken Kafka or Redis setting fails before it binds, with a message naming the
//! setting. Unused topic assignments are logged as errors, and with
//! `processing.kafka_validate_topics` every assigned topic must exist.

use std::time::Duration;

use anyhow::Context;
use relay_config::Config;
use relay_kafka::KafkaProducers;
use relay_redis::RedisPools;

/// How long topic validation waits for broker metadata.
const TOPIC_VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Validates the Kafka and Redis settings of a processing relay.
pub fn check_processing_config(config: &Config) -> anyhow::Result<()> {
    RedisPools::from_relay_config(config)?;
    if !config.kafka_configured() {
        // The embedded default writes topic files instead (relay extension).
        return Ok(());
    }
    let producers = KafkaProducers::from_config(config.processing_config())
        .context("invalid processing.kafka_config / processing.topics")?;
    for unused in producers.unused_topic_assignments() {
        tracing::error!("{unused}");
    }
    if config.kafka_validate_topics() {
        producers.validate_topics(TOPIC_VALIDATION_TIMEOUT)?;
    }
    Ok(())
}
