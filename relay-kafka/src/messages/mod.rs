//! Encodings of the Kafka messages a processing relay produces (`processing.md` §7.3), their
//! natural partition keys (§7.4) and headers (§7.6).
//!
//! Each message is a typed struct built from typed inputs (ids, timestamps, payload bytes), so
//! nothing here knows about envelopes or server state. [`EncodeKafkaMessage`] turns a message
//! into the [`KafkaMessage`] the producer routes.
//!
//! Invariants of the encodings:
//! * msgpack messages are maps with string keys in the spec's field order, the `type`
//!   discriminator first; integers use their smallest msgpack encoding (rmp-serde's default);
//!   payloads are msgpack **bin**, ids are **str** (event ids as 32 lowercase hex characters,
//!   attachment ids hyphenated), IP addresses are plain strings. rmp-serde is not a
//!   human-readable format, so `Uuid`/`IpAddr` are never handed to it directly (they would
//!   turn into bytes / enum variants); dedicated serializers below write the string forms.
//! * JSON messages (outcomes, metrics, spans) carry no `type` discriminator and omit absent
//!   optional fields instead of writing `null`.
//! * protobuf messages (trace items) use hand-written `prost` structs whose field numbers are
//!   those of `sentry_protos`.
//! * Optional inputs that only influence routing (organization id, envelope event id, check-in
//!   routing hint) are kept on the message but never serialized.

mod attachment;
mod check_in;
mod event;
mod metric_bucket;
mod outcome;
mod profile;
mod replay_recording;
mod span;
mod trace_item;
mod user_report;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serializer;
use uuid::Uuid;

use crate::{KafkaMessage, KafkaTopic, PartitionKey};

pub use attachment::{
    prepare_attachment, AttachmentChunkMessage, AttachmentContent, AttachmentDescriptor,
    AttachmentInlining, AttachmentInput, AttachmentMessage, AttachmentPayload, PreparedAttachment,
    DEFAULT_ATTACHMENT_CHUNK_SIZE, UNNAMED_ATTACHMENT_NAME,
};
pub use check_in::{check_in_routing_hint, CheckInMessage};
pub use event::EventMessage;
pub use metric_bucket::{
    GaugeValue, MetricBucketMessage, MetricBucketMessageError, MetricBucketValue,
};
pub use outcome::{is_billing_outcome, OutcomeMessage, OUTCOME_ACCEPTED, OUTCOME_RATE_LIMITED};
pub use profile::{ProfileChunkAttachment, ProfileChunkMessage, ProfileMessage};
pub use replay_recording::{ReplayRecordingNotChunkedMessage, REPLAY_MESSAGE_OVERHEAD_BYTES};
pub use span::{SpanMessage, SpanMessageError};
pub use trace_item::{
    any_value, any_value_from_attribute, attributes_from_json, item_id_from_uuid, uuid_v7_at,
    AnyValue, ArrayValue, CategoryCount, KeyValue, KeyValueList, Outcomes, Timestamp, TraceItem,
    TraceItemMessage, TraceItemType,
};
pub use user_report::{normalize_user_report, UserReportError, UserReportMessage};

/// The wire format of a topic's messages (§7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageEncoding {
    /// msgpack maps with string keys.
    Msgpack,
    /// JSON objects.
    Json,
    /// protobuf (`sentry_protos.snuba.v1.TraceItem`).
    Protobuf,
}

/// The encoding of every message on a logical topic.
pub fn topic_encoding(topic: KafkaTopic) -> MessageEncoding {
    match topic {
        KafkaTopic::Events
        | KafkaTopic::Attachments
        | KafkaTopic::Transactions
        | KafkaTopic::Profiles
        | KafkaTopic::ReplayRecordings
        | KafkaTopic::Monitors
        | KafkaTopic::Feedback => MessageEncoding::Msgpack,
        KafkaTopic::Outcomes
        | KafkaTopic::OutcomesBilling
        | KafkaTopic::MetricsSessions
        | KafkaTopic::Spans => MessageEncoding::Json,
        KafkaTopic::Items => MessageEncoding::Protobuf,
    }
}

/// A message could not be encoded.
///
/// With the types used here encoding cannot fail in practice; the error exists because the
/// serializers report I/O-style failures through their signatures.
#[derive(Debug, thiserror::Error)]
pub enum MessageEncodeError {
    /// msgpack encoding of a message failed.
    #[error("failed to encode the `{message_kind}` Kafka message as msgpack: {source}")]
    Msgpack {
        /// The message kind, e.g. `event`.
        message_kind: &'static str,
        /// The encoder's error.
        #[source]
        source: rmp_serde::encode::Error,
    },
    /// JSON encoding of a message failed.
    #[error("failed to encode the `{message_kind}` Kafka message as JSON: {source}")]
    Json {
        /// The message kind, e.g. `outcome`.
        message_kind: &'static str,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
}

/// A message that can be handed to the producer: its encoded bytes, natural partition key and
/// headers.
pub trait EncodeKafkaMessage {
    /// The message encoded in its topic's format (§7.3).
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError>;

    /// The natural partition key (§7.4); `None` when the message has none (or its UUID is
    /// nil), in which case the router uses the topic's counter key.
    fn partition_key(&self) -> Option<PartitionKey>;

    /// The message's own headers as `(name, value)` (§7.6); empty (the default: most
    /// messages have none) means no header block. The router sorts them and appends
    /// `sentry-reshuffled` when it replaces the key.
    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }

