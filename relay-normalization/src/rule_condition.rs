//! The shared rule-condition language (project-config.md §3.3), as far as the
//! config-dependent normalization steps need it: performance-score profile conditions and the
//! global span-op default rules.
//!
//! Supported operators: `eq` (`value` scalar or list, `options.ignoreCase`), `gt`, `gte`,
//! `lt`, `lte` (numbers), `glob` (list of globs, `*` any run of characters, `?` one), `and`,
//! `or`, `not`. Any other `op` (including `any`/`all`, `cidr` and `release`, not needed here)
//! parses as [`RuleCondition::Unsupported`], which never matches — the way Sentry's Relay
//! keeps a config with an unknown condition usable (`{"op": "unsupported"}` after
//! `normalize_project_config`).
//!
//! Field names are dotted paths into the JSON form of the object, starting with its kind
//! (`event.contexts.browser.name`, `span.data.db\.system`); `\.` escapes a dot in a key.
//! `event.tags.<key>` looks the tag up in the tag pairs.

use relay_event::{to_json, Annotated, IntoValue};
use serde::{Deserialize, Serialize};

use crate::glob::wildcard_match;

/// Options of `eq`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EqOptions {
    /// Compare strings case-insensitively.
    #[serde(default)]
    pub ignore_case: bool,
}

/// A rule condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum RuleCondition {
    /// The field equals the value (or one of the values of a list).
    Eq {
        /// Field path.
        name: String,
        /// Scalar or list.
        value: serde_json::Value,
        /// Options.
        #[serde(default)]
        options: EqOptions,
    },
    /// Numeric `>`.
    Gt {
        /// Field path.
        name: String,
        /// Number.
        value: serde_json::Value,
    },
    /// Numeric `>=`.
    Gte {
        /// Field path.
        name: String,
        /// Number.
        value: serde_json::Value,
    },
    /// Numeric `<`.
    Lt {
        /// Field path.
        name: String,
        /// Number.
        value: serde_json::Value,
    },
    /// Numeric `<=`.
    Lte {
        /// Field path.
        name: String,
        /// Number.
        value: serde_json::Value,
    },
    /// The string field matches one of the globs.
    Glob {
        /// Field path.
        name: String,
        /// Globs.
        value: Vec<String>,
    },
    /// All inner conditions match (true when empty).
    And {
        /// Inner conditions.
        inner: Vec<RuleCondition>,
    },
    /// Any inner condition matches (false when empty).
    Or {
        /// Inner conditions.
        inner: Vec<RuleCondition>,
    },
    /// The inner condition does not match.
    Not {
        /// Inner condition.
        inner: Box<RuleCondition>,
    },
    /// Anything else: never matches.
    #[serde(other)]
    Unsupported,
}

/// Splits a field path at unescaped dots.
fn path_segments(name: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), segments.last_mut()) {
                    last.push(next);
                }
            }
            '.' => segments.push(String::new()),
            c => {
                if let Some(last) = segments.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    segments
}

/// Looks a field path up in `root`, the JSON form of an object of kind `kind` (`event`,
/// `span`). Tag pair lists (`[[key, value], ...]`) are searched by key.
pub fn lookup<'a>(
    root: &'a serde_json::Value,
    kind: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    let segments = path_segments(name);
    let (first, rest) = segments.split_first()?;
    if first != kind {
        return None;
    }
    let mut current = root;
    for segment in rest {
        current = match current {
            serde_json::Value::Object(object) => object.get(segment)?,
            serde_json::Value::Array(pairs) => pairs.iter().find_map(|pair| {
                let [key, value] = pair.as_array()?.as_slice() else {
                    return None;
                };
                (key.as_str() == Some(segment.as_str())).then_some(value)
            })?,
            _ => return None,
        };
    }
    Some(current)
}

fn compare(
    field: Option<&serde_json::Value>,
    value: &serde_json::Value,
    f: fn(f64, f64) -> bool,
) -> bool {
    match (field.and_then(|v| v.as_f64()), value.as_f64()) {
        (Some(a), Some(b)) => f(a, b),
        _ => false,
    }
}

/// The JSON form of `object`, without meta, for [`RuleCondition::matches_value`].
pub fn to_json_form<T: IntoValue + Clone>(object: &T) -> serde_json::Value {
    let mut json = to_json(&Annotated::new(object.clone())).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        object.remove("_meta");
    }
    json
}

