//! Applying cached rate limits to an envelope (http-api.md §7.1, redis-and-quotas.md §6).
//!
//! [`enforce_cached_rate_limits`] removes every rate-limited item from the envelope, reports
//! which limits were hit (the "active" set that makes an endpoint answer `429`) and which
//! quantities need a `rate_limited` outcome.
//!
//! Rules, in check order:
//! * The event category is checked first. If it is limited, every item that requires the event
//!   is dropped with it, and spans (including span attachments) inherit that limit.
//! * Spans (`span`) unless the event is limited; a limit drops span items and span attachments.
//! * Event attachments: `attachment` (bytes), then `attachment_item`. Plain attachments are
//!   dropped; crash reports are kept but reported as rate limited. These limits are only
//!   reported when the envelope has plain attachments.
//! * Trace and span attachments: `attachment`, then `attachment_item`.
//! * Sessions (`session`): dropped without outcomes; session aggregates and metric buckets are
//!   never dropped, but their limits are reported (metric buckets: `metric_bucket` limits of
//!   any namespace).
//! * Trace metrics (`trace_metric`, then `trace_metric_byte`), logs (`log_item`, then
//!   `log_byte`), profiles (`profile`; without an event also `transaction`; then
//!   `profile_backend`/`profile_ui`), replays (`replay`), check-ins (`monitor`), user reports
//!   (`feedback`), profile chunks (`profile_chunk`/`profile_chunk_ui`).
//! * Items without data categories are never limited. Indexed categories are never checked,
//!   because sampling has not been decided yet.
//!
//! A category is only checked (and its limits only reported) when the envelope has items that
//! need the check. Every dropped item contributes its quantities (envelope.md §4) to the
//! outcomes, with the reason code of the limit that dropped it.

use std::time::Instant;

use relay_protocol::{ContentType, DataCategory, Envelope, Item, ItemType};

use crate::rate_limit::{MetricNamespaceScoping, RateLimit, RateLimits, ReasonCode};
use crate::scoping::Scoping;

/// A quantity that was dropped and needs one `rate_limited` outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedQuantity {
    /// The outcome's data category.
    pub category: DataCategory,
    /// Sum of the dropped quantities in this category with this reason.
    pub quantity: usize,
    /// Reason code of the limit that dropped the data.
    pub reason: Option<ReasonCode>,
}

/// The result of [`enforce_cached_rate_limits`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enforcement {
    /// The limits to report in the `429` response (`Retry-After`, `X-Sentry-Rate-Limits`).
    pub active: RateLimits,
    /// Quantities needing a `rate_limited` outcome, one per (category, reason), in the order
    /// they were first dropped.
    pub dropped: Vec<DroppedQuantity>,
    /// Indices (into the envelope's items after enforcement) of crash-report attachments that
    /// were kept for processing but are rate limited: downstream must treat them as
    /// `rate_limited` (not persist them, not count them again).
    pub rate_limited_crash_reports: Vec<usize>,
}

impl Enforcement {
    /// Whether any limit applied to the envelope, i.e. whether a `429` is due.
    pub fn is_rate_limited(&self) -> bool {
        !self.active.is_empty()
    }

    fn record_dropped(&mut self, item: &Item, reason: &Option<ReasonCode>) {
        for (category, quantity) in item.quantities() {
            let existing = self
                .dropped
                .iter_mut()
                .find(|dropped| dropped.category == category && dropped.reason == *reason);
            match existing {
                Some(dropped) => dropped.quantity = dropped.quantity.saturating_add(quantity),
                None => self.dropped.push(DroppedQuantity {
                    category,
                    quantity,
                    reason: reason.clone(),
                }),
            }
        }
    }
}

/// The part of the rate-limiting rules an item falls under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemRole {
    /// An attachment belonging to the event; `is_crash_report` for event-creating types.
    EventAttachment {
        is_crash_report: bool,
    },
    /// A trace attachment without owning span.
    TraceAttachment,
    /// A trace attachment owned by a span (`span_id` header present).
    SpanAttachment,
    /// `session`: droppable, without outcomes.
    Session,
    /// `sessions` aggregates: never dropped here.
    SessionAggregates,
    /// `metric_buckets`: never dropped here.
    MetricBuckets,
    Span,
    Log,
    TraceMetric,
    Profile,
    Replay,
    CheckIn,
    UserReport,
    /// A profile chunk counted in this category (`profile_chunk` or `profile_chunk_ui`).
    ProfileChunk(DataCategory),
    /// Event-creating items, and items without categories: only ever dropped with the event.
    Other,
}

