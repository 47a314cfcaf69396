//! Outcome messages on `outcomes` / `outcomes-billing` (JSON, `outcomes.md` §5).
//!
//! One message per flushed outcome bucket of a project. Field order is fixed by the spec;
//! optional fields are omitted (never `null`) when absent, and `org_id` is omitted when 0.
//! Billing-critical outcomes (accepted, rate limited) go to the `outcomes_billing` logical
//! topic. Outcomes have no natural partition key (counter key) and no headers.

use chrono::{DateTime, Utc};
use relay_protocol::{DataCategory, EventId, OutcomeId, ProjectId};
use serde::{Serialize, Serializer};

use super::{EncodeKafkaMessage, MessageEncodeError};
use crate::{KafkaTopic, PartitionKey};

/// Outcome id of `accepted` (billing-critical).
pub const OUTCOME_ACCEPTED: u8 = OutcomeId::Accepted.as_u8();
/// Outcome id of `rate_limited` (billing-critical).
pub const OUTCOME_RATE_LIMITED: u8 = OutcomeId::RateLimited.as_u8();

/// Kind name used in encoding errors.
const MESSAGE_KIND: &str = "outcome";

/// Format of `timestamp`: RFC 3339 UTC with exactly six fractional digits and `Z`.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// Whether an outcome id goes to the `outcomes_billing` logical topic.
pub fn is_billing_outcome(outcome_id: u8) -> bool {
    OutcomeId::from_u8(outcome_id).is_some_and(OutcomeId::is_billing)
}

/// One outcome message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomeMessage {
    /// The bucket timestamp.
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    /// Organization id; omitted from the message when 0 (unknown).
    #[serde(skip_serializing_if = "is_zero")]
    pub org_id: u64,
    /// Project id.
    pub project_id: ProjectId,
    /// Numeric DSN key id; omitted when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<u64>,
    /// Outcome id (`outcomes.md` §1).
    pub outcome: u8,
    /// The bucket's `reason` tag; omitted when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The bucket's `event_id` tag (never set in practice); omitted when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    /// The bucket's `remote_addr` tag (never set in practice); omitted when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// The bucket's `source` tag; omitted when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Numeric data category id; omitted when the bucket had no or an invalid `category` tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<u32>,
    /// The counter value.
    pub quantity: u64,
}

