//! AI cost enrichment of spans (normalization.md §7 step 20) from the global config's
//! `aiModelMetadata` (project-config.md §5):
//! `{"version": n, "models": {"<model glob>": {"costs"?: {...}, "contextSize"?: n}}}`.
//!
//! For every span of a transaction whose op starts with `gen_ai.` or `ai.` and whose data
//! names a model (`gen_ai.response.model`, else `gen_ai.request.model`) with costs in the
//! config (an exact key first, else the first glob key in key order; `*` matches any run of
//! characters, `?` one), the costs in USD are written into the span data, using the token counts of the
//! attribute conventions (<https://getsentry.github.io/relay/relay_conventions/attributes/>):
//!
//! * `gen_ai.cost.input_tokens` = (input − cached − cache-write tokens) × `inputPerToken` +
//!   cached × `inputCachedPerToken` + cache-write × `inputCacheWritePerToken`, where cached
//!   and cache-write tokens are subsets of `gen_ai.usage.input_tokens`
//!   (`gen_ai.usage.input_tokens.cached`, `gen_ai.usage.input_tokens.cache_write`);
//! * `gen_ai.cost.output_tokens` = (output − reasoning tokens) × `outputPerToken` + reasoning ×
//!   `outputReasoningPerToken` (`gen_ai.usage.output_tokens`,
//!   `gen_ai.usage.output_tokens.reasoning`);
//! * `gen_ai.cost.total_tokens` = their sum; `gen_ai.usage.total_tokens` = input + output
//!   tokens when the span has none.
//!
//! Nothing is written for a span without any token count. Deserialization follows what
//! Sentry's Relay accepts (observed with `normalize_global_config` 0.10.1): all five cost
//! fields are required; a malformed `aiModelMetadata` disables the enrichment instead of
//! breaking the global config ([`AiModelMetadata::from_global_config_value`]). The
//! computation could not be checked against `StoreNormalizer`, which takes no AI config.

use std::collections::BTreeMap;

use relay_event::schema::{Event, EventType};
use relay_event::{Annotated, Object, Value};
use serde::{Deserialize, Serialize};

use crate::glob::wildcard_match;

/// Costs per token of a model, in USD.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCosts {
    /// Per (uncached) input token.
    pub input_per_token: f64,
    /// Per output token (not reasoning).
    pub output_per_token: f64,
    /// Per reasoning output token.
    pub output_reasoning_per_token: f64,
    /// Per cached input token.
    pub input_cached_per_token: f64,
    /// Per input token written to the cache.
    pub input_cache_write_per_token: f64,
}

/// What the global config knows about one model (glob).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelMetadata {
    /// Token costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub costs: Option<ModelCosts>,
    /// The model's context window in tokens (informational here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_size: Option<u64>,
}

/// `aiModelMetadata` of the global config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiModelMetadata {
    /// The config version.
    #[serde(default)]
    pub version: u16,
    /// Model glob → metadata.
    #[serde(default)]
    pub models: BTreeMap<String, ModelMetadata>,
}

impl AiModelMetadata {
    /// Parses the global config's `aiModelMetadata` value; a malformed value gives `None`
    /// (the enrichment is off), as in Sentry's Relay.
    pub fn from_global_config_value(value: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }

    /// The costs of `model`: an exact key, else the first matching glob key.
    pub fn costs(&self, model: &str) -> Option<&ModelCosts> {
        if let Some(metadata) = self.models.get(model) {
            return metadata.costs.as_ref();
        }
        self.models
            .iter()
            .find(|(glob, _)| wildcard_match(glob, model))
            .and_then(|(_, metadata)| metadata.costs.as_ref())
    }
}

fn number(data: &Object<Value>, key: &str) -> Option<f64> {
    match data.get(key)?.value()? {
        Value::I64(n) => Some(*n as f64),
        Value::U64(n) => Some(*n as f64),
        Value::F64(n) => Some(*n),
        _ => None,
    }
}

