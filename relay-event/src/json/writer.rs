//! [`JsonWriter`]: a `serde` serializer that appends compact JSON to a `Vec<u8>`, byte for
//! byte what `serde_json::to_writer` writes, with a faster string escaper.
//!
//! Why: the event writer ([`super::ser`]) spends more than half of its time in
//! `serde_json`'s string escaping, which inspects one byte at a time and cannot be replaced
//! through its `Formatter`. Event text is mostly strings without anything to escape, so here
//! strings are scanned eight bytes at a time and copied in one piece up to the next byte that
//! needs escaping.
//!
//! What stays `serde_json`'s: every number is written by its [`CompactFormatter`] and every
//! escape sequence by [`Formatter::write_char_escape`], so the formatting rules live in one
//! place. The serde data model is mapped like `serde_json::Serializer` maps it (`None` and
//! units are `null`, bytes an array of numbers, enum variants `"variant"` or
//! `{"variant": …}`, non-finite floats `null`). Map keys other than strings (never written
//! by the event model) are handed to `serde_json` whole, so they keep its rules too.

use serde::ser::{self, Impossible, Serialize};
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// The error of [`JsonWriter`]: the same type as `serde_json`'s.
type Error = serde_json::Error;

/// Appends compact JSON to `out` (see the module docs).
pub(crate) struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> JsonWriter<'a> {
    /// A writer appending to `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        JsonWriter { out }
    }
}

/// Writes `value` as compact JSON to the end of `out`.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(JsonWriter::new(out))
}

/// `serde_json`'s formatter calls on a `Vec<u8>` cannot fail; its `io::Error` is still
/// mapped, so that no error is ever dropped.
fn io(result: std::io::Result<()>) -> Result<(), Error> {
    result.map_err(Error::io)
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit of each byte) the bytes of `word` that might need escaping: control
/// characters below 0x20, `"` and `\`. The lowest flagged byte always needs escaping (a
/// false flag is only possible above a byte that needs escaping, where the bit tricks
/// borrow), and no byte that needs escaping is missed.
fn escape_mask(word: u64) -> u64 {
    let below_space = word.wrapping_sub(LOW_BITS * 0x20) & !word;
    let quote = word ^ (LOW_BITS * u64::from(b'"'));
    let quote = quote.wrapping_sub(LOW_BITS) & !quote;
    let backslash = word ^ (LOW_BITS * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(LOW_BITS) & !backslash;
    (below_space | quote | backslash) & HIGH_BITS
}

fn byte_needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The index of the first byte at or after `start` that needs escaping: eight bytes at a
/// time, the last (partial) word as the eight bytes ending the string.
fn next_escape(bytes: &[u8], start: usize) -> Option<usize> {
    let mut position = start;
    while let Some(word) = bytes.get(position..).and_then(<[u8]>::first_chunk::<8>) {
        let mask = escape_mask(u64::from_le_bytes(*word));
        if mask != 0 {
            // Little endian: the lowest flagged byte comes first in the text.
            return Some(position + (mask.trailing_zeros() / 8) as usize);
        }
        position += 8;
    }
    let rest = bytes.get(position..).filter(|rest| !rest.is_empty())?;
    if let Some(last_word) = bytes.last_chunk::<8>() {
        // Overlaps bytes already known not to need escaping; those before `position` are
        // masked off. A flag can then be false (a borrow from an escape before `start`), so
        // a flagged word is checked byte by byte.
        let already_checked = 8 - rest.len();
        let mask = escape_mask(u64::from_le_bytes(*last_word)) >> (already_checked * 8);
        if mask == 0 {
            return None;
        }
    }
    rest.iter()
        .position(|&byte| byte_needs_escape(byte))
        .map(|offset| position + offset)
}

/// The escape `serde_json` writes for `byte` (one that [`byte_needs_escape`]).
fn char_escape(byte: u8) -> CharEscape {
    match byte {
        b'"' => CharEscape::Quote,
        b'\\' => CharEscape::ReverseSolidus,
        0x08 => CharEscape::Backspace,
        0x0c => CharEscape::FormFeed,
        b'\n' => CharEscape::LineFeed,
        b'\r' => CharEscape::CarriageReturn,
        b'\t' => CharEscape::Tab,
        other => CharEscape::AsciiControl(other),
    }
}

/// Whether any byte of `bytes` might need escaping; `false` is exact. Reads the text as
/// (possibly overlapping) eight- or four-byte words: no loop over single bytes for the short
/// keys and values that make up most of an event.
fn may_need_escape(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut mask = 0;
    for word in &mut words {
        let mut buffer = [0u8; 8];
        buffer.copy_from_slice(word);
        mask |= escape_mask(u64::from_le_bytes(buffer));
    }
    if words.remainder().is_empty() {
        return mask != 0;
    }
    // The rest as a word that overlaps bytes checked already (flagging those again is fine:
    // a flag only sends the text through the exact scan).
    let tail = if let Some(last) = bytes.last_chunk::<8>() {
        u64::from_le_bytes(*last)
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*first)) | (u64::from(u32::from_le_bytes(*last)) << 32)
    } else {
        return mask != 0 || bytes.iter().any(|&byte| byte_needs_escape(byte));
    };
    mask | escape_mask(tail) != 0
}

