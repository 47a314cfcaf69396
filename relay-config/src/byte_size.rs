//! Byte sizes as written in `config.yml` (`config.md` §1.1).
//!
//! Grammar: an integer (bytes), a string of plain digits (bytes), or `<number>[ ]<unit>` where
//! the number may have a fraction and the unit is a decimal (`kB`, `MB`, …, powers of 1000) or
//! binary (`KiB`, `MiB`, …, powers of 1024) unit, matched ASCII case-insensitively — except
//! that the exact spelling `KB` means 1024. Integers and digit-only strings must fit into 32
//! bits.
//!
//! Invariants: a [`ByteSize`] remembers the unit it was written in so that `config show` writes
//! it back the same way; equality, ordering and hashing look only at the number of bytes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Largest byte count accepted from an integer or a digit-only string.
pub const MAX_PLAIN_BYTE_COUNT: u64 = u32::MAX as u64;

/// 2^64 as a float: the first value that no longer fits into a `u64`.
const U64_LIMIT_AS_FLOAT: f64 = 18_446_744_073_709_551_616.0;

/// A unit a byte size can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteUnit {
    /// `B`
    Bytes,
    /// `kB` (any spelling other than `KB`): 1000 bytes.
    Kilobytes,
    /// The exact spelling `KB`: 1024 bytes.
    KilobytesLegacy,
    /// `MB`: 10^6 bytes.
    Megabytes,
    /// `GB`: 10^9 bytes.
    Gigabytes,
    /// `TB`: 10^12 bytes.
    Terabytes,
    /// `PB`: 10^15 bytes.
    Petabytes,
    /// `EB`: 10^18 bytes.
    Exabytes,
    /// `ZB`: 10^21 bytes.
    Zettabytes,
    /// `YB`: 10^24 bytes.
    Yottabytes,
    /// `KiB`: 2^10 bytes.
    Kibibytes,
    /// `MiB`: 2^20 bytes.
    Mebibytes,
    /// `GiB`: 2^30 bytes.
    Gibibytes,
    /// `TiB`: 2^40 bytes.
    Tebibytes,
    /// `PiB`: 2^50 bytes.
    Pebibytes,
    /// `EiB`: 2^60 bytes.
    Exbibytes,
    /// `ZiB`: 2^70 bytes.
    Zebibytes,
    /// `YiB`: 2^80 bytes.
    Yobibytes,
}

/// Binary units from the largest to the smallest, used to infer a readable unit.
const BINARY_UNITS_DESCENDING: [ByteUnit; 8] = [
    ByteUnit::Yobibytes,
    ByteUnit::Zebibytes,
    ByteUnit::Exbibytes,
    ByteUnit::Pebibytes,
    ByteUnit::Tebibytes,
    ByteUnit::Gibibytes,
    ByteUnit::Mebibytes,
    ByteUnit::Kibibytes,
];

impl ByteUnit {
    /// Number of bytes in one unit. Units above 2^64 need 128 bits.
    pub const fn factor(self) -> u128 {
        const DECIMAL: u128 = 1000;
        const BINARY: u128 = 1024;
        match self {
            ByteUnit::Bytes => 1,
            ByteUnit::Kilobytes => DECIMAL,
            ByteUnit::KilobytesLegacy => BINARY,
            ByteUnit::Megabytes => DECIMAL.pow(2),
            ByteUnit::Gigabytes => DECIMAL.pow(3),
            ByteUnit::Terabytes => DECIMAL.pow(4),
            ByteUnit::Petabytes => DECIMAL.pow(5),
            ByteUnit::Exabytes => DECIMAL.pow(6),
            ByteUnit::Zettabytes => DECIMAL.pow(7),
            ByteUnit::Yottabytes => DECIMAL.pow(8),
            ByteUnit::Kibibytes => BINARY,
            ByteUnit::Mebibytes => BINARY.pow(2),
            ByteUnit::Gibibytes => BINARY.pow(3),
            ByteUnit::Tebibytes => BINARY.pow(4),
            ByteUnit::Pebibytes => BINARY.pow(5),
            ByteUnit::Exbibytes => BINARY.pow(6),
            ByteUnit::Zebibytes => BINARY.pow(7),
            ByteUnit::Yobibytes => BINARY.pow(8),
        }
    }

