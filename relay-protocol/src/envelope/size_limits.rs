//! Per-envelope item size limits (`envelope.md` §8).
//!
//! Items are grouped; every group has a per-item limit, a maximum item count and a cumulative
//! byte budget. Items are checked in envelope order and the first item that violates any of
//! the three rejects the whole envelope. For containers (`log`, `trace_metric`, span-v2
//! `span`) the per-item limit applies to `payload_len / max(item_count, 1)`. Unknown item
//! types are never checked.

use crate::envelope::{Envelope, Item, ItemType};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The `limits` config values that bound envelope items. Sizes in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeLimits {
    /// `max_event_size`: per event-group item and for the whole group.
    pub max_event_size: u64,
    /// `max_attachment_size`: per attachment-group item.
    pub max_attachment_size: u64,
    /// `max_attachment_count`
    pub max_attachment_count: usize,
    /// `max_attachments_size`: attachment group total.
    pub max_attachments_size: u64,
    /// `max_replay_compressed_size`: replay recordings and videos.
    pub max_replay_compressed_size: u64,
    /// `max_sessions_size`: per session item and total.
    pub max_sessions_size: u64,
    /// `max_session_count`
    pub max_session_count: usize,
    /// `max_client_reports_size`: per client report and total.
    pub max_client_reports_size: u64,
    /// `max_client_reports_count`
    pub max_client_reports_count: usize,
    /// `max_profile_size`: profiles and profile chunks.
    pub max_profile_size: u64,
    /// `max_check_in_size`
    pub max_check_in_size: u64,
    /// `max_metric_buckets_size`
    pub max_metric_buckets_size: u64,
    /// `max_log_size`: per log entry.
    pub max_log_size: u64,
    /// `max_trace_metric_size`: per trace metric entry.
    pub max_trace_metric_size: u64,
    /// `max_span_size`: per span (legacy item or container entry).
    pub max_span_size: u64,
    /// `max_standalone_span_count`: legacy span items.
    pub max_standalone_span_count: usize,
    /// `max_container_size`: container totals and integration items.
    pub max_container_size: u64,
}

impl Default for SizeLimits {
    /// The defaults of `config.md`.
    fn default() -> Self {
        SizeLimits {
            max_event_size: MIB,
            max_attachment_size: 200 * MIB,
            max_attachment_count: 30,
            max_attachments_size: 200 * MIB,
            max_replay_compressed_size: 10 * MIB,
            max_sessions_size: 10 * MIB,
            max_session_count: 100,
            max_client_reports_size: 100 * KIB,
            max_client_reports_count: 100,
            max_profile_size: 50 * MIB,
            max_check_in_size: 100 * KIB,
            max_metric_buckets_size: MIB,
            max_log_size: 2 * MIB,
            max_trace_metric_size: MIB,
            max_span_size: 10 * MIB,
            max_standalone_span_count: 25,
            max_container_size: 12 * MIB,
        }
    }
}

/// The envelope was rejected because of this item (HTTP 413, outcome `too_large:<name>`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("envelope exceeded size limits for type '{item_name}' (https://develop.sentry.dev/sdk/envelopes/#size-limits)")]
pub struct ItemTooLarge {
    /// [`Item::size_limit_name`] of the offending item.
    pub item_name: String,
}

/// The size-limit groups of §8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Event,
    Attachment,
    ReplayRecording,
    ReplayVideo,
    Session,
    ClientReport,
    Profile,
    CheckIn,
    Metrics,
    Log,
    TraceMetric,
    SpanContainer,
    LegacySpan,
    Integration,
}

const GROUP_COUNT: usize = Group::Integration as usize + 1;

/// The three limits of one group.
struct GroupLimits {
    per_item: u64,
    /// Whether `per_item` applies per container entry.
    per_entry: bool,
    max_count: usize,
    total: u64,
}

impl Group {
    fn of(item: &Item) -> Option<Group> {
        let group = match item.ty() {
            ItemType::Event
            | ItemType::Transaction
            | ItemType::Security
            | ItemType::RawSecurity
            | ItemType::ReplayEvent
            | ItemType::Feedback
            | ItemType::FormData => Group::Event,
            ItemType::Attachment | ItemType::UnrealReport | ItemType::UserReport => {
                Group::Attachment
            }
            ItemType::ReplayRecording => Group::ReplayRecording,
            ItemType::ReplayVideo => Group::ReplayVideo,
            ItemType::Session | ItemType::Sessions => Group::Session,
            ItemType::ClientReport => Group::ClientReport,
            ItemType::Profile | ItemType::ProfileChunk => Group::Profile,
            ItemType::CheckIn => Group::CheckIn,
            ItemType::MetricBuckets => Group::Metrics,
            ItemType::Log => Group::Log,
            ItemType::TraceMetric => Group::TraceMetric,
            ItemType::Span if item.is_span_container() => Group::SpanContainer,
            ItemType::Span => Group::LegacySpan,
            ItemType::Integration => Group::Integration,
            ItemType::Unknown(_) => return None,
        };
        Some(group)
    }

