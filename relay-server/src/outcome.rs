//! The outcome vocabulary: what happened to a quantity of data relay did not deliver (or, for
//! `accepted`, did), and the channel every stage reports it into.
//!
//! This module is the bottom of the dependency graph: every layer that drops data uses it,
//! and it uses no service. The aggregator that sums and emits outcomes is
//! [`crate::services::outcomes`].

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use relay_protocol::envelope::{Item, ItemType};
pub use relay_protocol::OutcomeId;
use relay_protocol::{DataCategory, EventId};
use relay_quotas::{ReasonCode, Scoping};
use tokio::sync::mpsc;

/// Capacity of the tracking channel; outcomes beyond it are counted as lost.
pub(crate) const OUTCOME_CHANNEL_CAPACITY: usize = 65_536;

/// The fate of a quantity of data (outcomes.md §1).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Accepted for storage (outcome id 0): span usage and billing.
    #[cfg_attr(
        not(feature = "processing"),
        allow(dead_code, reason = "only processing relays count accepted data")
    )]
    Accepted,
    /// Dropped by an inbound filter, dynamic sampling or `projects:discard-transaction`.
    Filtered(FilterStatKey),
    /// Dropped by a quota or rate limit; its reason code.
    RateLimited(Option<ReasonCode>),
    /// Malformed, too large, unauthorized or an internal error.
    Invalid(DiscardReason),
    /// Dropped as abuse (outcome id 4). Part of the wire vocabulary; this relay does not
    /// produce it.
    #[allow(
        dead_code,
        reason = "outcome id 4 of the wire vocabulary, produced upstream"
    )]
    Abuse,
    /// Reported by an SDK in a client report (`discarded_events`).
    ///
    /// The reason stays a string on purpose: it is whatever the SDK wrote (outcomes.md §7,
    /// "verbatim"), an open vocabulary that relay forwards without interpreting (only its
    /// length is checked). Relay itself never creates a `client_discard` outcome.
    ClientDiscard(String),
}

impl Outcome {
    /// The kind of outcome, without its reason.
    pub fn outcome_id(&self) -> OutcomeId {
        match self {
            Outcome::Accepted => OutcomeId::Accepted,
            Outcome::Filtered(_) => OutcomeId::Filtered,
            Outcome::RateLimited(_) => OutcomeId::RateLimited,
            Outcome::Invalid(_) => OutcomeId::Invalid,
            Outcome::Abuse => OutcomeId::Abuse,
            Outcome::ClientDiscard(_) => OutcomeId::ClientDiscard,
        }
    }

    /// The numeric outcome id.
    #[cfg_attr(
        not(feature = "processing"),
        allow(dead_code, reason = "used by the processing pipeline")
    )]
    pub fn id(&self) -> u8 {
        self.outcome_id().as_u8()
    }

    /// The outcome's name as used in metric bucket names.
    pub fn name(&self) -> &'static str {
        self.outcome_id().name()
    }

    /// The reason field, if the outcome has one.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Accepted | Outcome::Abuse => None,
            Outcome::Filtered(key) => Some(key.to_string()),
            Outcome::RateLimited(code) => code.as_ref().map(|code| code.as_str().to_owned()),
            Outcome::Invalid(reason) => Some(reason.to_string()),
            Outcome::ClientDiscard(reason) => Some(reason.clone()),
        }
    }
}

