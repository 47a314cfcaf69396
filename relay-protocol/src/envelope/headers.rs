//! Envelope headers (`envelope.md` §2) and the `trace` header / dynamic sampling context
//! (§2.3).
//!
//! Invariants:
//! * Every known key is stored typed; a value of the wrong type fails parsing ("invalid
//!   envelope header"), except `trace`, whose failure only marks the DSC invalid. `null` reads
//!   as absent for the optional keys.
//! * Unknown keys are kept verbatim and written after the known ones, sorted by name.
//! * Serialization follows Relay's key order and omission rules exactly (see
//!   [`EnvelopeHeaders::serialize_into`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::dsn::Dsn;
use crate::ids::{EventId, ProjectKey, TraceId};
use crate::json_writer::{self, ObjectWriter};

/// Protocol version written when none is known.
pub const DEFAULT_ENVELOPE_VERSION: u16 = 7;

/// Browser client hints (`Sec-CH-UA*` request headers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHints {
    /// `Sec-CH-UA-Platform`
    pub sec_ch_ua_platform: Option<String>,
    /// `Sec-CH-UA-Platform-Version`
    pub sec_ch_ua_platform_version: Option<String>,
    /// `Sec-CH-UA`
    pub sec_ch_ua: Option<String>,
    /// `Sec-CH-UA-Model`
    pub sec_ch_ua_model: Option<String>,
}

impl ClientHints {
    /// Whether no hint is set.
    pub fn is_empty(&self) -> bool {
        self.sec_ch_ua_platform.is_none()
            && self.sec_ch_ua_platform_version.is_none()
            && self.sec_ch_ua.is_none()
            && self.sec_ch_ua_model.is_none()
    }

    /// Overrides every hint that `other` has.
    pub fn override_with(&mut self, other: &ClientHints) {
        let pairs = [
            (&mut self.sec_ch_ua_platform, &other.sec_ch_ua_platform),
            (
                &mut self.sec_ch_ua_platform_version,
                &other.sec_ch_ua_platform_version,
            ),
            (&mut self.sec_ch_ua, &other.sec_ch_ua),
            (&mut self.sec_ch_ua_model, &other.sec_ch_ua_model),
        ];
        for (target, source) in pairs {
            if source.is_some() {
                target.clone_from(source);
            }
        }
    }

    fn fields(&self) -> [(&'static str, &Option<String>); 4] {
        [
            ("sec_ch_ua_platform", &self.sec_ch_ua_platform),
            (
                "sec_ch_ua_platform_version",
                &self.sec_ch_ua_platform_version,
            ),
            ("sec_ch_ua", &self.sec_ch_ua),
            ("sec_ch_ua_model", &self.sec_ch_ua_model),
        ]
    }

    fn serialize_into(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::begin(out);
        for (key, value) in self.fields() {
            if let Some(value) = value {
                object.string(key, value);
            }
        }
        object.end();
    }
}

impl<'de> Deserialize<'de> for ClientHints {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HintsVisitor;