impl OutcomeMessage {
    /// An outcome without reason, source, category, event id or remote address; add those
    /// with the `with_*` methods.
    pub fn new(
        timestamp: DateTime<Utc>,
        org_id: u64,
        project_id: ProjectId,
        key_id: Option<u64>,
        outcome_id: u8,
        quantity: u64,
    ) -> Self {
        OutcomeMessage {
            timestamp,
            org_id,
            project_id,
            key_id,
            outcome: outcome_id,
            reason: None,
            event_id: None,
            remote_addr: None,
            source: None,
            category: None,
            quantity,
        }
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the source.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets the category; [`DataCategory::Unknown`] has no numeric id and leaves the field
    /// omitted, like an invalid `category` tag.
    pub fn with_category(mut self, category: DataCategory) -> Self {
        self.category = category.value();
        self
    }

    /// Sets the event id.
    pub fn with_event_id(mut self, event_id: EventId) -> Self {
        self.event_id = Some(event_id);
        self
    }

    /// Sets the remote address.
    pub fn with_remote_addr(mut self, remote_addr: impl Into<String>) -> Self {
        self.remote_addr = Some(remote_addr.into());
        self
    }

    /// The logical topic: `outcomes_billing` for accepted and rate-limited outcomes, else
    /// `outcomes`.
    pub fn topic(&self) -> KafkaTopic {
        if is_billing_outcome(self.outcome) {
            return KafkaTopic::OutcomesBilling;
        }
        KafkaTopic::Outcomes
    }
}

impl EncodeKafkaMessage for OutcomeMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        serde_json::to_vec(self).map_err(|source| MessageEncodeError::Json {
            message_kind: MESSAGE_KIND,
            source,
        })
    }

    /// Outcomes have no natural key: the router assigns a counter key.
    fn partition_key(&self) -> Option<PartitionKey> {
        None
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn serialize_timestamp<S: Serializer>(
    timestamp: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&timestamp.format(TIMESTAMP_FORMAT))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn bucket_timestamp() -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_000_000, 0).unwrap()
    }

    fn encoded_json(message: &OutcomeMessage) -> (String, Value) {
        let bytes = message.encode().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    #[test]
    fn spec_example_is_reproduced_byte_for_byte() {
        let timestamp = DateTime::from_timestamp(1_717_000_000, 0).unwrap();
        let message = OutcomeMessage::new(timestamp, 1, ProjectId(42), Some(123), 2, 3)
            .with_reason("get_lost")
            .with_category(DataCategory::Error);
        let (text, _) = encoded_json(&message);
        assert_eq!(
            text,
            r#"{"timestamp":"2024-05-29T16:26:40.000000Z","org_id":1,"project_id":42,"key_id":123,"outcome":2,"reason":"get_lost","category":1,"quantity":3}"#
        );
    }

    #[test]
    fn every_field_in_spec_order_with_its_json_type() {
        let event_id = EventId::parse("9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a").unwrap();
        let message = OutcomeMessage::new(bucket_timestamp(), 7, ProjectId(42), Some(5), 3, 9)
            .with_reason("invalid_json")
            .with_event_id(event_id)
            .with_remote_addr("10.0.0.7")
            .with_source("relay-internal")
            .with_category(DataCategory::Attachment);
        let (_, value) = encoded_json(&message);
        let object = value.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "org_id",
                "project_id",
                "key_id",
                "outcome",
                "reason",
                "event_id",
                "remote_addr",
                "source",
                "category",
                "quantity"
            ]
        );
        assert_eq!(
            value,
            json!({
                "timestamp": "2024-05-29T16:26:40.000000Z",
                "org_id": 7,
                "project_id": 42,
                "key_id": 5,
                "outcome": 3,
                "reason": "invalid_json",
                "event_id": "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a",
                "remote_addr": "10.0.0.7",
                "source": "relay-internal",
                "category": 4,
                "quantity": 9,
            })
        );
        assert!(value["quantity"].is_u64());
        assert!(value["category"].is_u64());
    }

    #[test]
    fn absent_optional_fields_and_org_zero_are_omitted_not_null() {
        let message = OutcomeMessage::new(bucket_timestamp(), 0, ProjectId(42), None, 1, 1);
        let (text, _) = encoded_json(&message);
        assert_eq!(
            text,
            r#"{"timestamp":"2024-05-29T16:26:40.000000Z","project_id":42,"outcome":1,"quantity":1}"#
        );
    }

    #[test]
    fn unknown_category_is_omitted() {
        let message = OutcomeMessage::new(bucket_timestamp(), 1, ProjectId(1), None, 3, 1)
            .with_category(DataCategory::Unknown);
        let (_, value) = encoded_json(&message);
        assert!(value.get("category").is_none());
    }

    #[test]
    fn timestamp_has_exactly_six_fractional_digits() {
        let with_nanos = DateTime::from_timestamp(1_717_000_000, 123_456_789).unwrap();
        let message = OutcomeMessage::new(with_nanos, 1, ProjectId(1), None, 0, 1);
        let (_, value) = encoded_json(&message);
        assert_eq!(value["timestamp"], "2024-05-29T16:26:40.123456Z");
        let epoch = DateTime::from_timestamp(0, 0).unwrap();
        let message = OutcomeMessage::new(epoch, 1, ProjectId(1), None, 0, 1);
        let (_, value) = encoded_json(&message);
        assert_eq!(value["timestamp"], "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn accepted_and_rate_limited_go_to_the_billing_topic() {
        let topics: Vec<KafkaTopic> = (0..=6)
            .map(|outcome_id| {
                OutcomeMessage::new(bucket_timestamp(), 1, ProjectId(1), None, outcome_id, 1)
                    .topic()
            })
            .collect();
        assert_eq!(
            topics,
            [
                KafkaTopic::OutcomesBilling,
                KafkaTopic::Outcomes,
                KafkaTopic::OutcomesBilling,
                KafkaTopic::Outcomes,
                KafkaTopic::Outcomes,
                KafkaTopic::Outcomes,
                KafkaTopic::Outcomes,
            ]
        );
    }

    #[test]
    fn outcomes_have_counter_keys_and_no_headers() {
        let message = OutcomeMessage::new(bucket_timestamp(), 1, ProjectId(1), Some(1), 2, 1);
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(kafka_message.key, None);
        assert!(kafka_message.headers.is_empty());
        assert_eq!(kafka_message.payload, message.encode().unwrap());
    }
}
