//! The Sentry auth grammar of ingestion requests (`http-api.md` §3.1–§3.2).
//!
//! `Sentry k1=v1, k2=v2, …` from `X-Sentry-Auth` / `Authorization`, the same keys from the
//! query string, and `Authorization: Basic base64(<key>:<anything>)`. These functions only
//! extract credentials; validating the key (32 characters, flags) and the protocol version is
//! the caller's job (`http-api.md` §3.3).

use base64::Engine;

/// Length of the `sentry ` scheme prefix that a header value must start with.
const SENTRY_SCHEME_PREFIX: &str = "sentry ";
/// Scheme prefix of basic authentication.
const BASIC_SCHEME_PREFIX: &str = "basic ";
/// Substring whose presence in a raw query string makes it an auth source.
const QUERY_AUTH_MARKER: &str = "sentry_";
/// Protocol version assumed when `sentry_version` is absent.
pub const DEFAULT_PROTOCOL_VERSION: u16 = 7;

/// Credentials extracted from a Sentry auth header or query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentryAuth {
    /// `sentry_key`, possibly with `.flag` suffixes; never empty.
    pub public_key: String,
    /// `sentry_version`, default 7.
    pub version: u16,
    /// `sentry_client`.
    pub client: Option<String>,
}

/// Why Sentry auth could not be read. Messages are the causes of `http-api.md` §6.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The value does not use the `Sentry` scheme.
    #[error("non sentry auth")]
    NonSentryAuth,
    /// `sentry_version` is not a number.
    #[error("invalid value for version")]
    InvalidVersion,
    /// `sentry_key` is missing or empty.
    #[error("missing public key in auth header")]
    MissingPublicKey,
}

/// Whether a header value uses the `Sentry` scheme (≥ 7 chars, `sentry ` case-insensitively).
fn has_sentry_scheme(value: &str) -> bool {
    value
        .as_bytes()
        .get(..SENTRY_SCHEME_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(SENTRY_SCHEME_PREFIX.as_bytes()))
}

/// Parses a full `Sentry k=v, …` value; errors with [`AuthError::NonSentryAuth`] for another
/// scheme.
pub fn parse_sentry_auth(value: &str) -> Result<SentryAuth, AuthError> {
    if !has_sentry_scheme(value) {
        return Err(AuthError::NonSentryAuth);
    }
    // The prefix is ASCII, so slicing after it is on a character boundary.
    let pairs = value[SENTRY_SCHEME_PREFIX.len()..].split(',').map(|part| {
        let mut pieces = part.split('=');
        let key = pieces.next().unwrap_or_default().trim();
        let value = pieces.next().unwrap_or_default().trim();
        (key, value)
    });
    auth_from_pairs(pairs)
}

/// Reads the auth keys from `key=value` pairs; later duplicates win.
fn auth_from_pairs<'a, K, V>(pairs: impl Iterator<Item = (K, V)>) -> Result<SentryAuth, AuthError>
where
    K: AsRef<str> + 'a,
    V: Into<String> + AsRef<str> + 'a,
{
    let mut public_key = None;
    let mut version = DEFAULT_PROTOCOL_VERSION;
    let mut client = None;
    for (key, value) in pairs {
        match key.as_ref() {
            "sentry_key" => public_key = Some(value.into()),
            "sentry_version" => version = parse_version(value.as_ref())?,
            "sentry_client" => client = Some(value.into()),
            // sentry_secret, sentry_timestamp and anything else are accepted and ignored.
            _ => {}
        }
    }
    let public_key = public_key
        .filter(|key: &String| !key.is_empty())
        .ok_or(AuthError::MissingPublicKey)?;
    Ok(SentryAuth {
        public_key,
        version,
        client,
    })
}

/// `sentry_version`: the text before the first `.` as u16 (`7.0` → 7).
fn parse_version(value: &str) -> Result<u16, AuthError> {
    let major = value.split('.').next().unwrap_or_default();
    major.parse::<u16>().map_err(|_| AuthError::InvalidVersion)
}

/// Reads an `X-Sentry-Auth` or `Authorization` value.
///
/// `Ok(None)` when the value is not a Sentry auth value (shorter than 7 characters or not
/// starting with `sentry `, case-insensitively): such sources are ignored.
pub fn parse_sentry_auth_header(value: &str) -> Result<Option<SentryAuth>, AuthError> {
    if !has_sentry_scheme(value) {
        return Ok(None);
    }
    parse_sentry_auth(value).map(Some)
}

/// Reads auth from a raw query string (without `?`).
///
/// `Ok(None)` when the query does not contain `sentry_` anywhere. Otherwise the whole query is
/// decoded as `application/x-www-form-urlencoded`; a query with e.g. only `sentry_release` is
/// an auth source without key and fails with [`AuthError::MissingPublicKey`].
pub fn parse_sentry_auth_query(query: &str) -> Result<Option<SentryAuth>, AuthError> {
    if !query.contains(QUERY_AUTH_MARKER) {
        return Ok(None);
    }
    auth_from_pairs(url::form_urlencoded::parse(query.as_bytes())).map(Some)
}

