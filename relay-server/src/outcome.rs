//! The outcome vocabulary: what happened to a quantity of data relay did not deliver (or, for
//! `accepted`, did), and the channel every stage reports it into.
//!
//! This module is the bottom of the dependency graph: every layer that drops data uses it,
//! and it uses no service. The aggregator that sums and emits outcomes is
//! [`crate::services::outcomes`].

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use relay_protocol::{DataCategory, EventId};
use relay_quotas::{ReasonCode, Scoping};
use tokio::sync::mpsc;

/// Capacity of the tracking channel; outcomes beyond it are counted as lost.
pub(crate) const OUTCOME_CHANNEL_CAPACITY: usize = 65_536;

/// The fate of a quantity of data (outcomes.md §1).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Accepted,
    /// Dropped by an inbound filter or sampling; the filter's stat key.
    Filtered(String),
    /// Dropped by a quota or rate limit; its reason code.
    RateLimited(Option<ReasonCode>),
    /// Malformed, too large, unauthorized or an internal error.
    Invalid(DiscardReason),
    Abuse,
    /// Reported by an SDK in a client report.
    ClientDiscard(String),
}

impl Outcome {
    /// The numeric outcome id.
    pub fn id(&self) -> u8 {
        match self {
            Outcome::Accepted => 0,
            Outcome::Filtered(_) => 1,
            Outcome::RateLimited(_) => 2,
            Outcome::Invalid(_) => 3,
            Outcome::Abuse => 4,
            Outcome::ClientDiscard(_) => 5,
        }
    }

    /// The outcome's name as used in metric bucket names.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Filtered(_) => "filtered",
            Outcome::RateLimited(_) => "rate_limited",
            Outcome::Invalid(_) => "invalid",
            Outcome::Abuse => "abuse",
            Outcome::ClientDiscard(_) => "client_discard",
        }
    }

    /// The reason field, if the outcome has one.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Accepted | Outcome::Abuse => None,
            Outcome::Filtered(key) => Some(key.clone()),
            Outcome::RateLimited(code) => code.as_ref().map(|code| code.as_str().to_owned()),
            Outcome::Invalid(reason) => Some(reason.to_string()),
            Outcome::ClientDiscard(reason) => Some(reason.clone()),
        }
    }
}

/// Reasons of `invalid` outcomes (outcomes.md §3.3) that this relay produces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiscardReason {
    ProjectId,
    Cors,
    InvalidSignature,
    MissingSignature,
    /// A feature the envelope requires is not enabled for the project.
    FeatureDisabled(String),
    /// `too_large:<item>`.
    TooLarge(String),
    RequestTooLarge,
    Internal,
    InternalEnvelope,
    EmptyBody,
    InvalidBody,
    InvalidJson,
    InvalidMultipart,
    InvalidMinidump,
    MissingMinidumpUpload,
    InvalidCompression,
    InvalidEnvelope,
    ProjectUnavailable,
    Timestamp,
    QueueFailed,
    InvalidEventId,
    /// Any other reason of the outcomes.md §3.3 table, written verbatim (the processing stages
    /// name theirs as constants, e.g. `no_event_payload`, `duplicate_item`, `invalid_replay`).
    Named(&'static str),
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
            DiscardReason::Named(name) => name,
        };
        f.write_str(name)
    }
}

impl DiscardReason {
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
    pub event_id: Option<EventId>,
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

/// `Sampled:<categories>` for the matched rule ids: deduplicated, in [`RuleCategory`] order.
pub fn sampled_reason(rule_ids: impl IntoIterator<Item = u32>) -> String {
    let mut categories: Vec<RuleCategory> =
        rule_ids.into_iter().map(RuleCategory::of_rule).collect();
    categories.sort();
    categories.dedup();
    let rendered: Vec<String> = categories
        .iter()
        .map(|category| category.code().to_string())
        .collect();
    format!("{SAMPLED_REASON_PREFIX}{}", rendered.join(","))
}

/// Parses `Sampled:<id>,<id>,…` (rule ids as reported by SDKs and downstream relays) and
/// renders it with rule categories; `None` unless every id is an unsigned integer.
pub fn normalize_sampled_reason(reason: &str) -> Option<String> {
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
pub fn outcome_id_of_bucket_name(name: &str) -> Option<u8> {
    match name {
        "accepted" => Some(0),
        "filtered" => Some(1),
        "rate_limited" => Some(2),
        "invalid" => Some(3),
        "abuse" => Some(4),
        "client_discard" => Some(5),
        "cardinality_limited" => Some(6),
        _ => None,
    }
}
