//! JSON documents: an annotated value plus its `_meta` tree (normalization.md §10.1).
//!
//! * [`to_json`] / [`to_json_string`] write the payload and, for object roots, a trailing
//!   `_meta` key with the meta tree, if any meta exists anywhere.
//! * [`from_json`] / [`from_json_str`] parse a payload leniently and attach the `_meta` of an
//!   object root to the values it addresses; meta for keys or indices that do not exist is
//!   dropped.
//!
//! [`from_json`] and [`to_json`] work on a `serde_json::Value` and are the reference
//! semantics. The text functions ([`from_json_str`], [`from_json_slice`], [`to_json_string`],
//! [`to_json_vec`], [`to_json_writer`]) build no such tree (modules [`crate::de`] and `ser`)
//! and must give exactly the same events and bytes; the tests of those modules, the corpus
//! test of relay-normalization and [`crate::fuzzing::fuzz_event`] check that.
//!
//! A `_meta` node is `{"": <meta>, "<child>": <node>, …}`; a meta is
//! `{"err": […], "len": n, "rem": […], "val": …}` with empty entries left out (keys in this
//! order). An error is its bare kind when it has no data, else `[kind, {data}]`; a remark is
//! `[rule_id, type]` or `[rule_id, type, start, end]`.

use serde::de::Error as _;
#[doc(hidden)]
pub mod ser;
mod writer;

use serde_json::{json, Map, Number};

use crate::annotated::{Annotated, Error, ErrorKind, Meta, Remark, RemarkType, Value};
use crate::from_value::{annotated_from_json, FromValue};
use crate::into_value::{IntoValue, SerializePayload};
use crate::meta_tree::MetaTree;
use crate::processor::{process_value, ProcessValue, ProcessingResult, Processor};
use crate::state::ProcessingState;

pub use crate::meta_tree::META_KEY;

/// Converts an untyped value to JSON (non-finite floats become `null`).
pub fn value_to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::I64(n) => serde_json::Value::from(*n),
        Value::U64(n) => serde_json::Value::from(*n),
        Value::F64(f) => Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.value().map_or(serde_json::Value::Null, value_to_json))
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(key, item)| {
                let value = item.value().map_or(serde_json::Value::Null, value_to_json);
                (key.clone(), value)
            })
            .collect::<Map<_, _>>()
            .into(),
    }
}

fn error_to_json(error: &Error) -> serde_json::Value {
    if error.data().is_empty() {
        return json!(error.kind().as_str());
    }
    let data: Map<String, serde_json::Value> = error
        .data()
        .iter()
        .map(|(key, value)| (key.clone(), value_to_json(value)))
        .collect();
    json!([error.kind().as_str(), data])
}

fn remark_to_json(remark: &Remark) -> serde_json::Value {
    match remark.range {
        Some((start, end)) => json!([remark.rule_id, remark.ty.as_str(), start, end]),
        None => json!([remark.rule_id, remark.ty.as_str()]),
    }
}

/// The JSON object of one meta node; `None` if the meta is empty.
pub fn meta_to_json(meta: &Meta) -> Option<serde_json::Value> {
    if meta.is_empty() {
        return None;
    }
    let mut map = Map::new();
    if meta.has_errors() {
        let errors = meta.errors().iter().map(error_to_json).collect();
        map.insert("err".into(), serde_json::Value::Array(errors));
    }
    if let Some(length) = meta.original_length() {
        map.insert("len".into(), json!(length));
    }
    if !meta.remarks().is_empty() {
        let remarks = meta.remarks().iter().map(remark_to_json).collect();
        map.insert("rem".into(), serde_json::Value::Array(remarks));
    }
    if let Some(original) = meta.original_value() {
        map.insert("val".into(), value_to_json(original));
    }
    Some(serde_json::Value::Object(map))
}

/// The `_meta` JSON of a tree; `None` if the tree is empty.
pub fn meta_tree_to_json(tree: &MetaTree) -> Option<serde_json::Value> {
    let mut map = Map::new();
    if let Some(meta) = meta_to_json(&tree.meta) {
        map.insert(String::new(), meta);
    }
    for (key, child) in &tree.children {
        if let Some(child) = meta_tree_to_json(child) {
            map.insert(key.clone(), child);
        }
    }
    (!map.is_empty()).then_some(serde_json::Value::Object(map))
}

/// The payload of `annotated` as JSON, with a trailing `_meta` if the root is an object and
/// any meta exists. The meta of a non-object root is only available through
/// [`Annotated::meta_tree`].
pub fn to_json<T: IntoValue>(annotated: &Annotated<T>) -> serde_json::Result<serde_json::Value> {
    let mut payload = serde_json::to_value(SerializePayload(annotated))?;
    if let serde_json::Value::Object(map) = &mut payload {
        if let Some(meta) = meta_tree_to_json(&annotated.meta_tree()) {
            map.insert(META_KEY.into(), meta);
        }
    }
    Ok(payload)
}

