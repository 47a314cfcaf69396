//! Event normalization (normalization.md): the normalization steps as [`Processor`]s over the
//! typed event model of `relay-event`.
//!
//! Every step is a pure transformation of an [`Annotated<Event>`]: no I/O, no server
//! dependency. What a step changes or rejects is recorded in the meta of the affected value
//! (`_meta` on output), never lost silently. [`normalize_event`] runs the implemented steps in
//! the order of normalization.md §3:
//!
//! | § | step | module | runs when |
//! |---|---|---|---|
//! | §4.1 | clock-drift correction from the envelope's `sent_at` | [`clock_drift`] | [`NormalizationConfig::sent_at`] is set |
//! | §4.2 | past/future timestamps, `received`, a missing `timestamp` | [`timestamps`] | not renormalizing |
//! | §4.3 | stale (pre-1970) timestamps; may reject | [`timestamps`] | not renormalizing |
//! | §5 | transaction checks; may reject | [`transaction_validation`] | not renormalizing |
//! | §6.1, §2 | legacy conversions and parse-time aliases | [`legacy`] | always |
//! | §6.2 | schema checks: `trim_whitespace`, `nonempty`, characters, `required` | [`schema`] | not renormalizing |
//! | §7 | field steps 1–27 (26 and 27 partly), 29 | [`fields`] and the modules it lists | not renormalizing |
//! | §8.3 | stack frame limits: frame count and frame-data slimming | [`frame_limits`] | [`NormalizationConfig::enable_trimming`] |
//! | §8.1, §8.2 | trimming: string limits and databag budgets | [`trimming`] | [`NormalizationConfig::enable_trimming`] |
//! | §9 | removal of unknown attributes | [`remove_other`] | [`NormalizationConfig::remove_other`] (default: not renormalizing) |
//! | §10.2 | the `errors` list | [`event_errors`] | [`NormalizationConfig::emit_event_errors`] (default: not renormalizing) |
//!
//! # Not implemented yet
//!
//! These steps of normalization.md are not part of this crate yet; [`normalize_event`] leaves
//! the event as they would find it:
//!
//! * the field steps of §7 listed as not implemented in [`fields`]: the DSC-derived span data
//!   of span normalization (27).
//!
//! Replay events are not events: [`replay`] validates and normalizes them with the same
//! building blocks (schema checks, trimming, user agent → contexts, GeoIP).
//!
//! The project and global config parts that normalization needs are typed here, deserialized
//! from the config JSON (project-config.md §2, §5) by the server and passed in through
//! [`NormalizationConfig`]: [`transaction_name_rules::TransactionNameRule`] (`txNameRules`),
//! [`measurements::MeasurementsConfig`] (project and global `measurements`, combined into
//! [`measurements::CombinedMeasurementsConfig`]), [`breakdowns::BreakdownsConfig`]
//! (`breakdownsV2`), [`performance_score::PerformanceScoreConfig`] (`performanceScore`),
//! [`ai_costs::AiModelMetadata`] (global `aiModelMetadata`) and
//! [`span_op_defaults::SpanOpDefaults`] (global `spanOpDefaults`).
//!
//! The step modules can also be used on their own: each exposes its processor, to be run with
//! [`relay_event::process_value`] from [`ProcessingState::root`].

#![warn(missing_docs)]

pub mod ai_costs;
pub mod android_models;
pub mod app_start;
pub mod breakdowns;
pub mod clock_drift;
pub mod contexts;
pub mod debug_images;
pub mod defaults;
pub mod device_class;
pub mod dsc_context;
pub mod event_errors;
pub mod exceptions;
pub mod exclusive_time;
pub mod fields;
pub mod frame_limits;
pub mod geo;
mod glob;
pub mod legacy;
pub mod logentry;
pub mod measurements;
pub mod mechanism;
pub mod performance_score;
pub mod raw_descriptions;
pub mod release;
pub mod remove_other;
pub mod replay;
pub mod request;
pub mod rule_condition;
pub mod schema;
pub mod security_report;
pub mod span_conventions;
pub mod span_op_defaults;
pub mod stacktrace;
pub mod tags;
pub mod timestamps;
pub mod trace_tags;
pub mod transaction_name_rules;
pub mod transaction_validation;
pub mod transactions;
pub mod trimming;
pub mod user;
pub mod user_agent;
mod util;
pub mod validation;