/// Reasons of `invalid` outcomes: every reason of the outcomes.md §3.3 table, one variant each.
///
/// The vocabulary is closed: a reason that is not a variant cannot be produced, so a typo does
/// not compile. Only two variants carry data, both because their wire format is composed:
/// [`DiscardReason::TooLarge`] (`too_large:<item>`) and [`DiscardReason::FeatureDisabled`]
/// (the feature is part of the 403 rejection name, not of the wire string).
///
/// Variant order matters: the outcome aggregator emits its buckets in `Ord` order (client
/// report entries, metric buckets, Kafka messages). The first variants are in their original
/// order; all later ones follow in the byte order of their wire strings, which is the order
/// they had while they were spelled as strings. Append new variants in that order too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(
    dead_code,
    reason = "the complete vocabulary of outcomes.md §3.3; variants this relay does not produce yet say so"
)]
pub enum DiscardReason {
    /// `project_id`: unknown or disabled project, URL project id mismatch, public key mismatch.
    ProjectId,
    /// `cors`: the request's `Origin` is not in the project's `allowedDomains`.
    Cors,
    /// `invalid_signature`: a trusted-relay signature does not verify.
    InvalidSignature,
    /// `missing_signature`: a request that must be signed by a trusted relay is not.
    MissingSignature,
    /// `feature_disabled`: a feature the envelope requires is not enabled for the project. The
    /// feature only appears in the 403 rejection name ([`DiscardReason::rejection_name`]).
    FeatureDisabled(String),
    /// `too_large:<item>`: an item exceeds its size limit. `<item>` is the item's size-limit
    /// name (`Item::size_limit_name`: `event`, `attachment:minidump`, `user_report_v2`, …);
    /// build it with [`DiscardReason::too_large`] or [`DiscardReason::too_large_attachment`].
    TooLarge(Cow<'static, str>),
    /// `request_too_large`: the request body exceeds the endpoint's limit.
    RequestTooLarge,
    /// `internal`: a bug or an infrastructure failure, e.g. a Kafka message that cannot be
    /// encoded or enqueued.
    Internal,
    /// `internal_envelope`: an envelope with internal items from an untrusted source.
    InternalEnvelope,
    /// `empty_body`: the request body is empty.
    EmptyBody,
    /// `invalid_body`: the request body cannot be read.
    InvalidBody,
    /// `invalid_json`: a JSON syntax error (events, check-ins, user reports, transactions,
    /// item containers).
    InvalidJson,
    /// `invalid_multipart`: a multipart body that cannot be parsed.
    InvalidMultipart,
    /// `invalid_minidump`: the minidump endpoint's upload is not a minidump.
    InvalidMinidump,
    /// `missing_minidump_upload`: the minidump endpoint's request has no minidump part.
    MissingMinidumpUpload,
    /// `invalid_compression`: bad compression of a request body or an Unreal archive.
    InvalidCompression,
    /// `invalid_envelope`: an unparsable envelope, or unknown/unsupported items in processing.
    InvalidEnvelope,
    /// `project_unavailable`: the project config could not be obtained in time.
    ProjectUnavailable,
    /// `timestamp`: timestamps out of range (replays, spans, logs, trace metrics), or an
    /// envelope that waited too long in the buffer.
    Timestamp,
    /// `queue_failed`: the envelope could not be enqueued.
    QueueFailed,
    /// `invalid_event_id`: the request/envelope event id is invalid, or attachments, user
    /// reports or replays arrive without an envelope `event_id`.
    InvalidEventId,
    /// `auth_client`: legacy auth problem (client). Not produced by this version.
    AuthClient,
    /// `auth_version`: legacy auth problem (protocol version). Not produced by this version.
    AuthVersion,
    /// `content_type`: an unsupported content type on an endpoint.
    ContentType,
    /// `disallowed_method`: legacy. Not produced by this version.
    DisallowedMethod,
    /// `duplicate`: two spans with the same span id; one of them is dropped.
    Duplicate,
    /// `duplicate_item`: a second item of a kind that must be unique in an envelope.
    DuplicateItem,
    /// `invalid_build_id`: a profile with an invalid debug image build id.
    InvalidBuildId,
    /// `invalid_check_in`: a check-in that fails normalization.
    InvalidCheckIn,
    /// `invalid_dsc`: a span whose trace id differs from the envelope's DSC.
    InvalidDsc,
    /// `invalid_log`: a log without its required fields, or an invalid log container.
    InvalidLog,
    /// `invalid_msgpack`: an `event.payload` attachment that is not a msgpack map.
    InvalidMsgpack,
    /// `invalid_placeholder_attachment`: an attachment reference that cannot be verified.
    InvalidPlaceholderAttachment,
    /// `invalid_prosperodump`: the PlayStation endpoint's upload is not a prosperodump.
    InvalidProsperodump,
    /// `invalid_proto`: an OTLP protobuf payload that does not decode.
    InvalidProto,
    /// `invalid_replay`: a replay event that is not a JSON object or fails validation.
    InvalidReplay,
    /// `invalid_replay_missing_recording`: a replay event without a recording.
    InvalidReplayMissingRecording,
    /// `invalid_replay_no_payload`: a replay event item with an empty payload.
    InvalidReplayNoPayload,
    /// `invalid_replay_pii_scrubber_failed`: PII scrubbing of a replay event failed.
    InvalidReplayPiiScrubberFailed,
    /// `invalid_replay_recording`: a replay recording that cannot be scrubbed.
    InvalidReplayRecording,
    /// `invalid_replay_video`: a replay video item that is empty or not the expected map.
    InvalidReplayVideo,
    /// `invalid_span`: a span without usable ids or timestamps, or an invalid span container.
    InvalidSpan,
    /// `invalid_span_attachment`: a span attachment that is invalid after normalization.
    InvalidSpanAttachment,
    /// `invalid_trace_attachment`: a trace attachment that is invalid after normalization.
    InvalidTraceAttachment,
    /// `invalid_trace_metric`: a trace metric without its required fields, or an invalid
    /// trace metric container.
    InvalidTraceMetric,
    /// `invalid_transaction`: a transaction with unusable timestamps or trace context.
    InvalidTransaction,
    /// `invalid_unreal_report`: a malformed Unreal crash archive.
    InvalidUnrealReport,
    /// `missing_dsc`: a span envelope without a dynamic sampling context.
    MissingDsc,
    /// `missing_prosperodump_upload`: the PlayStation endpoint's request has no prosperodump.
    MissingProsperodumpUpload,
    /// `multi_project_id`: legacy. Not produced by this version.
    MultiProjectId,
    /// `nesting_too_deep`: a payload nested too deeply.
    NestingTooDeep,
    /// `no_data`: a store request without payload.
    NoData,
    /// `no_event_payload`: an event envelope without any event payload.
    NoEventPayload,
    /// `payload`: a payload that cannot be read or decoded; broken Nintendo/PlayStation crash
    /// data.
    Payload,
    /// `process_unreal`: the crash context of an Unreal archive cannot be processed.
    ProcessUnreal,
    /// `profiling_duration_is_too_long`: a profile that lasts too long.
    ProfilingDurationIsTooLong,
    /// `profiling_duration_is_zero`: a profile of zero duration.
    ProfilingDurationIsZero,
    /// `profiling_exceed_size_limit`: a profile or chunk larger than `limits.max_profile_size`.
    ProfilingExceedSizeLimit,
    /// `profiling_failed_serialization`: a profile that cannot be serialized again.
    ProfilingFailedSerialization,
    /// `profiling_filtered`: a profile dropped by an inbound filter of its own.
    ProfilingFiltered,
    /// `profiling_invalid_base64_value`: a profile with an invalid base64 value.
    ProfilingInvalidBase64Value,
    /// `profiling_invalid_json`: a profile or chunk payload that is not a JSON object.
    ProfilingInvalidJson,
    /// `profiling_invalid_profile_metadata`: a profile with invalid metadata.
    ProfilingInvalidProfileMetadata,
    /// `profiling_invalid_profile_type`: a profile of an unknown type.
    ProfilingInvalidProfileType,
    /// `profiling_invalid_sampled_profile`: an invalid sampled profile.
    ProfilingInvalidSampledProfile,
    /// `profiling_invalid_standalone`: a standalone profile not marked `sampled: false`.
    ProfilingInvalidStandalone,
    /// `profiling_invalid_transaction_metadata`: a profile with invalid transaction metadata.
    ProfilingInvalidTransactionMetadata,
    /// `profiling_malformed_samples`: a profile with malformed samples.
    ProfilingMalformedSamples,
    /// `profiling_malformed_stacks`: a profile with malformed stacks.
    ProfilingMalformedStacks,
    /// `profiling_no_transaction_associated`: a profile without its transaction.
    ProfilingNoTransactionAssociated,
    /// `profiling_not_enough_samples`: a profile with too few samples.
    ProfilingNotEnoughSamples,
    /// `profiling_platform_not_supported`: a profile of an unsupported platform (here:
    /// Perfetto chunks, whose conversion this relay does not implement).
    ProfilingPlatformNotSupported,
    /// `profiling_too_many_profiles`: more than one profile in an envelope.
    ProfilingTooManyProfiles,
    /// `project_state`: an unusable project config.
    ProjectState,
    /// `project_state_pii`: a project config whose PII config is unusable.
    ProjectStatePii,
    /// `rate_limited`: legacy. Not produced by this version (rate limits are `rate_limited`
    /// outcomes, not `invalid`).
    RateLimited,
    /// `security_report`: a security report that is not valid (not JSON, fields missing or of
    /// the wrong type).
    SecurityReport,
    /// `security_report_type`: a JSON object of no recognised security report kind.
    SecurityReportType,
    /// `transaction_attachment`: reserved. Not produced by this version.
    TransactionAttachment,
    /// `transaction_sampled`: legacy. Not produced by this version.
    TransactionSampled,
    /// `upload_failed`: an objectstore upload failed and there is no Kafka fallback (span and
    /// trace attachments: this relay has no objectstore client).
    UploadFailed,
}

impl std::fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            DiscardReason::ProjectId => "project_id",
            DiscardReason::Cors => "cors",
            DiscardReason::InvalidSignature => "invalid_signature",
            DiscardReason::MissingSignature => "missing_signature",
            DiscardReason::FeatureDisabled(_) => "feature_disabled",
            DiscardReason::TooLarge(item) => return write!(f, "too_large:{item}"),
            DiscardReason::RequestTooLarge => "request_too_large",
            DiscardReason::Internal => "internal",
            DiscardReason::InternalEnvelope => "internal_envelope",
            DiscardReason::EmptyBody => "empty_body",
            DiscardReason::InvalidBody => "invalid_body",
            DiscardReason::InvalidJson => "invalid_json",
            DiscardReason::InvalidMultipart => "invalid_multipart",
            DiscardReason::InvalidMinidump => "invalid_minidump",
            DiscardReason::MissingMinidumpUpload => "missing_minidump_upload",
            DiscardReason::InvalidCompression => "invalid_compression",
            DiscardReason::InvalidEnvelope => "invalid_envelope",
            DiscardReason::ProjectUnavailable => "project_unavailable",
            DiscardReason::Timestamp => "timestamp",
            DiscardReason::QueueFailed => "queue_failed",
            DiscardReason::InvalidEventId => "invalid_event_id",
            DiscardReason::AuthClient => "auth_client",
            DiscardReason::AuthVersion => "auth_version",
            DiscardReason::ContentType => "content_type",
            DiscardReason::DisallowedMethod => "disallowed_method",
            DiscardReason::Duplicate => "duplicate",
            DiscardReason::DuplicateItem => "duplicate_item",
            DiscardReason::InvalidBuildId => "invalid_build_id",
            DiscardReason::InvalidCheckIn => "invalid_check_in",
            DiscardReason::InvalidDsc => "invalid_dsc",
            DiscardReason::InvalidLog => "invalid_log",
            DiscardReason::InvalidMsgpack => "invalid_msgpack",
            DiscardReason::InvalidPlaceholderAttachment => "invalid_placeholder_attachment",
            DiscardReason::InvalidProsperodump => "invalid_prosperodump",
            DiscardReason::InvalidProto => "invalid_proto",
            DiscardReason::InvalidReplay => "invalid_replay",
            DiscardReason::InvalidReplayMissingRecording => "invalid_replay_missing_recording",
            DiscardReason::InvalidReplayNoPayload => "invalid_replay_no_payload",
            DiscardReason::InvalidReplayPiiScrubberFailed => "invalid_replay_pii_scrubber_failed",
            DiscardReason::InvalidReplayRecording => "invalid_replay_recording",
            DiscardReason::InvalidReplayVideo => "invalid_replay_video",
            DiscardReason::InvalidSpan => "invalid_span",
            DiscardReason::InvalidSpanAttachment => "invalid_span_attachment",
            DiscardReason::InvalidTraceAttachment => "invalid_trace_attachment",
            DiscardReason::InvalidTraceMetric => "invalid_trace_metric",
            DiscardReason::InvalidTransaction => "invalid_transaction",
            DiscardReason::InvalidUnrealReport => "invalid_unreal_report",
            DiscardReason::MissingDsc => "missing_dsc",
            DiscardReason::MissingProsperodumpUpload => "missing_prosperodump_upload",
            DiscardReason::MultiProjectId => "multi_project_id",
            DiscardReason::NestingTooDeep => "nesting_too_deep",
            DiscardReason::NoData => "no_data",
            DiscardReason::NoEventPayload => "no_event_payload",
            DiscardReason::Payload => "payload",
            DiscardReason::ProcessUnreal => "process_unreal",
            DiscardReason::ProfilingDurationIsTooLong => "profiling_duration_is_too_long",
            DiscardReason::ProfilingDurationIsZero => "profiling_duration_is_zero",
            DiscardReason::ProfilingExceedSizeLimit => "profiling_exceed_size_limit",
            DiscardReason::ProfilingFailedSerialization => "profiling_failed_serialization",
            DiscardReason::ProfilingFiltered => "profiling_filtered",
            DiscardReason::ProfilingInvalidBase64Value => "profiling_invalid_base64_value",
            DiscardReason::ProfilingInvalidJson => "profiling_invalid_json",
            DiscardReason::ProfilingInvalidProfileMetadata => "profiling_invalid_profile_metadata",
            DiscardReason::ProfilingInvalidProfileType => "profiling_invalid_profile_type",
            DiscardReason::ProfilingInvalidSampledProfile => "profiling_invalid_sampled_profile",
            DiscardReason::ProfilingInvalidStandalone => "profiling_invalid_standalone",
            DiscardReason::ProfilingInvalidTransactionMetadata => {
                "profiling_invalid_transaction_metadata"
            }
            DiscardReason::ProfilingMalformedSamples => "profiling_malformed_samples",
            DiscardReason::ProfilingMalformedStacks => "profiling_malformed_stacks",
            DiscardReason::ProfilingNoTransactionAssociated => {
                "profiling_no_transaction_associated"
            }
            DiscardReason::ProfilingNotEnoughSamples => "profiling_not_enough_samples",
            DiscardReason::ProfilingPlatformNotSupported => "profiling_platform_not_supported",
            DiscardReason::ProfilingTooManyProfiles => "profiling_too_many_profiles",
            DiscardReason::ProjectState => "project_state",
            DiscardReason::ProjectStatePii => "project_state_pii",
            DiscardReason::RateLimited => "rate_limited",
            DiscardReason::SecurityReport => "security_report",
            DiscardReason::SecurityReportType => "security_report_type",
            DiscardReason::TransactionAttachment => "transaction_attachment",
            DiscardReason::TransactionSampled => "transaction_sampled",
            DiscardReason::UploadFailed => "upload_failed",
        };
        f.write_str(name)
    }
}

