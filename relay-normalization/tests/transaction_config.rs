//! The config-dependent transaction steps (txNameRules, measurements, breakdowns, performance
//! score, span normalization) through [`normalize_event`], with expected outputs taken from
//! `sentry_relay.processing.StoreNormalizer` 0.10.1 where it implements the step
//! (normalization.md §1.1) and from normalization.md §7 otherwise.

use std::sync::Arc;

use relay_event::schema::Event;
use relay_event::{from_json, to_json, Annotated, Timestamp};
use relay_normalization::{normalize_event, NormalizationConfig};
use serde_json::{json, Value};

/// 2024-01-01T00:00:00Z, the received time of normalization.md's examples.
const RECEIVED_AT: f64 = 1704067200.0;

fn normalize(input: Value, config: NormalizationConfig) -> Value {
    let config = NormalizationConfig {
        received_at: Timestamp::from_seconds(RECEIVED_AT).ok(),
        ..config
    };
    let mut event: Annotated<Event> = from_json(input);
    match normalize_event(&mut event, &config) {
        Ok(()) => to_json(&event).unwrap_or_default(),
        Err(error) => json!({"rejected": error.to_string()}),
    }
}

fn transaction(name: &str, source: &str) -> Value {
    json!({"event_id": "d2132d31b39445f1938d7e21b6bf0ec4", "type": "transaction",
        "transaction": name, "transaction_info": {"source": source},
        "start_timestamp": 1704067100.0, "timestamp": 1704067110.0,
        "contexts": {"trace": {"trace_id": "a".repeat(32), "span_id": "b".repeat(16),
            "op": "http.server"}}})
}

#[test]
fn tx_name_rules_after_identifier_scrubbing() {
    let rules = serde_json::from_value(json!([
        {"pattern": "/users/*/orders/*/**", "expiry": "2030-01-01T00:00:00Z",
         "redaction": {"method": "replace"}},
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    let config = NormalizationConfig {
        transaction_name_rules: Some(Arc::new(rules)),
        ..Default::default()
    };
    let out = normalize(transaction("/users/123/orders/abc", "url"), config.clone());
    assert_eq!(out["transaction"], json!("/users/*/orders/*"));
    assert_eq!(out["transaction_info"], json!({"source": "sanitized"}));
    assert_eq!(
        out["_meta"]["transaction"],
        json!({"": {"rem": [["int", "s", 7, 10], ["/users/*/orders/*/**", "s"]],
            "val": "/users/123/orders/abc"}})
    );
    // Only sanitized names are renamed: a route is left alone.
    let out = normalize(
        transaction("/users/123/orders/abc", "route"),
        config.clone(),
    );
    assert_eq!(out["transaction"], json!("/users/123/orders/abc"));
    // Without identifiers, the rule alone records `val`.
    let out = normalize(transaction("/users/me/orders/abc", "url"), config);
    assert_eq!(out["transaction"], json!("/users/*/orders/*"));
    assert_eq!(
        out["_meta"]["transaction"],
        json!({"": {"rem": [["/users/*/orders/*/**", "s"]], "val": "/users/me/orders/abc"}})
    );
}
