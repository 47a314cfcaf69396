//! [`Replay`]: the payload of a `replay_event` item (and the `replay_event` of a native
//! replay video), the event that describes one segment of a session replay.
//!
//! The replay event shares the event's interfaces (`user`, `request`, `contexts`, `sdk`,
//! `tags`) so that the same normalization steps (client IP, user agent → contexts, GeoIP) and,
//! later, the same PII rules apply to it (pii.md lists `$replay` as a value type). The replay
//! specific fields are `replay_id`, `replay_type`, `segment_id`, `replay_start_timestamp`,
//! `urls`, `error_ids` and `trace_ids`; their validation is
//! `relay_normalization::replay::validate_replay`. Identifiers in `error_ids` and `trace_ids`
//! are kept as sent: the replays consumer reads them in the forms the SDKs send.
//!
//! PII levels: `user`, `request` `true` (as on events), `urls` `true` (they carry query
//! strings), `tags` `maybe`.

use crate::{
    Annotated, Array, FromValue, IntoValue, LenientString, Object, ProcessValue, Timestamp, Value,
};

use super::{ClientSdkInfo, Contexts, EventId, Request, Tags, User};

/// A replay event: one segment of a session replay.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Replay {
    /// The item type, `replay_event`.
    #[metastructure(field = "type")]
    pub ty: Annotated<String>,
    /// The id of this replay event.
    pub event_id: Annotated<EventId>,
    /// The id of the replay the segment belongs to.
    pub replay_id: Annotated<EventId>,
    /// How the replay was recorded (`session` or `buffer`).
    pub replay_type: Annotated<String>,
    /// The position of this segment in the replay, from 0.
    pub segment_id: Annotated<u64>,
    /// When the segment ended.
    pub timestamp: Annotated<Timestamp>,
    /// When the replay started.
    pub replay_start_timestamp: Annotated<Timestamp>,
    /// The URLs visited during the segment.
    #[metastructure(pii = "true")]
    pub urls: Annotated<Array<String>>,
    /// Events that happened during the segment.
    pub error_ids: Annotated<Array<String>>,
    /// Traces that happened during the segment.
    pub trace_ids: Annotated<Array<String>>,
    /// Contexts by name.
    pub contexts: Annotated<Contexts>,
    /// The platform (e.g. `javascript`).
    pub platform: Annotated<String>,
    /// The release.
    #[metastructure(nonempty = true, trim_whitespace = true, max_chars = 200)]
    pub release: Annotated<LenientString>,
    /// The distribution of the release.
    #[metastructure(nonempty = true, trim_whitespace = true, max_chars = 64)]
    pub dist: Annotated<String>,
    /// The environment (e.g. `production`).
    #[metastructure(nonempty = true, trim_whitespace = true, max_chars = 64)]
    pub environment: Annotated<String>,
    /// Tags.
    #[metastructure(pii = "maybe", skip_serialization = "empty")]
    pub tags: Annotated<Tags>,
    /// The user who was recorded.
    #[metastructure(pii = "true", skip_serialization = "empty")]
    pub user: Annotated<User>,
    /// The HTTP request of the page (its `User-Agent` header gives the contexts).
    #[metastructure(pii = "true", skip_serialization = "empty")]
    pub request: Annotated<Request>,
    /// The SDK that sent the replay.
    #[metastructure(skip_serialization = "empty")]
    pub sdk: Annotated<ClientSdkInfo>,
    /// Unknown attributes (kept: the replays consumer reads the whole event).
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, from_json_slice, to_json};

    fn browser_replay_event() -> serde_json::Value {
        json!({
            "type": "replay_event",
            "replay_id": "d2132d31b39445f1938d7e21b6bf0ec4",
            "replay_type": "session",
            "segment_id": 0,
            "event_id": "d2132d31b39445f1938d7e21b6bf0ec4",
            "timestamp": 1597976392.6542819,
            "replay_start_timestamp": 1597976392.6542819,
            "urls": ["http://localhost:3000/"],
            "error_ids": ["1d3a2b0c4f8d4a6e9b1c2d3e4f5a6b7c"],
            "trace_ids": ["2d3a2b0c4f8d4a6e9b1c2d3e4f5a6b7c"],
            "platform": "javascript",
            "environment": "production",
            "release": "1.0.0",
            "sdk": {"name": "sentry.javascript.browser", "version": "8.0.0"},
            "user": {"id": "123", "ip_address": "{{auto}}"},
            "request": {"url": "http://localhost:3000/", "headers": {"User-Agent": "Mozilla/5.0"}},
            "tags": {"a": "b"},
            "future_field": {"kept": true}
        })
    }

    #[test]
    fn browser_replay_event_parses_into_fields() {
        let replay: Annotated<Replay> = from_json(browser_replay_event());
        let Some(replay) = replay.value() else {
            panic!("replay event did not parse");
        };
        assert_eq!(replay.ty.value().map(String::as_str), Some("replay_event"));
        assert_eq!(replay.segment_id.value(), Some(&0));
        assert_eq!(replay.urls.value().map(Vec::len), Some(1));
        assert!(replay.user.value().is_some());
        assert!(replay.other.contains_key("future_field"));
    }

    #[test]
    fn streaming_and_value_parsers_agree() {
        let text = browser_replay_event().to_string();
        let streamed: Annotated<Replay> = match from_json_slice(text.as_bytes()) {
            Ok(replay) => replay,
            Err(error) => panic!("streaming parse failed: {error}"),
        };
        let via_value: Annotated<Replay> = from_json(browser_replay_event());
        assert_eq!(streamed, via_value);
    }

    #[test]
    fn invalid_segment_id_keeps_the_original_in_meta() {
        let replay: Annotated<Replay> = from_json(json!({"segment_id": "first"}));
        let output = to_json(&replay).ok();
        assert_eq!(
            output
                .as_ref()
                .and_then(|json| json.pointer("/_meta/segment_id/")),
            Some(
                &json!({"err": [["invalid_data", {"reason": "expected an unsigned integer"}]], "val": "first"})
            )
        );
    }
}