        impl<'de> Visitor<'de> for HintsVisitor {
            type Value = ClientHints;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a client hints object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ClientHints, A::Error> {
                let mut hints = ClientHints::default();
                while let Some(key) = map.next_key::<String>()? {
                    let target = match key.as_str() {
                        "sec_ch_ua_platform" => &mut hints.sec_ch_ua_platform,
                        "sec_ch_ua_platform_version" => &mut hints.sec_ch_ua_platform_version,
                        "sec_ch_ua" => &mut hints.sec_ch_ua,
                        "sec_ch_ua_model" => &mut hints.sec_ch_ua_model,
                        _ => {
                            // Unknown hints carry no meaning and are dropped.
                            map.next_value::<de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    *target = map.next_value::<Option<String>>()?;
                }
                Ok(hints)
            }
        }

        deserializer.deserialize_map(HintsVisitor)
    }
}

/// The dynamic sampling context carried in the `trace` header.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicSamplingContext {
    /// `trace_id` (required).
    pub trace_id: TraceId,
    /// `public_key` of the root project (required).
    pub public_key: ProjectKey,
    /// `release`
    pub release: Option<String>,
    /// `environment`
    pub environment: Option<String>,
    /// `transaction` (input alias `segment_name`).
    pub transaction: Option<String>,
    /// `sample_rate`, non-negative; written back as a JSON string.
    pub sample_rate: Option<f64>,
    /// `user_id`; empty means absent.
    pub user_id: String,
    /// `user_segment`; empty means absent.
    pub user_segment: String,
    /// `replay_id`
    pub replay_id: Option<Uuid>,
    /// `sampled`
    pub sampled: Option<bool>,
    /// Any other keys, preserved and written sorted by name.
    pub other: BTreeMap<String, Value>,
}

/// Why a `trace` value is not a valid dynamic sampling context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDscError {
    /// Not a JSON object.
    #[error("trace header is not an object")]
    NotAnObject,
    /// `trace_id` missing or not a 32-hex id.
    #[error("trace header has a missing or invalid trace_id")]
    TraceId,
    /// `public_key` missing or not a 32-character key.
    #[error("trace header has a missing or invalid public_key")]
    PublicKey,
    /// A string field has another type.
    #[error("trace header field `{0}` must be a string")]
    NotAString(&'static str),
    /// `sample_rate` is not a non-negative number.
    #[error("trace header has an invalid sample_rate")]
    SampleRate,
    /// `replay_id` is not a UUID.
    #[error("trace header has an invalid replay_id")]
    ReplayId,
    /// `sampled` is not a bool or `"true"`/`"false"`.
    #[error("trace header has an invalid sampled flag")]
    Sampled,
    /// `user` is neither an object nor null.
    #[error("trace header has an invalid user object")]
    User,
}

impl DynamicSamplingContext {
    /// Interprets a `trace` header value (§2.3).
    pub fn from_value(value: Value) -> Result<DynamicSamplingContext, InvalidDscError> {
        let Value::Object(mut object) = value else {
            return Err(InvalidDscError::NotAnObject);
        };
        let trace_id = match object.remove("trace_id") {
            Some(Value::String(text)) => {
                TraceId::parse(&text).map_err(|_| InvalidDscError::TraceId)?
            }
            _ => return Err(InvalidDscError::TraceId),
        };
        let public_key = match object.remove("public_key") {
            Some(Value::String(text)) => {
                ProjectKey::parse(&text).map_err(|_| InvalidDscError::PublicKey)?
            }
            _ => return Err(InvalidDscError::PublicKey),
        };
        let release = take_optional_string(&mut object, "release")?;
        let environment = take_optional_string(&mut object, "environment")?;
        let transaction = take_optional_string(&mut object, "transaction")?;
        let segment_name = take_optional_string(&mut object, "segment_name")?;
        let transaction = transaction.or(segment_name);
        let sample_rate = parse_sample_rate(object.remove("sample_rate"))?;
        let mut user_id = take_optional_string(&mut object, "user_id")?.unwrap_or_default();
        let mut user_segment =
            take_optional_string(&mut object, "user_segment")?.unwrap_or_default();
        match object.remove("user") {
            None | Some(Value::Null) => {}
            Some(Value::Object(mut user)) => {
                let nested_id = take_optional_string(&mut user, "id")?.unwrap_or_default();
                let nested_segment =
                    take_optional_string(&mut user, "segment")?.unwrap_or_default();
                if user_id.is_empty() {
                    user_id = nested_id;
                }
                if user_segment.is_empty() {
                    user_segment = nested_segment;
                }
            }
            Some(_) => return Err(InvalidDscError::User),
        }
        let replay_id = match object.remove("replay_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(Uuid::try_parse(&text).map_err(|_| InvalidDscError::ReplayId)?)
            }
            Some(_) => return Err(InvalidDscError::ReplayId),
        };
        let sampled = match object.remove("sampled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(sampled)) => Some(sampled),
            Some(Value::String(text)) if text == "true" => Some(true),
            Some(Value::String(text)) if text == "false" => Some(false),
            Some(_) => return Err(InvalidDscError::Sampled),
        };
        Ok(DynamicSamplingContext {
            trace_id,
            public_key,
            release,
            environment,
            transaction,
            sample_rate,
            user_id,
            user_segment,
            replay_id,
            sampled,
            other: object.into_iter().collect(),
        })
    }

