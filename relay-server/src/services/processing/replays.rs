//! Replays (`processing.md` §3.7): the `replay_event`, `replay_recording` and `replay_video`
//! items of an envelope form *one* replay, produced as one `replay_recording_not_chunked`
//! message on `ingest-replay-recordings` (§7.3.7). Relay never writes `ingest-replay-events`:
//! the replay event travels inside the recording message and the consumer publishes it.
//!
//! Invariants:
//! * the processor takes every replay item of the envelope; without
//!   `organizations:session-replay` (or with `organizations:session-replay-video-disabled` and a
//!   video present) they are all dropped silently, without outcomes;
//! * the replay is all-or-nothing: a rejection records the same outcome for every replay item
//!   of the envelope (category `replay`, 1 each), and a produced message accounts for all of
//!   them;
//! * only three shapes are accepted (web = event + recording, standalone recording, native =
//!   one video); anything else is `invalid`/`duplicate_item`, an event alone is
//!   `invalid`/`invalid_replay_missing_recording`.
//!
//! The replay event is parsed into the typed [`Replay`] model, validated and normalized by
//! `relay_normalization::replay` (segment id range, array caps, `{{auto}}` client IP, user
//! agent → contexts, GeoIP, schema checks and trimming), gets the span-like timestamp rules of
//! §3.2a (with the event retention) here, and goes through the inbound filters and PII
//! scrubbing of the shared [`stages`]; quotas are enforced from the cached rate limits before
//! processing. Recording scrubbing (`organizations:session-replay-recording-scrubbing`) is not
//! implemented yet; its place is [`scrub_recording`].

use std::fmt;

use bytes::Bytes;
use chrono::Duration as ChronoDuration;
use relay_event::schema::Replay;
use relay_event::Annotated;
use relay_kafka::messages::{unix_seconds_or_now, ReplayRecordingNotChunkedMessage};
use relay_kafka::KafkaTopic;
use relay_normalization::replay::{self, ReplayNormalizationConfig};
use relay_normalization::security_report::SubmitterHeaders;
use relay_protocol::envelope::{Item, ItemType};
use relay_protocol::{DataCategory, EventId};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::event::MINIMUM_CLOCK_DRIFT;
use super::{stages, ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};
use crate::services::normalization;

/// Feature: replays are accepted at all.
pub const FEATURE_SESSION_REPLAY: &str = "organizations:session-replay";
/// Feature: envelopes with a video are dropped (with all their replay items).
pub const FEATURE_VIDEO_DISABLED: &str = "organizations:session-replay-video-disabled";
/// Feature: recordings are PII-scrubbed (not implemented yet, see [`scrub_recording`]).
pub const FEATURE_RECORDING_SCRUBBING: &str = "organizations:session-replay-recording-scrubbing";

/// Why a replay was rejected; every variant maps to one `invalid` (or `filtered`) outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Not one of the allowed item combinations.
    #[error("not an allowed combination of replay items")]
    DuplicateItem,
    /// A replay event without a recording.
    #[error("replay event without a recording")]
    MissingRecording,
    /// The envelope has no `event_id` header.
    #[error("missing event id")]
    MissingEventId,
    /// The replay event payload is empty.
    #[error("empty replay event")]
    NoPayload,
    /// The replay event is not a JSON object or failed validation.
    #[error("invalid replay event")]
    InvalidEvent,
    /// The video item is empty or not the expected msgpack map.
    #[error("invalid replay video")]
    InvalidVideo,
    /// The replay event's timestamp is older than the retention.
    #[error("replay timestamp out of range")]
    Timestamp,
    /// PII scrubbing of the replay event failed.
    #[error("PII scrubbing of the replay event failed")]
    PiiScrubberFailed,
    /// Recording scrubbing failed.
    #[error("invalid replay recording")]
    #[allow(
        dead_code,
        reason = "returned by the recording scrubber, which the PII work adds"
    )]
    InvalidRecording,
    /// The message reaches `limits.max_replay_message_size` (`too_large:replay_recording`).
    #[error("replay message too large")]
    TooLarge,
    /// An inbound filter matched; the outcome comes from the filter.
    #[error("filtered by an inbound filter")]
    Filtered(Outcome),
}

