//! The forced trace context and the context descriptions (normalization.md §7 steps 25–26,
//! §7.10).
//!
//! * Step 25, every event: a `trace` entry that is not a trace context (missing, `null`, not an
//!   object, another type) is replaced by a new one, its meta dropped. A trace context without
//!   a valid `trace_id` takes the event id (32 hex digits); one without a valid `span_id` takes
//!   the first 16 digits of its trace id. The meta of a replaced invalid id is kept.
//! * Step 26, every context of a type:
//!   * `trace`: a missing or invalid `status` becomes `unknown` (meta kept).
//!   * `os`, `runtime`: first their `raw_description` is parsed into name, version, build
//!     and kernel version, and .NET Framework release keys become versions
//!     ([`raw_descriptions`]).
//!   * `os`, `browser`: an unset description (`os` / `browser`) is `"<name> <version>"`, or
//!     `"<name>"` without a version; nothing without a name. Empty parts count.
//!   * `runtime`: an unset `runtime` is `"<name> <version>"`, only when both are set.
//!   * `response`: body, cookies and the `Set-Cookie` header
//!     ([`crate::request::normalize_response`]).
//!   * `device`: a `model` the table of [`android_models`] knows sets `name` to its
//!     marketing name (replacing a sent name).

use relay_event::schema::contexts::{
    BrowserContext, DeviceContext, OsContext, RuntimeContext, SpanId, SpanStatus, TraceContext,
    TraceId,
};
use relay_event::schema::{Context, Contexts, Event};
use relay_event::Annotated;

use crate::{android_models, raw_descriptions};

/// Runs step 25 (forced trace context), then step 26 (context descriptions).
pub fn normalize_contexts(event: &mut Event) {
    force_trace_context(event);
    if let Some(contexts) = event.contexts.value_mut() {
        for context in contexts.0.values_mut() {
            if let Some(context) = context.value_mut() {
                normalize_context(context);
            }
        }
    }
}

/// Step 25: makes sure `contexts.trace` is a trace context with both ids.
pub fn force_trace_context(event: &mut Event) {
    let event_id = event
        .event_id
        .value()
        .and_then(|id| TraceId::parse(&id.as_simple()));
    let contexts = event.contexts.get_or_insert_with(Contexts::default);
    let entry = contexts.0.entry("trace".to_owned()).or_default();
    if !matches!(entry.value(), Some(Context::Trace(_))) {
        *entry = Annotated::new(Context::Trace(Box::default()));
    }
    let Some(Context::Trace(trace)) = entry.value_mut() else {
        return;
    };
    if trace.trace_id.value().is_none() {
        trace.trace_id.set_value(event_id);
    }
    if trace.span_id.value().is_none() {
        let span_id = trace
            .trace_id
            .value()
            .and_then(|id| SpanId::parse(id.as_str().get(..16)?));
        trace.span_id.set_value(span_id);
    }
}

/// Step 26 for one context.
fn normalize_context(context: &mut Context) {
    match context {
        Context::Trace(trace) => normalize_trace(trace),
        Context::Os(os) => normalize_os(os),
        Context::Browser(browser) => normalize_browser(browser),
        Context::Runtime(runtime) => normalize_runtime(runtime),
        Context::Response(response) => crate::request::normalize_response(response),
        Context::Device(device) => normalize_device(device),
        _ => {}
    }
}

/// A known Android model names the device (replacing any name), as Sentry does.
fn normalize_device(device: &mut DeviceContext) {
    let name = device
        .model
        .value()
        .and_then(|model| android_models::marketing_name(model));
    if let Some(name) = name {
        device.name.set_value(Some(name.to_owned()));
    }
}

fn normalize_trace(trace: &mut TraceContext) {
    if trace.status.value().is_none() {
        trace.status.set_value(Some(SpanStatus::Unknown));
    }
}

/// `"<name> <version>"`, `"<name>"` without a version (when `name_only`), else `None`.
fn description(
    name: &Annotated<String>,
    version: &Annotated<String>,
    name_only: bool,
) -> Option<String> {
    let name = name.value()?;
    match version.value() {
        Some(version) => Some(format!("{name} {version}")),
        None => name_only.then(|| name.clone()),
    }
}

fn normalize_os(os: &mut OsContext) {
    raw_descriptions::parse_os(os);
    if os.os.value().is_none() {
        let value = description(&os.name, &os.version, true);
        os.os.set_value(value);
    }
}

fn normalize_browser(browser: &mut BrowserContext) {
    if browser.browser.value().is_none() {
        let value = description(&browser.name, &browser.version, true);
        browser.browser.set_value(value);
    }
}

