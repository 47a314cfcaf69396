//! Request signatures of the relay protocol (`relay-protocol.md` §2).
//!
//! A signature travels as `<sig>.<hdr>` in `X-Sentry-Relay-Signature`, where `<hdr>` is the
//! base64url form of a compact JSON [`SignatureHeader`] and `<sig>` the 64-byte Ed25519
//! signature over `H ‖ 0x00 ‖ D` (`H` = the decoded header bytes, `D` = the signed data).
//!
//! Invariants:
//! * verification always uses the header bytes exactly as received, never a re-serialization;
//! * the cryptographic check happens before the freshness check, so a forged header can never
//!   produce a timestamp error;
//! * an unknown algorithm (`a`) makes the signature invalid.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha512};

use crate::keys::BASE64_URL;
use crate::{PublicKey, SecretKey};

/// How far a signature timestamp may lie in the future of the verifier's clock.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(15);

/// Separates the signed header bytes from the signed data.
const MESSAGE_SEPARATOR: u8 = 0x00;
/// Separates `<sig>` from `<hdr>` in the header value.
const PARTS_SEPARATOR: char = '.';
/// Length of an Ed25519 signature in bytes.
const SIGNATURE_LENGTH: usize = 64;

/// Why a signature was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The value is malformed, uses an unknown algorithm or does not match the data and key.
    #[error("invalid signature on data")]
    InvalidSignature,
    /// The signature is valid but older than the allowed maximum age.
    #[error("the timestamp is too far in the past")]
    TimestampTooOld,
    /// The signature is valid but its timestamp is more than [`MAX_FUTURE_SKEW`] ahead.
    #[error("the timestamp is too far in the future")]
    TimestampTooNew,
}

/// The signature algorithm named by the header's `a` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// `"v0"`: plain Ed25519 over `H ‖ 0x00 ‖ D`. Also used when `a` is absent.
    V0,
    /// `"v1"`: Ed25519ph (SHA-512 pre-hash, empty context) over `H ‖ 0x00 ‖ D`.
    V1,
}

impl SignatureAlgorithm {
    /// The value written into the header's `a` field.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::V0 => "v0",
            SignatureAlgorithm::V1 => "v1",
        }
    }

    fn from_header_value(value: &str) -> Option<Self> {
        match value {
            "v0" => Some(SignatureAlgorithm::V0),
            "v1" => Some(SignatureAlgorithm::V1),
            _ => None,
        }
    }
}

/// The signed JSON header: `{"t":"<timestamp>"}` plus an optional `"a"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureHeader {
    /// Creation time of the signature (`t`).
    pub timestamp: DateTime<Utc>,
    /// Algorithm (`a`); `None` omits the field, which means plain Ed25519.
    pub algorithm: Option<SignatureAlgorithm>,
}

impl SignatureHeader {
    /// A header stamped with the current time and no `a` field, as relay produces it.
    pub fn now() -> Self {
        Self {
            timestamp: Utc::now(),
            algorithm: None,
        }
    }

    /// The compact JSON form. The timestamp uses `Z` and the shortest of 0/3/6/9 fraction
    /// digits that represents it exactly.
    pub fn to_json(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert(
            "t".to_owned(),
            serde_json::Value::String(self.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        );
        if let Some(algorithm) = self.algorithm {
            object.insert(
                "a".to_owned(),
                serde_json::Value::String(algorithm.as_str().to_owned()),
            );
        }
        serde_json::Value::Object(object).to_string()
    }

    /// Parses the decoded header bytes. Any RFC 3339 timestamp is accepted; a missing `t` or an
    /// unknown `a` yields `None`.
    fn from_json(bytes: &[u8]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct RawHeader {
            t: String,
            #[serde(default)]
            a: Option<String>,
        }

        let raw: RawHeader = serde_json::from_slice(bytes).ok()?;
        let timestamp = DateTime::parse_from_rfc3339(&raw.t)
            .ok()?
            .with_timezone(&Utc);
        let algorithm = match raw.a {
            None => None,
            Some(value) => Some(SignatureAlgorithm::from_header_value(&value)?),
        };
        Some(Self {
            timestamp,
            algorithm,
        })
    }

    /// Checks the timestamp against `now`: older than `max_age` or more than
    /// [`MAX_FUTURE_SKEW`] ahead is rejected.
    pub fn check_freshness(
        &self,
        max_age: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        let age = now.signed_duration_since(self.timestamp);
        // A max age beyond chrono's range cannot be exceeded by any representable timestamp.
        if let Ok(max_age) = TimeDelta::from_std(max_age) {
            if age > max_age {
                return Err(SignatureError::TimestampTooOld);
            }
        }
        let ahead = -age;
        let max_future_skew = TimeDelta::from_std(MAX_FUTURE_SKEW).unwrap_or(TimeDelta::MAX);
        if ahead > max_future_skew {
            return Err(SignatureError::TimestampTooNew);
        }
        Ok(())
    }
}

/// A complete `X-Sentry-Relay-Signature` header value: `<sig>.<hdr>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature(String);

impl Signature {
    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The header value, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(\"{}\")", self.0)
    }
}

