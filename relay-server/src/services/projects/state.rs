//! The project state object (relay-protocol.md §5.3, project-config.md §1–§2).
//!
//! Known fields are typed (a type mismatch makes the whole state unparsable, as the spec
//! requires); the `config` object is also kept verbatim so relay can serve it unchanged to
//! downstream relays, limited or full (relay-protocol.md §6.1).
//!
//! Every state is sanitized while it is parsed, whatever its source (upstream, Redis, files;
//! redis-and-quotas.md §2.4, project-config.md §4): invalid quotas are removed, a legacy
//! (version 1) sampling config is normalized to version 2 and the graduated feature flags are
//! added. The verbatim `config` reflects the sanitized state, so downstream relays are served
//! what this relay uses.

use std::sync::Arc;

use parking_lot::Mutex;
use relay_auth::PublicKey;
use relay_normalization::ai_costs::AiModelMetadata;
use relay_normalization::breakdowns::BreakdownsConfig;
use relay_normalization::measurements::{CombinedMeasurementsConfig, MeasurementsConfig};
use relay_normalization::performance_score::PerformanceScoreConfig;
use relay_normalization::span_op_defaults::SpanOpDefaults;
use relay_normalization::transaction_name_rules::TransactionNameRule;
use relay_protocol::{ProjectId, ProjectKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Keys of `config` an external (non-internal) relay may see (project-config.md §2.1).
const LIMITED_CONFIG_KEYS: &[&str] = &[
    "allowedDomains",
    "trustedRelays",
    "piiConfig",
    "filterSettings",
    "datascrubbingSettings",
    "trimming",
    "sessionMetrics",
    "measurements",
    "breakdownsV2",
    "performanceScore",
    "features",
    "txNameRules",
    "txNameReady",
    "spanDescriptionRules",
];

/// Features that every project has (graduated flags, redis-and-quotas.md §2.4).
pub const GRADUATED_FEATURES: &[&str] = &[
    "organizations:user-feedback-ingest",
    "projects:profiling-ingest-unsampled-profiles",
    "organizations:profiling",
    "organizations:relay-otlp-traces-endpoint",
    "organizations:relay-otel-logs-endpoint",
    "organizations:indexed-spans-extraction",
    "organizations:standalone-span-ingestion",
    "projects:span-v2-experimental-processing",
];

/// Event retention in days when the project config sets no `eventRetention`.
pub const DEFAULT_EVENT_RETENTION_DAYS: u16 = 90;

/// Feature: logs are ingested (`log` items and the OTLP logs endpoint).
pub const OURLOGS_INGESTION_FEATURE: &str = "organizations:ourlogs-ingestion";

/// Keys of `config` that are always written, even when absent.
const ALWAYS_WRITTEN_CONFIG_KEYS: &[&str] = &["allowedDomains", "trustedRelays", "piiConfig"];

/// One entry of `publicKeys`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyConfig {
    pub public_key: ProjectKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric_id: Option<u64>,
}

/// `trustedRelaySettings.verifySignature`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VerifySignature {
    #[default]
    Disabled,
    Enabled,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrustedRelaySettings {
    #[serde(default)]
    pub verify_signature: VerifySignature,
}

fn default_allowed_domains() -> Vec<String> {
    vec!["*".to_owned()]
}

/// The typed part of `config` a non-processing relay reads.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectConfig {
    #[serde(default = "default_allowed_domains")]
    pub allowed_domains: Vec<String>,
    #[serde(default)]
    pub trusted_relays: Vec<PublicKey>,
    #[serde(default)]
    pub trusted_relay_settings: TrustedRelaySettings,
    #[serde(default)]
    pub features: Vec<String>,
    /// `quotas`, parsed once with the state: entries that are invalid or do not deserialize
    /// are dropped as [`relay_quotas::parse_quotas`] does; a value that is not an array makes
    /// the config unparsable.
    #[serde(default, deserialize_with = "deserialize_quotas")]
    pub quotas: Vec<relay_quotas::Quota>,
    /// `eventRetention` in days; a value outside 0–65535 makes the config unparsable.
    #[serde(default)]
    pub event_retention: Option<u16>,
}

/// Reads `quotas` as an array, then keeps what [`relay_quotas::parse_quotas`] keeps.
fn deserialize_quotas<'de, D>(deserializer: D) -> Result<Vec<relay_quotas::Quota>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let entries = Vec::<Value>::deserialize(deserializer)?;
    Ok(relay_quotas::parse_quotas(&Value::Array(entries)))
}

