//! Attachment descriptors (§7.3.2), `attachment_chunk` and `attachment` messages (§7.3.3).
//!
//! [`prepare_attachment`] applies the payload selection rules in spec order — empty payload →
//! `chunks: 0`; already stored → `stored_id`; individual attachment strictly smaller than the
//! chunk size → inline `data`; otherwise consecutive chunks of at most the chunk size →
//! `chunks: N` — and returns the descriptor together with the chunk messages that must be
//! produced **before** the message referencing the descriptor. The descriptor's `chunks` count
//! always equals the number of chunk messages returned.

use std::num::NonZeroUsize;

use bytes::Bytes;
use relay_protocol::envelope::AttachmentType;
use relay_protocol::{EventId, ProjectId};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use super::{
    encode_msgpack, serialize_binary, serialize_hyphenated_uuid, EncodeKafkaMessage,
    MessageEncodeError,
};
use crate::{keyed_partition_key, PartitionKey};

/// Default of `processing.attachment_chunk_size`: 1 MiB.
pub const DEFAULT_ATTACHMENT_CHUNK_SIZE: NonZeroUsize = match NonZeroUsize::new(1024 * 1024) {
    Some(size) => size,
    None => unreachable!(),
};

/// `name` of an attachment item without a `filename` header.
pub const UNNAMED_ATTACHMENT_NAME: &str = "Unnamed Attachment";

/// Smallest `size` of a stored attachment (placeholders declare at least one byte).
const MINIMUM_STORED_SIZE: u64 = 1;

/// Where a descriptor's bytes are: exactly one of `chunks`, `data`, `stored_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachmentPayload {
    /// `chunks`: number of `attachment_chunk` messages (0 for an empty payload).
    Chunks(u64),
    /// `data`: the payload inline (bin).
    Data(Bytes),
    /// `stored_id`: objectstore key.
    StoredId(String),
}

/// An attachment descriptor inside `event.attachments` and `attachment.attachment`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentDescriptor {
    /// `id`: random UUIDv4 identifying the attachment within (project, event); written
    /// hyphenated.
    pub id: Uuid,
    /// `name`: filename or [`UNNAMED_ATTACHMENT_NAME`].
    pub name: String,
    /// `rate_limited`: kept only for processing; the consumer must not persist it.
    pub rate_limited: bool,
    /// `content_type`: the key is omitted when `None`.
    pub content_type: Option<String>,
    /// `attachment_type`.
    pub attachment_type: AttachmentType,
    /// `size`: payload length in bytes (stored placeholders: declared size, at least 1).
    pub size: u64,
    /// `retention_days`.
    pub retention_days: u16,
    /// `chunks`, `data` or `stored_id`.
    pub payload: AttachmentPayload,
}

/// Fields of the descriptor map besides the optional `content_type`.
const DESCRIPTOR_FIXED_FIELD_COUNT: usize = 7;

impl Serialize for AttachmentDescriptor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let field_count = DESCRIPTOR_FIXED_FIELD_COUNT + usize::from(self.content_type.is_some());
        let mut map = serializer.serialize_struct("AttachmentDescriptor", field_count)?;
        let mut uuid_buffer = Uuid::encode_buffer();
        map.serialize_field("id", self.id.hyphenated().encode_lower(&mut uuid_buffer))?;
        map.serialize_field("name", &self.name)?;
        map.serialize_field("rate_limited", &self.rate_limited)?;
        match &self.content_type {
            Some(content_type) => map.serialize_field("content_type", content_type)?,
            None => map.skip_field("content_type")?,
        }
        map.serialize_field("attachment_type", self.attachment_type.as_str())?;
        map.serialize_field("size", &self.size)?;
        map.serialize_field("retention_days", &self.retention_days)?;
        match &self.payload {
            AttachmentPayload::Chunks(count) => map.serialize_field("chunks", count)?,
            AttachmentPayload::Data(data) => map.serialize_field("data", &BinaryField(data))?,
            AttachmentPayload::StoredId(stored_id) => {
                map.serialize_field("stored_id", stored_id)?
            }
        }
        map.end()
    }
}

/// Serializes borrowed bytes as bin inside a manual `Serialize` impl.
struct BinaryField<'a>(&'a Bytes);

impl Serialize for BinaryField<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_binary(self.0, serializer)
    }
}