impl ReplayError {
    /// The outcome recorded for every replay item of the envelope.
    pub fn outcome(&self) -> Outcome {
        let reason = match self {
            ReplayError::DuplicateItem => DiscardReason::DuplicateItem,
            ReplayError::MissingRecording => DiscardReason::InvalidReplayMissingRecording,
            ReplayError::MissingEventId => DiscardReason::InvalidEventId,
            ReplayError::NoPayload => DiscardReason::InvalidReplayNoPayload,
            ReplayError::InvalidEvent => DiscardReason::InvalidReplay,
            ReplayError::InvalidVideo => DiscardReason::InvalidReplayVideo,
            ReplayError::Timestamp => DiscardReason::Timestamp,
            ReplayError::PiiScrubberFailed => DiscardReason::InvalidReplayPiiScrubberFailed,
            ReplayError::InvalidRecording => DiscardReason::InvalidReplayRecording,
            ReplayError::TooLarge => DiscardReason::too_large(ItemType::ReplayRecording),
            ReplayError::Filtered(outcome) => return outcome.clone(),
        };
        Outcome::Invalid(reason)
    }
}

/// The accepted shapes of a replay (§3.7 step 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayKind {
    /// One `replay_event` and one `replay_recording`.
    Web,
    /// One `replay_recording` only.
    StandaloneRecording,
    /// One `replay_video` only (msgpack map carrying event, recording and video).
    Native,
}

/// Decides the kind of replay from the item types, or why the combination is not allowed.
pub fn classify(items: &[Item]) -> Result<ReplayKind, ReplayError> {
    let count = |ty: ItemType| items.iter().filter(|item| *item.ty() == ty).count();
    match (
        count(ItemType::ReplayEvent),
        count(ItemType::ReplayRecording),
        count(ItemType::ReplayVideo),
    ) {
        (1, 1, 0) => Ok(ReplayKind::Web),
        (0, 1, 0) => Ok(ReplayKind::StandaloneRecording),
        (0, 0, 1) => Ok(ReplayKind::Native),
        (1, 0, 0) => Err(ReplayError::MissingRecording),
        _ => Err(ReplayError::DuplicateItem),
    }
}

fn is_replay_item(item: &Item) -> bool {
    matches!(
        item.ty(),
        ItemType::ReplayEvent | ItemType::ReplayRecording | ItemType::ReplayVideo
    )
}

/// Runs the replay processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let items = managed.take_items_where(is_replay_item);
    if items.is_empty() {
        return;
    }
    // Feature drops are silent (outcomes.md §3.4): the items are simply forgotten.
    if !context.has_feature(FEATURE_SESSION_REPLAY) {
        return;
    }
    if context.has_feature(FEATURE_VIDEO_DISABLED)
        && items.iter().any(|item| *item.ty() == ItemType::ReplayVideo)
    {
        return;
    }

    let message = match build_message(context, &items) {
        Ok(message) => message,
        Err(error) => {
            tracing::debug!(%error, "replay rejected");
            let outcome = error.outcome();
            for item in &items {
                managed.track_item_outcome(item, &outcome);
            }
            return;
        }
    };
    if output
        .add_message(
            summed_quantities(&items),
            KafkaTopic::ReplayRecordings,
            &message,
        )
        .is_err()
    {
        let outcome = Outcome::Invalid(DiscardReason::Internal);
        for item in &items {
            managed.track_item_outcome(item, &outcome);
        }
    }
}

/// The quantities of all items, summed per category (a web replay counts `replay` 2).
fn summed_quantities(items: &[Item]) -> Vec<(DataCategory, usize)> {
    let mut summed: Vec<(DataCategory, usize)> = Vec::new();
    for (category, quantity) in items.iter().flat_map(Item::quantities) {
        match summed.iter_mut().find(|(known, _)| *known == category) {
            Some((_, total)) => *total = total.saturating_add(quantity),
            None => summed.push((category, quantity)),
        }
    }
    summed
}

/// The raw parts of a replay before validation.
struct ReplayParts {
    event: Option<Bytes>,
    recording: Bytes,
    video: Option<Bytes>,
}

/// Validates, normalizes and assembles the message of one replay (steps 2–8 of §3.7).
pub fn build_message(
    context: &ProcessingContext,
    items: &[Item],
) -> Result<ReplayRecordingNotChunkedMessage, ReplayError> {
    let kind = classify(items)?;
    let event_id = context.event_id().ok_or(ReplayError::MissingEventId)?;
    let parts = split_parts(kind, items)?;

    let replay_event = match parts.event {
        Some(payload) => Some(process_replay_event(context, &payload)?),
        None => None,
    };
    let recording = if context.has_feature(FEATURE_RECORDING_SCRUBBING) {
        scrub_recording(context, parts.recording)?
    } else {
        parts.recording
    };

    let mut message = new_message(context, event_id, recording);
    if let Some(replay_event) = replay_event {
        message = message.with_replay_event(replay_event);
    }
    if let Some(video) = parts.video {
        message = message.with_replay_video(video);
    }
    if message.exceeds_size_limit(max_replay_message_size(context)) {
        return Err(ReplayError::TooLarge);
    }
    Ok(message)
}