    /// The canonical spelling written by `Display`.
    pub fn symbol(self) -> &'static str {
        match self {
            ByteUnit::Bytes => "B",
            ByteUnit::Kilobytes => "kB",
            ByteUnit::KilobytesLegacy => "KB",
            ByteUnit::Megabytes => "MB",
            ByteUnit::Gigabytes => "GB",
            ByteUnit::Terabytes => "TB",
            ByteUnit::Petabytes => "PB",
            ByteUnit::Exabytes => "EB",
            ByteUnit::Zettabytes => "ZB",
            ByteUnit::Yottabytes => "YB",
            ByteUnit::Kibibytes => "KiB",
            ByteUnit::Mebibytes => "MiB",
            ByteUnit::Gibibytes => "GiB",
            ByteUnit::Tebibytes => "TiB",
            ByteUnit::Pebibytes => "PiB",
            ByteUnit::Exbibytes => "EiB",
            ByteUnit::Zebibytes => "ZiB",
            ByteUnit::Yobibytes => "YiB",
        }
    }

    /// Matches a unit spelling: exact `KB` is the 1024 exception, all else is case-insensitive.
    fn from_spelling(spelling: &str) -> Option<Self> {
        if spelling == "KB" {
            return Some(ByteUnit::KilobytesLegacy);
        }
        let unit = match spelling.to_ascii_lowercase().as_str() {
            "b" => ByteUnit::Bytes,
            "kb" => ByteUnit::Kilobytes,
            "mb" => ByteUnit::Megabytes,
            "gb" => ByteUnit::Gigabytes,
            "tb" => ByteUnit::Terabytes,
            "pb" => ByteUnit::Petabytes,
            "eb" => ByteUnit::Exabytes,
            "zb" => ByteUnit::Zettabytes,
            "yb" => ByteUnit::Yottabytes,
            "kib" => ByteUnit::Kibibytes,
            "mib" => ByteUnit::Mebibytes,
            "gib" => ByteUnit::Gibibytes,
            "tib" => ByteUnit::Tebibytes,
            "pib" => ByteUnit::Pebibytes,
            "eib" => ByteUnit::Exbibytes,
            "zib" => ByteUnit::Zebibytes,
            "yib" => ByteUnit::Yobibytes,
            _ => return None,
        };
        Some(unit)
    }
}

/// Why a byte size was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    /// An integer or digit-only string above [`MAX_PLAIN_BYTE_COUNT`].
    #[error(
        "invalid byte size {0}: plain byte counts must fit into 32 bits (at most 4294967295 \
         bytes); use a unit such as GiB for larger sizes"
    )]
    PlainCountTooLarge(String),
    /// A negative integer.
    #[error("invalid byte size {0}: must not be negative")]
    Negative(i64),
    /// Not a number followed by a unit.
    #[error(
        "invalid byte size {0:?}: expected a number of bytes or a number followed by a unit \
         such as KiB, MB or GiB"
    )]
    Malformed(String),
    /// The unit is not one of the known units.
    #[error(
        "invalid byte size {text:?}: unknown unit {unit:?} (expected one of B, kB, MB, GB, TB, \
         PB, EB, ZB, YB, KiB, MiB, GiB, TiB, PiB, EiB, ZiB, YiB)"
    )]
    UnknownUnit {
        /// The whole input.
        text: String,
        /// The unit part of the input.
        unit: String,
    },
    /// The size exceeds 2^64 - 1 bytes.
    #[error("invalid byte size {0:?}: larger than 18446744073709551615 bytes")]
    TooLarge(String),
}

/// A number of bytes together with the unit it was written in.
#[derive(Clone, Copy)]
pub struct ByteSize {
    bytes: u64,
    unit: ByteUnit,
}

impl ByteSize {
    /// A size written as plain bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        Self {
            bytes,
            unit: ByteUnit::Bytes,
        }
    }

    /// `count` KiB, displayed in the largest exact binary unit (see [`ByteSize::infer`]).
    pub const fn kibibytes(count: u64) -> Self {
        Self::infer(count.saturating_mul(1 << 10))
    }

    /// `count` MiB, displayed in the largest exact binary unit (see [`ByteSize::infer`]).
    pub const fn mebibytes(count: u64) -> Self {
        Self::infer(count.saturating_mul(1 << 20))
    }

    /// `count` GiB, displayed in the largest exact binary unit (see [`ByteSize::infer`]).
    pub const fn gibibytes(count: u64) -> Self {
        Self::infer(count.saturating_mul(1 << 30))
    }

    /// A size displayed in the largest binary unit that represents it exactly (`1MiB`,
    /// `100KiB`, `1GiB`); this is how built-in defaults are written back.
    pub const fn infer(bytes: u64) -> Self {
        let mut index = 0;
        while index < BINARY_UNITS_DESCENDING.len() {
            let unit = BINARY_UNITS_DESCENDING[index];
            if bytes != 0 && (bytes as u128) % unit.factor() == 0 {
                return Self { bytes, unit };
            }
            index += 1;
        }
        Self {
            bytes,
            unit: ByteUnit::Bytes,
        }
    }

    /// A size given as an integer (YAML number or digit-only string): at most 32 bits.
    pub fn from_plain_count(bytes: u64) -> Result<Self, ByteSizeError> {
        if bytes > MAX_PLAIN_BYTE_COUNT {
            return Err(ByteSizeError::PlainCountTooLarge(bytes.to_string()));
        }
        Ok(Self::from_bytes(bytes))
    }

    /// The number of bytes.
    pub const fn as_bytes(&self) -> u64 {
        self.bytes
    }

    /// The number of bytes as `usize`, saturating on 32-bit targets.
    pub fn as_usize(&self) -> usize {
        usize::try_from(self.bytes).unwrap_or(usize::MAX)
    }

    /// The unit the size is written in.
    pub const fn unit(&self) -> ByteUnit {
        self.unit
    }
}

