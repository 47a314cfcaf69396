//! Which outgoing envelope each item travels in (managed mode, relay-protocol.md §8.2).
//!
//! A managed relay sends one envelope per product: the event-creating item together with
//! everything that belongs to its event (attachments, form data, user reports, profiles),
//! transactions (with their attachments and profiles), sessions, each other product type, and
//! unknown items (envelope.md §6) on their own. Each part keeps the original envelope headers;
//! the split itself is done by `ManagedEnvelope::split_by` with the groups computed here.
//!
//! The assignment mirrors the order in which processors claim items (processing.md §2):
//! standalone products first by type; then, when the envelope has a transaction, the
//! transaction claims the attachments and profiles; otherwise an error-like event claims
//! everything that requires an event; what is left without an event travels as standalone
//! attachments, user reports or profiles.

use relay_protocol::envelope::{ContentType, IntegrationKind, Item, ItemType};

/// The outgoing envelope an item belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProductGroup {
    /// An error-like event (event, security report, crash, feedback) with the items that
    /// require it.
    Error,
    /// A transaction with its attachments and profiles.
    Transaction,
    /// `session` and `sessions` items.
    Session,
    /// `client_report` items (only left in an envelope when they are not converted).
    ClientReport,
    /// Replay events, recordings and videos.
    Replay,
    /// Spans (legacy, v2 containers, OTLP) and span attachments.
    Span,
    /// Log containers and log integrations.
    Log,
    /// Trace metric containers.
    TraceMetric,
    /// Trace attachments without an owning span.
    TraceAttachment,
    /// Continuous profiling chunks.
    ProfileChunk,
    /// Cron check-ins.
    CheckIn,
    /// `metric_buckets` items.
    Metrics,
    /// Attachments and form data of an envelope without any event.
    StandaloneAttachment,
    /// User reports of an envelope without an error-like event.
    StandaloneUserReport,
    /// Profiles of an envelope without any event.
    StandaloneProfile,
    /// Items of unknown type or with an unknown attachment type, forwarded as they are.
    Unknown,
}

/// The group of every item, in item order.
pub fn product_groups(items: &[Item]) -> Vec<ProductGroup> {
    let has_transaction = items.iter().any(|item| *item.ty() == ItemType::Transaction);
    let has_error_event = items.iter().any(|item| {
        item.creates_event() && *item.ty() != ItemType::Transaction && !item.is_unknown()
    });
    // Which event claims the items that require one (processing.md §2: the transaction
    // processor takes attachments and profiles; errors only run without a transaction).
    let event_owner = if has_transaction {
        Some(ProductGroup::Transaction)
    } else if has_error_event {
        Some(ProductGroup::Error)
    } else {
        None
    };
    items
        .iter()
        .map(|item| group_of(item, event_owner, has_error_event))
        .collect()
}