    /// Writes the DSC in Relay's key order (§2.3).
    pub fn serialize_into(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::begin(out);
        object.string("trace_id", &self.trace_id.to_string());
        object.string("public_key", self.public_key.as_str());
        write_nullable_string(&mut object, "release", self.release.as_deref());
        write_nullable_string(&mut object, "environment", self.environment.as_deref());
        write_nullable_string(&mut object, "transaction", self.transaction.as_deref());
        if let Some(sample_rate) = self.sample_rate {
            object.string("sample_rate", &sample_rate.to_string());
        }
        if !self.user_segment.is_empty() {
            object.string("user_segment", &self.user_segment);
        }
        if !self.user_id.is_empty() {
            object.string("user_id", &self.user_id);
        }
        match self.replay_id {
            Some(replay_id) => object.string("replay_id", &replay_id.hyphenated().to_string()),
            None => object.raw("replay_id", "null"),
        }
        if let Some(sampled) = self.sampled {
            object.raw("sampled", if sampled { "true" } else { "false" });
        }
        for (key, value) in &self.other {
            json_writer::write_value(object.escaped_key(key), value);
        }
        object.end();
    }
}

fn take_optional_string(
    object: &mut Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, InvalidDscError> {
    match object.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(InvalidDscError::NotAString(key)),
    }
}

/// A number or numeric string, finite and non-negative.
fn parse_sample_rate(value: Option<Value>) -> Result<Option<f64>, InvalidDscError> {
    let rate = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match rate {
        Some(rate) if rate.is_finite() && rate >= 0.0 => Ok(Some(rate)),
        _ => Err(InvalidDscError::SampleRate),
    }
}

fn write_nullable_string(object: &mut ObjectWriter<'_>, key: &str, value: Option<&str>) {
    match value {
        Some(value) => object.string(key, value),
        None => object.raw(key, "null"),
    }
}

/// The `trace` envelope header.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceHeader {
    /// A valid dynamic sampling context.
    Valid(Box<DynamicSamplingContext>),
    /// A value that is not a valid DSC: treated as absent, re-serialized as `null`.
    Invalid,
}

impl TraceHeader {
    /// Interprets a non-null `trace` value; never fails.
    pub fn from_value(value: Value) -> TraceHeader {
        match DynamicSamplingContext::from_value(value) {
            Ok(dsc) => TraceHeader::Valid(Box::new(dsc)),
            Err(_) => TraceHeader::Invalid,
        }
    }

    /// The DSC if valid.
    pub fn dsc(&self) -> Option<&DynamicSamplingContext> {
        match self {
            TraceHeader::Valid(dsc) => Some(dsc),
            TraceHeader::Invalid => None,
        }
    }
}

/// The envelope header.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvelopeHeaders {
    /// `event_id`
    pub event_id: Option<EventId>,
    /// `dsn`, kept as text; always a valid DSN after parsing.
    pub dsn: Option<String>,
    /// `client`: SDK `name/version`.
    pub client: Option<String>,
    /// `version`: protocol version; written as 7 when `None`.
    pub version: Option<u16>,
    /// `origin`: browser origin; written normalized (trailing slash).
    pub origin: Option<url::Url>,
    /// `remote_addr`: peer IP seen by the first relay.
    pub remote_addr: Option<IpAddr>,
    /// `forwarded_for`: forwarding chain; empty means absent.
    pub forwarded_for: String,
    /// `user_agent`
    pub user_agent: Option<String>,
    /// `client_hints`; written only when not empty.
    pub client_hints: ClientHints,
    /// `no_cache`; written only when `true`.
    pub no_cache: bool,
    /// `sent_at`
    pub sent_at: Option<DateTime<Utc>>,
    /// `trace`: parsed DSC or the invalid marker.
    pub trace: Option<TraceHeader>,
    /// `required_features`; empty means absent.
    pub required_features: Vec<String>,
    /// Every other key, preserved verbatim.
    pub other: BTreeMap<String, Value>,
}

impl EnvelopeHeaders {
    /// The parsed DSC, if the `trace` header is present and valid.
    pub fn dsc(&self) -> Option<&DynamicSamplingContext> {
        self.trace.as_ref().and_then(TraceHeader::dsc)
    }