impl DiscardReason {
    /// Every reason of outcomes.md §3.3 in variant order: each variant once, except
    /// [`DiscardReason::TooLarge`], which is listed once per `<item>` of the spec (for
    /// [`DiscardReason::FeatureDisabled`] the feature is not part of the wire string).
    #[cfg(test)]
    pub const ALL: &'static [DiscardReason] = &[
        DiscardReason::ProjectId,
        DiscardReason::Cors,
        DiscardReason::InvalidSignature,
        DiscardReason::MissingSignature,
        DiscardReason::FeatureDisabled(String::new()),
        DiscardReason::TooLarge(Cow::Borrowed("event")),
        DiscardReason::TooLarge(Cow::Borrowed("transaction")),
        DiscardReason::TooLarge(Cow::Borrowed("security")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:attachment")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:minidump")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:apple_crash_report")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:event_payload")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:breadcrumbs")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:prosperodump")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:nnswitch_dying_message")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:unreal_context")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:unreal_logs")),
        DiscardReason::TooLarge(Cow::Borrowed("attachment:view_hierarchy")),
        DiscardReason::TooLarge(Cow::Borrowed("form_data")),
        DiscardReason::TooLarge(Cow::Borrowed("raw_security")),
        DiscardReason::TooLarge(Cow::Borrowed("unreal_report")),
        DiscardReason::TooLarge(Cow::Borrowed("user_report")),
        DiscardReason::TooLarge(Cow::Borrowed("session")),
        DiscardReason::TooLarge(Cow::Borrowed("sessions")),
        DiscardReason::TooLarge(Cow::Borrowed("statsd")),
        DiscardReason::TooLarge(Cow::Borrowed("metric_buckets")),
        DiscardReason::TooLarge(Cow::Borrowed("client_report")),
        DiscardReason::TooLarge(Cow::Borrowed("profile")),
        DiscardReason::TooLarge(Cow::Borrowed("replay_event")),
        DiscardReason::TooLarge(Cow::Borrowed("replay_recording")),
        DiscardReason::TooLarge(Cow::Borrowed("replay_video")),
        DiscardReason::TooLarge(Cow::Borrowed("check_in")),
        DiscardReason::TooLarge(Cow::Borrowed("log")),
        DiscardReason::TooLarge(Cow::Borrowed("trace_metric")),
        DiscardReason::TooLarge(Cow::Borrowed("span")),
        DiscardReason::TooLarge(Cow::Borrowed("user_report_v2")),
        DiscardReason::TooLarge(Cow::Borrowed("profile_chunk")),
        DiscardReason::TooLarge(Cow::Borrowed("integration")),
        DiscardReason::TooLarge(Cow::Borrowed("unknown")),
        DiscardReason::RequestTooLarge,
        DiscardReason::Internal,
        DiscardReason::InternalEnvelope,
        DiscardReason::EmptyBody,
        DiscardReason::InvalidBody,
        DiscardReason::InvalidJson,
        DiscardReason::InvalidMultipart,
        DiscardReason::InvalidMinidump,
        DiscardReason::MissingMinidumpUpload,
        DiscardReason::InvalidCompression,
        DiscardReason::InvalidEnvelope,
        DiscardReason::ProjectUnavailable,
        DiscardReason::Timestamp,
        DiscardReason::QueueFailed,
        DiscardReason::InvalidEventId,
        DiscardReason::AuthClient,
        DiscardReason::AuthVersion,
        DiscardReason::ContentType,
        DiscardReason::DisallowedMethod,
        DiscardReason::Duplicate,
        DiscardReason::DuplicateItem,
        DiscardReason::InvalidBuildId,
        DiscardReason::InvalidCheckIn,
        DiscardReason::InvalidDsc,
        DiscardReason::InvalidLog,
        DiscardReason::InvalidMsgpack,
        DiscardReason::InvalidPlaceholderAttachment,
        DiscardReason::InvalidProsperodump,
        DiscardReason::InvalidProto,
        DiscardReason::InvalidReplay,
        DiscardReason::InvalidReplayMissingRecording,
        DiscardReason::InvalidReplayNoPayload,
        DiscardReason::InvalidReplayPiiScrubberFailed,
        DiscardReason::InvalidReplayRecording,
        DiscardReason::InvalidReplayVideo,
        DiscardReason::InvalidSpan,
        DiscardReason::InvalidSpanAttachment,
        DiscardReason::InvalidTraceAttachment,
        DiscardReason::InvalidTraceMetric,
        DiscardReason::InvalidTransaction,
        DiscardReason::InvalidUnrealReport,
        DiscardReason::MissingDsc,
        DiscardReason::MissingProsperodumpUpload,
        DiscardReason::MultiProjectId,
        DiscardReason::NestingTooDeep,
        DiscardReason::NoData,
        DiscardReason::NoEventPayload,
        DiscardReason::Payload,
        DiscardReason::ProcessUnreal,
        DiscardReason::ProfilingDurationIsTooLong,
        DiscardReason::ProfilingDurationIsZero,
        DiscardReason::ProfilingExceedSizeLimit,
        DiscardReason::ProfilingFailedSerialization,
        DiscardReason::ProfilingFiltered,
        DiscardReason::ProfilingInvalidBase64Value,
        DiscardReason::ProfilingInvalidJson,
        DiscardReason::ProfilingInvalidProfileMetadata,
        DiscardReason::ProfilingInvalidProfileType,
        DiscardReason::ProfilingInvalidSampledProfile,
        DiscardReason::ProfilingInvalidStandalone,
        DiscardReason::ProfilingInvalidTransactionMetadata,
        DiscardReason::ProfilingMalformedSamples,
        DiscardReason::ProfilingMalformedStacks,
        DiscardReason::ProfilingNoTransactionAssociated,
        DiscardReason::ProfilingNotEnoughSamples,
        DiscardReason::ProfilingPlatformNotSupported,
        DiscardReason::ProfilingTooManyProfiles,
        DiscardReason::ProjectState,
        DiscardReason::ProjectStatePii,
        DiscardReason::RateLimited,
        DiscardReason::SecurityReport,
        DiscardReason::SecurityReportType,
        DiscardReason::TransactionAttachment,
        DiscardReason::TransactionSampled,
        DiscardReason::UploadFailed,
    ];

    /// `too_large:<item>` for an item of type `ty`, named as [`Item::size_limit_name`] names
    /// it (`feedback` → `user_report_v2`, unknown types → `unknown`; an attachment of the
    /// default type → `attachment:attachment`, see [`DiscardReason::too_large_attachment`]).
    #[cfg_attr(
        not(feature = "processing"),
        allow(dead_code, reason = "used by the processing pipeline")
    )]
    pub fn too_large(ty: ItemType) -> DiscardReason {
        DiscardReason::TooLarge(Cow::Owned(Item::new(ty).size_limit_name()))
    }

    /// `too_large:attachment:<kind>` for an attachment of type `ty`.
    #[cfg(test)]
    pub fn too_large_attachment(ty: relay_protocol::envelope::AttachmentType) -> DiscardReason {
        DiscardReason::TooLarge(Cow::Owned(format!("attachment:{}", ty.size_limit_kind())))
    }

    /// The name used in `event submission rejected with_reason: <Reason>` (http-api.md §3.6).
    pub fn rejection_name(&self) -> String {
        match self {
            DiscardReason::ProjectId => "ProjectId".to_owned(),
            DiscardReason::Cors => "Cors".to_owned(),
            DiscardReason::FeatureDisabled(feature) => format!("FeatureDisabled({feature:?})"),
            DiscardReason::MissingSignature => "MissingSignature".to_owned(),
            DiscardReason::InvalidSignature => "InvalidSignature".to_owned(),
            other => other.to_string(),
        }
    }
}

