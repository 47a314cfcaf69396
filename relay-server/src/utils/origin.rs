//! Matching a request's origin against a project's `allowedDomains` (http-api.md §3.6).
//!
//! Patterns: `*` (anything), `scheme://host[:port]`, `host`, `*.domain.com` (the domain and
//! its subdomains), `*:port`; `*` may stand for any of scheme, host or port. An empty list
//! rejects every request that has an origin.

use url::Url;

/// Whether `origin` is allowed by any of `patterns`.
pub fn is_origin_allowed(origin: &Url, patterns: &[String]) -> bool {
    patterns
        .iter()
        .any(|pattern| matches_pattern(origin, pattern))
}

fn matches_pattern(origin: &Url, pattern: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    let (scheme_pattern, rest) = match pattern.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, pattern),
    };
    let rest = rest.trim_end_matches('/');
    let (host_pattern, port_pattern) = split_host_port(rest);

    if let Some(scheme) = scheme_pattern {
        if scheme != "*" && !scheme.eq_ignore_ascii_case(origin.scheme()) {
            return false;
        }
    }
    if let Some(port) = port_pattern {
        let origin_port = origin.port_or_known_default();
        if port != "*" && port.parse::<u16>().ok() != origin_port {
            return false;
        }
    }
    let Some(host) = origin.host_str() else {
        return false;
    };
    matches_host(host, host_pattern)
}

fn split_host_port(value: &str) -> (&str, Option<&str>) {
    // IPv6 literals keep their colons inside brackets.
    if let Some(end) = value.rfind(']') {
        let (host, tail) = value.split_at(end + 1);
        return (host, tail.strip_prefix(':'));
    }
    match value.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (value, None),
    }
}

fn matches_host(host: &str, pattern: &str) -> bool {
    if pattern == "*" || pattern.is_empty() {
        return true;
    }
    if let Some(domain) = pattern.strip_prefix("*.") {
        return host.eq_ignore_ascii_case(domain)
            || (host.len() > domain.len()
                && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
                && host.as_bytes()[host.len() - domain.len() - 1] == b'.');
    }
    host.eq_ignore_ascii_case(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(origin: &str, pattern: &str) -> bool {
        is_origin_allowed(&Url::parse(origin).unwrap(), &[pattern.to_owned()])
    }

    #[test]
    fn pattern_forms() {
        assert!(allowed("http://example.com", "*"));
        assert!(allowed("http://example.com", "example.com"));
        assert!(!allowed("http://other.com", "example.com"));
        assert!(allowed("https://a.example.com", "*.example.com"));
        assert!(allowed("https://example.com", "*.example.com"));
        assert!(!allowed("https://badexample.com", "*.example.com"));
        assert!(allowed("http://example.com:8080", "*:8080"));
        assert!(!allowed("http://example.com:8081", "*:8080"));
        assert!(allowed("https://example.com", "https://example.com"));
        assert!(!allowed("http://example.com", "https://example.com"));
        assert!(allowed("http://example.com", "*://example.com"));
        assert!(allowed("http://example.com:3000", "http://example.com:*"));
        assert!(allowed("http://example.com", "http://example.com:80"));
    }

    #[test]
    fn empty_list_rejects() {
        assert!(!is_origin_allowed(
            &Url::parse("http://a.com").unwrap(),
            &[]
        ));
    }
}
