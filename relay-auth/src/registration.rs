//! JSON bodies of the two-step registration handshake (`relay-protocol.md` §3).
//!
//! A relay sends a [`RegisterRequest`], receives a [`RegisterChallenge`], answers with a
//! [`RegisterResponse`] carrying the challenge token and finally receives a [`Registration`].
//! A missing `version` on input is read as `0.0.0`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{PublicKey, RelayId};

/// A relay version `MAJOR.MINOR.PATCH`, as sent during registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RelayVersion {
    /// Major version (the release year for calendar-versioned relays).
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version.
    pub patch: u64,
}

/// The version of this crate's workspace, which is the version of the relay binary.
const CURRENT_VERSION_TEXT: &str = env!("CARGO_PKG_VERSION");

/// Parses one decimal component at compile time; a malformed package version fails the build.
const fn parse_component(bytes: &[u8], start: usize) -> (u64, usize) {
    let mut index = start;
    let mut value: u64 = 0;
    while index < bytes.len() && bytes[index].is_ascii_digit() {
        value = value * 10 + (bytes[index] - b'0') as u64;
        index += 1;
    }
    assert!(index > start, "package version component is not a number");
    (value, index)
}

const fn parse_current_version() -> RelayVersion {
    let bytes = CURRENT_VERSION_TEXT.as_bytes();
    let (major, after_major) = parse_component(bytes, 0);
    assert!(bytes[after_major] == b'.', "package version lacks a minor");
    let (minor, after_minor) = parse_component(bytes, after_major + 1);
    assert!(bytes[after_minor] == b'.', "package version lacks a patch");
    let (patch, _) = parse_component(bytes, after_minor + 1);
    RelayVersion {
        major,
        minor,
        patch,
    }
}

const CURRENT_VERSION: RelayVersion = parse_current_version();

impl RelayVersion {
    /// Builds a version from its components.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The version of this relay build (the workspace version, e.g. `26.9.0`).
    pub const fn current() -> Self {
        CURRENT_VERSION
    }
}

impl fmt::Display for RelayVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A version string that is not `MAJOR.MINOR.PATCH` with decimal components.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid relay version {0:?}: expected MAJOR.MINOR.PATCH")]
pub struct RelayVersionParseError(String);

impl FromStr for RelayVersion {
    type Err = RelayVersionParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || RelayVersionParseError(text.to_owned());
        let mut components = text.split('.');
        let mut next_component = || -> Result<u64, RelayVersionParseError> {
            let component = components.next().ok_or_else(error)?;
            if component.is_empty() || !component.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(error());
            }
            component.parse().map_err(|_| error())
        };
        let version = RelayVersion {
            major: next_component()?,
            minor: next_component()?,
            patch: next_component()?,
        };
        if components.next().is_some() {
            return Err(error());
        }
        Ok(version)
    }
}

impl Serialize for RelayVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RelayVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Step 1 body: `{"relay_id":…,"public_key":…,"version":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Id of the registering relay.
    pub relay_id: RelayId,
    /// Its public key; the upstream verifies the request signature with it.
    pub public_key: PublicKey,
    /// Version of the registering relay (`0.0.0` when absent on input).
    #[serde(default)]
    pub version: RelayVersion,
}

impl RegisterRequest {
    /// A request for this relay build's version.
    pub fn new(relay_id: RelayId, public_key: PublicKey) -> Self {
        Self {
            relay_id,
            public_key,
            version: RelayVersion::current(),
        }
    }
}

/// Step 1 answer: `{"relay_id":…,"token":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterChallenge {
    /// Id of the registering relay, echoed.
    pub relay_id: RelayId,
    /// Opaque token to send back in step 2.
    pub token: String,
}

impl RegisterChallenge {
    /// The step 2 body answering this challenge, for this relay build's version.
    pub fn create_response(&self) -> RegisterResponse {
        RegisterResponse {
            relay_id: self.relay_id,
            token: self.token.clone(),
            version: RelayVersion::current(),
        }
    }
}

/// Step 2 body: `{"relay_id":…,"token":…,"version":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// Id of the registering relay.
    pub relay_id: RelayId,
    /// The token from the challenge.
    pub token: String,
    /// Version of the registering relay (`0.0.0` when absent on input).
    #[serde(default)]
    pub version: RelayVersion,
}

/// Step 2 answer: `{"relay_id":…}`; the relay is registered afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Id of the registered relay.
    pub relay_id: RelayId,
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELAY_ID: &str = "9568a6c9-13b0-4c26-b46a-0a863ab2048e";
    const PUBLIC_KEY: &str = "1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4";

    #[test]
    fn current_version_is_the_workspace_version() {
        assert_eq!(
            RelayVersion::current().to_string(),
            env!("CARGO_PKG_VERSION")
        );
    }

    #[test]
    fn register_request_matches_the_spec_example() {
        let request = RegisterRequest {
            relay_id: RELAY_ID.parse().unwrap(),
            public_key: PUBLIC_KEY.parse().unwrap(),
            version: "26.9.0".parse().unwrap(),
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(
            json,
            "{\"relay_id\":\"9568a6c9-13b0-4c26-b46a-0a863ab2048e\",\
             \"public_key\":\"1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4\",\
             \"version\":\"26.9.0\"}"
        );
        let back: RegisterRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn missing_version_reads_as_zero() {
        let json = format!("{{\"relay_id\":\"{RELAY_ID}\",\"public_key\":\"{PUBLIC_KEY}\"}}");
        let request: RegisterRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(request.version, RelayVersion::new(0, 0, 0));
        let json = format!("{{\"relay_id\":\"{RELAY_ID}\",\"token\":\"abc\"}}");
        let response: RegisterResponse = serde_json::from_str(&json).unwrap();
        assert_eq!(response.version.to_string(), "0.0.0");
    }

    #[test]
    fn challenge_and_response_round_trip() {
        let json = format!("{{\"relay_id\":\"{RELAY_ID}\",\"token\":\"state:mac\"}}");
        let challenge: RegisterChallenge = serde_json::from_str(&json).unwrap();
        let response = challenge.create_response();
        assert_eq!(response.token, "state:mac");
        assert_eq!(response.version, RelayVersion::current());
        let response_json = serde_json::to_string(&response).unwrap();
        assert_eq!(
            response_json,
            format!(
                "{{\"relay_id\":\"{RELAY_ID}\",\"token\":\"state:mac\",\"version\":\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        );
        let registration: Registration =
            serde_json::from_str(&format!("{{\"relay_id\":\"{RELAY_ID}\"}}")).unwrap();
        assert_eq!(registration.relay_id.to_string(), RELAY_ID);
    }

    #[test]
    fn version_parsing_rejects_malformed_text() {
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "a.b.c",
            "1..3",
            "1.2.-3",
            "1.2.3-dev",
        ] {
            assert!(bad.parse::<RelayVersion>().is_err(), "{bad}");
        }
        assert_eq!(
            "21.3.0".parse::<RelayVersion>().unwrap(),
            RelayVersion::new(21, 3, 0)
        );
        assert!(RelayVersion::new(26, 9, 0) > RelayVersion::new(26, 8, 99));
    }
}
