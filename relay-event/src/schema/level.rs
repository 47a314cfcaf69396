//! [`Level`]: the severity of an event or breadcrumb (normalization.md §2).
//!
//! Accepted: `debug`, `info`, `log` (→ `info`), `warning`, `error`, `fatal`, `critical`
//! (→ `fatal`), case-sensitive, and the Python numeric levels 10/20/30/40/50. Any other string
//! is `invalid_data` `invalid level`, any other number a bare `invalid_data` (no reason, as
//! Sentry's normalizer writes it), other types `expected a level`; the original value is kept
//! in every case.

use crate::{invalid_type, Annotated, Error, ErrorKind, FromValue, Value};

/// Severity level of an event or breadcrumb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// `debug`
    Debug,
    /// `info` (also parsed from `log`)
    Info,
    /// `warning`
    Warning,
    /// `error`
    Error,
    /// `fatal` (also parsed from `critical`)
    Fatal,
}

impl Level {
    /// The output name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// Parses a level name, including the aliases `log` and `critical`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "debug" => Level::Debug,
            "info" | "log" => Level::Info,
            "warning" => Level::Warning,
            "error" => Level::Error,
            "fatal" | "critical" => Level::Fatal,
            _ => return None,
        })
    }

    /// The level of a Python numeric log level.
    pub fn from_python(level: i64) -> Option<Self> {
        Some(match level {
            10 => Level::Debug,
            20 => Level::Info,
            30 => Level::Warning,
            40 => Level::Error,
            50 => Level::Fatal,
            _ => return None,
        })
    }
}

impl FromValue for Level {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        let Annotated(value, mut meta) = value;
        let (parsed, error) = match &value {
            None => return Annotated(None, meta),
            Some(Value::String(name)) => (Level::parse(name), Error::invalid("invalid level")),
            Some(Value::I64(n)) => (Level::from_python(*n), Error::new(ErrorKind::InvalidData)),
            Some(Value::U64(n)) => (
                i64::try_from(*n).ok().and_then(Level::from_python),
                Error::new(ErrorKind::InvalidData),
            ),
            Some(other) => return invalid_type(other.clone(), meta, "a level"),
        };
        match parsed {
            Some(level) => Annotated(Some(level), meta),
            None => {
                meta.add_error(error);
                meta.set_original_value(value);
                Annotated(None, meta)
            }
        }
    }
}

super::string_enum_value!(Level);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::annotated_from_json;

    fn parse(json: serde_json::Value) -> Annotated<Level> {
        Level::from_value(annotated_from_json(json))
    }

    #[test]
    fn names_aliases_and_numbers() {
        assert_eq!(parse(json!("warning")).0, Some(Level::Warning));
        assert_eq!(parse(json!("log")).0, Some(Level::Info));
        assert_eq!(parse(json!("critical")).0, Some(Level::Fatal));
        assert_eq!(parse(json!(40)).0, Some(Level::Error));
    }

    #[test]
    fn invalid_levels_keep_the_original() {
        for (input, reason) in [
            (json!("Error"), Some("invalid level")),
            (json!(15), None),
            (json!(true), Some("expected a level")),
        ] {
            let Annotated(value, meta) = parse(input.clone());
            assert!(value.is_none());
            assert_eq!(meta.errors()[0].kind(), &ErrorKind::InvalidData);
            assert_eq!(
                meta.errors()[0].get("reason"),
                reason.map(Value::from).as_ref()
            );
            assert_eq!(meta.original_value(), annotated_from_json(input).value());
        }
    }
}
