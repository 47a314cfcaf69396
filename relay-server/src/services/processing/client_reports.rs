//! SDK client reports turned into outcomes (managed mode, relay-protocol.md §7.3,
//! outcomes.md §7).
//!
//! Every entry of a valid report becomes one outcome with the report's timestamp; the
//! `client_report` item itself is then removed and never forwarded. Anything invalid is
//! dropped silently: an unparsable report, a report whose timestamp is older than the
//! project's event retention or too far in the future, an entry whose reason is longer than
//! [`MAX_CLIENT_REPORT_REASON_BYTES`], and a `filtered_sampling_events` entry whose reason is
//! not `Sampled:` with rule ids. Client reports never produce outcomes about themselves.

use chrono::{DateTime, Duration as SignedDuration, Utc};
use relay_protocol::client_report::{ClientReport, DiscardedEvent};
use relay_protocol::DataCategory;
use relay_quotas::ReasonCode;

use relay_config::Config;
use relay_protocol::envelope::ItemType;

use crate::managed::ManagedEnvelope;
use crate::outcome::{normalize_sampled_reason, FilterStatKey, Outcome};
use crate::services::projects::ProjectState;

/// Longest accepted reason of a client report entry, in bytes.
pub const MAX_CLIENT_REPORT_REASON_BYTES: usize = 200;

/// Clock drift below this many whole seconds is not corrected (normalization.md §4.1).
const MIN_CLOCK_DRIFT_SECS: i64 = 55 * 60;

const SECONDS_PER_DAY: i64 = 24 * 60 * 60;

/// Replaces the SDK client reports of an envelope by the outcomes they report
/// (relay-protocol.md §7.3). Runs before forwarding in managed relays and before the pipeline
/// in processing relays.
pub fn convert_client_reports(
    managed: &mut ManagedEnvelope,
    state: &ProjectState,
    config: &Config,
) {
    let reports = managed.take_items_where(|item| *item.ty() == ItemType::ClientReport);
    if reports.is_empty() {
        return;
    }
    let context = ClientReportContext {
        received_at: managed.received_at(),
        sent_at: managed.envelope().headers().sent_at,
        retention_days: state.config.event_retention_days(),
        max_secs_in_future: config.max_secs_in_future(),
    };
    for item in reports {
        let report = match ClientReport::parse(item.payload_slice()) {
            Ok(report) => report,
            Err(error) => {
                tracing::debug!(error = %error, "dropping unparsable client report");
                continue;
            }
        };
        let outcomes = match reported_outcomes(&report, &context) {
            Ok(outcomes) => outcomes,
            Err(rejection) => {
                tracing::debug!(%rejection, "dropping client report");
                continue;
            }
        };
        for reported in outcomes {
            managed.track_at(
                reported.timestamp,
                reported.outcome,
                reported.category,
                usize::try_from(reported.quantity).unwrap_or(usize::MAX),
            );
        }
    }
}

/// What validating a report needs to know about its envelope and project.
#[derive(Clone, Debug)]
pub struct ClientReportContext {
    /// When relay received the envelope.
    pub received_at: DateTime<Utc>,
    /// The envelope's `sent_at`, for clock-drift correction.
    pub sent_at: Option<DateTime<Utc>>,
    /// The project's event retention in days.
    pub retention_days: u16,
    /// How far a report may lie in the future, in seconds.
    pub max_secs_in_future: u32,
}

/// One outcome reported by an SDK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedOutcome {
    pub timestamp: DateTime<Utc>,
    pub outcome: Outcome,
    pub category: DataCategory,
    pub quantity: u32,
}

/// Why a whole report was dropped (logged at debug level only: reports are dropped silently).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientReportRejection {
    #[error("client report timestamp {0} cannot be represented")]
    UnrepresentableTimestamp(u64),
    #[error("client report timestamp {0} is older than the event retention")]
    TooOld(DateTime<Utc>),
    #[error("client report timestamp {0} is too far in the future")]
    InFuture(DateTime<Utc>),
}

/// The outcome of an entry of one report section, `None` when the reason is invalid.
type ReasonToOutcome = fn(&str) -> Option<Outcome>;