impl ProjectConfig {
    /// `eventRetention` in days, [`DEFAULT_EVENT_RETENTION_DAYS`] when unset.
    pub fn event_retention_days(&self) -> u16 {
        self.event_retention.unwrap_or(DEFAULT_EVENT_RETENTION_DAYS)
    }
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectConfig {
            allowed_domains: default_allowed_domains(),
            trusted_relays: Vec::new(),
            trusted_relay_settings: TrustedRelaySettings::default(),
            features: Vec::new(),
            quotas: Vec::new(),
            event_retention: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProjectState {
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    project_id: Option<ProjectId>,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    organization_id: Option<u64>,
    #[serde(default)]
    rev: Option<String>,
    #[serde(default)]
    last_change: Option<String>,
    #[serde(default)]
    public_keys: Vec<PublicKeyConfig>,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    config: Option<Map<String, Value>>,
}

/// A parsed project state.
#[derive(Clone, Debug)]
pub struct ProjectState {
    pub disabled: bool,
    pub project_id: Option<ProjectId>,
    pub slug: Option<String>,
    pub organization_id: Option<u64>,
    pub rev: Option<String>,
    pub last_change: Option<String>,
    pub public_keys: Vec<PublicKeyConfig>,
    /// The advertised upstream of this project, if any.
    pub upstream: Option<String>,
    pub config: ProjectConfig,
    /// `config` exactly as received.
    pub raw_config: Map<String, Value>,
    /// What event normalization reads from `config`, converted once per state instead of
    /// once per event.
    pub normalization: ProjectNormalization,
}

/// The keys of a project config that event normalization reads (project-config.md, the
/// "Normalization" row of the consumers table), in the form `relay-normalization` takes.
#[derive(Clone, Debug, Default)]
pub struct ProjectNormalization {
    /// `groupingConfig`, copied verbatim into every event's `grouping_config`.
    pub grouping_config: Option<relay_event::Object<relay_event::Value>>,
    /// `datascrubbingSettings.scrubIpAddresses`: client IPs must not be filled in.
    pub scrub_ip_addresses: bool,
    /// `txNameRules`.
    pub transaction_name_rules: Option<Arc<Vec<TransactionNameRule>>>,
    /// `measurements` (combined with the global config's, see
    /// [`ProjectNormalization::combined_measurements`]).
    pub measurements: Option<MeasurementsConfig>,
    /// `breakdownsV2`.
    pub breakdowns: Option<Arc<BreakdownsConfig>>,
    /// `performanceScore`.
    pub performance_score: Option<Arc<PerformanceScoreConfig>>,
    /// `measurements` combined with the global config's, kept for the next event.
    combined_measurements: CombinedMeasurementsCache,
}

/// The last [`CombinedMeasurementsConfig`] of a project, with the global config and name
/// limit it was built for: combining copies and deduplicates every builtin measurement, which
/// is wasted work when done per event for the same two configs.
#[derive(Default)]
struct CombinedMeasurementsCache {
    last: Mutex<Option<CombinedMeasurements>>,
}

struct CombinedMeasurements {
    /// Held (not only compared by address), so it cannot be freed and its address reused by
    /// a different global config while cached.
    global: Arc<GlobalNormalization>,
    max_name_length: usize,
    combined: Option<Arc<CombinedMeasurementsConfig>>,
}

impl Clone for CombinedMeasurementsCache {
    /// Derived data: a copy starts empty and combines again when first asked.
    fn clone(&self) -> Self {
        CombinedMeasurementsCache::default()
    }
}

impl std::fmt::Debug for CombinedMeasurementsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CombinedMeasurementsCache")
    }
}

/// `config[key]` deserialized; a key of the wrong shape is logged and treated as absent, so
/// one malformed normalization setting does not disable the whole project.
fn typed_key<T: serde::de::DeserializeOwned>(config: &Map<String, Value>, key: &str) -> Option<T> {
    let value = config.get(key)?;
    match T::deserialize(value) {
        Ok(typed) => Some(typed),
        Err(error) => {
            tracing::warn!(
                key,
                error = &error as &dyn std::error::Error,
                "ignoring a malformed normalization setting of a project config"
            );
            None
        }
    }
}

