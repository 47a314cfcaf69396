//! Standalone user reports (`processing.md` §3.11): each report is normalized to exactly
//! `event_id`, `name`, `email`, `comments` and produced as a `user_report` message on
//! `ingest-attachments`.

use bytes::Bytes;
use relay_kafka::messages::{normalize_user_report, unix_seconds_or_now, UserReportMessage};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::ItemType;

use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};

/// Runs the user report processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let reports = managed.take_items_where(|item| *item.ty() == ItemType::UserReport);
    if reports.is_empty() {
        return;
    }
    let Some(event_id) = context.event_id() else {
        for item in &reports {
            managed.track_item_outcome(item, &Outcome::Invalid(DiscardReason::InvalidEventId));
        }
        return;
    };
    for item in reports {
        let payload = match normalize_user_report(item.payload_slice()) {
            Ok(payload) => payload,
            Err(_) => {
                managed.track_item_outcome(&item, &Outcome::Invalid(DiscardReason::InvalidJson));
                continue;
            }
        };
        let message = UserReportMessage::new(
            context.organization_id(),
            context.project_id(),
            event_id,
            unix_seconds_or_now(context.received_at),
            Bytes::from(payload),
        );
        if output
            .add_message(item.quantities(), KafkaTopic::Attachments, &message)
            .is_err()
        {
            managed.track_item_outcome(&item, &Outcome::Invalid(DiscardReason::Internal));
        }
    }
}