impl PartialEq for ByteSize {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for ByteSize {}

impl PartialOrd for ByteSize {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByteSize {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl Hash for ByteSize {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let factor = self.unit.factor();
        let bytes = u128::from(self.bytes);
        if bytes % factor == 0 {
            write!(f, "{}{}", bytes / factor, self.unit.symbol())
        } else {
            // Only fractional inputs ("1.5MB") end up here; f64 reproduces them closely enough.
            let value = self.bytes as f64 / factor as f64;
            write!(f, "{}{}", value, self.unit.symbol())
        }
    }
}

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ByteSize({} = {} bytes)", self, self.bytes)
    }
}

/// Splits `1.5 MB` into the number text `1.5` and the unit text `MB`.
fn split_number_and_unit(text: &str) -> Option<(&str, &str)> {
    let number_end = text
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(number_end);
    let has_digit = number.bytes().any(|byte| byte.is_ascii_digit());
    let dot_count = number.bytes().filter(|byte| *byte == b'.').count();
    if !has_digit || dot_count > 1 {
        return None;
    }
    Some((number, rest.trim_start_matches([' ', '\t'])))
}

fn scale_integer(number: &str, unit: ByteUnit, text: &str) -> Result<u64, ByteSizeError> {
    let too_large = || ByteSizeError::TooLarge(text.to_owned());
    let count: u128 = number.parse().map_err(|_| too_large())?;
    let bytes = count.checked_mul(unit.factor()).ok_or_else(too_large)?;
    u64::try_from(bytes).map_err(|_| too_large())
}

fn scale_fraction(number: &str, unit: ByteUnit, text: &str) -> Result<u64, ByteSizeError> {
    let value: f64 = number
        .parse()
        .map_err(|_| ByteSizeError::Malformed(text.to_owned()))?;
    let bytes = value * unit.factor() as f64;
    if !bytes.is_finite() || bytes >= U64_LIMIT_AS_FLOAT {
        return Err(ByteSizeError::TooLarge(text.to_owned()));
    }
    // Fractions of a byte are dropped.
    Ok(bytes as u64)
}

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
            let bytes: u64 = text
                .parse()
                .map_err(|_| ByteSizeError::PlainCountTooLarge(text.to_owned()))?;
            return Self::from_plain_count(bytes);
        }

        let (number, unit_text) =
            split_number_and_unit(text).ok_or_else(|| ByteSizeError::Malformed(text.to_owned()))?;
        if unit_text.is_empty() {
            return Err(ByteSizeError::Malformed(text.to_owned()));
        }
        let unit =
            ByteUnit::from_spelling(unit_text).ok_or_else(|| ByteSizeError::UnknownUnit {
                text: text.to_owned(),
                unit: unit_text.to_owned(),
            })?;
        let bytes = if number.contains('.') {
            scale_fraction(number, unit, text)?
        } else {
            scale_integer(number, unit, text)?
        };
        Ok(Self { bytes, unit })
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct ByteSizeVisitor;

