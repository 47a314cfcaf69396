//! Transactions (`processing.md` §3.2): the `transaction` item with its attachments and at
//! most one profile. Store order: extracted spans, then the transaction's attachments as
//! individual messages, then the event on `ingest-transactions`, then the profile on
//! `profiles` with header `sampled: true`.

use bytes::Bytes;
use relay_event::schema::contexts::ProfileContext;
use relay_event::schema::{Context, Contexts, Event, EventId as EventIdValue};
use relay_event::Annotated;
use relay_kafka::messages::{unix_seconds_or_now, EventMessage, ProfileMessage};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::{Item, ItemType};
use relay_protocol::DataCategory;
use serde_json::Value;

use super::attachments::push_individual_attachment;
use super::event::{self, EventKind, EventObject, IngestedBytes};
use super::{spans, stages, trace_attachments, ProcessingContext, ProcessingOutput, StoreRequest};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, FilterStatKey, Outcome};

/// Feature: transactions are not produced (spans still are).
const FEATURE_DISCARD_TRANSACTION: &str = "projects:discard-transaction";
/// Feature: flag transactions and segment spans for performance issue detection.
const FEATURE_PERFORMANCE_ISSUES_SPANS: &str = "organizations:performance-issues-spans";

/// Why (part of) a transaction envelope is dropped; [`TransactionError::outcome`] names the
/// outcome of each.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// A second `transaction` item.
    #[error("more than one transaction item")]
    DuplicateItem,
    /// A second profile for the transaction.
    #[error("more than one profile")]
    TooManyProfiles,
    /// The envelope has no `event_id` header.
    #[error("missing event id")]
    MissingEventId,
    /// The transaction JSON does not parse.
    #[error("invalid transaction payload: {0}")]
    InvalidPayload(DiscardReason),
    /// `start_timestamp` / `timestamp` or the trace context are unusable.
    #[error("invalid timestamps or trace context")]
    InvalidTransaction,
    /// The profile is not JSON.
    #[error("profile is not JSON")]
    InvalidProfile,
    /// `projects:discard-transaction` drops the transaction payload (spans are kept).
    #[error("transaction discarded by projects:discard-transaction")]
    Discarded,
}

impl TransactionError {
    /// The outcome of the items dropped for this reason.
    pub fn outcome(&self) -> Outcome {
        let reason = match self {
            TransactionError::DuplicateItem => DiscardReason::DuplicateItem,
            TransactionError::TooManyProfiles => DiscardReason::ProfilingTooManyProfiles,
            TransactionError::MissingEventId => DiscardReason::InvalidEventId,
            TransactionError::InvalidPayload(reason) => reason.clone(),
            TransactionError::InvalidTransaction => DiscardReason::InvalidTransaction,
            TransactionError::InvalidProfile => DiscardReason::ProfilingInvalidJson,
            TransactionError::Discarded => return Outcome::Filtered(FilterStatKey::Discarded),
        };
        Outcome::Invalid(reason)
    }
}

/// Runs the transaction processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    if !managed
        .envelope()
        .items()
        .iter()
        .any(|item| *item.ty() == ItemType::Transaction)
    {
        return;
    }
    let Some(transaction) = managed.take_first_where(
        |item| *item.ty() == ItemType::Transaction,
        TransactionError::DuplicateItem.outcome(),
    ) else {
        return;
    };
    let attachments = managed.take_items_where(|item| {
        *item.ty() == ItemType::Attachment && !trace_attachments::is_trace_attachment(item)
    });
    let profile = managed.take_first_where(
        |item| *item.ty() == ItemType::Profile,
        TransactionError::TooManyProfiles.outcome(),
    );

    let reject_all = |managed: &ManagedEnvelope, profile: Option<&Item>, outcome: Outcome| {
        for item in std::iter::once(&transaction)
            .chain(&attachments)
            .chain(profile)
        {
            managed.track_item_outcome(item, &outcome);
        }
    };

    let Some(event_id) = context.event_id() else {
        reject_all(
            managed,
            profile.as_ref(),
            TransactionError::MissingEventId.outcome(),
        );
        return;
    };
    let mut event = match event::parse_event(transaction.payload_slice()) {
        Ok(event) => event,
        Err(reason) => {
            let error = TransactionError::InvalidPayload(reason);
            reject_all(managed, profile.as_ref(), error.outcome());
            return;
        }
    };

    // The profile travels only if it parses; its id is linked from the transaction.
    let profile = profile.and_then(|profile| match parse_profile(&profile) {
        Ok(profile_id) => {
            if let Some(profile_id) = profile_id {
                link_profile(&mut event, &profile_id);
            }
            Some(profile)
        }
        Err(error) => {
            managed.track_item_outcome(&profile, &error.outcome());
            None
        }
    });

    let ingested = IngestedBytes {
        event: transaction.len(),
        ..IngestedBytes::default()
    };
    event::finalize(context, &mut event, event_id, ingested);
    // Timestamps and the trace context are validated here (`normalization.md` §5).
    let normalized = stages::normalize_event(
        context,
        &mut event,
        EventKind::Transaction,
        transaction.fully_normalized(),
    );
    if let Err(reason) = normalized {
        let error = match reason {
            DiscardReason::InvalidTransaction => TransactionError::InvalidTransaction,
            other => TransactionError::InvalidPayload(other),
        };
        reject_all(managed, profile.as_ref(), error.outcome());
        return;
    }
    if let Err(outcome) = stages::filter_event(context, &event) {
        reject_all(managed, profile.as_ref(), outcome);
        return;
    }
    stages::scrub_event(context, &mut event);
    let performance_issues = context.has_feature(FEATURE_PERFORMANCE_ISSUES_SPANS);
    if performance_issues {
        if let Some(event) = event.value_mut() {
            event.performance_issues_spans = Annotated::new(relay_event::Value::Bool(true));
        }
    }
    let payload = match event::serialize_event(&event) {
        Ok(payload) => payload,
        Err(reason) => {
            reject_all(managed, profile.as_ref(), Outcome::Invalid(reason));
            return;
        }
    };
    // Span extraction still reads the transaction as a JSON map.
    let event: EventObject = match serde_json::from_slice(&payload) {
        Ok(event) => event,
        Err(_) => {
            reject_all(
                managed,
                profile.as_ref(),
                Outcome::Invalid(DiscardReason::Internal),
            );
            return;
        }
    };

    // Spans (incl. the segment) are extracted and produced before the transaction; they
    // account for the span categories themselves.
    let span_categories_handled = spans::extract_from_transaction(
        context,
        managed,
        event_id,
        &event,
        performance_issues,
        output,
    );

    let mut quantities: Vec<(DataCategory, usize)> = transaction
        .quantities()
        .into_iter()
        .filter(|(category, _)| {
            !span_categories_handled
                || !matches!(category, DataCategory::Span | DataCategory::SpanIndexed)
        })
        .collect();
    if context.has_feature(FEATURE_DISCARD_TRANSACTION) {
        let discarded = TransactionError::Discarded.outcome();
        for (category, quantity) in quantities.drain(..) {
            managed.track(discarded.clone(), category, quantity);
        }
        for attachment in &attachments {
            managed.track_item_outcome(attachment, &discarded);
        }
    } else {
        for attachment in &attachments {
            quantities.extend(attachment.quantities());
        }
        let mut request = StoreRequest::new(quantities);
        if let Err(error) = push_transaction(context, &mut request, event_id, payload, &attachments)
        {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "cannot encode transaction"
            );
            for (category, quantity) in &request.quantities {
                managed.track(
                    Outcome::Invalid(DiscardReason::Internal),
                    *category,
                    *quantity,
                );
            }
        } else {
            output.add(request);
        }
    }

    if let Some(profile) = profile {
        push_profile(context, managed, output, &profile, true);
    }
}