/// The bytes of an attachment as the processor has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachmentContent {
    /// The payload itself (after scrubbing); chunked or inlined.
    Bytes(Bytes),
    /// Already in the objectstore (placeholder or upload).
    Stored {
        /// The objectstore key.
        stored_id: String,
        /// Declared size (placeholders: the item's `attachment_length`).
        declared_size: u64,
    },
}

/// Whether a payload may be inlined as `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentInlining {
    /// Attachments of error events: always chunked.
    Never,
    /// Individual attachments (transaction, feedback, standalone): inlined when strictly
    /// smaller than the chunk size.
    BelowChunkSize,
}

/// What the processor knows about one attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentInput {
    /// A fresh random UUIDv4 (`Uuid::new_v4()`); passed in so encodings are reproducible.
    pub id: Uuid,
    /// The item's `filename` header.
    pub filename: Option<String>,
    /// The item's content type (lowercased for payloads) or, for stored attachments, the
    /// placeholder's / normalized content type (written as given).
    pub content_type: Option<String>,
    /// The item's `attachment_type`.
    pub attachment_type: AttachmentType,
    /// Kept only for processing (crash report over quota).
    pub rate_limited: bool,
    /// Event retention in days.
    pub retention_days: u16,
    /// The bytes or their objectstore location.
    pub content: AttachmentContent,
}

/// A descriptor and the chunk messages to produce before the message that references it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedAttachment {
    /// The descriptor.
    pub descriptor: AttachmentDescriptor,
    /// `attachment_chunk` messages in chunk order; empty unless the payload is `chunks: N`
    /// with N > 0.
    pub chunks: Vec<AttachmentChunkMessage>,
}

/// Builds the descriptor of one attachment and splits its payload per §7.3.2.
pub fn prepare_attachment(
    organization_id: u64,
    project_id: ProjectId,
    event_id: EventId,
    input: AttachmentInput,
    inlining: AttachmentInlining,
    chunk_size: NonZeroUsize,
) -> PreparedAttachment {
    let name = input
        .filename
        .unwrap_or_else(|| UNNAMED_ATTACHMENT_NAME.to_owned());
    let (content_type, size, payload, chunks) = match input.content {
        AttachmentContent::Stored {
            stored_id,
            declared_size,
        } => (
            input.content_type,
            declared_size.max(MINIMUM_STORED_SIZE),
            AttachmentPayload::StoredId(stored_id),
            Vec::new(),
        ),
        AttachmentContent::Bytes(bytes) => {
            let content_type = input
                .content_type
                .map(|content_type| content_type.to_ascii_lowercase());
            let size = bytes.len() as u64;
            let (payload, chunks) = split_payload(
                organization_id,
                project_id,
                event_id,
                input.id,
                bytes,
                inlining,
                chunk_size,
            );
            (content_type, size, payload, chunks)
        }
    };
    PreparedAttachment {
        descriptor: AttachmentDescriptor {
            id: input.id,
            name,
            rate_limited: input.rate_limited,
            content_type,
            attachment_type: input.attachment_type,
            size,
            retention_days: input.retention_days,
            payload,
        },
        chunks,
    }
}

/// Chooses `chunks: 0`, `data` or `chunks: N` for a payload that is not stored.
fn split_payload(
    organization_id: u64,
    project_id: ProjectId,
    event_id: EventId,
    attachment_id: Uuid,
    bytes: Bytes,
    inlining: AttachmentInlining,
    chunk_size: NonZeroUsize,
) -> (AttachmentPayload, Vec<AttachmentChunkMessage>) {
    if bytes.is_empty() {
        return (AttachmentPayload::Chunks(0), Vec::new());
    }
    if inlining == AttachmentInlining::BelowChunkSize && bytes.len() < chunk_size.get() {
        return (AttachmentPayload::Data(bytes), Vec::new());
    }
    let chunk_count = bytes.len().div_ceil(chunk_size.get());
    let chunks: Vec<AttachmentChunkMessage> = (0..chunk_count)
        .map(|chunk_index| {
            let start = chunk_index * chunk_size.get();
            let end = (start + chunk_size.get()).min(bytes.len());
            AttachmentChunkMessage {
                payload: bytes.slice(start..end),
                event_id,
                project_id,
                id: attachment_id,
                chunk_index: chunk_index as u64,
                organization_id,
            }
        })
        .collect();
    (AttachmentPayload::Chunks(chunks.len() as u64), chunks)
}