/// The outcomes of a parsed report, or why the whole report is dropped.
pub fn reported_outcomes(
    report: &ClientReport,
    context: &ClientReportContext,
) -> Result<Vec<ReportedOutcome>, ClientReportRejection> {
    let timestamp = report_timestamp(report, context)?;
    let mut outcomes = Vec::new();
    let sections: [(&[DiscardedEvent], ReasonToOutcome); 4] = [
        (&report.discarded_events, |reason| {
            Some(Outcome::ClientDiscard(reason.to_owned()))
        }),
        (&report.rate_limited_events, |reason| {
            let code = (!reason.is_empty()).then(|| ReasonCode::new(reason));
            Some(Outcome::RateLimited(code))
        }),
        (&report.filtered_events, |reason| {
            Some(Outcome::Filtered(FilterStatKey::from_reason(reason)))
        }),
        (&report.filtered_sampling_events, |reason| {
            normalize_sampled_reason(reason).map(Outcome::Filtered)
        }),
    ];
    for (entries, to_outcome) in sections {
        for entry in entries {
            if entry.reason.len() > MAX_CLIENT_REPORT_REASON_BYTES {
                tracing::debug!("dropping client report entry with an overlong reason");
                continue;
            }
            let Some(outcome) = to_outcome(&entry.reason) else {
                tracing::debug!(reason = %entry.reason, "dropping client report entry with an invalid reason");
                continue;
            };
            outcomes.push(ReportedOutcome {
                timestamp,
                outcome,
                category: entry.category,
                quantity: entry.quantity,
            });
        }
    }
    Ok(outcomes)
}

/// The report's timestamp after clock-drift correction, validated against retention and the
/// future limit; the receive time when the report has none.
fn report_timestamp(
    report: &ClientReport,
    context: &ClientReportContext,
) -> Result<DateTime<Utc>, ClientReportRejection> {
    let Some(seconds) = report.timestamp else {
        return Ok(context.received_at);
    };
    let reported = i64::try_from(seconds)
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or(ClientReportRejection::UnrepresentableTimestamp(seconds))?;
    let timestamp = correct_clock_drift(reported, context.sent_at, context.received_at)
        .ok_or(ClientReportRejection::UnrepresentableTimestamp(seconds))?;

    let retention = SignedDuration::seconds(i64::from(context.retention_days) * SECONDS_PER_DAY);
    let oldest = context.received_at - retention;
    if timestamp < oldest {
        return Err(ClientReportRejection::TooOld(timestamp));
    }
    let newest =
        context.received_at + SignedDuration::seconds(i64::from(context.max_secs_in_future));
    if timestamp > newest {
        return Err(ClientReportRejection::InFuture(timestamp));
    }
    Ok(timestamp)
}