fn classify(item: &Item) -> ItemRole {
    let quantities = item.quantities();
    let has_category = |wanted: DataCategory| {
        quantities
            .iter()
            .any(|(category, _quantity)| *category == wanted)
    };
    match item.ty() {
        ItemType::Attachment => {
            if item.content_type() == Some(ContentType::TraceAttachment) {
                if item.has_span_id() {
                    return ItemRole::SpanAttachment;
                }
                return ItemRole::TraceAttachment;
            }
            ItemRole::EventAttachment {
                is_crash_report: item.creates_event(),
            }
        }
        ItemType::Session => ItemRole::Session,
        ItemType::Sessions => ItemRole::SessionAggregates,
        ItemType::MetricBuckets => ItemRole::MetricBuckets,
        ItemType::Profile => ItemRole::Profile,
        ItemType::ReplayEvent | ItemType::ReplayRecording | ItemType::ReplayVideo => {
            ItemRole::Replay
        }
        ItemType::CheckIn => ItemRole::CheckIn,
        ItemType::UserReport => ItemRole::UserReport,
        ItemType::ProfileChunk => {
            if has_category(DataCategory::ProfileChunkUi) {
                return ItemRole::ProfileChunk(DataCategory::ProfileChunkUi);
            }
            if has_category(DataCategory::ProfileChunk) {
                return ItemRole::ProfileChunk(DataCategory::ProfileChunk);
            }
            ItemRole::Other
        }
        // Integration items carry logs or spans; their categories say which.
        ItemType::Span | ItemType::Log | ItemType::TraceMetric | ItemType::Integration => {
            if has_category(DataCategory::Span) {
                return ItemRole::Span;
            }
            if has_category(DataCategory::LogItem) {
                return ItemRole::Log;
            }
            if has_category(DataCategory::TraceMetric) {
                return ItemRole::TraceMetric;
            }
            ItemRole::Other
        }
        _ => ItemRole::Other,
    }
}

/// The sub-category a profile counts in once its platform is known, if any.
fn profile_platform_category(item: &Item) -> Option<DataCategory> {
    item.quantities()
        .into_iter()
        .map(|(category, _quantity)| category)
        .find(|category| {
            matches!(
                category,
                DataCategory::ProfileBackend | DataCategory::ProfileUi
            )
        })
}

/// What happens to one item.
enum Verdict {
    Keep,
    /// Dropped with `rate_limited` outcomes for its quantities.
    Drop(RateLimit),
    /// Dropped without outcomes (sessions).
    DropSilently,
    /// Kept for processing, but rate limited (crash reports); outcomes for its quantities.
    KeepRateLimited(RateLimit),
}

/// Looks up limits and collects the ones to report.
struct LimitChecker<'a> {
    limits: &'a RateLimits,
    scoping: &'a Scoping,
    now: Instant,
    active: RateLimits,
}

impl LimitChecker<'_> {
    /// Checks `categories` in order and returns the longest limit of the first limited one.
    /// When `report` is set, every active limit of that category joins the reported set.
    fn check_in_order(&mut self, categories: &[DataCategory], report: bool) -> Option<RateLimit> {
        categories.iter().find_map(|category| {
            let matching = self.limits.matching(
                self.scoping,
                *category,
                MetricNamespaceScoping::WithoutNamespace,
                self.now,
            );
            let longest = matching.longest(self.now).cloned()?;
            if report {
                self.active.merge_exact(matching);
            }
            Some(longest)
        })
    }

    /// Reports every active limit of `category` in any metric namespace, without dropping.
    fn report_all_namespaces(&mut self, category: DataCategory) {
        let matching = self.limits.matching(
            self.scoping,
            category,
            MetricNamespaceScoping::AnyNamespace,
            self.now,
        );
        self.active.merge_exact(matching);
    }
}

/// The limit (if any) decided for each group of items, computed once per envelope.
#[derive(Default)]
struct GroupLimits {
    event: Option<RateLimit>,
    spans: Option<RateLimit>,
    event_attachments: Option<RateLimit>,
    trace_attachments: Option<RateLimit>,
    span_attachments: Option<RateLimit>,
    sessions: Option<RateLimit>,
    logs: Option<RateLimit>,
    trace_metrics: Option<RateLimit>,
    profiles: Option<RateLimit>,
    profile_backend: Option<RateLimit>,
    profile_ui: Option<RateLimit>,
    replays: Option<RateLimit>,
    check_ins: Option<RateLimit>,
    user_reports: Option<RateLimit>,
    profile_chunk: Option<RateLimit>,
    profile_chunk_ui: Option<RateLimit>,
}

/// Which groups of items the envelope contains (after removing those dropped with the event).
#[derive(Default)]
struct Presence {
    spans: bool,
    plain_event_attachments: bool,
    crash_report_attachments: bool,
    trace_attachments: bool,
    span_attachments: bool,
    sessions: bool,
    metric_buckets: bool,
    logs: bool,
    trace_metrics: bool,
    profiles: bool,
    profile_backend: bool,
    profile_ui: bool,
    replays: bool,
    check_ins: bool,
    user_reports: bool,
    profile_chunk: bool,
    profile_chunk_ui: bool,
}

/// Whether the item goes down together with a limited event.
fn dropped_with_event(item: &Item, role: ItemRole) -> bool {
    // Trace and span attachments belong to a trace, not to the event; span attachments still
    // go with the event through the span limit it passes on.
    let belongs_to_trace = matches!(role, ItemRole::TraceAttachment | ItemRole::SpanAttachment);
    item.requires_event() && !belongs_to_trace
}