/// One `attachment_chunk` message (msgpack, ingest-attachments), keyed by event id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "attachment_chunk")]
pub struct AttachmentChunkMessage {
    /// `payload`: the chunk bytes (bin).
    #[serde(serialize_with = "serialize_binary")]
    pub payload: Bytes,
    /// `event_id`.
    pub event_id: EventId,
    /// `project_id`.
    pub project_id: ProjectId,
    /// `id`: the descriptor's id (hyphenated).
    #[serde(serialize_with = "serialize_hyphenated_uuid")]
    pub id: Uuid,
    /// `chunk_index`: 0-based.
    pub chunk_index: u64,
    /// Organization of the project; only folded into the partition key.
    #[serde(skip)]
    pub organization_id: u64,
}

impl EncodeKafkaMessage for AttachmentChunkMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack("attachment_chunk", self)
    }

    /// Keyed by the event id.
    fn partition_key(&self) -> Option<PartitionKey> {
        keyed_partition_key(*self.event_id.as_uuid().as_bytes(), self.organization_id)
    }
}

/// An `attachment` message (msgpack, ingest-attachments): an individual attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "attachment")]
pub struct AttachmentMessage {
    /// `event_id`: envelope/event id.
    pub event_id: EventId,
    /// `project_id`.
    pub project_id: ProjectId,
    /// `attachment`: the descriptor.
    pub attachment: AttachmentDescriptor,
    /// Organization of the project; only folded into the partition key.
    #[serde(skip)]
    pub organization_id: u64,
}

impl AttachmentMessage {
    /// An `attachment` message for a prepared descriptor (produce its chunks first).
    pub fn new(
        organization_id: u64,
        project_id: ProjectId,
        event_id: EventId,
        attachment: AttachmentDescriptor,
    ) -> Self {
        AttachmentMessage {
            event_id,
            project_id,
            attachment,
            organization_id,
        }
    }
}

impl EncodeKafkaMessage for AttachmentMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack("attachment", self)
    }

    /// Keyed by the event id.
    fn partition_key(&self) -> Option<PartitionKey> {
        keyed_partition_key(*self.event_id.as_uuid().as_bytes(), self.organization_id)
    }
}

#[cfg(test)]
mod tests {
    use rmpv::Value;

    use super::super::test_support::*;
    use super::*;

    const ORGANIZATION_ID: u64 = 1;
    const ATTACHMENT_ID: &str = "0d4c8e2a-9b1f-4c3d-8e7f-6a5b4c3d2e1f";

    fn event_id() -> EventId {
        EventId::parse("9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a").unwrap()
    }

    fn chunk_size(size: usize) -> NonZeroUsize {
        NonZeroUsize::new(size).unwrap()
    }

    fn input(content: AttachmentContent) -> AttachmentInput {
        AttachmentInput {
            id: Uuid::parse_str(ATTACHMENT_ID).unwrap(),
            filename: Some("log.txt".to_owned()),
            content_type: Some("Text/Plain".to_owned()),
            attachment_type: AttachmentType::Attachment,
            rate_limited: false,
            retention_days: 90,
            content,
        }
    }

    fn prepare(
        content: AttachmentContent,
        inlining: AttachmentInlining,
        size: usize,
    ) -> PreparedAttachment {
        prepare_attachment(
            ORGANIZATION_ID,
            ProjectId(42),
            event_id(),
            input(content),
            inlining,
            chunk_size(size),
        )
    }

    fn bytes_content(length: usize) -> AttachmentContent {
        AttachmentContent::Bytes(Bytes::from(
            (0..length).map(|i| i as u8).collect::<Vec<_>>(),
        ))
    }

    fn descriptor_value(descriptor: &AttachmentDescriptor) -> Value {
        decode(&rmp_serde::to_vec_named(descriptor).unwrap())
    }

