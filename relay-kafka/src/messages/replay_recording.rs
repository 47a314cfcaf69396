//! `replay_recording_not_chunked` messages (msgpack, §7.3.7) on ingest-replay-recordings.
//!
//! One message carries a whole replay: the recording, and for web/native replays the replay
//! event JSON and the video bytes, so the consumer can publish the replay event itself
//! (`relay_snuba_publish_disabled` is therefore always `true`). The message has no natural
//! partition key (the router assigns a counter key) and no headers.

use bytes::Bytes;
use relay_protocol::{EventId, ProjectId};
use serde::{Serialize, Serializer};

use super::{encode_msgpack, serialize_binary, EncodeKafkaMessage, MessageEncodeError};
use crate::PartitionKey;

/// Value of the `type` discriminator.
const REPLAY_RECORDING_MESSAGE_TYPE: &str = "replay_recording_not_chunked";

/// Bytes added to the payload sizes when checking `max_replay_message_size` (§3.7 step 8), to
/// account for the message's own fields.
pub const REPLAY_MESSAGE_OVERHEAD_BYTES: usize = 2000;

/// One `replay_recording_not_chunked` message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "replay_recording_not_chunked")]
pub struct ReplayRecordingNotChunkedMessage {
    /// `replay_id`: the envelope's `event_id`, 32 lowercase hex characters.
    pub replay_id: EventId,
    /// `key_id`: numeric DSN key id; nil when the key has none.
    pub key_id: Option<u64>,
    /// `org_id`: 0 when unknown.
    pub org_id: u64,
    /// `project_id`.
    pub project_id: ProjectId,
    /// `received`: receive time in unix seconds (see [`super::unix_seconds_or_now`]).
    pub received: u64,
    /// `retention_days`: event retention.
    pub retention_days: u16,
    /// `payload`: the (possibly scrubbed) recording bytes (bin).
    #[serde(serialize_with = "serialize_binary")]
    pub payload: Bytes,
    /// `replay_event`: replay event JSON (bin) of web/native replays; nil for standalone
    /// recordings.
    #[serde(serialize_with = "serialize_optional_binary")]
    pub replay_event: Option<Bytes>,
    /// `replay_video`: video bytes (bin) of native replays; nil otherwise.
    #[serde(serialize_with = "serialize_optional_binary")]
    pub replay_video: Option<Bytes>,
    /// `relay_snuba_publish_disabled`: always `true`, the consumer publishes the replay event.
    relay_snuba_publish_disabled: bool,
}

impl ReplayRecordingNotChunkedMessage {
    /// A standalone recording (no replay event, no video); add those with
    /// [`Self::with_replay_event`] and [`Self::with_replay_video`].
    pub fn new(
        replay_id: EventId,
        key_id: Option<u64>,
        org_id: u64,
        project_id: ProjectId,
        received: u64,
        retention_days: u16,
        recording: Bytes,
    ) -> Self {
        ReplayRecordingNotChunkedMessage {
            replay_id,
            key_id,
            org_id,
            project_id,
            received,
            retention_days,
            payload: recording,
            replay_event: None,
            replay_video: None,
            relay_snuba_publish_disabled: true,
        }
    }

    /// Sets the replay event JSON (web and native replays).
    pub fn with_replay_event(mut self, replay_event: Bytes) -> Self {
        self.replay_event = Some(replay_event);
        self
    }

    /// Sets the video bytes (native replays).
    pub fn with_replay_video(mut self, replay_video: Bytes) -> Self {
        self.replay_video = Some(replay_video);
        self
    }

    /// The size checked against `max_replay_message_size`: recording + replay event + video
    /// + [`REPLAY_MESSAGE_OVERHEAD_BYTES`].
    pub fn size_for_limit(&self) -> usize {
        let optional_length = |bytes: &Option<Bytes>| bytes.as_ref().map_or(0, Bytes::len);
        self.payload
            .len()
            .saturating_add(optional_length(&self.replay_event))
            .saturating_add(optional_length(&self.replay_video))
            .saturating_add(REPLAY_MESSAGE_OVERHEAD_BYTES)
    }

    /// Whether the message is rejected as `too_large:replay_recording`: its
    /// [`Self::size_for_limit`] *reaches* `max_replay_message_size`.
    pub fn exceeds_size_limit(&self, max_replay_message_size: usize) -> bool {
        self.size_for_limit() >= max_replay_message_size
    }
}

impl EncodeKafkaMessage for ReplayRecordingNotChunkedMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack(REPLAY_RECORDING_MESSAGE_TYPE, self)
    }

    /// Replay recordings have no natural key: the router assigns a counter key.
    fn partition_key(&self) -> Option<PartitionKey> {
        None
    }
}

