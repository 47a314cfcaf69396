//! Authentication of ingestion requests and the metadata they carry (http-api.md §3).
//!
//! Credentials may come from five sources (§3.1); more than one is an error, none is an
//! error except on the envelope endpoint, which then reads the `dsn` of the envelope header
//! (§3.4, [`envelope_dsn_meta`]).

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use relay_config::Config;
use relay_protocol::auth::{
    parse_basic_auth, parse_sentry_auth_header, parse_sentry_auth_query, AuthError, SentryAuth,
    DEFAULT_PROTOCOL_VERSION,
};
use relay_protocol::dsn::Dsn;
use relay_protocol::envelope::ClientHints;
use relay_protocol::{ProjectId, ProjectKey};
use url::Url;

/// Highest protocol version relay understands (http-api.md §3.3).
const MAX_PROTOCOL_VERSION: u16 = 7;

/// Authentication and metadata errors (http-api.md §6.2).
#[derive(Debug, thiserror::Error)]
pub enum BadEventMeta {
    #[error("missing authorization information")]
    MissingAuth,
    #[error("multiple authorization payloads detected")]
    MultipleAuth,
    #[error("bad x-sentry-auth header")]
    BadAuth(#[source] AuthError),
    #[error("bad envelope authentication header")]
    BadEnvelopeAuth(String),
    #[error("unsupported protocol version ({0})")]
    UnsupportedProtocolVersion(u16),
    #[error("bad project path parameter")]
    BadProject,
    #[error("bad sentry DSN public key")]
    BadPublicKey,
    #[error("bad x-sentry-relay-signature header")]
    BadRelaySignature,
}

impl BadEventMeta {
    pub fn status(&self) -> StatusCode {
        match self {
            BadEventMeta::MissingAuth
            | BadEventMeta::MultipleAuth
            | BadEventMeta::BadAuth(_)
            | BadEventMeta::BadEnvelopeAuth(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn causes(&self) -> Vec<String> {
        match self {
            BadEventMeta::BadAuth(error) => vec![error.to_string()],
            BadEventMeta::BadEnvelopeAuth(cause) => vec![cause.clone()],
            BadEventMeta::BadPublicKey => vec!["invalid project key".to_owned()],
            _ => Vec::new(),
        }
    }
}

/// Where the path-based credentials of a route are.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaSource<'a> {
    /// The `<id>` segment of the URL, if the route has one.
    pub project_id: Option<&'a str>,
    /// The `<sentry_key>` path segment (unreal, cron).
    pub path_key: Option<&'a str>,
}

/// Everything an ingestion request tells relay about its origin.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub project_id: Option<ProjectId>,
    pub public_key: ProjectKey,
    pub no_cache: bool,
    pub version: u16,
    pub client: Option<String>,
    pub origin: Option<Url>,
    pub remote_addr: Option<IpAddr>,
    /// The forwarding chain, client first, with the peer address appended.
    pub forwarded_for: String,
    pub user_agent: Option<String>,
    pub client_hints: ClientHints,
    pub trusted: bool,
    pub relay_signature: Option<String>,
    pub received_at: DateTime<Utc>,
    /// The DSN of the request: built from the upstream for header auth, the client's own for
    /// envelope-header auth.
    pub dsn: Dsn,
    pub from_envelope_dsn: bool,
}

impl RequestMeta {
    /// The client's IP: the first entry of the forwarding chain.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.forwarded_for
            .split(',')
            .next()
            .and_then(|first| first.trim().parse().ok())
            .or(self.remote_addr)
    }

    /// The metadata in the form the envelope merge of envelope.md §2.2 takes.
    pub fn to_protocol_meta(&self) -> relay_protocol::envelope::RequestMeta {
        relay_protocol::envelope::RequestMeta {
            dsn: self.dsn.clone(),
            client: self.client.clone(),
            version: self.version,
            origin: self.origin.clone(),
            remote_addr: self.remote_addr,
            forwarded_for: self.forwarded_for.clone(),
            user_agent: self.user_agent.clone(),
            client_hints: self.client_hints.clone(),
            no_cache: self.no_cache,
            from_envelope_dsn: self.from_envelope_dsn,
        }
    }

