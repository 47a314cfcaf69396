//! [`Event`]: the top level of an event payload, with [`EventType`],
//! [`EventProcessingError`] and [`IngestPathEntry`].
//!
//! Fields are declared in the output order of normalization.md §11. Attributes follow
//! normalization.md §6.2 (`release`, `dist`, `environment` non-empty and trimmed,
//! `transaction` trimmed; character rules of `logger` and `dist`), §8.1 (string limits) and
//! §8.2 (bag sizes of `extra`, `modules`, `ingest_path`, `spans`); PII levels as in pii.md
//! (`server_name`, `extra` `true`; `culprit` `maybe`).
//!
//! Not yet typed (`TODO(schema)`, next batch): `csp`, `_metrics`, `_dsc`,
//! `_performance_issues_spans`, `scraping_attempts`. The retired security interfaces `hpkp`,
//! `expectct` and `expectstaple` are not part of the schema (normalization.md §11); like any
//! unknown attribute they are removed by full normalization.
//! Legacy aliases (`sentry.interfaces.*`, `message`) are a normalization step and stay
//! unknown attributes here.

use crate::{
    invalid_type, Annotated, Array, Error, FromValue, IntoValue, LenientString, Object,
    ProcessValue, Timestamp, Value,
};

use super::{
    Breadcrumb, Breakdowns, ClientSdkInfo, Contexts, DebugMeta, EventId, Exception, Level,
    LogEntry, Measurements, Request, Span, Stacktrace, Tags, Template, Thread, TransactionInfo,
    User, Values, DIST_CHARACTERS, LOGGER_CHARACTERS,
};

/// The type of an event; it decides how the event is processed and rate-limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// An error (events with exceptions).
    Error,
    /// A CSP violation report.
    Csp,
    /// An HPKP violation report.
    Hpkp,
    /// An Expect-CT report.
    ExpectCt,
    /// An Expect-Staple report.
    ExpectStaple,
    /// A network error logging report.
    Nel,
    /// A transaction.
    Transaction,
    /// User feedback; its wire name is `feedback` (normalization.md §7.8; envelope.md: the
    /// feedback type is always written as `feedback`). The variant keeps its historical name.
    UserReportV2,
    /// An issue-platform event.
    Generic,
    /// Any other event (messages).
    Default,
}

impl EventType {
    /// The output name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Error => "error",
            EventType::Csp => "csp",
            EventType::Hpkp => "hpkp",
            EventType::ExpectCt => "expectct",
            EventType::ExpectStaple => "expectstaple",
            EventType::Nel => "nel",
            EventType::Transaction => "transaction",
            EventType::UserReportV2 => "feedback",
            EventType::Generic => "generic",
            EventType::Default => "default",
        }
    }

    /// Parses an event type name. Only `feedback` names user feedback: the published event
    /// schema's `userreportv2` is the variant's historical name, which no spec accepts as an
    /// event type, so it is an invalid event type like any other unknown name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "error" => EventType::Error,
            "csp" => EventType::Csp,
            "hpkp" => EventType::Hpkp,
            "expectct" => EventType::ExpectCt,
            "expectstaple" => EventType::ExpectStaple,
            "nel" => EventType::Nel,
            "transaction" => EventType::Transaction,
            "feedback" => EventType::UserReportV2,
            "generic" => EventType::Generic,
            "default" => EventType::Default,
            _ => return None,
        })
    }
}

