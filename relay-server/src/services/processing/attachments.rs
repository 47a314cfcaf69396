//! Standalone attachments (`processing.md` §3.10): attachments of an envelope without an
//! event. Each becomes an individual `attachment` message (inline below the chunk size,
//! chunked above) on `ingest-attachments`, in its own store request.

use relay_kafka::messages::{prepare_attachment, AttachmentInlining, AttachmentMessage};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::ItemType;

use super::errors::attachment_input;
use super::{ProcessingContext, ProcessingOutput, StoreRequest};
use crate::services::managed::ManagedEnvelope;
use crate::services::outcome::{DiscardReason, Outcome};

/// Runs the standalone attachment processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let attachments = managed.take_items_where(|item| *item.ty() == ItemType::Attachment);
    if attachments.is_empty() {
        return;
    }
    let Some(event_id) = context.event_id() else {
        for item in &attachments {
            managed.track_item_outcome(item, &Outcome::Invalid(DiscardReason::InvalidEventId));
        }
        return;
    };
    let organization_id = context.organization_id();
    let project_id = context.project_id();
    let chunk_size = std::num::NonZeroUsize::new(context.attachment_chunk_size())
        .unwrap_or(relay_kafka::messages::DEFAULT_ATTACHMENT_CHUNK_SIZE);
    for item in attachments {
        let prepared = prepare_attachment(
            organization_id,
            project_id,
            event_id,
            attachment_input(&item, context.event_retention()),
            AttachmentInlining::BelowChunkSize,
            chunk_size,
        );
        let mut request = StoreRequest::new(item.quantities());
        let encoded = prepared
            .chunks
            .iter()
            .try_for_each(|chunk| request.push(KafkaTopic::Attachments, chunk))
            .and_then(|()| {
                let message = AttachmentMessage::new(
                    organization_id,
                    project_id,
                    event_id,
                    prepared.descriptor,
                );
                request.push(KafkaTopic::Attachments, &message)
            });
        match encoded {
            Ok(()) => output.add(request),
            Err(error) => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "cannot encode attachment"
                );
                managed.track_item_outcome(&item, &Outcome::Invalid(DiscardReason::Internal));
            }
        }
    }
}