/// Writes optional bytes as msgpack bin, or nil when absent.
fn serialize_optional_binary<S: Serializer>(
    bytes: &Option<Bytes>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(bytes) => serializer.serialize_bytes(bytes),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use rmpv::Value;

    use super::super::test_support::*;
    use super::*;

    const REPLAY_ID: &str = "515539018c9b4260a6f999572f1661ee";
    const RECORDING: &[u8] = b"{\"segment_id\":0}\n\x78\x9c\x03\x00\x00\x00\x00\x01";
    const REPLAY_EVENT: &[u8] =
        br#"{"type":"replay_event","replay_id":"515539018c9b4260a6f999572f1661ee"}"#;
    const VIDEO: &[u8] = b"\x00\x00\x00\x18ftypmp42";

    fn standalone(key_id: Option<u64>) -> ReplayRecordingNotChunkedMessage {
        ReplayRecordingNotChunkedMessage::new(
            EventId::parse(REPLAY_ID).unwrap(),
            key_id,
            3,
            ProjectId(42),
            1_717_000_000,
            30,
            Bytes::from_static(RECORDING),
        )
    }

    #[test]
    fn native_replay_fields_order_and_types() {
        let message = standalone(Some(300))
            .with_replay_event(Bytes::from_static(REPLAY_EVENT))
            .with_replay_video(Bytes::from_static(VIDEO));
        let encoded = message.encode().unwrap();
        let value = decode(&encoded);
        assert_eq!(
            keys(&value),
            [
                "type",
                "replay_id",
                "key_id",
                "org_id",
                "project_id",
                "received",
                "retention_days",
                "payload",
                "replay_event",
                "replay_video",
                "relay_snuba_publish_disabled"
            ]
        );
        assert_eq!(
            str_value(&field(&value, "type")),
            "replay_recording_not_chunked"
        );
        assert_eq!(str_value(&field(&value, "replay_id")), REPLAY_ID);
        assert_eq!(uint_value(&field(&value, "key_id")), 300);
        assert_eq!(uint_value(&field(&value, "org_id")), 3);
        assert_eq!(uint_value(&field(&value, "project_id")), 42);
        assert_eq!(uint_value(&field(&value, "received")), 1_717_000_000);
        assert_eq!(uint_value(&field(&value, "retention_days")), 30);
        assert_eq!(bin_value(&field(&value, "payload")), RECORDING);
        assert_eq!(bin_value(&field(&value, "replay_event")), REPLAY_EVENT);
        assert_eq!(bin_value(&field(&value, "replay_video")), VIDEO);
        assert_eq!(
            field(&value, "relay_snuba_publish_disabled"),
            Value::Boolean(true)
        );
        // Smallest integer encodings: uint16 for 300, fixint for 42, uint32 for the time.
        assert!(contains(
            &encoded,
            &encoded_field("key_id", &[0xcd, 0x01, 0x2c])
        ));
        assert!(contains(&encoded, &encoded_field("project_id", &[42])));
        assert!(contains(
            &encoded,
            &encoded_field("received", &[0xce, 0x66, 0x57, 0x57, 0x40])
        ));
        // 11 entries, the discriminator first.
        assert_eq!(encoded[0], 0x8b);
        assert_eq!(&encoded[1..6], b"\xa4type");
    }

    #[test]
    fn web_replay_has_an_event_and_nil_video() {
        let message = standalone(Some(1)).with_replay_event(Bytes::from_static(REPLAY_EVENT));
        let value = decode(&message.encode().unwrap());
        assert_eq!(bin_value(&field(&value, "replay_event")), REPLAY_EVENT);
        assert_eq!(field(&value, "replay_video"), Value::Nil);
    }

    #[test]
    fn standalone_recording_has_nil_event_video_and_key_id_and_org_zero() {
        let mut message = standalone(None);
        message.org_id = 0;
        let value = decode(&message.encode().unwrap());
        assert_eq!(field(&value, "key_id"), Value::Nil);
        assert_eq!(uint_value(&field(&value, "org_id")), 0);
        assert_eq!(field(&value, "replay_event"), Value::Nil);
        assert_eq!(field(&value, "replay_video"), Value::Nil);
        assert_eq!(
            field(&value, "relay_snuba_publish_disabled"),
            Value::Boolean(true)
        );
    }

    #[test]
    fn size_limit_is_reached_at_the_total_plus_overhead() {
        let message = standalone(None)
            .with_replay_event(Bytes::from_static(REPLAY_EVENT))
            .with_replay_video(Bytes::from_static(VIDEO));
        let total = RECORDING.len() + REPLAY_EVENT.len() + VIDEO.len() + 2000;
        assert_eq!(message.size_for_limit(), total);
        assert!(message.exceeds_size_limit(total));
        assert!(!message.exceeds_size_limit(total + 1));
    }

    #[test]
    fn counter_key_and_no_headers() {
        let message = standalone(Some(1));
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(kafka_message.key, None);
        assert!(kafka_message.headers.is_empty());
        assert_eq!(kafka_message.payload, message.encode().unwrap());
    }
}