/// [`to_json`] as compact text, written directly (no `serde_json::Value` is built; see
/// [`crate::ser`](self) for why the bytes are identical).
pub fn to_json_string<T: IntoValue>(annotated: &Annotated<T>) -> serde_json::Result<String> {
    let bytes = to_json_vec(annotated)?;
    // serde_json only writes valid UTF-8; the conversion cannot fail.
    String::from_utf8(bytes).map_err(|error| serde_json::Error::custom(error.to_string()))
}

/// [`to_json`] as compact JSON bytes, written directly.
pub fn to_json_vec<T: IntoValue>(annotated: &Annotated<T>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(8192);
    ser::write_document(&mut out, annotated)?;
    Ok(out)
}

/// [`to_json`] as compact JSON, written to `writer` (the document is assembled in memory
/// first because `_meta` goes inside the root object, after the payload).
pub fn to_json_writer<W: std::io::Write, T: IntoValue>(
    writer: W,
    annotated: &Annotated<T>,
) -> serde_json::Result<()> {
    ser::write_document_to(writer, annotated)
}

fn error_from_json(json: &serde_json::Value) -> Option<Error> {
    match json {
        serde_json::Value::String(kind) => Some(Error::new(ErrorKind::parse(kind))),
        serde_json::Value::Array(parts) => {
            let mut error = Error::new(ErrorKind::parse(parts.first()?.as_str()?));
            if let Some(serde_json::Value::Object(data)) = parts.get(1) {
                for (key, value) in data {
                    if let Some(value) = annotated_from_json(value.clone()).0 {
                        error.insert(key.clone(), value);
                    }
                }
            }
            Some(error)
        }
        _ => None,
    }
}

fn remark_from_json(json: &serde_json::Value) -> Option<Remark> {
    let parts = json.as_array()?;
    let rule_id = parts.first()?.as_str()?;
    let ty = RemarkType::parse(parts.get(1)?.as_str()?)?;
    let range = match (parts.get(2), parts.get(3)) {
        (Some(start), Some(end)) => Some((
            usize::try_from(start.as_u64()?).ok()?,
            usize::try_from(end.as_u64()?).ok()?,
        )),
        _ => None,
    };
    Some(Remark {
        rule_id: rule_id.to_owned(),
        ty,
        range,
    })
}

/// Parses one meta node (`{"err", "len", "rem", "val"}`); malformed entries are skipped.
pub fn meta_from_json(json: &serde_json::Value) -> Meta {
    let mut meta = Meta::default();
    let Some(map) = json.as_object() else {
        return meta;
    };
    for error in map
        .get("err")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(error) = error_from_json(error) {
            meta.add_error(error);
        }
    }
    for remark in map
        .get("rem")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(remark) = remark_from_json(remark) {
            meta.add_remark(remark);
        }
    }
    if let Some(length) = map.get("len").and_then(|l| l.as_u64()) {
        meta.set_original_length(usize::try_from(length).unwrap_or(usize::MAX));
    }
    if let Some(original) = map.get("val") {
        meta.set_original_value(annotated_from_json(original.clone()).0);
    }
    meta
}

/// Parses a `_meta` tree; anything that is not an object is an empty tree.
pub fn meta_tree_from_json(json: &serde_json::Value) -> MetaTree {
    let mut tree = MetaTree::default();
    let Some(map) = json.as_object() else {
        return tree;
    };
    for (key, value) in map {
        if key.is_empty() {
            tree.meta = meta_from_json(value);
        } else {
            tree.children
                .insert(key.clone(), meta_tree_from_json(value));
        }
    }
    tree
}

/// Moves the metas of `tree` onto the values of `annotated` they address (merged into the
/// meta already there); entries for missing keys or indices are dropped.
pub fn attach_meta_tree<T: ProcessValue>(annotated: &mut Annotated<T>, tree: MetaTree) {
    if tree.is_empty() {
        return;
    }
    let mut attach = AttachMeta { tree };
    // AttachMeta never returns an action.
    let _ = process_value(annotated, &mut attach, &ProcessingState::root());
}

struct AttachMeta {
    tree: MetaTree,
}

impl Processor for AttachMeta {
    fn before_process<T: ProcessValue>(
        &mut self,
        _value: Option<&T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let keys: Vec<String> = state.segments().iter().map(ToString::to_string).collect();
        if let Some(node) = self.tree.get_mut(keys.iter().map(String::as_str)) {
            meta.merge(std::mem::take(&mut node.meta));
        }
        Ok(())
    }
}