    fn limits(self, limits: &SizeLimits) -> GroupLimits {
        let single = |size: u64| GroupLimits {
            per_item: size,
            per_entry: false,
            max_count: 1,
            total: size,
        };
        let container = |entry_size: u64| GroupLimits {
            per_item: entry_size,
            per_entry: true,
            max_count: 1,
            total: limits.max_container_size,
        };
        match self {
            Group::Event => single(limits.max_event_size),
            Group::Attachment => GroupLimits {
                per_item: limits.max_attachment_size,
                per_entry: false,
                max_count: limits.max_attachment_count,
                total: limits.max_attachments_size,
            },
            Group::ReplayRecording | Group::ReplayVideo => {
                single(limits.max_replay_compressed_size)
            }
            Group::Session => GroupLimits {
                per_item: limits.max_sessions_size,
                per_entry: false,
                max_count: limits.max_session_count,
                total: limits.max_sessions_size,
            },
            Group::ClientReport => GroupLimits {
                per_item: limits.max_client_reports_size,
                per_entry: false,
                max_count: limits.max_client_reports_count,
                total: limits.max_client_reports_size,
            },
            Group::Profile => single(limits.max_profile_size),
            Group::CheckIn => single(limits.max_check_in_size),
            Group::Metrics => single(limits.max_metric_buckets_size),
            Group::Log => container(limits.max_log_size),
            Group::TraceMetric => container(limits.max_trace_metric_size),
            Group::SpanContainer => container(limits.max_span_size),
            Group::LegacySpan => GroupLimits {
                per_item: limits.max_span_size,
                per_entry: false,
                max_count: limits.max_standalone_span_count,
                total: limits.max_container_size,
            },
            Group::Integration => single(limits.max_container_size),
        }
    }
}

/// Running count and byte total of one group.
#[derive(Clone, Copy, Default)]
struct GroupUsage {
    count: usize,
    bytes: u64,
}