impl serde::de::Visitor<'_> for ByteSizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a byte size (a number of bytes or a string such as \"1MiB\")")
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<ByteSize, E> {
        ByteSize::from_plain_count(value).map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<ByteSize, E> {
        let bytes = u64::try_from(value).map_err(|_| E::custom(ByteSizeError::Negative(value)))?;
        self.visit_u64(bytes)
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<ByteSize, E> {
        value.parse().map_err(E::custom)
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ByteSizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    const TIB: u64 = 1024 * GIB;

    #[test]
    fn grammar_table() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1048576", 1_048_576),
            ("4294967295", 4_294_967_295),
            ("1B", 1),
            ("1b", 1),
            ("1kB", 1000),
            ("1kb", 1000),
            ("1Kb", 1000),
            ("1KB", 1024),
            ("1KiB", KIB),
            ("1kib", KIB),
            ("1MiB", MIB),
            ("1mib", MIB),
            ("20MB", 20_000_000),
            ("1mb", 1_000_000),
            ("1.5MB", 1_500_000),
            ("1.5 MB", 1_500_000),
            ("1.5\tMiB", 3 * MIB / 2),
            ("10tb", 10_000_000_000_000),
            ("1TiB", TIB),
            ("1GB", 1_000_000_000),
            ("1GiB", GIB),
            ("1PB", 1_000_000_000_000_000),
            ("1PiB", 1024 * TIB),
            ("1EB", 1_000_000_000_000_000_000),
            ("1EiB", 1024 * 1024 * TIB),
            ("8589934592B", 8_589_934_592),
            ("0.5KiB", 512),
            ("0.1B", 0),
        ];
        for (text, bytes) in cases {
            let size: ByteSize = text
                .parse()
                .unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(size.as_bytes(), *bytes, "{text}");
        }
    }

    #[test]
    fn rejected_inputs() {
        let cases = [
            "",
            "MB",
            "1.2.3MB",
            "1.5",
            "-1MB",
            " 1MB",
            "1MB ",
            "1 xB",
            "1KBB",
            "4294967296",
            "99999999999999999999999",
            "1ZB",
            "1YiB",
            "20000000EB",
        ];
        for text in cases {
            assert!(text.parse::<ByteSize>().is_err(), "{text:?} should fail");
        }
        assert!(matches!(
            "4294967296".parse::<ByteSize>(),
            Err(ByteSizeError::PlainCountTooLarge(_))
        ));
        assert!(matches!(
            "1XB".parse::<ByteSize>(),
            Err(ByteSizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "1ZB".parse::<ByteSize>(),
            Err(ByteSizeError::TooLarge(_))
        ));
    }

    #[test]
    fn display_keeps_the_written_unit() {
        let cases = [
            ("1MiB", "1MiB"),
            ("1mib", "1MiB"),
            ("20MB", "20MB"),
            ("1.5MB", "1.5MB"),
            ("1KB", "1KB"),
            ("1kb", "1kB"),
            ("1048576", "1048576B"),
            ("1 TiB", "1TiB"),
        ];
        for (text, shown) in cases {
            assert_eq!(text.parse::<ByteSize>().unwrap().to_string(), shown);
        }
    }

    #[test]
    fn inferred_units_for_defaults() {
        assert_eq!(ByteSize::infer(MIB).to_string(), "1MiB");
        assert_eq!(ByteSize::infer(100 * KIB).to_string(), "100KiB");
        assert_eq!(ByteSize::infer(20 * MIB).to_string(), "20MiB");
        assert_eq!(ByteSize::infer(1024 * MIB).to_string(), "1GiB");
        assert_eq!(ByteSize::infer(1000).to_string(), "1000B");
        assert_eq!(ByteSize::infer(0).to_string(), "0B");
        assert_eq!(ByteSize::mebibytes(200).to_string(), "200MiB");
        assert_eq!(ByteSize::kibibytes(10).to_string(), "10KiB");
    }

    #[test]
    fn equality_ignores_the_unit() {
        assert_eq!(ByteSize::kibibytes(1), ByteSize::from_bytes(1024));
        assert_eq!("1KB".parse::<ByteSize>().unwrap(), ByteSize::kibibytes(1));
        assert!(ByteSize::mebibytes(1) > ByteSize::kibibytes(1023));
    }

    #[test]
    fn yaml_integers_and_strings() {
        let size: ByteSize = serde_yaml::from_str("1048576").unwrap();
        assert_eq!(size.as_bytes(), MIB);
        let size: ByteSize = serde_yaml::from_str("\"1048576\"").unwrap();
        assert_eq!(size.as_bytes(), MIB);
        let size: ByteSize = serde_yaml::from_str("1MiB").unwrap();
        assert_eq!(size.as_bytes(), MIB);
        assert!(serde_yaml::from_str::<ByteSize>("4294967296").is_err());
        assert!(serde_yaml::from_str::<ByteSize>("-1").is_err());
        assert!(serde_yaml::from_str::<ByteSize>("1.5").is_err());
        assert!(serde_yaml::from_str::<ByteSize>("true").is_err());
        let value = serde_yaml::Value::from(4_294_967_295u64);
        let size: ByteSize = serde_yaml::from_value(value).unwrap();
        assert_eq!(size.as_bytes(), 4_294_967_295);
    }

    #[test]
    fn serializes_as_display_string() {
        let size: ByteSize = "1.5MB".parse().unwrap();
        assert_eq!(serde_yaml::to_string(&size).unwrap().trim(), "1.5MB");
        let back: ByteSize = serde_yaml::from_str(&serde_yaml::to_string(&size).unwrap()).unwrap();
        assert_eq!(back, size);
    }
}
