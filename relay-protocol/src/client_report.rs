//! `client_report` item payloads (`envelope.md` §4.3).
//!
//! Parsing: `discarded_events` is required (may be empty); `timestamp` and the other three lists
//! are optional. `timestamp` is Unix seconds given as an integer, a float (truncated) or an
//! RFC 3339 string; negative values are invalid. Writing: `timestamp` when known, then
//! `discarded_events` always and the other lists only when non-empty.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::category::DataCategory;

/// Why a client report payload was rejected (the report is then dropped).
#[derive(Debug, thiserror::Error)]
#[error("invalid client report: {0}")]
pub struct ParseClientReportError(#[from] serde_json::Error);

/// One counted discard reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscardedEvent {
    /// Reason code, e.g. `queue_overflow`.
    pub reason: String,
    /// Data category by name; unknown names become [`DataCategory::Unknown`].
    pub category: DataCategory,
    /// How many.
    pub quantity: u32,
}

/// A client report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Unix seconds.
    #[serde(
        default,
        deserialize_with = "deserialize_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<u64>,
    /// Discarded by the SDK (required on input, always written).
    pub discarded_events: Vec<DiscardedEvent>,
    /// Dropped because of rate limits.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rate_limited_events: Vec<DiscardedEvent>,
    /// Dropped by inbound filters.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filtered_events: Vec<DiscardedEvent>,
    /// Dropped by dynamic sampling.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filtered_sampling_events: Vec<DiscardedEvent>,
}

impl ClientReport {
    /// Parses a client report payload.
    pub fn parse(payload: &[u8]) -> Result<ClientReport, ParseClientReportError> {
        Ok(serde_json::from_slice(payload)?)
    }

    /// Writes the report as compact JSON.
    pub fn serialize(&self) -> Vec<u8> {
        // Only strings, integers and lists are serialized, which cannot fail; an empty
        // object would be written if it somehow did.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<DiscardedEvent>, D::Error> {
    Ok(Option::<Vec<DiscardedEvent>>::deserialize(deserializer)?.unwrap_or_default())
}

fn deserialize_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    struct TimestampVisitor;

    impl<'de> Visitor<'de> for TimestampVisitor {
        type Value = Option<u64>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a non-negative unix timestamp or an RFC 3339 string")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }

        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Self::Value, E> {
            Ok(Some(seconds))
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Self::Value, E> {
            u64::try_from(seconds)
                .map(Some)
                .map_err(|_| E::custom("negative timestamp"))
        }

        fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Self::Value, E> {
            // `u64::MAX as f64` rounds up to 2^64, which is itself out of range.
            const U64_RANGE_END: f64 = 18_446_744_073_709_551_616.0;
            if (0.0..U64_RANGE_END).contains(&seconds) {
                // In range and non-negative: the truncating cast is exact up to f64 precision.
                Ok(Some(seconds.trunc() as u64))
            } else {
                Err(E::custom("invalid timestamp"))
            }
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            let parsed = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| E::custom("invalid RFC 3339 timestamp"))?;
            u64::try_from(parsed.timestamp())
                .map(Some)
                .map_err(|_| E::custom("negative timestamp"))
        }
    }

    deserializer.deserialize_option(TimestampVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let payload = br#"{"timestamp": 1735732800,
 "discarded_events":         [{"reason": "queue_overflow", "category": "error", "quantity": 3}],
 "rate_limited_events":      [{"reason": "generic", "category": "transaction", "quantity": 1}],
 "filtered_events":          [],
 "filtered_sampling_events": []}"#;
        let report = ClientReport::parse(payload).unwrap();
        assert_eq!(report.timestamp, Some(1_735_732_800));
        assert_eq!(
            report.discarded_events,
            vec![DiscardedEvent {
                reason: "queue_overflow".into(),
                category: DataCategory::Error,
                quantity: 3,
            }]
        );
        assert_eq!(
            report.rate_limited_events[0].category,
            DataCategory::Transaction
        );
        assert_eq!(
            String::from_utf8(report.serialize()).unwrap(),
            r#"{"timestamp":1735732800,"discarded_events":[{"reason":"queue_overflow","category":"error","quantity":3}],"rate_limited_events":[{"reason":"generic","category":"transaction","quantity":1}]}"#
        );
    }

    #[test]
    fn discarded_events_required_and_always_written() {
        assert!(ClientReport::parse(br#"{"timestamp":1}"#).is_err());
        let report = ClientReport::parse(br#"{"discarded_events":[]}"#).unwrap();
        assert_eq!(report.timestamp, None);
        assert_eq!(
            String::from_utf8(report.serialize()).unwrap(),
            r#"{"discarded_events":[]}"#
        );
    }

    #[test]
    fn timestamp_forms() {
        let parse = |timestamp: &str| {
            ClientReport::parse(
                format!(r#"{{"timestamp":{timestamp},"discarded_events":[]}}"#).as_bytes(),
            )
            .map(|report| report.timestamp)
        };
        assert_eq!(parse("1735732800.9").unwrap(), Some(1_735_732_800));
        assert_eq!(
            parse(r#""2025-01-01T12:00:00Z""#).unwrap(),
            Some(1_735_732_800)
        );
        assert_eq!(parse("null").unwrap(), None);
        assert!(parse("-1").is_err());
        assert!(parse("-1.5").is_err());
        assert!(parse("1e30").is_err());
        assert!(parse(r#""yesterday""#).is_err());
        assert!(parse("true").is_err());
    }

    #[test]
    fn unknown_categories_and_bad_entries() {
        let report = ClientReport::parse(
            br#"{"discarded_events":[{"reason":"x","category":"bogus","quantity":1}],"extra":1}"#,
        )
        .unwrap();
        assert_eq!(report.discarded_events[0].category, DataCategory::Unknown);
        assert!(ClientReport::parse(
            br#"{"discarded_events":[{"reason":"x","category":"error"}]}"#
        )
        .is_err());
        assert!(ClientReport::parse(
            br#"{"discarded_events":[{"reason":"x","category":"error","quantity":-1}]}"#
        )
        .is_err());
        assert!(ClientReport::parse(b"not json").is_err());
    }

    #[test]
    fn round_trip() {
        let report = ClientReport {
            timestamp: Some(5),
            discarded_events: vec![],
            rate_limited_events: vec![],
            filtered_events: vec![DiscardedEvent {
                reason: "release-version".into(),
                category: DataCategory::Error,
                quantity: 2,
            }],
            filtered_sampling_events: vec![DiscardedEvent {
                reason: "Sampled:1".into(),
                category: DataCategory::Transaction,
                quantity: 9,
            }],
        };
        let parsed = ClientReport::parse(&report.serialize()).unwrap();
        assert_eq!(parsed, report);
    }
}