/// An unknown name is `invalid_data` `invalid event type` (original kept); a non-string is
/// `expected an event type`.
impl FromValue for EventType {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(name)), mut meta) => match EventType::parse(&name) {
                Some(ty) => Annotated(Some(ty), meta),
                None => {
                    meta.add_error(Error::invalid("invalid event type"));
                    meta.set_original_value(Some(Value::String(name)));
                    Annotated(None, meta)
                }
            },
            Annotated(Some(other), meta) => invalid_type(other, meta, "an event type"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

super::string_enum_value!(EventType);

/// An error that happened while processing the event (`errors`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct EventProcessingError {
    /// The error kind (e.g. `invalid_data`).
    #[metastructure(field = "type", required = true)]
    pub ty: Annotated<String>,
    /// The path of the affected value.
    pub name: Annotated<String>,
    /// The original value.
    pub value: Annotated<Value>,
    /// Unknown attributes (further error data).
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// One relay that the event passed (`ingest_path`).
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "relayinfo")]
pub struct IngestPathEntry {
    /// The relay's version.
    #[metastructure(max_chars = 256, max_chars_allowance = 20)]
    pub version: Annotated<String>,
    /// The relay's public key.
    #[metastructure(max_chars = 256, max_chars_allowance = 20)]
    pub public_key: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// An event: an error, message, transaction or security report.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Event {
    /// The unique id of the event.
    pub event_id: Annotated<EventId>,
    /// The severity.
    pub level: Annotated<Level>,
    /// The version of the event protocol.
    pub version: Annotated<String>,
    /// The type of the event.
    #[metastructure(field = "type")]
    pub ty: Annotated<EventType>,
    /// Custom grouping fingerprint.
    // TODO(schema): the fingerprint rules of normalization.md §11 (non-primitive elements
    // dropped as one error); for now each element is a lenient string.
    #[metastructure(skip_serialization = "empty")]
    pub fingerprint: Annotated<Array<LenientString>>,
    /// The location of the error (legacy).
    #[metastructure(pii = "maybe", max_chars = 200)]
    pub culprit: Annotated<String>,
    /// The transaction name.
    #[metastructure(trim_whitespace = true, max_chars = 200)]
    pub transaction: Annotated<String>,
    /// Information about the transaction name.
    pub transaction_info: Annotated<TransactionInfo>,
    /// Time spent, in milliseconds (legacy).
    pub time_spent: Annotated<u64>,
    /// The log message.
    #[metastructure(skip_serialization = "empty")]
    pub logentry: Annotated<LogEntry>,
    /// The logger name.
    #[metastructure(max_chars = 64, characters = LOGGER_CHARACTERS)]
    pub logger: Annotated<String>,
    /// Loaded modules and their versions.
    #[metastructure(max_bytes = 8192, max_depth = 7, skip_serialization = "empty_elements")]
    pub modules: Annotated<Object<String>>,
    /// The platform (e.g. `python`).
    pub platform: Annotated<String>,
    /// When the event happened.
    pub timestamp: Annotated<Timestamp>,
    /// When the transaction started.
    pub start_timestamp: Annotated<Timestamp>,
    /// When the event was received.
    pub received: Annotated<Timestamp>,
    /// The server or device name.
    #[metastructure(pii = "true", max_chars = 256, max_chars_allowance = 20)]
    pub server_name: Annotated<String>,
    /// The release.
    #[metastructure(nonempty = true, trim_whitespace = true, max_chars = 200)]
    pub release: Annotated<LenientString>,
    /// The distribution of the release.
    #[metastructure(
        nonempty = true,
        trim_whitespace = true,
        max_chars = 64,
        characters = DIST_CHARACTERS
    )]
    pub dist: Annotated<String>,
    /// The environment (e.g. `production`).
    #[metastructure(nonempty = true, trim_whitespace = true, max_chars = 64)]
    pub environment: Annotated<String>,
    /// The site (legacy).
    #[metastructure(max_chars = 256, max_chars_allowance = 20)]
    pub site: Annotated<String>,
    /// The affected user.
    #[metastructure(skip_serialization = "empty")]
    pub user: Annotated<User>,
    /// The HTTP request.
    #[metastructure(skip_serialization = "empty")]
    pub request: Annotated<Request>,
    /// Contexts by name.
    pub contexts: Annotated<Contexts>,
    /// Breadcrumbs.
    #[metastructure(skip_serialization = "empty")]
    pub breadcrumbs: Annotated<Values<Breadcrumb>>,
    /// Exceptions, innermost last.
    #[metastructure(field = "exception", skip_serialization = "empty")]
    pub exceptions: Annotated<Values<Exception>>,
    /// The event's stack trace (without exception).
    #[metastructure(skip_serialization = "empty")]
    pub stacktrace: Annotated<Stacktrace>,
    /// Template information.
    pub template: Annotated<Template>,
    /// Threads.
    #[metastructure(skip_serialization = "empty")]
    pub threads: Annotated<Values<Thread>>,
    /// Tags.
    #[metastructure(pii = "maybe", skip_serialization = "empty")]
    pub tags: Annotated<Tags>,
    /// Arbitrary extra data.
    #[metastructure(
        pii = "true",
        max_bytes = 262144,
        max_depth = 7,
        skip_serialization = "empty"
    )]
    pub extra: Annotated<Object<Value>>,
    /// Debug information.
    #[metastructure(skip_serialization = "empty")]
    pub debug_meta: Annotated<DebugMeta>,
    /// The SDK that sent the event.
    #[metastructure(field = "sdk", skip_serialization = "empty")]
    pub client_sdk: Annotated<ClientSdkInfo>,
    /// The relays the event passed.
    #[metastructure(max_bytes = 2048, max_depth = 5, skip_serialization = "empty")]
    pub ingest_path: Annotated<Array<IngestPathEntry>>,
    /// Processing errors.
    #[metastructure(skip_serialization = "empty")]
    pub errors: Annotated<Array<EventProcessingError>>,
    /// The id of the DSN key.
    pub key_id: Annotated<String>,
    /// The project id.
    pub project: Annotated<u64>,
    /// The grouping configuration (`id`, `enhancements`).
    pub grouping_config: Annotated<Object<Value>>,
    /// A legacy checksum used for grouping.
    #[metastructure(max_chars = 128)]
    pub checksum: Annotated<String>,
    /// A CSP report.
    // TODO(schema): security report interfaces (next batch).
    pub csp: Annotated<Value>,
    /// Spans of a transaction.
    #[metastructure(max_bytes = 819200)]
    pub spans: Annotated<Array<Span>>,
    /// Measurements of a transaction.
    #[metastructure(skip_serialization = "empty")]
    pub measurements: Annotated<Measurements>,
    /// Breakdowns of a transaction.
    #[metastructure(skip_serialization = "empty")]
    pub breakdowns: Annotated<Breakdowns>,
    /// Scraping attempts of JavaScript sources.
    // TODO(schema): scraping attempts (next batch).
    pub scraping_attempts: Annotated<Value>,
    /// Internal metrics (set by Sentry).
    #[metastructure(field = "_metrics")]
    pub metrics: Annotated<Value>,
    /// The dynamic sampling context.
    #[metastructure(field = "_dsc")]
    pub dsc: Annotated<Value>,
    /// Spans involved in performance issues.
    #[metastructure(field = "_performance_issues_spans")]
    pub performance_issues_spans: Annotated<Value>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn event_type_names() {
        let ty: Annotated<EventType> = from_json(json!("transaction"));
        assert_eq!(ty.value(), Some(&EventType::Transaction));
        let ty: Annotated<EventType> = from_json(json!("feedback"));
        assert_eq!(ty.value(), Some(&EventType::UserReportV2));
        assert_eq!(to_json(&ty).ok(), Some(json!("feedback")));
        let ty: Annotated<EventType> = from_json(json!("userreportv2"));
        assert_eq!(ty.value(), None);
        assert!(ty.meta().has_errors());
        assert_eq!(
            ty.meta().original_value(),
            Some(&Value::from("userreportv2"))
        );
        let ty: Annotated<EventType> = from_json(json!("nope"));
        assert_eq!(ty.meta().original_value(), Some(&Value::from("nope")));
        let ty: Annotated<EventType> = from_json(json!(1));
        assert_eq!(ty.meta().original_value(), Some(&Value::I64(1)));
    }

    /// The event `input` serialized by both writers (which must agree).
    fn written(input: serde_json::Value) -> serde_json::Value {
        let event: Annotated<Event> = from_json(input);
        let reference = to_json(&event).unwrap_or_default();
        let streamed = crate::to_json_string(&event).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&streamed).ok(),
            Some(reference.clone())
        );
        reference
    }

    #[test]
    fn empty_fields_that_sentry_leaves_out() {
        // Each observed with Sentry (scripts/probe-empty-fields.py): the field is not written
        // when empty, but the parsed value stays for normalization to see.
        let input = json!({"user": {"id": "", "email": "", "name": "", "segment": "",
            "data": {}, "geo": {}, "ip_address": "::1", "username": ""}});
        let event: Annotated<Event> = from_json(input.clone());
        let user = event.value().and_then(|e| e.user.value());
        assert_eq!(
            user.and_then(|u| u.id.value()).map(|id| id.as_str()),
            Some("")
        );
        assert_eq!(written(input), json!({"user": {"ip_address": "::1"}}));

        assert_eq!(
            written(
                json!({"request": {"url": "u", "fragment": "", "query_string": [],
                "env": {}, "cookies": {}, "headers": {}, "inferred_content_type": "",
                "method": ""}})
            ),
            json!({"request": {"url": "u", "method": ""}})
        );
        assert_eq!(
            written(
                json!({"sdk": {"name": "s", "version": "1", "integrations": [],
                "features": [], "packages": [], "settings": {}}})
            ),
            json!({"sdk": {"name": "s", "version": "1"}})
        );
        assert_eq!(
            written(
                json!({"stacktrace": {"frames": [{"function": "", "raw_function": "",
                "module": "", "package": "", "filename": "", "abs_path": "", "platform": "",
                "addr_mode": "", "symbol": "", "lineno": 1,
                "lock": {"type": 1, "address": "", "package_name": "", "class_name": "",
                    "thread_id": ""}}]}})
            ),
            json!({"stacktrace": {"frames": [{"symbol": "", "lineno": 1, "lock": {"type": 1}}]}})
        );
        assert_eq!(
            written(
                json!({"exception": {"values": [{"type": "E", "mechanism": {"type": "m",
                "description": "", "help_link": "", "source": "", "meta": {}}}]}})
            ),
            json!({"exception": {"values": [{"type": "E", "mechanism": {"type": "m"}}]}})
        );
        assert_eq!(
            written(
                json!({"threads": {"values": [{"id": 1, "state": "", "name": ""}]},
                "ingest_path": [], "contexts": {"app": {"view_names": []},
                "response": {"cookies": [], "headers": {}, "inferred_content_type": ""}}})
            ),
            json!({"threads": {"values": [{"id": 1, "name": ""}]},
                "contexts": {"app": {"type": "app"}, "response": {"type": "response"}}})
        );
        assert_eq!(written(json!({"threads": {"values": []}})), json!({}));
    }

    #[test]
    fn a_struct_of_empty_fields_is_empty() {
        // A struct counts as empty when all its fields are missing or empty, whatever their
        // own attribute: `city` is written when `geo` is, but an empty `geo` is not.
        assert_eq!(
            written(json!({"user": {"id": "1", "geo": {"city": "", "region": "r"}}})),
            json!({"user": {"id": "1", "geo": {"city": "", "region": "r"}}})
        );
        assert_eq!(
            written(json!({"user": {"id": "1", "geo": {"city": "", "region": null}}})),
            json!({"user": {"id": "1"}})
        );
        // A parent whose fields are all left out disappears.
        assert_eq!(
            written(json!({"user": {"name": "", "segment": ""}})),
            json!({})
        );
        // Meta keeps a field and so its parent: an invalid value is written as null.
        let event: Annotated<Event> = from_json(json!({"user": {"geo": {"city": 1}}}));
        let output = to_json(&event).unwrap_or_default();
        assert_eq!(output["user"], json!({"geo": {"city": null}}));
        // An element of a list is no field: `[{"name": ""}]` is not empty.
        assert_eq!(
            written(json!({"sdk": {"name": "s", "version": "1", "packages": [{"name": ""}]}})),
            json!({"sdk": {"name": "s", "version": "1", "packages": [{"name": ""}]}})
        );
    }

    #[test]
    fn blank_elements_of_modules_and_sdk_lists() {
        // `skip_serialization = "empty_elements"`: missing and blank elements are left out, and
        // the field with them when none remains. A blank struct is one written as `{}`; a
        // package with an empty name is not blank.
        assert_eq!(
            written(json!({"modules": {"a": "", "b": "1", "c": null},
                "sdk": {"name": "s", "version": "1", "integrations": ["", "x", null],
                    "features": [""],
                    "packages": [{}, {"name": ""}, {"name": null, "version": "2"}, {"x": null}]}})),
            json!({"modules": {"b": "1"},
                "sdk": {"name": "s", "version": "1", "integrations": ["x"],
                    "packages": [{"name": ""}, {"version": "2"}]}})
        );
        assert_eq!(written(json!({"modules": {"a": "", "c": null}})), json!({}));
        // An element with meta is kept, and so is its list.
        let event: Annotated<Event> = from_json(json!({"sdk": {"name": "s", "version": "1",
            "integrations": [1, ""]}}));
        let output = to_json(&event).unwrap_or_default();
        assert_eq!(output["sdk"]["integrations"], json!([null]));
        assert!(output["_meta"]["sdk"]["integrations"]["0"].is_object());
        assert_eq!(
            crate::to_json_string(&event)
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok()),
            Some(output)
        );
    }

    #[test]
    fn fields_keep_their_order_and_unknown_attributes() {
        let input = json!({"event_id": "52df9022835246eeb317dbd739ccd059", "level": "error",
            "type": "error", "platform": "x", "extra": {"a": 1}, "foo": "bar"});
        let event: Annotated<Event> = from_json(input.clone());
        let output = to_json(&event).unwrap_or_default();
        assert_eq!(output, input);
        let keys: Vec<_> = output
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            ["event_id", "level", "type", "platform", "extra", "foo"]
        );
    }
}