fn survey(envelope: &Envelope, event_is_limited: bool) -> Presence {
    let mut presence = Presence::default();
    for item in envelope.items() {
        let role = classify(item);
        if event_is_limited && dropped_with_event(item, role) {
            continue;
        }
        match role {
            ItemRole::EventAttachment { is_crash_report } => {
                if is_crash_report {
                    presence.crash_report_attachments = true;
                } else {
                    presence.plain_event_attachments = true;
                }
            }
            ItemRole::TraceAttachment => presence.trace_attachments = true,
            ItemRole::SpanAttachment => presence.span_attachments = true,
            ItemRole::Session | ItemRole::SessionAggregates => presence.sessions = true,
            ItemRole::MetricBuckets => presence.metric_buckets = true,
            ItemRole::Span => presence.spans = true,
            ItemRole::Log => presence.logs = true,
            ItemRole::TraceMetric => presence.trace_metrics = true,
            ItemRole::Profile => {
                presence.profiles = true;
                match profile_platform_category(item) {
                    Some(DataCategory::ProfileBackend) => presence.profile_backend = true,
                    Some(DataCategory::ProfileUi) => presence.profile_ui = true,
                    _ => {}
                }
            }
            ItemRole::Replay => presence.replays = true,
            ItemRole::CheckIn => presence.check_ins = true,
            ItemRole::UserReport => presence.user_reports = true,
            ItemRole::ProfileChunk(DataCategory::ProfileChunkUi) => {
                presence.profile_chunk_ui = true
            }
            ItemRole::ProfileChunk(_) => presence.profile_chunk = true,
            ItemRole::Other => {}
        }
    }
    presence
}

fn decide_group_limits(
    checker: &mut LimitChecker<'_>,
    event_category: Option<DataCategory>,
    envelope: &Envelope,
) -> GroupLimits {
    let mut groups = GroupLimits::default();
    if let Some(event_category) = event_category {
        groups.event = checker.check_in_order(&[event_category], true);
    }
    let presence = survey(envelope, groups.event.is_some());
    const ATTACHMENT_CATEGORIES: &[DataCategory] =
        &[DataCategory::Attachment, DataCategory::AttachmentItem];

    groups.spans = match &groups.event {
        Some(event_limit) => Some(event_limit.clone()),
        None if presence.spans || presence.span_attachments => {
            checker.check_in_order(&[DataCategory::Span], true)
        }
        None => None,
    };

    if presence.plain_event_attachments || presence.crash_report_attachments {
        groups.event_attachments =
            checker.check_in_order(ATTACHMENT_CATEGORIES, presence.plain_event_attachments);
    }
    if presence.trace_attachments {
        groups.trace_attachments = checker.check_in_order(ATTACHMENT_CATEGORIES, true);
    }
    if presence.span_attachments && groups.spans.is_none() {
        groups.span_attachments = checker.check_in_order(ATTACHMENT_CATEGORIES, true);
    }
    if presence.sessions {
        groups.sessions = checker.check_in_order(&[DataCategory::Session], true);
    }
    if presence.metric_buckets {
        checker.report_all_namespaces(DataCategory::MetricBucket);
    }
    if presence.trace_metrics {
        groups.trace_metrics = checker.check_in_order(
            &[DataCategory::TraceMetric, DataCategory::TraceMetricByte],
            true,
        );
    }
    if presence.logs {
        groups.logs = checker.check_in_order(&[DataCategory::LogItem, DataCategory::LogByte], true);
    }
    if presence.profiles {
        groups.profiles = checker.check_in_order(&[DataCategory::Profile], true);
        // A profile without its transaction in the envelope still must not outlive a
        // transaction limit: it would be the only trace of a rejected transaction.
        if groups.profiles.is_none() && event_category.is_none() {
            groups.profiles = checker.check_in_order(&[DataCategory::Transaction], true);
        }
        if groups.profiles.is_none() && presence.profile_backend {
            groups.profile_backend = checker.check_in_order(&[DataCategory::ProfileBackend], true);
        }
        if groups.profiles.is_none() && presence.profile_ui {
            groups.profile_ui = checker.check_in_order(&[DataCategory::ProfileUi], true);
        }
    }
    if presence.replays {
        groups.replays = checker.check_in_order(&[DataCategory::Replay], true);
    }
    if presence.check_ins {
        groups.check_ins = checker.check_in_order(&[DataCategory::Monitor], true);
    }
    if presence.user_reports {
        groups.user_reports = checker.check_in_order(&[DataCategory::Feedback], true);
    }
    if presence.profile_chunk {
        groups.profile_chunk = checker.check_in_order(&[DataCategory::ProfileChunk], true);
    }
    if presence.profile_chunk_ui {
        groups.profile_chunk_ui = checker.check_in_order(&[DataCategory::ProfileChunkUi], true);
    }
    groups
}

