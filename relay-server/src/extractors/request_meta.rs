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

/// The request's origin (http-api.md §3.5): the first of `Origin` and `Referer` that is an
/// http(s) URL. An unusable `Origin` (`null` from sandboxed pages, `file://`) falls back to
/// `Referer`, so it cannot be used to bypass `allowedDomains`.
fn parse_origin(request: &HttpRequest) -> Option<Url> {
    let http_url = |name: &str| {
        let url = Url::parse(header_str(request, name)?).ok()?;
        matches!(url.scheme(), "http" | "https").then_some(url)
    };
    http_url("origin").or_else(|| http_url("referer"))
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
        .static_relay(&relay_id)
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;
    use base64::Engine;

    use super::*;
    use crate::testutils::{self, project_key, PROJECT_KEY};

    const INTERNAL_RELAY: &str = "9568a6c9-13b0-4c26-b46a-0a863ab2048e";
    const EXTERNAL_RELAY: &str = "4f0b4b7d-a7b1-4bd2-9d4e-0b9b1b1b1b1b";

    fn request(uri: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut builder = TestRequest::default().uri(uri);
        for (name, value) in headers {
            builder = builder.insert_header((*name, *value));
        }
        builder.to_http_request()
    }

    fn from_peer(headers: &[(&str, &str)]) -> HttpRequest {
        let peer: SocketAddr = "10.0.0.1:4711".parse().unwrap();
        let mut builder = TestRequest::default()
            .uri("/api/42/envelope/")
            .peer_addr(peer);
        for (name, value) in headers {
            builder = builder.insert_header((*name, *value));
        }
        builder.to_http_request()
    }

    /// The route `/api/42/…`.
    fn project_route() -> MetaSource<'static> {
        MetaSource {
            project_id: Some("42"),
            path_key: None,
        }
    }

    fn extract(request: &HttpRequest) -> Result<Option<RequestMeta>, BadEventMeta> {
        extract_request_meta(request, &Config::default(), project_route())
    }

    /// The metadata of an authenticated request to `/api/42/…` with extra headers.
    fn meta_with(config: &Config, headers: &[(&str, &str)]) -> RequestMeta {
        let auth = format!("Sentry sentry_key={PROJECT_KEY}");
        let mut all = vec![("x-sentry-auth", auth.as_str())];
        all.extend_from_slice(headers);
        let mut builder = TestRequest::default()
            .uri("/api/42/envelope/")
            .peer_addr("10.0.0.1:4711".parse().unwrap());
        for (name, value) in all {
            builder = builder.insert_header((name, value));
        }
        extract_request_meta(&builder.to_http_request(), config, project_route())
            .unwrap()
            .unwrap()
    }

    fn sentry_auth() -> String {
        format!(
            "Sentry sentry_key={PROJECT_KEY}, sentry_version=7, sentry_client=sentry.python/2.0.0"
        )
    }

    #[test]
    fn auth_from_the_x_sentry_auth_header() {
        let request = request("/api/42/store/", &[("x-sentry-auth", &sentry_auth())]);
        let meta = extract(&request).unwrap().expect("credentials");
        assert_eq!(meta.public_key, project_key());
        assert_eq!(meta.project_id, Some(ProjectId(42)));
        assert_eq!(meta.version, 7);
        assert_eq!(meta.client.as_deref(), Some("sentry.python/2.0.0"));
        assert!(!meta.no_cache);
        assert!(!meta.from_envelope_dsn);
        // The request's DSN points at the configured upstream.
        assert_eq!(meta.dsn.public_key(), project_key());
        assert_eq!(meta.dsn.project_id(), ProjectId(42));
        let upstream = Config::default().upstream_descriptor().clone();
        assert_eq!(meta.dsn.host(), upstream.host());
    }

    #[test]
    fn auth_from_the_authorization_header() {
        let sentry = request("/api/42/store/", &[("authorization", &sentry_auth())]);
        let meta = extract(&sentry).unwrap().expect("credentials");
        assert_eq!(meta.public_key, project_key());
        assert_eq!(meta.client.as_deref(), Some("sentry.python/2.0.0"));

        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT_KEY}:"))
        );
        let meta = extract(&request("/api/42/store/", &[("authorization", &basic)]))
            .unwrap()
            .expect("credentials");
        assert_eq!(meta.public_key, project_key());
        assert_eq!(meta.version, DEFAULT_PROTOCOL_VERSION);
        assert_eq!(meta.client, None);
    }

    #[test]
    fn auth_from_the_query_string_and_the_path() {
        let uri = format!("/api/42/store/?sentry_key={PROJECT_KEY}&sentry_version=7");
        let meta = extract(&request(&uri, &[])).unwrap().expect("credentials");
        assert_eq!(meta.public_key, project_key());
        assert_eq!(meta.version, 7);

        let source = MetaSource {
            project_id: Some("42"),
            path_key: Some(PROJECT_KEY),
        };
        let meta =
            extract_request_meta(&request("/api/42/unreal/", &[]), &Config::default(), source)
                .unwrap()
                .expect("credentials");
        assert_eq!(meta.public_key, project_key());
        assert_eq!(meta.version, DEFAULT_PROTOCOL_VERSION);
    }

    #[test]
    fn key_flags_set_no_cache() {
        let auth = format!("Sentry sentry_key={PROJECT_KEY}.no-cache");
        let meta = extract(&request("/api/42/store/", &[("x-sentry-auth", &auth)]))
            .unwrap()
            .expect("credentials");
        assert_eq!(meta.public_key, project_key());
        assert!(meta.no_cache);
    }

    #[test]
    fn missing_auth_is_none() {
        assert!(extract(&request("/api/42/store/", &[])).unwrap().is_none());
        // Values of other schemes are no credentials.
        for (name, value) in [
            ("x-sentry-auth", "Basic abc"),
            ("x-sentry-auth", "Sentry"),
            ("authorization", "Bearer token"),
            ("authorization", "Basic !!!not-base64"),
        ] {
            let meta = extract(&request("/api/42/store/", &[(name, value)])).unwrap();
            assert!(meta.is_none(), "{name}: {value}");
        }
    }

    #[test]
    fn two_credential_sources_are_multiple_auth() {
        let auth = sentry_auth();
        let cases = [
            request(
                "/api/42/store/",
                &[("x-sentry-auth", &auth), ("authorization", &auth)],
            ),
            request(
                "/api/42/store/?sentry_release=1.0",
                &[("x-sentry-auth", &auth)],
            ),
        ];
        for request in &cases {
            let error = extract(request).unwrap_err();
            assert!(matches!(error, BadEventMeta::MultipleAuth), "{error:?}");
            assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                error.to_string(),
                "multiple authorization payloads detected"
            );
        }
    }

    #[test]
    fn malformed_credentials_are_rejected() {
        let missing_key = request(
            "/api/42/store/",
            &[("x-sentry-auth", "Sentry sentry_version=7")],
        );
        let error = extract(&missing_key).unwrap_err();
        assert!(matches!(error, BadEventMeta::BadAuth(_)), "{error:?}");
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error.causes(), vec!["missing public key in auth header"]);

        // A `sentry_` query parameter without a key is a source without credentials.
        let error = extract(&request("/api/42/store/?sentry_release=1.0", &[])).unwrap_err();
        assert!(matches!(error, BadEventMeta::BadAuth(_)), "{error:?}");

        let short_key = request(
            "/api/42/store/",
            &[("x-sentry-auth", "Sentry sentry_key=abc")],
        );
        let error = extract(&short_key).unwrap_err();
        assert!(matches!(error, BadEventMeta::BadPublicKey), "{error:?}");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);

        let auth = format!("Sentry sentry_key={PROJECT_KEY}, sentry_version=8");
        let error = extract(&request("/api/42/store/", &[("x-sentry-auth", &auth)])).unwrap_err();
        assert!(
            matches!(error, BadEventMeta::UnsupportedProtocolVersion(8)),
            "{error:?}"
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn project_id_comes_from_the_url() {
        let auth = sentry_auth();
        let request = request("/api/store/", &[("x-sentry-auth", &auth)]);
        let meta = extract_request_meta(&request, &Config::default(), MetaSource::default())
            .unwrap()
            .expect("credentials");
        assert_eq!(meta.project_id, None);
        assert_eq!(meta.dsn.project_id(), ProjectId(0));

        let source = MetaSource {
            project_id: Some("forty-two"),
            path_key: None,
        };
        let error = extract_request_meta(&request, &Config::default(), source).unwrap_err();
        assert!(matches!(error, BadEventMeta::BadProject), "{error:?}");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn client_ip_is_the_first_entry_of_the_forwarding_chain() {
        let config = Config::default();
        let meta = meta_with(&config, &[]);
        assert_eq!(meta.remote_addr, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(meta.forwarded_for, "10.0.0.1");
        assert_eq!(meta.client_ip(), Some("10.0.0.1".parse().unwrap()));

        let meta = meta_with(&config, &[("x-forwarded-for", "1.2.3.4, 5.6.7.8")]);
        assert_eq!(meta.forwarded_for, "1.2.3.4, 5.6.7.8, 10.0.0.1");
        assert_eq!(meta.client_ip(), Some("1.2.3.4".parse().unwrap()));

        // The first non-empty header in the order of http-api.md §3.5 wins.
        let meta = meta_with(
            &config,
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("x-sentry-forwarded-for", "2.2.2.2"),
                ("cf-connecting-ip", " "),
            ],
        );
        assert_eq!(meta.forwarded_for, "2.2.2.2, 10.0.0.1");
        let meta = meta_with(
            &config,
            &[
                ("cf-connecting-ip", "3.3.3.3"),
                ("x-forwarded-for", "1.2.3.4"),
            ],
        );
        assert_eq!(meta.client_ip(), Some("3.3.3.3".parse().unwrap()));

        // Without a peer only the header counts.
        let auth = sentry_auth();
        let request = request(
            "/api/42/store/",
            &[("x-sentry-auth", &auth), ("x-forwarded-for", "1.2.3.4")],
        );
        let meta = extract(&request).unwrap().unwrap();
        assert_eq!(meta.remote_addr, None);
        assert_eq!(meta.forwarded_for, "1.2.3.4");
    }

    #[test]
    fn origin_from_origin_or_referer_only_for_http_urls() {
        let config = Config::default();
        let origin = |headers: &[(&str, &str)]| meta_with(&config, headers).origin;
        assert_eq!(
            origin(&[("origin", "https://app.example.com")]).map(String::from),
            Some("https://app.example.com/".to_owned())
        );
        assert_eq!(
            origin(&[("referer", "http://example.com/page?x=1")]).map(String::from),
            Some("http://example.com/page?x=1".to_owned())
        );
        assert_eq!(
            origin(&[
                ("origin", "https://first.example.com"),
                ("referer", "https://second.example.com")
            ])
            .map(String::from),
            Some("https://first.example.com/".to_owned())
        );
        assert_eq!(origin(&[("origin", "null")]), None);
        assert_eq!(origin(&[("origin", "file:///etc/passwd")]), None);
        assert_eq!(origin(&[]), None);
    }

    /// An unusable `Origin` falls back to `Referer`, like Sentry's Relay: otherwise a request
    /// with `Origin: null` and a foreign `Referer` would pass the `allowedDomains` check.
    #[test]
    fn origin_falls_back_to_referer_when_origin_is_unusable() {
        let config = Config::default();
        let meta = meta_with(
            &config,
            &[("origin", "null"), ("referer", "https://evil.com/page")],
        );
        assert_eq!(
            meta.origin.map(String::from),
            Some("https://evil.com/page".to_owned())
        );
    }

    #[test]
    fn user_agent_client_hints_and_signature_are_kept() {
        let meta = meta_with(
            &Config::default(),
            &[
                ("user-agent", "Mozilla/5.0"),
                ("sec-ch-ua-platform", "\"macOS\""),
                ("sec-ch-ua-model", "\"\""),
                ("x-sentry-relay-signature", "c2ln.aGRy"),
            ],
        );
        assert_eq!(meta.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(
            meta.client_hints.sec_ch_ua_platform.as_deref(),
            Some("\"macOS\"")
        );
        assert_eq!(meta.client_hints.sec_ch_ua_model.as_deref(), Some("\"\""));
        assert_eq!(meta.client_hints.sec_ch_ua, None);
        assert_eq!(meta.relay_signature.as_deref(), Some("c2ln.aGRy"));
    }

    #[test]
    fn signature_that_is_not_visible_ascii_is_a_bad_request() {
        let request = TestRequest::default()
            .uri("/api/42/store/")
            .insert_header(("x-sentry-auth", sentry_auth()))
            .insert_header((
                "x-sentry-relay-signature",
                HeaderValue::from_bytes(b"sig\xe9").unwrap(),
            ))
            .to_http_request();
        let error = extract(&request).unwrap_err();
        assert!(
            matches!(error, BadEventMeta::BadRelaySignature),
            "{error:?}"
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    fn static_relays_config() -> Config {
        let (_, internal) = relay_auth::generate_key_pair();
        let (_, external) = relay_auth::generate_key_pair();
        testutils::config(&format!(
            "auth:
  static_relays:
    \"{INTERNAL_RELAY}\": {{public_key: \"{internal}\", internal: true}}
    \"{EXTERNAL_RELAY}\": {{public_key: \"{external}\"}}
"
        ))
    }

    #[test]
    fn only_internal_static_relays_are_trusted() {
        let config = static_relays_config();
        let trusted = |relay_id: Option<&str>| {
            let headers: Vec<(&str, &str)> = relay_id
                .map(|id| ("x-sentry-relay-id", id))
                .into_iter()
                .collect();
            meta_with(&config, &headers).trusted
        };
        assert!(trusted(Some(INTERNAL_RELAY)));
        assert!(trusted(Some(&format!(" {INTERNAL_RELAY} "))));
        assert!(!trusted(Some(EXTERNAL_RELAY)));
        assert!(!trusted(Some("00000000-0000-0000-0000-000000000001")));
        assert!(!trusted(Some("not-a-uuid")));
        assert!(!trusted(None));
    }

    #[test]
    fn envelope_header_dsn_authenticates_the_envelope_endpoint() {
        let body = format!(
            "{{\"dsn\":\"https://{PROJECT_KEY}@o1.ingest.example.com/7\"}}\n{{\"type\":\"event\"}}\n{{}}\n"
        );
        let request = from_peer(&[("origin", "https://app.example.com")]);
        let meta = envelope_dsn_meta(&request, &Config::default(), body.as_bytes()).unwrap();
        assert_eq!(meta.public_key, project_key());
        // The envelope's project wins over the URL's.
        assert_eq!(meta.project_id, Some(ProjectId(7)));
        assert_eq!(meta.dsn.host(), "o1.ingest.example.com");
        assert!(meta.from_envelope_dsn);
        assert_eq!(meta.version, DEFAULT_PROTOCOL_VERSION);
        assert_eq!(meta.remote_addr, Some("10.0.0.1".parse().unwrap()));
        assert!(meta.origin.is_some());
    }

    #[test]
    fn envelope_header_without_a_valid_dsn_is_bad_envelope_auth() {
        let request = from_peer(&[]);
        let config = Config::default();
        let cause = |body: &str| match envelope_dsn_meta(&request, &config, body.as_bytes()) {
            Err(error @ BadEventMeta::BadEnvelopeAuth(_)) => {
                assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
                error.causes().join("")
            }
            other => panic!("expected BadEnvelopeAuth, got {other:?}"),
        };
        assert_eq!(cause(""), "EOF while parsing a value at line 1 column 0");
        assert!(
            cause("{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n")
                .starts_with("missing field `dsn`"),
        );
        // Key flags are not allowed in a DSN.
        let with_flags =
            format!("{{\"dsn\":\"https://{PROJECT_KEY}.no-cache@o1.ingest.example.com/7\"}}\n");
        assert!(!cause(&with_flags).is_empty());
    }
}
