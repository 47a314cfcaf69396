//! What processors hand to the store: [`StoreRequest`]s, each a group of Kafka messages that
//! belong together (an event with its attachment chunks and user reports, one check-in, ...)
//! plus the quantities it delivers.
//!
//! Invariant: every item a processor took out of the envelope either ends up in exactly one
//! store request's `quantities` or was tracked as an outcome by the processor. If a request
//! cannot be produced (encoding failure, Kafka queue full after retries, delivery failure), its
//! quantities become `invalid/internal` outcomes, so the accounting stays exact.

use relay_kafka::{EncodeKafkaMessage, KafkaMessage, KafkaTopic, MessageEncodeError};
use relay_protocol::DataCategory;
use smallvec::SmallVec;

/// Data categories and quantities, as produced by `Item::quantities`.
pub type Quantities = SmallVec<[(DataCategory, usize); 4]>;

/// Messages that are produced together and in order.
#[derive(Debug, Default)]
pub struct StoreRequest {
    pub messages: Vec<(KafkaTopic, KafkaMessage)>,
    /// What the request delivers; becomes an outcome if it cannot be produced.
    pub quantities: Quantities,
}

impl StoreRequest {
    /// A request accounting for `quantities`.
    pub fn new(quantities: impl IntoIterator<Item = (DataCategory, usize)>) -> StoreRequest {
        StoreRequest {
            messages: Vec::new(),
            quantities: quantities.into_iter().collect(),
        }
    }

    /// Encodes and appends one message.
    pub fn push(
        &mut self,
        topic: KafkaTopic,
        message: &impl EncodeKafkaMessage,
    ) -> Result<(), MessageEncodeError> {
        self.messages.push((topic, message.to_kafka_message()?));
        Ok(())
    }
}

/// Everything the processors produced for one envelope.
#[derive(Debug, Default)]
pub struct ProcessingOutput {
    pub requests: Vec<StoreRequest>,
    /// Metric buckets (session metrics, span usage) for the metrics aggregator.
    pub buckets: Vec<crate::services::metrics::ProjectBucket>,
}

impl ProcessingOutput {
    pub fn add(&mut self, request: StoreRequest) {
        if !request.messages.is_empty() {
            self.requests.push(request);
        }
    }

    /// Adds a request of exactly one message. An encoding failure (a bug: relay's message
    /// types always encode) is logged and returned so the caller records the outcome for the
    /// data the message carried.
    pub fn add_message(
        &mut self,
        quantities: impl IntoIterator<Item = (DataCategory, usize)>,
        topic: KafkaTopic,
        message: &impl EncodeKafkaMessage,
    ) -> Result<(), MessageEncodeError> {
        let mut request = StoreRequest::new(quantities);
        match request.push(topic, message) {
            Ok(()) => {
                self.add(request);
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    ?topic,
                    "cannot encode kafka message"
                );
                Err(error)
            }
        }
    }
}