/// Checks every item of the envelope against its group's limits (§8).
pub fn check_envelope_size_limits(
    envelope: &Envelope,
    limits: &SizeLimits,
) -> Result<(), ItemTooLarge> {
    let mut usage = [GroupUsage::default(); GROUP_COUNT];
    for item in envelope.items() {
        let Some(group) = Group::of(item) else {
            continue;
        };
        let group_limits = group.limits(limits);
        let payload_length = item.len() as u64;
        let checked_size = if group_limits.per_entry {
            let entries = item.item_count().unwrap_or(1).max(1);
            payload_length / entries
        } else {
            payload_length
        };
        let group_usage = &mut usage[group as usize];
        group_usage.count += 1;
        group_usage.bytes = group_usage.bytes.saturating_add(payload_length);
        if checked_size > group_limits.per_item
            || group_usage.count > group_limits.max_count
            || group_usage.bytes > group_limits.total
        {
            return Err(ItemTooLarge {
                item_name: item.size_limit_name(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{ContentType, EnvelopeHeaders};

    fn item(ty: &str, length: usize) -> Item {
        let mut item = Item::new(ItemType::from_name(ty));
        item.set_payload_keep_content_type(vec![b'x'; length]);
        item
    }

    fn envelope(items: Vec<Item>) -> Envelope {
        let mut envelope = Envelope::new(EnvelopeHeaders::default());
        for item in items {
            envelope.add_item(item);
        }
        envelope
    }

    fn small_limits() -> SizeLimits {
        SizeLimits {
            max_event_size: 10,
            max_attachment_size: 10,
            max_attachment_count: 2,
            max_attachments_size: 15,
            max_replay_compressed_size: 10,
            max_sessions_size: 10,
            max_session_count: 2,
            max_client_reports_size: 10,
            max_client_reports_count: 2,
            max_profile_size: 10,
            max_check_in_size: 10,
            max_metric_buckets_size: 10,
            max_log_size: 10,
            max_trace_metric_size: 10,
            max_span_size: 10,
            max_standalone_span_count: 2,
            max_container_size: 30,
        }
    }

    fn check(items: Vec<Item>) -> Result<(), String> {
        check_envelope_size_limits(&envelope(items), &small_limits())
            .map_err(|error| error.item_name)
    }

    #[test]
    fn defaults_match_config_spec() {
        let limits = SizeLimits::default();
        assert_eq!(limits.max_event_size, 1_048_576);
        assert_eq!(limits.max_attachment_count, 30);
        assert_eq!(limits.max_client_reports_size, 102_400);
        assert_eq!(limits.max_container_size, 12 * 1_048_576);
        assert_eq!(limits.max_standalone_span_count, 25);
    }

    #[test]
    fn per_item_limits() {
        assert_eq!(check(vec![item("event", 10)]), Ok(()));
        assert_eq!(check(vec![item("event", 11)]), Err("event".into()));
        assert_eq!(
            check(vec![item("feedback", 11)]),
            Err("user_report_v2".into())
        );
        assert_eq!(check(vec![item("check_in", 11)]), Err("check_in".into()));
        assert_eq!(
            check(vec![item("metric_buckets", 11)]),
            Err("metric_buckets".into())
        );
        assert_eq!(
            check(vec![item("replay_video", 11)]),
            Err("replay_video".into())
        );
        assert_eq!(
            check(vec![item("integration", 31)]),
            Err("integration".into())
        );
        let mut minidump = item("attachment", 11);
        minidump.set_attachment_type(crate::envelope::AttachmentType::Minidump);
        assert_eq!(check(vec![minidump]), Err("attachment:minidump".into()));
    }

    #[test]
    fn event_group_is_shared_with_count_one() {
        assert_eq!(
            check(vec![item("event", 1), item("form_data", 1)]),
            Err("form_data".into())
        );
        assert_eq!(
            check(vec![item("transaction", 1), item("replay_event", 1)]),
            Err("replay_event".into())
        );
    }

    #[test]
    fn attachment_group_count_and_total() {
        assert_eq!(
            check(vec![item("attachment", 5), item("unreal_report", 5)]),
            Ok(())
        );
        assert_eq!(
            check(vec![
                item("attachment", 1),
                item("user_report", 1),
                item("attachment", 1)
            ]),
            Err("attachment:attachment".into())
        );
        assert_eq!(
            check(vec![item("attachment", 8), item("user_report", 8)]),
            Err("user_report".into())
        );
    }

    #[test]
    fn sessions_and_client_reports_count() {
        assert_eq!(
            check(vec![
                item("session", 1),
                item("sessions", 1),
                item("session", 1)
            ]),
            Err("session".into())
        );
        assert_eq!(
            check(vec![item("client_report", 6), item("client_report", 6)]),
            Err("client_report".into())
        );
        assert_eq!(
            check(vec![item("profile", 1), item("profile_chunk", 1)]),
            Err("profile_chunk".into())
        );
        assert_eq!(
            check(vec![item("replay_recording", 1), item("replay_video", 1)]),
            Ok(())
        );
    }

    #[test]
    fn containers_are_checked_per_entry() {
        let mut log = item("log", 25);
        assert_eq!(check(vec![log.clone()]), Err("log".into()));
        log.set_item_count(3);
        assert_eq!(check(vec![log.clone()]), Ok(()));
        log.set_item_count(0);
        assert_eq!(check(vec![log]), Err("log".into()));
        let mut big_log = item("log", 31);
        big_log.set_item_count(10);
        assert_eq!(check(vec![big_log]), Err("log".into()));
        let mut metrics = item("trace_metric", 20);
        metrics.set_item_count(2);
        assert_eq!(check(vec![metrics.clone()]), Ok(()));
        assert_eq!(
            check(vec![metrics.clone(), metrics]),
            Err("trace_metric".into())
        );
    }

    #[test]
    fn span_containers_and_legacy_spans() {
        let mut container = Item::new(ItemType::Span);
        container.set_payload(ContentType::SpanV2Container, vec![b'x'; 20]);
        container.set_item_count(2);
        assert_eq!(check(vec![container.clone()]), Ok(()));
        assert_eq!(
            check(vec![container.clone(), container]),
            Err("span".into())
        );
        assert_eq!(check(vec![item("span", 11)]), Err("span".into()));
        assert_eq!(
            check(vec![item("span", 1), item("span", 1), item("span", 1)]),
            Err("span".into())
        );
        // Legacy spans ignore item_count.
        let mut legacy = item("span", 20);
        legacy.set_item_count(4);
        assert_eq!(check(vec![legacy]), Err("span".into()));
    }

    #[test]
    fn unknown_items_are_never_checked_but_odd_attachments_are() {
        assert_eq!(
            check(vec![item("statsd", 1000), item("statsd", 1000)]),
            Ok(())
        );
        let mut odd = item("attachment", 11);
        odd.set_header("attachment_type", serde_json::json!("event.other"))
            .unwrap();
        assert_eq!(check(vec![odd]), Err("attachment:attachment".into()));
    }

    #[test]
    fn first_violating_item_in_order_wins() {
        assert_eq!(
            check(vec![
                item("session", 1),
                item("check_in", 11),
                item("event", 11)
            ]),
            Err("check_in".into())
        );
    }

    #[test]
    fn error_message_is_the_http_detail() {
        let error = ItemTooLarge {
            item_name: "event".into(),
        };
        assert_eq!(
            error.to_string(),
            "envelope exceeded size limits for type 'event' (https://develop.sentry.dev/sdk/envelopes/#size-limits)"
        );
    }
}
