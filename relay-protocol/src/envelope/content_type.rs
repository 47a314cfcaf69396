//! Item `content_type` values (`envelope.md` §3.1).
//!
//! Matching is ASCII case-insensitive. The JSON, NDJSON and XML types accept parameters only
//! if every parameter is `charset=utf-8` (value optionally quoted, whitespace around `;`
//! allowed); every other type must match exactly. Anything else is [`ContentType::Other`],
//! kept verbatim and treated as "no known content type".

use std::fmt;

/// `charset` parameter value accepted on the JSON/NDJSON/XML types.
const UTF8_CHARSET: &str = "utf-8";

macro_rules! content_types {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal $(| $alias:literal)* , charset_parameter: $charset:literal;
    )*) => {
        /// A payload MIME type.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ContentType {
            $( $(#[$doc])* $variant, )*
            /// Unrecognised value, kept verbatim.
            Other(String),
        }

        impl ContentType {
            /// The canonical (lowercase) name, or the verbatim text of [`ContentType::Other`].
            pub fn as_str(&self) -> &str {
                match self {
                    $( ContentType::$variant => $name, )*
                    ContentType::Other(text) => text,
                }
            }

            /// Matches a bare MIME type (no parameters); the bool says whether the type may carry
            /// a `charset=utf-8` parameter.
            fn match_mime(mime: &str) -> Option<(ContentType, bool)> {
                $(
                    if mime.eq_ignore_ascii_case($name) $(|| mime.eq_ignore_ascii_case($alias))* {
                        return Some((ContentType::$variant, $charset));
                    }
                )*
                None
            }
        }
    };
}

content_types! {
    /// `text/plain`
    Text = "text/plain", charset_parameter: false;
    /// `application/json`
    Json = "application/json", charset_parameter: true;
    /// `application/x-ndjson`
    NdJson = "application/x-ndjson", charset_parameter: true;
    /// `application/x-msgpack`
    MsgPack = "application/x-msgpack", charset_parameter: false;
    /// `application/octet-stream`
    OctetStream = "application/octet-stream", charset_parameter: false;
    /// `application/x-dmp` (minidump)
    Minidump = "application/x-dmp", charset_parameter: false;
    /// `text/xml`
    TextXml = "text/xml", charset_parameter: true;
    /// `application/xml`
    ApplicationXml = "application/xml", charset_parameter: true;
    /// `application/x-sentry-envelope`
    Envelope = "application/x-sentry-envelope", charset_parameter: false;
    /// `application/x-protobuf`
    Protobuf = "application/x-protobuf", charset_parameter: false;
    /// Log container.
    LogContainer = "application/vnd.sentry.items.log+json", charset_parameter: false;
    /// Span v2 container.
    SpanV2Container = "application/vnd.sentry.items.span.v2+json", charset_parameter: false;
    /// Trace metric container.
    TraceMetricContainer = "application/vnd.sentry.items.trace-metric+json", charset_parameter: false;
    /// Trace/span attachment.
    TraceAttachment = "application/vnd.sentry.trace-attachment"
        | "application/vnd.sentry.attachment.v2", charset_parameter: false;
    /// Attachment placeholder.
    AttachmentRef = "application/vnd.sentry.attachment-ref+json"
        | "application/vnd.sentry.attachment-ref", charset_parameter: false;
    /// Perfetto profile chunk.
    PerfettoTrace = "application/x-perfetto-trace", charset_parameter: false;
    /// Internal: NEL integration.
    IntegrationNel = "application/vnd.sentry.integration.browser.nel+json", charset_parameter: false;
    /// Internal: OTLP logs as JSON.
    OtelLogsJson = "application/vnd.sentry.integration.otel.logs+json", charset_parameter: false;
    /// Internal: OTLP logs as protobuf.
    OtelLogsProtobuf = "application/vnd.sentry.integration.otel.logs+protobuf", charset_parameter: false;
    /// Internal: OTLP traces as JSON.
    OtelSpansJson = "application/vnd.sentry.integration.otel.spans+json", charset_parameter: false;
    /// Internal: OTLP traces as protobuf.
    OtelSpansProtobuf = "application/vnd.sentry.integration.otel.spans+protobuf", charset_parameter: false;
    /// Internal: Vercel log drain as JSON.
    VercelLogsJson = "application/vnd.sentry.integration.vercel.logs+json", charset_parameter: false;
    /// Internal: Vercel log drain as NDJSON.
    VercelLogsNdjson = "application/vnd.sentry.integration.vercel.logs+ndjson", charset_parameter: false;
}

/// What an `integration` item carries, derived from its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntegrationKind {
    /// OTLP logs, Vercel log drain and NEL reports: become logs.
    Logs,
    /// OTLP traces: become spans.
    Spans,
}

impl ContentType {
    /// Parses a content type value per the rules of the module docs; never fails.
    pub fn parse(value: &str) -> ContentType {
        match ContentType::parse_known(value) {
            Some(known) => known,
            None => ContentType::Other(value.to_owned()),
        }
    }

    /// Parses a recognised content type; `None` when the value matches nothing.
    pub fn parse_known(value: &str) -> Option<ContentType> {
        if let Some((exact, _)) = ContentType::match_mime(value) {
            return Some(exact);
        }
        let mut segments = value.split(';');
        let mime = segments.next().unwrap_or_default().trim();
        let (content_type, accepts_charset) = ContentType::match_mime(mime)?;
        if !accepts_charset {
            return None;
        }
        segments
            .all(is_utf8_charset_parameter)
            .then_some(content_type)
    }

