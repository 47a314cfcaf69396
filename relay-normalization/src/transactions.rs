//! Transaction names and span ops (normalization.md §7 step 2), for events of type
//! `transaction` only:
//!
//! * a missing or empty `transaction` becomes `<unlabeled transaction>`;
//! * a missing `transaction_info.source` becomes `unknown`, unless the name contains `/` and
//!   the SDK is a "raw URL" SDK ([`is_high_cardinality_sdk`]);
//! * a name whose source is `url`, `sanitized` or (in that high-cardinality case) missing is
//!   scrubbed of identifiers and the source becomes `sanitized`. Scrubbing replaces each path
//!   segment (between `/` or `\`) holding an identifier by `*`, with one remark
//!   `[<kind>, "s", start, end]` per segment (byte offsets into the original name) and the
//!   original name as `val`; a result of just `*` is not applied. A segment with two or more
//!   consecutive digits is `int`; otherwise one holding a UUID is `uuid`, a run of 40 hex
//!   digits `sha1`, of 32 `md5`, a `0x` hex number `hex`. (Dates always contain consecutive
//!   digits, so they are reported as `int`, as `StoreNormalizer` 0.10.1 does.) Then the
//!   project's transaction-name rules (`txNameRules`, [`crate::transaction_name_rules`]) are
//!   applied to the scrubbed name;
//! * the trace context's `op` defaults to `default`; a span without `op` gets one from the
//!   global span-op default rules ([`crate::span_op_defaults`]) or `default`.

use relay_event::schema::{Event, EventType};
use relay_event::{Annotated, Remark, RemarkType, Value};

use crate::span_op_defaults::SpanOpDefaults;
use crate::transaction_name_rules::{self, TransactionNameRule};

/// The name of a transaction without one.
pub const UNLABELED: &str = "<unlabeled transaction>";

const RAW_URL_SDKS: [&str; 10] = [
    "sentry.javascript.angular",
    "sentry.javascript.browser",
    "sentry.javascript.ember",
    "sentry.javascript.gatsby",
    "sentry.javascript.react",
    "sentry.javascript.remix",
    "sentry.javascript.vue",
    "sentry.javascript.nextjs",
    "sentry.php.laravel",
    "sentry.php.symfony",
];

const RUBY_ERROR_STATUSES: [&str; 11] = [
    "invalid_argument",
    "unauthenticated",
    "permission_denied",
    "not_found",
    "already_exists",
    "resource_exhausted",
    "cancelled",
    "internal_error",
    "unimplemented",
    "unavailable",
    "deadline_exceeded",
];

fn has_integration(event: &Event, name: &str) -> bool {
    event
        .client_sdk
        .value()
        .and_then(|sdk| sdk.integrations.value())
        .is_some_and(|list| list.iter().any(|i| i.value().is_some_and(|i| i == name)))
}

fn tag_value<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.tags.value()?.iter().find_map(|tag| {
        let tag = tag.value()?;
        (tag.0.value()?.as_str() == key).then(|| tag.1.value().map(|v| v.as_str()))?
    })
}

/// Whether the event comes from an SDK that sends raw URLs as transaction names (§7 step 2).
pub fn is_high_cardinality_sdk(event: &Event) -> bool {
    let Some(sdk) = event.client_sdk.value().and_then(|s| s.name.value()) else {
        return false;
    };
    if RAW_URL_SDKS.contains(&sdk.as_str()) {
        return true;
    }
    match sdk.as_str() {
        "sentry.python" => {
            tag_value(event, "http.status_code") == Some("404") && has_integration(event, "django")
        }
        "sentry.javascript.node" => {
            let method = event.request.value().and_then(|r| r.method.value());
            method.is_some_and(|m| m.eq_ignore_ascii_case("OPTIONS"))
                && has_integration(event, "Express")
        }
        "sentry.ruby" => {
            let has_rack = event
                .modules
                .value()
                .is_some_and(|modules| modules.contains_key("rack"));
            let status = event
                .contexts
                .value()
                .and_then(|c| c.trace())
                .and_then(|t| t.status.value())
                .map(|s| s.as_str());
            has_rack && status.is_some_and(|s| RUBY_ERROR_STATUSES.contains(&s))
        }
        _ => false,
    }
}

