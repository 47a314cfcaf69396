//! `check_in` messages (msgpack, §7.3.6) on ingest-monitors.
//!
//! Keyed by the check-in's routing hint (a UUIDv5 derived from project, monitor slug and
//! environment, `processing.md` §3.8, see [`check_in_routing_hint`]); no headers.

use bytes::Bytes;
use relay_protocol::ProjectId;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use super::{encode_msgpack, serialize_binary, EncodeKafkaMessage, MessageEncodeError};
use crate::{keyed_partition_key, PartitionKey};

/// Value of the `type` discriminator and of the `message_type` field.
const CHECK_IN_MESSAGE_TYPE: &str = "check_in";

/// URL from which the routing-hint namespace is derived (UUIDv5 in the URL namespace).
const ROUTING_HINT_NAMESPACE_URL: &str = "https://sentry.io/crons/#did";

/// Environment used in the routing hint when the check-in has none (or an empty one).
const DEFAULT_ROUTING_ENVIRONMENT: &str = "production";

/// Maximum length of a slugified monitor slug.
const MAX_SLUG_LENGTH: usize = 50;

/// The partition routing hint of a check-in: UUIDv5 with namespace
/// UUIDv5(URL, `https://sentry.io/crons/#did`) and name
/// `"<project_id>:<slugified monitor slug>:<environment or production>"`.
pub fn check_in_routing_hint(
    project_id: ProjectId,
    monitor_slug: &str,
    environment: Option<&str>,
) -> Uuid {
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, ROUTING_HINT_NAMESPACE_URL.as_bytes());
    let environment = environment
        .filter(|environment| !environment.is_empty())
        .unwrap_or(DEFAULT_ROUTING_ENVIRONMENT);
    let name = format!("{project_id}:{}:{environment}", slugify(monitor_slug));
    Uuid::new_v5(&namespace, name.as_bytes())
}

/// Sentry's slugify: NFKD, ASCII only, lowercase, characters other than alphanumerics, `_`,
/// whitespace and `-` dropped, runs of whitespace/hyphens collapsed to one `-`, leading and
/// trailing `-`/`_` trimmed, truncated to 50 characters, trailing `-` trimmed.
fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    let mut pending_separator = false;
    for character in text.nfkd().filter(char::is_ascii) {
        // Python's `\s` on ASCII also matches the vertical tab, which Rust's
        // `is_ascii_whitespace` does not.
        let is_separator =
            character == '-' || character.is_ascii_whitespace() || character == '\u{0b}';
        if is_separator {
            pending_separator = true;
            continue;
        }
        if !(character.is_ascii_alphanumeric() || character == '_') {
            continue;
        }
        if pending_separator {
            slug.push('-');
            pending_separator = false;
        }
        slug.push(character.to_ascii_lowercase());
    }
    // A separator run at the very end would be trimmed anyway, so it is never pushed; leading
    // hyphens come from runs before the first kept character, trim them with underscores.
    let trimmed = slug.trim_matches(|character| character == '-' || character == '_');
    // Every character is ASCII here, so byte and character counts agree.
    let truncated = &trimmed[..trimmed.len().min(MAX_SLUG_LENGTH)];
    truncated.trim_end_matches('-').to_owned()
}

/// One `check_in` message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "check_in")]
pub struct CheckInMessage {
    /// `message_type`: always `"check_in"`.
    message_type: &'static str,
    /// `payload`: the normalized check-in JSON (bin).
    #[serde(serialize_with = "serialize_binary")]
    pub payload: Bytes,
    /// `start_time`: received time, unix seconds.
    pub start_time: u64,
    /// `sdk`: client identifier from the auth header; nil when unknown.
    pub sdk: Option<String>,
    /// `project_id`.
    pub project_id: ProjectId,
    /// `retention_days`: event retention.
    pub retention_days: u16,
    /// The routing hint UUIDv5; only the partition key.
    #[serde(skip)]
    pub routing_hint: Uuid,
    /// Organization of the project; only folded into the partition key.
    #[serde(skip)]
    pub organization_id: u64,
}

impl CheckInMessage {
    /// A `check_in` message carrying an already normalized payload.
    pub fn new(
        organization_id: u64,
        project_id: ProjectId,
        routing_hint: Uuid,
        payload: Bytes,
        start_time: u64,
        sdk: Option<String>,
        retention_days: u16,
    ) -> Self {
        CheckInMessage {
            message_type: CHECK_IN_MESSAGE_TYPE,
            payload,
            start_time,
            sdk,
            project_id,
            retention_days,
            routing_hint,
            organization_id,
        }
    }
}