impl ProjectNormalization {
    /// Reads the normalization keys of a (sanitized) `config`.
    fn from_config(config: &Map<String, Value>) -> ProjectNormalization {
        let grouping_config = match config.get("groupingConfig") {
            Some(grouping @ Value::Object(_)) => {
                relay_event::from_json::<relay_event::Object<relay_event::Value>>(grouping.clone())
                    .into_inner()
            }
            _ => None,
        };
        let scrub_ip_addresses = config
            .get("datascrubbingSettings")
            .and_then(|settings| settings.get("scrubIpAddresses"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        ProjectNormalization {
            grouping_config,
            scrub_ip_addresses,
            transaction_name_rules: typed_key(config, "txNameRules").map(Arc::new),
            measurements: typed_key(config, "measurements"),
            breakdowns: typed_key(config, "breakdownsV2").map(Arc::new),
            performance_score: typed_key(config, "performanceScore").map(Arc::new),
            combined_measurements: CombinedMeasurementsCache::default(),
        }
    }

    /// The project's and the global `measurements` combined
    /// ([`CombinedMeasurementsConfig::new`]); built once per global config, not per event.
    pub fn combined_measurements(
        &self,
        global: &Arc<GlobalNormalization>,
        max_name_length: usize,
    ) -> Option<Arc<CombinedMeasurementsConfig>> {
        let mut last = self.combined_measurements.last.lock();
        if let Some(cached) = last.as_ref() {
            if Arc::ptr_eq(&cached.global, global) && cached.max_name_length == max_name_length {
                return cached.combined.clone();
            }
        }
        let combined = CombinedMeasurementsConfig::new(
            self.measurements.as_ref(),
            global.measurements.as_ref(),
            Some(max_name_length),
        )
        .map(Arc::new);
        *last = Some(CombinedMeasurements {
            global: Arc::clone(global),
            max_name_length,
            combined: combined.clone(),
        });
        combined
    }
}

/// The keys of the global config that event normalization reads (project-config.md §5),
/// parsed once per received global config.
#[derive(Clone, Debug, Default)]
pub struct GlobalNormalization {
    /// `measurements` (combined with the project's per event).
    pub measurements: Option<MeasurementsConfig>,
    /// `aiModelMetadata`.
    pub ai_model_metadata: Option<Arc<AiModelMetadata>>,
    /// `spanOpDefaults`.
    pub span_op_defaults: Option<Arc<SpanOpDefaults>>,
}

impl GlobalNormalization {
    /// Reads the normalization keys of a global config; a malformed key is treated as absent.
    pub fn from_global_config(global: &Value) -> GlobalNormalization {
        let Some(global) = global.as_object() else {
            return GlobalNormalization::default();
        };
        GlobalNormalization {
            measurements: typed_key(global, "measurements"),
            ai_model_metadata: global
                .get("aiModelMetadata")
                .and_then(AiModelMetadata::from_global_config_value)
                .map(Arc::new),
            span_op_defaults: global
                .get("spanOpDefaults")
                .map(|value| Arc::new(SpanOpDefaults::from_global_config_value(value))),
        }
    }
}

impl ProjectState {
    /// Parses one entry of a `configs` map or a static project file.
    pub fn parse(value: Value) -> Result<ProjectState, serde_json::Error> {
        let raw: RawProjectState = serde_json::from_value(value)?;
        let mut raw_config = raw.config.unwrap_or_default();
        // A disabled state ignores its other fields, so there is nothing to sanitize.
        if !raw.disabled {
            sanitize_config(&mut raw_config)?;
        }
        let config: ProjectConfig = serde_json::from_value(Value::Object(raw_config.clone()))?;
        Ok(ProjectState {
            disabled: raw.disabled,
            project_id: raw.project_id,
            slug: raw.slug,
            organization_id: raw.organization_id,
            rev: raw.rev,
            last_change: raw.last_change,
            public_keys: raw.public_keys,
            upstream: raw.upstream,
            config,
            normalization: ProjectNormalization::from_config(&raw_config),
            raw_config,
        })
    }

    /// The numeric key id of `key`, for key-scoped quotas.
    pub fn key_id(&self, key: &ProjectKey) -> Option<u64> {
        self.public_keys
            .iter()
            .find(|entry| &entry.public_key == key)
            .and_then(|entry| entry.numeric_id)
    }

    /// The state as served to a downstream relay (relay-protocol.md §6.1): the full config
    /// only for internal relays that asked for it, else the limited view.
    pub fn to_served_json(&self, full: bool, advertised_upstream: Option<String>) -> Value {
        let mut config = Map::new();
        for key in ALWAYS_WRITTEN_CONFIG_KEYS {
            let value = self.raw_config.get(*key).cloned();
            let value = match (*key, value) {
                (_, Some(value)) => value,
                ("allowedDomains", None) => Value::from(default_allowed_domains()),
                ("trustedRelays", None) => Value::Array(Vec::new()),
                _ => Value::Null,
            };
            config.insert((*key).to_owned(), value);
        }
        for (key, value) in &self.raw_config {
            if config.contains_key(key) {
                continue;
            }
            if !full && !LIMITED_CONFIG_KEYS.contains(&key.as_str()) {
                continue;
            }
            if is_empty_value(value) {
                continue;
            }
            config.insert(key.clone(), value.clone());
        }
        let mut state = Map::new();
        state.insert("disabled".into(), Value::Bool(false));
        state.insert("projectId".into(), serde_json::json!(self.project_id));
        state.insert("lastChange".into(), serde_json::json!(self.last_change));
        state.insert("rev".into(), serde_json::json!(self.rev));
        state.insert("publicKeys".into(), serde_json::json!(self.public_keys));
        state.insert("slug".into(), serde_json::json!(self.slug));
        state.insert("config".into(), Value::Object(config));
        state.insert(
            "organizationId".into(),
            serde_json::json!(self.organization_id),
        );
        if let Some(upstream) = advertised_upstream {
            state.insert("upstream".into(), Value::String(upstream));
        }
        Value::Object(state)
    }
}

/// Sanitizes a `config` object in place (redis-and-quotas.md §2.4). Fails only where the spec
/// makes the whole config unparsable: a quota that does not deserialize (e.g. a negative
/// `limit`, or a `groupBy` without `maxCardinality` or `dimensions`).
fn sanitize_config(config: &mut Map<String, Value>) -> Result<(), serde_json::Error> {
    if let Some(Value::Array(quotas)) = config.get_mut("quotas") {
        let mut kept = Vec::with_capacity(quotas.len());
        for quota in quotas.drain(..) {
            if relay_quotas::Quota::deserialize(&quota)?.is_valid() {
                kept.push(quota);
            }
        }
        *quotas = kept;
    }

    for sampling_key in ["sampling", "dynamicSampling"] {
        if let Some(Value::Object(sampling)) = config.get_mut(sampling_key) {
            normalize_legacy_sampling(sampling);
        }
    }

    let features = config
        .entry("features")
        .or_insert_with(|| Value::Array(Vec::new()));
    // A `features` value of the wrong type is left for the typed parse to reject.
    if let Value::Array(features) = features {
        for feature in GRADUATED_FEATURES {
            if !features
                .iter()
                .any(|present| present.as_str() == Some(feature))
            {
                features.push(Value::String((*feature).to_owned()));
            }
        }
    }
    Ok(())
}

/// Version 1 (the default) sampling configs keep newer rules in `rulesV2`; they are appended
/// to `rules` and the version becomes 2. A config whose shape does not fit is left alone: a
/// broken sampling config only disables sampling (project-config.md §1.3).
fn normalize_legacy_sampling(sampling: &mut Map<String, Value>) {
    let legacy = match sampling.get("version") {
        None | Some(Value::Null) => true,
        Some(version) => version.as_u64() == Some(1),
    };
    if !legacy {
        return;
    }
    let rules_v2 = match sampling.get("rulesV2") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rules)) => rules.clone(),
        Some(_) => return,
    };
    match sampling
        .entry("rules")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(rules) => rules.extend(rules_v2),
        _ => return,
    }
    sampling.remove("rulesV2");
    sampling.insert("version".to_owned(), Value::from(2));
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(values) => values.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_keys_are_parsed_once_and_malformed_ones_ignored() {
        let state = ProjectState::parse(serde_json::json!({"config": {
            "groupingConfig": {"id": "newstyle:2023-01-11"},
            "datascrubbingSettings": {"scrubIpAddresses": true},
            "txNameRules": [{"pattern": "/a/*/**", "expiry": "2030-01-01T00:00:00Z",
                "redaction": {"method": "replace"}}],
            "measurements": {"builtinMeasurements": [{"name": "lcp", "unit": "millisecond"}],
                "maxCustomMeasurements": 5},
            "breakdownsV2": "not an object",
        }}))
        .unwrap();
        let normalization = &state.normalization;
        assert!(normalization.grouping_config.is_some());
        assert!(normalization.scrub_ip_addresses);
        assert_eq!(
            normalization.transaction_name_rules.as_ref().unwrap().len(),
            1
        );
        assert_eq!(
            normalization
                .measurements
                .as_ref()
                .unwrap()
                .max_custom_measurements,
            5
        );
        // A malformed key is absent, the project stays usable.
        assert!(normalization.breakdowns.is_none());
        assert!(normalization.performance_score.is_none());
    }

    #[test]
    fn combined_measurements_are_built_once_per_global_config() {
        let state = ProjectState::parse(serde_json::json!({"config": {
            "measurements": {"builtinMeasurements": [{"name": "lcp", "unit": "millisecond"}],
                "maxCustomMeasurements": 5},
        }}))
        .unwrap();
        let global = Arc::new(GlobalNormalization::from_global_config(
            &serde_json::json!({
                "measurements": {"builtinMeasurements": [{"name": "fcp", "unit": "millisecond"}],
                    "maxCustomMeasurements": 3},
            }),
        ));
        let normalization = &state.normalization;
        let first = normalization.combined_measurements(&global, 200).unwrap();
        let again = normalization.combined_measurements(&global, 200).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let expected = CombinedMeasurementsConfig::new(
            normalization.measurements.as_ref(),
            global.measurements.as_ref(),
            Some(200),
        );
        assert_eq!(Some(&*first), expected.as_ref());
        // A new global config (or limit) combines again.
        let changed = Arc::new(GlobalNormalization::default());
        let other = normalization.combined_measurements(&changed, 200).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        let expected =
            CombinedMeasurementsConfig::new(normalization.measurements.as_ref(), None, Some(200));
        assert_eq!(Some(&*other), expected.as_ref());
        let shorter = normalization.combined_measurements(&changed, 100).unwrap();
        assert!(!Arc::ptr_eq(&other, &shorter));
        // Neither config: nothing to combine.
        let empty = ProjectState::parse(serde_json::json!({"config": {}})).unwrap();
        assert!(empty
            .normalization
            .combined_measurements(&changed, 200)
            .is_none());
    }

    #[test]
    fn global_normalization_keys() {
        let global = GlobalNormalization::from_global_config(&serde_json::json!({
            "measurements": {"builtinMeasurements": [], "maxCustomMeasurements": 10},
            "spanOpDefaults": {"rules": []},
            "aiModelMetadata": "broken",
        }));
        assert_eq!(global.measurements.unwrap().max_custom_measurements, 10);
        assert!(global.span_op_defaults.is_some());
        assert!(global.ai_model_metadata.is_none());
        let empty = GlobalNormalization::from_global_config(&serde_json::json!([]));
        assert!(empty.measurements.is_none());
    }

    fn example() -> Value {
        serde_json::json!({
            "disabled": false,
            "projectId": 42,
            "slug": "python",
            "organizationId": 1,
            "rev": "abc",
            "lastChange": "2025-01-01T00:00:00Z",
            "publicKeys": [{"publicKey": "0123456789abcdef0123456789abcdef", "numericId": 123}],
            "config": {
                "allowedDomains": ["*"],
                "features": ["organizations:foo"],
                "quotas": [{"id": "q", "limit": 0}],
                "sampling": {"version": 2}
            },
            "lastFetch": "ignored"
        })
    }

    #[test]
    fn parses_known_fields_and_ignores_unknown() {
        let state = ProjectState::parse(example()).unwrap();
        assert_eq!(state.project_id, Some(ProjectId(42)));
        assert_eq!(state.config.features[0], "organizations:foo");
        let key = ProjectKey::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(state.key_id(&key), Some(123));
    }

    #[test]
    fn event_retention_is_bounded() {
        let mut value = example();
        value["config"]["eventRetention"] = serde_json::json!(30);
        assert_eq!(
            ProjectState::parse(value.clone())
                .unwrap()
                .config
                .event_retention,
            Some(30)
        );
        value["config"]["eventRetention"] = serde_json::json!(65_536);
        assert!(ProjectState::parse(value.clone()).is_err());
        value["config"]["eventRetention"] = serde_json::json!(-1);
        assert!(ProjectState::parse(value).is_err());
        assert_eq!(
            ProjectState::parse(example())
                .unwrap()
                .config
                .event_retention,
            None
        );
    }

    #[test]
    fn type_mismatch_fails_the_state() {
        let mut value = example();
        value["slug"] = serde_json::json!(99);
        assert!(ProjectState::parse(value).is_err());
    }

    #[test]
    fn graduated_features_are_added_once() {
        let state = ProjectState::parse(example()).unwrap();
        let features = &state.config.features;
        assert_eq!(features[0], "organizations:foo");
        for feature in GRADUATED_FEATURES {
            assert_eq!(
                features.iter().filter(|f| f == feature).count(),
                1,
                "{feature}"
            );
        }
        assert_eq!(features.len(), 1 + GRADUATED_FEATURES.len());
        // Served configs carry them, and parsing a served config adds nothing twice.
        let served = state.to_served_json(true, None);
        let again = ProjectState::parse(served).unwrap();
        assert_eq!(&again.config.features, features);

        let bare = ProjectState::parse(serde_json::json!({})).unwrap();
        assert_eq!(bare.config.features.len(), GRADUATED_FEATURES.len());
        let disabled = ProjectState::parse(serde_json::json!({"disabled": true})).unwrap();
        assert!(disabled.config.features.is_empty());
    }

    #[test]
    fn invalid_quotas_are_removed_and_malformed_ones_fail_the_state() {
        let mut value = example();
        value["config"]["quotas"] = serde_json::json!([
            {"id": "ok", "categories": ["error"], "limit": 10, "window": 60},
            {"id": "mixed-units", "categories": ["error", "attachment"], "limit": 10, "window": 60},
            {"id": "no-categories", "limit": 10, "window": 60},
            {"limit": 0, "reasonCode": "reject-all"},
            {"id": "bad-namespace", "categories": ["metric_bucket"], "limit": 1, "window": 1,
             "namespace": "nope"}
        ]);
        let state = ProjectState::parse(value.clone()).unwrap();
        let ids: Vec<Option<&str>> = state
            .config
            .quotas
            .iter()
            .map(|quota| quota.id.as_deref())
            .collect();
        assert_eq!(ids, [Some("ok"), None]);
        assert_eq!(state.raw_config["quotas"].as_array().unwrap().len(), 2);

        value["config"]["quotas"] = serde_json::json!([{"id": "neg", "limit": -1}]);
        assert!(ProjectState::parse(value.clone()).is_err());
        value["config"]["quotas"] =
            serde_json::json!([{"limit": 0, "groupBy": {"dimensions": ["checkInSlug"]}}]);
        assert!(ProjectState::parse(value.clone()).is_err());
        value["config"]["quotas"] = serde_json::json!({"limit": 0});
        assert!(ProjectState::parse(value.clone()).is_err());

        // A disabled state is not sanitized; its typed quotas still drop what `parse_quotas`
        // drops.
        value["disabled"] = Value::Bool(true);
        value["config"]["quotas"] =
            serde_json::json!([{"id": "neg", "limit": -1}, {"limit": 0}, {"id": "x", "limit": 1}]);
        let state = ProjectState::parse(value).unwrap();
        assert_eq!(state.config.quotas.len(), 1);
        assert!(state.config.quotas[0].is_reject_all());
    }

    #[test]
    fn legacy_sampling_is_normalized() {
        let mut value = example();
        value["config"]["sampling"] = serde_json::json!({
            "rules": [{"id": 1}],
            "rulesV2": [{"id": 2}, {"id": 3}]
        });
        let state = ProjectState::parse(value.clone()).unwrap();
        assert_eq!(
            Value::Object(state.raw_config)["sampling"],
            serde_json::json!({"rules": [{"id": 1}, {"id": 2}, {"id": 3}], "version": 2})
        );

        value["config"]["sampling"] =
            serde_json::json!({"version": 2, "rules": [], "rulesV2": [1]});
        let state = ProjectState::parse(value.clone()).unwrap();
        assert_eq!(
            state.raw_config["sampling"],
            serde_json::json!({"version": 2, "rules": [], "rulesV2": [1]})
        );
        // A broken sampling config is not an error.
        value["config"]["sampling"] = serde_json::json!({"version": 1, "rules": 5});
        assert!(ProjectState::parse(value).is_ok());
    }

    #[test]
    fn limited_view_withholds_quotas_and_sampling() {
        let state = ProjectState::parse(example()).unwrap();
        let limited = state.to_served_json(false, None);
        let config = limited["config"].as_object().unwrap();
        let keys: Vec<&str> = config.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["allowedDomains", "trustedRelays", "piiConfig", "features"]
        );
        let full = state.to_served_json(true, Some("http://up/".into()));
        assert!(full["config"].get("quotas").is_some());
        assert_eq!(full["upstream"], "http://up/");
        let top: Vec<&str> = full
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            top,
            [
                "disabled",
                "projectId",
                "lastChange",
                "rev",
                "publicKeys",
                "slug",
                "config",
                "organizationId",
                "upstream"
            ]
        );
    }
}
