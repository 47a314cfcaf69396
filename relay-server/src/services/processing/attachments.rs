//! Standalone attachments (`processing.md` §3.10): attachments of an envelope without an
//! event. Each becomes an individual `attachment` message (inline below the chunk size,
//! chunked above) on `ingest-attachments`, in its own store request.

use relay_kafka::messages::{
    prepare_attachment, AttachmentContent, AttachmentInlining, AttachmentInput, AttachmentMessage,
};
use relay_kafka::{KafkaTopic, MessageEncodeError};
use relay_protocol::envelope::{Item, ItemType};
use relay_protocol::EventId;
use serde_json::Value;
use uuid::Uuid;

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

/// The descriptor input of an attachment item.
pub fn attachment_input(item: &Item, retention_days: u16) -> AttachmentInput {
    AttachmentInput {
        id: Uuid::new_v4(),
        filename: item.filename().map(str::to_owned),
        content_type: item
            .content_type()
            .map(|content_type| content_type.as_str().to_owned()),
        attachment_type: item.attachment_type().unwrap_or_default(),
        rate_limited: item
            .get_header("rate_limited")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        retention_days,
        content: AttachmentContent::Bytes(item.payload()),
    }
}
