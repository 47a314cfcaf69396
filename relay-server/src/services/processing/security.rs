//! Browser security reports (`raw_security` items) as events (`processing.md` §3.1, row "Raw
//! security").
//!
//! The security endpoint stores the report body exactly as the browser posted it (one array
//! element per item, `http-api.md` §4.3) plus the `sentry_release` / `sentry_environment` item
//! headers. This module recognises the report kind and turns it into an event:
//!
//! | Report | Recognised by | Event `type` / interface |
//! |---|---|---|
//! | CSP, legacy `report-uri` form | key `csp-report` | `csp` |
//! | CSP, Reporting API form | `"type": "csp-violation"` with a `body` | `csp` |
//!
//! Outcomes: any other Reporting API `type` (deprecation, intervention, …) and the retired
//! report kinds — Expect-CT (key `expect-ct-report`), Expect-Staple (`expect-staple-report`)
//! and HPKP (`known-pins`) — are unsupported kinds → `filtered`/`invalid-csp`. Sentry's Relay
//! stopped ingesting the retired kinds (no browser sends them any more), and the event schema
//! of `normalization.md` §11 has no interface for them
//! (<https://github.com/getsentry/sentry/pull/123829>). A JSON object of none of these shapes → `invalid`/
//! `security_report_type`; anything malformed (not JSON, not an object, fields of the wrong
//! type, no directive or hostname) → `invalid`/`security_report`.
//!
//! Every event gets `logentry.formatted` (a human-readable message), `culprit`, `tags`,
//! `request` (the document URL, `User-Agent` and client-hint headers), `logger: "csp"`, and
//! `user.ip_address: "{{auto}}"` so that IP inference applies (`normalization.md` §7.1).
//! Fields the report does not carry are omitted rather than written as `null`.

use relay_protocol::envelope::{ClientHints, Item};
use serde_json::{json, Map, Value};

use super::event::EventObject;
use super::ProcessingContext;
use crate::outcome::{DiscardReason, FilterStatKey, Outcome};

/// The CSP keywords kept verbatim in culprits.
const CSP_KEYWORDS: &[&str] = &["'none'", "'self'", "'unsafe-inline'", "'unsafe-eval'"];
/// The bare scheme sources kept verbatim in culprits.
const CSP_SCHEMES: &[&str] = &[
    "data:",
    "mediastream:",
    "blob:",
    "filesystem:",
    "http:",
    "https:",
    "file:",
];
/// What a normalized "local" blocked URI (inline code, eval, the page itself) reads as.
const LOCAL: &str = "'self'";

/// Why a report could not become an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityReportError {
    /// Not JSON, not an object, or required fields missing / of the wrong type.
    #[error("invalid security report: {0}")]
    Invalid(&'static str),
    /// A JSON object of no known report shape.
    #[error("unrecognised security report type")]
    UnknownType,
    /// A Reporting API report of a type other than `csp-violation`.
    #[error("unsupported security report type")]
    Unsupported,
}

impl SecurityReportError {
    /// The outcome of a report rejected for this reason: `invalid`/`security_report`,
    /// `invalid`/`security_report_type`, or `filtered`/`invalid-csp` for a recognised but
    /// unsupported report kind (`filters.md` §3.3).
    pub fn outcome(&self) -> Outcome {
        match self {
            SecurityReportError::Invalid(_) => Outcome::Invalid(DiscardReason::SecurityReport),
            SecurityReportError::UnknownType => Outcome::Invalid(DiscardReason::SecurityReportType),
            SecurityReportError::Unsupported => Outcome::Filtered(FilterStatKey::InvalidCsp),
        }
    }
}

/// What the event takes from the request and the item besides the report body.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReportMeta<'a> {
    pub release: Option<&'a str>,
    pub environment: Option<&'a str>,
    /// The `User-Agent` of the submitting request.
    pub user_agent: Option<&'a str>,
    pub client_hints: Option<&'a ClientHints>,
}

/// Converts a raw browser report into an event; the error's
/// [`outcome`](SecurityReportError::outcome) is the outcome to track.
pub fn raw_security_to_event(
    context: &ProcessingContext,
    item: &Item,
) -> Result<EventObject, SecurityReportError> {
    let meta = ReportMeta {
        release: item.sentry_release(),
        environment: item.sentry_environment(),
        user_agent: context.headers.user_agent.as_deref(),
        client_hints: Some(&context.headers.client_hints),
    };
    convert_report(item.payload_slice(), &meta).map_err(|error| {
        tracing::debug!(%error, "security report rejected");
        error
    })
}

