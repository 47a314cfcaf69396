//! Validation and normalization of replay events (processing.md §3.7 step 4): the event that
//! describes one segment of a session replay ([`Replay`]).
//!
//! The replay event is not an event: it goes through its own, smaller set of steps, built from
//! the same pieces as event normalization so both behave alike where they overlap:
//!
//! 1. [`validate_replay`]: a `segment_id` above 65535 is rejected (the replays consumer stores
//!    it as a 16-bit number), as Sentry's Relay does
//!    (<https://github.com/getsentry/relay/pull/4635>).
//! 2. [`normalize_replay`]:
//!    * schema checks of the field attributes (normalization.md §6.2: `release`, `dist`,
//!      `environment` trimmed and non-empty) and string trimming (§8.1);
//!    * `error_ids`, `trace_ids` and `urls` capped at [`MAX_REPLAY_ARRAY_ITEMS`] items each,
//!      so one replay cannot produce an oversized Kafka message
//!      (<https://github.com/getsentry/relay/pull/1910>);
//!    * `user.ip_address`: `{{auto}}` becomes the client IP, or is removed when the project
//!      scrubs IP addresses or the client address is unknown;
//!    * user agent → `browser` / `device` / `os` contexts (normalization.md §7.7), from the
//!      replay's own `request.headers`, else from the submitting HTTP request (browser SDKs
//!      send replays from the recorded browser, so both name the same user agent);
//!    * GeoIP (`user.geo`, normalization.md §7 step 5) when a database is configured.
//!
//! Timestamps follow the span-like rules of processing.md §3.2a, which need the envelope's
//! `sent_at` and the project's retention: the server applies them.

use std::net::IpAddr;

use relay_event::schema::{Replay, User};
use relay_event::{process_value, Annotated, ProcessingState, Processor};

use crate::geo::{fill_user_geo, GeoIpLookup};
use crate::security_report::SubmitterHeaders;
use crate::trimming::TrimmingProcessor;
use crate::user_agent::fill_user_agent_contexts;
use crate::SchemaProcessor;

/// The highest `segment_id` the replays consumer accepts (it stores a 16-bit number).
pub const MAX_SEGMENT_ID: u64 = u16::MAX as u64;

/// At most this many `error_ids`, `trace_ids` and `urls` are kept per replay event.
pub const MAX_REPLAY_ARRAY_ITEMS: usize = 100;

/// The client IP placeholder of SDKs.
const AUTO_IP: &str = "{{auto}}";

/// Why a replay event is rejected (`invalid`/`invalid_replay`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayValidationError {
    /// The payload is `null` or not an object.
    #[error("the replay event is not an object")]
    NotAnObject,
    /// `segment_id` does not fit the 16 bits the consumer stores.
    #[error("segment_id {segment_id} exceeds the maximum of {MAX_SEGMENT_ID}")]
    SegmentIdTooLarge {
        /// The segment id sent.
        segment_id: u64,
    },
}

/// Checks what would make the replay event unusable downstream.
pub fn validate_replay(replay: &Annotated<Replay>) -> Result<(), ReplayValidationError> {
    let Some(replay) = replay.value() else {
        return Err(ReplayValidationError::NotAnObject);
    };
    if let Some(&segment_id) = replay.segment_id.value() {
        if segment_id > MAX_SEGMENT_ID {
            return Err(ReplayValidationError::SegmentIdTooLarge { segment_id });
        }
    }
    Ok(())
}

/// What the normalization of a replay event needs from its request and project.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplayNormalizationConfig<'a> {
    /// The address of the submitting client, if known.
    pub client_ip: Option<IpAddr>,
    /// Whether the project scrubs IP addresses (`scrubIpAddresses`): `{{auto}}` is then
    /// removed instead of filled.
    pub scrub_ip_addresses: bool,
    /// The user agent and client hints of the submitting HTTP request.
    pub submitter_headers: Option<&'a SubmitterHeaders>,
    /// The GeoIP database, if configured.
    pub geoip: Option<&'a GeoIpLookup>,
}

/// Normalizes a validated replay event in place (see the module docs for the steps).
pub fn normalize_replay(replay: &mut Annotated<Replay>, config: &ReplayNormalizationConfig<'_>) {
    run(replay, &mut SchemaProcessor);
    let Some(replay_value) = replay.value_mut() else {
        return;
    };
    cap_arrays(replay_value);
    fill_auto_ip(&mut replay_value.user, config);
    let is_javascript = replay_value.platform.value().map(String::as_str) == Some("javascript");
    let headers = replay_value
        .request
        .value()
        .and_then(|request| request.headers.value());
    fill_user_agent_contexts(
        headers,
        config.submitter_headers,
        is_javascript,
        &mut replay_value.contexts,
    );
    if let Some(lookup) = config.geoip {
        let client_ip = (!config.scrub_ip_addresses)
            .then_some(config.client_ip)
            .flatten();
        fill_user_geo(&mut replay_value.user, lookup, client_ip);
    }
    run(replay, &mut TrimmingProcessor::new());
}

fn run<P: Processor>(replay: &mut Annotated<Replay>, processor: &mut P) {
    // The schema and trimming processors never reject a value as a whole.
    let _ = process_value(replay, processor, &ProcessingState::root());
}

fn cap_arrays(replay: &mut Replay) {
    for items in [
        &mut replay.error_ids,
        &mut replay.trace_ids,
        &mut replay.urls,
    ] {
        if let Some(items) = items.value_mut() {
            items.truncate(MAX_REPLAY_ARRAY_ITEMS);
        }
    }
}