    /// The protocol version, 7 when absent.
    pub fn version_or_default(&self) -> u16 {
        self.version.unwrap_or(DEFAULT_ENVELOPE_VERSION)
    }

    /// Writes the header object: `event_id`, `dsn`, `client`, `version`, `origin`,
    /// `remote_addr`, `forwarded_for`, `user_agent`, `client_hints`, `no_cache`, `sent_at`,
    /// `trace`, `required_features`, then the other keys sorted by name. `version` is always
    /// written; the rest is omitted when absent/empty/false.
    pub fn serialize_into(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::begin(out);
        if let Some(event_id) = self.event_id {
            let mut buffer = Uuid::encode_buffer();
            object.string("event_id", event_id.0.simple().encode_lower(&mut buffer));
        }
        if let Some(dsn) = &self.dsn {
            object.string("dsn", dsn);
        }
        if let Some(client) = &self.client {
            object.string("client", client);
        }
        object.unsigned("version", u64::from(self.version_or_default()));
        if let Some(origin) = &self.origin {
            object.string("origin", origin.as_str());
        }
        if let Some(remote_addr) = &self.remote_addr {
            object.string("remote_addr", &remote_addr.to_string());
        }
        if !self.forwarded_for.is_empty() {
            object.string("forwarded_for", &self.forwarded_for);
        }
        if let Some(user_agent) = &self.user_agent {
            object.string("user_agent", user_agent);
        }
        if !self.client_hints.is_empty() {
            self.client_hints
                .serialize_into(object.plain_key("client_hints"));
        }
        if self.no_cache {
            object.raw("no_cache", "true");
        }
        if let Some(sent_at) = &self.sent_at {
            object.string("sent_at", &format_sent_at(sent_at));
        }
        match &self.trace {
            Some(TraceHeader::Valid(dsc)) => dsc.serialize_into(object.plain_key("trace")),
            Some(TraceHeader::Invalid) => object.raw("trace", "null"),
            None => {}
        }
        if !self.required_features.is_empty() {
            let out = object.plain_key("required_features");
            out.push(b'[');
            for (index, feature) in self.required_features.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                json_writer::write_string(out, feature);
            }
            out.push(b']');
        }
        for (key, value) in &self.other {
            json_writer::write_value(object.escaped_key(key), value);
        }
        object.end();
    }

    /// Rough upper bound of the serialized size, for buffer pre-allocation.
    pub(crate) fn size_hint(&self) -> usize {
        const FIXED_ESTIMATE: usize = 512;
        const PER_OTHER_KEY_ESTIMATE: usize = 64;
        FIXED_ESTIMATE + PER_OTHER_KEY_ESTIMATE * self.other.len()
    }
}

/// RFC 3339 in UTC with `Z` and 0, 3, 6 or 9 fractional digits, whichever is exact.
pub fn format_sent_at(sent_at: &DateTime<Utc>) -> String {
    sent_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses a value with `FromStr` from a JSON string, with a serde error on failure.
fn parse_str_value<'de, A, T>(map: &mut A, what: &'static str) -> Result<Option<T>, A::Error>
where
    A: MapAccess<'de>,
    T: std::str::FromStr,
{
    let Some(text) = map.next_value::<Option<BorrowedOrOwnedStr<'de>>>()? else {
        return Ok(None);
    };
    text.as_str()
        .parse::<T>()
        .map(Some)
        .map_err(|_| de::Error::custom(format_args!("invalid {what}")))
}

/// A JSON string borrowed from the input when it has no escapes.
enum BorrowedOrOwnedStr<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl BorrowedOrOwnedStr<'_> {
    fn as_str(&self) -> &str {
        match self {
            BorrowedOrOwnedStr::Borrowed(text) => text,
            BorrowedOrOwnedStr::Owned(text) => text,
        }
    }
}

impl<'de> Deserialize<'de> for BorrowedOrOwnedStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = BorrowedOrOwnedStr<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedOrOwnedStr::Borrowed(text))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(BorrowedOrOwnedStr::Owned(text.to_owned()))
            }
        }

        deserializer.deserialize_str(StrVisitor)
    }
}

