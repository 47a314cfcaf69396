//! [`TransactionInfo`]: how the transaction name came about (`transaction_info`).
//!
//! `original` is trimmed and at most 200 characters (normalization.md §6.2, §8.1).

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Timestamp, Value};

/// Additional information about the name of the transaction.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct TransactionInfo {
    /// The source of the name (`custom`, `url`, `route`, `view`, `component`, `task`, …).
    // TODO(schema): TransactionSource enum (next batch).
    pub source: Annotated<String>,
    /// The unmodified transaction name.
    #[metastructure(trim_whitespace = true, max_chars = 200)]
    pub original: Annotated<String>,
    /// Changes of the name before it was final.
    pub changes: Annotated<Array<TransactionNameChange>>,
    /// The number of propagations (outgoing requests) before the name was final.
    pub propagations: Annotated<u64>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// One change of the transaction name.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct TransactionNameChange {
    /// The source of the new name.
    pub source: Annotated<String>,
    /// The number of propagations at the time of the change.
    pub propagations: Annotated<u64>,
    /// When the change happened.
    pub timestamp: Annotated<Timestamp>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn roundtrip_and_invalid() {
        let input = json!({"source": "route", "changes": [{"source": "url",
            "propagations": 1, "timestamp": 2.0}], "propagations": 1});
        let info: Annotated<TransactionInfo> = from_json(input.clone());
        assert_eq!(to_json(&info).ok(), Some(input));

        let info: Annotated<TransactionInfo> = from_json(json!({"propagations": "x"}));
        let propagations = info
            .value()
            .map(|i| i.propagations.clone())
            .unwrap_or_default();
        assert_eq!(
            propagations.meta().original_value(),
            Some(&Value::from("x"))
        );
    }
}
