//! Trace data tags (normalization.md §7 step 22): the largest contentful paint element that
//! browser SDKs record in the trace context's `data` becomes searchable as tags.
//!
//! From `contexts.trace.data`: `browser.web_vital.lcp.element`, `.id`, `.url` (strings) and
//! `.size` (an unsigned integer, written in decimal) become the tags `lcp.element`, `lcp.id`,
//! `lcp.url`, `lcp.size`, in that order, each unless a tag of that key exists. Values of any
//! other type are ignored (StoreNormalizer 0.10.1: `size` `-5`, `12.5`, `123.0` or `"12"`
//! and an integer `id` add nothing). Empty strings are copied as they are: the tag step that
//! reports empty values has already run.

use relay_event::schema::{Context, Event};
use relay_event::Value;

use crate::util::add_tag_if_absent;

/// (data key, tag key, whether the value is an unsigned integer rather than a string), in the
/// order the tags are added.
const LCP_TAGS: &[(&str, &str, bool)] = &[
    ("browser.web_vital.lcp.element", "lcp.element", false),
    ("browser.web_vital.lcp.size", "lcp.size", true),
    ("browser.web_vital.lcp.id", "lcp.id", false),
    ("browser.web_vital.lcp.url", "lcp.url", false),
];

/// The tag value of `value`, if it has the expected type.
fn tag_value(value: &Value, unsigned: bool) -> Option<String> {
    match value {
        Value::String(string) if !unsigned => Some(string.clone()),
        Value::I64(number) if unsigned && *number >= 0 => Some(number.to_string()),
        Value::U64(number) if unsigned => Some(number.to_string()),
        _ => None,
    }
}

/// Step 22.
pub fn normalize_trace_data_tags(event: &mut Event) {
    let Some(Context::Trace(trace)) = event
        .contexts
        .value()
        .and_then(|contexts| contexts.get("trace"))
    else {
        return;
    };
    let Some(data) = trace.data.value() else {
        return;
    };
    let tags: Vec<_> = LCP_TAGS
        .iter()
        .filter_map(|(data_key, tag_key, unsigned)| {
            let value = data.get(*data_key)?.value()?;
            Some((*tag_key, tag_value(value, *unsigned)?))
        })
        .collect();
    for (key, value) in tags {
        add_tag_if_absent(event, key, value);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json, Annotated};
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_trace_data_tags(event);
        }
        to_json(&event).unwrap()
    }

    fn data(data: serde_json::Value) -> serde_json::Value {
        json!({"contexts": {"trace": {"data": data}}})
    }

    #[test]
    fn lcp_data_becomes_tags() {
        // StoreNormalizer 0.10.1: the order is element, size, id, url.
        let output = run(data(json!({"browser.web_vital.lcp.element": "img",
            "browser.web_vital.lcp.size": 123, "browser.web_vital.lcp.id": "hero",
            "browser.web_vital.lcp.url": "https://x/y.png"})));
        assert_eq!(
            output["tags"],
            json!([
                ["lcp.element", "img"],
                ["lcp.size", "123"],
                ["lcp.id", "hero"],
                ["lcp.url", "https://x/y.png"]
            ])
        );
        let output = run(data(
            json!({"browser.web_vital.lcp.size": 18446744073709551615u64}),
        ));
        assert_eq!(
            output["tags"],
            json!([["lcp.size", "18446744073709551615"]])
        );
        let output = run(data(json!({"browser.web_vital.lcp.element": ""})));
        assert_eq!(output["tags"], json!([["lcp.element", ""]]));
    }

    #[test]
    fn existing_tags_and_other_types_are_kept() {
        let mut input = data(json!({"browser.web_vital.lcp.element": "img",
            "browser.web_vital.lcp.size": -5, "browser.web_vital.lcp.id": 7,
            "browser.web_vital.lcp.url": true}));
        input["tags"] = json!([["lcp.element", "mine"]]);
        assert_eq!(run(input)["tags"], json!([["lcp.element", "mine"]]));
        for size in [json!(12.5), json!(123.0), json!("12")] {
            let output = run(data(json!({"browser.web_vital.lcp.size": size})));
            assert_eq!(output.get("tags"), None);
        }
        assert_eq!(
            run(json!({"contexts": {"trace": {}}})),
            json!({"contexts": {
            "trace": {"type": "trace"}}})
        );
    }

    #[test]
    fn invalid_tags_get_a_value_and_keep_their_error() {
        // StoreNormalizer 0.10.1: `"tags": "bad"` → `[["lcp.id", "x"]]`, the error stays.
        let mut input = data(json!({"browser.web_vital.lcp.id": "x"}));
        input["tags"] = json!("bad");
        let output = run(input);
        assert_eq!(output["tags"], json!([["lcp.id", "x"]]));
        // The parse error is relay-event's (its reason differs from Sentry's `expected an
        // array`); it stays with the original value.
        assert_eq!(output["_meta"]["tags"][""]["val"], json!("bad"));
        assert_eq!(
            output["_meta"]["tags"][""]["err"][0][0],
            json!("invalid_data")
        );
    }
}