fn push_transaction(
    context: &ProcessingContext,
    request: &mut StoreRequest,
    event_id: relay_protocol::EventId,
    event: Bytes,
    attachments: &[Item],
) -> Result<(), relay_kafka::MessageEncodeError> {
    for item in attachments {
        push_individual_attachment(context, request, event_id, item)?;
    }
    let message = EventMessage::new(
        context.organization_id(),
        context.project_id(),
        event_id,
        event,
        unix_seconds_or_now(context.received_at),
        context.client_addr,
        Vec::new(),
    );
    request.push(KafkaTopic::Transactions, &message)
}

/// Produces a profile on `profiles` with header `sampled` (shared with standalone profiles).
pub fn push_profile(
    context: &ProcessingContext,
    managed: &ManagedEnvelope,
    output: &mut ProcessingOutput,
    profile: &Item,
    sampled: bool,
) {
    let message = ProfileMessage::new(
        context.organization_id(),
        context.project_id(),
        context.key_id(),
        unix_seconds_or_now(context.received_at),
        context.event_retention(),
        Bytes::copy_from_slice(profile.payload_slice()),
        sampled,
    );
    if output
        .add_message(profile.quantities(), KafkaTopic::Profiles, &message)
        .is_err()
    {
        managed.track_item_outcome(profile, &Outcome::Invalid(DiscardReason::Internal));
    }
}

/// Parses the profile far enough to learn its id; `Err` when it is not JSON.
fn parse_profile(profile: &Item) -> Result<Option<String>, TransactionError> {
    let value: Value = serde_json::from_slice(profile.payload_slice())
        .map_err(|_| TransactionError::InvalidProfile)?;
    let id = value
        .get("profile_id")
        .or_else(|| value.get("event_id"))
        .and_then(Value::as_str)
        .map(|id| id.replace('-', ""));
    Ok(id)
}

/// Writes `contexts.profile.profile_id` so the transaction links to its profile; an id that
/// is not a UUID links nothing.
fn link_profile(event: &mut Annotated<Event>, profile_id: &str) {
    let Ok(profile_id) = uuid::Uuid::parse_str(profile_id) else {
        return;
    };
    let profile_id = Annotated::new(EventIdValue(profile_id));
    let event = event.get_or_insert_with(Event::default);
    let contexts = event.contexts.get_or_insert_with(Contexts::default);
    let entry = contexts
        .0
        .entry("profile".to_owned())
        .or_insert_with(Annotated::empty);
    match entry.value_mut() {
        Some(Context::Profile(profile)) => profile.profile_id = profile_id,
        _ => {
            *entry = Annotated::new(Context::Profile(Box::new(ProfileContext {
                profile_id,
                ..ProfileContext::default()
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_outcomes() {
        let cases = [
            (TransactionError::DuplicateItem, "invalid", "duplicate_item"),
            (
                TransactionError::TooManyProfiles,
                "invalid",
                "profiling_too_many_profiles",
            ),
            (
                TransactionError::MissingEventId,
                "invalid",
                "invalid_event_id",
            ),
            (
                TransactionError::InvalidPayload(DiscardReason::InvalidJson),
                "invalid",
                "invalid_json",
            ),
            (
                TransactionError::InvalidTransaction,
                "invalid",
                "invalid_transaction",
            ),
            (
                TransactionError::InvalidProfile,
                "invalid",
                "profiling_invalid_json",
            ),
            (TransactionError::Discarded, "filtered", "discarded"),
        ];
        for (error, name, reason) in cases {
            let outcome = error.outcome();
            assert_eq!(outcome.name(), name);
            assert_eq!(outcome.reason().as_deref(), Some(reason));
        }
    }
}
