//! Measurements of transactions (normalization.md §7 step 18) and the `measurements` config of
//! project and global config (project-config.md §2, §5).
//!
//! Config-free part (always, observed with `StoreNormalizer` 0.10.1):
//!
//! * events that are not transactions lose their `measurements` silently;
//! * names are lower-cased; a name that does not start with a letter or contains anything but
//!   `a-z0-9._` is removed with an `invalid_data` error on the measurements object
//!   (`measurement name '<name>' can contain only characters a-z0-9._`);
//! * `app.start.cold` / `app.start.warm` become `app_start_cold` / `app_start_warm`;
//!   `app_start_cold`, `app_start_warm`, `time_to_initial_display` and `time_to_full_display`
//!   above 180 000 are removed silently;
//! * a missing unit is filled from the known-measurement table ([`default_unit`]);
//! * derived: `frames_slow_rate` / `frames_frozen_rate` (÷ `frames_total` when it is > 0) and
//!   `stall_percentage` (`stall_total_time` ÷ the transaction duration in ms, when its unit is
//!   `millisecond` or `none`), all with unit `ratio`, replacing client values.
//!
//! Config-dependent part (only with a [`CombinedMeasurementsConfig`], before the derived
//! measurements are computed, so these never count as custom): in name order, a measurement
//! is removed when name and unit together are longer than
//! [`CombinedMeasurementsConfig::max_name_and_unit_len`], when it is a built-in one with a
//! negative value that does not allow negatives, when it is a built-in one with another unit
//! (silently), or when it is custom (not built-in) and the custom limit is already used up.
//! Every removed measurement is listed in the measurements object's `val` (an object by
//! name), with an `invalid_data` error for each non-silent removal.
//!
//! The error texts of the config-dependent part could not be checked against
//! `StoreNormalizer`, which takes no measurements config (normalization.md §1.1 lists its keys).

use std::collections::BTreeMap;

use relay_event::schema::{Event, EventType, Measurement, Measurements};
use relay_event::{Annotated, Error, ErrorKind, IntoValue, Object, Value};
use serde::{Deserialize, Serialize};

/// A built-in measurement of the `measurements` config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinMeasurementKey {
    /// The measurement name, e.g. `lcp`.
    pub name: String,
    /// The unit the measurement must have; `none` when absent.
    #[serde(default = "unit_none")]
    pub unit: String,
    /// Whether negative values are kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_negative: bool,
}

fn unit_none() -> String {
    "none".to_owned()
}

/// `measurements` of a project or of the global config:
/// `{"builtinMeasurements": [...], "maxCustomMeasurements": n}`, both optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasurementsConfig {
    /// The built-in measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builtin_measurements: Vec<BuiltinMeasurementKey>,
    /// How many custom (not built-in) measurements a transaction may keep.
    #[serde(default)]
    pub max_custom_measurements: usize,
}

/// The project's and the global `measurements` config combined: built-ins of both (the
/// project's first, so it wins for a name both define) and the smaller custom limit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CombinedMeasurementsConfig {
    /// Built-in measurements, first definition of a name wins.
    pub builtin_measurements: Vec<BuiltinMeasurementKey>,
    /// The custom-measurement limit.
    pub max_custom_measurements: usize,
    /// Longest `name` + `unit` (bytes) kept; `None`: no limit. The server uses the metrics
    /// aggregator's `max_name_length` (200) less the 29 bytes every measurement metric name
    /// adds (`d:transactions/measurements.` and `@`).
    pub max_name_and_unit_len: Option<usize>,
}

/// The bytes a measurement's metric name adds around name and unit.
pub const MEASUREMENT_MRI_OVERHEAD: usize = 29;

