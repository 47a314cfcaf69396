//! Ed25519 key types of a relay identity and their text forms (`relay-protocol.md` §1).
//!
//! Invariants:
//! * [`PublicKey`] always displays as the 32 raw key bytes, base64url without padding (43 chars).
//! * [`SecretKey`] always displays as the 32-byte seed, base64url without padding (43 chars).
//! * Parsing additionally accepts the 64-byte keypair form and PEM (PKCS#8 / SPKI); it never
//!   panics and reports either [`KeyParseError::BadEncoding`] or [`KeyParseError::BadData`].
//! * `Debug` of a [`SecretKey`] never reveals the secret.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::ErrorKind as DerErrorKind;
use ed25519_dalek::pkcs8::{self, spki, DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// The identifier of a relay: a random UUID v4, written lowercase with hyphens.
pub type RelayId = uuid::Uuid;

/// Base64url alphabet without padding on output.
///
/// Padding is tolerated on input because it carries no information and other implementations
/// may emit it.
pub(crate) const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Length of an Ed25519 seed / public key in bytes.
const KEY_LENGTH: usize = 32;
/// Length of the keypair form of a secret key (seed ‖ public key).
const KEYPAIR_LENGTH: usize = 64;
/// Every PEM document starts with this marker.
const PEM_MARKER: &str = "-----BEGIN";

/// Why a key could not be parsed from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// The text is neither base64url nor a well-formed PEM document.
    #[error("bad key encoding")]
    BadEncoding,
    /// The text decodes, but not to a valid Ed25519 key of an accepted length.
    #[error("bad key data")]
    BadData,
}

/// Maps a PEM/DER decoding error: broken PEM framing is an encoding problem, everything past it
/// (wrong algorithm, bad DER, invalid point) is a data problem.
fn classify_der_error(error: &spki::der::Error) -> KeyParseError {
    match error.kind() {
        DerErrorKind::Pem(_) => KeyParseError::BadEncoding,
        _ => KeyParseError::BadData,
    }
}

fn classify_spki_error(error: &spki::Error) -> KeyParseError {
    match error {
        spki::Error::Asn1(der_error) => classify_der_error(der_error),
        _ => KeyParseError::BadData,
    }
}

fn classify_pkcs8_error(error: &pkcs8::Error) -> KeyParseError {
    match error {
        pkcs8::Error::Asn1(der_error) => classify_der_error(der_error),
        pkcs8::Error::PublicKey(spki_error) => classify_spki_error(spki_error),
        _ => KeyParseError::BadData,
    }
}

fn looks_like_pem(text: &str) -> bool {
    text.trim_start().starts_with(PEM_MARKER)
}

/// An Ed25519 verifying key identifying a relay.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    inner: VerifyingKey,
}

impl PublicKey {
    /// Builds a public key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyParseError> {
        let raw: &[u8; KEY_LENGTH] = bytes.try_into().map_err(|_| KeyParseError::BadData)?;
        let inner = VerifyingKey::from_bytes(raw).map_err(|_| KeyParseError::BadData)?;
        Ok(Self { inner })
    }

    /// The 32 raw key bytes.
    pub fn to_bytes(&self) -> [u8; KEY_LENGTH] {
        self.inner.to_bytes()
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.inner
    }
}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.as_bytes().hash(state);
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE64_URL.encode(self.inner.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(\"{self}\")")
    }
}

impl FromStr for PublicKey {
    type Err = KeyParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if looks_like_pem(text) {
            let inner = VerifyingKey::from_public_key_pem(text.trim())
                .map_err(|error| classify_spki_error(&error))?;
            return Ok(Self { inner });
        }
        let bytes = BASE64_URL
            .decode(text)
            .map_err(|_| KeyParseError::BadEncoding)?;
        Self::from_bytes(&bytes)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signing key: the secret half of a relay identity.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    inner: SigningKey,
}

impl SecretKey {
    /// Builds a secret key from a 32-byte seed or the 64-byte keypair form (seed ‖ public key).
    ///
    /// The keypair form is rejected when its public half does not belong to the seed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyParseError> {
        if let Ok(seed) = <&[u8; KEY_LENGTH]>::try_from(bytes) {
            return Ok(Self {
                inner: SigningKey::from_bytes(seed),
            });
        }
        if let Ok(keypair) = <&[u8; KEYPAIR_LENGTH]>::try_from(bytes) {
            let inner =
                SigningKey::from_keypair_bytes(keypair).map_err(|_| KeyParseError::BadData)?;
            return Ok(Self { inner });
        }
        Err(KeyParseError::BadData)
    }

    /// The 32-byte seed.
    pub fn to_bytes(&self) -> [u8; KEY_LENGTH] {
        self.inner.to_bytes()
    }

    /// The public key belonging to this secret key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: self.inner.verifying_key(),
        }
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.inner
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE64_URL.encode(self.inner.as_bytes()))
    }
}

impl fmt::Debug for SecretKey {
    /// Shows only the matching public key so that secrets never end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public_key=\"{}\")", self.public_key())
    }
}

impl FromStr for SecretKey {
    type Err = KeyParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if looks_like_pem(text) {
            let inner = SigningKey::from_pkcs8_pem(text.trim())
                .map_err(|error| classify_pkcs8_error(&error))?;
            return Ok(Self { inner });
        }
        let bytes = BASE64_URL
            .decode(text)
            .map_err(|_| KeyParseError::BadEncoding)?;
        Self::from_bytes(&bytes)
    }
}