macro_rules! envelope_header_keys {
    ($( $variant:ident = $name:literal, )*) => {
        /// Known envelope header keys, in write order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum KnownEnvelopeHeader {
            $( $variant, )*
        }

        impl KnownEnvelopeHeader {
            fn name(self) -> &'static str {
                match self {
                    $( KnownEnvelopeHeader::$variant => $name, )*
                }
            }

            fn from_name(name: &str) -> Option<KnownEnvelopeHeader> {
                match name {
                    $( $name => Some(KnownEnvelopeHeader::$variant), )*
                    _ => None,
                }
            }

            /// Bit used to detect duplicate keys.
            fn bit(self) -> u32 {
                1 << (self as u32)
            }
        }
    };
}

envelope_header_keys! {
    EventId = "event_id",
    Dsn = "dsn",
    Client = "client",
    Version = "version",
    Origin = "origin",
    RemoteAddr = "remote_addr",
    ForwardedFor = "forwarded_for",
    UserAgent = "user_agent",
    ClientHints = "client_hints",
    NoCache = "no_cache",
    SentAt = "sent_at",
    Trace = "trace",
    RequiredFeatures = "required_features",
}

enum EnvelopeHeaderKey {
    Known(KnownEnvelopeHeader),
    Other(String),
}

impl<'de> Deserialize<'de> for EnvelopeHeaderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = EnvelopeHeaderKey;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an envelope header key")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<EnvelopeHeaderKey, E> {
                Ok(match KnownEnvelopeHeader::from_name(key) {
                    Some(known) => EnvelopeHeaderKey::Known(known),
                    None => EnvelopeHeaderKey::Other(key.to_owned()),
                })
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for EnvelopeHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;

        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = EnvelopeHeaders;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an envelope header object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvelopeHeaders, A::Error> {
                let mut headers = EnvelopeHeaders::default();
                let mut seen_keys = 0u32;
                while let Some(key) = map.next_key::<EnvelopeHeaderKey>()? {
                    let known = match key {
                        EnvelopeHeaderKey::Other(name) => {
                            let value = map.next_value::<Value>()?;
                            headers.other.insert(name, value);
                            continue;
                        }
                        EnvelopeHeaderKey::Known(known) => known,
                    };
                    if seen_keys & known.bit() != 0 {
                        return Err(de::Error::duplicate_field(known.name()));
                    }
                    seen_keys |= known.bit();
                    read_known_header(&mut map, known, &mut headers)?;
                }
                Ok(headers)
            }
        }

        deserializer.deserialize_map(HeadersVisitor)
    }
}

