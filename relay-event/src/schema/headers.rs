//! [`Headers`]: HTTP headers as a list of `[name, value]` pairs (normalization.md §2).
//!
//! Parsing accepts an object (pairs sorted by name, since objects keep their keys sorted) or
//! an array of pairs. Names and values are lenient strings (the schema's "into-string"
//! `HeaderName` / `HeaderValue`); each name is capitalized per `-` segment (`user-agent` →
//! `User-Agent`; the rest of a segment is kept). An array element that is not a 2-element
//! array is `null` with `invalid_data` `expected a tuple`, any other value `expected an array`;
//! the original is kept. Output is always the array of pairs, addressed in `_meta` by index,
//! `"0"` the name and `"1"` the value (normalization.md §10.1). The PII level and bag size
//! come from the field holding the headers (`request.headers`, `contexts.response.headers`).

use super::pairs::{container_newtype, pair_from_value, pair_into_value_impl, pairs_from_value};
use crate::{
    process_value, Annotated, Array, FromValue, LenientString, ProcessValue, ProcessingResult,
    ProcessingState, Processor, Value,
};

/// Capitalizes the first character of each `-`-separated segment of a header name.
pub fn normalize_header_name(name: &str) -> String {
    name.split('-')
        .map(|segment| {
            let mut chars = segment.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// One header: name and value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header(pub Annotated<LenientString>, pub Annotated<LenientString>);

/// The headers of a request or response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headers(pub Array<Header>);

impl Headers {
    /// The value of the first header named `name` (compared case-insensitively).
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .filter_map(Annotated::value)
            .find_map(|header| {
                let key = header.0.value()?;
                key.as_str()
                    .eq_ignore_ascii_case(name)
                    .then(|| header.1.value().map(|v| v.as_str()))?
            })
    }
}

container_newtype!(Headers, Array<Header>, process_array);

fn header_name(value: Annotated<Value>) -> Annotated<LenientString> {
    LenientString::from_value(value)
        .map_value(|name| LenientString(normalize_header_name(name.as_str())))
}

impl FromValue for Header {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        pair_from_value(value, |name, value| {
            Header(header_name(name), LenientString::from_value(value))
        })
    }
}

pair_into_value_impl!(Header);

impl ProcessValue for Header {
    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let attrs = state.inner_attrs();
        process_value(&mut self.0, processor, &state.enter_index(0, attrs.clone()))?;
        process_value(&mut self.1, processor, &state.enter_index(1, attrs))
    }
}

impl FromValue for Headers {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        pairs_from_value(value, |name, value| {
            Header(
                Annotated::new(LenientString(normalize_header_name(&name))),
                LenientString::from_value(value),
            )
        })
        .map_value(Headers)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn names_are_capitalized_and_objects_become_pairs() {
        let headers: Annotated<Headers> =
            from_json(json!({"user-agent": "curl", "x-API-key": 5, "Accept": "*/*"}));
        assert_eq!(
            to_json(&headers).ok(),
            Some(json!([
                ["Accept", "*/*"],
                ["User-Agent", "curl"],
                ["X-API-Key", "5"]
            ]))
        );
        let headers: Annotated<Headers> =
            from_json(json!([["content-type", "text/plain"], ["Host", "x"]]));
        let headers = headers.value().cloned().unwrap_or_default();
        assert_eq!(headers.get_header("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(normalize_header_name("--a-b"), "--A-B");
    }

    #[test]
    fn invalid_headers_keep_the_original() {
        let headers: Annotated<Headers> = from_json(json!([["a"], ["b", {"x": 1}], null]));
        let output = to_json(&headers).unwrap_or_default();
        assert_eq!(output[0], serde_json::Value::Null);
        assert_eq!(output[1], json!(["B", null]));
        assert_eq!(output[2], serde_json::Value::Null);

        let headers: Annotated<Headers> = from_json(json!("Host: x"));
        assert!(headers.value().is_none());
        assert_eq!(
            headers.meta().errors()[0].get("reason"),
            Some(&Value::from("expected an array"))
        );
        assert_eq!(
            headers.meta().original_value(),
            Some(&Value::from("Host: x"))
        );
    }
}
