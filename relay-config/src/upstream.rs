//! The upstream a relay talks to (`relay.upstream`, `config.md` §4.1).
//!
//! Invariants: an [`UpstreamDescriptor`] is always an origin — `http` or `https`, a non-empty
//! host, a port — and displays as `scheme://host[:port]/` with the scheme's default port left
//! out. IPv6 hosts keep their brackets so that URLs can be built by concatenation.

use std::fmt;
use std::str::FromStr;

use url::Url;

/// Default port of plain HTTP.
const HTTP_DEFAULT_PORT: u16 = 80;
/// Default port of HTTPS.
const HTTPS_DEFAULT_PORT: u16 = 443;
/// The upstream used when none is configured.
pub const DEFAULT_UPSTREAM: &str = "https://sentry.io/";

/// Why an upstream URL or DSN was rejected. Messages are those of `config.md` §4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Not a URL at all.
    #[error("invalid upstream URL: bad URL format")]
    BadUrlFormat,
    /// A URL with a path other than `/`, a query or a fragment.
    #[error("invalid upstream URL: non root URL given")]
    NonRootUrl,
    /// A scheme other than `http`/`https`.
    #[error("invalid upstream URL: unknown or unsupported URL scheme")]
    UnsupportedScheme,
    /// A URL without a host.
    #[error("invalid upstream URL: no host")]
    NoHost,
}

/// Scheme of the upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamScheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl UpstreamScheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamScheme::Http => "http",
            UpstreamScheme::Https => "https",
        }
    }

    /// The port used when a URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            UpstreamScheme::Http => HTTP_DEFAULT_PORT,
            UpstreamScheme::Https => HTTPS_DEFAULT_PORT,
        }
    }

    fn from_url_scheme(scheme: &str) -> Result<Self, UpstreamError> {
        match scheme {
            "http" => Ok(UpstreamScheme::Http),
            "https" => Ok(UpstreamScheme::Https),
            _ => Err(UpstreamError::UnsupportedScheme),
        }
    }
}

impl fmt::Display for UpstreamScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An upstream origin: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamDescriptor {
    scheme: UpstreamScheme,
    host: String,
    port: u16,
}

impl UpstreamDescriptor {
    /// The scheme.
    pub fn scheme(&self) -> UpstreamScheme {
        self.scheme
    }

    /// The host name or address (IPv6 addresses in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, with the scheme's default filled in.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The full URL of `path` on this upstream. `path` may carry a query
    /// (`/api/0/relays/projectconfigs/?version=3`); a missing leading `/` is added.
    pub fn url_for(&self, path: &str) -> String {
        let separator = if path.starts_with('/') { "" } else { "/" };
        format!("{}{separator}{path}", self.origin())
    }

    /// `scheme://host[:port]` without a trailing slash.
    fn origin(&self) -> String {
        if self.port == self.scheme.default_port() {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }

    /// The upstream a DSN points at: its scheme, host and port (key and project are ignored).
    pub fn from_dsn(dsn: &str) -> Result<Self, UpstreamError> {
        let url = Url::parse(dsn).map_err(|_| UpstreamError::BadUrlFormat)?;
        Self::from_origin_of(&url)
    }

    fn from_origin_of(url: &Url) -> Result<Self, UpstreamError> {
        let scheme = UpstreamScheme::from_url_scheme(url.scheme())?;
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.to_owned(),
            _ => return Err(UpstreamError::NoHost),
        };
        let port = url.port().unwrap_or(scheme.default_port());
        Ok(Self { scheme, host, port })
    }
}

impl Default for UpstreamDescriptor {
    fn default() -> Self {
        Self {
            scheme: UpstreamScheme::Https,
            host: "sentry.io".to_owned(),
            port: HTTPS_DEFAULT_PORT,
        }
    }
}

impl FromStr for UpstreamDescriptor {
    type Err = UpstreamError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(text).map_err(|_| UpstreamError::BadUrlFormat)?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(UpstreamError::NonRootUrl);
        }
        Self::from_origin_of(&url)
    }
}