/// Parses `json` leniently into `T`; the `_meta` key of an object root is removed and
/// attached ([`attach_meta_tree`]).
pub fn from_json<T: FromValue + ProcessValue>(mut json: serde_json::Value) -> Annotated<T> {
    let tree = match &mut json {
        serde_json::Value::Object(map) => {
            map.shift_remove(META_KEY).map(|m| meta_tree_from_json(&m))
        }
        _ => None,
    };
    let mut annotated = T::from_value(annotated_from_json(json));
    if let Some(tree) = tree {
        attach_meta_tree(&mut annotated, tree);
    }
    annotated
}

/// [`from_json`] from text; only malformed JSON is an error. Parses straight into `T`
/// without a `serde_json::Value` tree ([`crate::de`]), with the same result.
pub fn from_json_str<T: FromValue + ProcessValue>(text: &str) -> serde_json::Result<Annotated<T>> {
    let (mut annotated, meta) = crate::de::from_str_with_meta(text)?;
    if let Some(meta) = meta {
        attach_meta_tree(&mut annotated, meta_tree_from_json(&meta));
    }
    Ok(annotated)
}

/// [`from_json`] from bytes; malformed JSON and invalid UTF-8 are errors (like
/// `serde_json::from_slice`).
pub fn from_json_slice<T: FromValue + ProcessValue>(
    bytes: &[u8],
) -> serde_json::Result<Annotated<T>> {
    // Validated up front: serde_json checks UTF-8 only in the strings it decodes, and unknown
    // content must be rejected exactly like a full parse into `serde_json::Value` would.
    let text = std::str::from_utf8(bytes).map_err(|error| {
        serde_json::Error::custom(format!("invalid UTF-8 in JSON input: {error}"))
    })?;
    from_json_str(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::annotated::Object;
    use crate::testutils::Event;
    use crate::timestamp::Timestamp;

    fn text(event: &Annotated<Event>) -> String {
        to_json_string(event).unwrap_or_else(|err| err.to_string())
    }

    fn with_other(key: &str, value: Annotated<Value>) -> Annotated<Event> {
        let mut event = Event::default();
        event.other.insert(key.into(), value);
        Annotated::new(event)
    }

    #[test]
    fn invalid_attribute_example_of_section_13() {
        let foo = Annotated(None, Meta::from_error(ErrorKind::InvalidAttribute));
        assert_eq!(
            text(&with_other("foo", foo)),
            r#"{"foo":null,"_meta":{"foo":{"":{"err":["invalid_attribute"]}}}}"#
        );
    }

    #[test]
    fn error_with_data_and_original_value() {
        let mut meta = Meta::from_error(Error::invalid("invalid level"));
        meta.set_original_value(Some(Value::from("warn")));
        let level = Annotated(Some(Value::from("error")), meta);
        assert_eq!(
            text(&with_other("level", level)),
            concat!(
                r#"{"level":"error","_meta":{"level":{"":{"#,
                r#""err":[["invalid_data",{"reason":"invalid level"}]],"val":"warn"}}}}"#
            )
        );

        let release = Annotated::from_error(ErrorKind::InvalidData.into(), Some("latest".into()));
        assert_eq!(
            text(&with_other("release", release)),
            r#"{"release":null,"_meta":{"release":{"":{"err":["invalid_data"],"val":"latest"}}}}"#
        );
    }

    #[test]
    fn past_timestamp_error_of_section_4_2() {
        let timestamp = Timestamp::from_seconds(1704067200.0).ok();
        let mut event = Event {
            timestamp: Annotated(timestamp, Meta::default()),
            ..Event::default()
        };
        event.timestamp.meta_mut().add_error(
            Error::new(ErrorKind::PastTimestamp)
                .with("sdk_time", "2023-12-01T00:00:00+00:00".into())
                .with("server_time", "2024-01-01T00:00:00+00:00".into()),
        );
        assert_eq!(
            text(&Annotated::new(event)),
            concat!(
                r#"{"timestamp":1704067200.0,"_meta":{"timestamp":{"":{"err":[["past_timestamp","#,
                r#"{"sdk_time":"2023-12-01T00:00:00+00:00","server_time":"2024-01-01T00:00:00+00:00"}]]}}}}"#
            )
        );
    }

    #[test]
    fn pair_lists_and_container_lengths_are_addressed_by_index() {
        let key = Annotated(
            None,
            Meta::from_error(Error::invalid("expected a non-empty value")),
        );
        let pair = Value::Array(vec![key, Annotated::new(Value::from("x"))]);
        let tags = Annotated::new(Value::Array(vec![Annotated::new(pair)]));
        assert_eq!(
            text(&with_other("tags", tags)),
            concat!(
                r#"{"tags":[[null,"x"]],"_meta":{"tags":{"0":{"0":{"":{"#,
                r#""err":[["invalid_data",{"reason":"expected a non-empty value"}]]}}}}}}"#
            )
        );

        let mut arr = Annotated::new(Value::Array(vec![Annotated::new(Value::from("x"))]));
        arr.meta_mut().set_original_length(300);
        let mut extra = Object::new();
        extra.insert("arr".into(), arr);
        let event = Event {
            extra: Annotated::new(extra),
            ..Event::default()
        };
        assert_eq!(
            text(&Annotated::new(event)),
            r#"{"extra":{"arr":["x"]},"_meta":{"extra":{"arr":{"":{"len":300}}}}}"#
        );
    }

    #[test]
    fn lenient_parsing_errors_serialize_with_original_value() {
        let event: Annotated<Event> = from_json(json!({"timestamp": "bogus", "culprit": 7}));
        assert_eq!(
            text(&event),
            concat!(
                r#"{"culprit":null,"timestamp":null,"_meta":{"#,
                r#""culprit":{"":{"err":[["invalid_data",{"reason":"expected a string"}]],"val":7}},"#,
                r#""timestamp":{"":{"err":[["invalid_data",{"reason":"input contains invalid characters"}]],"val":"bogus"}}}}"#
            )
        );
        // A wrong root type: the meta is kept on the root, not embedded.
        let root: Annotated<Event> = from_json(json!([1]));
        assert_eq!(text(&root), "null");
        assert!(root.meta().has_errors());
    }

    #[test]
    fn unchanged_values_round_trip() {
        let input = concat!(
            r#"{"culprit":"c","timestamp":1704067140.5,"#,
            r#""exception":{"values":[{"type":"T","value":"v","#,
            r#""x":[1,-2,2.5,true,null,"s",{"a":18446744073709551615,"b":1e+21}]}]},"#,
            r#""extra":{"a":{"b":[],"c":{}},"z":"é\n\u0001"},"foo":"bar"}"#
        );
        let event: Annotated<Event> = from_json_str(input).unwrap_or_default();
        assert_eq!(text(&event), input);
    }

    #[test]
    fn incoming_meta_is_attached_and_round_trips() {
        let input = concat!(
            r#"{"culprit":null,"exception":{"values":[{"type":"x..."}]},"extra":{"k":"v"},"_meta":{"#,
            r#""culprit":{"":{"err":["weird_kind",["invalid_data",{"reason":"r"}]],"val":[1,{"a":2}]}},"#,
            r#""exception":{"values":{"0":{"type":{"":{"len":10,"rem":[["!limit","s",1,4],["@x","x"]]}}}}},"#,
            r#""extra":{"k":{"":{"rem":[["@password","s"]]}}}}}"#
        );
        let event: Annotated<Event> = from_json_str(input).unwrap_or_default();
        assert_eq!(text(&event), input);
        let remarks = event
            .value()
            .and_then(|e| e.extra.value())
            .map(|extra| extra["k"].meta().remarks().to_vec());
        assert_eq!(
            remarks,
            Some(vec![Remark::new(RemarkType::Substituted, "@password")])
        );
    }

    #[test]
    fn incoming_meta_for_missing_values_is_dropped_and_merged_with_parse_errors() {
        let input = json!({
            "culprit": 5,
            "extra": {"k": "v"},
            "_meta": {
                "culprit": {"": {"err": ["invalid_data"]}},
                "extra": {"missing": {"": {"err": ["invalid_data"]}}},
                "nope": {"": {"len": 3}},
                "exception": {"values": {"3": {"": {"len": 3}}}}
            }
        });
        let event: Annotated<Event> = from_json(input);
        assert_eq!(
            text(&event),
            concat!(
                r#"{"culprit":null,"extra":{"k":"v"},"_meta":{"culprit":{"":{"#,
                r#""err":[["invalid_data",{"reason":"expected a string"}],"invalid_data"],"val":5}}}}"#
            )
        );
    }

    #[test]
    fn empty_meta_is_never_written() {
        let mut event = Event {
            culprit: Annotated::new("c".into()),
            ..Event::default()
        };
        event.culprit.meta_mut().set_original_value(None);
        event.culprit.meta_mut().clear_remarks();
        assert_eq!(text(&Annotated::new(event)), r#"{"culprit":"c"}"#);
        assert_eq!(meta_tree_to_json(&MetaTree::default()), None);
    }
}