/// One tracked outcome (outcomes.md §4.1).
#[derive(Clone, Debug)]
pub struct TrackOutcome {
    /// When relay received the data (not when it was dropped).
    pub timestamp: DateTime<Utc>,
    pub scoping: Scoping,
    pub outcome: Outcome,
    /// The event the data belonged to. Outcome messages can carry it, but every outcome is
    /// aggregated before it is emitted, which drops it (as Sentry's Relay does by default).
    #[allow(
        dead_code,
        reason = "dropped by aggregation; kept for non-aggregated emission"
    )]
    pub event_id: Option<EventId>,
    /// The client's address; dropped by aggregation like `event_id`.
    #[allow(
        dead_code,
        reason = "dropped by aggregation; kept for non-aggregated emission"
    )]
    pub remote_addr: Option<IpAddr>,
    pub category: DataCategory,
    pub quantity: u32,
}

/// Handle for tracking outcomes; cheap to clone.
#[derive(Clone)]
pub struct OutcomeHandle {
    sender: Option<mpsc::Sender<TrackOutcome>>,
    lost: Arc<AtomicU64>,
}

impl OutcomeHandle {
    /// A handle whose outcomes go to `sender` (the aggregator's channel).
    pub(crate) fn new(sender: mpsc::Sender<TrackOutcome>) -> OutcomeHandle {
        OutcomeHandle {
            sender: Some(sender),
            lost: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A handle that discards everything (`emit_outcomes: false`, and tests).
    pub fn disabled() -> OutcomeHandle {
        OutcomeHandle {
            sender: None,
            lost: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A handle whose outcomes end up in the returned receiver (unit tests).
    #[cfg(test)]
    pub(crate) fn capturing() -> (OutcomeHandle, mpsc::Receiver<TrackOutcome>) {
        let (sender, receiver) = mpsc::channel(OUTCOME_CHANNEL_CAPACITY);
        let handle = OutcomeHandle {
            sender: Some(sender),
            lost: Arc::new(AtomicU64::new(0)),
        };
        (handle, receiver)
    }

    /// Records one outcome. Never blocks.
    pub fn track(&self, outcome: TrackOutcome) {
        let Some(sender) = &self.sender else {
            return;
        };
        if outcome.quantity == 0 {
            return;
        }
        if sender.try_send(outcome).is_err() {
            let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(
                lost_outcomes = lost,
                "outcome channel is full, outcome lost"
            );
        }
    }
}

/// Reasons of `filtered` outcomes (outcomes.md §3.1): the stat key of the inbound filter that
/// matched, or the dynamic-sampling rules that dropped the data.
///
/// Equality, hashing and ordering are those of the wire string ([`FilterStatKey::as_str`]):
/// the outcome aggregator sums outcomes with the same reason and emits them in reason order,
/// so two keys that read the same must be the same key (e.g. a client report's
/// `filtered_events` entry `Sampled:3000`, kept verbatim as [`FilterStatKey::GenericFilter`],
/// and [`FilterStatKey::Sampled`] of a custom rule).
#[derive(Clone, Debug)]
pub enum FilterStatKey {
    /// `ip-address`: the client IP filter.
    IpAddress,
    /// `release-version`: the release filter.
    ReleaseVersion,
    /// `error-message`: the error message filter.
    ErrorMessage,
    /// `browser-extensions`: the browser extension filter.
    BrowserExtensions,
    /// `legacy-browsers`: the legacy browser filter.
    LegacyBrowsers,
    /// `localhost`: the localhost filter.
    Localhost,
    /// `web-crawlers`: the web crawler filter.
    WebCrawlers,
    /// `invalid-csp`: the CSP source filter, or an unsupported raw security report type.
    InvalidCsp,
    /// `filtered-transaction`: the ignore-transactions filter.
    FilteredTransaction,
    /// `disabled-namespace`: metric buckets of an unsupported namespace found at flush (not
    /// produced in practice: such buckets are dropped silently when they are received).
    DisabledNamespace,
    /// `denied-name`: reserved; not produced by this version.
    DeniedName,
    /// `discarded`: `projects:discard-transaction` dropped the transaction payload.
    Discarded,
    /// A generic filter from project or global config matched; its id is the reason. Open by
    /// the wire format: filter ids are chosen by the config (`gen_…` or custom names). Also
    /// holds any other reason of a client report's `filtered_events`, verbatim.
    GenericFilter(String),
    /// `Sampled:<c1>,<c2>,…`: dynamic sampling dropped the data; the categories of the
    /// matched rules (processing.md §5).
    Sampled(RuleCategories),
}

impl FilterStatKey {
    /// Every fixed stat key of outcomes.md §3.1 (all variants but the open
    /// [`FilterStatKey::GenericFilter`] and [`FilterStatKey::Sampled`]), in variant order.
    pub const ALL: &'static [FilterStatKey] = &[
        FilterStatKey::IpAddress,
        FilterStatKey::ReleaseVersion,
        FilterStatKey::ErrorMessage,
        FilterStatKey::BrowserExtensions,
        FilterStatKey::LegacyBrowsers,
        FilterStatKey::Localhost,
        FilterStatKey::WebCrawlers,
        FilterStatKey::InvalidCsp,
        FilterStatKey::FilteredTransaction,
        FilterStatKey::DisabledNamespace,
        FilterStatKey::DeniedName,
        FilterStatKey::Discarded,
    ];

    /// The wire string: the `reason` of the outcome.
    pub fn as_str(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            FilterStatKey::IpAddress => "ip-address",
            FilterStatKey::ReleaseVersion => "release-version",
            FilterStatKey::ErrorMessage => "error-message",
            FilterStatKey::BrowserExtensions => "browser-extensions",
            FilterStatKey::LegacyBrowsers => "legacy-browsers",
            FilterStatKey::Localhost => "localhost",
            FilterStatKey::WebCrawlers => "web-crawlers",
            FilterStatKey::InvalidCsp => "invalid-csp",
            FilterStatKey::FilteredTransaction => "filtered-transaction",
            FilterStatKey::DisabledNamespace => "disabled-namespace",
            FilterStatKey::DeniedName => "denied-name",
            FilterStatKey::Discarded => "discarded",
            FilterStatKey::GenericFilter(id) => id,
            FilterStatKey::Sampled(categories) => {
                return Cow::Owned(format!("{SAMPLED_REASON_PREFIX}{categories}"))
            }
        })
    }

    /// The key of a reason received as a string (a client report's `filtered_events` entry):
    /// a fixed stat key if it is one, otherwise kept verbatim as a generic filter id.
    pub fn from_reason(reason: &str) -> FilterStatKey {
        FilterStatKey::ALL
            .iter()
            .find(|key| key.as_str() == reason)
            .cloned()
            .unwrap_or_else(|| FilterStatKey::GenericFilter(reason.to_owned()))
    }

    /// Whether the reason reads `Sampled:…`: such outcomes are reported in the
    /// `filtered_sampling_events` list of client reports. Decided on the wire string, because a
    /// client report's `filtered_events` may spell a sampling reason verbatim.
    pub fn is_sampling(&self) -> bool {
        self.as_str().starts_with(SAMPLED_REASON_PREFIX)
    }
}

impl std::fmt::Display for FilterStatKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl PartialEq for FilterStatKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FilterStatKey {}

impl std::hash::Hash for FilterStatKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for FilterStatKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FilterStatKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(&other.as_str())
    }
}

