//! Profile chunks and standalone profiles (`processing.md` §3.9); transaction profiles are
//! handled with their transaction (`transactions.rs`).
//!
//! * Profile chunks (§2 #7): every `profile_chunk` item is a unit of its own. Without
//!   `organizations:continuous-profiling` all are dropped silently. Each JSON chunk is parsed,
//!   filtered, size-checked against `limits.max_profile_size` and produced as a
//!   `profile_chunk` message (§7.3.5) on `profiles`.
//!   Perfetto chunks (`content_type: application/x-perfetto-trace`) are dropped silently without
//!   `organizations:continuous-profiling-perfetto`; with it they are rejected with
//!   `invalid`/`profiling_platform_not_supported` ([`ProfileError::PerfettoNotSupported`]),
//!   because this relay does not implement the Perfetto → sample-format conversion nor the
//!   objectstore upload of the raw trace.
//! * Standalone profiles (§2 #14): `profile` items left after the event and transaction
//!   processors. Only the first is used (extras → `profiling_too_many_profiles`); it must be
//!   marked `sampled: false` (else `profiling_invalid_standalone`), i.e. its transaction was
//!   dropped by sampling upstream. It is produced like a transaction profile, with header
//!   `sampled: false`.
//!
//! The `platform` of a profile or chunk decides its UI/backend category. An item without a
//! `platform` header gets the `platform` of its payload, so outcomes and the store request
//! count the category the payload declares; an existing header is left as it is (it is what
//! rate limiting already used).
//!
//! Skeleton stages: quotas are enforced from the cached rate limits before processing; the
//! release filter of profiles (`filters.md` §1) and profile normalization are not implemented
//! yet — their place is [`filter_profile`].

use relay_kafka::messages::{unix_seconds_or_now, ProfileChunkMessage};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::{ContentType, Item, ItemType};
use serde_json::{Map, Value};

use super::transactions::push_profile;
use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};

/// Why a profile or a profile chunk is rejected; each is an `invalid` outcome
/// (`From<ProfileError> for Outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The payload is not a JSON object.
    #[error("profile is not a JSON object")]
    InvalidJson,
    /// A second standalone profile in the envelope.
    #[error("more than one profile")]
    TooManyProfiles,
    /// A standalone profile that is not marked `sampled: false`.
    #[error("standalone profile is not marked sampled: false")]
    InvalidStandalone,
    /// A chunk larger than `limits.max_profile_size`.
    #[error("profile chunk exceeds the size limit")]
    ExceedSizeLimit,
    /// A Perfetto chunk: the conversion to the sample format is not implemented by this
    /// relay.
    #[error("perfetto profile chunks are not supported")]
    PerfettoNotSupported,
}

impl From<ProfileError> for Outcome {
    fn from(error: ProfileError) -> Outcome {
        Outcome::Invalid(match error {
            ProfileError::InvalidJson => DiscardReason::ProfilingInvalidJson,
            ProfileError::TooManyProfiles => DiscardReason::ProfilingTooManyProfiles,
            ProfileError::InvalidStandalone => DiscardReason::ProfilingInvalidStandalone,
            ProfileError::ExceedSizeLimit => DiscardReason::ProfilingExceedSizeLimit,
            ProfileError::PerfettoNotSupported => DiscardReason::ProfilingPlatformNotSupported,
        })
    }
}

/// Feature: profile chunks are accepted.
pub const FEATURE_CONTINUOUS_PROFILING: &str = "organizations:continuous-profiling";
/// Feature: Perfetto profile chunks are accepted.
pub const FEATURE_CONTINUOUS_PROFILING_PERFETTO: &str =
    "organizations:continuous-profiling-perfetto";

