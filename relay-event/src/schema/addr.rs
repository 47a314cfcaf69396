//! [`Addr`] and [`RegVal`]: memory addresses and register values of native stack traces,
//! parsed leniently and written as `0x` + lower-case hex without leading zeros.
//!
//! Sentry's normalizer (the `StoreNormalizer` of `sentry-relay` 0.10.1, observed as a black
//! box) accepts for these fields:
//!
//! * a string starting with `0x` or `0X`: the rest in hex (`"0x00064f9e8"` → `"0x64f9e8"`,
//!   `"0X1F"` → `"0x1f"`, `"0x+5"` → `"0x5"`);
//! * any other string: decimal (`"123"` → `"0x7b"`, `"+5"` → `"0x5"`);
//! * an integer: its 64-bit two's complement (`255` → `"0xff"`, `-1` →
//!   `"0xffffffffffffffff"`).
//!
//! An unparseable string is `invalid_data` with the reason of Rust's integer parser
//! (`cannot parse integer from empty string`, `invalid digit found in string`, `number too
//! large to fit in target type`); any other value is `expected address` (for register values
//! `expected register value`). The original value is kept either way.

use std::num::ParseIntError;

use crate::{invalid_type, Annotated, Error, FromValue, IntoValue, ProcessValue, Value};

/// Parses the text form of an address: hex after a `0x`/`0X` prefix, decimal otherwise.
fn parse_address_text(text: &str) -> Result<u64, ParseIntError> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex_digits) => u64::from_str_radix(hex_digits, 16),
        None => text.parse(),
    }
}

/// Parses an address-like value; `expectation` names the type in the error of a value that is
/// neither a string nor an integer.
fn address_from_value(value: Annotated<Value>, expectation: &str) -> Annotated<u64> {
    match value {
        Annotated(Some(Value::String(text)), mut meta) => match parse_address_text(&text) {
            Ok(address) => Annotated(Some(address), meta),
            Err(error) => {
                meta.add_error(Error::invalid(error.to_string()));
                meta.set_original_value(Some(Value::String(text)));
                Annotated(None, meta)
            }
        },
        Annotated(Some(Value::U64(address)), meta) => Annotated(Some(address), meta),
        // Negative integers are taken as their two's complement, as Sentry does.
        Annotated(Some(Value::I64(address)), meta) => Annotated(Some(address as u64), meta),
        Annotated(Some(other), meta) => invalid_type(other, meta, expectation),
        Annotated(None, meta) => Annotated(None, meta),
    }
}

/// The output form of an address: `0x` + lower-case hex without leading zeros.
fn format_address(address: u64) -> String {
    format!("{address:#x}")
}

macro_rules! address_type {
    ($(#[$doc:meta])* $name:ident, $expectation:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl FromValue for $name {
            fn from_value(value: Annotated<Value>) -> Annotated<Self> {
                address_from_value(value, $expectation).map_value($name)
            }
        }

        impl IntoValue for $name {
            // A leaf: no children, so no child meta (and no map built to find out).
            fn has_child_meta(&self) -> bool {
                false
            }

            fn into_value(self) -> Value {
                Value::String(format_address(self.0))
            }

            fn serialize_payload<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&format_address(self.0))
            }
        }

        impl ProcessValue for $name {}

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&format_address(self.0))
            }
        }
    };
}

address_type!(
    /// A memory address (frame `instruction_addr`, `symbol_addr`, `image_addr`,
    /// `function_id`; debug image `image_addr`, `image_vmaddr`).
    Addr,
    "address"
);

address_type!(
    /// The value of a CPU register (stack trace `registers`).
    RegVal,
    "register value"
);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    use crate::testutils::reason_of;

    fn written(json: serde_json::Value) -> serde_json::Value {
        crate::testutils::written::<Addr>(json)
    }

    #[test]
    fn addresses_are_written_as_short_lower_case_hex() {
        for (input, output) in [
            (json!("0x00064f9e8"), "0x64f9e8"),
            (json!("0X1F"), "0x1f"),
            (json!("0xABC"), "0xabc"),
            (json!("0x000"), "0x0"),
            (json!("0x+5"), "0x5"),
            (json!("123"), "0x7b"),
            (json!("00012"), "0xc"),
            (json!("+5"), "0x5"),
            (json!(255), "0xff"),
            (json!(-1), "0xffffffffffffffff"),
            (json!(u64::MAX), "0xffffffffffffffff"),
        ] {
            assert_eq!(written(input.clone()), json!(output), "{input}");
        }
    }

    #[test]
    fn invalid_addresses_keep_the_original_with_the_parser_reason() {
        for (input, reason) in [
            (json!(""), "cannot parse integer from empty string"),
            (json!("0x"), "cannot parse integer from empty string"),
            (json!("ff"), "invalid digit found in string"),
            (json!(" 0x10"), "invalid digit found in string"),
            (json!("-1"), "invalid digit found in string"),
            (json!("0x-5"), "invalid digit found in string"),
            (json!("1e3"), "invalid digit found in string"),
            (
                json!("0xffffffffffffffffff"),
                "number too large to fit in target type",
            ),
            (json!(1.5), "expected address"),
            (json!(true), "expected address"),
        ] {
            assert_eq!(
                reason_of::<Addr>(input.clone()),
                Some(Value::from(reason)),
                "{input}"
            );
        }
        assert_eq!(
            reason_of::<RegVal>(json!(2.0)),
            Some(Value::from("expected register value"))
        );
    }
}