/// Reads the public key from `Authorization: Basic base64(<key>:<anything>)`.
///
/// The key is the decoded text before the first `:` (all of it when there is no `:`).
/// `None` for another scheme, undecodable base64, non-UTF-8 text or an empty key.
pub fn parse_basic_auth(value: &str) -> Option<String> {
    let prefix = value.as_bytes().get(..BASIC_SCHEME_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(BASIC_SCHEME_PREFIX.as_bytes()) {
        return None;
    }
    let encoded = value[BASIC_SCHEME_PREFIX.len()..].trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let key = text.split(':').next().unwrap_or_default();
    if key.is_empty() {
        return None;
    }
    Some(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn spec_example_header() {
        let value =
            format!("Sentry sentry_version=7, sentry_client=my-sdk/1.2.3, sentry_key={KEY}");
        let auth = parse_sentry_auth_header(&value).unwrap().unwrap();
        assert_eq!(
            auth,
            SentryAuth {
                public_key: KEY.to_owned(),
                version: 7,
                client: Some("my-sdk/1.2.3".to_owned()),
            }
        );
    }

    #[test]
    fn scheme_is_case_insensitive_and_other_values_are_ignored() {
        let auth = parse_sentry_auth_header(&format!("SENTRY sentry_key={KEY}"))
            .unwrap()
            .unwrap();
        assert_eq!(auth.public_key, KEY);
        assert_eq!(auth.version, DEFAULT_PROTOCOL_VERSION);
        assert_eq!(auth.client, None);
        assert_eq!(parse_sentry_auth_header(""), Ok(None));
        assert_eq!(parse_sentry_auth_header("Sentry"), Ok(None));
        assert_eq!(parse_sentry_auth_header("Bearer abcdefgh"), Ok(None));
        assert_eq!(parse_sentry_auth_header("sentry_key=abc"), Ok(None));
        // Multi-byte characters in the first 7 bytes must not cause a panic.
        assert_eq!(parse_sentry_auth_header("senträ x"), Ok(None));
        assert_eq!(parse_sentry_auth("Bearer x"), Err(AuthError::NonSentryAuth));
        assert_eq!(AuthError::NonSentryAuth.to_string(), "non sentry auth");
    }

    #[test]
    fn values_are_trimmed_and_extra_pieces_ignored() {
        let value =
            format!("Sentry  sentry_key = {KEY} ,sentry_secret=x=y, sentry_timestamp=1, junk");
        let auth = parse_sentry_auth_header(&value).unwrap().unwrap();
        assert_eq!(auth.public_key, KEY);
        let auth = parse_sentry_auth_header("sentry sentry_key=a=b")
            .unwrap()
            .unwrap();
        assert_eq!(auth.public_key, "a");
    }

    #[test]
    fn version_rules() {
        let auth =
            parse_sentry_auth_header(&format!("Sentry sentry_key={KEY}, sentry_version=5.1"))
                .unwrap()
                .unwrap();
        assert_eq!(auth.version, 5);
        let error = parse_sentry_auth_header(&format!("Sentry sentry_key={KEY}, sentry_version=x"))
            .unwrap_err();
        assert_eq!(error, AuthError::InvalidVersion);
        assert_eq!(error.to_string(), "invalid value for version");
        let error = parse_sentry_auth_header(&format!("Sentry sentry_key={KEY}, sentry_version="))
            .unwrap_err();
        assert_eq!(error, AuthError::InvalidVersion);
        let error =
            parse_sentry_auth_header(&format!("Sentry sentry_key={KEY}, sentry_version=70000"))
                .unwrap_err();
        assert_eq!(error, AuthError::InvalidVersion);
    }

    #[test]
    fn missing_key() {
        let error = parse_sentry_auth_header("Sentry sentry_version=7").unwrap_err();
        assert_eq!(error, AuthError::MissingPublicKey);
        assert_eq!(error.to_string(), "missing public key in auth header");
        assert_eq!(
            parse_sentry_auth_header("Sentry sentry_key="),
            Err(AuthError::MissingPublicKey)
        );
        assert_eq!(
            parse_sentry_auth_header("sentry "),
            Err(AuthError::MissingPublicKey)
        );
    }

    #[test]
    fn query_auth() {
        assert_eq!(parse_sentry_auth_query(""), Ok(None));
        assert_eq!(parse_sentry_auth_query("foo=bar"), Ok(None));
        let query = format!("sentry_key={KEY}&sentry_version=7&sentry_client=sdk%2F1.0+beta");
        let auth = parse_sentry_auth_query(&query).unwrap().unwrap();
        assert_eq!(auth.public_key, KEY);
        assert_eq!(auth.version, 7);
        assert_eq!(auth.client.as_deref(), Some("sdk/1.0 beta"));
        assert_eq!(
            parse_sentry_auth_query("sentry_release=1.0"),
            Err(AuthError::MissingPublicKey)
        );
        assert_eq!(
            parse_sentry_auth_query(&format!("sentry_key={KEY}&sentry_version=seven")),
            Err(AuthError::InvalidVersion)
        );
    }

    #[test]
    fn basic_auth() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:whatever"));
        assert_eq!(
            parse_basic_auth(&format!("Basic {encoded}")).as_deref(),
            Some(KEY)
        );
        assert_eq!(
            parse_basic_auth(&format!("basic {encoded}")).as_deref(),
            Some(KEY)
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(KEY);
        assert_eq!(
            parse_basic_auth(&format!("Basic {encoded}")).as_deref(),
            Some(KEY)
        );
        assert_eq!(parse_basic_auth("Basic !!!not base64"), None);
        assert_eq!(parse_basic_auth(&format!("Bearer {encoded}")), None);
        let encoded = base64::engine::general_purpose::STANDARD.encode(":secret");
        assert_eq!(parse_basic_auth(&format!("Basic {encoded}")), None);
        assert_eq!(parse_basic_auth("Basi"), None);
    }
}
