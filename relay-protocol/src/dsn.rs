//! DSNs: `scheme://<key>[:secret]@host[:port][/path]/<project_id>`.
//!
//! A [`Dsn`] always has an `http` or `https` scheme, a valid [`ProjectKey`], a host and a
//! numeric project id. It renders as `<scheme>://<key>:<secret>@<host>[:<port>]<path>/<id>`
//! (the colon after the key is always written, the secret may be empty, the port is omitted
//! when it is the scheme's default) — the form relay writes into envelope headers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{ProjectId, ProjectKey};

const HTTP_DEFAULT_PORT: u16 = 80;
const HTTPS_DEFAULT_PORT: u16 = 443;

/// The scheme of a DSN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DsnScheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl DsnScheme {
    /// The scheme name.
    pub fn as_str(self) -> &'static str {
        match self {
            DsnScheme::Http => "http",
            DsnScheme::Https => "https",
        }
    }

    /// The port used when none is given.
    pub fn default_port(self) -> u16 {
        match self {
            DsnScheme::Http => HTTP_DEFAULT_PORT,
            DsnScheme::Https => HTTPS_DEFAULT_PORT,
        }
    }

    /// Parses `http` or `https` (case-insensitive).
    pub fn parse(scheme: &str) -> Option<DsnScheme> {
        if scheme.eq_ignore_ascii_case("http") {
            Some(DsnScheme::Http)
        } else if scheme.eq_ignore_ascii_case("https") {
            Some(DsnScheme::Https)
        } else {
            None
        }
    }
}

impl fmt::Display for DsnScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a DSN could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseDsnError {
    /// Not a URL at all.
    #[error("invalid DSN: not a valid URL")]
    InvalidUrl,
    /// Scheme other than http/https.
    #[error("invalid DSN: unknown scheme (expected http or https)")]
    UnknownScheme,
    /// No user part before `@`.
    #[error("invalid DSN: missing public key")]
    MissingPublicKey,
    /// User part is not a 32-character key.
    #[error("invalid DSN: invalid public key")]
    InvalidPublicKey,
    /// No host.
    #[error("invalid DSN: missing host")]
    MissingHost,
    /// No path segment with a project id.
    #[error("invalid DSN: missing project id")]
    MissingProjectId,
    /// Last path segment is not numeric.
    #[error("invalid DSN: invalid project id")]
    InvalidProjectId,
}

/// A parsed DSN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dsn {
    scheme: DsnScheme,
    public_key: ProjectKey,
    secret: Option<String>,
    host: String,
    port: u16,
    /// Path prefix before the project id, without trailing slash (`""` or e.g. `"/sentry"`).
    path: String,
    project_id: ProjectId,
}

impl Dsn {
    /// Parses a full DSN.
    pub fn parse(dsn: &str) -> Result<Dsn, ParseDsnError> {
        let url = url::Url::parse(dsn).map_err(|_| ParseDsnError::InvalidUrl)?;
        let scheme = DsnScheme::parse(url.scheme()).ok_or(ParseDsnError::UnknownScheme)?;
        if url.username().is_empty() {
            return Err(ParseDsnError::MissingPublicKey);
        }
        let public_key =
            ProjectKey::parse(url.username()).map_err(|_| ParseDsnError::InvalidPublicKey)?;
        let secret = url
            .password()
            .filter(|secret| !secret.is_empty())
            .map(str::to_owned);
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or(ParseDsnError::MissingHost)?
            .to_owned();
        let port = url.port().unwrap_or(scheme.default_port());

        let full_path = url.path();
        let (path_prefix, last_segment) = match full_path.rfind('/') {
            Some(index) => (&full_path[..index], &full_path[index + 1..]),
            None => ("", full_path),
        };
        if last_segment.is_empty() {
            return Err(ParseDsnError::MissingProjectId);
        }
        let project_id = last_segment
            .parse::<ProjectId>()
            .map_err(|_| ParseDsnError::InvalidProjectId)?;

        Ok(Dsn {
            scheme,
            public_key,
            secret,
            host,
            port,
            path: path_prefix.to_owned(),
            project_id,
        })
    }

    /// Builds the DSN relay uses internally for a request:
    /// `<scheme>://<key>:@<host>[:port]/<project_id>` (see `http-api.md` §3.3).
    pub fn internal(
        scheme: DsnScheme,
        public_key: ProjectKey,
        host: impl Into<String>,
        port: Option<u16>,
        project_id: ProjectId,
    ) -> Dsn {
        Dsn {
            scheme,
            public_key,
            secret: None,
            host: host.into(),
            port: port.unwrap_or(scheme.default_port()),
            path: String::new(),
            project_id,
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> DsnScheme {
        self.scheme
    }

    /// The public key.
    pub fn public_key(&self) -> ProjectKey {
        self.public_key
    }

    /// The secret key, if the DSN had a non-empty one.
    pub fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }

    /// The host name (IPv6 addresses in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default when none was given.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path prefix before the project id, without trailing slash.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The project id.
    pub fn project_id(&self) -> ProjectId {
        self.project_id
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}@{}",
            self.scheme,
            self.public_key,
            self.secret.as_deref().unwrap_or_default(),
            self.host
        )?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        write!(f, "{}/{}", self.path, self.project_id)
    }
}

