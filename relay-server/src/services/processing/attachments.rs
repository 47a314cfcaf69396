//! Standalone attachments (`processing.md` §3.10): attachments of an envelope without an
//! event. Each becomes an individual `attachment` message (inline below the chunk size,
//! chunked above) on `ingest-attachments`, in its own store request.

use relay_kafka::messages::{prepare_attachment, AttachmentInlining, AttachmentMessage};
use relay_kafka::{KafkaTopic, MessageEncodeError};
use relay_protocol::envelope::{Item, ItemType};
use relay_protocol::EventId;

use super::errors::attachment_input;
use super::{ProcessingContext, ProcessingOutput, StoreRequest};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};

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
    for item in attachments {
        let mut request = StoreRequest::new(item.quantities());
        match push_individual_attachment(context, &mut request, event_id, &item) {
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

/// Appends an individual attachment (standalone, transaction and feedback attachments): its
/// chunks, then the `attachment` message; payloads below the chunk size are inlined.
pub fn push_individual_attachment(
    context: &ProcessingContext,
    request: &mut StoreRequest,
    event_id: EventId,
    item: &Item,
) -> Result<(), MessageEncodeError> {
    let (organization_id, project_id) = (context.organization_id(), context.project_id());
    let prepared = prepare_attachment(
        organization_id,
        project_id,
        event_id,
        attachment_input(item, context.event_retention()),
        AttachmentInlining::BelowChunkSize,
        context.attachment_chunk_size(),
    );
    for chunk in &prepared.chunks {
        request.push(KafkaTopic::Attachments, chunk)?;
    }
    let message =
        AttachmentMessage::new(organization_id, project_id, event_id, prepared.descriptor);
    request.push(KafkaTopic::Attachments, &message)
}