fn normalize_runtime(runtime: &mut RuntimeContext) {
    raw_descriptions::parse_runtime(runtime);
    if runtime.runtime.value().is_none() {
        let value = description(&runtime.name, &runtime.version, false);
        runtime.runtime.set_value(value);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    const EVENT_ID: &str = "0123456789abcdeffedcba9876543210";

    /// The `contexts` (and `_meta`) after this step, of an event with [`EVENT_ID`].
    fn run(contexts: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> =
            from_json(json!({"event_id": EVENT_ID, "contexts": contexts}));
        if let Some(event) = event.value_mut() {
            normalize_contexts(event);
        }
        let output = to_json(&event).unwrap_or_default();
        json!({"contexts": output["contexts"], "_meta": output["_meta"]["contexts"]})
    }

    fn trace(trace_id: &str, span_id: &str) -> serde_json::Value {
        json!({"trace_id": trace_id, "span_id": span_id, "status": "unknown", "type": "trace"})
    }

    #[test]
    fn android_models_name_the_device() {
        // StoreNormalizer 0.10.1: every device context, a sent name replaced, exact matches.
        let output = run(json!({"device": {"model": "NE2211", "name": "mine"},
            "d2": {"type": "device", "model": "Android SDK built for x86"},
            "d3": {"type": "device", "model": "ne2211"}}));
        let contexts = &output["contexts"];
        assert_eq!(contexts["device"]["name"], json!("OnePlus 10 Pro 5G"));
        assert_eq!(contexts["d2"]["name"], json!("Emulator"));
        assert_eq!(contexts["d3"].get("name"), None);
    }

    #[test]
    fn trace_context_is_forced() {
        // normalization.md §7.10, outputs of StoreNormalizer.
        let expected = trace(EVENT_ID, "0123456789abcdef");
        let mut event: Annotated<Event> = from_json(json!({"event_id": EVENT_ID}));
        if let Some(event) = event.value_mut() {
            normalize_contexts(event);
        }
        assert_eq!(
            to_json(&event).unwrap_or_default()["contexts"],
            json!({"trace": expected})
        );
        // Not a trace context: replaced, its meta dropped.
        for bad in [
            json!("bad"),
            json!({"type": "os", "name": "X"}),
            json!(null),
        ] {
            assert_eq!(
                run(json!({"trace": bad})),
                json!({"contexts": {"trace": expected}, "_meta": null})
            );
        }
    }

    #[test]
    fn missing_ids_are_derived() {
        assert_eq!(
            run(json!({"trace": {"trace_id": "a0123456789abcdeffedcba987654321"}}))["contexts"],
            json!({"trace": trace("a0123456789abcdeffedcba987654321", "a0123456789abcde")})
        );
        assert_eq!(
            run(json!({"trace": {"span_id": "fa90fdead5f74052"}}))["contexts"],
            json!({"trace": trace(EVENT_ID, "fa90fdead5f74052")})
        );
        // An invalid id is replaced, its error and original kept.
        let output = run(json!({"trace": {"trace_id": "zz", "span_id": "fa90fdead5f74052"}}));
        assert_eq!(
            output["contexts"],
            json!({"trace": trace(EVENT_ID, "fa90fdead5f74052")})
        );
        assert_eq!(output["_meta"]["trace"]["trace_id"][""]["val"], json!("zz"));
    }

    #[test]
    fn trace_status_defaults_to_unknown() {
        let ids = json!({"trace_id": EVENT_ID, "span_id": "0123456789abcdef"});
        let mut ok = ids.clone();
        ok["status"] = json!("ok");
        assert_eq!(
            run(json!({"trace": ok}))["contexts"]["trace"]["status"],
            json!("ok")
        );
        // Every trace-typed context, also under another key (ids stay missing there; the
        // schema checks of §6.2 write them as `null` with `missing_attribute`).
        assert_eq!(
            run(json!({"trace": ids, "foo": {"type": "trace"}}))["contexts"]["foo"],
            json!({"status": "unknown", "type": "trace"})
        );
        let mut bogus = ids;
        bogus["status"] = json!("bogus");
        let output = run(json!({"trace": bogus}));
        assert_eq!(output["contexts"]["trace"]["status"], json!("unknown"));
        assert_eq!(
            output["_meta"]["trace"]["status"][""]["val"],
            json!("bogus")
        );
    }

    #[test]
    fn descriptions() {
        // normalization.md §7.10 table: context in, description out.
        let cases = [
            (
                json!({"type": "os", "name": "iOS", "version": "14.5"}),
                json!("iOS 14.5"),
            ),
            (
                json!({"type": "os", "name": "Xbox", "kernel_version": "10"}),
                json!("Xbox"),
            ),
            (
                json!({"type": "os", "name": "Mac OS X 10.14.0", "version": ""}),
                json!("Mac OS X 10.14.0 "),
            ),
            (
                json!({"type": "os", "name": "", "version": "1"}),
                json!(" 1"),
            ),
            (json!({"type": "os", "version": "1"}), json!(null)),
            (
                json!({"type": "os", "name": "X", "os": "given"}),
                json!("given"),
            ),
            (
                json!({"type": "browser", "name": "Chrome", "version": "65.0.3325"}),
                json!("Chrome 65.0.3325"),
            ),
            (
                json!({"type": "browser", "name": "Chrome"}),
                json!("Chrome"),
            ),
            (json!({"type": "browser", "version": "1"}), json!(null)),
            (
                json!({"type": "runtime", "name": "CPython", "version": "3.7.3"}),
                json!("CPython 3.7.3"),
            ),
            (
                json!({"type": "runtime", "name": "X", "version": ""}),
                json!("X "),
            ),
            (
                json!({"type": "runtime", "name": "Mono Unity IL2CPP"}),
                json!(null),
            ),
            (json!({"type": "runtime", "version": "1"}), json!(null)),
        ];
        for (input, expected) in cases {
            let ty = input["type"].as_str().unwrap_or_default().to_owned();
            let output = run(json!({"c": input}));
            assert_eq!(output["contexts"]["c"][ty.as_str()], expected, "{input}");
        }
        // The description is written first.
        assert_eq!(
            run(json!({"os": {"version": "7.1.1", "name": "Android", "rooted": true}}))["contexts"]
                ["os"],
            json!({"os": "Android 7.1.1", "name": "Android", "version": "7.1.1",
                "rooted": true, "type": "os"})
        );
    }
}