fn verdict_for(item: &Item, groups: &GroupLimits) -> Verdict {
    let role = classify(item);
    if let Some(event_limit) = &groups.event {
        if dropped_with_event(item, role) {
            return Verdict::Drop(event_limit.clone());
        }
    }
    let drop_if = |limit: &Option<RateLimit>| match limit {
        Some(limit) => Verdict::Drop(limit.clone()),
        None => Verdict::Keep,
    };
    match role {
        ItemRole::EventAttachment { is_crash_report } => match &groups.event_attachments {
            Some(limit) if is_crash_report => Verdict::KeepRateLimited(limit.clone()),
            Some(limit) => Verdict::Drop(limit.clone()),
            None => Verdict::Keep,
        },
        ItemRole::TraceAttachment => drop_if(&groups.trace_attachments),
        ItemRole::SpanAttachment => match &groups.spans {
            Some(limit) => Verdict::Drop(limit.clone()),
            None => drop_if(&groups.span_attachments),
        },
        ItemRole::Session => match groups.sessions {
            Some(_) => Verdict::DropSilently,
            None => Verdict::Keep,
        },
        ItemRole::SessionAggregates | ItemRole::MetricBuckets | ItemRole::Other => Verdict::Keep,
        ItemRole::Span => drop_if(&groups.spans),
        ItemRole::Log => drop_if(&groups.logs),
        ItemRole::TraceMetric => drop_if(&groups.trace_metrics),
        ItemRole::Profile => {
            if groups.profiles.is_some() {
                return drop_if(&groups.profiles);
            }
            match profile_platform_category(item) {
                Some(DataCategory::ProfileBackend) => drop_if(&groups.profile_backend),
                Some(DataCategory::ProfileUi) => drop_if(&groups.profile_ui),
                _ => Verdict::Keep,
            }
        }
        ItemRole::Replay => drop_if(&groups.replays),
        ItemRole::CheckIn => drop_if(&groups.check_ins),
        ItemRole::UserReport => drop_if(&groups.user_reports),
        ItemRole::ProfileChunk(DataCategory::ProfileChunkUi) => drop_if(&groups.profile_chunk_ui),
        ItemRole::ProfileChunk(_) => drop_if(&groups.profile_chunk),
    }
}