fn new_message(
    context: &ProcessingContext,
    replay_id: EventId,
    recording: Bytes,
) -> ReplayRecordingNotChunkedMessage {
    ReplayRecordingNotChunkedMessage::new(
        replay_id,
        context.key_id(),
        context.organization_id(),
        context.project_id(),
        unix_seconds_or_now(context.received_at),
        context.event_retention(),
        recording,
    )
}

/// `limits.max_replay_message_size` (default 15 MiB) in bytes.
fn max_replay_message_size(context: &ProcessingContext) -> usize {
    context.config.max_replay_message_size().as_usize()
}

/// The event, recording and video bytes of the replay, by kind.
fn split_parts(kind: ReplayKind, items: &[Item]) -> Result<ReplayParts, ReplayError> {
    let payload_of = |ty: ItemType| {
        items
            .iter()
            .find(|item| *item.ty() == ty)
            .map(Item::payload)
            .unwrap_or_default()
    };
    match kind {
        ReplayKind::Web => Ok(ReplayParts {
            event: Some(payload_of(ItemType::ReplayEvent)),
            recording: payload_of(ItemType::ReplayRecording),
            video: None,
        }),
        ReplayKind::StandaloneRecording => Ok(ReplayParts {
            event: None,
            recording: payload_of(ItemType::ReplayRecording),
            video: None,
        }),
        ReplayKind::Native => {
            let video = decode_video(&payload_of(ItemType::ReplayVideo))?;
            Ok(ReplayParts {
                event: Some(Bytes::from(video.replay_event.0)),
                recording: Bytes::from(video.replay_recording.0),
                video: Some(Bytes::from(video.replay_video.0)),
            })
        }
    }
}

/// The payload of a `replay_video` item: a msgpack map of three binaries. Unknown keys are
/// ignored; a missing key is invalid.
#[derive(Debug, Deserialize)]
pub struct VideoPayload {
    pub replay_event: RawBytes,
    pub replay_recording: RawBytes,
    pub replay_video: RawBytes,
}

/// Decodes a `replay_video` payload; an empty payload, anything that is not the map, or an
/// empty video is `invalid_replay_video`.
pub fn decode_video(payload: &[u8]) -> Result<VideoPayload, ReplayError> {
    if payload.is_empty() {
        return Err(ReplayError::InvalidVideo);
    }
    let video: VideoPayload =
        rmp_serde::from_slice(payload).map_err(|_| ReplayError::InvalidVideo)?;
    if video.replay_video.0.is_empty() {
        return Err(ReplayError::InvalidVideo);
    }
    Ok(video)
}

/// Bytes decoded from msgpack `bin` (or `str`, which older encoders use for binary data).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RawBytes(pub Vec<u8>);

impl<'de> Deserialize<'de> for RawBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawBytesVisitor;

        impl<'de> Visitor<'de> for RawBytesVisitor {
            type Value = RawBytes;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("binary data")
            }

            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<RawBytes, E> {
                Ok(RawBytes(bytes.to_vec()))
            }

            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<RawBytes, E> {
                Ok(RawBytes(bytes))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawBytes, E> {
                Ok(RawBytes(text.as_bytes().to_vec()))
            }

            // Only to give a precise error for maps (e.g. a nested object instead of bytes).
            fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<RawBytes, A::Error> {
                Err(de::Error::invalid_type(de::Unexpected::Map, &self))
            }
        }

        deserializer.deserialize_bytes(RawBytesVisitor)
    }
}

/// Steps 4, 5 and 7 for the replay event: validation, normalization, filters, PII. Returns
/// the JSON that goes into the message.
fn process_replay_event(context: &ProcessingContext, payload: &[u8]) -> Result<Bytes, ReplayError> {
    let mut replay = parse_replay_event(payload)?;
    replay::validate_replay(&replay).map_err(|error| {
        tracing::debug!(%error, "invalid replay event");
        ReplayError::InvalidEvent
    })?;
    let submitter = normalization::submitter_headers(&context.headers);
    replay::normalize_replay(
        &mut replay,
        &replay_normalization_config(context, submitter.as_ref()),
    );
    normalize_timestamps(context, &mut replay)?;
    stages::filter_replay_event(context, &replay).map_err(ReplayError::Filtered)?;
    stages::scrub_replay_event(context, &mut replay);
    // The model serializes any value it holds; if it did not, the scrubbed event would be
    // unusable, which is what the scrubber-failure reason says.
    relay_event::to_json_vec(&replay)
        .map(Bytes::from)
        .map_err(|_| ReplayError::PiiScrubberFailed)
}

