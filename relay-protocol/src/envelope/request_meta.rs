//! Request meta: what an HTTP request tells about an envelope (`envelope.md` §2.2,
//! `http-api.md` §3.3–§3.5), and how it is merged with and written into envelope headers.

use std::net::IpAddr;

use crate::dsn::Dsn;
use crate::envelope::headers::{ClientHints, EnvelopeHeaders, DEFAULT_ENVELOPE_VERSION};

/// Data an ingestion request yields, before and after merging with the envelope header.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestMeta {
    /// The request's DSN: the internal DSN built from the credentials, or the envelope header's
    /// own DSN when the request authenticated with it.
    pub dsn: Dsn,
    /// SDK identifier `name/version`.
    pub client: Option<String>,
    /// Protocol version.
    pub version: u16,
    /// Origin from `Origin`/`Referer`.
    pub origin: Option<url::Url>,
    /// TCP peer address.
    pub remote_addr: Option<IpAddr>,
    /// Forwarding chain, client first; empty when unknown.
    pub forwarded_for: String,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Sec-CH-UA*` hints.
    pub client_hints: ClientHints,
    /// Bypass project-config caching upstream.
    pub no_cache: bool,
    /// Whether the request was authenticated from the envelope header's `dsn`
    /// (`http-api.md` §3.4).
    pub from_envelope_dsn: bool,
}

impl RequestMeta {
    /// Meta with only a DSN: protocol version 7 and nothing else known.
    pub fn new(dsn: Dsn) -> RequestMeta {
        RequestMeta {
            dsn,
            client: None,
            version: DEFAULT_ENVELOPE_VERSION,
            origin: None,
            remote_addr: None,
            forwarded_for: String::new(),
            user_agent: None,
            client_hints: ClientHints::default(),
            no_cache: false,
            from_envelope_dsn: false,
        }
    }

    /// The client IP: the first entry of the forwarding chain, else the peer address.
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.forwarded_for
            .split(',')
            .next()
            .and_then(|first| first.trim().parse().ok())
            .or(self.remote_addr)
    }

    /// Step 3 of §2.2: values present in the header override the request's.
    pub(crate) fn override_from_headers(&mut self, headers: &EnvelopeHeaders) {
        if let Some(client) = &headers.client {
            self.client = Some(client.clone());
        }
        if let Some(origin) = &headers.origin {
            self.origin = Some(origin.clone());
        }
        if let Some(remote_addr) = headers.remote_addr {
            self.remote_addr = Some(remote_addr);
        }
        if !headers.forwarded_for.is_empty() {
            self.forwarded_for.clone_from(&headers.forwarded_for);
        }
        if let Some(user_agent) = &headers.user_agent {
            self.user_agent = Some(user_agent.clone());
        }
        self.client_hints.override_with(&headers.client_hints);
        if headers.no_cache {
            self.no_cache = true;
        }
        if let Some(version) = headers.version {
            if version != DEFAULT_ENVELOPE_VERSION {
                self.version = version;
            }
        }
    }

    /// Writes the request-meta fields into envelope headers (replacing theirs).
    pub(crate) fn write_into_headers(&self, headers: &mut EnvelopeHeaders) {
        headers.dsn = Some(self.dsn.to_string());
        headers.client.clone_from(&self.client);
        headers.version = Some(self.version);
        headers.origin.clone_from(&self.origin);
        headers.remote_addr = self.remote_addr;
        headers.forwarded_for.clone_from(&self.forwarded_for);
        headers.user_agent.clone_from(&self.user_agent);
        headers.client_hints.clone_from(&self.client_hints);
        headers.no_cache = self.no_cache;
    }
}