/// Prefix of the reason of outcomes produced by dynamic sampling.
pub const SAMPLED_REASON_PREFIX: &str = "Sampled:";

/// The category a sampling rule id is reported as (processing.md §5), in reporting order:
/// the catch-all `0` always comes last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleCategory {
    BoostLowVolumeProjects,
    BoostEnvironments,
    IgnoreHealthChecks,
    BoostKeyTransactions,
    Recalibration,
    BoostReplayId,
    BoostLowVolumeTransactions,
    BoostLatestReleases,
    Custom,
    Other,
}

impl RuleCategory {
    /// The category of a rule id.
    pub fn of_rule(rule_id: u32) -> RuleCategory {
        match rule_id {
            1000 => RuleCategory::BoostLowVolumeProjects,
            1001 => RuleCategory::BoostEnvironments,
            1002 => RuleCategory::IgnoreHealthChecks,
            1003 => RuleCategory::BoostKeyTransactions,
            1004 => RuleCategory::Recalibration,
            1005 => RuleCategory::BoostReplayId,
            1400..=1499 => RuleCategory::BoostLowVolumeTransactions,
            1500..=1599 => RuleCategory::BoostLatestReleases,
            3000..=4999 => RuleCategory::Custom,
            _ => RuleCategory::Other,
        }
    }