fn read_known_header<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: KnownEnvelopeHeader,
    headers: &mut EnvelopeHeaders,
) -> Result<(), A::Error> {
    match key {
        KnownEnvelopeHeader::EventId => headers.event_id = map.next_value()?,
        KnownEnvelopeHeader::Dsn => {
            let dsn = map.next_value::<Option<String>>()?;
            if let Some(dsn) = &dsn {
                Dsn::parse(dsn).map_err(de::Error::custom)?;
            }
            headers.dsn = dsn;
        }
        KnownEnvelopeHeader::Client => headers.client = map.next_value()?,
        KnownEnvelopeHeader::Version => headers.version = map.next_value()?,
        KnownEnvelopeHeader::Origin => headers.origin = parse_str_value(map, "origin URL")?,
        KnownEnvelopeHeader::RemoteAddr => {
            headers.remote_addr = parse_str_value(map, "remote address")?;
        }
        KnownEnvelopeHeader::ForwardedFor => headers.forwarded_for = map.next_value()?,
        KnownEnvelopeHeader::UserAgent => headers.user_agent = map.next_value()?,
        KnownEnvelopeHeader::ClientHints => headers.client_hints = map.next_value()?,
        KnownEnvelopeHeader::NoCache => headers.no_cache = map.next_value()?,
        KnownEnvelopeHeader::SentAt => {
            headers.sent_at = parse_str_value(map, "sent_at timestamp")?;
        }
        KnownEnvelopeHeader::Trace => {
            headers.trace = match map.next_value::<Value>()? {
                Value::Null => None,
                value => Some(TraceHeader::from_value(value)),
            };
        }
        KnownEnvelopeHeader::RequiredFeatures => headers.required_features = map.next_value()?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const TRACE_ID: &str = "4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a";

    fn parse(json: &str) -> Result<EnvelopeHeaders, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn write(headers: &EnvelopeHeaders) -> String {
        let mut out = Vec::new();
        headers.serialize_into(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn full_key_order() {
        let input = format!(
            r#"{{"zz":1,"required_features":["a"],"trace":{{"trace_id":"{TRACE_ID}","public_key":"{KEY}"}},"sent_at":"2025-01-01T12:00:00.123Z","no_cache":true,"client_hints":{{"sec_ch_ua_model":"m","sec_ch_ua_platform":"p"}},"user_agent":"ua","forwarded_for":"1.2.3.4","remote_addr":"::1","origin":"http://a.com","version":5,"client":"sdk/1","dsn":"https://{KEY}@h/1","event_id":"{TRACE_ID}","sdk":{{"name":"x"}}}}"#
        );
        let headers = parse(&input).unwrap();
        assert_eq!(
            write(&headers),
            format!(
                r#"{{"event_id":"{TRACE_ID}","dsn":"https://{KEY}@h/1","client":"sdk/1","version":5,"origin":"http://a.com/","remote_addr":"::1","forwarded_for":"1.2.3.4","user_agent":"ua","client_hints":{{"sec_ch_ua_platform":"p","sec_ch_ua_model":"m"}},"no_cache":true,"sent_at":"2025-01-01T12:00:00.123Z","trace":{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","release":null,"environment":null,"transaction":null,"replay_id":null}},"required_features":["a"],"sdk":{{"name":"x"}},"zz":1}}"#
            )
        );
    }

    #[test]
    fn omissions_and_version_default() {
        let headers = parse("{}").unwrap();
        assert_eq!(headers.version, None);
        assert_eq!(write(&headers), r#"{"version":7}"#);
        let headers = parse(
            r#"{"no_cache":false,"forwarded_for":"","required_features":[],"client_hints":{}}"#,
        )
        .unwrap();
        assert_eq!(write(&headers), r#"{"version":7}"#);
        let headers = parse(r#"{"event_id":null,"sent_at":null,"trace":null,"dsn":null}"#).unwrap();
        assert_eq!(write(&headers), r#"{"version":7}"#);
    }

    #[test]
    fn event_id_is_written_as_simple_hex() {
        let headers = parse(r#"{"event_id":"4B7B9E0D-4C1F-4F0A-9A3F-6A2D8F1C2B3A"}"#).unwrap();
        assert_eq!(
            write(&headers),
            format!(r#"{{"event_id":"{TRACE_ID}","version":7}}"#)
        );
    }

    #[test]
    fn wrong_types_fail() {
        for input in [
            r#"{"event_id":"nope"}"#,
            r#"{"event_id":5}"#,
            r#"{"dsn":"not a dsn"}"#,
            r#"{"dsn":"https://short@h/1"}"#,
            r#"{"sent_at":"yesterday"}"#,
            r#"{"sent_at":12345}"#,
            r#"{"version":"7"}"#,
            r#"{"version":70000}"#,
            r#"{"client":1}"#,
            r#"{"origin":"not a url"}"#,
            r#"{"remote_addr":"1.2.3"}"#,
            r#"{"no_cache":"yes"}"#,
            r#"{"no_cache":null}"#,
            r#"{"forwarded_for":null}"#,
            r#"{"required_features":"a"}"#,
            r#"{"client_hints":"a"}"#,
            r#"{"client_hints":{"sec_ch_ua":1}}"#,
            r#"{"client":"a","client":"b"}"#,
            r#"[]"#,
            r#""text""#,
        ] {
            assert!(parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn sent_at_formatting() {
        let cases = [
            ("2025-01-01T12:00:00Z", "2025-01-01T12:00:00Z"),
            ("2025-01-01T12:00:00.5Z", "2025-01-01T12:00:00.500Z"),
            ("2025-01-01T12:00:00.123456Z", "2025-01-01T12:00:00.123456Z"),
            (
                "2025-01-01T12:00:00.1234567Z",
                "2025-01-01T12:00:00.123456700Z",
            ),
            (
                "2025-01-01T12:00:00.123456789Z",
                "2025-01-01T12:00:00.123456789Z",
            ),
            ("2025-01-01T14:00:00+02:00", "2025-01-01T12:00:00Z"),
        ];
        for (input, expected) in cases {
            let headers = parse(&format!(r#"{{"sent_at":"{input}"}}"#)).unwrap();
            assert_eq!(
                format_sent_at(&headers.sent_at.unwrap()),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn dsc_spec_example() {
        let input = format!(
            r#"{{"trace":{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","sample_rate":0.5,"user":{{"id":"u1"}}}}}}"#
        );
        let headers = parse(&input).unwrap();
        assert_eq!(
            write(&headers),
            format!(
                r#"{{"version":7,"trace":{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","release":null,"environment":null,"transaction":null,"sample_rate":"0.5","user_id":"u1","replay_id":null}}}}"#
            )
        );
    }

    #[test]
    fn dsc_full_order_and_aliases() {
        let input = serde_json::json!({
            "zeta": [1],
            "sampled": "true",
            "replay_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "user_id": "uid",
            "user_segment": "vip",
            "sample_rate": "0.25",
            "segment_name": "/checkout",
            "environment": "prod",
            "release": "1.0",
            "public_key": KEY,
            "trace_id": TRACE_ID.to_uppercase(),
            "alpha": "x",
        });
        let dsc = DynamicSamplingContext::from_value(input).unwrap();
        let mut out = Vec::new();
        dsc.serialize_into(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","release":"1.0","environment":"prod","transaction":"/checkout","sample_rate":"0.25","user_segment":"vip","user_id":"uid","replay_id":"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90","sampled":true,"alpha":"x","zeta":[1]}}"#
            )
        );
    }

    #[test]
    fn dsc_empty_user_values_are_omitted() {
        let input = serde_json::json!({
            "trace_id": TRACE_ID, "public_key": KEY, "user_id": "", "user": {"segment": "s"},
            "sampled": false, "sample_rate": 1
        });
        let dsc = DynamicSamplingContext::from_value(input).unwrap();
        assert_eq!(dsc.user_id, "");
        assert_eq!(dsc.user_segment, "s");
        let mut out = Vec::new();
        dsc.serialize_into(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","release":null,"environment":null,"transaction":null,"sample_rate":"1","user_segment":"s","replay_id":null,"sampled":false}}"#
            )
        );
    }

    #[test]
    fn invalid_dsc_is_kept_as_null() {
        for trace in [
            r#""text""#,
            r#"{}"#,
            &format!(r#"{{"trace_id":"{TRACE_ID}"}}"#),
            &format!(r#"{{"trace_id":"xyz","public_key":"{KEY}"}}"#),
            &format!(r#"{{"trace_id":"{TRACE_ID}","public_key":"short"}}"#),
            &format!(r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","sample_rate":-0.5}}"#),
            &format!(r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","sample_rate":"abc"}}"#),
            &format!(r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","sampled":"yes"}}"#),
            &format!(r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","replay_id":"r"}}"#),
            &format!(r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","release":5}}"#),
            &format!(r#"{{"trace_id":"{TRACE_ID}","public_key":"{KEY}","user":"u"}}"#),
        ] {
            let headers = parse(&format!(r#"{{"trace":{trace}}}"#)).unwrap();
            assert_eq!(headers.trace, Some(TraceHeader::Invalid), "{trace}");
            assert_eq!(headers.dsc(), None);
            assert_eq!(write(&headers), r#"{"version":7,"trace":null}"#);
        }
    }

    #[test]
    fn client_hints_override_per_field() {
        let mut base = ClientHints {
            sec_ch_ua: Some("a".into()),
            sec_ch_ua_model: Some("m".into()),
            ..ClientHints::default()
        };
        base.override_with(&ClientHints {
            sec_ch_ua: Some("b".into()),
            sec_ch_ua_platform: Some("p".into()),
            ..ClientHints::default()
        });
        assert_eq!(base.sec_ch_ua.as_deref(), Some("b"));
        assert_eq!(base.sec_ch_ua_model.as_deref(), Some("m"));
        assert_eq!(base.sec_ch_ua_platform.as_deref(), Some("p"));
        assert_eq!(base.sec_ch_ua_platform_version, None);
    }
}