/// The keys that identify the retired report kinds (Expect-CT, Expect-Staple, HPKP).
const RETIRED_REPORT_KEYS: &[&str] = &["expect-ct-report", "expect-staple-report", "known-pins"];

/// Converts a report body (see the module docs) into an event.
pub fn convert_report(
    payload: &[u8],
    meta: &ReportMeta<'_>,
) -> Result<EventObject, SecurityReportError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|_| SecurityReportError::Invalid("not JSON"))?;
    let Value::Object(mut report) = value else {
        return Err(SecurityReportError::Invalid("not a JSON object"));
    };

    let converted = if let Some(body) = report.remove("csp-report") {
        csp_event(&Csp::from_legacy(&as_object(body)?)?)
    } else if RETIRED_REPORT_KEYS
        .iter()
        .any(|key| report.contains_key(*key))
    {
        return Err(SecurityReportError::Unsupported);
    } else {
        match report.get("type") {
            Some(Value::String(kind)) if kind == "csp-violation" => {
                let body = match report.get("body") {
                    Some(Value::Object(body)) => body,
                    _ => return Err(SecurityReportError::Invalid("csp-violation without a body")),
                };
                let mut converted = csp_event(&Csp::from_reporting_api(body)?);
                // The Reporting API names the browser itself; it beats the request's header.
                converted.user_agent = opt_string(&report, "user_agent")?;
                converted
            }
            Some(Value::String(_)) => return Err(SecurityReportError::Unsupported),
            Some(_) => return Err(SecurityReportError::Invalid("report type is not a string")),
            None => return Err(SecurityReportError::UnknownType),
        }
    };
    Ok(converted.into_event(meta))
}