    /// The number the category is rendered as.
    pub fn code(self) -> u32 {
        match self {
            RuleCategory::BoostLowVolumeProjects => 1000,
            RuleCategory::BoostEnvironments => 1001,
            RuleCategory::IgnoreHealthChecks => 1002,
            RuleCategory::BoostKeyTransactions => 1003,
            RuleCategory::Recalibration => 1004,
            RuleCategory::BoostReplayId => 1005,
            RuleCategory::BoostLowVolumeTransactions => 1400,
            RuleCategory::BoostLatestReleases => 1500,
            RuleCategory::Custom => 3000,
            RuleCategory::Other => 0,
        }
    }
}

/// The categories of the sampling rules that matched: deduplicated, in [`RuleCategory`]
/// order; rendered as their codes separated by commas (`1000,1004`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleCategories(Vec<RuleCategory>);

impl RuleCategories {
    /// The categories of the matched rule ids.
    pub fn of_rules(rule_ids: impl IntoIterator<Item = u32>) -> RuleCategories {
        let mut categories: Vec<RuleCategory> =
            rule_ids.into_iter().map(RuleCategory::of_rule).collect();
        categories.sort();
        categories.dedup();
        RuleCategories(categories)
    }
}

impl std::fmt::Display for RuleCategories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, category) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", category.code())?;
        }
        Ok(())
    }
}