impl CombinedMeasurementsConfig {
    /// Combines the configs; `None` when neither is set (the config-dependent part then does
    /// not run). `max_name_length` is the metrics aggregator's limit on metric names.
    pub fn new(
        project: Option<&MeasurementsConfig>,
        global: Option<&MeasurementsConfig>,
        max_name_length: Option<usize>,
    ) -> Option<Self> {
        let limit = match (project, global) {
            (None, None) => return None,
            (Some(p), Some(g)) => p.max_custom_measurements.min(g.max_custom_measurements),
            (Some(c), None) | (None, Some(c)) => c.max_custom_measurements,
        };
        let mut builtin_measurements: Vec<BuiltinMeasurementKey> = Vec::new();
        for key in project
            .into_iter()
            .chain(global)
            .flat_map(|c| &c.builtin_measurements)
        {
            if !builtin_measurements.iter().any(|k| k.name == key.name) {
                builtin_measurements.push(key.clone());
            }
        }
        Some(Self {
            builtin_measurements,
            max_custom_measurements: limit,
            max_name_and_unit_len: max_name_length
                .map(|len| len.saturating_sub(MEASUREMENT_MRI_OVERHEAD)),
        })
    }

    fn builtin(&self, name: &str) -> Option<&BuiltinMeasurementKey> {
        self.builtin_measurements.iter().find(|k| k.name == name)
    }
}

/// The longest custom unit name Sentry accepts.
const MAX_CUSTOM_UNIT_LENGTH: usize = 15;

/// A unit as Sentry parses it: `""` is the unit `none`; a unit that is not a word of ASCII
/// letters, digits and `_` of at most 15 characters is invalid (removed with its original
/// value and `invalid_data`, then defaulted like a missing one). Observed with StoreNormalizer
/// 0.10.1: `""` → `"none"`, `"Bogus Unit"` → error and `"none"`.
fn normalize_unit_text(unit: &mut Annotated<String>) {
    let Some(text) = unit.value() else {
        return;
    };
    if text.is_empty() {
        unit.set_value(Some("none".to_owned()));
        return;
    }
    let valid = text.len() <= MAX_CUSTOM_UNIT_LENGTH
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let original = unit.take().map(Value::String);
        let meta = unit.meta_mut();
        meta.add_error(ErrorKind::InvalidData);
        meta.set_original_value(original);
    }
}

/// The unit of a known measurement without one (normalization.md §7 step 18).
pub fn default_unit(name: &str) -> &'static str {
    match name {
        "fcp"
        | "lcp"
        | "fid"
        | "fp"
        | "inp"
        | "ttfb"
        | "ttfb.requesttime"
        | "app_start_cold"
        | "app_start_warm"
        | "time_to_initial_display"
        | "time_to_full_display"
        | "stall_total_time"
        | "stall_longest_time" => "millisecond",
        "frames_slow_rate" | "frames_frozen_rate" | "stall_percentage" => "ratio",
        _ => "none",
    }
}

/// The longest value of the mobile vitals that is still plausible (ms).
const MAX_MOBILE_VITAL: f64 = 180_000.0;

fn is_valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
}

fn measurement(value: f64, unit: &str) -> Annotated<Measurement> {
    Annotated::new(Measurement {
        value: Annotated::new(value),
        unit: Annotated::new(unit.to_owned()),
        ..Default::default()
    })
}

fn value_of(measurements: &Object<Measurement>, name: &str) -> Option<f64> {
    measurements.get(name)?.value()?.value.value().copied()
}