/// Drops every item of `envelope` that `limits` rate limits for `scoping` at `now`.
///
/// `limits` should be the project's cached limits merged with its reject-all quotas (see
/// [`crate::zero_quota_rate_limits`]). The envelope keeps only the items that were not dropped;
/// the returned [`Enforcement`] lists the limits to report and the outcomes to emit.
pub fn enforce_cached_rate_limits(
    envelope: &mut Envelope,
    limits: &RateLimits,
    scoping: &Scoping,
    now: Instant,
) -> Enforcement {
    let mut checker = LimitChecker {
        limits,
        scoping,
        now,
        active: RateLimits::new(),
    };
    let groups = decide_group_limits(&mut checker, envelope.event_category(), envelope);

    let mut enforcement = Enforcement {
        active: checker.active,
        ..Enforcement::default()
    };
    let mut kept_items = 0;
    envelope.retain_items(|item| {
        let keep = match verdict_for(item, &groups) {
            Verdict::Keep => true,
            Verdict::Drop(limit) => {
                enforcement.record_dropped(item, &limit.reason_code);
                false
            }
            Verdict::DropSilently => false,
            Verdict::KeepRateLimited(limit) => {
                enforcement.record_dropped(item, &limit.reason_code);
                enforcement.rate_limited_crash_reports.push(kept_items);
                true
            }
        };
        if keep {
            kept_items += 1;
        }
        keep
    });
    enforcement
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::format_rate_limits_header;
    use crate::quota::{parse_quotas, zero_quota_rate_limits};
    use crate::rate_limit::{MetricNamespace, RateLimitScope, RetryAfter};
    use crate::test_support::{other_scoping, scoping, T0};
    use relay_protocol::{AttachmentType, EnvelopeHeaders};
    use serde_json::json;
    use smallvec::SmallVec;
    use std::time::Duration;

    const SECONDS: u64 = 60;

    fn limit(categories: &[DataCategory], reason: &str) -> RateLimit {
        RateLimit {
            categories: categories.iter().copied().collect(),
            scope: RateLimitScope::Key(scoping().project_key),
            reason_code: Some(ReasonCode::new(reason)),
            retry_after: RetryAfter::from_secs(SECONDS, *T0),
            namespaces: SmallVec::new(),
        }
    }

    /// A cache as a relay builds it (`add`: `transaction` and `span` imply each other).
    fn cached(limits: &[RateLimit]) -> RateLimits {
        let mut cache = RateLimits::new();
        for limit in limits {
            cache.add(limit.clone());
        }
        cache
    }

    /// Limits with exactly the given categories, as reject-all quotas produce them.
    fn exact(limits: &[RateLimit]) -> RateLimits {
        let mut collection = RateLimits::new();
        for limit in limits {
            collection.add_exact(limit.clone());
        }
        collection
    }

    fn item(ty: ItemType) -> Item {
        let mut item = Item::new(ty);
        item.set_payload(ContentType::Json, &b"{}"[..]);
        item
    }

    fn transaction(span_count: u64) -> Item {
        let mut item = item(ItemType::Transaction);
        item.set_span_count(span_count);
        item
    }

    fn attachment(size: usize, attachment_type: Option<AttachmentType>) -> Item {
        let mut item = Item::new(ItemType::Attachment);
        item.set_payload(ContentType::OctetStream, vec![b'x'; size]);
        if let Some(attachment_type) = attachment_type {
            item.set_attachment_type(attachment_type);
        }
        item
    }

    fn minidump(size: usize) -> Item {
        attachment(size, Some(AttachmentType::Minidump))
    }

    fn trace_attachment(size: usize, owned_by_span: bool) -> Item {
        let mut item = Item::new(ItemType::Attachment);
        item.set_payload(ContentType::TraceAttachment, vec![b'x'; size]);
        if owned_by_span {
            item.set_header("span_id", json!("b0e6f15b45c36b12"))
                .unwrap();
        }
        item
    }

    fn container(ty: ItemType, count: u64) -> Item {
        let mut item = item(ty);
        item.set_item_count(count);
        item
    }

    fn with_platform(ty: ItemType, platform: &str) -> Item {
        let mut item = item(ty);
        item.set_platform(platform);
        item
    }

    fn envelope(items: Vec<Item>) -> Envelope {
        let mut envelope = Envelope::new(EnvelopeHeaders::default());
        for item in items {
            envelope.add_item(item);
        }
        envelope
    }

    fn enforce(envelope: &mut Envelope, limits: &RateLimits) -> Enforcement {
        enforce_cached_rate_limits(envelope, limits, &scoping(), *T0)
    }

    fn types(envelope: &Envelope) -> Vec<String> {
        envelope
            .items()
            .iter()
            .map(|item| item.ty().name().to_owned())
            .collect()
    }

    fn dropped(category: DataCategory, quantity: usize, reason: &str) -> DroppedQuantity {
        DroppedQuantity {
            category,
            quantity,
            reason: Some(ReasonCode::new(reason)),
        }
    }

    fn header(enforcement: &Enforcement) -> String {
        format_rate_limits_header(&enforcement.active, *T0)
    }

    #[test]
    fn nothing_happens_without_matching_limits() {
        let items = vec![
            item(ItemType::Event),
            attachment(10, None),
            item(ItemType::Session),
        ];
        let mut envelope = envelope(items);
        let original = envelope.clone();

        let enforcement = enforce(&mut envelope, &RateLimits::new());
        assert_eq!(envelope, original);
        assert_eq!(enforcement, Enforcement::default());
        assert!(!enforcement.is_rate_limited());

        let everything = cached(&[limit(&[], "all")]);
        let enforcement =
            enforce_cached_rate_limits(&mut envelope, &everything, &other_scoping(), *T0);
        assert_eq!(envelope, original);
        assert!(!enforcement.is_rate_limited());

        let expired = *T0 + Duration::from_secs(SECONDS);
        let enforcement =
            enforce_cached_rate_limits(&mut envelope, &everything, &scoping(), expired);
        assert_eq!(envelope, original);
        assert!(!enforcement.is_rate_limited());

        let enforcement = enforce_cached_rate_limits(&mut envelope, &everything, &scoping(), *T0);
        assert!(envelope.is_empty());
        assert!(enforcement.is_rate_limited());
    }

    #[test]
    fn limited_error_event_takes_every_item_requiring_it() {
        let mut envelope = envelope(vec![
            item(ItemType::Event),
            attachment(10, None),
            minidump(7),
            item(ItemType::UserReport),
            item(ItemType::FormData),
            item(ItemType::Session),
            item(ItemType::ClientReport),
        ]);
        let limits = cached(&[
            limit(&[DataCategory::Error], "errors"),
            limit(&[DataCategory::Attachment], "attachments"),
        ]);
        let enforcement = enforce(&mut envelope, &limits);

        assert_eq!(types(&envelope), vec!["session", "client_report"]);
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Error, 1, "errors"),
                dropped(DataCategory::Attachment, 17, "errors"),
                dropped(DataCategory::AttachmentItem, 2, "errors"),
                dropped(DataCategory::Feedback, 1, "errors"),
            ]
        );
        // The attachments inherited the event limit; their own limit is not reported.
        assert_eq!(header(&enforcement), "60:error:key:errors");
        assert!(enforcement.rate_limited_crash_reports.is_empty());
    }

    #[test]
    fn limited_transaction_drops_spans_and_profiles_with_it() {
        let mut envelope = envelope(vec![
            transaction(3),
            with_platform(ItemType::Profile, "python"),
            container(ItemType::Span, 2),
            attachment(5, None),
            trace_attachment(4, true),
            item(ItemType::CheckIn),
        ]);
        let limits = cached(&[limit(&[DataCategory::Transaction], "get_lost")]);
        let enforcement = enforce(&mut envelope, &limits);

        assert_eq!(types(&envelope), vec!["check_in"]);
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Transaction, 1, "get_lost"),
                dropped(DataCategory::TransactionIndexed, 1, "get_lost"),
                dropped(DataCategory::Span, 6, "get_lost"),
                dropped(DataCategory::SpanIndexed, 6, "get_lost"),
                dropped(DataCategory::Profile, 1, "get_lost"),
                dropped(DataCategory::ProfileIndexed, 1, "get_lost"),
                dropped(DataCategory::ProfileBackend, 1, "get_lost"),
                dropped(DataCategory::Attachment, 9, "get_lost"),
                dropped(DataCategory::AttachmentItem, 2, "get_lost"),
            ]
        );
        assert_eq!(header(&enforcement), "60:transaction;span:key:get_lost");
    }

    #[test]
    fn span_limit_learned_for_cache_also_stops_transactions() {
        let mut envelope = envelope(vec![transaction(0)]);
        let limits = cached(&[limit(&[DataCategory::Span], "spans")]);
        let enforcement = enforce(&mut envelope, &limits);
        assert!(envelope.is_empty());
        assert_eq!(header(&enforcement), "60:transaction;span:key:spans");
    }

    #[test]
    fn span_only_limit_drops_span_items_and_span_attachments() {
        let mut envelope = envelope(vec![
            transaction(2),
            container(ItemType::Span, 3),
            trace_attachment(4, true),
            trace_attachment(8, false),
        ]);
        let limits = exact(&[limit(&[DataCategory::Span], "spans")]);
        let enforcement = enforce(&mut envelope, &limits);

        assert_eq!(types(&envelope), vec!["transaction", "attachment"]);
        assert!(!envelope.items()[1].has_span_id());
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Span, 3, "spans"),
                dropped(DataCategory::SpanIndexed, 3, "spans"),
                dropped(DataCategory::Attachment, 4, "spans"),
                dropped(DataCategory::AttachmentItem, 1, "spans"),
            ]
        );
        assert_eq!(header(&enforcement), "60:span:key:spans");
    }

    #[test]
    fn attachment_limit_drops_plain_attachments_and_marks_crash_reports() {
        let mut envelope = envelope(vec![
            item(ItemType::Event),
            attachment(10, None),
            minidump(20),
            attachment(3, Some(AttachmentType::ViewHierarchy)),
        ]);
        let limits = cached(&[limit(&[DataCategory::Attachment], "bytes")]);
        let enforcement = enforce(&mut envelope, &limits);

        assert_eq!(types(&envelope), vec!["event", "attachment"]);
        assert_eq!(
            envelope.items()[1].attachment_type(),
            Some(AttachmentType::Minidump)
        );
        assert_eq!(enforcement.rate_limited_crash_reports, vec![1]);
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Attachment, 33, "bytes"),
                dropped(DataCategory::AttachmentItem, 3, "bytes"),
            ]
        );
        assert_eq!(header(&enforcement), "60:attachment:key:bytes");
    }

    #[test]
    fn attachment_limits_are_not_reported_for_crash_reports_alone() {
        let mut envelope = envelope(vec![minidump(20)]);
        let limits = cached(&[limit(&[DataCategory::AttachmentItem], "count")]);
        let enforcement = enforce(&mut envelope, &limits);

        assert_eq!(types(&envelope), vec!["attachment"]);
        assert_eq!(enforcement.rate_limited_crash_reports, vec![0]);
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Attachment, 20, "count"),
                dropped(DataCategory::AttachmentItem, 1, "count"),
            ]
        );
        assert!(!enforcement.is_rate_limited());
    }

    #[test]
    fn attachments_are_checked_on_bytes_before_count() {
        let mut both = envelope(vec![attachment(10, None)]);
        let limits = cached(&[
            limit(&[DataCategory::AttachmentItem], "count"),
            limit(&[DataCategory::Attachment], "bytes"),
        ]);
        let enforcement = enforce(&mut both, &limits);
        assert!(both.is_empty());
        assert_eq!(header(&enforcement), "60:attachment:key:bytes");
        assert_eq!(
            enforcement.dropped[0],
            dropped(DataCategory::Attachment, 10, "bytes")
        );

        let mut count_only = envelope(vec![attachment(10, None)]);
        let limits = cached(&[limit(&[DataCategory::AttachmentItem], "count")]);
        let enforcement = enforce(&mut count_only, &limits);
        assert!(count_only.is_empty());
        assert_eq!(header(&enforcement), "60:attachment_item:key:count");
        assert_eq!(
            enforcement.dropped[1],
            dropped(DataCategory::AttachmentItem, 1, "count")
        );
    }

    #[test]
    fn trace_attachments_do_not_go_with_the_event_but_have_their_own_limits() {
        let mut envelope = envelope(vec![item(ItemType::Event), trace_attachment(6, false)]);
        let limits = cached(&[limit(&[DataCategory::Error], "errors")]);
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(types(&envelope), vec!["attachment"]);
        assert_eq!(header(&enforcement), "60:error:key:errors");

        let limits = cached(&[limit(&[DataCategory::AttachmentItem], "count")]);
        let enforcement = enforce(&mut envelope, &limits);
        assert!(envelope.is_empty());
        assert_eq!(header(&enforcement), "60:attachment_item:key:count");
    }

    #[test]
    fn sessions_are_dropped_silently_and_aggregates_kept() {
        let mut envelope = envelope(vec![
            item(ItemType::Session),
            item(ItemType::Sessions),
            item(ItemType::Session),
        ]);
        let limits = cached(&[limit(&[DataCategory::Session], "sessions")]);
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(types(&envelope), vec!["sessions"]);
        assert!(enforcement.dropped.is_empty());
        assert_eq!(header(&enforcement), "60:session:key:sessions");

        let mut aggregates_only = envelope.clone();
        let enforcement = enforce(&mut aggregates_only, &limits);
        assert_eq!(types(&aggregates_only), vec!["sessions"]);
        assert!(enforcement.is_rate_limited());
    }

    #[test]
    fn metric_buckets_are_kept_but_namespaced_limits_reported() {
        let mut spans_limit = limit(&[DataCategory::MetricBucket], "metrics");
        spans_limit.namespaces = [MetricNamespace::Spans].into_iter().collect();
        let limits = cached(&[spans_limit, limit(&[DataCategory::Replay], "replays")]);

        let mut metrics = envelope(vec![item(ItemType::MetricBuckets)]);
        let enforcement = enforce(&mut metrics, &limits);
        assert_eq!(types(&metrics), vec!["metric_buckets"]);
        assert!(enforcement.dropped.is_empty());
        assert_eq!(header(&enforcement), "60:metric_bucket:key:metrics:spans");

        let mut no_metrics = envelope(vec![item(ItemType::Event)]);
        assert!(!enforce(&mut no_metrics, &limits).is_rate_limited());
    }

    #[test]
    fn logs_and_trace_metrics_check_counts_before_bytes() {
        let mut envelope = envelope(vec![
            container(ItemType::Log, 4),
            container(ItemType::TraceMetric, 2),
        ]);
        let limits = cached(&[
            limit(&[DataCategory::LogByte], "log_bytes"),
            limit(&[DataCategory::LogItem], "log_items"),
            limit(&[DataCategory::TraceMetricByte], "metric_bytes"),
        ]);
        let enforcement = enforce(&mut envelope, &limits);
        assert!(envelope.is_empty());
        assert_eq!(
            header(&enforcement),
            "60:trace_metric_byte:key:metric_bytes, 60:log_item:key:log_items"
        );
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::LogByte, 2, "log_items"),
                dropped(DataCategory::LogItem, 4, "log_items"),
                dropped(DataCategory::TraceMetricByte, 2, "metric_bytes"),
                dropped(DataCategory::TraceMetric, 2, "metric_bytes"),
            ]
        );
    }

    #[test]
    fn profiles_without_event_follow_transaction_limits() {
        let limits = exact(&[limit(&[DataCategory::Transaction], "transactions")]);
        let mut standalone = envelope(vec![item(ItemType::Profile)]);
        let enforcement = enforce(&mut standalone, &limits);
        assert!(standalone.is_empty());
        assert_eq!(header(&enforcement), "60:transaction:key:transactions");

        // With an (unlimited) event in the envelope the transaction limit is not consulted.
        let mut with_event = envelope(vec![item(ItemType::Event), item(ItemType::Profile)]);
        let enforcement = enforce(&mut with_event, &limits);
        assert_eq!(types(&with_event), vec!["event", "profile"]);
        assert!(!enforcement.is_rate_limited());
    }

    #[test]
    fn profiles_are_limited_by_profile_then_platform_category() {
        let mut envelope = envelope(vec![
            with_platform(ItemType::Profile, "cocoa"),
            with_platform(ItemType::Profile, "python"),
            item(ItemType::Profile),
        ]);
        let limits = cached(&[limit(&[DataCategory::ProfileUi], "ui")]);
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(envelope.len(), 2);
        assert_eq!(envelope.items()[0].platform(), Some("python"));
        assert_eq!(envelope.items()[1].platform(), None);
        assert_eq!(header(&enforcement), "60:profile_ui:key:ui");
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Profile, 1, "ui"),
                dropped(DataCategory::ProfileIndexed, 1, "ui"),
                dropped(DataCategory::ProfileUi, 1, "ui"),
            ]
        );

        let limits = cached(&[limit(&[DataCategory::Profile], "profiles")]);
        let enforcement = enforce(&mut envelope, &limits);
        assert!(envelope.is_empty());
        assert_eq!(header(&enforcement), "60:profile:key:profiles");
    }

    #[test]
    fn other_item_types_are_limited_by_their_categories() {
        let cases: Vec<(Item, DataCategory)> = vec![
            (item(ItemType::ReplayEvent), DataCategory::Replay),
            (item(ItemType::ReplayRecording), DataCategory::Replay),
            (item(ItemType::ReplayVideo), DataCategory::Replay),
            (item(ItemType::CheckIn), DataCategory::Monitor),
            (item(ItemType::UserReport), DataCategory::Feedback),
            (
                with_platform(ItemType::ProfileChunk, "android"),
                DataCategory::ProfileChunkUi,
            ),
            (
                with_platform(ItemType::ProfileChunk, "node"),
                DataCategory::ProfileChunk,
            ),
            (item(ItemType::Security), DataCategory::Security),
            (item(ItemType::RawSecurity), DataCategory::Security),
            (item(ItemType::Feedback), DataCategory::Feedback),
            (item(ItemType::UnrealReport), DataCategory::Error),
        ];
        for (item, category) in cases {
            let name = item.ty().name().to_owned();
            let mut limited = envelope(vec![item.clone()]);
            let enforcement = enforce(&mut limited, &cached(&[limit(&[category], "r")]));
            assert!(limited.is_empty(), "{name}");
            assert_eq!(
                header(&enforcement),
                format!("60:{category}:key:r"),
                "{name}"
            );

            let mut unrelated = envelope(vec![item]);
            let enforcement = enforce(
                &mut unrelated,
                &cached(&[limit(&[DataCategory::Uptime], "r")]),
            );
            assert_eq!(unrelated.len(), 1, "{name}");
            assert!(!enforcement.is_rate_limited(), "{name}");
        }
    }

    #[test]
    fn items_without_categories_are_never_limited() {
        let mut envelope = envelope(vec![
            item(ItemType::ClientReport),
            item(ItemType::FormData),
            item(ItemType::ProfileChunk),
            item(ItemType::Unknown("future_thing".to_owned())),
        ]);
        let original = envelope.clone();
        let enforcement = enforce(&mut envelope, &cached(&[limit(&[], "everything")]));
        assert_eq!(envelope, original);
        assert!(!enforcement.is_rate_limited());
    }

    #[test]
    fn indexed_categories_are_never_checked() {
        let mut envelope = envelope(vec![
            transaction(1),
            container(ItemType::Span, 1),
            item(ItemType::Profile),
        ]);
        let limits = exact(&[
            limit(&[DataCategory::TransactionIndexed], "indexed"),
            limit(&[DataCategory::SpanIndexed], "indexed"),
            limit(&[DataCategory::ProfileIndexed], "indexed"),
        ]);
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(envelope.len(), 3);
        assert!(!enforcement.is_rate_limited());
    }

    #[test]
    fn only_limits_for_present_categories_are_reported() {
        let limits = cached(&[
            limit(&[DataCategory::Replay], "replays"),
            limit(&[DataCategory::Monitor], "monitors"),
        ]);
        let mut envelope = envelope(vec![item(ItemType::Event), item(ItemType::ReplayEvent)]);
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(types(&envelope), vec!["event"]);
        assert_eq!(header(&enforcement), "60:replay:key:replays");
    }

    #[test]
    fn an_all_categories_limit_is_reported_once() {
        let limits = cached(&[limit(&[], "everything")]);
        let mut envelope = envelope(vec![
            item(ItemType::Event),
            item(ItemType::Session),
            container(ItemType::Log, 1),
            item(ItemType::CheckIn),
        ]);
        let enforcement = enforce(&mut envelope, &limits);
        assert!(envelope.is_empty());
        assert_eq!(header(&enforcement), "60::key:everything");
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Error, 1, "everything"),
                dropped(DataCategory::LogByte, 2, "everything"),
                dropped(DataCategory::LogItem, 1, "everything"),
                dropped(DataCategory::Monitor, 1, "everything"),
            ]
        );
    }

    #[test]
    fn longest_limit_gives_the_reason_and_all_matching_limits_are_reported() {
        let mut longer = limit(&[DataCategory::Error], "longer");
        longer.retry_after = RetryAfter::from_secs(2 * SECONDS, *T0);
        longer.scope = RateLimitScope::Organization(42);
        let limits = cached(&[limit(&[DataCategory::Error], "shorter"), longer]);
        let mut envelope = envelope(vec![item(ItemType::Event)]);
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(
            enforcement.dropped,
            vec![dropped(DataCategory::Error, 1, "longer")]
        );
        assert_eq!(
            header(&enforcement),
            "60:error:key:shorter, 120:error:organization:longer"
        );
    }

    #[test]
    fn outcomes_are_summed_per_category_and_reason() {
        let limits = cached(&[
            limit(&[DataCategory::Replay], "replays"),
            limit(&[DataCategory::Monitor], "monitors"),
        ]);
        let mut envelope = envelope(vec![
            item(ItemType::ReplayRecording),
            item(ItemType::CheckIn),
            item(ItemType::ReplayVideo),
            item(ItemType::CheckIn),
        ]);
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(
            enforcement.dropped,
            vec![
                dropped(DataCategory::Replay, 2, "replays"),
                dropped(DataCategory::Monitor, 2, "monitors"),
            ]
        );
        let without_reason = cached(&[RateLimit {
            reason_code: None,
            ..limit(&[DataCategory::Monitor], "unused")
        }]);
        let mut check_in = self::envelope(vec![item(ItemType::CheckIn)]);
        let enforcement = enforce(&mut check_in, &without_reason);
        assert_eq!(
            enforcement.dropped,
            vec![DroppedQuantity {
                category: DataCategory::Monitor,
                quantity: 1,
                reason: None
            }]
        );
        assert_eq!(header(&enforcement), "60:monitor:key");
    }

    #[test]
    fn reject_all_quotas_are_enforced_with_the_cache() {
        let quotas = parse_quotas(&json!([
            {"limit": 0, "categories": ["transaction"], "scope": "project", "reasonCode": "disabled"}
        ]));
        let mut limits = cached(&[limit(&[DataCategory::Session], "sessions")]);
        limits.merge_exact(zero_quota_rate_limits(&quotas, &scoping(), *T0));

        let mut envelope = envelope(vec![
            transaction(0),
            container(ItemType::Span, 1),
            item(ItemType::Session),
        ]);
        let enforcement = enforce(&mut envelope, &limits);
        // The quota keeps exactly its categories; the standalone span inherits the event limit.
        assert!(envelope.is_empty());
        assert_eq!(
            header(&enforcement),
            "60:transaction:project:disabled, 60:session:key:sessions"
        );
    }

    #[test]
    fn crash_report_indices_refer_to_the_kept_items() {
        let mut envelope = envelope(vec![
            attachment(1, None),
            item(ItemType::Session),
            minidump(2),
            attachment(3, None),
            attachment(4, Some(AttachmentType::AppleCrashReport)),
        ]);
        let limits = cached(&[limit(&[DataCategory::Attachment], "bytes")]);
        // The minidump makes the envelope an error envelope; errors are not limited.
        let enforcement = enforce(&mut envelope, &limits);
        assert_eq!(
            types(&envelope),
            vec!["session", "attachment", "attachment"]
        );
        assert_eq!(enforcement.rate_limited_crash_reports, vec![1, 2]);
    }
}
