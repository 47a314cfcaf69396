//! `profile` and `profile_chunk` messages (msgpack, §7.3.5) on the profiles topic.
//!
//! Neither has a natural partition key (the router assigns counter keys). Both carry a
//! `project_id` header (decimal); `profile` additionally carries `sampled` (`"true"` when its
//! transaction was kept, `"false"` when it was dropped by sampling or the profile is
//! standalone). Headers are returned in ascending name order.

use bytes::Bytes;
use relay_protocol::ProjectId;
use serde::Serialize;

use super::{encode_msgpack, serialize_binary, EncodeKafkaMessage, MessageEncodeError};
use crate::PartitionKey;

/// Value of the `profile` message's `type` discriminator.
const PROFILE_MESSAGE_TYPE: &str = "profile";

/// Value of the `profile_chunk` message's `type` discriminator.
const PROFILE_CHUNK_MESSAGE_TYPE: &str = "profile_chunk";

/// Header holding the decimal project id.
const PROJECT_ID_HEADER: &str = "project_id";

/// Header telling whether the profile's transaction was kept by sampling.
const SAMPLED_HEADER: &str = "sampled";

/// One `profile` message (transaction or standalone profile).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "profile")]
pub struct ProfileMessage {
    /// `organization_id`.
    pub organization_id: u64,
    /// `project_id`.
    pub project_id: ProjectId,
    /// `key_id`: numeric DSN key id; nil when the key has none.
    pub key_id: Option<u64>,
    /// `received`: receive time in unix seconds (see [`super::unix_seconds_or_now`]).
    pub received: u64,
    /// `retention_days`: event retention.
    pub retention_days: u16,
    /// `payload`: the processed profile JSON (bin).
    #[serde(serialize_with = "serialize_binary")]
    pub payload: Bytes,
    /// Whether the profile's transaction was kept; only the `sampled` header. Standalone
    /// profiles are always `false`.
    #[serde(skip)]
    pub sampled: bool,
}

impl ProfileMessage {
    /// A `profile` message carrying an already processed profile.
    pub fn new(
        organization_id: u64,
        project_id: ProjectId,
        key_id: Option<u64>,
        received: u64,
        retention_days: u16,
        payload: Bytes,
        sampled: bool,
    ) -> Self {
        ProfileMessage {
            organization_id,
            project_id,
            key_id,
            received,
            retention_days,
            payload,
            sampled,
        }
    }
}

impl EncodeKafkaMessage for ProfileMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack(PROFILE_MESSAGE_TYPE, self)
    }

    /// Profiles have no natural key: the router assigns a counter key.
    fn partition_key(&self) -> Option<PartitionKey> {
        None
    }

    /// `project_id` then `sampled`.
    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        let sampled = if self.sampled { "true" } else { "false" };
        vec![
            project_id_header(self.project_id),
            (SAMPLED_HEADER.to_owned(), sampled.as_bytes().to_vec()),
        ]
    }
}

/// A file belonging to a profile chunk that was uploaded to the objectstore (e.g. the raw
/// Perfetto trace of a converted chunk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileChunkAttachment {
    /// `name`, e.g. `profile.perfetto`.
    pub name: String,
    /// `content_type`, e.g. `application/x-perfetto-trace`.
    pub content_type: String,
    /// `stored_id`: the objectstore key.
    pub stored_id: String,
}

/// One `profile_chunk` message (continuous profiling).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "profile_chunk")]
pub struct ProfileChunkMessage {
    /// `organization_id`.
    pub organization_id: u64,
    /// `project_id`.
    pub project_id: ProjectId,
    /// `received`: receive time in unix seconds.
    pub received: u64,
    /// `retention_days`: event retention.
    pub retention_days: u16,
    /// `payload`: the chunk JSON in sample format (bin).
    #[serde(serialize_with = "serialize_binary")]
    pub payload: Bytes,
    /// `attachments`: uploaded files; the key is omitted when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<ProfileChunkAttachment>,
}

impl ProfileChunkMessage {
    /// A `profile_chunk` message carrying an already processed chunk.
    pub fn new(
        organization_id: u64,
        project_id: ProjectId,
        received: u64,
        retention_days: u16,
        payload: Bytes,
        attachments: Vec<ProfileChunkAttachment>,
    ) -> Self {
        ProfileChunkMessage {
            organization_id,
            project_id,
            received,
            retention_days,
            payload,
            attachments,
        }
    }
}

impl EncodeKafkaMessage for ProfileChunkMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack(PROFILE_CHUNK_MESSAGE_TYPE, self)
    }

    /// Profile chunks have no natural key: the router assigns a counter key.
    fn partition_key(&self) -> Option<PartitionKey> {
        None
    }

    /// Only `project_id`.
    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        vec![project_id_header(self.project_id)]
    }
}

