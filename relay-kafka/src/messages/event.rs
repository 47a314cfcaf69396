//! `event` messages (msgpack, §7.3.1) on ingest-events, ingest-transactions,
//! ingest-feedback-events and ingest-attachments.
//!
//! The caller picks the topic (error event with attachments or user reports →
//! `attachments`; transaction → `transactions`; feedback → `feedback`; else `events`). The
//! message is keyed by the event id and carries no headers.

use std::net::IpAddr;

use bytes::Bytes;
use relay_protocol::{EventId, ProjectId};
use serde::Serialize;

use super::{
    encode_msgpack, serialize_binary, serialize_optional_ip, AttachmentDescriptor,
    EncodeKafkaMessage, MessageEncodeError,
};
use crate::{keyed_partition_key, PartitionKey};

/// One `event` message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "event")]
pub struct EventMessage {
    /// `payload`: UTF-8 JSON of the processed event (bin).
    #[serde(serialize_with = "serialize_binary")]
    pub payload: Bytes,
    /// `start_time`: receive time in unix seconds (see [`super::unix_seconds_or_now`]).
    pub start_time: u64,
    /// `event_id`: 32 lowercase hex characters.
    pub event_id: EventId,
    /// `project_id`.
    pub project_id: ProjectId,
    /// `remote_addr`: the envelope's `remote_addr` header, else the TCP peer; nil when
    /// neither is known.
    #[serde(serialize_with = "serialize_optional_ip")]
    pub remote_addr: Option<IpAddr>,
    /// `attachments`: descriptors; an empty array when none.
    pub attachments: Vec<AttachmentDescriptor>,
    /// Organization of the project; only folded into the partition key.
    #[serde(skip)]
    pub organization_id: u64,
}

impl EventMessage {
    /// An `event` message; produce the chunks of `attachments` before it.
    pub fn new(
        organization_id: u64,
        project_id: ProjectId,
        event_id: EventId,
        payload: Bytes,
        start_time: u64,
        remote_addr: Option<IpAddr>,
        attachments: Vec<AttachmentDescriptor>,
    ) -> Self {
        EventMessage {
            payload,
            start_time,
            event_id,
            project_id,
            remote_addr,
            attachments,
            organization_id,
        }
    }
}

impl EncodeKafkaMessage for EventMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack("event", self)
    }

    /// Keyed by the event id.
    fn partition_key(&self) -> Option<PartitionKey> {
        keyed_partition_key(*self.event_id.as_uuid().as_bytes(), self.organization_id)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::num::NonZeroUsize;

    use relay_protocol::envelope::AttachmentType;
    use rmpv::Value;
    use uuid::Uuid;

    use super::super::test_support::*;
    use super::super::{
        prepare_attachment, AttachmentContent, AttachmentInlining, AttachmentInput,
    };
    use super::*;

    const EVENT_ID: &str = "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a";
    const PAYLOAD: &[u8] = br#"{"event_id":"9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a","level":"error"}"#;

    fn message(
        remote_addr: Option<IpAddr>,
        attachments: Vec<AttachmentDescriptor>,
    ) -> EventMessage {
        EventMessage::new(
            1,
            ProjectId(42),
            EventId::parse(EVENT_ID).unwrap(),
            Bytes::from_static(PAYLOAD),
            1_717_000_000,
            remote_addr,
            attachments,
        )
    }

    #[test]
    fn spec_example_fields_order_and_types() {
        let remote_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)));
        let encoded = message(remote_addr, Vec::new()).encode().unwrap();
        let value = decode(&encoded);
        assert_eq!(
            keys(&value),
            [
                "type",
                "payload",
                "start_time",
                "event_id",
                "project_id",
                "remote_addr",
                "attachments"
            ]
        );
        assert_eq!(str_value(&field(&value, "type")), "event");
        assert_eq!(bin_value(&field(&value, "payload")), PAYLOAD);
        assert_eq!(uint_value(&field(&value, "start_time")), 1_717_000_000);
        assert_eq!(str_value(&field(&value, "event_id")), EVENT_ID);
        assert_eq!(uint_value(&field(&value, "project_id")), 42);
        assert_eq!(str_value(&field(&value, "remote_addr")), "10.0.0.7");
        assert_eq!(field(&value, "attachments"), Value::Array(Vec::new()));
        // Smallest integer encodings: fixint 42, uint32 for the timestamp.
        assert!(contains(&encoded, &encoded_field("project_id", &[42])));
        assert!(contains(
            &encoded,
            &encoded_field("start_time", &[0xce, 0x66, 0x57, 0x57, 0x40])
        ));
        // The discriminator is the very first entry.
        assert_eq!(encoded[0], 0x87);
        assert_eq!(&encoded[1..6], b"\xa4type");
    }

    #[test]
    fn remote_addr_is_nil_when_unknown_and_ipv6_is_a_plain_string() {
        let value = decode(&message(None, Vec::new()).encode().unwrap());
        assert_eq!(field(&value, "remote_addr"), Value::Nil);
        let ipv6 = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let value = decode(&message(ipv6, Vec::new()).encode().unwrap());
        assert_eq!(str_value(&field(&value, "remote_addr")), "::1");
    }

    #[test]
    fn attachments_are_embedded_as_descriptor_maps() {
        let prepared = prepare_attachment(
            1,
            ProjectId(42),
            EventId::parse(EVENT_ID).unwrap(),
            AttachmentInput {
                id: Uuid::nil(),
                filename: Some("crash.dmp".to_owned()),
                content_type: None,
                attachment_type: AttachmentType::Minidump,
                rate_limited: false,
                retention_days: 30,
                content: AttachmentContent::Bytes(Bytes::from_static(b"MDMP")),
            },
            AttachmentInlining::Never,
            NonZeroUsize::new(2).unwrap(),
        );
        assert_eq!(prepared.chunks.len(), 2);
        let value = decode(
            &message(None, vec![prepared.descriptor.clone()])
                .encode()
                .unwrap(),
        );
        let Value::Array(attachments) = field(&value, "attachments") else {
            panic!("attachments must be an array");
        };
        assert_eq!(attachments.len(), 1);
        assert_eq!(
            str_value(&field(&attachments[0], "id")),
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(uint_value(&field(&attachments[0], "chunks")), 2);
        assert_eq!(uint_value(&field(&attachments[0], "size")), 4);
    }

    #[test]
    fn keyed_by_event_id_xor_organization_without_headers() {
        let kafka_message = message(None, Vec::new()).to_kafka_message().unwrap();
        let mut expected = *Uuid::parse_str(EVENT_ID).unwrap().as_bytes();
        expected[7] ^= 1;
        assert_eq!(kafka_message.key, Some(expected));
        assert!(kafka_message.headers.is_empty());
    }
}
