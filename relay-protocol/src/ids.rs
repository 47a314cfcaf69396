//! Identifiers that appear on the wire: project ids, project (DSN public) keys, event ids and
//! trace ids.
//!
//! Invariants: a [`ProjectKey`] always holds exactly [`PROJECT_KEY_LENGTH`] ASCII bytes; an
//! [`EventId`] always renders as 32 lowercase hex characters; a [`TraceId`] likewise.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Number of characters of a project key (without any `.flag` suffixes).
pub const PROJECT_KEY_LENGTH: usize = 32;

/// Key flag that asks the upstream to bypass project-config caching (`http-api.md` §3.3).
const NO_CACHE_FLAG: &str = "no-cache";

/// Numeric id of a Sentry project.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ProjectId(pub u64);

impl ProjectId {
    /// The raw numeric value.
    pub fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Error for a project id that is not a plain decimal number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid project id: expected a decimal number")]
pub struct ParseProjectIdError;

impl FromStr for ProjectId {
    type Err = ParseProjectIdError;

    /// Accepts only ASCII digits: `u64::from_str` alone would also accept a leading `+`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(ParseProjectIdError);
        }
        text.parse::<u64>()
            .map(ProjectId)
            .map_err(|_| ParseProjectIdError)
    }
}

/// Error for a project key that is not exactly 32 ASCII characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid project key")]
pub struct ParseProjectKeyError;

/// Flags appended to a public key with `.` separators (`<key>.no-cache`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyFlags {
    /// `no-cache`: bypass project-config caching upstream.
    pub no_cache: bool,
}

/// The public key of a DSN ("project key"): exactly 32 ASCII characters.
///
/// Hex is conventional but not enforced (`http-api.md` §3.3). Stored inline, so it is `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectKey([u8; PROJECT_KEY_LENGTH]);

impl ProjectKey {
    /// Parses a key that must be exactly 32 ASCII characters (no flags).
    pub fn parse(key: &str) -> Result<ProjectKey, ParseProjectKeyError> {
        let bytes = key.as_bytes();
        if bytes.len() != PROJECT_KEY_LENGTH || !bytes.is_ascii() {
            return Err(ParseProjectKeyError);
        }
        let mut stored = [0u8; PROJECT_KEY_LENGTH];
        stored.copy_from_slice(bytes);
        Ok(ProjectKey(stored))
    }

    /// Parses `<key>[.<flag>…]`: the first dot-separated part is the key, every further part a
    /// flag. Unknown flags are ignored.
    pub fn parse_with_flags(
        key_and_flags: &str,
    ) -> Result<(ProjectKey, KeyFlags), ParseProjectKeyError> {
        let mut parts = key_and_flags.split('.');
        let key = ProjectKey::parse(parts.next().unwrap_or_default())?;
        let mut flags = KeyFlags::default();
        for flag in parts {
            if flag == NO_CACHE_FLAG {
                flags.no_cache = true;
            }
        }
        Ok((key, flags))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        // The constructor only admits ASCII, which is always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProjectKey({:?})", self.as_str())
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProjectKey {
    type Err = ParseProjectKeyError;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        ProjectKey::parse(key)
    }
}

impl Serialize for ProjectKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Deserializes any string-like type via `FromStr` without requiring an owned `String`.
struct FromStrVisitor<T> {
    expecting: &'static str,
    marker: std::marker::PhantomData<T>,
}

impl<T> FromStrVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        FromStrVisitor {
            expecting,
            marker: std::marker::PhantomData,
        }
    }
}

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for ProjectKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::new("a 32-character project key"))
    }
}

/// Error for an event or trace id that is not a UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid event id")]
pub struct ParseEventIdError;

/// Id of an event: a UUID written as 32 lowercase hex characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A new random (v4) event id.
    #[allow(clippy::new_without_default)] // A random `Default` would surprise; be explicit.
    pub fn new() -> EventId {
        EventId(Uuid::new_v4())
    }

    /// The all-zero id.
    pub fn nil() -> EventId {
        EventId(Uuid::nil())
    }

    /// Whether this is the all-zero id.
    pub fn is_nil(&self) -> bool {
        self.0.is_nil()
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The id in hyphenated form (`xxxxxxxx-xxxx-…`).
    pub fn hyphenated(&self) -> String {
        self.0.hyphenated().to_string()
    }

    /// Parses the 32-hex or hyphenated form (the braced and `urn:uuid:` forms that the UUID
    /// parser also understands are accepted as well).
    pub fn parse(text: &str) -> Result<EventId, ParseEventIdError> {
        Uuid::try_parse(text)
            .map(EventId)
            .map_err(|_| ParseEventIdError)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl FromStr for EventId {
    type Err = ParseEventIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        EventId::parse(text)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = Uuid::encode_buffer();
        serializer.serialize_str(self.0.simple().encode_lower(&mut buffer))
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::new("an event id (UUID)"))
    }
}