    #[test]
    fn descriptor_fields_order_and_types() {
        let prepared = prepare(bytes_content(3), AttachmentInlining::BelowChunkSize, 10);
        let value = descriptor_value(&prepared.descriptor);
        assert_eq!(
            keys(&value),
            [
                "id",
                "name",
                "rate_limited",
                "content_type",
                "attachment_type",
                "size",
                "retention_days",
                "data"
            ]
        );
        assert_eq!(str_value(&field(&value, "id")), ATTACHMENT_ID);
        assert_eq!(str_value(&field(&value, "name")), "log.txt");
        assert_eq!(field(&value, "rate_limited"), Value::Boolean(false));
        assert_eq!(str_value(&field(&value, "content_type")), "text/plain");
        assert_eq!(
            str_value(&field(&value, "attachment_type")),
            "event.attachment"
        );
        assert_eq!(uint_value(&field(&value, "size")), 3);
        assert_eq!(uint_value(&field(&value, "retention_days")), 90);
        assert_eq!(bin_value(&field(&value, "data")), [0, 1, 2]);
        assert!(prepared.chunks.is_empty());
    }

    #[test]
    fn missing_content_type_omits_the_key_and_missing_filename_is_unnamed() {
        let mut attachment = input(bytes_content(1));
        attachment.content_type = None;
        attachment.filename = None;
        attachment.rate_limited = true;
        attachment.attachment_type = AttachmentType::Minidump;
        let prepared = prepare_attachment(
            ORGANIZATION_ID,
            ProjectId(42),
            event_id(),
            attachment,
            AttachmentInlining::Never,
            chunk_size(10),
        );
        let value = descriptor_value(&prepared.descriptor);
        assert!(!keys(&value).contains(&"content_type".to_owned()));
        assert_eq!(str_value(&field(&value, "name")), "Unnamed Attachment");
        assert_eq!(field(&value, "rate_limited"), Value::Boolean(true));
        assert_eq!(
            str_value(&field(&value, "attachment_type")),
            "event.minidump"
        );
        assert_eq!(uint_value(&field(&value, "chunks")), 1);
    }

    #[test]
    fn empty_payload_has_zero_chunks_and_no_chunk_messages() {
        for inlining in [
            AttachmentInlining::Never,
            AttachmentInlining::BelowChunkSize,
        ] {
            let prepared = prepare(bytes_content(0), inlining, 10);
            assert_eq!(prepared.descriptor.payload, AttachmentPayload::Chunks(0));
            assert_eq!(prepared.descriptor.size, 0);
            assert!(prepared.chunks.is_empty());
            let value = descriptor_value(&prepared.descriptor);
            assert_eq!(uint_value(&field(&value, "chunks")), 0);
        }
    }

    #[test]
    fn stored_attachment_uses_stored_id_with_at_least_one_byte() {
        let stored = AttachmentContent::Stored {
            stored_id: "org/1/proj/42/abc".to_owned(),
            declared_size: 0,
        };
        let prepared = prepare(stored, AttachmentInlining::BelowChunkSize, 10);
        let value = descriptor_value(&prepared.descriptor);
        assert_eq!(keys(&value).last().unwrap(), "stored_id");
        assert_eq!(str_value(&field(&value, "stored_id")), "org/1/proj/42/abc");
        assert_eq!(uint_value(&field(&value, "size")), 1);
        // The placeholder's content type is written as given.
        assert_eq!(str_value(&field(&value, "content_type")), "Text/Plain");
        assert!(prepared.chunks.is_empty());
    }

    #[test]
    fn individual_attachment_is_inlined_only_strictly_below_the_chunk_size() {
        let below = prepare(bytes_content(9), AttachmentInlining::BelowChunkSize, 10);
        assert!(matches!(
            below.descriptor.payload,
            AttachmentPayload::Data(_)
        ));
        let equal = prepare(bytes_content(10), AttachmentInlining::BelowChunkSize, 10);
        assert_eq!(equal.descriptor.payload, AttachmentPayload::Chunks(1));
        assert_eq!(equal.chunks.len(), 1);
    }

    #[test]
    fn event_attachments_are_never_inlined() {
        let prepared = prepare(bytes_content(1), AttachmentInlining::Never, 10);
        assert_eq!(prepared.descriptor.payload, AttachmentPayload::Chunks(1));
        assert_eq!(prepared.chunks[0].payload.as_ref(), [0]);
    }

