//! The identifiers of debug images: [`DebugId`], [`CodeId`] and [`DebugUuid`], parsed
//! leniently and written in their canonical form.
//!
//! What Sentry's normalizer (`StoreNormalizer` of `sentry-relay` 0.10.1, observed as a black
//! box) does with them, and so what these types do:
//!
//! * `debug_id` (native, `sourcemap` and `jvm` images): a debug identifier as the `debugid`
//!   crate parses it (a UUID in simple or hyphenated form with an optional hex appendix, or a
//!   PDB 2.0 signature and age), written as its `Display` form
//!   (`ABCDEF0123456789ABCDEF0123456789` → `abcdef01-2345-6789-abcd-ef0123456789`). An
//!   unparseable string is `invalid debug identifier`, any other value `expected a debug
//!   identifier`.
//! * `code_id` (native images): lower-cased with every character that is not a hex digit
//!   removed (`"ABCD-EF"` → `"abcdef"`, `"zz"` → `""`); any other value than a string is
//!   `expected a code identifier`.
//! * `uuid` (`apple` and `proguard` images): any UUID text form, written hyphenated in lower
//!   case; an unparseable string is `invalid_data` with the UUID parser's message, any other
//!   value `expected a uuid`.
//!
//! The original value is kept with every error.

use std::str::FromStr;

use uuid::Uuid;

use crate::{invalid_type, Annotated, Error, FromValue, IntoValue, ProcessValue, Value};

/// The identifier of a debug companion file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DebugId(pub debugid::DebugId);

/// The identifier of an executable or library: lower-case hex digits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CodeId(String);

/// The UUID of a legacy `apple` image or a ProGuard mapping file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DebugUuid(pub Uuid);

impl CodeId {
    /// The canonical form of `text`: its hex digits, lower-cased.
    pub fn new(text: &str) -> Self {
        CodeId(
            text.chars()
                .filter(char::is_ascii_hexdigit)
                .map(|c| c.to_ascii_lowercase())
                .collect(),
        )
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<DebugUuid> for DebugId {
    fn from(uuid: DebugUuid) -> Self {
        DebugId(debugid::DebugId::from_uuid(uuid.0))
    }
}

impl FromValue for DebugId {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(text)), mut meta) => {
                match debugid::DebugId::from_str(&text) {
                    Ok(id) => Annotated(Some(DebugId(id)), meta),
                    Err(_) => {
                        meta.add_error(Error::invalid("invalid debug identifier"));
                        meta.set_original_value(Some(Value::String(text)));
                        Annotated(None, meta)
                    }
                }
            }
            Annotated(Some(other), meta) => invalid_type(other, meta, "a debug identifier"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl FromValue for CodeId {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(text)), meta) => Annotated(Some(CodeId::new(&text)), meta),
            Annotated(Some(other), meta) => invalid_type(other, meta, "a code identifier"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl FromValue for DebugUuid {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(text)), mut meta) => match Uuid::parse_str(&text) {
                Ok(uuid) => Annotated(Some(DebugUuid(uuid)), meta),
                Err(error) => {
                    meta.add_error(Error::invalid(error.to_string()));
                    meta.set_original_value(Some(Value::String(text)));
                    Annotated(None, meta)
                }
            },
            Annotated(Some(other), meta) => invalid_type(other, meta, "a uuid"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

/// Implements [`IntoValue`] as the text of `Display` and a leaf [`ProcessValue`].
macro_rules! text_leaf {
    ($ty:ty, |$value:ident| $text:expr) => {
        impl IntoValue for $ty {
            // A leaf: no children, so no child meta (and no map built to find out).
            fn has_child_meta(&self) -> bool {
                false
            }

            fn into_value(self) -> Value {
                let $value = &self;
                Value::String($text.to_string())
            }

            fn serialize_payload<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                let $value = self;
                serializer.collect_str(&$text)
            }
        }

        impl ProcessValue for $ty {}
    };
}

text_leaf!(DebugId, |id| id.0);
text_leaf!(CodeId, |id| id.0);
text_leaf!(DebugUuid, |uuid| uuid.0.hyphenated());

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    use crate::testutils::{reason_of, written};

    #[test]
    fn debug_ids_are_written_in_canonical_form() {
        let hyphenated = "abcdef01-2345-6789-abcd-ef0123456789";
        for (input, output) in [
            ("ABCDEF0123456789ABCDEF0123456789", hyphenated),
            (hyphenated, hyphenated),
            (
                "abcdef0123456789abcdef0123456789a",
                "abcdef01-2345-6789-abcd-ef0123456789-a",
            ),
            (
                "ABCDEF01-2345-6789-ABCD-EF0123456789-1f",
                "abcdef01-2345-6789-abcd-ef0123456789-1f",
            ),
            ("abcdef012345678", "ABCDEF01-2345678"),
        ] {
            assert_eq!(written::<DebugId>(json!(input)), json!(output), "{input}");
        }
    }

    #[test]
    fn invalid_debug_ids() {
        for input in [
            "{abcdef01-2345-6789-abcd-ef0123456789}",
            "ABCDEF0123456789ABCDEF0123456789-a",
            "zz",
            "",
        ] {
            assert_eq!(
                reason_of::<DebugId>(json!(input)),
                Some(Value::from("invalid debug identifier")),
                "{input}"
            );
        }
        assert_eq!(
            reason_of::<DebugId>(json!(42)),
            Some(Value::from("expected a debug identifier"))
        );
    }

    #[test]
    fn code_ids_keep_their_hex_digits_in_lower_case() {
        for (input, output) in [
            ("ABCDEF0123", "abcdef0123"),
            ("ABCD-EF", "abcdef"),
            ("0xAB", "0ab"),
            (" ab cd ", "abcd"),
            ("zz", ""),
        ] {
            assert_eq!(written::<CodeId>(json!(input)), json!(output), "{input}");
        }
        assert_eq!(
            reason_of::<CodeId>(json!(["x"])),
            Some(Value::from("expected a code identifier"))
        );
    }

    #[test]
    fn uuids_are_written_hyphenated() {
        let hyphenated = "abcdef01-2345-6789-abcd-ef0123456789";
        for input in [
            "ABCDEF0123456789ABCDEF0123456789",
            "{ABCDEF01-2345-6789-ABCD-EF0123456789}",
            "urn:uuid:ABCDEF01-2345-6789-ABCD-EF0123456789",
        ] {
            assert_eq!(
                written::<DebugUuid>(json!(input)),
                json!(hyphenated),
                "{input}"
            );
        }
        assert_eq!(
            reason_of::<DebugUuid>(json!("zz")),
            Some(Value::from("invalid character: found `z` at 0"))
        );
        assert_eq!(
            reason_of::<DebugUuid>(json!(42)),
            Some(Value::from("expected a uuid"))
        );
    }
}
