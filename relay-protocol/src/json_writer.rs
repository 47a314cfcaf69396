//! Minimal compact JSON writer used by the hand-written serializers.
//!
//! Writing directly into the output buffer avoids building intermediate `serde_json::Value`s
//! and lets the serializers control key order exactly. Output is always valid single-line JSON:
//! strings are escaped like `serde_json` does (control characters, `"` and `\`), so a header
//! line never contains a raw line feed.

use serde_json::Value;

/// Escapes and writes `text` as a JSON string literal.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut unescaped_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[unescaped_start..index]);
        unescaped_start = index + 1;
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_DIGITS[usize::from(byte >> 4)]);
            out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&bytes[unescaped_start..]);
    out.push(b'"');
}

/// Writes a decimal unsigned integer without allocating.
pub(crate) fn write_unsigned(out: &mut Vec<u8>, mut value: u64) {
    const MAX_U64_DIGITS: usize = 20;
    let mut digits = [0u8; MAX_U64_DIGITS];
    let mut start = MAX_U64_DIGITS;
    loop {
        start -= 1;
        // `value % 10` is below 10, so the cast cannot truncate.
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Writes any JSON value compactly.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    // Serializing a `Value` into a `Vec` cannot fail (no I/O, map keys are always strings);
    // should it ever, `null` keeps the output well-formed.
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

/// Writes the members of one JSON object, inserting commas as needed.
pub(crate) struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    has_members: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Writes `{`.
    pub(crate) fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter {
            out,
            has_members: false,
        }
    }

    /// Writes the key of the next member and returns the buffer for its value. `key` must be a
    /// plain identifier (no characters that need escaping).
    pub(crate) fn plain_key(&mut self, key: &str) -> &mut Vec<u8> {
        self.separator();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// Writes an arbitrary (escaped) key and returns the buffer for its value.
    pub(crate) fn escaped_key(&mut self, key: &str) -> &mut Vec<u8> {
        self.separator();
        write_string(self.out, key);
        self.out.push(b':');
        self.out
    }

    /// Writes a string member.
    pub(crate) fn string(&mut self, key: &str, value: &str) {
        let out = self.plain_key(key);
        write_string(out, value);
    }

    /// Writes a raw JSON value member.
    pub(crate) fn value(&mut self, key: &str, value: &Value) {
        let out = self.plain_key(key);
        write_value(out, value);
    }

    /// Writes a member whose value is pre-rendered JSON text (numbers, booleans, `null`).
    pub(crate) fn raw(&mut self, key: &str, json: &str) {
        let out = self.plain_key(key);
        out.extend_from_slice(json.as_bytes());
    }

    /// Writes an unsigned integer member.
    pub(crate) fn unsigned(&mut self, key: &str, value: u64) {
        let out = self.plain_key(key);
        write_unsigned(out, value);
    }

    fn separator(&mut self) {
        if self.has_members {
            self.out.push(b',');
        }
        self.has_members = true;
    }

    /// Writes `}`.
    pub(crate) fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for text in [
            "plain",
            "quote\"back\\slash",
            "line\nfeed\r\t\u{1}\u{1f}\u{7f}",
            "ümlaut ☃",
            "",
        ] {
            let mut out = Vec::new();
            write_string(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn unsigned_integers() {
        for value in [0, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            write_unsigned(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
        }
    }

    #[test]
    fn objects_get_commas() {
        let mut out = Vec::new();
        let mut object = ObjectWriter::begin(&mut out);
        object.string("a", "x");
        object.unsigned("b", 5);
        object.raw("c", "true");
        write_value(object.escaped_key("d\"e"), &serde_json::json!([1, null]));
        object.end();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x","b":5,"c":true,"d\"e":[1,null]}"#
        );
    }
}