    #[test]
    fn exact_multiple_of_the_chunk_size_has_only_full_chunks() {
        let prepared = prepare(bytes_content(30), AttachmentInlining::Never, 10);
        assert_eq!(prepared.descriptor.payload, AttachmentPayload::Chunks(3));
        let lengths: Vec<usize> = prepared.chunks.iter().map(|c| c.payload.len()).collect();
        assert_eq!(lengths, [10, 10, 10]);
    }

    #[test]
    fn remainder_goes_into_a_short_last_chunk_and_chunks_reassemble() {
        let prepared = prepare(bytes_content(25), AttachmentInlining::BelowChunkSize, 10);
        assert_eq!(prepared.descriptor.payload, AttachmentPayload::Chunks(3));
        assert_eq!(prepared.descriptor.size, 25);
        let lengths: Vec<usize> = prepared.chunks.iter().map(|c| c.payload.len()).collect();
        assert_eq!(lengths, [10, 10, 5]);
        let indices: Vec<u64> = prepared.chunks.iter().map(|c| c.chunk_index).collect();
        assert_eq!(indices, [0, 1, 2]);
        let reassembled: Vec<u8> = prepared
            .chunks
            .iter()
            .flat_map(|chunk| chunk.payload.to_vec())
            .collect();
        assert_eq!(reassembled, (0..25).map(|i| i as u8).collect::<Vec<_>>());
    }

    #[test]
    fn chunk_message_fields_order_and_types() {
        let prepared = prepare(bytes_content(25), AttachmentInlining::Never, 10);
        let chunk = &prepared.chunks[2];
        let encoded = chunk.encode().unwrap();
        let value = decode(&encoded);
        assert_eq!(
            keys(&value),
            [
                "type",
                "payload",
                "event_id",
                "project_id",
                "id",
                "chunk_index"
            ]
        );
        assert_eq!(str_value(&field(&value, "type")), "attachment_chunk");
        assert_eq!(bin_value(&field(&value, "payload")), [20, 21, 22, 23, 24]);
        assert_eq!(
            str_value(&field(&value, "event_id")),
            "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a"
        );
        assert_eq!(uint_value(&field(&value, "project_id")), 42);
        assert_eq!(str_value(&field(&value, "id")), ATTACHMENT_ID);
        assert_eq!(uint_value(&field(&value, "chunk_index")), 2);
        // Smallest integer encodings: positive fixints.
        assert!(contains(&encoded, &encoded_field("project_id", &[42])));
        assert!(contains(&encoded, &encoded_field("chunk_index", &[2])));
    }

    #[test]
    fn attachment_message_fields_order_and_types() {
        let prepared = prepare(bytes_content(3), AttachmentInlining::BelowChunkSize, 10);
        let message = AttachmentMessage::new(
            ORGANIZATION_ID,
            ProjectId(42),
            event_id(),
            prepared.descriptor.clone(),
        );
        let value = decode(&message.encode().unwrap());
        assert_eq!(
            keys(&value),
            ["type", "event_id", "project_id", "attachment"]
        );
        assert_eq!(str_value(&field(&value, "type")), "attachment");
        assert_eq!(
            str_value(&field(&value, "event_id")),
            "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a"
        );
        assert_eq!(uint_value(&field(&value, "project_id")), 42);
        assert_eq!(
            field(&value, "attachment"),
            descriptor_value(&prepared.descriptor)
        );
    }

    #[test]
    fn attachment_and_chunks_are_keyed_by_event_id_and_have_no_headers() {
        let prepared = prepare(bytes_content(25), AttachmentInlining::Never, 10);
        let expected_key = keyed_partition_key(*event_id().as_uuid().as_bytes(), ORGANIZATION_ID);
        assert!(expected_key.is_some());
        for chunk in &prepared.chunks {
            let kafka_message = chunk.to_kafka_message().unwrap();
            assert_eq!(kafka_message.key, expected_key);
            assert!(kafka_message.headers.is_empty());
        }
        let message = AttachmentMessage::new(
            ORGANIZATION_ID,
            ProjectId(42),
            event_id(),
            prepared.descriptor,
        );
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(kafka_message.key, expected_key);
        assert!(kafka_message.headers.is_empty());
        let nil_event = AttachmentMessage::new(
            ORGANIZATION_ID,
            ProjectId(42),
            EventId::nil(),
            message.attachment,
        );
        assert_eq!(nil_event.partition_key(), None);
    }
}
