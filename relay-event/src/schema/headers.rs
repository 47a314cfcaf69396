//! [`Headers`]: HTTP headers as a list of `[name, value]` pairs (normalization.md §2).
//!
//! Parsing accepts an object (pairs sorted by name, since objects keep their keys sorted) or
//! an array of pairs. Names and values are lenient strings (the schema's "into-string"
//! `HeaderName` / `HeaderValue`); each name is capitalized per `-` segment (`user-agent` →
//! `User-Agent`; the rest of a segment is kept). An array element that is not a 2-element
//! array is `null` with `invalid_data` `expected a tuple`, any other value `expected headers`;
//! the original is kept. Output is always the array of pairs, addressed in `_meta` by index,
//! `"0"` the name and `"1"` the value (normalization.md §10.1). The PII level and bag size
//! come from the field holding the headers (`request.headers`, `contexts.response.headers`).

use std::ops::{Deref, DerefMut};

use serde::ser::SerializeSeq;
use serde::Serializer;

use crate::{
    invalid_type, process_value, Annotated, Array, FromValue, IntoValue, LenientString, Meta,
    MetaMap, ProcessValue, ProcessingResult, ProcessingState, Processor, SerializePayload, Value,
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

impl Deref for Headers {
    type Target = Array<Header>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Headers {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

fn header_name(value: Annotated<Value>) -> Annotated<LenientString> {
    LenientString::from_value(value)
        .map_value(|name| LenientString(normalize_header_name(name.as_str())))
}

impl FromValue for Header {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::Array(items)), meta) if items.len() == 2 => {
                let mut items = items.into_iter();
                let name = header_name(items.next().unwrap_or_default());
                let value = LenientString::from_value(items.next().unwrap_or_default());
                Annotated(Some(Header(name, value)), meta)
            }
            Annotated(Some(other), meta) => invalid_type(other, meta, "a tuple"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl IntoValue for Header {
    fn into_value(self) -> Value {
        Value::Array(vec![
            self.0.into_annotated_value(),
            self.1.into_annotated_value(),
        ])
    }

    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(2))?;
        seq.serialize_element(&SerializePayload(&self.0))?;
        seq.serialize_element(&SerializePayload(&self.1))?;
        seq.end()
    }

    fn extract_child_meta(&self) -> MetaMap {
        let mut children = MetaMap::new();
        for (index, tree) in [self.0.meta_tree(), self.1.meta_tree()]
            .into_iter()
            .enumerate()
        {
            if !tree.is_empty() {
                children.insert(index.to_string(), tree);
            }
        }
        children
    }
}

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
        match value {
            Annotated(Some(Value::Array(items)), meta) => Annotated(
                Some(Headers(items.into_iter().map(Header::from_value).collect())),
                meta,
            ),
            Annotated(Some(Value::Object(map)), meta) => Annotated(
                Some(Headers(
                    map.into_iter()
                        .map(|(name, value)| {
                            Annotated::new(Header(
                                Annotated::new(LenientString(normalize_header_name(&name))),
                                LenientString::from_value(value),
                            ))
                        })
                        .collect(),
                )),
                meta,
            ),
            Annotated(Some(other), meta) => invalid_type(other, meta, "headers"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl IntoValue for Headers {
    fn into_value(self) -> Value {
        self.0.into_value()
    }
    fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_payload(serializer)
    }
    fn extract_child_meta(&self) -> MetaMap {
        self.0.extract_child_meta()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ProcessValue for Headers {
    fn process_value<P: Processor>(
        &mut self,
        meta: &mut Meta,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        processor.process_array(&mut self.0, meta, state)
    }

    fn process_child_values<P: Processor>(
        &mut self,
        processor: &mut P,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        self.0.process_child_values(processor, state)
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
            Some(&Value::from("expected headers"))
        );
        assert_eq!(
            headers.meta().original_value(),
            Some(&Value::from("Host: x"))
        );
    }
}