fn is_hex_run(segment: &str, len: usize) -> bool {
    let bytes = segment.as_bytes();
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate() {
        if b.is_ascii_hexdigit() {
            run += 1;
        } else {
            run = 0;
        }
        let next_hex = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit);
        if run == len && !next_hex {
            return true;
        }
    }
    false
}

fn has_uuid(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let groups = [8, 4, 4, 4, 12];
    (0..bytes.len()).any(|start| {
        let mut pos = start;
        groups.iter().enumerate().all(|(n, &len)| {
            let group = bytes.get(pos..pos + len);
            let ok = group.is_some_and(|g| g.iter().all(u8::is_ascii_hexdigit));
            pos += len;
            let sep_ok = n == 4 || bytes.get(pos) == Some(&b'-');
            pos += 1;
            ok && sep_ok
        })
    })
}

fn has_hex_number(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes
        .windows(3)
        .any(|w| w[0] == b'0' && w[1] == b'x' && w[2].is_ascii_hexdigit())
}

/// The identifier kind of a path segment, if any.
pub fn identifier_kind(segment: &str) -> Option<&'static str> {
    let bytes = segment.as_bytes();
    if bytes
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && w[1].is_ascii_digit())
    {
        Some("int")
    } else if has_uuid(segment) {
        Some("uuid")
    } else if is_hex_run(segment, 40) {
        Some("sha1")
    } else if is_hex_run(segment, 32) {
        Some("md5")
    } else if has_hex_number(segment) {
        Some("hex")
    } else {
        None
    }
}

/// Scrubs the identifiers of a transaction name (see the module docs).
pub fn scrub_identifiers(name: &mut Annotated<String>) {
    let Some(original) = name.value() else {
        return;
    };
    let mut result = String::with_capacity(original.len());
    let mut remarks = Vec::new();
    let mut start = 0;
    for (end, separator) in original
        .char_indices()
        .filter(|(_, c)| matches!(c, '/' | '\\'))
        .map(|(i, c)| (i, Some(c)))
        .chain([(original.len(), None)])
    {
        let segment = &original[start..end];
        match identifier_kind(segment) {
            Some(kind) => {
                result.push('*');
                remarks.push(Remark::with_range(
                    RemarkType::Substituted,
                    kind,
                    (start, end),
                ));
            }
            None => result.push_str(segment),
        }
        if let Some(separator) = separator {
            result.push(separator);
        }
        start = end + 1;
    }
    if remarks.is_empty() || result == "*" {
        return;
    }
    let original = Value::String(original.clone());
    name.set_value(Some(result));
    let meta = name.meta_mut();
    for remark in remarks {
        meta.add_remark(remark);
    }
    meta.set_original_value(Some(original));
}

/// Step 2 on a transaction event, without transaction-name rules.
pub fn normalize_transaction(event: &mut Event) {
    normalize_transaction_with_rules(event, &[], None, chrono::Utc::now());
}