    /// Everything the producer needs in one value.
    fn to_kafka_message(&self) -> Result<KafkaMessage, MessageEncodeError> {
        Ok(KafkaMessage {
            key: self.partition_key(),
            headers: self.headers(),
            payload: self.encode()?,
        })
    }
}

/// The `start_time`/`received` value of msgpack messages: the receive time in whole unix
/// seconds, or the current time when the receive time lies before the epoch (§7.3.1).
pub fn unix_seconds_or_now(received: DateTime<Utc>) -> u64 {
    let received_seconds = received.timestamp();
    if let Ok(seconds) = u64::try_from(received_seconds) {
        return seconds;
    }
    // A clock before 1970 cannot be represented; the spec substitutes "now".
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

/// Encodes a message as a msgpack map with string keys.
fn encode_msgpack<T: serde::Serialize>(
    message_kind: &'static str,
    message: &T,
) -> Result<Vec<u8>, MessageEncodeError> {
    rmp_serde::to_vec_named(message).map_err(|source| MessageEncodeError::Msgpack {
        message_kind,
        source,
    })
}

/// Writes bytes as msgpack bin (serde's default for `Bytes`/`Vec<u8>` would be an array of
/// integers).
fn serialize_binary<S: Serializer>(bytes: &bytes::Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// Writes a UUID as its hyphenated lowercase string.
fn serialize_hyphenated_uuid<S: Serializer>(uuid: &Uuid, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = Uuid::encode_buffer();
    serializer.serialize_str(uuid.hyphenated().encode_lower(&mut buffer))
}

/// Writes an optional IP address as a plain string (no port) or nil.
fn serialize_optional_ip<S: Serializer>(
    address: &Option<IpAddr>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match address {
        Some(address) => serializer.collect_str(address),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod test_support {
    //! Generic msgpack decoding so tests assert wire types, not Rust types.

    use rmpv::Value;

    /// Decodes one msgpack value and checks that nothing follows it.
    pub fn decode(bytes: &[u8]) -> Value {
        let mut reader = bytes;
        let value = rmpv::decode::read_value(&mut reader).unwrap();
        assert!(reader.is_empty(), "trailing bytes after the message");
        value
    }

    /// The map's entries with string keys, in wire order.
    pub fn map_entries(value: &Value) -> Vec<(String, Value)> {
        let Value::Map(entries) = value else {
            panic!("expected a msgpack map, got {value:?}");
        };
        entries
            .iter()
            .map(|(key, value)| {
                let Value::String(key) = key else {
                    panic!("expected a str key, got {key:?}");
                };
                (key.as_str().unwrap().to_owned(), value.clone())
            })
            .collect()
    }

    /// The keys of a map, in wire order.
    pub fn keys(value: &Value) -> Vec<String> {
        map_entries(value).into_iter().map(|(key, _)| key).collect()
    }

    /// The value under `key`.
    pub fn field(value: &Value, key: &str) -> Value {
        map_entries(value)
            .into_iter()
            .find(|(entry_key, _)| entry_key == key)
            .map(|(_, value)| value)
            .unwrap_or_else(|| panic!("missing key `{key}`"))
    }

    /// A msgpack str value's text.
    pub fn str_value(value: &Value) -> String {
        let Value::String(text) = value else {
            panic!("expected str, got {value:?}");
        };
        text.as_str().unwrap().to_owned()
    }

    /// A msgpack bin value's bytes.
    pub fn bin_value(value: &Value) -> Vec<u8> {
        let Value::Binary(bytes) = value else {
            panic!("expected bin, got {value:?}");
        };
        bytes.clone()
    }

    /// A msgpack unsigned integer.
    pub fn uint_value(value: &Value) -> u64 {
        let Value::Integer(integer) = value else {
            panic!("expected an integer, got {value:?}");
        };
        integer.as_u64().unwrap()
    }

    /// The bytes `fixstr(key)` followed by `value_bytes`, to check the exact encoding of a
    /// field (e.g. the smallest integer encoding).
    pub fn encoded_field(key: &str, value_bytes: &[u8]) -> Vec<u8> {
        assert!(key.len() < 32, "fixstr keys only");
        let mut bytes = vec![0xa0 | key.len() as u8];
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(value_bytes);
        bytes
    }

    /// Whether `haystack` contains `needle`.
    pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_encodings_follow_the_spec_table() {
        use MessageEncoding::{Json, Msgpack, Protobuf};
        let encodings: Vec<MessageEncoding> = KafkaTopic::ALL
            .iter()
            .map(|topic| topic_encoding(*topic))
            .collect();
        assert_eq!(
            encodings,
            [
                Msgpack,  // events
                Msgpack,  // attachments
                Msgpack,  // transactions
                Json,     // outcomes
                Json,     // outcomes_billing
                Json,     // metrics_sessions
                Msgpack,  // profiles
                Msgpack,  // replay_recordings
                Msgpack,  // monitors
                Json,     // spans
                Msgpack,  // feedback
                Protobuf, // items
            ]
        );
    }

    #[test]
    fn received_time_after_the_epoch_is_whole_seconds() {
        let received = DateTime::from_timestamp(1_717_000_000, 999_000_000).unwrap();
        assert_eq!(unix_seconds_or_now(received), 1_717_000_000);
    }

    #[test]
    fn received_time_before_the_epoch_becomes_now() {
        let before = u64::try_from(Utc::now().timestamp()).unwrap();
        let received = DateTime::from_timestamp(-5, 0).unwrap();
        let start_time = unix_seconds_or_now(received);
        let after = u64::try_from(Utc::now().timestamp()).unwrap();
        assert!((before..=after).contains(&start_time));
    }
}
