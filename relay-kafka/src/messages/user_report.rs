//! `user_report` messages (msgpack, §7.3.4) on ingest-attachments, and the normalization of
//! their JSON payload.
//!
//! The envelope's event id is not part of the message; it only keys it. The payload is the
//! report re-serialized with exactly `event_id`, `name`, `email`, `comments` in that order.

use bytes::Bytes;
use relay_protocol::{EventId, ProjectId};
use serde::Serialize;

use super::{encode_msgpack, serialize_binary, EncodeKafkaMessage, MessageEncodeError};
use crate::{keyed_partition_key, PartitionKey};

/// Why a user report payload is rejected; every variant is reported as
/// `invalid`/`invalid_json`.
#[derive(Debug, thiserror::Error)]
pub enum UserReportError {
    /// The payload is not JSON.
    #[error("user report is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// The payload is JSON but not an object.
    #[error("user report is not a JSON object")]
    NotAnObject,
    /// `event_id` is missing, not a string, or not a UUID.
    #[error("user report has no valid `event_id`")]
    InvalidEventId,
    /// `name`, `email` or `comments` is neither a string nor null.
    #[error("user report field `{field}` must be a string")]
    FieldNotAString {
        /// The offending field.
        field: &'static str,
    },
    /// Re-serializing the report failed.
    #[error("failed to serialize the normalized user report: {0}")]
    Serialize(#[source] serde_json::Error),
}

/// The normalized report, in wire order.
#[derive(Serialize)]
struct NormalizedUserReport<'a> {
    event_id: EventId,
    name: &'a str,
    email: &'a str,
    comments: &'a str,
}

/// Text fields of a report that default to `""`.
const NAME_FIELD: &str = "name";
const EMAIL_FIELD: &str = "email";
const COMMENTS_FIELD: &str = "comments";

/// Parses a `user_report` item (surrounding whitespace ignored) and re-serializes it with
/// exactly the keys `event_id` (32-hex), `name`, `email`, `comments`; missing or `null` text
/// fields become `""`, every other key is dropped.
pub fn normalize_user_report(report: &[u8]) -> Result<Vec<u8>, UserReportError> {
    let report = report.trim_ascii();
    let value: serde_json::Value =
        serde_json::from_slice(report).map_err(UserReportError::InvalidJson)?;
    let serde_json::Value::Object(object) = value else {
        return Err(UserReportError::NotAnObject);
    };
    let event_id = object
        .get("event_id")
        .and_then(serde_json::Value::as_str)
        .and_then(|text| EventId::parse(text).ok())
        .ok_or(UserReportError::InvalidEventId)?;
    let text_field = |field: &'static str| -> Result<&str, UserReportError> {
        match object.get(field) {
            None | Some(serde_json::Value::Null) => Ok(""),
            Some(serde_json::Value::String(text)) => Ok(text),
            Some(_) => Err(UserReportError::FieldNotAString { field }),
        }
    };
    let normalized = NormalizedUserReport {
        event_id,
        name: text_field(NAME_FIELD)?,
        email: text_field(EMAIL_FIELD)?,
        comments: text_field(COMMENTS_FIELD)?,
    };
    serde_json::to_vec(&normalized).map_err(UserReportError::Serialize)
}

/// One `user_report` message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "user_report")]
pub struct UserReportMessage {
    /// `project_id`.
    pub project_id: ProjectId,
    /// `start_time`: received time, unix seconds.
    pub start_time: u64,
    /// `payload`: the normalized report JSON (bin; see [`normalize_user_report`]).
    #[serde(serialize_with = "serialize_binary")]
    pub payload: Bytes,
    /// The envelope's event id; only the partition key.
    #[serde(skip)]
    pub envelope_event_id: EventId,
    /// Organization of the project; only folded into the partition key.
    #[serde(skip)]
    pub organization_id: u64,
}

impl UserReportMessage {
    /// A `user_report` message carrying an already normalized payload.
    pub fn new(
        organization_id: u64,
        project_id: ProjectId,
        envelope_event_id: EventId,
        start_time: u64,
        payload: Bytes,
    ) -> Self {
        UserReportMessage {
            project_id,
            start_time,
            payload,
            envelope_event_id,
            organization_id,
        }
    }
}

impl EncodeKafkaMessage for UserReportMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack("user_report", self)
    }

    /// Keyed by the envelope's event id.
    fn partition_key(&self) -> Option<PartitionKey> {
        keyed_partition_key(
            *self.envelope_event_id.as_uuid().as_bytes(),
            self.organization_id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    const ENVELOPE_EVENT_ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn normalization_keeps_exactly_four_keys_in_order() {
        let report = br#"  {"comments":"broken","extra":1,"email":null,
            "event_id":"9F0C3B0A-2C9E-4D3F-8C2B-7A1E5D4C3B2A"}
        "#;
        let normalized = normalize_user_report(report).unwrap();
        assert_eq!(
            String::from_utf8(normalized).unwrap(),
            r#"{"event_id":"9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a","name":"","email":"","comments":"broken"}"#
        );
    }

    #[test]
    fn normalization_rejects_reports_without_a_valid_event_id() {
        for report in [
            &br#"{"name":"a"}"#[..],
            br#"{"event_id":"nope"}"#,
            br#"{"event_id":42}"#,
        ] {
            assert!(matches!(
                normalize_user_report(report),
                Err(UserReportError::InvalidEventId)
            ));
        }
        assert!(matches!(
            normalize_user_report(b"[1]"),
            Err(UserReportError::NotAnObject)
        ));
        assert!(matches!(
            normalize_user_report(b"{"),
            Err(UserReportError::InvalidJson(_))
        ));
        assert!(matches!(
            normalize_user_report(br#"{"event_id":"9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a","name":1}"#),
            Err(UserReportError::FieldNotAString { field: "name" })
        ));
    }

    #[test]
    fn message_fields_order_and_types_without_event_id() {
        let payload = normalize_user_report(
            br#"{"event_id":"9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a","name":"Jane"}"#,
        )
        .unwrap();
        let message = UserReportMessage::new(
            1,
            ProjectId(42),
            EventId::parse(ENVELOPE_EVENT_ID).unwrap(),
            1_717_000_000,
            Bytes::from(payload.clone()),
        );
        let encoded = message.encode().unwrap();
        let value = decode(&encoded);
        assert_eq!(
            keys(&value),
            ["type", "project_id", "start_time", "payload"]
        );
        assert_eq!(str_value(&field(&value, "type")), "user_report");
        assert_eq!(uint_value(&field(&value, "project_id")), 42);
        assert_eq!(uint_value(&field(&value, "start_time")), 1_717_000_000);
        assert_eq!(bin_value(&field(&value, "payload")), payload);
        assert!(contains(&encoded, &encoded_field("project_id", &[42])));
    }

    #[test]
    fn keyed_by_the_envelope_event_id_without_headers() {
        let message = UserReportMessage::new(
            0,
            ProjectId(42),
            EventId::parse(ENVELOPE_EVENT_ID).unwrap(),
            0,
            Bytes::new(),
        );
        let kafka_message = message.to_kafka_message().unwrap();
        let expected = *EventId::parse(ENVELOPE_EVENT_ID)
            .unwrap()
            .as_uuid()
            .as_bytes();
        assert_eq!(kafka_message.key, Some(expected));
        assert!(kafka_message.headers.is_empty());
    }
}