/// The parts of an event every report kind produces.
struct Converted {
    event_type: &'static str,
    /// Interface key (`csp`) and its body.
    interface: (&'static str, Map<String, Value>),
    message: String,
    culprit: String,
    tags: Vec<(&'static str, String)>,
    url: Option<String>,
    user_agent: Option<String>,
}

impl Converted {
    fn into_event(self, meta: &ReportMeta<'_>) -> EventObject {
        let mut event = EventObject::new();
        event.insert("type".into(), self.event_type.into());
        event.insert("logger".into(), "csp".into());
        event.insert("logentry".into(), json!({ "formatted": self.message }));
        if !self.culprit.is_empty() {
            event.insert("culprit".into(), self.culprit.into());
        }
        if !self.tags.is_empty() {
            let tags: Vec<Value> = self
                .tags
                .into_iter()
                .map(|(key, value)| json!([key, value]))
                .collect();
            event.insert("tags".into(), Value::Array(tags));
        }

        let mut request = Map::new();
        if let Some(url) = self.url {
            request.insert("url".into(), url.into());
        }
        let headers = request_headers(
            self.user_agent.as_deref().or(meta.user_agent),
            meta.client_hints,
        );
        if !headers.is_empty() {
            request.insert("headers".into(), Value::Array(headers));
        }
        if !request.is_empty() {
            event.insert("request".into(), Value::Object(request));
        }

        if let Some(release) = meta.release {
            event.insert("release".into(), release.into());
        }
        if let Some(environment) = meta.environment {
            event.insert("environment".into(), environment.into());
        }
        // The reporting browser is the user: its address is the request's (IP inference).
        event.insert("user".into(), json!({ "ip_address": "{{auto}}" }));
        let (key, body) = self.interface;
        event.insert(key.into(), Value::Object(body));
        event
    }
}

/// `User-Agent` and the client-hint headers as `[name, value]` pairs.
fn request_headers(user_agent: Option<&str>, hints: Option<&ClientHints>) -> Vec<Value> {
    let mut headers = Vec::new();
    if let Some(user_agent) = user_agent.filter(|value| !value.is_empty()) {
        headers.push(json!(["User-Agent", user_agent]));
    }
    if let Some(hints) = hints {
        let pairs = [
            ("SEC-CH-UA", &hints.sec_ch_ua),
            ("SEC-CH-UA-Model", &hints.sec_ch_ua_model),
            ("SEC-CH-UA-Platform", &hints.sec_ch_ua_platform),
            (
                "SEC-CH-UA-Platform-Version",
                &hints.sec_ch_ua_platform_version,
            ),
        ];
        for (name, value) in pairs {
            if let Some(value) = value {
                headers.push(json!([name, value]));
            }
        }
    }
    headers
}

// --- CSP ------------------------------------------------------------------------------------

/// A CSP violation in the names of the `csp` interface.
#[derive(Debug, Default, PartialEq)]
struct Csp {
    effective_directive: String,
    violated_directive: Option<String>,
    blocked_uri: Option<String>,
    document_uri: Option<String>,
    original_policy: Option<String>,
    referrer: Option<String>,
    status_code: Option<u64>,
    source_file: Option<String>,
    line_number: Option<u64>,
    column_number: Option<u64>,
    script_sample: Option<String>,
    disposition: Option<String>,
}

impl Csp {
    /// The `csp-report` object of a `report-uri` report (kebab-case keys).
    fn from_legacy(body: &Map<String, Value>) -> Result<Csp, SecurityReportError> {
        let violated_directive = opt_string(body, "violated-directive")?;
        let effective_directive = opt_string(body, "effective-directive")?;
        Ok(Csp {
            effective_directive: effective_directive_of(
                effective_directive,
                violated_directive.as_deref(),
            )?,
            violated_directive,
            blocked_uri: opt_string(body, "blocked-uri")?,
            document_uri: opt_string(body, "document-uri")?,
            original_policy: opt_string(body, "original-policy")?,
            referrer: opt_string(body, "referrer")?,
            status_code: opt_u64(body, "status-code")?,
            source_file: opt_string(body, "source-file")?,
            line_number: opt_u64(body, "line-number")?,
            column_number: opt_u64(body, "column-number")?,
            script_sample: opt_string(body, "script-sample")?,
            disposition: opt_string(body, "disposition")?,
        })
    }

    /// The `body` of a Reporting API `csp-violation` report (camelCase keys).
    fn from_reporting_api(body: &Map<String, Value>) -> Result<Csp, SecurityReportError> {
        let violated_directive = opt_string(body, "violatedDirective")?;
        let effective_directive = opt_string(body, "effectiveDirective")?;
        let effective_directive =
            effective_directive_of(effective_directive, violated_directive.as_deref())?;
        Ok(Csp {
            // The Reporting API dropped `violatedDirective`; the effective one takes its place.
            violated_directive: violated_directive.or_else(|| Some(effective_directive.clone())),
            effective_directive,
            blocked_uri: opt_string(body, "blockedURL")?,
            document_uri: opt_string(body, "documentURL")?,
            original_policy: opt_string(body, "originalPolicy")?,
            referrer: opt_string(body, "referrer")?,
            status_code: opt_u64(body, "statusCode")?,
            source_file: opt_string(body, "sourceFile")?,
            line_number: opt_u64(body, "lineNumber")?,
            column_number: opt_u64(body, "columnNumber")?,
            script_sample: opt_string(body, "sample")?,
            disposition: opt_string(body, "disposition")?,
        })
    }

    fn interface(&self) -> Map<String, Value> {
        let mut csp = Map::new();
        csp.insert(
            "effective_directive".into(),
            self.effective_directive.clone().into(),
        );
        let strings = [
            ("blocked_uri", &self.blocked_uri),
            ("document_uri", &self.document_uri),
            ("original_policy", &self.original_policy),
            ("referrer", &self.referrer),
            ("violated_directive", &self.violated_directive),
            ("source_file", &self.source_file),
            ("script_sample", &self.script_sample),
            ("disposition", &self.disposition),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                csp.insert(key.into(), value.clone().into());
            }
        }
        let numbers = [
            ("status_code", self.status_code),
            ("line_number", self.line_number),
            ("column_number", self.column_number),
        ];
        for (key, value) in numbers {
            if let Some(value) = value {
                csp.insert(key.into(), value.into());
            }
        }
        csp
    }
}

/// The effective directive: the reported one, else the first token of the violated one;
/// lower-cased. A report naming neither is malformed.
fn effective_directive_of(
    effective: Option<String>,
    violated: Option<&str>,
) -> Result<String, SecurityReportError> {
    effective
        .as_deref()
        .and_then(|directive| directive.split_whitespace().next())
        .or_else(|| violated.and_then(|directive| directive.split_whitespace().next()))
        .map(str::to_ascii_lowercase)
        .ok_or(SecurityReportError::Invalid(
            "CSP report without a directive",
        ))
}

fn csp_event(csp: &Csp) -> Converted {
    let blocked = csp.blocked_uri.as_deref().unwrap_or_default();
    let mut tags = vec![("effective-directive", csp.effective_directive.clone())];
    if !blocked.is_empty() {
        tags.push(("blocked-uri", sanitize_blocked_uri(blocked)));
    }
    Converted {
        event_type: "csp",
        message: csp_message(&csp.effective_directive, blocked),
        culprit: csp_culprit(csp),
        tags,
        url: csp.document_uri.clone().filter(|uri| !uri.is_empty()),
        user_agent: None,
        interface: ("csp", csp.interface()),
    }
}

/// The message, e.g. `Blocked 'script' from 'evil.com'` or, for inline code / eval / the page
/// itself, `Blocked unsafe (eval() or inline) 'script'`.
fn csp_message(directive: &str, blocked_uri: &str) -> String {
    let uri = normalize_uri(blocked_uri);
    let local = uri == LOCAL;
    let noun = match directive {
        "child-src" => "child",
        "connect-src" => "connect",
        "font-src" => "font",
        "img-src" => "image",
        "manifest-src" => "manifest",
        "media-src" => "media",
        "object-src" => "object",
        "script-src" | "script-src-elem" => "script",
        "style-src" | "style-src-elem" => "style",
        "form-action" => return format!("Blocked 'form' action to '{uri}'"),
        "script-src-attr" if local => return "Blocked inline script attribute".to_owned(),
        "script-src-attr" => return format!("Blocked inline script attribute from '{uri}'"),
        "style-src-attr" if local => return "Blocked inline style attribute".to_owned(),
        "style-src-attr" => return format!("Blocked style attribute from '{uri}'"),
        other => other,
    };
    if !local {
        return format!("Blocked '{noun}' from '{uri}'");
    }
    match directive {
        "script-src" => "Blocked unsafe (eval() or inline) 'script'".to_owned(),
        "script-src-elem" => "Blocked unsafe 'script' element".to_owned(),
        "style-src-elem" => "Blocked 'style' or 'link' element".to_owned(),
        _ => format!("Blocked inline '{noun}'"),
    }
}

/// A blocked URI as shown in messages: `'self'` for the page itself, inline code and eval;
/// the host (with port) of http(s) URLs; `scheme://host` for other URLs with an authority;
/// `scheme:` for the rest (`data:`, `blob:`, …).
fn normalize_uri(value: &str) -> String {
    let value = value.trim();
    if matches!(
        value,
        "" | "self" | "'self'" | "inline" | "eval" | "'unsafe-inline'" | "'unsafe-eval'"
    ) {
        return LOCAL.to_owned();
    }
    let Some((scheme, rest)) = value.split_once(':') else {
        // Browsers often report just a scheme, e.g. `data` or `blob`.
        return format!("{value}:");
    };
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.strip_prefix("//").map(|rest| {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        // Credentials never belong in a message.
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
    });
    match authority {
        Some(host) if scheme == "http" || scheme == "https" => host.to_owned(),
        Some(host) if !host.is_empty() => format!("{scheme}://{host}"),
        _ => format!("{scheme}:"),
    }
}

/// The `blocked-uri` tag: URLs without query and fragment, opaque URIs (`data:…`, `blob:…`)
/// as their scheme since their payload can be huge, keywords (`inline`, `eval`) verbatim.
fn sanitize_blocked_uri(value: &str) -> String {
    let value = value.trim();
    match value.split_once(':') {
        Some((_, rest)) if rest.starts_with("//") => {
            let end = value.find(['?', '#']).unwrap_or(value.len());
            value[..end].to_owned()
        }
        Some(_) => normalize_uri(value),
        None => value.to_owned(),
    }
}

/// The culprit: the violated directive with its sources normalized (the document's own origin
/// becomes `'self'`, http(s) schemes are dropped).
fn csp_culprit(csp: &Csp) -> String {
    let directive = csp
        .violated_directive
        .as_deref()
        .filter(|directive| !directive.trim().is_empty())
        .unwrap_or(&csp.effective_directive);
    let origin = csp.document_uri.as_deref().and_then(origin_of);
    let mut bits = directive.split_whitespace();
    let Some(name) = bits.next() else {
        return String::new();
    };
    let mut culprit = name.to_owned();
    for bit in bits {
        culprit.push(' ');
        culprit.push_str(&culprit_source(bit, origin.as_deref()));
    }
    culprit
}

fn culprit_source(value: &str, origin: Option<&str>) -> String {
    if CSP_KEYWORDS.contains(&value) || CSP_SCHEMES.contains(&value) {
        return value.to_owned();
    }
    if origin.is_some_and(|origin| value.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return LOCAL.to_owned();
    }
    for scheme in ["http://", "https://"] {
        if value.len() > scheme.len() && value[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return value[scheme.len()..].to_owned();
        }
    }
    value.to_owned()
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(format!("{scheme}://{}", &rest[..end]))
}

// --- field access ---------------------------------------------------------------------------

fn as_object(value: Value) -> Result<Map<String, Value>, SecurityReportError> {
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(SecurityReportError::Invalid("report body is not an object")),
    }
}