    /// Takes over the values an envelope header overrode (envelope.md §2.2), so the
    /// project checks see what the original client sent.
    pub fn absorb_protocol_meta(&mut self, merged: relay_protocol::envelope::RequestMeta) {
        self.client = merged.client;
        self.version = merged.version;
        self.origin = merged.origin;
        self.remote_addr = merged.remote_addr;
        self.forwarded_for = merged.forwarded_for;
        self.user_agent = merged.user_agent;
        self.client_hints = merged.client_hints;
        self.no_cache = merged.no_cache;
    }
}

fn header_str<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

fn parse_origin(request: &HttpRequest) -> Option<Url> {
    let value = header_str(request, "origin").or_else(|| header_str(request, "referer"))?;
    let url = Url::parse(value).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

fn forwarded_for(request: &HttpRequest, peer: Option<IpAddr>) -> String {
    let header = [
        "cf-connecting-ip",
        "x-vercel-forwarded-for",
        "x-sentry-forwarded-for",
        "x-forwarded-for",
    ]
    .iter()
    .filter_map(|name| header_str(request, name))
    .map(str::trim)
    .find(|value| !value.is_empty());
    match (header, peer) {
        (Some(header), Some(peer)) => format!("{header}, {peer}"),
        (Some(header), None) => header.to_owned(),
        (None, Some(peer)) => peer.to_string(),
        (None, None) => String::new(),
    }
}

fn client_hints(request: &HttpRequest) -> ClientHints {
    ClientHints {
        sec_ch_ua_platform: header_str(request, "sec-ch-ua-platform").map(str::to_owned),
        sec_ch_ua_platform_version: header_str(request, "sec-ch-ua-platform-version")
            .map(str::to_owned),
        sec_ch_ua: header_str(request, "sec-ch-ua").map(str::to_owned),
        sec_ch_ua_model: header_str(request, "sec-ch-ua-model").map(str::to_owned),
    }
}

fn is_trusted(request: &HttpRequest, config: &Config) -> bool {
    let Some(relay_id) = header_str(request, "x-sentry-relay-id") else {
        return false;
    };
    let Ok(relay_id) = uuid::Uuid::parse_str(relay_id.trim()) else {
        return false;
    };
    config
        .values
        .auth
        .static_relays
        .get(&relay_id)
        .is_some_and(|info| info.internal)
}

fn relay_signature(request: &HttpRequest) -> Result<Option<String>, BadEventMeta> {
    match request.headers().get("x-sentry-relay-signature") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|value| Some(value.to_owned()))
            .map_err(|_| BadEventMeta::BadRelaySignature),
    }
}

/// The metadata every route collects before authentication is known.
struct CommonMeta {
    origin: Option<Url>,
    remote_addr: Option<IpAddr>,
    forwarded_for: String,
    user_agent: Option<String>,
    client_hints: ClientHints,
    trusted: bool,
    relay_signature: Option<String>,
}

/// What authentication established about the request.
struct Credentials {
    project_id: Option<ProjectId>,
    public_key: ProjectKey,
    no_cache: bool,
    version: u16,
    client: Option<String>,
    dsn: Dsn,
    from_envelope_dsn: bool,
}

impl CommonMeta {
    fn into_request_meta(self, credentials: Credentials) -> RequestMeta {
        RequestMeta {
            project_id: credentials.project_id,
            public_key: credentials.public_key,
            no_cache: credentials.no_cache,
            version: credentials.version,
            client: credentials.client,
            origin: self.origin,
            remote_addr: self.remote_addr,
            forwarded_for: self.forwarded_for,
            user_agent: self.user_agent,
            client_hints: self.client_hints,
            trusted: self.trusted,
            relay_signature: self.relay_signature,
            received_at: Utc::now(),
            dsn: credentials.dsn,
            from_envelope_dsn: credentials.from_envelope_dsn,
        }
    }
}

fn common_meta(request: &HttpRequest, config: &Config) -> Result<CommonMeta, BadEventMeta> {
    let remote_addr = request.peer_addr().map(|addr| addr.ip());
    Ok(CommonMeta {
        origin: parse_origin(request),
        remote_addr,
        forwarded_for: forwarded_for(request, remote_addr),
        user_agent: header_str(request, "user-agent").map(str::to_owned),
        client_hints: client_hints(request),
        trusted: is_trusted(request, config),
        relay_signature: relay_signature(request)?,
    })
}