impl FromStr for Dsn {
    type Err = ParseDsnError;

    fn from_str(dsn: &str) -> Result<Self, Self::Err> {
        Dsn::parse(dsn)
    }
}

impl Serialize for Dsn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dsn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Dsn::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_full_dsn() {
        let dsn = Dsn::parse(&format!(
            "https://{KEY}:secret@o1.ingest.example:8443/sentry/7"
        ))
        .unwrap();
        assert_eq!(dsn.scheme(), DsnScheme::Https);
        assert_eq!(dsn.public_key().as_str(), KEY);
        assert_eq!(dsn.secret(), Some("secret"));
        assert_eq!(dsn.host(), "o1.ingest.example");
        assert_eq!(dsn.port(), 8443);
        assert_eq!(dsn.path(), "/sentry");
        assert_eq!(dsn.project_id(), ProjectId(7));
        assert_eq!(
            dsn.to_string(),
            format!("https://{KEY}:secret@o1.ingest.example:8443/sentry/7")
        );
    }

    #[test]
    fn default_ports_and_empty_secret() {
        let dsn = Dsn::parse(&format!("http://{KEY}@127.0.0.1/42")).unwrap();
        assert_eq!(dsn.port(), 80);
        assert_eq!(dsn.secret(), None);
        assert_eq!(dsn.to_string(), format!("http://{KEY}:@127.0.0.1/42"));

        let dsn = Dsn::parse(&format!("https://{KEY}:@host:443/1")).unwrap();
        assert_eq!(dsn.port(), 443);
        assert_eq!(dsn.to_string(), format!("https://{KEY}:@host/1"));

        let dsn = Dsn::parse(&format!("http://{KEY}@[::1]:9000/3")).unwrap();
        assert_eq!(dsn.host(), "[::1]");
        assert_eq!(dsn.to_string(), format!("http://{KEY}:@[::1]:9000/3"));
    }

    #[test]
    fn rejects_bad_dsns() {
        assert_eq!(Dsn::parse("not a url"), Err(ParseDsnError::InvalidUrl));
        assert_eq!(
            Dsn::parse(&format!("ftp://{KEY}@host/1")),
            Err(ParseDsnError::UnknownScheme)
        );
        assert_eq!(
            Dsn::parse("https://host/1"),
            Err(ParseDsnError::MissingPublicKey)
        );
        assert_eq!(
            Dsn::parse("https://abc@host/1"),
            Err(ParseDsnError::InvalidPublicKey)
        );
        assert_eq!(
            Dsn::parse(&format!("https://{KEY}.no-cache@host/1")),
            Err(ParseDsnError::InvalidPublicKey)
        );
        assert_eq!(
            Dsn::parse(&format!("https://{KEY}@host/")),
            Err(ParseDsnError::MissingProjectId)
        );
        assert_eq!(
            Dsn::parse(&format!("https://{KEY}@host")),
            Err(ParseDsnError::MissingProjectId)
        );
        assert_eq!(
            Dsn::parse(&format!("https://{KEY}@host/abc")),
            Err(ParseDsnError::InvalidProjectId)
        );
        assert_eq!(
            Dsn::parse(&format!("https://{KEY}@host/1/")),
            Err(ParseDsnError::MissingProjectId)
        );
    }

    #[test]
    fn internal_dsn_omits_default_port() {
        let key = ProjectKey::parse(KEY).unwrap();
        let dsn = Dsn::internal(DsnScheme::Https, key, "sentry.io", Some(443), ProjectId(5));
        assert_eq!(dsn.to_string(), format!("https://{KEY}:@sentry.io/5"));
        let dsn = Dsn::internal(DsnScheme::Http, key, "127.0.0.1", Some(3000), ProjectId(5));
        assert_eq!(dsn.to_string(), format!("http://{KEY}:@127.0.0.1:3000/5"));
        assert_eq!(Dsn::parse(&dsn.to_string()).unwrap(), dsn);
        let dsn = Dsn::internal(DsnScheme::Http, key, "host", None, ProjectId(0));
        assert_eq!(dsn.to_string(), format!("http://{KEY}:@host/0"));
    }

    #[test]
    fn serde_as_string() {
        let text = format!("https://{KEY}:@host/1");
        let dsn: Dsn = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(serde_json::to_string(&dsn).unwrap(), format!("\"{text}\""));
    }
}