/// `Sampled:<categories>` for the matched rule ids: deduplicated, in [`RuleCategory`] order.
pub fn sampled_reason(rule_ids: impl IntoIterator<Item = u32>) -> FilterStatKey {
    FilterStatKey::Sampled(RuleCategories::of_rules(rule_ids))
}

/// Parses `Sampled:<id>,<id>,…` (rule ids as reported by SDKs and downstream relays) and
/// renders it with rule categories; `None` unless every id is an unsigned integer.
pub fn normalize_sampled_reason(reason: &str) -> Option<FilterStatKey> {
    let rule_ids = reason.strip_prefix(SAMPLED_REASON_PREFIX)?;
    let parsed: Option<Vec<u32>> = rule_ids
        .split(',')
        .map(|rule_id| {
            // `str::parse` would also take a leading `+`; only plain digits are rule ids.
            if rule_id.is_empty() || !rule_id.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            rule_id.parse::<u32>().ok()
        })
        .collect();
    parsed.map(sampled_reason)
}

/// The outcome id of a `c:outcomes/<name>@none` bucket name (outcomes.md §4.2).
#[cfg_attr(
    not(feature = "processing"),
    allow(dead_code, reason = "used by the processing pipeline")
)]
pub fn outcome_id_of_bucket_name(name: &str) -> Option<u8> {
    OutcomeId::from_name(name).map(OutcomeId::as_u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_bucket_names_use_the_outcome_id_table() {
        assert_eq!(outcome_id_of_bucket_name("cardinality_limited"), Some(6));
        assert_eq!(outcome_id_of_bucket_name("nonsense"), None);
        assert_eq!(Outcome::RateLimited(None).name(), "rate_limited");
        assert_eq!(Outcome::ClientDiscard("x".into()).id(), 5);
    }
}

#[cfg(test)]
mod reason_tests {
    use std::collections::BTreeSet;

    use relay_protocol::envelope::AttachmentType;

    use super::*;

    /// Every `invalid` reason of outcomes.md §3.3, written out as the spec lists them.
    const SPEC_DISCARD_REASONS: &[&str] = &[
        "duplicate",
        "project_id",
        "invalid_event_id",
        "auth_version",
        "auth_client",
        "no_data",
        "too_large:event",
        "too_large:transaction",
        "too_large:security",
        "too_large:attachment:attachment",
        "too_large:attachment:minidump",
        "too_large:attachment:apple_crash_report",
        "too_large:attachment:event_payload",
        "too_large:attachment:breadcrumbs",
        "too_large:attachment:prosperodump",
        "too_large:attachment:nnswitch_dying_message",
        "too_large:attachment:unreal_context",
        "too_large:attachment:unreal_logs",
        "too_large:attachment:view_hierarchy",
        "too_large:form_data",
        "too_large:raw_security",
        "too_large:unreal_report",
        "too_large:user_report",
        "too_large:session",
        "too_large:sessions",
        "too_large:statsd",
        "too_large:metric_buckets",
        "too_large:client_report",
        "too_large:profile",
        "too_large:replay_event",
        "too_large:replay_recording",
        "too_large:replay_video",
        "too_large:check_in",
        "too_large:log",
        "too_large:trace_metric",
        "too_large:span",
        "too_large:user_report_v2",
        "too_large:profile_chunk",
        "too_large:integration",
        "too_large:unknown",
        "request_too_large",
        "rate_limited",
        "disallowed_method",
        "multi_project_id",
        "content_type",
        "missing_minidump_upload",
        "invalid_minidump",
        "missing_prosperodump_upload",
        "invalid_prosperodump",
        "security_report_type",
        "security_report",
        "cors",
        "payload",
        "empty_body",
        "invalid_body",
        "invalid_json",
        "invalid_proto",
        "invalid_msgpack",
        "invalid_multipart",
        "invalid_transaction",
        "invalid_envelope",
        "invalid_compression",
        "internal_envelope",
        "queue_failed",
        "project_unavailable",
        "project_state",
        "project_state_pii",
        "duplicate_item",
        "no_event_payload",
        "timestamp",
        "internal",
        "invalid_unreal_report",
        "process_unreal",
        "transaction_sampled",
        "invalid_replay",
        "invalid_replay_no_payload",
        "invalid_replay_pii_scrubber_failed",
        "invalid_replay_recording",
        "invalid_replay_video",
        "invalid_replay_missing_recording",
        "profiling_failed_serialization",
        "profiling_exceed_size_limit",
        "profiling_invalid_base64_value",
        "profiling_invalid_json",
        "profiling_invalid_sampled_profile",
        "profiling_invalid_transaction_metadata",
        "profiling_invalid_profile_type",
        "profiling_malformed_samples",
        "profiling_malformed_stacks",
        "profiling_invalid_profile_metadata",
        "profiling_no_transaction_associated",
        "profiling_not_enough_samples",
        "profiling_platform_not_supported",
        "profiling_too_many_profiles",
        "profiling_duration_is_too_long",
        "profiling_duration_is_zero",
        "profiling_filtered",
        "invalid_build_id",
        "profiling_invalid_standalone",
        "invalid_log",
        "invalid_trace_metric",
        "invalid_span",
        "invalid_span_attachment",
        "invalid_trace_attachment",
        "invalid_placeholder_attachment",
        "feature_disabled",
        "transaction_attachment",
        "invalid_signature",
        "missing_signature",
        "invalid_check_in",
        "missing_dsc",
        "invalid_dsc",
        "upload_failed",
        "nesting_too_deep",
    ];

    /// The fixed `filtered` reasons of outcomes.md §3.1.
    const SPEC_FILTER_STAT_KEYS: &[&str] = &[
        "ip-address",
        "release-version",
        "error-message",
        "browser-extensions",
        "legacy-browsers",
        "localhost",
        "web-crawlers",
        "invalid-csp",
        "filtered-transaction",
        "disabled-namespace",
        "denied-name",
        "discarded",
    ];

    fn sorted(strings: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut strings: Vec<String> = strings.into_iter().collect();
        strings.sort();
        strings
    }

    fn spec(list: &[&str]) -> Vec<String> {
        sorted(list.iter().map(|reason| (*reason).to_owned()))
    }

    #[test]
    fn every_discard_reason_serializes_to_its_spec_wire_string() {
        let serialized = sorted(DiscardReason::ALL.iter().map(DiscardReason::to_string));
        assert_eq!(serialized, spec(SPEC_DISCARD_REASONS));
        // Through the outcome as well.
        for reason in DiscardReason::ALL {
            let outcome = Outcome::Invalid(reason.clone());
            assert_eq!(outcome.reason(), Some(reason.to_string()));
        }
    }

    #[test]
    fn discard_reason_list_has_no_duplicates() {
        let variants: BTreeSet<&DiscardReason> = DiscardReason::ALL.iter().collect();
        assert_eq!(variants.len(), DiscardReason::ALL.len());
        let wire: BTreeSet<String> = DiscardReason::ALL.iter().map(|r| r.to_string()).collect();
        assert_eq!(wire.len(), DiscardReason::ALL.len());
        assert_eq!(
            BTreeSet::from_iter(SPEC_DISCARD_REASONS).len(),
            SPEC_DISCARD_REASONS.len()
        );
    }

    #[test]
    fn discard_reasons_sort_like_their_former_strings() {
        // The variants after `InvalidEventId` were strings once; their order (the order the
        // aggregator emits outcomes in) is the byte order of their wire strings.
        let position = DiscardReason::ALL
            .iter()
            .position(|reason| *reason == DiscardReason::InvalidEventId)
            .unwrap();
        let later = &DiscardReason::ALL[position + 1..];
        assert!(later.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(later
            .windows(2)
            .all(|pair| pair[0].to_string() < pair[1].to_string()));
    }

    #[test]
    fn too_large_names_are_the_spec_item_names() {
        let mut produced: BTreeSet<String> = ItemType::ALL
            .iter()
            .cloned()
            .chain([ItemType::Unknown("custom".into())])
            .map(|ty| DiscardReason::too_large(ty).to_string())
            .collect();
        produced.extend(
            AttachmentType::ALL
                .iter()
                .map(|ty| DiscardReason::too_large_attachment(*ty).to_string()),
        );
        let spec: BTreeSet<String> = SPEC_DISCARD_REASONS
            .iter()
            .filter(|reason| reason.starts_with("too_large:"))
            .map(|reason| (*reason).to_owned())
            .collect();
        // `statsd` items do not exist in this version, so nothing is named after them.
        let unproduced: Vec<&String> = spec.difference(&produced).collect();
        assert_eq!(unproduced, ["too_large:statsd"]);
        assert!(produced.is_subset(&spec), "{produced:?}");
    }

    #[test]
    fn rejection_names() {
        let name = |reason: DiscardReason| reason.rejection_name();
        assert_eq!(name(DiscardReason::ProjectId), "ProjectId");
        assert_eq!(name(DiscardReason::Cors), "Cors");
        assert_eq!(name(DiscardReason::MissingSignature), "MissingSignature");
        assert_eq!(name(DiscardReason::InvalidSignature), "InvalidSignature");
        assert_eq!(
            name(DiscardReason::FeatureDisabled(
                "organizations:ourlogs-ingestion".into()
            )),
            r#"FeatureDisabled("organizations:ourlogs-ingestion")"#
        );
        assert_eq!(
            name(DiscardReason::TooLarge("event".into())),
            "too_large:event"
        );
        assert_eq!(name(DiscardReason::InvalidJson), "invalid_json");
    }

    #[test]
    fn every_filter_stat_key_serializes_to_its_spec_wire_string() {
        let serialized = sorted(FilterStatKey::ALL.iter().map(FilterStatKey::to_string));
        assert_eq!(serialized, spec(SPEC_FILTER_STAT_KEYS));
        for key in FilterStatKey::ALL {
            assert_eq!(FilterStatKey::from_reason(&key.to_string()), *key);
            let outcome = Outcome::Filtered(key.clone());
            assert_eq!(outcome.reason(), Some(key.to_string()));
        }
        // The open keys.
        let generic = FilterStatKey::from_reason("gen_1234");
        assert!(matches!(&generic, FilterStatKey::GenericFilter(id) if id == "gen_1234"));
        assert_eq!(generic.to_string(), "gen_1234");
        assert_eq!(sampled_reason([3000]).to_string(), "Sampled:3000");
        assert!(sampled_reason([3000]).is_sampling());
        assert!(!FilterStatKey::ReleaseVersion.is_sampling());
    }

    #[test]
    fn filter_stat_key_list_has_no_duplicates() {
        let wire: BTreeSet<String> = FilterStatKey::ALL.iter().map(|k| k.to_string()).collect();
        assert_eq!(wire.len(), FilterStatKey::ALL.len());
        assert_eq!(
            BTreeSet::from_iter(SPEC_FILTER_STAT_KEYS).len(),
            SPEC_FILTER_STAT_KEYS.len()
        );
    }

    #[test]
    fn filter_stat_keys_compare_by_wire_string() {
        // A verbatim client-report reason and the sampling key it spells are one key.
        let verbatim = FilterStatKey::from_reason("Sampled:3000");
        assert!(matches!(verbatim, FilterStatKey::GenericFilter(_)));
        assert!(verbatim.is_sampling());
        assert_eq!(verbatim, sampled_reason([3001]));
        // Ordered like the strings they used to be.
        let mut keys = [
            FilterStatKey::WebCrawlers,
            FilterStatKey::GenericFilter("gen_1".into()),
            sampled_reason([1004]),
            FilterStatKey::BrowserExtensions,
        ];
        keys.sort();
        let names: Vec<String> = keys.iter().map(FilterStatKey::to_string).collect();
        assert_eq!(
            names,
            [
                "Sampled:1004",
                "browser-extensions",
                "gen_1",
                "web-crawlers"
            ]
        );
    }
}