/// One place credentials were found, not yet validated.
enum AuthSource<'a> {
    SentryHeader(&'a str),
    Query(&'a str),
    PublicKey(String),
}

/// Whether a header value is Sentry auth: at least 7 characters starting with `sentry `
/// in any case (http-api.md §3.1); other values are ignored.
fn is_sentry_auth_value(value: &str) -> bool {
    const SCHEME: &str = "sentry ";
    value.len() >= SCHEME.len()
        && value
            .get(..SCHEME.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(SCHEME))
}

/// Authenticates an ingestion request from its headers, query and path.
///
/// Returns `Ok(None)` when no credential source applies; the caller answers
/// `missing authorization information` unless it has a fallback.
pub fn extract_request_meta(
    request: &HttpRequest,
    config: &Config,
    source: MetaSource<'_>,
) -> Result<Option<RequestMeta>, BadEventMeta> {
    let project_id = match source.project_id {
        Some(raw) => Some(
            raw.parse::<u64>()
                .map(ProjectId)
                .map_err(|_| BadEventMeta::BadProject)?,
        ),
        None => None,
    };
    let common = common_meta(request, config)?;

    // Sources are counted before any of them is validated: two sources are "multiple
    // authorization payloads" even when one of them is malformed (http-api.md §3.1).
    let mut sources: Vec<AuthSource<'_>> = Vec::new();
    for header in ["x-sentry-auth", "authorization"] {
        let Some(value) = header_str(request, header) else {
            continue;
        };
        if is_sentry_auth_value(value) {
            sources.push(AuthSource::SentryHeader(value));
        } else if header == "authorization" {
            if let Some(public_key) = parse_basic_auth(value) {
                sources.push(AuthSource::PublicKey(public_key));
            }
        }
    }
    let query = request.query_string();
    if query.contains("sentry_") {
        sources.push(AuthSource::Query(query));
    }
    if let Some(path_key) = source.path_key {
        sources.push(AuthSource::PublicKey(path_key.to_owned()));
    }
    if sources.len() > 1 {
        return Err(BadEventMeta::MultipleAuth);
    }
    let auth = match sources.pop() {
        None => return Ok(None),
        Some(AuthSource::SentryHeader(value)) => parse_sentry_auth_header(value),
        Some(AuthSource::Query(query)) => parse_sentry_auth_query(query),
        Some(AuthSource::PublicKey(public_key)) => Ok(Some(SentryAuth {
            public_key,
            version: DEFAULT_PROTOCOL_VERSION,
            client: None,
        })),
    };
    let Some(auth) = auth.map_err(BadEventMeta::BadAuth)? else {
        return Ok(None);
    };

    let (public_key, flags) =
        ProjectKey::parse_with_flags(&auth.public_key).map_err(|_| BadEventMeta::BadPublicKey)?;
    if auth.version > MAX_PROTOCOL_VERSION {
        return Err(BadEventMeta::UnsupportedProtocolVersion(auth.version));
    }
    let dsn = crate::utils::relay_envelope::internal_dsn(config, public_key, project_id);
    Ok(Some(common.into_request_meta(Credentials {
        project_id,
        public_key,
        no_cache: flags.no_cache,
        version: auth.version,
        client: auth.client,
        dsn,
        from_envelope_dsn: false,
    })))
}

#[derive(serde::Deserialize)]
struct EnvelopeDsnHeader {
    dsn: String,
}

/// Authenticates from the `dsn` of the envelope header (http-api.md §3.4).
pub fn envelope_dsn_meta(
    request: &HttpRequest,
    config: &Config,
    body: &[u8],
) -> Result<RequestMeta, BadEventMeta> {
    let first_line = body.split(|byte| *byte == b'\n').next().unwrap_or_default();
    let header: EnvelopeDsnHeader = serde_json::from_slice(first_line)
        .map_err(|error| BadEventMeta::BadEnvelopeAuth(error.to_string()))?;
    let dsn = Dsn::parse(&header.dsn)
        .map_err(|error| BadEventMeta::BadEnvelopeAuth(error.to_string()))?;
    let common = common_meta(request, config)?;
    Ok(common.into_request_meta(Credentials {
        project_id: Some(dsn.project_id()),
        public_key: dsn.public_key(),
        no_cache: false,
        version: DEFAULT_PROTOCOL_VERSION,
        client: None,
        dsn,
        from_envelope_dsn: true,
    }))
}