impl fmt::Display for UpstreamDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/", self.origin())
    }
}

impl serde::Serialize for UpstreamDescriptor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for UpstreamDescriptor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_origins_and_their_display() {
        let cases = [
            ("https://sentry.io/", "https://sentry.io/"),
            ("https://sentry.io", "https://sentry.io/"),
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000/"),
            ("http://127.0.0.1:80/", "http://127.0.0.1/"),
            ("https://example.com:443", "https://example.com/"),
            ("https://example.com:80", "https://example.com:80/"),
            ("http://[::1]:3000/", "http://[::1]:3000/"),
            ("HTTP://Example.COM/", "http://example.com/"),
        ];
        for (input, shown) in cases {
            let upstream: UpstreamDescriptor = input.parse().unwrap();
            assert_eq!(upstream.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn rejected_urls_with_spec_messages() {
        let cases = [
            ("not a url", UpstreamError::BadUrlFormat),
            ("", UpstreamError::BadUrlFormat),
            ("http://", UpstreamError::BadUrlFormat),
            ("http://host/path", UpstreamError::NonRootUrl),
            ("http://host/?query=1", UpstreamError::NonRootUrl),
            ("ftp://host/", UpstreamError::UnsupportedScheme),
            ("file:///", UpstreamError::UnsupportedScheme),
            ("unix:/", UpstreamError::UnsupportedScheme),
        ];
        for (input, expected) in cases {
            assert_eq!(
                input.parse::<UpstreamDescriptor>(),
                Err(expected),
                "{input}"
            );
        }
        assert_eq!(
            UpstreamError::BadUrlFormat.to_string(),
            "invalid upstream URL: bad URL format"
        );
        assert_eq!(
            UpstreamError::NonRootUrl.to_string(),
            "invalid upstream URL: non root URL given"
        );
        assert_eq!(
            UpstreamError::UnsupportedScheme.to_string(),
            "invalid upstream URL: unknown or unsupported URL scheme"
        );
        assert_eq!(
            UpstreamError::NoHost.to_string(),
            "invalid upstream URL: no host"
        );
    }

    #[test]
    fn url_for_omits_default_ports() {
        let upstream: UpstreamDescriptor = "https://sentry.io/".parse().unwrap();
        assert_eq!(
            upstream.url_for("/api/0/relays/projectconfigs/?version=3"),
            "https://sentry.io/api/0/relays/projectconfigs/?version=3"
        );
        let upstream: UpstreamDescriptor = "http://localhost:9000/".parse().unwrap();
        assert_eq!(
            upstream.url_for("api/42/envelope/"),
            "http://localhost:9000/api/42/envelope/"
        );
        assert_eq!(upstream.port(), 9000);
        assert_eq!(upstream.host(), "localhost");
        assert_eq!(upstream.scheme(), UpstreamScheme::Http);
    }

    #[test]
    fn dsn_yields_its_origin() {
        let upstream = UpstreamDescriptor::from_dsn(
            "http://a1b2c3d4e5f60718293a4b5c6d7e8f90@127.0.0.1:9000/666",
        )
        .unwrap();
        assert_eq!(upstream.to_string(), "http://127.0.0.1:9000/");
        let upstream =
            UpstreamDescriptor::from_dsn("https://0cc4a37e5aab4da58366266a87a95740@sentry.io/1")
                .unwrap();
        assert_eq!(upstream.to_string(), "https://sentry.io/");
        assert_eq!(
            UpstreamDescriptor::from_dsn("garbage"),
            Err(UpstreamError::BadUrlFormat)
        );
        assert_eq!(
            UpstreamDescriptor::from_dsn("ftp://key@host/1"),
            Err(UpstreamError::UnsupportedScheme)
        );
    }

    #[test]
    fn default_is_sentry_io() {
        assert_eq!(UpstreamDescriptor::default().to_string(), DEFAULT_UPSTREAM);
        assert_eq!(
            DEFAULT_UPSTREAM.parse::<UpstreamDescriptor>().unwrap(),
            UpstreamDescriptor::default()
        );
    }
}