/// Step 18 on an event (see the module docs).
pub fn normalize_measurements(event: &mut Event, config: Option<&CombinedMeasurementsConfig>) {
    if event.ty.value() != Some(&EventType::Transaction) {
        if event.measurements.value().is_some() {
            event.measurements = Annotated::empty();
        }
        return;
    }
    let duration_ms = match (event.start_timestamp.value(), event.timestamp.value()) {
        (Some(start), Some(end)) => {
            Some((end.0 - start.0).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        }
        _ => None,
    };
    let (Some(Measurements(measurements)), meta) = event.measurements.pair_mut() else {
        return;
    };

    // Names: lower-case and validate, rename the dotted app-start names.
    let mut renamed = Object::new();
    for (name, value) in std::mem::take(measurements) {
        let name = name.to_ascii_lowercase();
        if !is_valid_name(&name) {
            meta.add_error(Error::invalid(format!(
                "measurement name '{name}' can contain only characters a-z0-9._"
            )));
            continue;
        }
        let name = match name.as_str() {
            "app.start.cold" => "app_start_cold".to_owned(),
            "app.start.warm" => "app_start_warm".to_owned(),
            _ => name,
        };
        renamed.insert(name, value);
    }
    *measurements = renamed;

    for name in [
        "app_start_cold",
        "app_start_warm",
        "time_to_initial_display",
        "time_to_full_display",
    ] {
        if value_of(measurements, name).is_some_and(|v| v > MAX_MOBILE_VITAL) {
            measurements.remove(name);
        }
    }

    for (name, value) in measurements.iter_mut() {
        if let Some(m) = value.value_mut() {
            normalize_unit_text(&mut m.unit);
            if m.unit.value().is_none() {
                m.unit.set_value(Some(default_unit(name).to_owned()));
            }
        }
    }

    if let Some(config) = config {
        let mut removed = BTreeMap::new();
        let mut custom = 0;
        measurements.retain(|name, annotated| {
            let Some(m) = annotated.value() else {
                return true;
            };
            let unit = m.unit.value().map_or("none", String::as_str);
            // Names are already valid here (checked above, without config).
            let reason = if config
                .max_name_and_unit_len
                .is_some_and(|max| name.len() + unit.len() > max)
            {
                Some(Some(format!("measurement name too long: \"{name}\"")))
            } else if let Some(builtin) = config.builtin(name) {
                let value = m.value.value().copied().unwrap_or(0.0);
                if !builtin.allow_negative && value < 0.0 {
                    Some(Some(format!(
                        "negative value for measurement {name} not allowed: {value}"
                    )))
                } else if builtin.unit != unit {
                    Some(None)
                } else {
                    None
                }
            } else if custom < config.max_custom_measurements {
                custom += 1;
                None
            } else {
                Some(Some(format!("too many measurements: {custom}")))
            };
            match reason {
                None => true,
                Some(reason) => {
                    if let Some(reason) = reason {
                        meta.add_error(Error::invalid(reason));
                    }
                    removed.insert(name.clone(), Annotated::new(m.clone().into_value()));
                    false
                }
            }
        });
        if !removed.is_empty() {
            let removed: Object<Value> = removed.into_iter().collect();
            meta.set_original_value(Some(Value::Object(removed)));
        }
    }

    if let Some(total) = value_of(measurements, "frames_total").filter(|t| *t > 0.0) {
        for (count, rate) in [
            ("frames_slow", "frames_slow_rate"),
            ("frames_frozen", "frames_frozen_rate"),
        ] {
            if let Some(count) = value_of(measurements, count) {
                measurements.insert(rate.to_owned(), measurement(count / total, "ratio"));
            }
        }
    }
    let stall_unit_ok = measurements
        .get("stall_total_time")
        .and_then(|m| m.value())
        .and_then(|m| m.unit.value())
        .is_some_and(|u| u == "millisecond" || u == "none");
    if let (true, Some(stall), Some(duration)) = (
        stall_unit_ok,
        value_of(measurements, "stall_total_time"),
        duration_ms.filter(|d| *d > 0.0),
    ) {
        measurements.insert(
            "stall_percentage".to_owned(),
            measurement(stall / duration, "ratio"),
        );
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_and_invalid_units() {
        let mut unit = Annotated::new(String::new());
        normalize_unit_text(&mut unit);
        assert_eq!(unit.value().map(String::as_str), Some("none"));
        let mut unit = Annotated::new("Bogus Unit".to_owned());
        normalize_unit_text(&mut unit);
        assert_eq!(unit.value(), None);
        assert_eq!(
            unit.meta().original_value(),
            Some(&Value::String("Bogus Unit".into()))
        );
        let mut unit = Annotated::new("custom_unit".to_owned());
        normalize_unit_text(&mut unit);
        assert_eq!(unit.value().map(String::as_str), Some("custom_unit"));
    }

    #[test]
    fn config_deserializes_like_project_config() {
        // Defaults as `normalize_project_config` 0.10.1 fills them.
        let config: MeasurementsConfig = serde_json::from_value(json!({
            "builtinMeasurements": [{"name": "lcp"},
                {"name": "x", "unit": "bogus", "allowNegative": true}]}))
        .unwrap_or_default();
        assert_eq!(
            serde_json::to_value(&config).ok(),
            Some(
                json!({"builtinMeasurements": [{"name": "lcp", "unit": "none"},
                {"name": "x", "unit": "bogus", "allowNegative": true}],
                "maxCustomMeasurements": 0})
            )
        );
        assert!(serde_json::from_value::<MeasurementsConfig>(json!(5)).is_err());
    }

    #[test]
    fn combined_config() {
        let project: MeasurementsConfig = serde_json::from_value(json!({
            "builtinMeasurements": [{"name": "lcp", "unit": "second"}],
            "maxCustomMeasurements": 5}))
        .unwrap_or_default();
        let global: MeasurementsConfig = serde_json::from_value(json!({
            "builtinMeasurements": [{"name": "lcp", "unit": "millisecond"},
                {"name": "fcp", "unit": "millisecond"}],
            "maxCustomMeasurements": 2}))
        .unwrap_or_default();
        let combined = CombinedMeasurementsConfig::new(Some(&project), Some(&global), Some(200))
            .unwrap_or_default();
        assert_eq!(combined.max_custom_measurements, 2);
        assert_eq!(combined.max_name_and_unit_len, Some(171));
        let units: Vec<_> = combined
            .builtin_measurements
            .iter()
            .map(|k| (k.name.as_str(), k.unit.as_str()))
            .collect();
        assert_eq!(units, [("lcp", "second"), ("fcp", "millisecond")]);
        assert_eq!(CombinedMeasurementsConfig::new(None, None, Some(200)), None);
    }

    #[test]
    fn config_removes_and_lists_in_val() {
        let config: MeasurementsConfig = serde_json::from_value(json!({
            "builtinMeasurements": [{"name": "lcp", "unit": "millisecond"},
                {"name": "fcp", "unit": "millisecond"},
                {"name": "cls", "unit": "none", "allowNegative": true},
                {"name": "ttfb", "unit": "millisecond"}],
            "maxCustomMeasurements": 1}))
        .unwrap_or_default();
        let combined = CombinedMeasurementsConfig::new(Some(&config), None, Some(200));
        let long = "a".repeat(168);
        let mut event: Annotated<Event> = from_json(json!({"type": "transaction",
            "measurements": {"lcp": {"value": 1}, "fcp": {"value": -1}, "cls": {"value": -1},
                "ttfb": {"value": 1, "unit": "second"}, "custom1": {"value": 1},
                "custom2": {"value": 2}, long.clone(): {"value": 3}}}));
        if let Some(event) = event.value_mut() {
            normalize_measurements(event, combined.as_ref());
        }
        let out = to_json(&event).unwrap_or_default();
        assert_eq!(
            out["measurements"],
            json!({"cls": {"value": -1.0, "unit": "none"},
                "custom1": {"value": 1.0, "unit": "none"},
                "lcp": {"value": 1.0, "unit": "millisecond"}})
        );
        // Name and unit (`none`) are 172 bytes, one more than 200 − 29.
        assert_eq!(
            out["_meta"]["measurements"][""],
            json!({"err": [
                ["invalid_data", {"reason": format!("measurement name too long: \"{long}\"")}],
                ["invalid_data", {"reason": "too many measurements: 1"}],
                ["invalid_data", {"reason": "negative value for measurement fcp not allowed: -1"}]],
                "val": {long.clone(): {"value": 3.0, "unit": "none"},
                    "custom2": {"value": 2.0, "unit": "none"},
                    "fcp": {"value": -1.0, "unit": "millisecond"},
                    "ttfb": {"value": 1.0, "unit": "second"}}})
        );
    }
}
