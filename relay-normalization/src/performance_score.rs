//! Web-vital performance score of transactions (normalization.md §7 step 20) from the
//! project's `performanceScore` config (project-config.md §2):
//! `{"profiles": [{"name", "scoreComponents": [{"measurement", "weight", "p10", "p50",
//! "optional"?}], "condition", "version"?}]}`.
//!
//! The first profile whose `condition` matches the event ([`crate::rule_condition`], evaluated
//! without the event's spans; a profile without a condition never matches) is applied, if the
//! event has measurements:
//!
//! * the weights of all components, except optional ones whose measurement is missing, are
//!   summed; if the sum is 0 nothing is written;
//! * per component, its normalized weight `weight / sum` is written as `score.weight.<m>`
//!   (0 for a missing optional component); if the measurement is present, its score
//!   `1 − F(max(value, 0))` is written as `score.ratio.<m>` and the weighted score as
//!   `score.<m>`, where F is the log-normal CDF with median `p50` that gives `p10` the score
//!   0.9 (the scoring curve of Lighthouse, <https://web.dev/articles/performance-scoring>);
//! * `score.total` is the sum of the weighted scores, written when any component had a value;
//! * all of these have unit `ratio`; the profile's `version`, if any, is written to
//!   `contexts.performance_score.score_profile_version`.
//!
//! A missing required component counts in the weight sum but contributes no score, so it
//! lowers the total. Deserialization is as in Sentry's Relay (observed with
//! `normalize_project_config` 0.10.1): weights and percentiles must be numbers, `optional`
//! defaults to false, an unknown condition parses as unsupported. The score values could not
//! be checked against `StoreNormalizer`, which takes no performance-score config.

use relay_event::schema::{Context, Event, EventType, Measurement};
use relay_event::{Annotated, Object};
use serde::{Deserialize, Serialize};

use crate::rule_condition::{to_json_form, RuleCondition};

/// One component (web vital) of a profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceScoreWeightedComponent {
    /// The measurement name, e.g. `lcp`.
    pub measurement: String,
    /// The component's weight before normalization.
    pub weight: f64,
    /// The value that scores 0.9.
    pub p10: f64,
    /// The value that scores 0.5.
    pub p50: f64,
    /// Whether the profile applies without this measurement.
    #[serde(default)]
    pub optional: bool,
}

/// A score profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceScoreProfile {
    /// The profile name (informational).
    pub name: Option<String>,
    /// The components.
    #[serde(default)]
    pub score_components: Vec<PerformanceScoreWeightedComponent>,
    /// Which events the profile applies to.
    pub condition: Option<RuleCondition>,
    /// Written to the `performance_score` context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `performanceScore` of a project.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceScoreConfig {
    /// Profiles, first match wins.
    #[serde(default)]
    pub profiles: Vec<PerformanceScoreProfile>,
}

/// The error function, to about 1e-15: the Maclaurin series for |x| < 3, the continued
/// fraction of erfc beyond (std has no erf).
fn erf(x: f64) -> f64 {
    let a = x.abs();
    let result = if a < 3.0 {
        let mut term = a;
        let mut sum = a;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -a * a / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(a) = exp(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))), evaluated backwards.
        let mut fraction = 0.0;
        for k in (1..60).rev() {
            fraction = (k as f64 / 2.0) / (a + fraction);
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + fraction)
    };
    result.copysign(x)
}

/// `1 − F(value)` for the log-normal F with median `p50` and `1 − F(p10) = 0.9`.
pub fn lognormal_score(value: f64, p10: f64, p50: f64) -> f64 {
    // erf(K) = 0.8, so that the score at p10 is (1 + 0.8) / 2 = 0.9.
    const K: f64 = 0.906_193_802_436_823_2;
    let mu = p50.ln();
    let sigma = (mu - p10.ln()).abs() / (std::f64::consts::SQRT_2 * K);
    if value <= 0.0 {
        return 1.0;
    }
    let z = (value.ln() - mu) / (std::f64::consts::SQRT_2 * sigma);
    (1.0 - erf(z)) / 2.0
}

