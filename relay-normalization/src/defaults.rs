//! Breadcrumbs (normalization.md §7 step 11), the security-report logger (§7 step 3) and the
//! default attributes (§7.8, §7 step 21).
//!
//! Default attributes: `type` is recomputed (`transaction` and `feedback` stay, else `error`
//! with an exception, `csp` with a `csp` body, else `default`); `project`, `key_id` and
//! `version` are set from the configuration or cleared, and so is `grouping_config` (their meta
//! too: a client's invalid value leaves no error); an
//! absent `sdk` is derived from the client string; an unknown `platform` is removed (original kept, no
//! error) and `platform` defaults to `other`; `event_id` defaults to a random id, `logger` to
//! `""`, `level` to `info` for transactions and `error` otherwise, `extra` to `{}` (so an
//! invalid one is written as `{}` with its error, as Sentry does). A `java` logger is trimmed
//! and shortened from the left to 64 characters, with its remark on the event root (§7.8).

use relay_event::schema::{Breadcrumb, ClientSdkInfo, Event, EventId, EventType, Level};
use relay_event::{Annotated, Meta, Object, Remark, RemarkType, Value};

use crate::NormalizationConfig;

/// The platforms a `platform` may name (§7.8).
pub const VALID_PLATFORMS: &[&str] = &[
    "as3",
    "c",
    "cfml",
    "cocoa",
    "csharp",
    "elixir",
    "go",
    "groovy",
    "haskell",
    "java",
    "javascript",
    "native",
    "node",
    "objc",
    "other",
    "perl",
    "php",
    "python",
    "ruby",
];

/// The longest `java` logger kept as is.
const MAX_JAVA_LOGGER_CHARS: usize = 64;

/// §7 step 3 (the logger part): a security report's `logger` defaults to `csp`.
pub fn normalize_security_report_logger(event: &mut Event) {
    if event.csp.value().is_some() && event.logger.value().is_none() {
        event.logger.set_value(Some("csp".to_owned()));
    }
}

fn normalize_breadcrumb(crumb: &mut Breadcrumb) {
    if crumb.ty.value().is_none_or(String::is_empty) {
        crumb.ty.set_value(Some("default".to_owned()));
    }
    if crumb.level.value().is_none() {
        crumb.level.set_value(Some(Level::Info));
    }
}

/// §7 step 11: breadcrumb `type` defaults to `default`, `level` to `info`.
pub fn normalize_breadcrumbs(event: &mut Event) {
    let Some(crumbs) = event
        .breadcrumbs
        .value_mut()
        .as_mut()
        .and_then(|v| v.values.value_mut().as_mut())
    else {
        return;
    };
    for crumb in crumbs.iter_mut().filter_map(|c| c.value_mut().as_mut()) {
        normalize_breadcrumb(crumb);
    }
}

fn event_type(event: &Event) -> EventType {
    match event.ty.value() {
        Some(EventType::Transaction) => return EventType::Transaction,
        Some(EventType::UserReportV2) => return EventType::UserReportV2,
        _ => {}
    }
    let has_exception = event
        .exceptions
        .value()
        .and_then(|v| v.values.value())
        .is_some_and(|values| !values.is_empty());
    if has_exception {
        EventType::Error
    } else if event.csp.value().is_some() {
        EventType::Csp
    } else {
        EventType::Default
    }
}

/// Shortens a `java` logger (§7.8); the remark goes to `root_meta`.
fn shorten_java_logger(logger: &mut Annotated<String>, root_meta: &mut Meta) {
    let Some(text) = logger.value_mut() else {
        return;
    };
    let trimmed = text.trim();
    if trimmed.is_empty() && !text.is_empty() {
        let len = text.len();
        text.clear();
        root_meta.add_remark(Remark::with_range(
            RemarkType::Removed,
            "@logger:remove",
            (0, len),
        ));
        return;
    }
    if trimmed.len() != text.len() {
        *text = trimmed.to_owned();
        root_meta.add_remark(Remark::new(RemarkType::Substituted, "@logger:trim"));
    }
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= MAX_JAVA_LOGGER_CHARS {
        return;
    }
    let mut removed = chars.len() - (MAX_JAVA_LOGGER_CHARS - 1);
    let kept = &chars[removed..];
    if chars[removed - 1] != '.' {
        if let Some(dot) = kept.iter().position(|&c| c == '.') {
            removed += dot;
        }
    }
    let shortened: String = std::iter::once('*')
        .chain(chars[removed..].iter().copied())
        .collect();
    root_meta.add_remark(Remark::with_range(
        RemarkType::Substituted,
        "@logger:replace",
        (0, removed),
    ));
    root_meta.set_original_length(chars.len());
    *text = shortened;
}

/// The `sdk` a client string names (§7.8): split at the first `/`, else at the first space;
/// no separator, no sdk.
fn sdk_from_client(client: &str) -> Option<ClientSdkInfo> {
    let (name, version) = client.split_once('/').or_else(|| client.split_once(' '))?;
    Some(ClientSdkInfo {
        name: Annotated::new(name.to_owned()),
        version: Annotated::new(version.to_owned()),
        ..ClientSdkInfo::default()
    })
}