/// Profile chunks (§2 #7).
pub fn process_chunks(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let chunks = managed.take_items_where(|item| *item.ty() == ItemType::ProfileChunk);
    if chunks.is_empty() || !context.has_feature(FEATURE_CONTINUOUS_PROFILING) {
        // Feature drops are silent (outcomes.md §3.4).
        return;
    }
    for mut chunk in chunks {
        if is_perfetto(&chunk) && !context.has_feature(FEATURE_CONTINUOUS_PROFILING_PERFETTO) {
            continue;
        }
        let message = match process_chunk(context, &mut chunk) {
            Ok(message) => message,
            Err(outcome) => {
                managed.track_item_outcome(&chunk, &outcome);
                continue;
            }
        };
        if output
            .add_message(chunk.quantities(), KafkaTopic::Profiles, &message)
            .is_err()
        {
            managed.track_item_outcome(&chunk, &Outcome::Invalid(DiscardReason::Internal));
        }
    }
}

/// Whether a chunk carries a Perfetto trace instead of sample-format JSON.
fn is_perfetto(chunk: &Item) -> bool {
    chunk.content_type() == Some(ContentType::PerfettoTrace)
}

/// One chunk: parse, learn the platform, filter, size check, message. `Err` is the outcome for
/// the chunk. May set the chunk's `platform` header (see the module docs).
pub fn process_chunk(
    context: &ProcessingContext,
    chunk: &mut Item,
) -> Result<ProfileChunkMessage, Outcome> {
    if is_perfetto(chunk) {
        return Err(ProfileError::PerfettoNotSupported.into());
    }
    let parsed = parse_profile(chunk.payload_slice());
    learn_platform(chunk, &parsed);
    let profile = parsed?;
    filter_profile(context, &profile)?;
    // The payload goes out as received: there is no normalization that would change it yet.
    let payload = chunk.payload();
    if payload.len() > max_profile_size(context) {
        return Err(ProfileError::ExceedSizeLimit.into());
    }
    Ok(ProfileChunkMessage::new(
        context.organization_id(),
        context.project_id(),
        unix_seconds_or_now(context.received_at),
        context.event_retention(),
        payload,
        Vec::new(),
    ))
}

/// Standalone profiles (§2 #14).
pub fn process_standalone(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let Some(mut profile) = managed.take_first_where(
        |item| *item.ty() == ItemType::Profile,
        ProfileError::TooManyProfiles.into(),
    ) else {
        return;
    };
    match validate_standalone(context, &mut profile) {
        Ok(()) => push_profile(context, managed, output, &profile, false),
        Err(outcome) => managed.track_item_outcome(&profile, &outcome),
    }
}

/// Checks a standalone profile; may set its `platform` header. `Err` is its outcome.
pub fn validate_standalone(context: &ProcessingContext, profile: &mut Item) -> Result<(), Outcome> {
    // The metadata is read first so that even a rejection counts the right UI/backend
    // category.
    let parsed = parse_profile(profile.payload_slice());
    learn_platform(profile, &parsed);
    if profile.sampled() {
        return Err(ProfileError::InvalidStandalone.into());
    }
    let parsed = parsed?;
    filter_profile(context, &parsed)
}

/// Parses profile or chunk JSON; it must be an object (`profiling_invalid_json` otherwise).
fn parse_profile(payload: &[u8]) -> Result<Map<String, Value>, ProfileError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(profile)) => Ok(profile),
        Ok(_) | Err(_) => Err(ProfileError::InvalidJson),
    }
}

/// Sets the item's `platform` header from the payload when the item has none.
fn learn_platform(item: &mut Item, parsed: &Result<Map<String, Value>, ProfileError>) {
    if item.platform().is_some() {
        return;
    }
    let platform = parsed
        .as_ref()
        .ok()
        .and_then(|profile| profile.get("platform"))
        .and_then(Value::as_str)
        .filter(|platform| !platform.is_empty());
    if let Some(platform) = platform {
        item.set_platform(platform.to_owned());
    }
}

/// PLACEHOLDER: inbound filters of profiles and chunks (`filters.md` §1: the `releases`
/// filter and generic filters on `event.release` / `event.platform`); `Err` will carry the
/// `filtered` outcome. Later work fills this in.
fn filter_profile(
    _context: &ProcessingContext,
    _profile: &Map<String, Value>,
) -> Result<(), Outcome> {
    Ok(())
}