    /// Whether this is a recognised type (not [`ContentType::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, ContentType::Other(_))
    }

    /// Whether this content type marks an item container (`envelope.md` §5).
    pub fn is_container(&self) -> bool {
        matches!(
            self,
            ContentType::LogContainer
                | ContentType::SpanV2Container
                | ContentType::TraceMetricContainer
        )
    }

    /// The integration kind of an `integration` item with this content type.
    pub fn integration_kind(&self) -> Option<IntegrationKind> {
        match self {
            ContentType::IntegrationNel
            | ContentType::OtelLogsJson
            | ContentType::OtelLogsProtobuf
            | ContentType::VercelLogsJson
            | ContentType::VercelLogsNdjson => Some(IntegrationKind::Logs),
            ContentType::OtelSpansJson | ContentType::OtelSpansProtobuf => {
                Some(IntegrationKind::Spans)
            }
            _ => None,
        }
    }
}

/// `charset=utf-8` or `charset="utf-8"`, case-insensitive, surrounding whitespace allowed.
fn is_utf8_charset_parameter(parameter: &str) -> bool {
    let Some((name, value)) = parameter.trim().split_once('=') else {
        return false;
    };
    if !name.eq_ignore_ascii_case("charset") {
        return false;
    }
    let unquoted = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(value);
    unquoted.eq_ignore_ascii_case(UTF8_CHARSET)
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ContentType {
    fn from(value: &str) -> Self {
        ContentType::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_value_is_recognised() {
        let table = [
            ("text/plain", ContentType::Text),
            ("application/json", ContentType::Json),
            ("application/x-ndjson", ContentType::NdJson),
            ("application/x-msgpack", ContentType::MsgPack),
            ("application/octet-stream", ContentType::OctetStream),
            ("application/x-dmp", ContentType::Minidump),
            ("text/xml", ContentType::TextXml),
            ("application/xml", ContentType::ApplicationXml),
            ("application/x-sentry-envelope", ContentType::Envelope),
            ("application/x-protobuf", ContentType::Protobuf),
            (
                "application/vnd.sentry.items.log+json",
                ContentType::LogContainer,
            ),
            (
                "application/vnd.sentry.items.span.v2+json",
                ContentType::SpanV2Container,
            ),
            (
                "application/vnd.sentry.items.trace-metric+json",
                ContentType::TraceMetricContainer,
            ),
            (
                "application/vnd.sentry.trace-attachment",
                ContentType::TraceAttachment,
            ),
            (
                "application/vnd.sentry.attachment.v2",
                ContentType::TraceAttachment,
            ),
            (
                "application/vnd.sentry.attachment-ref+json",
                ContentType::AttachmentRef,
            ),
            (
                "application/vnd.sentry.attachment-ref",
                ContentType::AttachmentRef,
            ),
            ("application/x-perfetto-trace", ContentType::PerfettoTrace),
            (
                "application/vnd.sentry.integration.browser.nel+json",
                ContentType::IntegrationNel,
            ),
            (
                "application/vnd.sentry.integration.otel.logs+json",
                ContentType::OtelLogsJson,
            ),
            (
                "application/vnd.sentry.integration.otel.logs+protobuf",
                ContentType::OtelLogsProtobuf,
            ),
            (
                "application/vnd.sentry.integration.otel.spans+json",
                ContentType::OtelSpansJson,
            ),
            (
                "application/vnd.sentry.integration.otel.spans+protobuf",
                ContentType::OtelSpansProtobuf,
            ),
            (
                "application/vnd.sentry.integration.vercel.logs+json",
                ContentType::VercelLogsJson,
            ),
            (
                "application/vnd.sentry.integration.vercel.logs+ndjson",
                ContentType::VercelLogsNdjson,
            ),
        ];
        for (text, expected) in table {
            assert_eq!(ContentType::parse(text), expected, "{text}");
            assert_eq!(ContentType::parse(&text.to_uppercase()), expected, "{text}");
            assert!(expected.is_known());
        }
        assert_eq!(
            ContentType::TraceAttachment.as_str(),
            "application/vnd.sentry.trace-attachment"
        );
        assert_eq!(
            ContentType::AttachmentRef.as_str(),
            "application/vnd.sentry.attachment-ref+json"
        );
    }

    #[test]
    fn charset_parameter_rules() {
        for text in [
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "Application/JSON ; charset=\"utf-8\"",
            "application/x-ndjson; charset=utf-8; charset=utf-8",
            "text/xml; charset=utf-8",
            "application/xml;charset=utf-8",
        ] {
            assert!(ContentType::parse(text).is_known(), "{text}");
        }
        for text in [
            "application/json; charset=latin1",
            "application/json; boundary=x",
            "application/json;",
            "application/json; charset = utf-8",
            "text/plain; charset=utf-8",
            "application/octet-stream; charset=utf-8",
            "application/jsonx",
            "image/png",
            "",
        ] {
            let parsed = ContentType::parse(text);
            assert_eq!(parsed, ContentType::Other(text.to_owned()), "{text}");
            assert_eq!(parsed.as_str(), text);
            assert!(!parsed.is_known());
        }
        assert_eq!(
            ContentType::parse("application/json; charset=utf-8"),
            ContentType::Json
        );
    }

    #[test]
    fn containers_and_integrations() {
        assert!(ContentType::LogContainer.is_container());
        assert!(!ContentType::Json.is_container());
        assert_eq!(
            ContentType::VercelLogsNdjson.integration_kind(),
            Some(IntegrationKind::Logs)
        );
        assert_eq!(
            ContentType::OtelSpansProtobuf.integration_kind(),
            Some(IntegrationKind::Spans)
        );
        assert_eq!(ContentType::Json.integration_kind(), None);
    }
}
