//! [`Timestamp`]: a point in time, parsed leniently and written as float Unix seconds
//! (normalization.md §2).
//!
//! Accepted input:
//!
//! * RFC 3339 / ISO 8601 strings; a missing offset means UTC (`2023-12-31T23:59:50` is
//!   accepted, `2023-12-31 23:59:50` is not). Other offsets are converted to UTC. Digits
//!   beyond microseconds round half up.
//! * Integer or float Unix seconds, rounded to microseconds; negative values are accepted here
//!   (stale timestamps are rejected later, normalization.md §4.3).
//!
//! Errors (`invalid_data` with a `reason`, original value kept): the date parser's message for
//! unparseable strings (e.g. `input contains invalid characters`), `timestamp out of range` for
//! years after 9999 or numbers outside the representable range, `expected a timestamp` for
//! any other type. Output is always float seconds (`1704067140.0`).

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use serde::Serializer;

use crate::annotated::{Annotated, Error, Value};
use crate::from_value::{invalid_type, FromValue};
use crate::into_value::IntoValue;

/// A UTC timestamp with microsecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The timestamp at `micros` microseconds since the Unix epoch, if representable and not
    /// after the year 9999.
    pub fn from_micros(micros: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(micros)
            .filter(|dt| dt.year() <= 9999)
            .map(Timestamp)
    }

    /// Parses a date string as described in the module docs.
    pub fn parse_str(text: &str) -> Result<Self, Error> {
        let datetime = match DateTime::parse_from_rfc3339(text) {
            Ok(datetime) => datetime.with_timezone(&Utc),
            Err(_) => NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .map_err(|err| Error::invalid(err.to_string()))?
                .and_utc(),
        };
        if datetime.year() > 9999 {
            return Err(Error::invalid("timestamp out of range"));
        }
        // More than six fractional digits (SDKs that send nanoseconds) are rounded to the
        // microsecond half up, carrying into the seconds, as StoreNormalizer 0.10.1 does
        // (`…00.0000005Z` → `.000001`, `…00.9999996Z` → `…01.0`).
        let micros = datetime.timestamp() * 1_000_000
            + i64::from((datetime.timestamp_subsec_nanos() + 500) / 1_000);
        Timestamp::from_micros(micros).ok_or_else(|| Error::invalid("timestamp out of range"))
    }

    /// The timestamp at `seconds`, as Sentry reads a float timestamp: the fraction of the
    /// whole seconds truncated to nanoseconds, then rounded to microseconds half up
    /// (`1796682531.2754765` → `…275476`, `-0.0000005` → `0.0`). Found by comparing candidate
    /// formulas with StoreNormalizer 0.10.1 on 3 000 timestamps: with the JSON number parsed
    /// as Sentry parses it (serde_json without `float_roundtrip`, see the workspace
    /// `Cargo.toml`) it matches all of them after 1970-01-01T00:16:40Z.
    pub fn from_seconds(seconds: f64) -> Result<Self, Error> {
        const NANOS_PER_MICRO: i128 = 1_000;
        let whole = seconds.trunc();
        // The range check makes the conversion exact; i64::MAX as f64 rounds up, hence `<`.
        if !whole.is_finite() || whole < i64::MIN as f64 || whole >= i64::MAX as f64 {
            return Err(Error::invalid("timestamp out of range"));
        }
        // |fraction| < 1 s, so this is below 10^9 in magnitude.
        let fraction_nanos = ((seconds - whole) * 1_000_000_000.0) as i128;
        let nanos = i128::from(whole as i64) * 1_000_000_000 + fraction_nanos;
        let micros = (nanos + NANOS_PER_MICRO / 2).div_euclid(NANOS_PER_MICRO);
        i64::try_from(micros)
            .ok()
            .and_then(Timestamp::from_micros)
            .ok_or_else(|| Error::invalid("timestamp out of range"))
    }

    /// Float Unix seconds with microsecond precision, the output form.
    pub fn as_seconds(&self) -> f64 {
        let micros = self.0.timestamp_micros();
        // Split to keep whole seconds exact for any representable date.
        let seconds = micros.div_euclid(1_000_000);
        let fraction = micros.rem_euclid(1_000_000);
        seconds as f64 + fraction as f64 / 1_000_000.0
    }
}

impl FromValue for Timestamp {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        let Annotated(value, mut meta) = value;
        let parsed = match &value {
            None => return Annotated(None, meta),
            Some(Value::String(text)) => Timestamp::parse_str(text),
            Some(Value::I64(n)) => Timestamp::from_seconds(*n as f64),
            Some(Value::U64(n)) => Timestamp::from_seconds(*n as f64),
            Some(Value::F64(f)) => Timestamp::from_seconds(*f),
            Some(other) => return invalid_type(other.clone(), meta, "a timestamp"),
        };
        match parsed {
            Ok(timestamp) => Annotated(Some(timestamp), meta),
            Err(error) => {
                meta.add_error(error);
                meta.set_original_value(value);
                Annotated(None, meta)
            }
        }
    }
}