fn enrich_span_data(data: &mut Object<Value>, metadata: &AiModelMetadata) {
    let model = ["gen_ai.response.model", "gen_ai.request.model"]
        .iter()
        .find_map(|key| data.get(*key)?.value()?.as_str().map(str::to_owned));
    let Some(costs) = model.and_then(|m| metadata.costs(&m).copied()) else {
        return;
    };
    let input = number(data, "gen_ai.usage.input_tokens");
    let output = number(data, "gen_ai.usage.output_tokens");
    if input.is_none() && output.is_none() {
        return;
    }
    let input = input.unwrap_or(0.0);
    let output = output.unwrap_or(0.0);
    let cached = number(data, "gen_ai.usage.input_tokens.cached").unwrap_or(0.0);
    let cache_write = number(data, "gen_ai.usage.input_tokens.cache_write").unwrap_or(0.0);
    let reasoning = number(data, "gen_ai.usage.output_tokens.reasoning").unwrap_or(0.0);
    let input_cost = (input - cached - cache_write).max(0.0) * costs.input_per_token
        + cached * costs.input_cached_per_token
        + cache_write * costs.input_cache_write_per_token;
    let output_cost = (output - reasoning).max(0.0) * costs.output_per_token
        + reasoning * costs.output_reasoning_per_token;
    for (key, value) in [
        ("gen_ai.cost.input_tokens", input_cost),
        ("gen_ai.cost.output_tokens", output_cost),
        ("gen_ai.cost.total_tokens", input_cost + output_cost),
    ] {
        data.insert(key.to_owned(), Annotated::new(Value::F64(value)));
    }
    if !data.contains_key("gen_ai.usage.total_tokens") {
        data.insert(
            "gen_ai.usage.total_tokens".to_owned(),
            Annotated::new(Value::F64(input + output)),
        );
    }
}

/// Step 20 AI cost enrichment on a transaction's spans (see the module docs).
pub fn enrich_ai_costs(event: &mut Event, metadata: &AiModelMetadata) {
    if event.ty.value() != Some(&EventType::Transaction) {
        return;
    }
    let Some(spans) = event.spans.value_mut() else {
        return;
    };
    for span in spans.iter_mut().filter_map(|s| s.value_mut().as_mut()) {
        let is_ai = span
            .op
            .value()
            .is_some_and(|op| op.starts_with("gen_ai.") || op.starts_with("ai."));
        if let (true, Some(data)) = (is_ai, span.data.value_mut()) {
            enrich_span_data(data, metadata);
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn metadata() -> AiModelMetadata {
        let costs = json!({"inputPerToken": 0.01, "outputPerToken": 0.02,
            "outputReasoningPerToken": 0.03, "inputCachedPerToken": 0.001,
            "inputCacheWritePerToken": 0.005});
        AiModelMetadata::from_global_config_value(&json!({"version": 1, "models": {
            "gpt-4o": {"costs": costs.clone(), "contextSize": 128000},
            "claude-*": {"costs": costs},
            "other": {"contextSize": 1}}}))
        .unwrap_or_default()
    }

    #[test]
    fn config_is_lenient_like_the_global_config() {
        assert_eq!(metadata().models.len(), 3);
        // Incomplete costs or a wrong shape disable the enrichment.
        for bad in [
            json!({"version": 1, "models": {"gpt-4": {"costs": {"inputPerToken": 0.01}}}}),
            json!(5),
        ] {
            assert_eq!(AiModelMetadata::from_global_config_value(&bad), None);
        }
        assert!(metadata().costs("claude-3-opus").is_some());
        assert!(metadata().costs("other").is_none());
        assert!(metadata().costs("unknown").is_none());
    }

    #[test]
    fn costs_are_written_to_span_data() {
        let mut event: Annotated<Event> = from_json(json!({"type": "transaction", "spans": [
            {"op": "gen_ai.chat", "data": {"gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 100, "gen_ai.usage.input_tokens.cached": 20,
                "gen_ai.usage.input_tokens.cache_write": 10,
                "gen_ai.usage.output_tokens": 50, "gen_ai.usage.output_tokens.reasoning": 5}},
            {"op": "gen_ai.chat", "data": {"gen_ai.response.model": "claude-3",
                "gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 10,
                "gen_ai.usage.total_tokens": 11}},
            {"op": "db", "data": {"gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1}},
            {"op": "gen_ai.chat", "data": {"gen_ai.request.model": "gpt-4o"}},
        ]}));
        if let Some(event) = event.value_mut() {
            enrich_ai_costs(event, &metadata());
        }
        let out = to_json(&event).unwrap_or_default();
        let data = &out["spans"][0]["data"];
        let close = |key: &str, expected: f64| {
            let value = data[key].as_f64().unwrap_or(f64::NAN);
            assert!((value - expected).abs() < 1e-12, "{key}: {value}");
        };
        close(
            "gen_ai.cost.input_tokens",
            70.0 * 0.01 + 20.0 * 0.001 + 10.0 * 0.005,
        );
        close("gen_ai.cost.output_tokens", 45.0 * 0.02 + 5.0 * 0.03);
        close("gen_ai.cost.total_tokens", 0.77 + 1.05);
        close("gen_ai.usage.total_tokens", 150.0);
        let data = &out["spans"][1]["data"];
        assert_eq!(data["gen_ai.usage.total_tokens"], json!(11));
        assert!((data["gen_ai.cost.total_tokens"].as_f64().unwrap_or(0.0) - 0.2).abs() < 1e-12);
        assert!(out["spans"][2]["data"]
            .get("gen_ai.cost.total_tokens")
            .is_none());
        assert!(out["spans"][3]["data"]
            .get("gen_ai.cost.total_tokens")
            .is_none());
    }
}