/// Shifts `timestamp` by `received_at − sent_at` when that drift is at least
/// [`MIN_CLOCK_DRIFT_SECS`] whole seconds; `None` if the result cannot be represented.
fn correct_clock_drift(
    timestamp: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let Some(sent_at) = sent_at else {
        return Some(timestamp);
    };
    let drift = received_at.signed_duration_since(sent_at);
    if drift.num_seconds().abs() < MIN_CLOCK_DRIFT_SECS {
        return Some(timestamp);
    }
    timestamp.checked_add_signed(drift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::sampled_reason;
    use crate::services::projects::state::DEFAULT_EVENT_RETENTION_DAYS;

    const NOW: i64 = 1_735_732_800;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn context() -> ClientReportContext {
        ClientReportContext {
            received_at: at(NOW),
            sent_at: None,
            retention_days: DEFAULT_EVENT_RETENTION_DAYS,
            max_secs_in_future: 60,
        }
    }

    fn entry(reason: &str, category: DataCategory, quantity: u32) -> DiscardedEvent {
        DiscardedEvent {
            reason: reason.to_owned(),
            category,
            quantity,
        }
    }

    fn parse(json: &str) -> ClientReport {
        ClientReport::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn maps_every_section() {
        let report = ClientReport {
            timestamp: Some(NOW as u64 - 30),
            discarded_events: vec![entry("queue_overflow", DataCategory::Error, 3)],
            rate_limited_events: vec![
                entry("generic", DataCategory::Transaction, 1),
                entry("", DataCategory::Span, 4),
            ],
            filtered_events: vec![entry("release-version", DataCategory::Error, 2)],
            filtered_sampling_events: vec![entry("Sampled:7,1004", DataCategory::Transaction, 5)],
        };
        let outcomes = reported_outcomes(&report, &context()).unwrap();
        let timestamp = at(NOW - 30);
        assert_eq!(
            outcomes,
            vec![
                ReportedOutcome {
                    timestamp,
                    outcome: Outcome::ClientDiscard("queue_overflow".into()),
                    category: DataCategory::Error,
                    quantity: 3,
                },
                ReportedOutcome {
                    timestamp,
                    outcome: Outcome::RateLimited(Some(ReasonCode::new("generic"))),
                    category: DataCategory::Transaction,
                    quantity: 1,
                },
                ReportedOutcome {
                    timestamp,
                    outcome: Outcome::RateLimited(None),
                    category: DataCategory::Span,
                    quantity: 4,
                },
                ReportedOutcome {
                    timestamp,
                    outcome: Outcome::Filtered(FilterStatKey::ReleaseVersion),
                    category: DataCategory::Error,
                    quantity: 2,
                },
                ReportedOutcome {
                    timestamp,
                    outcome: Outcome::Filtered(sampled_reason([1004, 0])),
                    category: DataCategory::Transaction,
                    quantity: 5,
                },
            ]
        );
    }

    #[test]
    fn missing_timestamp_uses_receive_time() {
        let report =
            parse(r#"{"discarded_events":[{"reason":"x","category":"error","quantity":1}]}"#);
        let outcomes = reported_outcomes(&report, &context()).unwrap();
        assert_eq!(outcomes[0].timestamp, at(NOW));
    }

    #[test]
    fn reason_length_limit_is_in_bytes() {
        let at_limit = "a".repeat(MAX_CLIENT_REPORT_REASON_BYTES);
        // 101 two-byte characters: 101 characters, 202 bytes.
        let over_limit_in_bytes = "é".repeat(101);
        let report = ClientReport {
            timestamp: None,
            discarded_events: vec![
                entry(&at_limit, DataCategory::Error, 1),
                entry(&over_limit_in_bytes, DataCategory::Error, 1),
            ],
            ..ClientReport::default()
        };
        let outcomes = reported_outcomes(&report, &context()).unwrap();
        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[0].outcome, Outcome::ClientDiscard(at_limit));
    }

    #[test]
    fn invalid_sampling_reasons_are_dropped() {
        let report = ClientReport {
            timestamp: None,
            filtered_sampling_events: vec![
                entry("Sampled:abc", DataCategory::Transaction, 1),
                entry("random", DataCategory::Transaction, 1),
                entry("Sampled:3001", DataCategory::Transaction, 1),
            ],
            ..ClientReport::default()
        };
        let outcomes = reported_outcomes(&report, &context()).unwrap();
        assert_eq!(outcomes.len(), 1);
        assert_eq!(
            outcomes[0].outcome,
            Outcome::Filtered(sampled_reason([3000]))
        );
    }

    #[test]
    fn retention_bounds_the_age() {
        let mut context = context();
        context.retention_days = 1;
        let one_day = SECONDS_PER_DAY;
        let report = |timestamp: i64| ClientReport {
            timestamp: Some(timestamp as u64),
            discarded_events: vec![entry("x", DataCategory::Error, 1)],
            ..ClientReport::default()
        };
        assert!(reported_outcomes(&report(NOW - one_day), &context).is_ok());
        assert_eq!(
            reported_outcomes(&report(NOW - one_day - 1), &context),
            Err(ClientReportRejection::TooOld(at(NOW - one_day - 1)))
        );
        // The default retention is 90 days.
        let default_context = self::context();
        assert!(reported_outcomes(&report(NOW - 89 * one_day), &default_context).is_ok());
        assert!(reported_outcomes(&report(NOW - 91 * one_day), &default_context).is_err());
    }

    #[test]
    fn future_limit() {
        let report = |timestamp: i64| ClientReport {
            timestamp: Some(timestamp as u64),
            discarded_events: vec![entry("x", DataCategory::Error, 1)],
            ..ClientReport::default()
        };
        assert!(reported_outcomes(&report(NOW + 60), &context()).is_ok());
        assert_eq!(
            reported_outcomes(&report(NOW + 61), &context()),
            Err(ClientReportRejection::InFuture(at(NOW + 61)))
        );
    }

    #[test]
    fn clock_drift_is_corrected_from_55_minutes_on() {
        let two_hours = 2 * 60 * 60;
        let report = ClientReport {
            // The SDK clock is two hours ahead: the report looks like it is from the future.
            timestamp: Some((NOW + two_hours - 10) as u64),
            discarded_events: vec![entry("x", DataCategory::Error, 1)],
            ..ClientReport::default()
        };
        let mut context = context();
        context.sent_at = Some(at(NOW + two_hours));
        let outcomes = reported_outcomes(&report, &context).unwrap();
        assert_eq!(outcomes[0].timestamp, at(NOW - 10));

        // A small drift is left alone.
        context.sent_at = Some(at(NOW + MIN_CLOCK_DRIFT_SECS - 1));
        let report = ClientReport {
            timestamp: Some((NOW - 10) as u64),
            ..report
        };
        let outcomes = reported_outcomes(&report, &context).unwrap();
        assert_eq!(outcomes[0].timestamp, at(NOW - 10));
    }

    #[test]
    fn unrepresentable_timestamp_drops_the_report() {
        let report = ClientReport {
            timestamp: Some(u64::MAX),
            discarded_events: vec![entry("x", DataCategory::Error, 1)],
            ..ClientReport::default()
        };
        assert_eq!(
            reported_outcomes(&report, &context()),
            Err(ClientReportRejection::UnrepresentableTimestamp(u64::MAX))
        );
    }
}