impl From<Signature> for String {
    fn from(signature: Signature) -> Self {
        signature.0
    }
}

/// `H ‖ 0x00 ‖ D`, the message both algorithms sign.
fn signed_message(header_bytes: &[u8], data: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(header_bytes.len() + 1 + data.len());
    message.extend_from_slice(header_bytes);
    message.push(MESSAGE_SEPARATOR);
    message.extend_from_slice(data);
    message
}

/// SHA-512 state over `H ‖ 0x00 ‖ D`, the input of Ed25519ph.
fn prehashed_message(header_bytes: &[u8], data: &[u8]) -> Sha512 {
    let mut hasher = Sha512::new();
    hasher.update(header_bytes);
    hasher.update([MESSAGE_SEPARATOR]);
    hasher.update(data);
    hasher
}

impl SecretKey {
    /// Signs `data` with a header stamped with the current time (plain Ed25519, no `a`).
    pub fn sign(&self, data: &[u8]) -> Signature {
        self.sign_with_header(data, &SignatureHeader::now())
    }

    /// Signs `data` with the given header, using the algorithm the header names.
    pub fn sign_with_header(&self, data: &[u8], header: &SignatureHeader) -> Signature {
        let header_bytes = header.to_json().into_bytes();
        let signature = match header.algorithm {
            None | Some(SignatureAlgorithm::V0) => self
                .signing_key()
                .sign(&signed_message(&header_bytes, data)),
            Some(SignatureAlgorithm::V1) => self
                .signing_key()
                .sign_prehashed(prehashed_message(&header_bytes, data), None)
                // Only a context longer than 255 bytes can fail; relay uses no context at all.
                .expect("Ed25519ph signing without a context cannot fail"),
        };
        Signature(format!(
            "{}{PARTS_SEPARATOR}{}",
            BASE64_URL.encode(signature.to_bytes()),
            BASE64_URL.encode(&header_bytes)
        ))
    }
}

impl PublicKey {
    /// Verifies a `<sig>.<hdr>` header value over `data`, then checks its freshness against
    /// `now` (older than `max_age` or more than [`MAX_FUTURE_SKEW`] ahead is rejected).
    pub fn verify(
        &self,
        data: &[u8],
        signature: &str,
        max_age: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        let header = self.verify_ignoring_time(data, signature)?;
        header.check_freshness(max_age, now)
    }

    /// Verifies only the cryptographic part of a signature and returns its header.
    pub fn verify_ignoring_time(
        &self,
        data: &[u8],
        signature: &str,
    ) -> Result<SignatureHeader, SignatureError> {
        let (signature_part, header_part) = signature
            .split_once(PARTS_SEPARATOR)
            .ok_or(SignatureError::InvalidSignature)?;
        let signature_bytes = BASE64_URL
            .decode(signature_part)
            .map_err(|_| SignatureError::InvalidSignature)?;
        let signature_bytes: [u8; SIGNATURE_LENGTH] = signature_bytes
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::InvalidSignature)?;
        let ed25519_signature = ed25519_dalek::Signature::from_bytes(&signature_bytes);
        let header_bytes = BASE64_URL
            .decode(header_part)
            .map_err(|_| SignatureError::InvalidSignature)?;
        let header =
            SignatureHeader::from_json(&header_bytes).ok_or(SignatureError::InvalidSignature)?;

        let verification = match header.algorithm {
            None | Some(SignatureAlgorithm::V0) => self
                .verifying_key()
                .verify(&signed_message(&header_bytes, data), &ed25519_signature),
            Some(SignatureAlgorithm::V1) => self.verifying_key().verify_prehashed(
                prehashed_message(&header_bytes, data),
                None,
                &ed25519_signature,
            ),
        };
        verification.map_err(|_| SignatureError::InvalidSignature)?;
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::generate_key_pair;

    const MAX_AGE: Duration = Duration::from_secs(300);