/// Writes `value` as a JSON string, quotes included.
fn write_str(out: &mut Vec<u8>, value: &str) -> Result<(), Error> {
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if may_need_escape(bytes) {
        write_escaped(out, bytes)?;
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'"');
    Ok(())
}

/// The contents of a string with escapes, between the quotes.
#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error> {
    let mut start = 0;
    while let Some(position) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..position]);
        io(CompactFormatter.write_char_escape(out, char_escape(bytes[position])))?;
        start = position + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    Ok(())
}

impl<'a> ser::Serializer for JsonWriter<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        io(CompactFormatter.write_bool(self.out, v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        io(CompactFormatter.write_i8(self.out, v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        io(CompactFormatter.write_i16(self.out, v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        io(CompactFormatter.write_i32(self.out, v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        io(CompactFormatter.write_i64(self.out, v))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        io(CompactFormatter.write_i128(self.out, v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        io(CompactFormatter.write_u8(self.out, v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        io(CompactFormatter.write_u16(self.out, v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        io(CompactFormatter.write_u32(self.out, v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        io(CompactFormatter.write_u64(self.out, v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        io(CompactFormatter.write_u128(self.out, v))
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        io(CompactFormatter.write_f32(self.out, v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        io(CompactFormatter.write_f64(self.out, v))
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for byte in v {
            seq.serialize_element(byte)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        io(CompactFormatter.write_null(self.out))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant)?;
        self.out.push(b':');
        value.serialize(JsonWriter::new(self.out))?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.out.push(b'[');
        Ok(Compound::new(self.out, b']', false))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant)?;
        self.out.extend_from_slice(b":[");
        Ok(Compound::new(self.out, b']', true))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.out.push(b'{');
        Ok(Compound::new(self.out, b'}', false))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant)?;
        self.out.extend_from_slice(b":{");
        Ok(Compound::new(self.out, b'}', true))
    }
}

/// An array or object being written.
pub(crate) struct Compound<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    /// `]` or `}`.
    close: u8,
    /// Also close the `{"variant": …}` object around it.
    close_variant: bool,
}

impl<'a> Compound<'a> {
    fn new(out: &'a mut Vec<u8>, close: u8, close_variant: bool) -> Self {
        Compound {
            out,
            first: true,
            close,
            close_variant,
        }
    }

    /// Writes the separator before the next element or key.
    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(JsonWriter::new(self.out))
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        key.serialize(KeyWriter { out: self.out })
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.out.push(b':');
        value.serialize(JsonWriter::new(self.out))
    }

    fn finish(self) -> Result<(), Error> {
        self.out.push(self.close);
        if self.close_variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Writes an object key: strings here, anything else the way `serde_json` writes it as a key
/// (or refuses it).
struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl KeyWriter<'_> {
    /// `serde_json`'s rendering of `key` as an object key: written as the only key of an
    /// object, without the braces and the value.
    fn delegate<T: Serialize + ?Sized>(self, key: &T) -> Result<(), Error> {
        use ser::{SerializeMap, Serializer};
        let mut object = Vec::new();
        let mut serializer = serde_json::Serializer::new(&mut object);
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_key(key)?;
        map.serialize_value(&())?;
        map.end()?;
        // `{<key>:null}`
        let key_text = object
            .get(1..object.len().saturating_sub(6))
            .unwrap_or_default();
        self.out.extend_from_slice(key_text);
        Ok(())
    }
}

/// Bytes handed to `serde_json` as bytes (for [`KeyWriter::delegate`]).
struct BytesKey<'a>(&'a [u8]);