/// `limits.max_profile_size` (default 50 MiB) in bytes.
fn max_profile_size(context: &ProcessingContext) -> usize {
    context.config.max_profile_size().as_usize()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::{DateTime, Utc};
    use relay_config::{ByteSize, Config};
    use relay_protocol::{DataCategory, ProjectId};

    use super::*;
    use crate::outcome::OutcomeHandle;
    use crate::testutils::{drain_outcomes, processing_context, TestEnvelope, TestProject};

    const CHUNK: &str = r#"{"version":"2","chunk_id":"0432a0a4c25f4697bf9f0a2fcbe6a814","profiler_id":"4d229f1d3807421ba62a5f8bc295d836","platform":"python","client_sdk":{"name":"sentry.python","version":"2.0.0"},"profile":{"samples":[],"stacks":[],"frames":[]}}"#;

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_000_000, 0).unwrap()
    }

    fn chunk(payload: &str, platform: Option<&str>) -> Item {
        let mut item = Item::new(ItemType::ProfileChunk);
        item.set_payload(
            ContentType::Json,
            Bytes::copy_from_slice(payload.as_bytes()),
        );
        if let Some(platform) = platform {
            item.set_platform(platform);
        }
        item
    }

    fn perfetto_chunk() -> Item {
        let mut item = Item::new(ItemType::ProfileChunk);
        item.set_payload(ContentType::PerfettoTrace, &b"\x0a\x02\x08\x01"[..]);
        item.set_platform("android");
        item
    }

    fn profile(payload: &str, sampled: Option<bool>) -> Item {
        let mut item = Item::new(ItemType::Profile);
        item.set_payload(
            ContentType::Json,
            Bytes::copy_from_slice(payload.as_bytes()),
        );
        if let Some(sampled) = sampled {
            item.set_sampled(sampled);
        }
        item
    }

    struct Harness {
        config: Config,
        features: Vec<&'static str>,
    }

    /// What a run produced: `(topic, quantities, headers)` per request and the outcomes as
    /// `(reason, category, quantity)`.
    type Run = (
        Vec<(
            KafkaTopic,
            Vec<(DataCategory, usize)>,
            Vec<(String, String)>,
        )>,
        Vec<(String, DataCategory, usize)>,
    );

    impl Harness {
        fn new(features: &[&'static str]) -> Harness {
            Harness {
                config: Config::default(),
                features: features.to_vec(),
            }
        }

        fn managed(&self, items: Vec<Item>, outcomes: OutcomeHandle) -> ManagedEnvelope {
            TestEnvelope::from_items(items)
                .received_at(received())
                .managed(outcomes)
        }

        fn context(&self, managed: &ManagedEnvelope) -> ProcessingContext {
            let project = TestProject::new()
                .features(&self.features)
                .event_retention(30);
            processing_context(self.config.clone(), project.build(), managed)
        }

        fn run(
            &self,
            items: Vec<Item>,
            processor: fn(&ProcessingContext, &mut ManagedEnvelope, &mut ProcessingOutput),
        ) -> Run {
            let (outcomes, mut receiver) = OutcomeHandle::capturing();
            let mut managed = self.managed(items, outcomes);
            let context = self.context(&managed);
            let mut output = ProcessingOutput::default();
            processor(&context, &mut managed, &mut output);
            assert!(managed.envelope().is_empty(), "items must be taken");
            managed.accept();
            let tracked = drain_outcomes(&mut receiver);
            let requests = output
                .requests
                .iter()
                .map(|request| {
                    assert_eq!(request.messages.len(), 1);
                    let (topic, message) = &request.messages[0];
                    let headers = message
                        .headers
                        .iter()
                        .map(|(name, value)| {
                            (name.clone(), String::from_utf8(value.clone()).unwrap())
                        })
                        .collect();
                    (*topic, request.quantities.to_vec(), headers)
                })
                .collect();
            let outcomes = tracked
                .into_iter()
                .map(|outcome| {
                    (
                        outcome.outcome.reason().unwrap_or_default(),
                        outcome.category,
                        outcome.quantity as usize,
                    )
                })
                .collect();
            (requests, outcomes)
        }

        fn chunk_message(&self, mut item: Item) -> Result<(ProfileChunkMessage, Item), String> {
            let managed = self.managed(Vec::new(), OutcomeHandle::disabled());
            let context = self.context(&managed);
            managed.accept();
            process_chunk(&context, &mut item)
                .map(|message| (message, item))
                .map_err(|outcome| outcome.reason().unwrap_or_default())
        }
    }

    fn project_id_header() -> (String, String) {
        ("project_id".to_owned(), "42".to_owned())
    }

    #[test]
    fn chunks_need_continuous_profiling() {
        let (requests, outcomes) =
            Harness::new(&[]).run(vec![chunk(CHUNK, Some("python"))], process_chunks);
        assert!(requests.is_empty() && outcomes.is_empty());
    }

    #[test]
    fn each_chunk_is_its_own_message() {
        let harness = Harness::new(&[FEATURE_CONTINUOUS_PROFILING]);
        let (requests, outcomes) = harness.run(
            vec![chunk(CHUNK, Some("python")), chunk(CHUNK, Some("cocoa"))],
            process_chunks,
        );
        assert!(outcomes.is_empty());
        assert_eq!(
            requests,
            vec![
                (
                    KafkaTopic::Profiles,
                    vec![(DataCategory::ProfileChunk, 1)],
                    vec![project_id_header()]
                ),
                (
                    KafkaTopic::Profiles,
                    vec![(DataCategory::ProfileChunkUi, 1)],
                    vec![project_id_header()]
                ),
            ]
        );

        let (message, _) = harness.chunk_message(chunk(CHUNK, Some("python"))).unwrap();
        assert_eq!(message.organization_id, 7);
        assert_eq!(message.project_id, ProjectId(42));
        assert_eq!(message.received, 1_717_000_000);
        assert_eq!(message.retention_days, 30);
        assert_eq!(message.payload.as_ref(), CHUNK.as_bytes());
        assert!(message.attachments.is_empty());
    }

    #[test]
    fn chunk_platform_comes_from_the_payload_when_the_header_has_none() {
        let harness = Harness::new(&[FEATURE_CONTINUOUS_PROFILING]);
        let (_, item) = harness.chunk_message(chunk(CHUNK, None)).unwrap();
        assert_eq!(item.platform(), Some("python"));
        let (requests, _) = harness.run(vec![chunk(CHUNK, None)], process_chunks);
        assert_eq!(requests[0].1, vec![(DataCategory::ProfileChunk, 1)]);
        let ui = CHUNK.replace("python", "javascript");
        let (requests, _) = harness.run(vec![chunk(&ui, None)], process_chunks);
        assert_eq!(requests[0].1, vec![(DataCategory::ProfileChunkUi, 1)]);
        // An existing header wins.
        let (_, item) = harness.chunk_message(chunk(&ui, Some("python"))).unwrap();
        assert_eq!(item.platform(), Some("python"));
    }

    #[test]
    fn invalid_chunks() {
        let harness = Harness::new(&[FEATURE_CONTINUOUS_PROFILING]);
        let (requests, outcomes) = harness.run(
            vec![
                chunk("{not json", Some("python")),
                chunk("[]", Some("cocoa")),
                chunk("{not json", None),
                chunk(CHUNK, Some("python")),
            ],
            process_chunks,
        );
        assert_eq!(requests.len(), 1);
        assert_eq!(
            outcomes,
            vec![
                (
                    "profiling_invalid_json".to_owned(),
                    DataCategory::ProfileChunk,
                    1
                ),
                (
                    "profiling_invalid_json".to_owned(),
                    DataCategory::ProfileChunkUi,
                    1
                ),
                // Without a platform a chunk has no category, hence no outcome.
            ]
        );
    }

    #[test]
    fn chunk_size_limit() {
        let mut harness = Harness::new(&[FEATURE_CONTINUOUS_PROFILING]);
        harness.config.values.limits.max_profile_size = ByteSize::from_bytes(CHUNK.len() as u64);
        assert!(harness.chunk_message(chunk(CHUNK, Some("python"))).is_ok());
        harness.config.values.limits.max_profile_size =
            ByteSize::from_bytes(CHUNK.len() as u64 - 1);
        assert_eq!(
            harness
                .chunk_message(chunk(CHUNK, Some("python")))
                .unwrap_err(),
            "profiling_exceed_size_limit"
        );
    }

    #[test]
    fn perfetto_chunks() {
        let harness = Harness::new(&[FEATURE_CONTINUOUS_PROFILING]);
        let (requests, outcomes) = harness.run(vec![perfetto_chunk()], process_chunks);
        assert!(requests.is_empty() && outcomes.is_empty());
        let harness = Harness::new(&[
            FEATURE_CONTINUOUS_PROFILING,
            FEATURE_CONTINUOUS_PROFILING_PERFETTO,
        ]);
        let (requests, outcomes) = harness.run(vec![perfetto_chunk()], process_chunks);
        assert!(requests.is_empty());
        assert_eq!(
            outcomes,
            vec![(
                "profiling_platform_not_supported".to_owned(),
                DataCategory::ProfileChunkUi,
                1
            )]
        );
    }

    const PROFILE: &str = r#"{"version":"1","platform":"python","event_id":"0432a0a4c25f4697bf9f0a2fcbe6a814","profile":{"samples":[]}}"#;

    #[test]
    fn standalone_profile_is_sampled_false() {
        let (requests, outcomes) =
            Harness::new(&[]).run(vec![profile(PROFILE, Some(false))], process_standalone);
        assert!(outcomes.is_empty());
        assert_eq!(
            requests,
            vec![(
                KafkaTopic::Profiles,
                vec![
                    (DataCategory::Profile, 1),
                    (DataCategory::ProfileIndexed, 1),
                    (DataCategory::ProfileBackend, 1),
                ],
                vec![
                    project_id_header(),
                    ("sampled".to_owned(), "false".to_owned())
                ],
            )]
        );
    }

    #[test]
    fn standalone_profile_rejections() {
        let harness = Harness::new(&[]);
        let categories = |reason: &str, platform_category: DataCategory| {
            vec![
                (reason.to_owned(), DataCategory::Profile, 1),
                (reason.to_owned(), DataCategory::ProfileIndexed, 1),
                (reason.to_owned(), platform_category, 1),
            ]
        };
        // Not marked as sampled out (absent header means `true`).
        for sampled in [None, Some(true)] {
            let (requests, outcomes) =
                harness.run(vec![profile(PROFILE, sampled)], process_standalone);
            assert!(requests.is_empty());
            assert_eq!(
                outcomes,
                categories("profiling_invalid_standalone", DataCategory::ProfileBackend)
            );
        }
        // Not JSON: the platform stays unknown.
        let (requests, outcomes) =
            harness.run(vec![profile("{nope", Some(false))], process_standalone);
        assert!(requests.is_empty());
        assert_eq!(
            outcomes,
            vec![
                (
                    "profiling_invalid_json".to_owned(),
                    DataCategory::Profile,
                    1
                ),
                (
                    "profiling_invalid_json".to_owned(),
                    DataCategory::ProfileIndexed,
                    1
                ),
            ]
        );
        // Only the first profile is used.
        let ui = PROFILE.replace("python", "cocoa");
        let (requests, outcomes) = harness.run(
            vec![profile(PROFILE, Some(false)), profile(&ui, Some(false))],
            process_standalone,
        );
        assert_eq!(requests.len(), 1);
        assert_eq!(
            outcomes,
            vec![
                (
                    "profiling_too_many_profiles".to_owned(),
                    DataCategory::Profile,
                    1
                ),
                (
                    "profiling_too_many_profiles".to_owned(),
                    DataCategory::ProfileIndexed,
                    1
                ),
            ]
        );
    }
}