    fn timestamp(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn header_at(text: &str, algorithm: Option<SignatureAlgorithm>) -> SignatureHeader {
        SignatureHeader {
            timestamp: timestamp(text),
            algorithm,
        }
    }

    /// Builds `<sig>.<hdr>` by hand from arbitrary header bytes.
    fn raw_signature(secret: &SecretKey, header_json: &str, data: &[u8]) -> String {
        let signature = secret
            .signing_key()
            .sign(&signed_message(header_json.as_bytes(), data));
        format!(
            "{}.{}",
            BASE64_URL.encode(signature.to_bytes()),
            BASE64_URL.encode(header_json)
        )
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let (secret, public) = generate_key_pair();
        let signature = secret.sign(b"{\"hello\":1}");
        assert_eq!(
            public.verify(b"{\"hello\":1}", signature.as_str(), MAX_AGE, Utc::now()),
            Ok(())
        );
    }

    #[test]
    fn empty_data_round_trip() {
        let (secret, public) = generate_key_pair();
        let signature = secret.sign(b"");
        assert_eq!(
            public.verify(b"", signature.as_str(), MAX_AGE, Utc::now()),
            Ok(())
        );
    }

    #[test]
    fn produced_header_has_only_t_with_z_suffix() {
        let (secret, _) = generate_key_pair();
        let signature = secret.sign(b"data");
        let (_, header_part) = signature.as_str().split_once('.').unwrap();
        let header_json = String::from_utf8(BASE64_URL.decode(header_part).unwrap()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&header_json).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 1);
        assert!(object["t"].as_str().unwrap().ends_with('Z'));
        assert!(!signature.as_str().contains('='));
    }

    #[test]
    fn timestamps_use_the_shortest_exact_fraction() {
        let cases = [
            ("2025-03-14T09:26:53Z", "2025-03-14T09:26:53Z"),
            ("2025-03-14T09:26:53.500Z", "2025-03-14T09:26:53.500Z"),
            ("2025-03-14T09:26:53.589793Z", "2025-03-14T09:26:53.589793Z"),
            (
                "2025-03-14T09:26:53.589793412Z",
                "2025-03-14T09:26:53.589793412Z",
            ),
            ("2025-03-14T10:26:53.1+01:00", "2025-03-14T09:26:53.100Z"),
        ];
        for (input, expected) in cases {
            let header = header_at(input, None);
            assert_eq!(header.to_json(), format!("{{\"t\":\"{expected}\"}}"));
        }
    }

    #[test]
    fn header_with_algorithm_writes_a_after_t() {
        let header = header_at("2025-03-14T09:26:53Z", Some(SignatureAlgorithm::V1));
        assert_eq!(
            header.to_json(),
            "{\"t\":\"2025-03-14T09:26:53Z\",\"a\":\"v1\"}"
        );
    }