/// `{{auto}}` → the client IP; without one, or when the project scrubs IP addresses, the
/// placeholder is removed (it must never reach storage as an address).
fn fill_auto_ip(user_slot: &mut Annotated<User>, config: &ReplayNormalizationConfig<'_>) {
    let Some(user) = user_slot.value_mut() else {
        return;
    };
    if user.ip_address.value().map(String::as_str) != Some(AUTO_IP) {
        return;
    }
    let replacement = match config.client_ip {
        Some(address) if !config.scrub_ip_addresses => Some(address.to_string()),
        _ => None,
    };
    user.ip_address.set_value(replacement);
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;
    use crate::geo::testutils::{build_test_database, TestGeoRecord};

    const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
         (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    fn normalized(
        input: serde_json::Value,
        config: &ReplayNormalizationConfig<'_>,
    ) -> serde_json::Value {
        let mut replay: Annotated<Replay> = from_json(input);
        assert_eq!(validate_replay(&replay), Ok(()));
        normalize_replay(&mut replay, config);
        match to_json(&replay) {
            Ok(json) => json,
            Err(error) => panic!("serialization failed: {error}"),
        }
    }

    #[test]
    fn segment_id_above_u16_is_rejected() {
        let replay: Annotated<Replay> = from_json(json!({"segment_id": 65536}));
        assert_eq!(
            validate_replay(&replay),
            Err(ReplayValidationError::SegmentIdTooLarge { segment_id: 65536 })
        );
        let replay: Annotated<Replay> = from_json(json!({"segment_id": 65535}));
        assert_eq!(validate_replay(&replay), Ok(()));
        let replay: Annotated<Replay> = from_json(json!(null));
        assert_eq!(
            validate_replay(&replay),
            Err(ReplayValidationError::NotAnObject)
        );
    }

    #[test]
    fn arrays_are_capped_at_100_items() {
        let ids: Vec<String> = (0..150).map(|i| format!("{i:032x}")).collect();
        let output = normalized(
            json!({"error_ids": ids, "trace_ids": ids, "urls": ids}),
            &ReplayNormalizationConfig::default(),
        );
        for key in ["error_ids", "trace_ids", "urls"] {
            assert_eq!(output[key].as_array().map(Vec::len), Some(100), "{key}");
            assert_eq!(output[key][99], json!(ids[99]), "{key}");
        }
    }

    #[test]
    fn auto_ip_becomes_the_client_ip_unless_scrubbed() {
        let client_ip = "2.125.160.216".parse().ok();
        let input = json!({"user": {"id": "1", "ip_address": "{{auto}}"}});
        let config = ReplayNormalizationConfig {
            client_ip,
            ..Default::default()
        };
        assert_eq!(
            normalized(input.clone(), &config)["user"]["ip_address"],
            json!("2.125.160.216")
        );

        let scrubbing = ReplayNormalizationConfig {
            scrub_ip_addresses: true,
            ..config
        };
        assert_eq!(
            normalized(input.clone(), &scrubbing)["user"],
            json!({"id": "1"})
        );

        let unknown_client = ReplayNormalizationConfig::default();
        assert_eq!(
            normalized(input, &unknown_client)["user"],
            json!({"id": "1"})
        );
    }

    #[test]
    fn user_agent_contexts_from_the_replay_request_headers() {
        let output = normalized(
            json!({
                "platform": "javascript",
                "request": {"headers": [["User-Agent", CHROME_ON_WINDOWS]]}
            }),
            &ReplayNormalizationConfig::default(),
        );
        assert_eq!(output["contexts"]["browser"]["name"], json!("Chrome"));
        assert_eq!(output["contexts"]["browser"]["version"], json!("120.0.0"));
        assert_eq!(output["contexts"]["os"]["name"], json!("Windows"));
        assert_eq!(output["contexts"]["os"]["type"], json!("os"));
    }

    #[test]
    fn user_agent_contexts_fall_back_to_the_submitting_request() {
        let submitter = SubmitterHeaders {
            user_agent: Some(CHROME_ON_WINDOWS.to_owned()),
            ..Default::default()
        };
        let config = ReplayNormalizationConfig {
            submitter_headers: Some(&submitter),
            ..Default::default()
        };
        let output = normalized(json!({"platform": "javascript"}), &config);
        assert_eq!(output["contexts"]["browser"]["name"], json!("Chrome"));
        // Contexts the SDK sent win.
        let output = normalized(
            json!({"platform": "javascript", "contexts": {"browser": {"name": "Own"}}}),
            &config,
        );
        assert_eq!(output["contexts"]["browser"]["name"], json!("Own"));
    }

    #[test]
    fn geo_from_the_user_ip_or_the_client_ip() {
        let database = match build_test_database(&[(
            "2.125.160.0/24",
            TestGeoRecord::new("GB", "United Kingdom", "England", "Boxford"),
        )]) {
            Ok(database) => database,
            Err(error) => panic!("test database: {error}"),
        };
        let lookup = match GeoIpLookup::from_bytes(database) {
            Ok(lookup) => lookup,
            Err(error) => panic!("test database: {error}"),
        };
        let config = ReplayNormalizationConfig {
            client_ip: "2.125.160.216".parse().ok(),
            geoip: Some(&lookup),
            ..Default::default()
        };
        let output = normalized(json!({"user": {"ip_address": "{{auto}}"}}), &config);
        assert_eq!(output["user"]["geo"]["city"], json!("Boxford"));
        let output = normalized(json!({}), &config);
        assert_eq!(output["user"]["geo"]["country_code"], json!("GB"));
    }

    #[test]
    fn schema_checks_apply() {
        let output = normalized(
            json!({"environment": "  ", "release": " 1.0 "}),
            &ReplayNormalizationConfig::default(),
        );
        assert_eq!(output["release"], json!("1.0"));
        assert_eq!(output["environment"], json!(null));
        assert!(output.pointer("/_meta/environment/").is_some());
    }
}