/// Step 2 on a transaction event: after identifier scrubbing, a sanitized name is renamed by
/// the first of `rules` active at `received_at` that matches
/// ([`crate::transaction_name_rules`]); spans without op get one from `span_op_defaults`
/// ([`crate::span_op_defaults`]) or `default`.
pub fn normalize_transaction_with_rules(
    event: &mut Event,
    rules: &[TransactionNameRule],
    span_op_defaults: Option<&SpanOpDefaults>,
    received_at: chrono::DateTime<chrono::Utc>,
) {
    if event.ty.value() != Some(&EventType::Transaction) {
        return;
    }
    if event.transaction.value().is_none_or(String::is_empty) {
        event.transaction.set_value(Some(UNLABELED.to_owned()));
    }
    let high_cardinality = event.transaction.value().is_some_and(|n| n.contains('/'))
        && is_high_cardinality_sdk(event);
    let source = event
        .transaction_info
        .value()
        .and_then(|info| info.source.value())
        .cloned();
    let source = match source {
        None if !high_cardinality => Some("unknown".to_owned()),
        other => other,
    };
    let sanitize = source
        .as_deref()
        .is_none_or(|s| s == "url" || s == "sanitized");
    if sanitize {
        scrub_identifiers(&mut event.transaction);
        transaction_name_rules::apply_to_transaction(&mut event.transaction, rules, received_at);
    }
    let source = if sanitize {
        "sanitized".to_owned()
    } else {
        source.unwrap_or_default()
    };
    let info = event.transaction_info.get_or_insert_with(Default::default);
    if info.source.value() != Some(&source) {
        info.source.set_value(Some(source));
    }

    if let Some(contexts) = event.contexts.value_mut() {
        if let Some(trace) = contexts.trace_mut() {
            trace.op.get_or_insert_with(|| "default".to_owned());
        }
    }
    if let Some(spans) = event.spans.value_mut() {
        for span in spans.iter_mut().filter_map(|s| s.value_mut().as_mut()) {
            if span.op.value().is_none() {
                let op = span_op_defaults.map_or_else(|| "default".to_owned(), |d| d.infer(span));
                span.op.set_value(Some(op));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut input = input;
        input["type"] = json!("transaction");
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_transaction(event);
        }
        let mut output = to_json(&event).unwrap_or_default();
        if let Some(object) = output.as_object_mut() {
            object.remove("type");
        }
        output
    }

    #[test]
    fn defaults_name_source_and_ops() {
        // §5 verified example (the transaction part): source `unknown`, trace and span op.
        assert_eq!(
            run(json!({"transaction": "", "contexts": {"trace": {}},
                "spans": [{"op": "db"}, {}]})),
            json!({"transaction": UNLABELED, "transaction_info": {"source": "unknown"},
                "contexts": {"trace": {"op": "default", "type": "trace"}},
                "spans": [{"op": "db"}, {"op": "default"}]})
        );
        // A known source stays, its name unscrubbed.
        assert_eq!(
            run(json!({"transaction": "/users/123", "transaction_info": {"source": "route"}})),
            json!({"transaction": "/users/123", "transaction_info": {"source": "route"}})
        );
        // Not a transaction: untouched.
        let mut event: Annotated<Event> = from_json(json!({"spans": [{}]}));
        if let Some(event) = event.value_mut() {
            normalize_transaction(event);
        }
        assert_eq!(to_json(&event).ok(), Some(json!({"spans": [{}]})));
    }

    #[test]
    fn url_names_are_scrubbed() {
        assert_eq!(
            run(json!({"transaction": "/a/11/b/x22y/c", "transaction_info": {"source": "url"}})),
            json!({"transaction": "/a/*/b/*/c", "transaction_info": {"source": "sanitized"},
                "_meta": {"transaction": {"": {"rem": [["int", "s", 3, 5], ["int", "s", 8, 12]],
                    "val": "/a/11/b/x22y/c"}}}})
        );
        // Nothing to scrub: only the source changes; `*` alone is not applied.
        assert_eq!(
            run(json!({"transaction": "/a/1b/x", "transaction_info": {"source": "url"}})),
            json!({"transaction": "/a/1b/x", "transaction_info": {"source": "sanitized"}})
        );
        assert_eq!(
            run(json!({"transaction": "a\\12\\b", "transaction_info": {"source": "url"}})),
            json!({"transaction": "a\\*\\b", "transaction_info": {"source": "sanitized"},
                "_meta": {"transaction": {"": {"rem": [["int", "s", 2, 4]],
                    "val": "a\\12\\b"}}}})
        );
        assert_eq!(identifier_kind("0xdeadbeef"), Some("hex"));
        assert_eq!(
            identifier_kind("d41d8cd98f00b204e9800998ecf8427e"),
            Some("int")
        );
        assert_eq!(
            identifier_kind("abcdefab-abcd-abcd-abcd-abcdefabcdef"),
            Some("uuid")
        );
        assert_eq!(identifier_kind(&"ab".repeat(20)), Some("sha1"));
        assert_eq!(identifier_kind(&"ab".repeat(16)), Some("md5"));
        assert_eq!(identifier_kind("users"), None);
    }

    #[test]
    fn raw_url_sdks_without_source_are_sanitized() {
        assert_eq!(
            run(json!({"transaction": "/users/123",
                "sdk": {"name": "sentry.javascript.browser", "version": "1"}})),
            json!({"transaction": "/users/*", "transaction_info": {"source": "sanitized"},
                "sdk": {"name": "sentry.javascript.browser", "version": "1"},
                "_meta": {"transaction": {"": {"rem": [["int", "s", 7, 10]],
                    "val": "/users/123"}}}})
        );
        assert_eq!(
            run(json!({"transaction": "/users/123"})),
            json!({"transaction": "/users/123", "transaction_info": {"source": "unknown"}})
        );
    }
}