/// Id of a distributed trace: 16 bytes written as 32 lowercase hex characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub Uuid);

impl TraceId {
    /// Parses 32 hex characters (any case; the hyphenated UUID form is accepted too).
    pub fn parse(text: &str) -> Result<TraceId, ParseEventIdError> {
        EventId::parse(text).map(|event_id| TraceId(event_id.0))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl FromStr for TraceId {
    type Err = ParseEventIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TraceId::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn project_id_parses_digits_only() {
        assert_eq!("42".parse::<ProjectId>(), Ok(ProjectId(42)));
        assert_eq!(ProjectId(42).to_string(), "42");
        assert!("+42".parse::<ProjectId>().is_err());
        assert!("".parse::<ProjectId>().is_err());
        assert!(" 4".parse::<ProjectId>().is_err());
        assert!("99999999999999999999999".parse::<ProjectId>().is_err());
        assert_eq!(serde_json::to_string(&ProjectId(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<ProjectId>("7").unwrap(),
            ProjectId(7)
        );
    }

    #[test]
    fn project_key_requires_32_ascii_chars() {
        let key = ProjectKey::parse(KEY).unwrap();
        assert_eq!(key.as_str(), KEY);
        assert_eq!(ProjectKey::parse("abc"), Err(ParseProjectKeyError));
        assert_eq!(
            ProjectKey::parse(&format!("{KEY}0")),
            Err(ParseProjectKeyError)
        );
        // Not hex, but 32 ASCII characters: accepted.
        assert!(ProjectKey::parse("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz").is_ok());
        // 32 bytes but not ASCII.
        assert!(ProjectKey::parse("ééééééééééééééää").is_err());
        assert_eq!(ParseProjectKeyError.to_string(), "invalid project key");
        assert_eq!(serde_json::to_string(&key).unwrap(), format!("\"{KEY}\""));
        let parsed: ProjectKey = serde_json::from_str(&format!("\"{KEY}\"")).unwrap();
        assert_eq!(parsed, key);
        assert!(serde_json::from_str::<ProjectKey>("\"short\"").is_err());
    }

    #[test]
    fn project_key_flags() {
        let (key, flags) = ProjectKey::parse_with_flags(&format!("{KEY}.no-cache")).unwrap();
        assert_eq!(key.as_str(), KEY);
        assert!(flags.no_cache);
        let (_, flags) = ProjectKey::parse_with_flags(&format!("{KEY}.other.")).unwrap();
        assert!(!flags.no_cache);
        let (_, flags) = ProjectKey::parse_with_flags(KEY).unwrap();
        assert!(!flags.no_cache);
        assert!(ProjectKey::parse_with_flags("short.no-cache").is_err());
        assert!(ProjectKey::parse_with_flags("").is_err());
    }

    #[test]
    fn event_id_forms() {
        let simple = "4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a";
        let hyphenated = "4b7b9e0d-4c1f-4f0a-9a3f-6a2d8f1c2b3a";
        let from_simple = EventId::parse(simple).unwrap();
        let from_hyphenated = EventId::parse(hyphenated).unwrap();
        assert_eq!(from_simple, from_hyphenated);
        assert_eq!(from_simple.to_string(), simple);
        assert_eq!(from_simple.hyphenated(), hyphenated);
        assert_eq!(
            EventId::parse(&simple.to_uppercase()).unwrap().to_string(),
            simple
        );
        assert!(EventId::parse("not-a-uuid").is_err());
        assert!(EventId::parse("").is_err());
        assert_eq!(
            serde_json::to_string(&from_simple).unwrap(),
            format!("\"{simple}\"")
        );
        let parsed: EventId = serde_json::from_str(&format!("\"{hyphenated}\"")).unwrap();
        assert_eq!(parsed, from_simple);
        assert!(serde_json::from_str::<EventId>("42").is_err());
    }

    #[test]
    fn random_event_ids_are_v4_and_distinct() {
        let first = EventId::new();
        let second = EventId::new();
        assert_ne!(first, second);
        assert_eq!(first.0.get_version_num(), 4);
        assert_eq!(first.to_string().len(), 32);
    }

    #[test]
    fn trace_id_renders_lowercase_hex() {
        let trace_id = TraceId::parse("ABCDEF0123456789ABCDEF0123456789").unwrap();
        assert_eq!(trace_id.to_string(), "abcdef0123456789abcdef0123456789");
        assert!(TraceId::parse("abc").is_err());
    }
}