    #[test]
    fn v1_prehashed_signature_verifies() {
        let (secret, public) = generate_key_pair();
        let now = Utc::now();
        let header_json = format!(
            "{{\"t\":\"{}\",\"a\":\"v1\"}}",
            now.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        let data = b"{\"relay_id\":\"x\"}";
        // Ed25519ph over SHA-512(H || 0x00 || D), constructed independently of sign_with_header.
        let mut hasher = Sha512::new();
        hasher.update(header_json.as_bytes());
        hasher.update([0u8]);
        hasher.update(data);
        let signature = secret.signing_key().sign_prehashed(hasher, None).unwrap();
        let value = format!(
            "{}.{}",
            BASE64_URL.encode(signature.to_bytes()),
            BASE64_URL.encode(&header_json)
        );
        assert_eq!(public.verify(data, &value, MAX_AGE, now), Ok(()));
        assert_eq!(
            public.verify(b"other", &value, MAX_AGE, now),
            Err(SignatureError::InvalidSignature)
        );

        // A plain Ed25519 signature labelled v1 is not accepted, and vice versa.
        let plain_labelled_v1 = raw_signature(&secret, &header_json, data);
        assert_eq!(
            public.verify(data, &plain_labelled_v1, MAX_AGE, now),
            Err(SignatureError::InvalidSignature)
        );
    }

    #[test]
    fn sign_with_header_v1_round_trips() {
        let (secret, public) = generate_key_pair();
        let now = Utc::now();
        let header = SignatureHeader {
            timestamp: now,
            algorithm: Some(SignatureAlgorithm::V1),
        };
        let signature = secret.sign_with_header(b"abc", &header);
        assert_eq!(
            public.verify(b"abc", signature.as_str(), MAX_AGE, now),
            Ok(())
        );
        let returned = public
            .verify_ignoring_time(b"abc", signature.as_str())
            .unwrap();
        assert_eq!(returned.algorithm, Some(SignatureAlgorithm::V1));
    }

    #[test]
    fn explicit_v0_is_plain_ed25519() {
        let (secret, public) = generate_key_pair();
        let now = Utc::now();
        let header_json = format!(
            "{{\"t\":\"{}\",\"a\":\"v0\"}}",
            now.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let value = raw_signature(&secret, &header_json, b"data");
        assert_eq!(public.verify(b"data", &value, MAX_AGE, now), Ok(()));
    }

    #[test]
    fn unknown_algorithm_is_invalid() {
        let (secret, public) = generate_key_pair();
        let now = Utc::now();
        let header_json = format!(
            "{{\"t\":\"{}\",\"a\":\"v2\"}}",
            now.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        let value = raw_signature(&secret, &header_json, b"data");
        assert_eq!(
            public.verify(b"data", &value, MAX_AGE, now),
            Err(SignatureError::InvalidSignature)
        );
    }

    #[test]
    fn header_bytes_are_used_verbatim() {
        // Unusual but valid JSON (whitespace, offset timestamp) must verify as sent.
        let (secret, public) = generate_key_pair();
        let now = Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap();
        let header_json = "{ \"t\" : \"2025-03-14T10:26:50+01:00\" }";
        let value = raw_signature(&secret, header_json, b"data");
        assert_eq!(public.verify(b"data", &value, MAX_AGE, now), Ok(()));
    }

    #[test]
    fn tampered_data_wrong_key_and_garbage_are_invalid() {
        let (secret, public) = generate_key_pair();
        let (_, other_public) = generate_key_pair();
        let now = Utc::now();
        let signature = secret.sign(b"original");
        assert_eq!(
            public.verify(b"tampered", signature.as_str(), MAX_AGE, now),
            Err(SignatureError::InvalidSignature)
        );
        assert_eq!(
            other_public.verify(b"original", signature.as_str(), MAX_AGE, now),
            Err(SignatureError::InvalidSignature)
        );
        let garbage = [
            "",
            ".",
            "abc",
            "abc.def",
            "!!!.???",
            &signature.as_str()[1..],
        ];
        for value in garbage {
            assert_eq!(
                public.verify(b"original", value, MAX_AGE, now),
                Err(SignatureError::InvalidSignature),
                "{value:?}"
            );
        }
    }

    #[test]
    fn header_without_t_or_bad_timestamp_is_invalid() {
        let (secret, public) = generate_key_pair();
        let now = Utc::now();
        for header_json in ["{}", "{\"t\":\"yesterday\"}", "{\"t\":12}", "[]"] {
            let value = raw_signature(&secret, header_json, b"data");
            assert_eq!(
                public.verify(b"data", &value, MAX_AGE, now),
                Err(SignatureError::InvalidSignature),
                "{header_json}"
            );
        }
    }

    #[test]
    fn freshness_limits() {
        let (secret, public) = generate_key_pair();
        let now = timestamp("2025-03-14T09:26:53Z");
        let cases = [
            ("2025-03-14T09:21:53Z", Ok(())),
            ("2025-03-14T09:21:52Z", Err(SignatureError::TimestampTooOld)),
            ("2025-03-14T09:27:08Z", Ok(())),
            ("2025-03-14T09:27:09Z", Err(SignatureError::TimestampTooNew)),
        ];
        for (signed_at, expected) in cases {
            let signature = secret.sign_with_header(b"x", &header_at(signed_at, None));
            assert_eq!(
                public.verify(b"x", signature.as_str(), MAX_AGE, now),
                expected,
                "{signed_at}"
            );
        }
    }

    #[test]
    fn error_messages_match_the_spec() {
        assert_eq!(
            SignatureError::InvalidSignature.to_string(),
            "invalid signature on data"
        );
        assert_eq!(
            SignatureError::TimestampTooOld.to_string(),
            "the timestamp is too far in the past"
        );
        assert_eq!(
            SignatureError::TimestampTooNew.to_string(),
            "the timestamp is too far in the future"
        );
    }

    #[test]
    fn huge_max_age_never_expires() {
        let header = header_at("1970-01-01T00:00:00Z", None);
        assert_eq!(header.check_freshness(Duration::MAX, Utc::now()), Ok(()));
    }
}
