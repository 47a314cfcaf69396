//! Trace attachments (`processing.md` §3.10, §2 row 11): attachment v2 items
//! (`application/vnd.sentry.trace-attachment`) without a `span_id` header.
//!
//! Spec: they require `projects:trace-attachment-processing` (else dropped silently), are
//! uploaded to the objectstore (usecase `trace_attachments`, key = attachment id) and
//! produced as a `TraceItem` of type ATTACHMENT that references the stored object. There is
//! no Kafka fallback: the trace item carries no payload.
//!
//! This relay has no objectstore client (`processing.objectstore` is parsed but never used),
//! so the upload can never succeed. With the feature enabled every trace attachment is
//! therefore rejected with `invalid`/`upload_failed` — the outcome the spec gives for an
//! objectstore upload that fails without a Kafka fallback (§7.8) — for its `attachment` bytes
//! and `attachment_item` count. Producing the ATTACHMENT trace item without the stored object
//! would reference data that does not exist, so it is not done.
//!
//! Note: the errors (#9) and transactions (#10) processors run before this one and take every
//! `attachment` item of an envelope that has an event, trace attachments included.

use relay_protocol::envelope::{ContentType, Item, ItemType};

use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};

/// Feature gate of trace attachments.
const FEATURE_TRACE_ATTACHMENTS: &str = "projects:trace-attachment-processing";

/// Whether an item is a trace attachment: attachment v2 without a `span_id` header.
pub fn is_trace_attachment(item: &Item) -> bool {
    *item.ty() == ItemType::Attachment
        && item.content_type() == Some(ContentType::TraceAttachment)
        && !item.has_span_id()
}

/// Runs the processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    _output: &mut ProcessingOutput,
) {
    let attachments = managed.take_items_where(is_trace_attachment);
    if attachments.is_empty() || !context.has_feature(FEATURE_TRACE_ATTACHMENTS) {
        return;
    }
    for attachment in &attachments {
        managed.track_item_outcome(attachment, &Outcome::Invalid(DiscardReason::UploadFailed));
    }
}

#[cfg(test)]
mod tests {
    use relay_protocol::DataCategory;

    use super::*;
    use crate::services::processing::spans::tests::harness;

    const ITEM: &str = "{\"type\":\"attachment\",\"content_type\":\"application/vnd.sentry.trace-attachment\",\"length\":3}\nabc\n";

    #[test]
    fn without_feature_dropped_silently_with_feature_upload_failed() {
        let mut off = harness(ITEM, &[]);
        off.run(process);
        assert!(off.envelope_is_empty());
        assert!(off.outcomes().is_empty());

        let mut on = harness(ITEM, &["projects:trace-attachment-processing"]);
        on.run(process);
        assert!(on.envelope_is_empty());
        let reasons = on.outcome_reasons();
        assert!(reasons.contains(&("upload_failed".to_owned(), DataCategory::Attachment, 3)));
        assert!(reasons.contains(&("upload_failed".to_owned(), DataCategory::AttachmentItem, 1)));
    }

    #[test]
    fn span_attachments_and_plain_attachments_are_left_alone() {
        let span_attachment = "{\"type\":\"attachment\",\"content_type\":\"application/vnd.sentry.trace-attachment\",\"span_id\":null,\"length\":3}\nabc\n";
        let plain = "{\"type\":\"attachment\",\"length\":3}\nabc\n";
        let mut harness = harness(
            &format!("{span_attachment}{plain}"),
            &["projects:trace-attachment-processing"],
        );
        harness.run(process);
        assert_eq!(harness.remaining_items(), 2);
        assert!(harness.outcomes().is_empty());
    }
}