/// The `project_id` header with the decimal project id.
fn project_id_header(project_id: ProjectId) -> (String, Vec<u8>) {
    (
        PROJECT_ID_HEADER.to_owned(),
        project_id.to_string().into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use rmpv::Value;

    use super::super::test_support::*;
    use super::*;

    const PROFILE: &[u8] = br#"{"version":"1","platform":"python","profile":{"samples":[]}}"#;
    const CHUNK: &[u8] = br#"{"version":"2","chunk_id":"0432a0a4c25f4697bf9f0a2fcbe6a814"}"#;

    fn profile(key_id: Option<u64>, sampled: bool) -> ProfileMessage {
        ProfileMessage::new(
            70_000,
            ProjectId(42),
            key_id,
            1_717_000_000,
            90,
            Bytes::from_static(PROFILE),
            sampled,
        )
    }

    fn chunk(attachments: Vec<ProfileChunkAttachment>) -> ProfileChunkMessage {
        ProfileChunkMessage::new(
            7,
            ProjectId(300),
            1_717_000_000,
            30,
            Bytes::from_static(CHUNK),
            attachments,
        )
    }

    fn perfetto_attachment() -> ProfileChunkAttachment {
        ProfileChunkAttachment {
            name: "profile.perfetto".to_owned(),
            content_type: "application/x-perfetto-trace".to_owned(),
            stored_id: "7/300/profile_attachments/abc".to_owned(),
        }
    }

    fn utf8_headers(headers: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
        headers
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8(value).unwrap()))
            .collect()
    }

    #[test]
    fn profile_fields_order_and_types() {
        let encoded = profile(Some(123), true).encode().unwrap();
        let value = decode(&encoded);
        assert_eq!(
            keys(&value),
            [
                "type",
                "organization_id",
                "project_id",
                "key_id",
                "received",
                "retention_days",
                "payload"
            ]
        );
        assert_eq!(str_value(&field(&value, "type")), "profile");
        assert_eq!(uint_value(&field(&value, "organization_id")), 70_000);
        assert_eq!(uint_value(&field(&value, "project_id")), 42);
        assert_eq!(uint_value(&field(&value, "key_id")), 123);
        assert_eq!(uint_value(&field(&value, "received")), 1_717_000_000);
        assert_eq!(uint_value(&field(&value, "retention_days")), 90);
        assert_eq!(bin_value(&field(&value, "payload")), PROFILE);
        // Smallest integer encodings: uint32 for 70 000, fixint for 42.
        assert!(contains(
            &encoded,
            &encoded_field("organization_id", &[0xce, 0x00, 0x01, 0x11, 0x70])
        ));
        assert!(contains(&encoded, &encoded_field("project_id", &[42])));
        assert_eq!(encoded[0], 0x87);
        assert_eq!(&encoded[1..6], b"\xa4type");
    }

    #[test]
    fn profile_without_key_id_has_nil() {
        let value = decode(&profile(None, false).encode().unwrap());
        assert_eq!(field(&value, "key_id"), Value::Nil);
    }

    #[test]
    fn profile_headers_are_project_id_then_sampled() {
        assert_eq!(
            utf8_headers(profile(None, true).headers()),
            [
                ("project_id".to_owned(), "42".to_owned()),
                ("sampled".to_owned(), "true".to_owned())
            ]
        );
        assert_eq!(
            utf8_headers(profile(None, false).headers()),
            [
                ("project_id".to_owned(), "42".to_owned()),
                ("sampled".to_owned(), "false".to_owned())
            ]
        );
    }

    #[test]
    fn profile_has_a_counter_key() {
        let message = profile(Some(1), true);
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(kafka_message.key, None);
        assert_eq!(kafka_message.headers, message.headers());
        assert_eq!(kafka_message.payload, message.encode().unwrap());
    }

    #[test]
    fn profile_chunk_without_attachments_omits_the_key() {
        let encoded = chunk(Vec::new()).encode().unwrap();
        let value = decode(&encoded);
        assert_eq!(
            keys(&value),
            [
                "type",
                "organization_id",
                "project_id",
                "received",
                "retention_days",
                "payload"
            ]
        );
        assert_eq!(str_value(&field(&value, "type")), "profile_chunk");
        assert_eq!(uint_value(&field(&value, "organization_id")), 7);
        assert_eq!(uint_value(&field(&value, "project_id")), 300);
        assert_eq!(uint_value(&field(&value, "received")), 1_717_000_000);
        assert_eq!(uint_value(&field(&value, "retention_days")), 30);
        assert_eq!(bin_value(&field(&value, "payload")), CHUNK);
        assert!(contains(
            &encoded,
            &encoded_field("project_id", &[0xcd, 0x01, 0x2c])
        ));
        assert_eq!(encoded[0], 0x86);
    }

    #[test]
    fn profile_chunk_attachments_are_maps_of_strings() {
        let value = decode(&chunk(vec![perfetto_attachment()]).encode().unwrap());
        assert_eq!(keys(&value).last().map(String::as_str), Some("attachments"));
        let Value::Array(attachments) = field(&value, "attachments") else {
            panic!("attachments must be an array");
        };
        assert_eq!(attachments.len(), 1);
        assert_eq!(keys(&attachments[0]), ["name", "content_type", "stored_id"]);
        assert_eq!(
            str_value(&field(&attachments[0], "name")),
            "profile.perfetto"
        );
        assert_eq!(
            str_value(&field(&attachments[0], "content_type")),
            "application/x-perfetto-trace"
        );
        assert_eq!(
            str_value(&field(&attachments[0], "stored_id")),
            "7/300/profile_attachments/abc"
        );
    }

    #[test]
    fn profile_chunk_has_a_counter_key_and_only_the_project_id_header() {
        let message = chunk(Vec::new());
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(kafka_message.key, None);
        assert_eq!(
            utf8_headers(kafka_message.headers),
            [("project_id".to_owned(), "300".to_owned())]
        );
    }
}