fn ratio(value: f64) -> Annotated<Measurement> {
    Annotated::new(Measurement {
        value: Annotated::new(value),
        unit: Annotated::new("ratio".to_owned()),
        ..Default::default()
    })
}

/// Step 20 performance score on a transaction (see the module docs).
pub fn compute_performance_score(event: &mut Event, config: &PerformanceScoreConfig) {
    if event.ty.value() != Some(&EventType::Transaction) || event.measurements.value().is_none() {
        return;
    }
    // Profile conditions look at event fields, never at spans; leaving the spans out keeps the
    // JSON form of a large transaction cheap.
    let spans = std::mem::take(&mut event.spans);
    let json = to_json_form(event);
    event.spans = spans;
    let Some(profile) = config.profiles.iter().find(|p| {
        p.condition
            .as_ref()
            .is_some_and(|c| c.matches_value(&json, "event"))
    }) else {
        return;
    };
    let Some(measurements) = event.measurements.value_mut() else {
        return;
    };
    let measurements = &mut measurements.0;
    let value_of = |measurements: &Object<Measurement>, name: &str| {
        measurements.get(name)?.value()?.value.value().copied()
    };
    let weight_total: f64 = profile
        .score_components
        .iter()
        .filter(|c| !c.optional || value_of(measurements, &c.measurement).is_some())
        .map(|c| c.weight)
        .sum();
    if weight_total.abs() < f64::EPSILON {
        return;
    }
    let mut total = 0.0;
    let mut any_score = false;
    for component in &profile.score_components {
        let name = &component.measurement;
        let value = value_of(measurements, name);
        let weight = match (value, component.optional) {
            (None, true) => 0.0,
            _ => component.weight / weight_total,
        };
        if let Some(value) = value {
            let score = lognormal_score(value.max(0.0), component.p10, component.p50);
            total += score * weight;
            any_score = true;
            measurements.insert(format!("score.ratio.{name}"), ratio(score));
            measurements.insert(format!("score.{name}"), ratio(score * weight));
        }
        measurements.insert(format!("score.weight.{name}"), ratio(weight));
    }
    if any_score {
        measurements.insert("score.total".to_owned(), ratio(total));
    }
    if let Some(version) = &profile.version {
        let contexts = event.contexts.get_or_insert_with(Default::default);
        let context = contexts
            .0
            .entry("performance_score".to_owned())
            .or_insert_with(Annotated::empty);
        let context = context.get_or_insert_with(|| Context::PerformanceScore(Box::default()));
        if let Context::PerformanceScore(context) = context {
            context
                .score_profile_version
                .set_value(Some(version.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn erf_and_curve() {
        // Reference values: Python's math.erf.
        for (x, expected) in [
            (0.1, 0.1124629160182849),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (2.0, 0.9953222650189527),
            (2.9, 0.9999589021219005),
            (3.1, 0.9999883513426328),
            (3.5, 0.9999992569016276),
            (5.0, 0.9999999999984626),
        ] {
            assert!(close(erf(x), expected), "erf({x}) = {}", erf(x));
            assert!(close(erf(-x), -expected));
        }
        assert!(close(lognormal_score(900.0, 900.0, 1600.0), 0.9));
        assert!(close(lognormal_score(1600.0, 900.0, 1600.0), 0.5));
        assert!(close(lognormal_score(0.0, 900.0, 1600.0), 1.0));
    }

    #[test]
    fn config_deserializes_like_project_config() {
        let config: PerformanceScoreConfig = serde_json::from_value(json!({"profiles": [
            {"name": "Chrome", "scoreComponents": [
                {"measurement": "fcp", "weight": 1, "p10": 900, "p50": 1600}],
             "condition": {"op": "bogus"}},
            {"name": "None", "scoreComponents": []}]}))
        .unwrap_or_default();
        assert_eq!(
            serde_json::to_value(&config).ok(),
            Some(json!({"profiles": [
                {"name": "Chrome", "scoreComponents": [{"measurement": "fcp", "weight": 1.0,
                    "p10": 900.0, "p50": 1600.0, "optional": false}],
                 "condition": {"op": "unsupported"}},
                {"name": "None", "scoreComponents": [], "condition": null}]}))
        );
        assert!(
            serde_json::from_value::<PerformanceScoreConfig>(json!({"profiles": [
            {"name": "x", "scoreComponents": [{"measurement": "fcp", "weight": "x",
                "p10": 1, "p50": 2}]}]}))
            .is_err()
        );
    }

    #[test]
    fn first_matching_profile_is_applied() {
        let config: PerformanceScoreConfig = serde_json::from_value(json!({"profiles": [
            {"name": "Firefox", "scoreComponents": [
                {"measurement": "fcp", "weight": 1, "p10": 1, "p50": 2}],
             "condition": {"op": "eq", "name": "event.contexts.browser.name",
                "value": "Firefox"}},
            {"name": "Chrome", "version": "1.0", "scoreComponents": [
                {"measurement": "fcp", "weight": 0.15, "p10": 900, "p50": 1600},
                {"measurement": "lcp", "weight": 0.3, "p10": 1200, "p50": 2400},
                {"measurement": "cls", "weight": 0.15, "p10": 0.1, "p50": 0.25},
                {"measurement": "ttfb", "weight": 0.1, "p10": 200, "p50": 400,
                 "optional": true},
                {"measurement": "inp", "weight": 0.3, "p10": 200, "p50": 500}],
             "condition": {"op": "eq", "name": "event.contexts.browser.name",
                "value": "Chrome"}}]}))
        .unwrap_or_default();
        let mut event: Annotated<Event> = from_json(json!({"type": "transaction",
            "contexts": {"browser": {"name": "Chrome"}},
            "measurements": {"fcp": {"value": 1200, "unit": "millisecond"},
                "lcp": {"value": 2400, "unit": "millisecond"},
                "cls": {"value": 0.1, "unit": "none"}}}));
        if let Some(event) = event.value_mut() {
            compute_performance_score(event, &config);
        }
        let out = to_json(&event).unwrap_or_default();
        // Expected values computed independently with Python's math.erf; the weight sum is
        // 0.9 (the missing optional ttfb is left out, the missing required inp is not).
        let expected = [
            ("score.ratio.fcp", 0.7391658153933758),
            ("score.ratio.lcp", 0.5),
            ("score.ratio.cls", 0.9),
            ("score.fcp", 0.12319430256556263),
            ("score.lcp", 0.16666666666666669),
            ("score.cls", 0.15000000000000002),
            ("score.weight.fcp", 0.16666666666666669),
            ("score.weight.lcp", 0.33333333333333337),
            ("score.weight.cls", 0.16666666666666669),
            ("score.weight.ttfb", 0.0),
            ("score.weight.inp", 0.33333333333333337),
            ("score.total", 0.43986096923222934),
        ];
        for (name, value) in expected {
            let m = &out["measurements"][name];
            assert_eq!(m["unit"], json!("ratio"), "{name}");
            assert!(
                close(m["value"].as_f64().unwrap_or(-1.0), value),
                "{name}: {m}"
            );
        }
        assert!(out["measurements"].get("score.inp").is_none());
        assert_eq!(
            out["contexts"]["performance_score"],
            json!({"score_profile_version": "1.0", "type": "performance_score"})
        );

        // No matching profile: unchanged.
        let mut event: Annotated<Event> = from_json(json!({"type": "transaction",
            "measurements": {"fcp": {"value": 1}}}));
        let before = to_json(&event).ok();
        if let Some(event) = event.value_mut() {
            compute_performance_score(event, &config);
        }
        assert_eq!(to_json(&event).ok(), before);
    }
}