impl serde::Serialize for SecretKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SecretKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Generates a fresh key pair from the operating system's random number generator.
pub fn generate_key_pair() -> (SecretKey, PublicKey) {
    let secret = SecretKey {
        inner: SigningKey::generate(&mut rand::rngs::OsRng),
    };
    let public = secret.public_key();
    (secret, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example credentials of `relay-protocol.md` §1.
    const EXAMPLE_SECRET: &str = "nnwTS8IoPP2SpW377KSouj5QUaSuTZ_ABlvr_dwEx5o";
    const EXAMPLE_PUBLIC: &str = "1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4";

    /// PKCS#8 / SPKI documents of the RFC 8410 §10.3 example key.
    const RFC8410_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";
    const RFC8410_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
        -----END PUBLIC KEY-----\n";

    #[test]
    fn example_credentials_from_the_spec_belong_together() {
        let secret: SecretKey = EXAMPLE_SECRET.parse().unwrap();
        let public: PublicKey = EXAMPLE_PUBLIC.parse().unwrap();
        assert_eq!(secret.public_key(), public);
        assert_eq!(secret.to_string(), EXAMPLE_SECRET);
        assert_eq!(public.to_string(), EXAMPLE_PUBLIC);
    }

    #[test]
    fn secret_key_accepts_the_keypair_form_and_writes_the_seed() {
        let secret: SecretKey = EXAMPLE_SECRET.parse().unwrap();
        let mut keypair = secret.to_bytes().to_vec();
        keypair.extend_from_slice(&secret.public_key().to_bytes());
        let keypair_text = BASE64_URL.encode(&keypair);
        assert_eq!(keypair_text.len(), 86);
        let parsed: SecretKey = keypair_text.parse().unwrap();
        assert_eq!(parsed, secret);
        assert_eq!(parsed.to_string(), EXAMPLE_SECRET);
    }

    #[test]
    fn keypair_form_with_a_foreign_public_half_is_bad_data() {
        let secret: SecretKey = EXAMPLE_SECRET.parse().unwrap();
        let (_, other_public) = generate_key_pair();
        let mut keypair = secret.to_bytes().to_vec();
        keypair.extend_from_slice(&other_public.to_bytes());
        let text = BASE64_URL.encode(&keypair);
        assert_eq!(text.parse::<SecretKey>(), Err(KeyParseError::BadData));
    }

    #[test]
    fn pem_forms_are_accepted() {
        let secret: SecretKey = RFC8410_PRIVATE_PEM.parse().unwrap();
        let public: PublicKey = RFC8410_PUBLIC_PEM.parse().unwrap();
        assert_eq!(secret.public_key(), public);
        assert_eq!(
            public.to_bytes().to_vec(),
            BASE64_URL
                .decode("Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE")
                .unwrap()
        );
    }

    #[test]
    fn broken_pem_framing_is_bad_encoding_and_wrong_key_type_is_bad_data() {
        let truncated = "-----BEGIN PRIVATE KEY-----\nMC4CAQAw";
        assert_eq!(
            truncated.parse::<SecretKey>(),
            Err(KeyParseError::BadEncoding)
        );
        // A public key document where a private key is expected.
        assert!(RFC8410_PUBLIC_PEM.parse::<SecretKey>().is_err());
        assert!(RFC8410_PRIVATE_PEM.parse::<PublicKey>().is_err());
    }

    #[test]
    fn parse_errors_distinguish_encoding_and_data() {
        assert_eq!(
            "not base64 at all!".parse::<PublicKey>(),
            Err(KeyParseError::BadEncoding)
        );
        assert_eq!(
            "not base64 at all!".parse::<SecretKey>(),
            Err(KeyParseError::BadEncoding)
        );
        // Valid base64url, wrong length.
        assert_eq!("AAAA".parse::<PublicKey>(), Err(KeyParseError::BadData));
        assert_eq!("AAAA".parse::<SecretKey>(), Err(KeyParseError::BadData));
        assert_eq!("".parse::<PublicKey>(), Err(KeyParseError::BadData));
        assert_eq!(KeyParseError::BadEncoding.to_string(), "bad key encoding");
        assert_eq!(KeyParseError::BadData.to_string(), "bad key data");
    }

    #[test]
    fn padded_input_is_tolerated() {
        let padded = format!("{EXAMPLE_PUBLIC}=");
        let public: PublicKey = padded.parse().unwrap();
        assert_eq!(public.to_string(), EXAMPLE_PUBLIC);
    }

    #[test]
    fn generated_keys_round_trip_through_text() {
        let (secret, public) = generate_key_pair();
        assert_eq!(secret.public_key(), public);
        assert_eq!(secret.to_string().len(), 43);
        assert_eq!(public.to_string().len(), 43);
        assert_eq!(secret.to_string().parse::<SecretKey>().unwrap(), secret);
        assert_eq!(public.to_string().parse::<PublicKey>().unwrap(), public);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let public: PublicKey = EXAMPLE_PUBLIC.parse().unwrap();
        let json = serde_json::to_string(&public).unwrap();
        assert_eq!(json, format!("\"{EXAMPLE_PUBLIC}\""));
        let back: PublicKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, public);
        let error = serde_json::from_str::<SecretKey>("\"AAAA\"").unwrap_err();
        assert!(error.to_string().contains("bad key data"));
    }

    #[test]
    fn secret_debug_does_not_reveal_the_secret() {
        let secret: SecretKey = EXAMPLE_SECRET.parse().unwrap();
        let debug = format!("{secret:?}");
        assert!(!debug.contains(EXAMPLE_SECRET));
        assert!(debug.contains(EXAMPLE_PUBLIC));
    }
}