/// The request and project facts the replay event's normalization reads.
fn replay_normalization_config<'a>(
    context: &'a ProcessingContext,
    submitter_headers: Option<&'a SubmitterHeaders>,
) -> ReplayNormalizationConfig<'a> {
    ReplayNormalizationConfig {
        client_ip: context.client_addr,
        scrub_ip_addresses: context.scrub_ip_addresses(),
        submitter_headers,
        geoip: context.normalization.geoip(),
    }
}

/// Parses the replay event straight into the model: an empty payload or `null` is
/// `invalid_replay_no_payload`, malformed JSON or anything but an object `invalid_replay`.
pub fn parse_replay_event(payload: &[u8]) -> Result<Annotated<Replay>, ReplayError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err(ReplayError::NoPayload);
    }
    let replay: Annotated<Replay> =
        relay_event::from_json_slice(payload).map_err(|_| ReplayError::InvalidEvent)?;
    if replay.value().is_some() {
        return Ok(replay);
    }
    // Lenient parsing turns a non-object into an error in `_meta`; only a plain `null` is
    // "no payload".
    if replay.meta().has_errors() {
        Err(ReplayError::InvalidEvent)
    } else {
        Err(ReplayError::NoPayload)
    }
}

/// Timestamp rules of span-like items (§3.2a) with the event retention. The main timestamp
/// is `timestamp`; `replay_start_timestamp` moves with it. A replay event without a
/// `timestamp` is left as it is.
pub fn normalize_timestamps(
    context: &ProcessingContext,
    replay: &mut Annotated<Replay>,
) -> Result<(), ReplayError> {
    let Some(replay) = replay.value_mut() else {
        return Ok(());
    };
    let Some(timestamp) = replay.timestamp.value().map(|timestamp| timestamp.0) else {
        return Ok(());
    };
    let received = context.received_at;
    let max_in_future = ChronoDuration::seconds(i64::from(context.config.max_secs_in_future()));
    let shift = if timestamp - received > max_in_future {
        // Rule 1: a future timestamp is pulled back to the receive time.
        Some(received - timestamp)
    } else {
        context
            .headers
            .sent_at
            .map(|sent_at| received - sent_at)
            .filter(|drift| drift.abs() >= MINIMUM_CLOCK_DRIFT)
    };
    let corrected = match shift {
        Some(delta) => {
            for slot in [&mut replay.timestamp, &mut replay.replay_start_timestamp] {
                if let Some(value) = slot.value_mut() {
                    value.0 += delta;
                }
            }
            timestamp + delta
        }
        None => timestamp,
    };
    // Rule 2: older than the retention is rejected.
    let oldest = received - ChronoDuration::days(i64::from(context.event_retention()));
    if corrected < oldest {
        return Err(ReplayError::Timestamp);
    }
    Ok(())
}

/// PLACEHOLDER: PII scrubbing of the recording with
/// `organizations:session-replay-recording-scrubbing` (§3.7 step 7); a failure will be
/// [`ReplayError::InvalidRecording`]. Until the rrweb scrubber exists the recording passes
/// unchanged.
fn scrub_recording(_context: &ProcessingContext, recording: Bytes) -> Result<Bytes, ReplayError> {
    Ok(recording)
}

#[cfg(test)]
mod tests {
    use crate::services::processing::StoreRequest;

    use chrono::{DateTime, Utc};
    use relay_config::{ByteSize, Config};
    use relay_protocol::envelope::ContentType;
    use relay_protocol::ProjectId;
    use serde_json::{json, Value};

    use super::*;
    use crate::outcome::{OutcomeHandle, TrackOutcome};
    use crate::testutils::{drain_outcomes, processing_context, TestEnvelope, TestProject};