impl RuleCondition {
    /// Whether the condition holds for `root` (the JSON form of an object of kind `kind`).
    pub fn matches_value(&self, root: &serde_json::Value, kind: &str) -> bool {
        match self {
            RuleCondition::Eq {
                name,
                value,
                options,
            } => {
                let field = lookup(root, kind, name);
                let eq = |expected: &serde_json::Value| match (field, expected) {
                    (Some(serde_json::Value::String(a)), serde_json::Value::String(b))
                        if options.ignore_case =>
                    {
                        a.to_lowercase() == b.to_lowercase()
                    }
                    (Some(a), b) => a == b,
                    (None, b) => b.is_null(),
                };
                match value {
                    serde_json::Value::Array(values) => values.iter().any(eq),
                    value => eq(value),
                }
            }
            RuleCondition::Gt { name, value } => {
                compare(lookup(root, kind, name), value, |a, b| a > b)
            }
            RuleCondition::Gte { name, value } => {
                compare(lookup(root, kind, name), value, |a, b| a >= b)
            }
            RuleCondition::Lt { name, value } => {
                compare(lookup(root, kind, name), value, |a, b| a < b)
            }
            RuleCondition::Lte { name, value } => {
                compare(lookup(root, kind, name), value, |a, b| a <= b)
            }
            RuleCondition::Glob { name, value } => {
                let Some(serde_json::Value::String(text)) = lookup(root, kind, name) else {
                    return false;
                };
                value.iter().any(|glob| wildcard_match(glob, text))
            }
            RuleCondition::And { inner } => inner.iter().all(|c| c.matches_value(root, kind)),
            RuleCondition::Or { inner } => inner.iter().any(|c| c.matches_value(root, kind)),
            RuleCondition::Not { inner } => !inner.matches_value(root, kind),
            RuleCondition::Unsupported => false,
        }
    }

    /// Whether the condition holds for `object` of kind `kind` (converted to its JSON form,
    /// so a caller evaluating several conditions should convert once with [`to_json_form`]).
    pub fn matches<T: IntoValue + Clone>(&self, object: &T, kind: &str) -> bool {
        self.matches_value(&to_json_form(object), kind)
    }
}

#[cfg(test)]
mod tests {
    use relay_event::from_json;
    use relay_event::schema::Event;
    use serde_json::json;

    use super::*;

    fn condition(value: serde_json::Value) -> RuleCondition {
        serde_json::from_value(value).unwrap_or(RuleCondition::Unsupported)
    }

    #[test]
    fn evaluates_on_events() {
        let event: Annotated<Event> = from_json(json!({"transaction": "/a",
            "contexts": {"browser": {"name": "Chrome"}}, "tags": {"x.y": "1"},
            "measurements": {"lcp": {"value": 5}}}));
        let event = event.value().cloned().unwrap_or_default();
        let yes = [
            json!({"op": "eq", "name": "event.contexts.browser.name", "value": "Chrome"}),
            json!({"op": "eq", "name": "event.contexts.browser.name", "value": ["a", "chrome"],
                "options": {"ignoreCase": true}}),
            json!({"op": "eq", "name": "event.tags.x\\.y", "value": "1"}),
            json!({"op": "gt", "name": "event.measurements.lcp.value", "value": 4}),
            json!({"op": "glob", "name": "event.transaction", "value": ["/?"]}),
            json!({"op": "and", "inner": []}),
            json!({"op": "not", "inner": {"op": "or", "inner": []}}),
        ];
        for c in yes {
            assert!(condition(c.clone()).matches(&event, "event"), "{c}");
        }
        let no = [
            json!({"op": "eq", "name": "event.contexts.browser.name", "value": "chrome"}),
            json!({"op": "bogus"}),
            json!({"op": "lte", "name": "event.measurements.lcp.value", "value": 4}),
            json!({"op": "eq", "name": "span.op", "value": "x"}),
        ];
        for c in no {
            assert!(!condition(c.clone()).matches(&event, "event"), "{c}");
        }
        assert_eq!(
            serde_json::to_value(condition(json!({"op": "bogus", "x": 1}))).ok(),
            Some(json!({"op": "unsupported"}))
        );
    }
}