fn group_of(item: &Item, event_owner: Option<ProductGroup>, has_error_event: bool) -> ProductGroup {
    if item.is_unknown() {
        return ProductGroup::Unknown;
    }
    match item.ty() {
        ItemType::Session | ItemType::Sessions => ProductGroup::Session,
        ItemType::ClientReport => ProductGroup::ClientReport,
        ItemType::ReplayEvent | ItemType::ReplayRecording | ItemType::ReplayVideo => {
            ProductGroup::Replay
        }
        ItemType::Span => ProductGroup::Span,
        ItemType::Log => ProductGroup::Log,
        ItemType::TraceMetric => ProductGroup::TraceMetric,
        ItemType::ProfileChunk => ProductGroup::ProfileChunk,
        ItemType::CheckIn => ProductGroup::CheckIn,
        ItemType::MetricBuckets => ProductGroup::Metrics,
        ItemType::Integration => match item.integration_kind() {
            Some(IntegrationKind::Logs) => ProductGroup::Log,
            Some(IntegrationKind::Spans) => ProductGroup::Span,
            None => ProductGroup::Unknown,
        },
        ItemType::Transaction => ProductGroup::Transaction,
        ItemType::Attachment if item.content_type() == Some(ContentType::TraceAttachment) => {
            if item.has_span_id() {
                ProductGroup::Span
            } else {
                ProductGroup::TraceAttachment
            }
        }
        _ if item.creates_event() => ProductGroup::Error,
        ItemType::Attachment | ItemType::FormData => {
            event_owner.unwrap_or(ProductGroup::StandaloneAttachment)
        }
        ItemType::Profile => event_owner.unwrap_or(ProductGroup::StandaloneProfile),
        ItemType::UserReport if has_error_event => ProductGroup::Error,
        ItemType::UserReport => ProductGroup::StandaloneUserReport,
        // Every other known type creates an event and was handled above; an event-less
        // leftover is kept apart rather than guessed into another product.
        _ => ProductGroup::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use relay_protocol::envelope::AttachmentType;

    use super::*;
    use ProductGroup::*;

    fn item(ty: ItemType) -> Item {
        crate::testutils::json_item(ty, "{}")
    }

    fn attachment(attachment_type: AttachmentType) -> Item {
        let mut item = Item::new(ItemType::Attachment);
        item.set_payload(ContentType::OctetStream, &b"data"[..]);
        item.set_attachment_type(attachment_type);
        item
    }

    fn groups(items: Vec<Item>) -> Vec<ProductGroup> {
        product_groups(&items)
    }

    #[test]
    fn event_keeps_its_attachments_and_other_products_split_off() {
        assert_eq!(
            groups(vec![
                item(ItemType::Event),
                attachment(AttachmentType::Attachment),
                item(ItemType::Session),
                item(ItemType::FormData),
                item(ItemType::UserReport),
                item(ItemType::CheckIn),
            ]),
            [Error, Error, Session, Error, Error, CheckIn]
        );
    }

    #[test]
    fn transaction_claims_attachments_and_profiles() {
        assert_eq!(
            groups(vec![
                attachment(AttachmentType::Attachment),
                item(ItemType::Transaction),
                item(ItemType::Profile),
                item(ItemType::Sessions),
            ]),
            [Transaction, Transaction, Transaction, Session]
        );
    }

    #[test]
    fn error_event_next_to_a_transaction_travels_alone() {
        assert_eq!(
            groups(vec![
                item(ItemType::Transaction),
                item(ItemType::Event),
                attachment(AttachmentType::Attachment),
                item(ItemType::UserReport),
            ]),
            [Transaction, Error, Transaction, Error]
        );
    }

    #[test]
    fn crash_attachment_is_an_event() {
        assert_eq!(
            groups(vec![
                attachment(AttachmentType::Minidump),
                attachment(AttachmentType::Attachment),
                item(ItemType::Profile),
            ]),
            [Error, Error, Error]
        );
    }

    #[test]
    fn items_without_an_event_are_standalone() {
        assert_eq!(
            groups(vec![
                attachment(AttachmentType::Attachment),
                item(ItemType::UserReport),
                item(ItemType::Profile),
                item(ItemType::FormData),
            ]),
            [
                StandaloneAttachment,
                StandaloneUserReport,
                StandaloneProfile,
                StandaloneAttachment
            ]
        );
    }

    #[test]
    fn each_product_type_has_its_own_group() {
        assert_eq!(
            groups(vec![
                item(ItemType::ReplayEvent),
                item(ItemType::ReplayRecording),
                item(ItemType::Span),
                item(ItemType::Log),
                item(ItemType::TraceMetric),
                item(ItemType::ProfileChunk),
                item(ItemType::MetricBuckets),
                item(ItemType::ClientReport),
            ]),
            [
                Replay,
                Replay,
                Span,
                Log,
                TraceMetric,
                ProfileChunk,
                Metrics,
                ClientReport
            ]
        );
    }

    #[test]
    fn unknown_items_are_kept_apart() {
        let mut unknown_attachment = attachment(AttachmentType::Attachment);
        unknown_attachment
            .set_header("attachment_type", serde_json::json!("event.something_new"))
            .unwrap();
        assert_eq!(
            groups(vec![
                item(ItemType::Event),
                item(ItemType::Unknown("brand_new".into())),
                unknown_attachment,
            ]),
            [Error, Unknown, Unknown]
        );
    }

    #[test]
    fn trace_attachments_follow_their_span() {
        let mut trace_attachment = Item::new(ItemType::Attachment);
        trace_attachment.set_payload(ContentType::TraceAttachment, &b"x"[..]);
        let mut span_attachment = trace_attachment.clone();
        span_attachment
            .set_header("span_id", serde_json::Value::Null)
            .unwrap();
        assert_eq!(
            groups(vec![
                item(ItemType::Event),
                trace_attachment,
                span_attachment
            ]),
            [Error, TraceAttachment, Span]
        );
    }

    #[test]
    fn empty_envelope_has_no_groups() {
        assert!(groups(Vec::new()).is_empty());
    }
}
