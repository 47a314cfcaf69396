//! Streaming serialization: an annotated value and its `_meta` straight to JSON bytes, without
//! an intermediate `serde_json::Value` tree, through the `writer` module (`serde_json`'s bytes,
//! written faster).
//!
//! The reference is [`crate::json::to_json`] followed by `serde_json::to_string`; the output
//! here must be byte-identical. Why writing the payload directly gives the same bytes:
//! `serde_json` formats numbers, strings and non-finite floats (`null`) identically whether
//! it writes text or builds a `Value` first, and map entries keep their order because the
//! workspace enables `preserve_order`. The one thing a `Value` map does that a stream cannot
//! is collapse a key written twice; the writers avoid writing a key twice instead (see
//! [`other_override`] and the `Values` wrapper), and the `_meta` guard below covers the root.
//!
//! The `_meta` object goes last, inside the root object: the payload is written first, its
//! closing `}` is replaced by `,"_meta":{…}}`. The meta tree is only collected when the
//! payload is an object and [`Annotated::has_meta`] (an allocation-free walk) finds meta. If the payload itself has a
//! `_meta` key (only possible for values built in code), the reference would overwrite it in
//! place; that rare case is delegated to the reference implementation.

use std::io;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::writer::write_json;
use crate::annotated::{Annotated, Error, Meta, Object, Remark, Value};
use crate::into_value::{IntoValue, SerializePayload};
use crate::meta_tree::MetaTree;
use crate::meta_tree::META_KEY;

/// The value of an unknown attribute of a struct that has the same name as one of its fields
/// and would be written (not null without meta); such a key is written once, at the field's
/// position with this value, like a `serde_json` map keeps a duplicate key.
#[doc(hidden)]
pub fn other_override<'a>(other: &'a Object<Value>, name: &str) -> Option<&'a Annotated<Value>> {
    if other.is_empty() {
        return None;
    }
    other
        .get(name)
        .filter(|value| !value.skip_serialization(crate::SkipSerialization::Null))
}

/// Writes `annotated` as a JSON document (payload, then `_meta` for object roots) to `out`.
pub(crate) fn write_document<T: IntoValue>(
    out: &mut Vec<u8>,
    annotated: &Annotated<T>,
) -> serde_json::Result<()> {
    let start = out.len();
    write_json(out, &SerializePayload(annotated))?;
    if out.get(start) != Some(&b'{') {
        return Ok(());
    }
    // An allocation-free walk first: most events have no meta at all.
    if !annotated.has_meta() {
        return Ok(());
    }
    let tree = annotated.meta_tree();
    if contains(&out[start..], b"\"_meta\"") {
        // Maybe a `_meta` key in the payload itself: let the reference decide.
        out.truncate(start);
        let json = crate::json::to_json(annotated)?;
        return write_json(out, &json);
    }
    // The payload is one object; its last byte is its closing brace.
    out.pop();
    if out.len() - start > 1 {
        out.push(b',');
    }
    write_json(out, META_KEY)?;
    out.push(b':');
    write_json(out, &MetaTreeJson(&tree))?;
    out.push(b'}');
    Ok(())
}

/// Writes `annotated` as a JSON document to an `io::Write` (buffered internally: the `_meta`
/// placement needs the whole payload).
pub(crate) fn write_document_to<W: io::Write, T: IntoValue>(
    mut writer: W,
    annotated: &Annotated<T>,
) -> serde_json::Result<()> {
    let mut out = Vec::new();
    write_document(&mut out, annotated)?;
    writer.write_all(&out).map_err(serde_json::Error::io)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A meta tree as its `_meta` object (only called for non-empty trees).
struct MetaTreeJson<'a>(&'a MetaTree);

impl Serialize for MetaTreeJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if !self.0.meta.is_empty() {
            map.serialize_entry("", &MetaJson(&self.0.meta))?;
        }
        for (key, child) in &self.0.children {
            if !child.is_empty() {
                map.serialize_entry(key, &MetaTreeJson(child))?;
            }
        }
        map.end()
    }
}

/// One meta node: `{"err", "len", "rem", "val"}`, empty entries left out.
struct MetaJson<'a>(&'a Meta);

impl Serialize for MetaJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let meta = self.0;
        let mut map = serializer.serialize_map(None)?;
        if meta.has_errors() {
            map.serialize_entry("err", &Errors(meta.errors()))?;
        }
        if let Some(length) = meta.original_length() {
            map.serialize_entry("len", &length)?;
        }
        if !meta.remarks().is_empty() {
            map.serialize_entry("rem", &Remarks(meta.remarks()))?;
        }
        if let Some(original) = meta.original_value() {
            map.serialize_entry("val", &ValueJson(original))?;
        }
        map.end()
    }
}

struct Errors<'a>(&'a [Error]);

impl Serialize for Errors<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for error in self.0 {
            if error.data().is_empty() {
                seq.serialize_element(error.kind().as_str())?;
            } else {
                seq.serialize_element(&ErrorJson(error))?;
            }
        }
        seq.end()
    }
}

/// `[kind, {data}]`.
struct ErrorJson<'a>(&'a Error);

impl Serialize for ErrorJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(2))?;
        seq.serialize_element(self.0.kind().as_str())?;
        seq.serialize_element(&ErrorData(self.0))?;
        seq.end()
    }
}

struct ErrorData<'a>(&'a Error);