    const REPLAY_ID: &str = "515539018c9b4260a6f999572f1661ee";
    const RECORDING: &[u8] = b"{\"segment_id\":0}\n\x78\x9c\x03\x00\x00\x00\x00\x01";
    const VIDEO: &[u8] = b"\x00\x00\x00\x18ftypmp42";

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_000_000, 0).unwrap()
    }

    fn received_secs() -> f64 {
        received().timestamp() as f64
    }

    fn item(ty: ItemType, payload: &[u8]) -> Item {
        let mut item = Item::new(ty);
        item.set_payload(ContentType::OctetStream, Bytes::copy_from_slice(payload));
        item
    }

    fn replay_event(timestamp: f64) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": "replay_event",
            "replay_id": REPLAY_ID,
            "segment_id": 0,
            "timestamp": timestamp,
            "replay_start_timestamp": timestamp - 10.0,
            "user": {"ip_address": "{{auto}}"},
        }))
        .unwrap()
    }

    fn recent_event() -> Vec<u8> {
        replay_event(received_secs() - 5.0)
    }

    /// Serializes as msgpack bin.
    struct Bin<'a>(&'a [u8]);

    impl serde::Serialize for Bin<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }

    /// A `replay_video` payload with the three fields as msgpack bin.
    fn video(event: &[u8], recording: &[u8], video: &[u8]) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Video<'a> {
            replay_event: Bin<'a>,
            replay_recording: Bin<'a>,
            replay_video: Bin<'a>,
        }
        rmp_serde::to_vec_named(&Video {
            replay_event: Bin(event),
            replay_recording: Bin(recording),
            replay_video: Bin(video),
        })
        .unwrap()
    }

    fn web(event: &[u8]) -> Vec<Item> {
        vec![
            item(ItemType::ReplayEvent, event),
            item(ItemType::ReplayRecording, RECORDING),
        ]
    }

    fn event_json(message: &ReplayRecordingNotChunkedMessage) -> Value {
        serde_json::from_slice(message.replay_event.as_ref().unwrap()).unwrap()
    }

    struct Harness {
        config: Config,
        features: Vec<&'static str>,
        retention: u16,
        event_id: bool,
        sent_at: Option<DateTime<Utc>>,
    }

    impl Harness {
        fn new() -> Harness {
            Harness {
                config: Config::default(),
                features: vec![FEATURE_SESSION_REPLAY],
                retention: 90,
                event_id: true,
                sent_at: None,
            }
        }

        fn managed(&self, items: Vec<Item>, outcomes: OutcomeHandle) -> ManagedEnvelope {
            TestEnvelope::from_items(items)
                .with(|envelope| {
                    if self.event_id {
                        envelope.set_event_id(EventId::parse(REPLAY_ID).unwrap());
                    }
                    envelope.headers_mut().sent_at = self.sent_at;
                })
                .received_at(received())
                .remote_addr("10.1.2.3".parse().unwrap())
                .managed(outcomes)
        }

        fn context(&self, managed: &ManagedEnvelope) -> ProcessingContext {
            let project = TestProject::new()
                .features(&self.features)
                .event_retention(self.retention);
            processing_context(self.config.clone(), project.build(), managed)
        }

        /// Runs the processor: the produced requests and the tracked outcomes.
        fn run(&self, items: Vec<Item>) -> (Vec<StoreRequest>, Vec<TrackOutcome>) {
            let (outcomes, mut receiver) = OutcomeHandle::capturing();
            let mut managed = self.managed(items, outcomes);
            let context = self.context(&managed);
            let mut output = ProcessingOutput::default();
            process(&context, &mut managed, &mut output);
            assert!(managed.envelope().is_empty(), "replay items must be taken");
            managed.accept();
            (output.requests, drain_outcomes(&mut receiver))
        }

        /// The message of an accepted replay.
        fn message(&self, items: Vec<Item>) -> ReplayRecordingNotChunkedMessage {
            let managed = self.managed(Vec::new(), OutcomeHandle::disabled());
            let context = self.context(&managed);
            managed.accept();
            build_message(&context, &items).unwrap()
        }

        /// Runs a replay that must be rejected: `"<number of outcomes>x <reason>"`, checking
        /// that every replay item got the same outcome with `replay` 1.
        fn rejected(&self, items: Vec<Item>) -> String {
            let (requests, outcomes) = self.run(items);
            assert!(requests.is_empty(), "rejected replays produce nothing");
            assert!(outcomes
                .iter()
                .all(|outcome| outcome.category == DataCategory::Replay && outcome.quantity == 1));
            let reasons: Vec<String> = outcomes
                .iter()
                .map(|outcome| outcome.outcome.reason().unwrap_or_default())
                .collect();
            assert!(reasons.windows(2).all(|pair| pair[0] == pair[1]));
            format!(
                "{}x {}",
                reasons.len(),
                reasons.first().map_or("", String::as_str)
            )
        }
    }

    #[test]
    fn web_replay_is_one_message_for_both_items() {
        let harness = Harness::new();
        let (requests, outcomes) = harness.run(web(&recent_event()));
        assert!(outcomes.is_empty());
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].quantities.as_slice(),
            &[(DataCategory::Replay, 2)]
        );
        assert_eq!(requests[0].messages.len(), 1);
        assert_eq!(requests[0].messages[0].0, KafkaTopic::ReplayRecordings);

        let message = harness.message(web(&recent_event()));
        assert_eq!(message.replay_id.to_string(), REPLAY_ID);
        assert_eq!(message.key_id, Some(300));
        assert_eq!(message.org_id, 7);
        assert_eq!(message.project_id, ProjectId(42));
        assert_eq!(message.received, 1_717_000_000);
        assert_eq!(message.retention_days, 90);
        assert_eq!(message.payload.as_ref(), RECORDING);
        assert_eq!(message.replay_video, None);
        let event = event_json(&message);
        assert_eq!(event["replay_id"], REPLAY_ID);
        assert_eq!(event["segment_id"], 0);
        // `{{auto}}` becomes the client address.
        assert_eq!(event["user"]["ip_address"], "10.1.2.3");
        // An unchanged timestamp keeps its value.
        assert_eq!(event["timestamp"], json!(received_secs() - 5.0));
    }

    #[test]
    fn standalone_recording_has_no_event_and_no_video() {
        let harness = Harness::new();
        let recording = || vec![item(ItemType::ReplayRecording, RECORDING)];
        let (requests, outcomes) = harness.run(recording());
        assert!(outcomes.is_empty());
        assert_eq!(
            requests[0].quantities.as_slice(),
            &[(DataCategory::Replay, 1)]
        );
        let message = harness.message(recording());
        assert_eq!(message.replay_event, None);
        assert_eq!(message.replay_video, None);
        assert_eq!(message.payload.as_ref(), RECORDING);
    }

    #[test]
    fn native_replay_unpacks_the_video_map() {
        let harness = Harness::new();
        let native = || {
            vec![item(
                ItemType::ReplayVideo,
                &video(&recent_event(), RECORDING, VIDEO),
            )]
        };
        let (requests, outcomes) = harness.run(native());
        assert!(outcomes.is_empty());
        assert_eq!(
            requests[0].quantities.as_slice(),
            &[(DataCategory::Replay, 1)]
        );
        let message = harness.message(native());
        assert_eq!(message.payload.as_ref(), RECORDING);
        assert_eq!(message.replay_video.as_deref(), Some(VIDEO));
        let event = event_json(&message);
        assert_eq!(event["replay_id"], REPLAY_ID);
        assert_eq!(event["user"]["ip_address"], "10.1.2.3");
    }

    #[test]
    fn feature_gates_drop_silently() {
        let mut harness = Harness::new();
        harness.features = vec![];
        let (requests, outcomes) = harness.run(web(&recent_event()));
        assert_eq!((requests.len(), outcomes.len()), (0, 0));

        harness.features = vec![FEATURE_SESSION_REPLAY, FEATURE_VIDEO_DISABLED];
        // Without a video the replay is kept ...
        let (requests, outcomes) = harness.run(web(&recent_event()));
        assert_eq!((requests.len(), outcomes.len()), (1, 0));
        // ... with one, every replay item goes, even in an otherwise invalid combination.
        let (requests, outcomes) = harness.run(vec![
            item(ItemType::ReplayEvent, &recent_event()),
            item(
                ItemType::ReplayVideo,
                &video(&recent_event(), RECORDING, VIDEO),
            ),
        ]);
        assert_eq!((requests.len(), outcomes.len()), (0, 0));
    }

    #[test]
    fn only_three_combinations_are_allowed() {
        let harness = Harness::new();
        let event = || item(ItemType::ReplayEvent, &recent_event());
        let recording = || item(ItemType::ReplayRecording, RECORDING);
        let native = || {
            item(
                ItemType::ReplayVideo,
                &video(&recent_event(), RECORDING, VIDEO),
            )
        };
        assert_eq!(
            harness.rejected(vec![event()]),
            "1x invalid_replay_missing_recording"
        );
        assert_eq!(
            harness.rejected(vec![recording(), recording()]),
            "2x duplicate_item"
        );
        assert_eq!(
            harness.rejected(vec![event(), event(), recording()]),
            "3x duplicate_item"
        );
        assert_eq!(
            harness.rejected(vec![event(), native()]),
            "2x duplicate_item"
        );
        assert_eq!(
            harness.rejected(vec![recording(), native()]),
            "2x duplicate_item"
        );
        assert_eq!(
            harness.rejected(vec![native(), native()]),
            "2x duplicate_item"
        );
        assert_eq!(
            harness.rejected(vec![event(), recording(), native()]),
            "3x duplicate_item"
        );
    }

    #[test]
    fn envelope_event_id_is_required() {
        let mut harness = Harness::new();
        harness.event_id = false;
        assert_eq!(
            harness.rejected(vec![item(ItemType::ReplayRecording, RECORDING)]),
            "1x invalid_event_id"
        );
        assert_eq!(
            harness.rejected(web(&recent_event())),
            "2x invalid_event_id"
        );
    }

    #[test]
    fn an_invalid_event_rejects_the_whole_replay() {
        let harness = Harness::new();
        assert_eq!(harness.rejected(web(b"")), "2x invalid_replay_no_payload");
        assert_eq!(
            harness.rejected(web(b"null")),
            "2x invalid_replay_no_payload"
        );
        assert_eq!(harness.rejected(web(b"{not json")), "2x invalid_replay");
        assert_eq!(harness.rejected(web(b"[1,2]")), "2x invalid_replay");
        let native = video(b"{oops", RECORDING, VIDEO);
        assert_eq!(
            harness.rejected(vec![item(ItemType::ReplayVideo, &native)]),
            "1x invalid_replay"
        );
        let native = video(b"", RECORDING, VIDEO);
        assert_eq!(
            harness.rejected(vec![item(ItemType::ReplayVideo, &native)]),
            "1x invalid_replay_no_payload"
        );
    }

    #[test]
    fn segment_ids_beyond_16_bits_reject_the_replay() {
        let harness = Harness::new();
        let mut event: Value = serde_json::from_slice(&recent_event()).unwrap();
        event["segment_id"] = json!(65_536);
        let rejected = harness.rejected(web(&serde_json::to_vec(&event).unwrap()));
        assert_eq!(rejected, "2x invalid_replay");
    }

    #[test]
    fn the_replay_event_is_normalized_on_the_typed_model() {
        let harness = Harness::new();
        let mut event: Value = serde_json::from_slice(&recent_event()).unwrap();
        event["platform"] = json!("javascript");
        event["request"] = json!({"headers": {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}});
        event["environment"] = json!(" production ");
        event["urls"] = json!((0..150)
            .map(|i| format!("https://example.com/{i}"))
            .collect::<Vec<_>>());
        let message = harness.message(web(&serde_json::to_vec(&event).unwrap()));
        let event = event_json(&message);
        assert_eq!(event["contexts"]["browser"]["name"], "Chrome");
        assert_eq!(event["contexts"]["os"]["name"], "Windows");
        assert_eq!(event["environment"], "production");
        assert_eq!(event["urls"].as_array().map(Vec::len), Some(100));
    }

    #[test]
    fn invalid_videos() {
        let harness = Harness::new();
        let reject = |payload: &[u8]| harness.rejected(vec![item(ItemType::ReplayVideo, payload)]);
        assert_eq!(reject(b""), "1x invalid_replay_video");
        assert_eq!(reject(b"not msgpack"), "1x invalid_replay_video");
        assert_eq!(
            reject(&video(&recent_event(), RECORDING, b"")),
            "1x invalid_replay_video"
        );
        let partial = rmp_serde::to_vec_named(&json!({"replay_event": "{}"})).unwrap();
        assert_eq!(reject(&partial), "1x invalid_replay_video");
        let nested = rmp_serde::to_vec_named(&json!({
            "replay_event": {}, "replay_recording": "r", "replay_video": "v"
        }))
        .unwrap();
        assert_eq!(reject(&nested), "1x invalid_replay_video");
    }

    #[test]
    fn video_fields_may_be_strings_and_extra_keys_are_ignored() {
        let payload = rmp_serde::to_vec_named(&json!({
            "replay_event": "{}",
            "replay_recording": "rec",
            "replay_video": "vid",
            "extra": 1,
        }))
        .unwrap();
        let video = decode_video(&payload).unwrap();
        assert_eq!(video.replay_event.0, b"{}");
        assert_eq!(video.replay_recording.0, b"rec");
        assert_eq!(video.replay_video.0, b"vid");
    }

    #[test]
    fn timestamps_follow_the_span_like_rules() {
        let now = received_secs();
        let day = 86_400.0;
        let mut harness = Harness::new();
        harness.retention = 30;

        // Older than the event retention: rejected.
        assert_eq!(
            harness.rejected(web(&replay_event(now - 31.0 * day))),
            "2x timestamp"
        );
        // Within it: unchanged.
        let event = event_json(&harness.message(web(&replay_event(now - 29.0 * day))));
        assert_eq!(event["timestamp"], json!(now - 29.0 * day));
        // More than 60 s ahead: pulled back to the receive time; the start moves with it.
        let event = event_json(&harness.message(web(&replay_event(now + 3600.0))));
        assert_eq!(event["timestamp"], json!(now));
        assert_eq!(event["replay_start_timestamp"], json!(now - 10.0));
        // Slightly ahead: kept.
        let event = event_json(&harness.message(web(&replay_event(now + 30.0))));
        assert_eq!(event["timestamp"], json!(now + 30.0));

        // A clock drift of at least 55 minutes shifts everything ...
        harness.sent_at = Some(received() - ChronoDuration::days(2));
        let event = event_json(&harness.message(web(&replay_event(now - 2.0 * day))));
        assert_eq!(event["timestamp"], json!(now));
        assert_eq!(event["replay_start_timestamp"], json!(now - 10.0));
        // ... and the corrected time is what the retention check sees.
        harness.sent_at = Some(received() + ChronoDuration::days(10));
        assert_eq!(
            harness.rejected(web(&replay_event(now - 25.0 * day))),
            "2x timestamp"
        );
        // A small drift is ignored.
        harness.sent_at = Some(received() - ChronoDuration::minutes(10));
        let event = event_json(&harness.message(web(&replay_event(now - 100.0))));
        assert_eq!(event["timestamp"], json!(now - 100.0));
    }

    #[test]
    fn rfc3339_timestamps_are_understood() {
        let harness = Harness::new();
        let event = json!({"timestamp": "2024-05-29T16:26:40Z", "replay_id": REPLAY_ID});
        let (requests, outcomes) = harness.run(web(&serde_json::to_vec(&event).unwrap()));
        assert_eq!((requests.len(), outcomes.len()), (1, 0));
        let old = json!({"timestamp": "2020-01-01T00:00:00Z"});
        let rejected = harness.rejected(web(&serde_json::to_vec(&old).unwrap()));
        assert_eq!(rejected, "2x timestamp");
    }

    #[test]
    fn message_size_limit_includes_the_overhead() {
        let mut harness = Harness::new();
        let size = RECORDING.len() + 2000;
        harness.config.values.limits.max_replay_message_size = ByteSize::from_bytes(size as u64);
        assert_eq!(
            harness.rejected(vec![item(ItemType::ReplayRecording, RECORDING)]),
            "1x too_large:replay_recording"
        );
        harness.config.values.limits.max_replay_message_size =
            ByteSize::from_bytes(size as u64 + 1);
        let (requests, outcomes) = harness.run(vec![item(ItemType::ReplayRecording, RECORDING)]);
        assert_eq!((requests.len(), outcomes.len()), (1, 0));
    }

    #[test]
    fn default_message_limit_is_15_mib() {
        assert_eq!(
            Config::default().max_replay_message_size().as_bytes(),
            15 * 1024 * 1024
        );
    }

    #[test]
    fn rejection_reasons() {
        let cases = [
            (ReplayError::DuplicateItem, "duplicate_item"),
            (
                ReplayError::MissingRecording,
                "invalid_replay_missing_recording",
            ),
            (ReplayError::MissingEventId, "invalid_event_id"),
            (ReplayError::NoPayload, "invalid_replay_no_payload"),
            (ReplayError::InvalidEvent, "invalid_replay"),
            (ReplayError::InvalidVideo, "invalid_replay_video"),
            (ReplayError::Timestamp, "timestamp"),
            (
                ReplayError::PiiScrubberFailed,
                "invalid_replay_pii_scrubber_failed",
            ),
            (ReplayError::InvalidRecording, "invalid_replay_recording"),
            (ReplayError::TooLarge, "too_large:replay_recording"),
        ];
        for (error, reason) in cases {
            let outcome = error.outcome();
            assert_eq!(outcome.name(), "invalid");
            assert_eq!(outcome.reason().as_deref(), Some(reason));
        }
    }
}