impl EncodeKafkaMessage for CheckInMessage {
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        encode_msgpack(CHECK_IN_MESSAGE_TYPE, self)
    }

    /// Keyed by the routing hint (nil → counter key).
    fn partition_key(&self) -> Option<PartitionKey> {
        keyed_partition_key(*self.routing_hint.as_bytes(), self.organization_id)
    }
}

#[cfg(test)]
mod tests {
    use rmpv::Value;

    use super::super::test_support::*;
    use super::*;

    const PAYLOAD: &[u8] =
        br#"{"check_in_id":"00000000000000000000000000000000","monitor_slug":"cron","status":"ok"}"#;
    const ROUTING_HINT: &str = "0f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0";

    fn message(sdk: Option<String>) -> CheckInMessage {
        CheckInMessage::new(
            2,
            ProjectId(300),
            Uuid::parse_str(ROUTING_HINT).unwrap(),
            Bytes::from_static(PAYLOAD),
            1_717_000_000,
            sdk,
            90,
        )
    }

    #[test]
    fn fields_order_and_types() {
        let encoded = message(Some("sentry.python/2.0.0".to_owned()))
            .encode()
            .unwrap();
        let value = decode(&encoded);
        assert_eq!(
            keys(&value),
            [
                "type",
                "message_type",
                "payload",
                "start_time",
                "sdk",
                "project_id",
                "retention_days"
            ]
        );
        assert_eq!(str_value(&field(&value, "type")), "check_in");
        assert_eq!(str_value(&field(&value, "message_type")), "check_in");
        assert_eq!(bin_value(&field(&value, "payload")), PAYLOAD);
        assert_eq!(uint_value(&field(&value, "start_time")), 1_717_000_000);
        assert_eq!(str_value(&field(&value, "sdk")), "sentry.python/2.0.0");
        assert_eq!(uint_value(&field(&value, "project_id")), 300);
        assert_eq!(uint_value(&field(&value, "retention_days")), 90);
        // Smallest integer encodings: uint16 for 300, fixint for 90.
        assert!(contains(
            &encoded,
            &encoded_field("project_id", &[0xcd, 0x01, 0x2c])
        ));
        assert!(contains(&encoded, &encoded_field("retention_days", &[90])));
    }

    #[test]
    fn slugify_follows_sentry_rules() {
        assert_eq!(slugify("My Cron Job"), "my-cron-job");
        assert_eq!(slugify("  Café__Déjà-vu!! "), "cafe__deja-vu");
        assert_eq!(slugify("--a - \t b--"), "a-b");
        assert_eq!(slugify("_x_"), "x");
        assert_eq!(slugify("a\u{0b}b"), "a-b");
        assert_eq!(slugify("日本"), "");
        let long = format!("{} y", "x".repeat(49));
        assert_eq!(slugify(&long), "x".repeat(49));
    }

    #[test]
    fn routing_hints_match_python_uuid5_reference_values() {
        // Reference values computed with Python's `uuid.uuid5` and Django-style slugify.
        let cases = [
            (
                42,
                "My Cron Job",
                Some("production"),
                "ad85ddcd-39ff-5622-b627-d6085ef39243",
            ),
            (
                42,
                "  Café__Déjà-vu!! ",
                Some(""),
                "63c4f8ca-a48f-5b18-993e-8d6ec42bb63f",
            ),
            (
                42,
                "  Café__Déjà-vu!! ",
                None,
                "63c4f8ca-a48f-5b18-993e-8d6ec42bb63f",
            ),
        ];
        for (project_id, slug, environment, expected) in cases {
            let hint = check_in_routing_hint(ProjectId(project_id), slug, environment);
            assert_eq!(hint.hyphenated().to_string(), expected, "{slug:?}");
        }
        let long = format!("{} y", "x".repeat(49));
        let hint = check_in_routing_hint(ProjectId(7), &long, Some("staging"));
        assert_eq!(
            hint.hyphenated().to_string(),
            "0a6ce8eb-277a-5ba8-963c-770bdf947482"
        );
    }

    #[test]
    fn missing_sdk_is_nil() {
        let value = decode(&message(None).encode().unwrap());
        assert_eq!(field(&value, "sdk"), Value::Nil);
    }

    #[test]
    fn keyed_by_routing_hint_xor_organization_without_headers() {
        let kafka_message = message(None).to_kafka_message().unwrap();
        let mut expected = *Uuid::parse_str(ROUTING_HINT).unwrap().as_bytes();
        expected[7] ^= 2;
        assert_eq!(kafka_message.key, Some(expected));
        assert!(kafka_message.headers.is_empty());
        let mut nil_hint = message(None);
        nil_hint.routing_hint = Uuid::nil();
        assert_eq!(nil_hint.partition_key(), None);
    }
}