impl IntoValue for Timestamp {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::F64(self.as_seconds())
    }

    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_seconds())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// StoreNormalizer 0.10.1's outputs for strings with sub-microsecond digits.
    #[test]
    fn string_fractions_beyond_microseconds_round_half_up() {
        let cases = [
            ("2024-01-01T00:00:00.0000005Z", 1_704_067_200_000_001),
            ("2024-01-01T00:00:00.9999996Z", 1_704_067_201_000_000),
            ("2024-01-01T00:00:00.0000004999Z", 1_704_067_200_000_000),
            ("2024-01-01T00:00:00.0000025Z", 1_704_067_200_000_003),
            ("2024-01-01T00:00:00.1234565+01:00", 1_704_063_600_123_457),
            ("2024-01-01T00:00:00.1234565", 1_704_067_200_123_457),
        ];
        for (text, micros) in cases {
            let parsed = Timestamp::parse_str(text).map(|t| t.0.timestamp_micros());
            assert_eq!(parsed, Ok(micros), "{text}");
        }
    }

    #[test]
    fn float_seconds_round_like_sentry() {
        // StoreNormalizer 0.10.1 outputs for these JSON numbers (parsed as Sentry parses them,
        // see `from_seconds`).
        let cases = [
            ("1796682531.2754765", 1796682531.275476),
            ("1796682531.2642515", 1796682531.264252),
            ("1796682531.2751675", 1796682531.275168),
            ("1796682531.9999995", 1796682532.0),
            ("1796682531.2665207", 1796682531.266521),
            ("1500000000.9383023", 1500000000.938303),
            ("1796682531.4037654", 1796682531.403765),
            ("1000000000.2530829", 1000000000.253083),
            ("-0.0000005", 0.0),
            ("1.0000005", 1.000001),
        ];
        for (input, expected) in cases {
            let parsed: serde_json::Value = serde_json::from_str(input).unwrap();
            let timestamp = Timestamp::from_seconds(parsed.as_f64().unwrap()).unwrap();
            assert_eq!(timestamp.as_seconds(), expected, "{input}");
        }
    }
    use crate::from_value::annotated_from_json;

    fn parse(json: serde_json::Value) -> Annotated<Timestamp> {
        Timestamp::from_value(annotated_from_json(json))
    }

    fn seconds(json: serde_json::Value) -> Option<f64> {
        parse(json).0.map(|t| t.as_seconds())
    }

    fn reason(json: serde_json::Value) -> (Option<Value>, Option<Value>) {
        let Annotated(value, meta) = parse(json);
        assert!(value.is_none());
        let reason = meta.errors().first().and_then(|e| e.get("reason")).cloned();
        (reason, meta.original_value().cloned())
    }

    #[test]
    fn accepts_rfc3339_iso8601_and_numbers() {
        assert_eq!(seconds(json!("2023-12-31T23:59:00Z")), Some(1704067140.0));
        assert_eq!(seconds(json!("2023-12-31T23:59:50")), Some(1704067190.0));
        assert_eq!(
            seconds(json!("2024-01-01T02:00:00+02:00")),
            Some(1704067200.0)
        );
        assert_eq!(
            seconds(json!("2023-12-31T23:59:50.25Z")),
            Some(1704067190.25)
        );
        assert_eq!(seconds(json!(1704067200)), Some(1704067200.0));
        assert_eq!(seconds(json!(1704067100.5)), Some(1704067100.5));
        assert_eq!(seconds(json!(1.0000004)), Some(1.0));
        assert_eq!(seconds(json!(-5)), Some(-5.0));
    }

    #[test]
    fn rejects_invalid_input_with_reason_and_original() {
        assert_eq!(
            reason(json!("bogus")),
            (
                Some(Value::from("input contains invalid characters")),
                Some(Value::from("bogus"))
            )
        );
        let (why, original) = reason(json!("2023-12-31 23:59:50"));
        assert!(why.is_some());
        assert_eq!(original, Some(Value::from("2023-12-31 23:59:50")));
        assert_eq!(
            reason(json!(1e15)),
            (
                Some(Value::from("timestamp out of range")),
                Some(Value::F64(1e15))
            )
        );
        assert_eq!(
            reason(json!(true)),
            (
                Some(Value::from("expected a timestamp")),
                Some(Value::Bool(true))
            )
        );
    }

    #[test]
    fn serializes_as_float_seconds() {
        let timestamp = parse(json!("2023-12-31T23:59:00Z"));
        let text = serde_json::to_string(&crate::into_value::SerializePayload(&timestamp));
        assert_eq!(text.ok().as_deref(), Some("1704067140.0"));
    }
}