use relay_event::schema::Event;
use relay_event::{
    process_value, Annotated, ProcessingAction, ProcessingState, Processor, Timestamp,
};

pub use clock_drift::ClockDriftProcessor;
pub use event_errors::{emit_event_errors, EventErrorsProcessor};
pub use remove_other::RemoveOtherProcessor;
pub use schema::SchemaProcessor;
pub use transaction_validation::TimestampRange;
pub use trimming::{trim_string, TrimmingProcessor};
pub use validation::{validate_event, ValidationConfig};

/// The knobs of normalization (normalization.md §1.1) that the implemented steps use.
///
/// The config-dependent steps run only when their config is set (`None`: the step does not
/// run).
#[derive(Clone, Debug, Default)]
pub struct NormalizationConfig {
    /// Renormalize an already normalized event (normalization.md §12): skips the schema
    /// checks and defaults [`Self::remove_other`] and [`Self::emit_event_errors`] to off.
    pub is_renormalize: bool,
    /// Cut strings and databags to their limits (normalization.md §8). Off by default, on in
    /// the server pipeline.
    pub enable_trimming: bool,
    /// Remove unknown attributes (normalization.md §9); `None` means `!is_renormalize`.
    pub remove_other: Option<bool>,
    /// Append the `errors` list (normalization.md §10.2); `None` means `!is_renormalize`.
    pub emit_event_errors: Option<bool>,
    /// When the event was received (normalization.md §4); `None` means now, read when
    /// [`normalize_event`] runs. Becomes `received` and the reference of the clock-drift
    /// correction and of the past/future limits.
    pub received_at: Option<Timestamp>,
    /// The envelope's `sent_at`, for the clock-drift correction (normalization.md §4.1), which
    /// runs even when renormalizing; `None`: no correction (as in `StoreNormalizer`).
    pub sent_at: Option<Timestamp>,
    /// Event timestamps more than this many seconds before `received_at` are moved onto it as
    /// `past_timestamp` (normalization.md §4.2); `None`: no limit. The server uses the
    /// project's retention days × 86 400.
    pub max_secs_in_past: Option<u64>,
    /// Event timestamps more than this many seconds after `received_at` are moved onto it as
    /// `future_timestamp` (normalization.md §4.2); `None`: no limit. The server uses
    /// `processing.max_secs_in_future` (60).
    pub max_secs_in_future: Option<u64>,
    /// The range `[start, end)` transaction and span timestamps must fall into
    /// (normalization.md §5); `None`: no range. The server uses `[now − 5 days, now + 60 s)`.
    pub transaction_range: Option<TimestampRange>,
    /// The submitting client's IP address (normalization.md §1.1, §7.1); only used when
    /// [`Self::infer_ip_address`] is set.
    pub client_ip: Option<std::net::IpAddr>,
    /// Infer user IP addresses from [`Self::client_ip`] (§7.1, §7 step 3). Off by default (as
    /// in `StoreNormalizer`); the server uses `!datascrubbingSettings.scrubIpAddresses`.
    pub infer_ip_address: bool,
    /// The project id written to `project` (§7.8); `None` clears it.
    pub project_id: Option<u64>,
    /// The numeric id of the DSN key, written to `key_id` as a string (§7.8); `None` clears it.
    pub key_id: Option<u64>,
    /// The protocol version (`sentry_version`), written to `version` as a string (§7.8);
    /// `None` clears it.
    pub protocol_version: Option<u16>,
    /// The client string of the request (`sentry_client`, e.g. `sentry.python/2.1.0`): an
    /// event without `sdk` gets its name and version from it (§7.8).
    pub client: Option<String>,
    /// The project's `groupingConfig`, written to `grouping_config` (§7.8); `None` clears it.
    pub grouping_config: Option<relay_event::Object<relay_event::Value>>,
    /// The project's `txNameRules` (project-config.md §2), applied to sanitized transaction
    /// names in §7 step 2 ([`transaction_name_rules`]); `None`: no rules.
    pub transaction_name_rules:
        Option<std::sync::Arc<Vec<transaction_name_rules::TransactionNameRule>>>,
    /// The project's and global `measurements` configs combined (§7 step 18,
    /// [`measurements`]); `None`: only the config-free part of step 18 runs.
    pub measurements: Option<std::sync::Arc<measurements::CombinedMeasurementsConfig>>,
    /// Span normalization (normalization.md §1.1; `StoreNormalizer`'s `normalize_spans`):
    /// rewrites deprecated span-data attribute names of transactions (§7 step 1) and computes
    /// the exclusive time of spans (§7 step 27, [`exclusive_time`]). Off by default (as in
    /// `StoreNormalizer`), on in the server pipeline.
    pub normalize_spans: bool,
    /// The project's `breakdownsV2` (§7 step 20, [`breakdowns`]); `None`: no breakdowns.
    pub breakdowns: Option<std::sync::Arc<breakdowns::BreakdownsConfig>>,
    /// The project's `performanceScore` (§7 step 20, [`performance_score`]); `None`: no
    /// scores.
    pub performance_score: Option<std::sync::Arc<performance_score::PerformanceScoreConfig>>,
    /// The global `aiModelMetadata` (§7 step 20, [`ai_costs`]); `None`: no AI costs.
    pub ai_model_metadata: Option<std::sync::Arc<ai_costs::AiModelMetadata>>,
    /// The global `spanOpDefaults` (§7 step 2, [`span_op_defaults`]); `None`: spans without
    /// op get `default`.
    pub span_op_defaults: Option<std::sync::Arc<span_op_defaults::SpanOpDefaults>>,
    /// The GeoIP database for `user.geo` (§7 step 5); `None`: no location (as in
    /// `StoreNormalizer`). The server opens `relay_config::Config::geoip_path` once.
    pub geoip_lookup: Option<std::sync::Arc<geo::GeoIpLookup>>,
    /// The `User-Agent` and client hints of the submitting request, recorded in the request
    /// headers of CSP reports (§7 step 3; `StoreNormalizer`'s `user_agent` and
    /// `client_hints`); `None`: nothing recorded.
    pub submitter_headers: Option<security_report::SubmitterHeaders>,
    /// The replay id of the trace (the server takes the DSC's `replay_id`): becomes
    /// `contexts.replay` (§7 step 23); `None` leaves the event's replay context alone.
    pub replay_id: Option<relay_event::schema::EventId>,
    /// The client's sample rate (the server takes the DSC's `sample_rate`): becomes
    /// `contexts.trace.client_sample_rate` (§7 step 29); `None` clears it.
    pub client_sample_rate: Option<f64>,
    /// Fill the `browser`, `device` and `os`/`client_os` contexts from the event's
    /// `request.headers` user agent and client hints (normalization.md §7 step 17). Off by
    /// default (as in `StoreNormalizer`); the server pipeline turns it on.
    pub normalize_user_agent: bool,
}

