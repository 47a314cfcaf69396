//! The relay identity stored in `credentials.json` (`relay-protocol.md` §1).
//!
//! Invariant: the file form is pretty-printed JSON with two-space indentation, keys in the order
//! `secret_key`, `public_key`, `id`, and a trailing newline.

use relay_auth::{generate_key_pair, PublicKey, RelayId, SecretKey};
use serde::{Deserialize, Serialize};

/// A relay's key pair and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The signing key.
    pub secret_key: SecretKey,
    /// The verifying key announced to the upstream.
    pub public_key: PublicKey,
    /// The relay id.
    pub id: RelayId,
}

impl Credentials {
    /// Fresh credentials: a new key pair and a random UUID v4.
    pub fn generate() -> Self {
        let (secret_key, public_key) = generate_key_pair();
        Self {
            secret_key,
            public_key,
            id: RelayId::new_v4(),
        }
    }

    /// Parses the content of `credentials.json`.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The content written to `credentials.json`.
    pub fn to_json_pretty(&self) -> String {
        // Serializing strings into a String cannot fail; fall back to an empty object anyway.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned());
        json.push('\n');
        json
    }

    /// One line of compact JSON, as printed by `credentials generate --stdout`.
    pub fn to_json_compact(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"{
  "secret_key": "nnwTS8IoPP2SpW377KSouj5QUaSuTZ_ABlvr_dwEx5o",
  "public_key": "1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4",
  "id": "9568a6c9-13b0-4c26-b46a-0a863ab2048e"
}
"#;

    #[test]
    fn spec_example_round_trips_byte_for_byte() {
        let credentials = Credentials::from_json(SPEC_EXAMPLE).unwrap();
        assert_eq!(credentials.secret_key.public_key(), credentials.public_key);
        assert_eq!(credentials.to_json_pretty(), SPEC_EXAMPLE);
        assert_eq!(
            credentials.to_json_compact(),
            "{\"secret_key\":\"nnwTS8IoPP2SpW377KSouj5QUaSuTZ_ABlvr_dwEx5o\",\
             \"public_key\":\"1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4\",\
             \"id\":\"9568a6c9-13b0-4c26-b46a-0a863ab2048e\"}"
        );
    }

    #[test]
    fn generated_credentials_are_consistent() {
        let credentials = Credentials::generate();
        assert_eq!(credentials.secret_key.public_key(), credentials.public_key);
        assert_eq!(credentials.id.get_version_num(), 4);
        let back = Credentials::from_json(&credentials.to_json_pretty()).unwrap();
        assert_eq!(back, credentials);
    }

    #[test]
    fn invalid_files_are_rejected() {
        assert!(Credentials::from_json("{}").is_err());
        assert!(Credentials::from_json(
            r#"{"secret_key":"AAAA","public_key":"1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4","id":"9568a6c9-13b0-4c26-b46a-0a863ab2048e"}"#
        )
        .is_err());
    }
}