impl Serialize for BytesKey<'_> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// `serde_json`'s error for keys it cannot write.
fn key_must_be_a_string() -> Error {
    ser::Error::custom("key must be a string")
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v)
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.delegate(&v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.delegate(&BytesKey(v))
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.delegate(&None::<()>)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.delegate(&Some(value))
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.delegate(&())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.delegate(&())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_str(self.out, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    /// Our bytes equal `serde_json`'s for `value`.
    fn assert_same<T: Serialize + ?Sized>(value: &T) {
        let mut ours = Vec::new();
        let ours = write_json(&mut ours, value).map(|()| ours);
        let reference = serde_json::to_vec(value);
        match (ours, reference) {
            (Ok(ours), Ok(reference)) => assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&reference)
            ),
            (Err(ours), Err(reference)) => assert_eq!(ours.to_string(), reference.to_string()),
            (ours, reference) => panic!("ours {ours:?}, serde_json {reference:?}"),
        }
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let mut every_ascii = String::new();
        for byte in 0u8..=0x7f {
            every_ascii.push(char::from(byte));
        }
        assert_same(&every_ascii);
        for text in [
            "",
            "plain",
            "exactly8",
            "sixteen bytes ok",
            "\"",
            "a\\b",
            "tab\there and a longer tail without escapes",
            "é\u{2028}😀 \u{7f}\u{1f}",
            "seven\n",
            "1234567\"",
            "12345678\\",
            "x\u{0}y\u{0}z",
        ] {
            assert_same(text);
            // At every offset relative to the eight-byte words.
            for prefix in 1..9 {
                assert_same(&format!("{}{text}", "p".repeat(prefix)));
            }
        }
        assert_same(&'\n');
        assert_same(&'é');
    }

    #[test]
    fn the_lowest_flag_is_exact_and_no_escape_is_missed() {
        let samples = [
            b'a', b' ', b'!', b'"', b'#', b'\\', b']', 0, 0x1f, 0x7f, 0x80, 0xff,
        ];
        for byte in 0u8..=255 {
            for other in samples {
                for position in 0..8 {
                    for other_position in 0..8 {
                        let mut word = [other; 8];
                        word[position] = byte;
                        word[other_position] = other;
                        let mask = escape_mask(u64::from_le_bytes(word));
                        let first = word.iter().position(|&b| byte_needs_escape(b));
                        let flagged = (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
                        assert_eq!(flagged, first, "{word:?}");
                    }
                }
            }
        }
    }

    #[derive(Serialize)]
    enum Shapes {
        Unit,
        Newtype(u8),
        Tuple(u8, &'static str),
        Struct { a: Option<f32>, b: () },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    struct Newtype(&'static str);

    #[derive(Serialize)]
    struct Everything {
        numbers: (i8, i16, i32, i64, i128, u8, u16, u32, u64, u128),
        floats: Vec<f64>,
        small_floats: Vec<f32>,
        bools: [bool; 2],
        #[serde(with = "serde_bytes_as_slice")]
        bytes: Vec<u8>,
        none: Option<u8>,
        some: Option<&'static str>,
        unit: (),
        unit_struct: Unit,
        newtype: Newtype,
        shapes: Vec<Shapes>,
        empty_map: BTreeMap<String, u8>,
        empty_seq: Vec<u8>,
    }

    /// Serializes a byte vector with `serialize_bytes`.
    mod serde_bytes_as_slice {
        pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(bytes)
        }
    }

    #[test]
    fn the_data_model_maps_like_serde_json() {
        assert_same(&Everything {
            numbers: (
                i8::MIN,
                -3,
                i32::MAX,
                i64::MIN,
                i128::MIN,
                u8::MAX,
                7,
                0,
                u64::MAX,
                u128::MAX,
            ),
            floats: vec![
                0.0,
                -0.0,
                1.5,
                1e21,
                1704067140.0,
                f64::NAN,
                f64::INFINITY,
                f64::MIN_POSITIVE,
            ],
            small_floats: vec![0.1, f32::NEG_INFINITY],
            bools: [true, false],
            bytes: vec![0, 255],
            none: None,
            some: Some("s"),
            unit: (),
            unit_struct: Unit,
            newtype: Newtype("n"),
            shapes: vec![
                Shapes::Unit,
                Shapes::Newtype(1),
                Shapes::Tuple(2, "t"),
                Shapes::Struct {
                    a: Some(0.5),
                    b: (),
                },
                Shapes::Struct { a: None, b: () },
            ],
            empty_map: BTreeMap::new(),
            empty_seq: Vec::new(),
        });
    }

    #[test]
    fn keys_that_are_not_strings_follow_serde_json() {
        assert_same(&BTreeMap::from([(1u8, "a"), (2, "b")]));
        assert_same(&BTreeMap::from([(-1i64, 0)]));
        assert_same(&BTreeMap::from([(true, 0)]));
        assert_same(&BTreeMap::from([('k', 0)]));
        assert_same(&BTreeMap::from([("k\"\n", 0)]));
        assert_same(&BTreeMap::from([(Newtype("n"), 0)]));
        assert_same(&BTreeMap::from([(vec![1u8], 0)]));
        assert_same(&BTreeMap::from([(Some(1u8), 0)]));
    }
}