impl NormalizationConfig {
    /// Whether unknown attributes are removed.
    pub fn removes_other(&self) -> bool {
        self.remove_other.unwrap_or(!self.is_renormalize)
    }

    /// Whether the `errors` list is emitted.
    pub fn emits_event_errors(&self) -> bool {
        self.emit_event_errors.unwrap_or(!self.is_renormalize)
    }

    /// `received_at`, or now when it is not set.
    pub fn received_at_or_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.received_at.map_or_else(chrono::Utc::now, |t| t.0)
    }

    /// The knobs of validation, with `received_at` resolved (`None` means now).
    pub fn validation(&self) -> ValidationConfig {
        ValidationConfig {
            received_at: self
                .received_at
                .unwrap_or_else(|| Timestamp(chrono::Utc::now())),
            max_secs_in_past: self.max_secs_in_past,
            max_secs_in_future: self.max_secs_in_future,
            transaction_range: self.transaction_range,
        }
    }
}

/// Runs one processor over the whole event. The implemented steps never reject an event.
fn run<P: Processor>(event: &mut Annotated<Event>, processor: &mut P) {
    // Only `InvalidTransaction` is returned, which none of these processors produce.
    let _ = process_value(event, processor, &ProcessingState::root());
}

/// Normalizes `event` in place with the implemented steps, in the order of normalization.md
/// §3: clock-drift correction (with `sent_at`), validation (unless renormalizing), schema
/// checks (unless renormalizing), trimming (if enabled), removal of unknown attributes (if
/// enabled), the `errors` list (if enabled).
///
/// `Err` ([`ProcessingAction::InvalidTransaction`], written as `invalid transaction event:
/// <reason>`) rejects the event (normalization.md §4.3, §5): the caller drops it with the
/// outcome `invalid`; the event is then left half-processed and must not be used.
pub fn normalize_event(
    event: &mut Annotated<Event>,
    config: &NormalizationConfig,
) -> Result<(), ProcessingAction> {
    let validation = config.validation();
    ClockDriftProcessor::new(config.sent_at, validation.received_at).apply(event);
    if !config.is_renormalize {
        validate_event(event, &validation)?;
    }
    legacy::convert_legacy(event);
    if !config.is_renormalize {
        run(event, &mut SchemaProcessor);
        fields::normalize_fields(event, config);
    }
    if config.enable_trimming {
        if let Some(event) = event.value_mut() {
            frame_limits::limit_frames(event);
        }
        run(event, &mut TrimmingProcessor::new());
    }
    if config.removes_other() {
        run(event, &mut RemoveOtherProcessor);
    }
    if let Some(event) = event.value_mut() {
        remove_other::drop_empty_sdk_list_elements(event);
    }
    if config.emits_event_errors() {
        emit_event_errors(event);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    /// 2024-01-01T00:00:00Z, the received time of normalization.md's examples.
    const RECEIVED_AT: f64 = 1704067200.0;

    fn received_at() -> Option<Timestamp> {
        Timestamp::from_seconds(RECEIVED_AT).ok()
    }

    /// Normalizes with `received_at` defaulting to [`RECEIVED_AT`] (so validation adds
    /// `"timestamp": 1704067200.0, "received": 1704067200.0` to events without timestamp).
    fn normalize(input: serde_json::Value, config: &NormalizationConfig) -> serde_json::Value {
        let config = NormalizationConfig {
            received_at: config.received_at.or_else(received_at),
            ..config.clone()
        };
        let mut event: Annotated<Event> = from_json(input);
        match normalize_event(&mut event, &config) {
            Ok(()) => to_json(&event).unwrap_or_default(),
            Err(error) => json!({"rejected": error.to_string()}),
        }
    }

    #[test]
    fn defaults_check_schema_remove_other_and_emit_errors() {
        // The default attributes (§7.8) are covered in `defaults`.
        assert_eq!(
            pick(
                normalize(
                    json!({"dist": "a b", "foo": "bar"}),
                    &NormalizationConfig::default()
                ),
                &["timestamp", "received", "dist", "errors", "foo", "_meta"]
            ),
            json!({"timestamp": RECEIVED_AT, "received": RECEIVED_AT, "dist": null,
                "errors": [
                    {"type": "invalid_data", "name": "dist", "value": "a b",
                        "reason": "invalid character ' '"},
                    {"type": "invalid_attribute", "name": "foo"},
                ],
                "foo": null,
                "_meta": {
                    "dist": {"": {"err": [["invalid_data", {"reason": "invalid character ' '"}]],
                        "val": "a b"}},
                    "foo": {"": {"err": ["invalid_attribute"]}}}})
        );
    }

    #[test]
    fn renormalize_keeps_unknown_attributes_and_emits_nothing() {
        // §12: `{"foo": "x", "logentry": {"message": "m", "x": 1}}` is returned unchanged.
        let config = NormalizationConfig {
            is_renormalize: true,
            ..NormalizationConfig::default()
        };
        let input = json!({"logentry": {"message": "m", "x": 1}, "foo": "x"});
        assert_eq!(normalize(input.clone(), &config), input);
        // Schema checks are skipped, too.
        let input = json!({"dist": "a b"});
        assert_eq!(normalize(input.clone(), &config), input);
    }

    #[test]
    fn trimming_runs_only_when_enabled() {
        let input = json!({"culprit": "x".repeat(201)});
        let config = NormalizationConfig::default();
        assert_eq!(
            pick(
                normalize(input.clone(), &config),
                &["culprit", "timestamp", "received", "_meta"]
            ),
            json!({"culprit": "x".repeat(201), "timestamp": RECEIVED_AT, "received": RECEIVED_AT})
        );
        let config = NormalizationConfig {
            enable_trimming: true,
            ..config
        };
        assert_eq!(
            normalize(input, &config)["_meta"]["culprit"][""]["len"],
            json!(201)
        );
    }

    #[test]
    fn explicit_switches_override_the_defaults() {
        let config = NormalizationConfig {
            remove_other: Some(false),
            emit_event_errors: Some(false),
            ..NormalizationConfig::default()
        };
        let input = json!({"foo": "bar", "release": ""});
        assert_eq!(
            pick(
                normalize(input, &config),
                &["timestamp", "received", "release", "foo", "_meta"]
            ),
            json!({"timestamp": RECEIVED_AT, "received": RECEIVED_AT, "release": null,
                "foo": "bar", "_meta": {"release": {"": {
                "err": [["invalid_data", {"reason": "expected a non-empty string"}]]}}}})
        );
    }

    /// Only the `keys` of `output` (the timestamp steps' output, without the defaults other
    /// steps add).
    fn pick(output: serde_json::Value, keys: &[&str]) -> serde_json::Value {
        let picked = keys
            .iter()
            .filter_map(|key| Some(((*key).to_owned(), output.get(*key)?.clone())))
            .collect();
        serde_json::Value::Object(picked)
    }

    #[test]
    fn past_timestamp_is_reported_in_meta_and_errors() {
        // normalization.md §4.2, verified example (max_secs_in_past = 86 400).
        let config = NormalizationConfig {
            max_secs_in_past: Some(86_400),
            ..NormalizationConfig::default()
        };
        let input = json!({"timestamp": "2023-12-01T00:00:00Z",
            "breadcrumbs": [{"timestamp": "2023-11-30T23:59:00Z"}]});
        let output = normalize(input, &config);
        assert_eq!(
            output["breadcrumbs"]["values"][0]["timestamp"],
            json!(1704067140.0)
        );
        assert_eq!(
            pick(output, &["timestamp", "received", "errors", "_meta"]),
            json!({"timestamp": 1704067200.0, "received": 1704067200.0,
                "errors": [{"type": "past_timestamp", "name": "timestamp",
                    "sdk_time": "2023-12-01T00:00:00+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}],
                "_meta": {"timestamp": {"": {"err": [["past_timestamp", {
                    "sdk_time": "2023-12-01T00:00:00+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}]]}}}})
        );
    }

    #[test]
    fn clock_drift_runs_before_validation() {
        // sent_at two hours behind: everything moves two hours forward, then the future check
        // (60 s) finds nothing; `received` is the received time.
        let config = NormalizationConfig {
            sent_at: Timestamp::from_seconds(RECEIVED_AT - 7200.0).ok(),
            max_secs_in_future: Some(60),
            ..NormalizationConfig::default()
        };
        let input = json!({"timestamp": RECEIVED_AT - 7230.0, "received": 1});
        assert_eq!(
            pick(
                normalize(input, &config),
                &["timestamp", "received", "errors", "_meta"]
            ),
            json!({"timestamp": RECEIVED_AT - 30.0, "received": RECEIVED_AT,
                "errors": [{"type": "clock_drift", "name": "timestamp",
                    "sdk_time": "2023-12-31T22:00:00+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}],
                "_meta": {"timestamp": {"": {"err": [["clock_drift", {
                    "sdk_time": "2023-12-31T22:00:00+00:00",
                    "server_time": "2024-01-01T00:00:00+00:00"}]]}}}})
        );
    }

    #[test]
    fn rejections_stop_normalization() {
        let config = NormalizationConfig::default();
        // normalization.md §13: `{"timestamp": -5}` is rejected.
        assert_eq!(
            normalize(json!({"timestamp": -5}), &config),
            json!({"rejected": "invalid transaction event: timestamp is too stale"})
        );
        assert_eq!(
            normalize(
                json!({"type": "transaction", "timestamp": 10, "start_timestamp": 20}),
                &config
            ),
            json!({"rejected": "invalid transaction event: end timestamp is smaller than start timestamp"})
        );
        // Without a timestamp the received time is used, so only start_timestamp is missing.
        assert_eq!(
            normalize(json!({"type": "transaction"}), &config),
            json!({"rejected":
                "invalid transaction event: start_timestamp hard-required for transaction events"})
        );
    }

    #[test]
    fn request_transaction_and_frame_steps_are_wired() {
        // §7.9 (step 24) and §10.2; output of StoreNormalizer 0.10.1 except that Sentry lists
        // the cookie error twice in `errors`.
        let input = json!({"request": {"method": "get x", "cookies": "bad"}});
        let output = normalize(input, &NormalizationConfig::default());
        assert_eq!(
            pick(output, &["request", "errors", "_meta"]),
            json!({"request": {"method": null, "cookies": []},
                "errors": [
                    {"type": "invalid_data", "name": "request.method", "value": "GET X"},
                    {"type": "invalid_data", "name": "request.cookies", "value": "bad",
                        "reason": "the cookie is missing a name/value pair"}],
                "_meta": {"request": {
                    "method": {"": {"err": ["invalid_data"], "val": "GET X"}},
                    "cookies": {"": {"err": [["invalid_data",
                        {"reason": "the cookie is missing a name/value pair"}]],
                        "val": "bad"}}}}})
        );
        // §7 step 2.
        let input = json!({"type": "transaction", "transaction": "/a/11",
            "transaction_info": {"source": "url"}, "start_timestamp": 1704067100,
            "timestamp": 1704067190, "contexts": {"trace": {
                "trace_id": "a".repeat(32), "span_id": "b".repeat(16)}}});
        let output = normalize(input, &NormalizationConfig::default());
        assert_eq!(
            pick(
                output.clone(),
                &["transaction", "transaction_info", "_meta"]
            ),
            json!({"transaction": "/a/*", "transaction_info": {"source": "sanitized"},
                "_meta": {"transaction": {"": {"rem": [["int", "s", 3, 5]],
                    "val": "/a/11"}}}})
        );
        assert_eq!(output["contexts"]["trace"]["op"], json!("default"));
        // §8.3 only with trimming.
        let frames: Vec<_> = (0..251).map(|i| json!({"lineno": i + 1})).collect();
        let input = json!({"stacktrace": {"frames": frames}});
        let config = NormalizationConfig::default();
        assert!(normalize(input.clone(), &config).get("_meta").is_none());
        let config = NormalizationConfig {
            enable_trimming: true,
            ..config
        };
        let output = normalize(input, &config);
        assert_eq!(
            output["_meta"],
            json!({"stacktrace": {"frames": {"": {"len": 251}}}})
        );
        assert_eq!(output["stacktrace"]["frames"][50]["lineno"], json!(52));
    }

    #[test]
    fn geoip_step_is_wired_and_uses_the_raw_client_ip() {
        use geo::testutils::{build_test_database, TestGeoRecord};
        let database = build_test_database(&[(
            "2.125.160.0/24",
            TestGeoRecord::new("GB", "United Kingdom", "England", "Boxford"),
        )])
        .unwrap();
        let config = NormalizationConfig {
            geoip_lookup: Some(std::sync::Arc::new(
                geo::GeoIpLookup::from_bytes(database).unwrap(),
            )),
            client_ip: "2.125.160.216".parse().ok(),
            ..NormalizationConfig::default()
        };
        // IP inference is off: `ip_address` stays `{{auto}}`, yet the client IP is located.
        let output = normalize(json!({"user": {"ip_address": "{{auto}}"}}), &config);
        assert_eq!(
            output["user"],
            json!({"ip_address": "{{auto}}", "sentry_user": "ip:{{auto}}", "geo": {
                "country_code": "GB", "city": "Boxford", "subdivision": "England",
                "region": "United Kingdom"}})
        );
        // Renormalizing runs no field steps.
        let config = NormalizationConfig {
            is_renormalize: true,
            ..config
        };
        assert_eq!(normalize(json!({}), &config).get("user"), None);
    }

    #[test]
    fn knob_steps_are_wired_in_order() {
        // §7 steps 3, 22, 23, 29; StoreNormalizer 0.10.1 with `user_agent`,
        // `client_sample_rate` and `replay_id`.
        let config = NormalizationConfig {
            submitter_headers: Some(security_report::SubmitterHeaders {
                user_agent: Some("UA".to_owned()),
                ..Default::default()
            }),
            client_sample_rate: Some(0.25),
            replay_id: Some(relay_event::schema::EventId(
                "a0df9022835246eeb317dbd739ccd059".parse().unwrap(),
            )),
            ..NormalizationConfig::default()
        };
        let input = json!({"event_id": "52df9022835246eeb317dbd739ccd059",
            "csp": {"effective_directive": "script-src"},
            "contexts": {"trace": {"data": {"browser.web_vital.lcp.element": "img"}}}});
        assert_eq!(
            pick(
                normalize(input, &config),
                &["request", "tags", "contexts", "logger"]
            ),
            json!({"request": {"headers": [["User-Agent", "UA"]]},
                "tags": [["lcp.element", "img"]],
                "contexts": {
                    "replay": {"replay_id": "a0df9022835246eeb317dbd739ccd059",
                        "type": "replay"},
                    "trace": {"trace_id": "52df9022835246eeb317dbd739ccd059",
                        "span_id": "52df9022835246ee", "status": "unknown",
                        "client_sample_rate": 0.25,
                        "data": {"browser.web_vital.lcp.element": "img"}, "type": "trace"}},
                "logger": "csp"})
        );
        // §7 steps 19 then 22: their tags follow the event's.
        let input = json!({"type": "transaction", "transaction": "Main",
            "start_timestamp": 1704067100, "timestamp": 1704067190,
            "contexts": {"trace": {"trace_id": "a".repeat(32), "span_id": "b".repeat(16),
                "op": "ui.load", "data": {"browser.web_vital.lcp.size": 10}}},
            "measurements": {"app_start_cold": {"value": 100, "unit": "millisecond"}},
            "tags": {"a": "b"}});
        assert_eq!(
            pick(
                normalize(input, &NormalizationConfig::default()),
                &["tags", "measurements", "contexts"]
            ),
            json!({"tags": [["a", "b"], ["app.vitals.start.type", "cold"], ["lcp.size", "10"]],
                "measurements": {
                    "app.vitals.start.value": {"value": 100.0, "unit": "millisecond"},
                    "app_start_cold": {"value": 100.0, "unit": "millisecond"}},
                "contexts": {"trace": {"trace_id": "a".repeat(32), "span_id": "b".repeat(16),
                    "op": "ui.load", "status": "unknown", "data": {
                        "app.vitals.start.screen": "Main", "browser.web_vital.lcp.size": 10},
                    "type": "trace"}}})
        );
    }

    #[test]
    fn context_steps_are_wired_in_order() {
        // §7 steps 14, 17 and 26 with StoreNormalizer 0.10.1 outputs: the user agent step is
        // off by default; when on, its iPhone device comes after the device class step (no
        // tag), and the descriptions of §7.10 are computed for the new contexts.
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1";
        let input = json!({"request": {"headers": {"User-Agent": iphone}},
            "contexts": {"runtime": {"raw_description": ".NET Framework 4.8.4250.0"}}});
        let runtime = json!({"runtime": ".NET Framework 4.8.4250.0", "name": ".NET Framework",
            "version": "4.8.4250.0", "raw_description": ".NET Framework 4.8.4250.0",
            "type": "runtime"});
        let output = normalize(input.clone(), &NormalizationConfig::default());
        assert_eq!(output["contexts"]["runtime"], runtime);
        assert!(output["contexts"].get("browser").is_none());
        let config = NormalizationConfig {
            normalize_user_agent: true,
            ..NormalizationConfig::default()
        };
        let output = normalize(input, &config);
        assert_eq!(
            pick(
                output["contexts"].clone(),
                &["browser", "client_os", "device", "runtime"]
            ),
            json!({"browser": {"browser": "Mobile Safari 16.5", "name": "Mobile Safari",
                    "version": "16.5", "type": "browser"},
                "client_os": {"os": "iOS 16.5", "name": "iOS", "version": "16.5", "type": "os"},
                "device": {"family": "iPhone", "model": "iPhone", "brand": "Apple",
                    "type": "device"},
                "runtime": runtime})
        );
        assert!(output.get("tags").is_none());
        // A client-sent device context yields the tag.
        let input = json!({"contexts": {"device": {"family": "iOS", "model": "iPhone8,4"}},
            "tags": {"device.class": "3"}});
        let output = normalize(input, &config);
        assert_eq!(output["tags"], json!([["device.class", "1"]]));
    }

    #[test]
    fn renormalizing_skips_validation() {
        let config = NormalizationConfig {
            is_renormalize: true,
            max_secs_in_past: Some(60),
            ..NormalizationConfig::default()
        };
        let input = json!({"type": "transaction", "timestamp": -5.0});
        assert_eq!(normalize(input.clone(), &config), input);
    }
}