/// §7.8 (step 21).
pub fn normalize_default_attributes(event: &mut Annotated<Event>, config: &NormalizationConfig) {
    let (Some(event), root_meta) = event.pair_mut() else {
        return;
    };
    let ty = event_type(event);
    // These are replaced with their meta: Sentry's output has no error for a client-sent
    // value of the wrong type in them (e.g. a numeric `key_id` or `type`).
    event.ty = Annotated::new(ty);
    event.project = Annotated(config.project_id, Meta::default());
    event.key_id = Annotated(config.key_id.map(|id| id.to_string()), Meta::default());
    event.version = Annotated(
        config.protocol_version.map(|v| v.to_string()),
        Meta::default(),
    );
    event.grouping_config = Annotated(config.grouping_config.clone(), Meta::default());
    // Sentry's normalizer always has an `extra` object here: an invalid one is written as
    // `{}` with its error (an empty one without meta is not written, normalization.md §11).
    event.extra.get_or_insert_with(Object::new);
    if event.client_sdk.value().is_none() {
        if let Some(sdk) = config.client.as_deref().and_then(sdk_from_client) {
            event.client_sdk.set_value(Some(sdk));
        }
    }

    let platform = &mut event.platform;
    if platform
        .value()
        .is_some_and(|p| !VALID_PLATFORMS.contains(&p.as_str()))
    {
        let original = platform.take().map(Value::String);
        platform.meta_mut().set_original_value(original);
    }
    platform.get_or_insert_with(|| "other".to_owned());

    event.event_id.get_or_insert_with(EventId::new);
    event.logger.get_or_insert_with(String::new);
    event.level.get_or_insert_with(|| match ty {
        EventType::Transaction => Level::Info,
        _ => Level::Error,
    });

    if event.platform.value().map(String::as_str) == Some("java") {
        shorten_java_logger(&mut event.logger, root_meta);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    const ID: &str = "d2132d31b39445f1938d7e21b6bf0ec4";

    fn run(mut input: serde_json::Value, config: &NormalizationConfig) -> serde_json::Value {
        input["event_id"] = json!(ID);
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_security_report_logger(event);
            normalize_breadcrumbs(event);
        }
        normalize_default_attributes(&mut event, config);
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn replaced_attributes_drop_the_errors_of_client_values() {
        let output = run(
            json!({"key_id": 558355, "type": 2001, "project": "x", "version": 7}),
            &NormalizationConfig::default(),
        );
        assert_eq!(output.get("_meta"), None);
        assert_eq!(output["type"], json!("default"));
    }

    #[test]
    fn invalid_extra_is_written_as_an_empty_object() {
        let output = run(json!({"extra": [1, 2]}), &NormalizationConfig::default());
        assert_eq!(output["extra"], json!({}));
        assert_eq!(output["_meta"]["extra"][""]["val"], json!([1, 2]));
    }

    #[test]
    fn defaults_of_an_empty_event() {
        assert_eq!(
            run(json!({}), &NormalizationConfig::default()),
            json!({"event_id": ID, "level": "error", "type": "default", "logger": "",
                "platform": "other"})
        );
        let config = NormalizationConfig {
            project_id: Some(42),
            key_id: Some(7),
            protocol_version: Some(7),
            ..NormalizationConfig::default()
        };
        assert_eq!(
            run(
                json!({"type": "csp", "project": 1, "grouping_config": {"id": "x"},
                    "exception": [{"type": "E"}]}),
                &config
            ),
            json!({"event_id": ID, "level": "error", "version": "7", "type": "error",
                "logger": "", "platform": "other", "exception": {"values": [{"type": "E"}]},
                "key_id": "7", "project": 42})
        );
        assert_eq!(
            run(json!({"type": "transaction"}), &config)["level"],
            json!("info")
        );
    }

    #[test]
    fn sdk_from_the_client_string_and_grouping_config_from_the_project() {
        let config = |client: &str| NormalizationConfig {
            client: Some(client.to_owned()),
            grouping_config: relay_event::from_json(json!({"id": "x"})).into_inner(),
            ..NormalizationConfig::default()
        };
        // Oracle: StoreNormalizer(client=…, grouping_config={"id": "x"}).
        let output = run(json!({}), &config("sentry.python/2.1.0"));
        assert_eq!(
            output["sdk"],
            json!({"name": "sentry.python", "version": "2.1.0"})
        );
        assert_eq!(output["grouping_config"], json!({"id": "x"}));
        let output = run(json!({}), &config("raven-js 3.0"));
        assert_eq!(output["sdk"], json!({"name": "raven-js", "version": "3.0"}));
        assert!(run(json!({}), &config("noseparator")).get("sdk").is_none());
        let output = run(
            json!({"sdk": {"name": "own", "version": "1"}}),
            &config("a/b"),
        );
        assert_eq!(output["sdk"], json!({"name": "own", "version": "1"}));
    }

    #[test]
    fn level_platform_csp_and_breadcrumbs() {
        let config = NormalizationConfig::default();
        // §13 snippets: `{"level": "warn"}`, `{"platform": "bogus"}`, breadcrumbs.
        let output = run(
            json!({"level": "warn", "platform": "bogus",
                "breadcrumbs": [{"message": "a"}], "csp": {"x": 1}}),
            &config,
        );
        assert_eq!(
            output,
            json!({"event_id": ID, "level": "error", "type": "csp", "logger": "csp",
                "platform": "other",
                "breadcrumbs": {"values": [{"type": "default", "level": "info",
                    "message": "a"}]},
                "csp": {"x": 1},
                "_meta": {
                    "level": {"": {"err": [["invalid_data", {"reason": "invalid level"}]],
                        "val": "warn"}},
                    "platform": {"": {"val": "bogus"}}}})
        );
    }

    #[test]
    fn java_logger_is_shortened_from_the_left() {
        // §7.8 verified example.
        let output = run(
            json!({"platform": "java", "logger":
                "com.example.some.very.long.package.name.that.goes.on.and.on.forever.MyLogger"}),
            &NormalizationConfig::default(),
        );
        assert_eq!(
            output["logger"],
            json!("*.very.long.package.name.that.goes.on.and.on.forever.MyLogger")
        );
        assert_eq!(
            output["_meta"][""],
            json!({"len": 76, "rem": [["@logger:replace", "s", 0, 16]]})
        );
    }
}
