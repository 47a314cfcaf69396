//! [`Template`]: the template that caused an error (Django and similar).
//!
//! `filename` 128 (+20), `abs_path` 256 (+40) characters (normalization.md §8.1). PII
//! (pii.md): `filename`, `abs_path` `true`.

use crate::{Annotated, Array, FromValue, IntoValue, Object, ProcessValue, Value};

/// Template debug information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "templateinfo")]
pub struct Template {
    /// The template file, relative.
    #[metastructure(pii = "true", max_chars = 128, max_chars_allowance = 20)]
    pub filename: Annotated<String>,
    /// The absolute path of the template.
    #[metastructure(pii = "true", max_chars = 256, max_chars_allowance = 40)]
    pub abs_path: Annotated<String>,
    /// The line number.
    pub lineno: Annotated<u64>,
    /// The column number.
    pub colno: Annotated<u64>,
    /// Lines before `context_line`.
    pub pre_context: Annotated<Array<String>>,
    /// The line of the error.
    pub context_line: Annotated<String>,
    /// Lines after `context_line`.
    pub post_context: Annotated<Array<String>>,
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
        let input = json!({"filename": "a.html", "lineno": 3, "context_line": "{{ x }}", "k": 1});
        let template: Annotated<Template> = from_json(input.clone());
        assert_eq!(to_json(&template).ok(), Some(input));

        let template: Annotated<Template> = from_json(json!({"lineno": -3}));
        let lineno = template
            .value()
            .map(|t| t.lineno.clone())
            .unwrap_or_default();
        assert_eq!(lineno.meta().original_value(), Some(&Value::I64(-3)));
    }
}
