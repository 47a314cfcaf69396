//! Global span-op default rules (`spanOpDefaults` of the global config, project-config.md §5)
//! for spans without `op` (normalization.md §7 step 2): `{"rules": [{"condition": rule
//! condition, "value": "<op>"}]}`.
//!
//! A span without `op` gets the `value` of the first rule whose condition matches the span
//! (evaluated on the span's JSON form, field names starting with `span.`, e.g.
//! `span.data.db\.system`; [`crate::rule_condition`]), or `default` when none does.
//! A malformed `spanOpDefaults` is treated as no rules, as in Sentry's Relay (observed with
//! `normalize_global_config` 0.10.1, which drops it); unknown condition operators never match.

use relay_event::schema::Span;
use serde::{Deserialize, Serialize};

use crate::rule_condition::{to_json_form, RuleCondition};

/// One rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanOpDefaultRule {
    /// When the rule applies.
    pub condition: RuleCondition,
    /// The op to set.
    pub value: String,
}

/// `spanOpDefaults` of the global config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanOpDefaults {
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<SpanOpDefaultRule>,
}

impl SpanOpDefaults {
    /// Parses the global config's `spanOpDefaults` value; a malformed value gives no rules.
    pub fn from_global_config_value(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// The op for a span without one.
    pub fn infer(&self, span: &Span) -> String {
        if self.rules.is_empty() {
            return "default".to_owned();
        }
        let json = to_json_form(span);
        self.rules
            .iter()
            .find(|rule| rule.condition.matches_value(&json, "span"))
            .map_or_else(|| "default".to_owned(), |rule| rule.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, Annotated};
    use serde_json::json;

    use super::*;

    #[test]
    fn first_matching_rule_or_default() {
        let defaults = SpanOpDefaults::from_global_config_value(&json!({"rules": [
            {"condition": {"op": "bogus"}, "value": "never"},
            {"condition": {"op": "eq", "name": "span.data.db\\.system",
                "value": "postgresql"}, "value": "db"},
            {"condition": {"op": "glob", "name": "span.description", "value": ["GET *"]},
                "value": "http.client"}]}));
        let span = |value: serde_json::Value| {
            let span: Annotated<Span> = from_json(value);
            defaults.infer(&span.value().cloned().unwrap_or_default())
        };
        assert_eq!(span(json!({"data": {"db.system": "postgresql"}})), "db");
        assert_eq!(span(json!({"description": "GET /a"})), "http.client");
        assert_eq!(span(json!({"description": "x"})), "default");
        assert_eq!(
            SpanOpDefaults::from_global_config_value(&json!(5)),
            SpanOpDefaults::default()
        );
    }
}