/// A string field; numbers and booleans are accepted as their text (browsers disagree on
/// types), objects and arrays make the report malformed.
fn opt_string(
    object: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, SecurityReportError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(Value::Bool(flag)) => Ok(Some(flag.to_string())),
        Some(_) => Err(SecurityReportError::Invalid(
            "string field of the wrong type",
        )),
    }
}

/// A non-negative integer field; numeric strings are accepted, empty strings are absent.
fn opt_u64(object: &Map<String, Value>, key: &str) -> Result<Option<u64>, SecurityReportError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .map(Some)
            .ok_or(SecurityReportError::Invalid("number field out of range")),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| SecurityReportError::Invalid("number field is not a number")),
        Some(_) => Err(SecurityReportError::Invalid(
            "number field of the wrong type",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(payload: &str) -> Result<EventObject, SecurityReportError> {
        convert_report(payload.as_bytes(), &ReportMeta::default())
    }

    fn convert_ok(payload: &str) -> Value {
        Value::Object(convert(payload).unwrap())
    }

    const LEGACY_CSP: &str = r#"{"csp-report": {
        "document-uri": "https://example.com/foo/bar",
        "referrer": "https://www.google.com/",
        "violated-directive": "script-src 'self' https://example.com https://cdn.example.org",
        "effective-directive": "script-src",
        "original-policy": "default-src 'self'; script-src 'self' https://cdn.example.org; report-uri /csp",
        "disposition": "enforce",
        "blocked-uri": "https://evil.com/tracker.js?id=1",
        "line-number": 12,
        "column-number": "7",
        "source-file": "https://example.com/foo/bar",
        "status-code": 200,
        "script-sample": ""
    }}"#;

    #[test]
    fn legacy_csp_report() {
        let meta = ReportMeta {
            release: Some("web@1.0"),
            environment: Some("prod"),
            user_agent: Some("Mozilla/5.0 (test)"),
            client_hints: None,
        };
        let event = Value::Object(convert_report(LEGACY_CSP.as_bytes(), &meta).unwrap());
        assert_eq!(event["type"], "csp");
        assert_eq!(event["logger"], "csp");
        assert_eq!(
            event["logentry"],
            json!({"formatted": "Blocked 'script' from 'evil.com'"})
        );
        assert_eq!(event["culprit"], "script-src 'self' 'self' cdn.example.org");
        assert_eq!(
            event["tags"],
            json!([
                ["effective-directive", "script-src"],
                ["blocked-uri", "https://evil.com/tracker.js"]
            ])
        );
        assert_eq!(
            event["request"],
            json!({"url": "https://example.com/foo/bar", "headers": [["User-Agent", "Mozilla/5.0 (test)"]]})
        );
        assert_eq!(event["release"], "web@1.0");
        assert_eq!(event["environment"], "prod");
        assert_eq!(event["user"], json!({"ip_address": "{{auto}}"}));
        let csp = &event["csp"];
        assert_eq!(csp["effective_directive"], "script-src");
        assert_eq!(csp["blocked_uri"], "https://evil.com/tracker.js?id=1");
        assert_eq!(csp["document_uri"], "https://example.com/foo/bar");
        assert_eq!(
            csp["violated_directive"],
            "script-src 'self' https://example.com https://cdn.example.org"
        );
        assert_eq!(csp["line_number"], 12);
        assert_eq!(csp["column_number"], 7);
        assert_eq!(csp["status_code"], 200);
        assert_eq!(csp["disposition"], "enforce");
        assert_eq!(csp["referrer"], "https://www.google.com/");
    }

    #[test]
    fn reporting_api_csp_violation() {
        let event = convert_ok(
            r#"{"type": "csp-violation", "age": 53, "url": "https://example.com/page",
                "user_agent": "Chrome/120",
                "body": {"documentURL": "https://example.com/page", "blockedURL": "inline",
                         "effectiveDirective": "script-src-elem", "originalPolicy": "script-src 'self'",
                         "disposition": "report", "statusCode": 0, "lineNumber": 3, "sample": "alert(1)"}}"#,
        );
        assert_eq!(event["type"], "csp");
        assert_eq!(
            event["logentry"]["formatted"],
            "Blocked unsafe 'script' element"
        );
        assert_eq!(event["culprit"], "script-src-elem");
        assert_eq!(event["request"]["url"], "https://example.com/page");
        assert_eq!(
            event["request"]["headers"],
            json!([["User-Agent", "Chrome/120"]])
        );
        assert_eq!(event["csp"]["violated_directive"], "script-src-elem");
        assert_eq!(event["csp"]["blocked_uri"], "inline");
        assert_eq!(event["csp"]["script_sample"], "alert(1)");
        assert_eq!(
            event["tags"],
            json!([
                ["effective-directive", "script-src-elem"],
                ["blocked-uri", "inline"]
            ])
        );
    }

    #[test]
    fn csp_messages() {
        let cases = [
            (
                "script-src",
                "https://evil.com/x.js",
                "Blocked 'script' from 'evil.com'",
            ),
            (
                "script-src",
                "",
                "Blocked unsafe (eval() or inline) 'script'",
            ),
            (
                "script-src",
                "eval",
                "Blocked unsafe (eval() or inline) 'script'",
            ),
            (
                "img-src",
                "data:image/png;base64,AAAA",
                "Blocked 'image' from 'data:'",
            ),
            ("img-src", "self", "Blocked inline 'image'"),
            (
                "style-src",
                "http://cdn.example.com:8080/a.css",
                "Blocked 'style' from 'cdn.example.com:8080'",
            ),
            (
                "connect-src",
                "wss://socket.example.com/live",
                "Blocked 'connect' from 'wss://socket.example.com'",
            ),
            ("font-src", "blob", "Blocked 'font' from 'blob:'"),
            (
                "form-action",
                "https://phish.example/post",
                "Blocked 'form' action to 'phish.example'",
            ),
            (
                "frame-src",
                "https://ads.example/",
                "Blocked 'frame-src' from 'ads.example'",
            ),
            ("frame-src", "'self'", "Blocked inline 'frame-src'"),
            ("style-src-attr", "inline", "Blocked inline style attribute"),
            (
                "script-src-attr",
                "https://a.example/",
                "Blocked inline script attribute from 'a.example'",
            ),
        ];
        for (directive, uri, expected) in cases {
            assert_eq!(csp_message(directive, uri), expected, "{directive} {uri}");
        }
    }

    #[test]
    fn directive_falls_back_to_violated_directive() {
        let event = convert_ok(
            r#"{"csp-report": {"document-uri": "http://example.com", "violated-directive": "IMG-SRC 'none'",
                "blocked-uri": "http://example.com/lol.png"}}"#,
        );
        assert_eq!(event["csp"]["effective_directive"], "img-src");
        assert_eq!(
            event["logentry"]["formatted"],
            "Blocked 'image' from 'example.com'"
        );
        assert_eq!(event["culprit"], "IMG-SRC 'none'");
        assert!(event.get("release").is_none());
        // No user agent anywhere: no headers.
        assert_eq!(event["request"], json!({"url": "http://example.com"}));
    }

    #[test]
    fn client_hints_become_headers() {
        let hints = ClientHints {
            sec_ch_ua_platform: Some("\"Linux\"".into()),
            sec_ch_ua: Some("\"Chromium\";v=\"120\"".into()),
            ..ClientHints::default()
        };
        let meta = ReportMeta {
            user_agent: Some("UA"),
            client_hints: Some(&hints),
            ..ReportMeta::default()
        };
        let event = convert_report(LEGACY_CSP.as_bytes(), &meta).unwrap();
        assert_eq!(
            event["request"]["headers"],
            json!([
                ["User-Agent", "UA"],
                ["SEC-CH-UA", "\"Chromium\";v=\"120\""],
                ["SEC-CH-UA-Platform", "\"Linux\""]
            ])
        );
    }

    #[test]
    fn retired_report_kinds_are_unsupported() {
        for body in [
            r#"{"expect-ct-report": {"date-time": "2014-04-06T13:00:50Z", "hostname": "www.example.com"}}"#,
            r#"{"expect-staple-report": {"hostname": "www.example.com", "port": 443}}"#,
            r#"{"hostname": "www.example.com", "known-pins": ["pin-sha256=\"x\""]}"#,
        ] {
            let error = convert(body).unwrap_err();
            assert_eq!(error, SecurityReportError::Unsupported, "{body}");
        }
    }

    #[test]
    fn rejections() {
        let invalid = SecurityReportError::Invalid;
        assert_eq!(convert("not json").unwrap_err(), invalid("not JSON"));
        assert_eq!(convert("[1]").unwrap_err(), invalid("not a JSON object"));
        assert_eq!(
            convert(r#"{"csp-report": 1}"#).unwrap_err(),
            invalid("report body is not an object")
        );
        assert_eq!(
            convert(r#"{"csp-report": {"blocked-uri": "x"}}"#).unwrap_err(),
            invalid("CSP report without a directive")
        );
        assert_eq!(
            convert(r#"{"csp-report": {"violated-directive": "img-src", "line-number": "x"}}"#)
                .unwrap_err(),
            invalid("number field is not a number")
        );
        assert_eq!(
            convert(r#"{"csp-report": {"violated-directive": ["img-src"]}}"#).unwrap_err(),
            invalid("string field of the wrong type")
        );
        assert_eq!(
            convert(r#"{"type": "csp-violation"}"#).unwrap_err(),
            invalid("csp-violation without a body")
        );
        assert_eq!(
            convert(r#"{"foo": "bar"}"#).unwrap_err(),
            SecurityReportError::UnknownType
        );
        assert_eq!(
            convert(r#"{"type": "deprecation", "body": {"id": "x"}}"#).unwrap_err(),
            SecurityReportError::Unsupported
        );
    }

    #[test]
    fn rejection_outcomes() {
        assert_eq!(
            SecurityReportError::Unsupported.outcome(),
            Outcome::Filtered(FilterStatKey::InvalidCsp)
        );
        assert_eq!(
            SecurityReportError::UnknownType
                .outcome()
                .reason()
                .as_deref(),
            Some("security_report_type")
        );
        let invalid = SecurityReportError::Invalid("x").outcome();
        assert_eq!(invalid.name(), "invalid");
        assert_eq!(invalid.reason().as_deref(), Some("security_report"));
    }

    #[test]
    fn uri_normalization() {
        assert_eq!(
            normalize_uri("https://user:pw@evil.com:8443/x"),
            "evil.com:8443"
        );
        assert_eq!(
            normalize_uri("chrome-extension://abcdef/script.js"),
            "chrome-extension://abcdef"
        );
        assert_eq!(normalize_uri("blob:https://example.com/uuid"), "blob:");
        assert_eq!(normalize_uri("about"), "about:");
        assert_eq!(
            sanitize_blocked_uri("https://evil.com/a.js?token=secret#x"),
            "https://evil.com/a.js"
        );
        assert_eq!(sanitize_blocked_uri("data:text/html,<script>"), "data:");
        assert_eq!(
            origin_of("https://Example.com:8080/path?q"),
            Some("https://Example.com:8080".into())
        );
        assert_eq!(origin_of("about:blank"), None);
    }
}