impl Serialize for ErrorData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.data().len()))?;
        for (key, value) in self.0.data() {
            map.serialize_entry(key, &ValueJson(value))?;
        }
        map.end()
    }
}

struct Remarks<'a>(&'a [Remark]);

impl Serialize for Remarks<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for remark in self.0 {
            seq.serialize_element(&RemarkJson(remark))?;
        }
        seq.end()
    }
}

/// `[rule_id, type]` or `[rule_id, type, start, end]`.
struct RemarkJson<'a>(&'a Remark);

impl Serialize for RemarkJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let remark = self.0;
        let len = if remark.range.is_some() { 4 } else { 2 };
        let mut seq = serializer.serialize_seq(Some(len))?;
        seq.serialize_element(&remark.rule_id)?;
        seq.serialize_element(remark.ty.as_str())?;
        if let Some((start, end)) = remark.range {
            seq.serialize_element(&start)?;
            seq.serialize_element(&end)?;
        }
        seq.end()
    }
}

/// An untyped value, as [`crate::json::value_to_json`] writes it.
struct ValueJson<'a>(&'a Value);

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_payload(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotated::ErrorKind;
    use crate::schema::{Event, Exception, Values};
    use crate::{to_json, to_json_string, to_json_vec, to_json_writer};

    /// The reference bytes: through a `serde_json::Value`.
    fn reference<T: IntoValue>(value: &Annotated<T>) -> String {
        to_json(value)
            .map(|json| json.to_string())
            .unwrap_or_else(|error| error.to_string())
    }

    fn assert_same<T: IntoValue>(value: &Annotated<T>) -> String {
        let text = to_json_string(value).unwrap_or_else(|error| error.to_string());
        assert_eq!(text, reference(value));
        let mut written = Vec::new();
        assert!(to_json_writer(&mut written, value).is_ok());
        assert_eq!(Some(written), to_json_vec(value).ok());
        text
    }

    fn invalid() -> Meta {
        Meta::from_error(ErrorKind::InvalidData)
    }

    #[test]
    fn other_keys_named_like_fields_are_written_once() {
        let mut event = Event {
            culprit: Annotated::new("field".to_owned()),
            ..Event::default()
        };
        event
            .other
            .insert("culprit".into(), Annotated::new(Value::from("other")));
        event
            .other
            .insert("logger".into(), Annotated::new(Value::from("other")));
        event.other.insert("platform".into(), Annotated::empty());
        event.other.insert("zzz".into(), Annotated(None, invalid()));
        let text = assert_same(&Annotated::new(event));
        assert_eq!(text.matches("culprit").count(), 1, "{text}");
        assert!(text.contains(r#""culprit":"other""#), "{text}");

        // `values` of a `Values` wrapper.
        let mut values = Values::new(vec![Annotated::new(Exception::default())]);
        values.other.insert("values".into(), Annotated::empty());
        values.other.insert("x".into(), Annotated::empty());
        let text = assert_same(&Annotated::new(values));
        assert_eq!(text, r#"{"values":null,"x":null}"#);
    }

    #[test]
    fn meta_goes_last_and_only_into_object_roots() {
        let empty_with_meta: Annotated<Event> = Annotated(Some(Event::default()), invalid());
        assert_eq!(
            assert_same(&empty_with_meta),
            r#"{"_meta":{"":{"err":["invalid_data"]}}}"#
        );
        // A non-object root keeps its meta out of the document.
        let string: Annotated<String> = Annotated(Some("x".into()), invalid());
        assert_eq!(assert_same(&string), r#""x""#);
        let null: Annotated<Event> = Annotated(None, invalid());
        assert_eq!(assert_same(&null), "null");
        let array = Annotated::new(vec![Annotated(None, invalid())]);
        assert_eq!(assert_same::<Vec<Annotated<Value>>>(&array), "[null]");
    }

    #[test]
    fn a_meta_key_in_the_payload_is_replaced_like_the_reference() {
        let mut object = Object::new();
        object.insert("_meta".into(), Annotated::new(Value::from("payload")));
        object.insert("a".into(), Annotated(None, invalid()));
        object.insert("b".into(), Annotated::new(Value::from("\"_meta\"")));
        let text = assert_same(&Annotated::new(Value::Object(object)));
        assert_eq!(text.matches("_meta").count(), 2, "{text}");
    }

    #[test]
    fn numbers_strings_and_meta_values_are_written_like_the_reference() {
        let mut meta = Meta::from_error(
            Error::invalid("r")
                .with("nan", Value::F64(f64::NAN))
                .with("big", Value::U64(u64::MAX)),
        );
        meta.add_remark(Remark::with_range(
            crate::RemarkType::Masked,
            "@ip",
            (1, usize::MAX),
        ));
        meta.set_original_length(7);
        meta.set_original_value(Some(Value::Array(vec![
            Annotated::new(Value::F64(f64::INFINITY)),
            Annotated::new(Value::F64(1e21)),
            Annotated::new(Value::F64(-0.0)),
            Annotated::new(Value::String("\u{0}\u{1f}\"\\\u{7f}é\u{2028}".into())),
        ])));
        let mut extra = Object::new();
        extra.insert("k\n\"".into(), Annotated(Some(Value::F64(f64::NAN)), meta));
        extra.insert("i".into(), Annotated::new(Value::I64(i64::MIN)));
        let event = Event {
            extra: Annotated::new(extra),
            ..Event::default()
        };
        assert_same(&Annotated::new(event));
    }
}
