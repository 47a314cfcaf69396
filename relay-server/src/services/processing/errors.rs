//! Error events (`processing.md` §3.1): one event from whichever carrier the envelope has
//! (event JSON, security report, crash attachments, `event.payload` msgpack, form data, Unreal
//! crash archive, user feedback), plus its attachments and user reports, produced as one store
//! request: attachment chunks, then user reports, then the event message.
//!
//! Runs only for envelopes without a `transaction` item that have at least one event-creating
//! item; takes every item that requires an event except profiles (those are handled by the
//! profile processors).

use bytes::Bytes;
use relay_event::schema::Event;
use relay_event::Annotated;
use relay_kafka::messages::{
    normalize_user_report, prepare_attachment, unix_seconds_or_now, AttachmentDescriptor,
    AttachmentInlining, EventMessage, UserReportMessage,
};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::{AttachmentType, Item, ItemType};
use relay_protocol::{DataCategory, EventId};
use serde_json::Value;

use super::attachments::{attachment_input, push_individual_attachment};
use super::event::{self, EventKind, EventObject, IngestedBytes};
use super::security::SecurityReportError;
use super::unreal::UnrealError;
use super::{
    security, stages, trace_attachments, unreal, ProcessingContext, ProcessingOutput, StoreRequest,
};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};

/// Why an error event is rejected as a whole: every item of the event gets the outcome of
/// [`ErrorEventError::outcome`].
#[derive(Debug, thiserror::Error)]
pub enum ErrorEventError {
    /// The Unreal crash archive cannot be expanded.
    #[error("unreal crash report: {0}")]
    Unreal(#[from] UnrealError),
    /// A raw security report that cannot become an event.
    #[error("security report: {0}")]
    SecurityReport(#[from] SecurityReportError),
    /// The event JSON of an event, security or feedback item does not parse.
    #[error("invalid event payload: {0}")]
    InvalidEvent(DiscardReason),
    /// The `event.payload` attachment is not a msgpack map.
    #[error("the event.payload attachment is not a msgpack map")]
    InvalidMsgpack,
    /// No item carries an event: no event item, crash, `event.payload` or form data.
    #[error("no event payload")]
    NoEventPayload,
    /// The envelope has no `event_id` header.
    #[error("missing event id")]
    MissingEventId,
    /// An inbound filter matched; the outcome comes from the filter.
    #[error("filtered by an inbound filter")]
    Filtered(Outcome),
    /// Normalization rejected the event (`normalization.md` §4.3: a timestamp before 1970).
    #[error("rejected by normalization: {0}")]
    Normalization(DiscardReason),
}

impl ErrorEventError {
    /// The outcome of every item of the rejected event.
    pub fn outcome(&self) -> Outcome {
        let reason = match self {
            ErrorEventError::Unreal(error) => error.discard_reason(),
            ErrorEventError::SecurityReport(error) => return error.outcome(),
            ErrorEventError::InvalidEvent(reason) => reason.clone(),
            ErrorEventError::InvalidMsgpack => DiscardReason::InvalidMsgpack,
            ErrorEventError::NoEventPayload => DiscardReason::NoEventPayload,
            ErrorEventError::MissingEventId => DiscardReason::InvalidEventId,
            ErrorEventError::Filtered(outcome) => return outcome.clone(),
            ErrorEventError::Normalization(reason) => reason.clone(),
        };
        Outcome::Invalid(reason)
    }
}

/// Runs the error processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let items = managed.envelope().items();
    if items.iter().any(|item| *item.ty() == ItemType::Transaction)
        || !items.iter().any(Item::creates_event)
    {
        return;
    }
    let taken = managed.take_items_where(|item| {
        item.requires_event()
            && *item.ty() != ItemType::Profile
            && *item.ty() != ItemType::ReplayEvent
            && !trace_attachments::is_trace_attachment(item)
    });
    if let Err(error) = process_unit(context, managed, taken, output) {
        tracing::debug!(%error, "error event rejected");
    }
}

/// The items of one error event, sorted by role.
#[derive(Default)]
struct ErrorUnit {
    /// The item the event JSON comes from (event, security, raw_security, feedback).
    event_item: Option<Item>,
    unreal_report: Option<Item>,
    form_data: Vec<Item>,
    attachments: Vec<Item>,
    user_reports: Vec<Item>,
}

fn process_unit(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    items: Vec<Item>,
    output: &mut ProcessingOutput,
) -> Result<(), ErrorEventError> {
    let mut unit = ErrorUnit::default();
    for item in items {
        match item.ty() {
            ItemType::Event | ItemType::Security | ItemType::RawSecurity | ItemType::Feedback => {
                if unit.event_item.is_some() {
                    managed
                        .track_item_outcome(&item, &Outcome::Invalid(DiscardReason::DuplicateItem));
                } else {
                    unit.event_item = Some(item);
                }
            }
            ItemType::UnrealReport => {
                if unit.unreal_report.is_some() {
                    managed
                        .track_item_outcome(&item, &Outcome::Invalid(DiscardReason::DuplicateItem));
                } else {
                    unit.unreal_report = Some(item);
                }
            }
            ItemType::FormData => unit.form_data.push(item),
            ItemType::UserReport => unit.user_reports.push(item),
            _ => unit.attachments.push(item),
        }
    }

    // Unreal archives expand into an event payload, attachments and user reports.
    let mut unreal_event = None;
    if let Some(report) = unit.unreal_report.take() {
        match unreal::expand(context, &report) {
            Ok(expanded) => {
                unreal_event = expanded.event;
                unit.attachments.extend(expanded.attachments);
                unit.user_reports.extend(expanded.user_reports);
            }
            Err(error) => {
                let error = ErrorEventError::from(error);
                reject_unit(managed, &unit, Some(&report), &error);
                return Err(error);
            }
        }
    }

    let event_category = event_category(&unit);
    let (mut event, kind, raw_size) = match extract_event(context, &unit, unreal_event) {
        Ok(extracted) => extracted,
        Err(error) => {
            // Raw security reports may also be filtered (unsupported report kinds).
            reject_unit(managed, &unit, None, &error);
            return Err(error);
        }
    };
    let Some(event_id) = context.event_id() else {
        let error = ErrorEventError::MissingEventId;
        reject_unit(managed, &unit, None, &error);
        return Err(error);
    };

    let ingested = IngestedBytes {
        event: raw_size,
        minidump: attachment_bytes(&unit, AttachmentType::Minidump),
        apple_crash_report: attachment_bytes(&unit, AttachmentType::AppleCrashReport),
        attachments: attachment_bytes(&unit, AttachmentType::Attachment),
    };
    event::finalize(context, &mut event, event_id, ingested);
    let fully_normalized = unit.event_item.as_ref().is_some_and(Item::fully_normalized);
    if let Err(reason) = stages::normalize_event(context, &mut event, kind, fully_normalized) {
        let error = ErrorEventError::Normalization(reason);
        reject_unit(managed, &unit, None, &error);
        return Err(error);
    }
    if let Err(outcome) = stages::filter_event(context, &event) {
        let error = ErrorEventError::Filtered(outcome);
        reject_unit(managed, &unit, None, &error);
        return Err(error);
    }
    stages::scrub_event(context, &mut event);

    // User reports: each one is normalized on its own; a broken one is rejected alone.
    let mut user_report_payloads = Vec::new();
    for report in &unit.user_reports {
        match normalize_user_report(report.payload_slice()) {
            Ok(payload) => user_report_payloads.push((report, payload)),
            Err(_) => {
                managed.track_item_outcome(report, &Outcome::Invalid(DiscardReason::InvalidJson))
            }
        }
    }

    let mut quantities = vec![(event_category, 1)];
    for attachment in &unit.attachments {
        quantities.extend(attachment.quantities());
    }
    for (report, _) in &user_report_payloads {
        quantities.extend(report.quantities());
    }
    let mut request = StoreRequest::new(quantities);
    let serialized = event::serialize_event(&event).map_err(ErrorEventError::Normalization);
    let built = serialized.and_then(|event| {
        build_messages(
            context,
            &mut request,
            event_id,
            event,
            kind,
            &unit.attachments,
            &user_report_payloads,
        )
        .map_err(|error| {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "cannot encode error event messages"
            );
            ErrorEventError::Normalization(DiscardReason::Internal)
        })
    });
    if built.is_err() {
        for (category, quantity) in &request.quantities {
            managed.track(
                Outcome::Invalid(DiscardReason::Internal),
                *category,
                *quantity,
            );
        }
        return Ok(());
    }
    output.add(request);
    Ok(())
}

fn build_messages(
    context: &ProcessingContext,
    request: &mut StoreRequest,
    event_id: EventId,
    event: Bytes,
    kind: EventKind,
    attachments: &[Item],
    user_reports: &[(&Item, Vec<u8>)],
) -> Result<(), relay_kafka::MessageEncodeError> {
    let organization_id = context.organization_id();
    let project_id = context.project_id();
    let start_time = unix_seconds_or_now(context.received_at);
    let retention = context.event_retention();
    let feedback = kind == EventKind::Feedback;
    let mut descriptors: Vec<AttachmentDescriptor> = Vec::new();
    for item in attachments {
        if feedback {
            // Feedback attachments travel as individual attachment messages.
            push_individual_attachment(context, request, event_id, item)?;
            continue;
        }
        // Attachments of error events are never inlined; the event carries the descriptors.
        let prepared = prepare_attachment(
            organization_id,
            project_id,
            event_id,
            attachment_input(item, retention),
            AttachmentInlining::Never,
            context.attachment_chunk_size(),
        );
        for chunk in &prepared.chunks {
            request.push(KafkaTopic::Attachments, chunk)?;
        }
        descriptors.push(prepared.descriptor);
    }
    for (_, payload) in user_reports {
        let message = UserReportMessage::new(
            organization_id,
            project_id,
            event_id,
            start_time,
            Bytes::from(payload.clone()),
        );
        request.push(KafkaTopic::Attachments, &message)?;
    }
    let topic = if feedback {
        KafkaTopic::Feedback
    } else if !descriptors.is_empty() || !user_reports.is_empty() {
        KafkaTopic::Attachments
    } else {
        KafkaTopic::Events
    };
    let message = EventMessage::new(
        organization_id,
        project_id,
        event_id,
        event,
        start_time,
        context.client_addr,
        descriptors,
    );
    request.push(topic, &message)
}

/// The data category the event counts in.
fn event_category(unit: &ErrorUnit) -> DataCategory {
    match unit.event_item.as_ref().map(Item::ty) {
        Some(ItemType::Security | ItemType::RawSecurity) => DataCategory::Security,
        Some(ItemType::Feedback) => DataCategory::Feedback,
        _ => DataCategory::Error,
    }
}

/// The event JSON, its kind and its raw size, from the most specific carrier.
fn extract_event(
    context: &ProcessingContext,
    unit: &ErrorUnit,
    unreal_event: Option<EventObject>,
) -> Result<(Annotated<Event>, EventKind, usize), ErrorEventError> {
    if let Some(item) = &unit.event_item {
        let payload = item.payload_slice();
        return match item.ty() {
            ItemType::RawSecurity => {
                let event = security::raw_security_to_event(context, item)?;
                Ok((
                    event::from_object(event),
                    EventKind::Security,
                    payload.len(),
                ))
            }
            ItemType::Security => Ok((
                event::parse_event(payload).map_err(ErrorEventError::InvalidEvent)?,
                EventKind::Security,
                payload.len(),
            )),
            ItemType::Feedback => Ok((
                event::parse_event(payload).map_err(ErrorEventError::InvalidEvent)?,
                EventKind::Feedback,
                payload.len(),
            )),
            _ => Ok((
                event::parse_event(payload).map_err(ErrorEventError::InvalidEvent)?,
                EventKind::Error,
                payload.len(),
            )),
        };
    }
    let crash = unit.attachments.iter().find_map(|item| {
        item.attachment_type().filter(|ty| {
            ty.creates_event()
                && !matches!(
                    ty,
                    AttachmentType::EventPayload | AttachmentType::Breadcrumbs
                )
        })
    });
    if let Some(mut event) = unreal_event {
        // The archive's minidump / crash report names the crash like a plain one would.
        if let Some(crash_type) = crash {
            write_crash_placeholder(&mut event, crash_type);
        }
        return Ok((event::from_object(event), EventKind::Error, 0));
    }
    let payload_attachment = unit
        .attachments
        .iter()
        .find(|item| item.attachment_type() == Some(AttachmentType::EventPayload));
    let mut event = match payload_attachment {
        Some(item) => match rmp_serde::from_slice::<Value>(item.payload_slice()) {
            Ok(Value::Object(event)) => event,
            _ => return Err(ErrorEventError::InvalidMsgpack),
        },
        None => match form_data_event(&unit.form_data) {
            Some(event) => event,
            None => EventObject::new(),
        },
    };
    match crash {
        Some(crash_type) => write_crash_placeholder(&mut event, crash_type),
        None if payload_attachment.is_none() && unit.form_data.is_empty() => {
            return Err(ErrorEventError::NoEventPayload);
        }
        None => {}
    }
    let raw_size = payload_attachment.map_or(0, Item::len);
    Ok((event::from_object(event), EventKind::Error, raw_size))
}

/// A crash report becomes an event whose exception Sentry fills in from the attachment.
fn write_crash_placeholder(event: &mut EventObject, crash_type: AttachmentType) {
    let (exception_type, mechanism) = match crash_type {
        AttachmentType::Minidump => ("Minidump", "minidump"),
        AttachmentType::AppleCrashReport => ("AppleCrashReport", "applecrashreport"),
        AttachmentType::Prosperodump => ("Minidump", "minidump"),
        AttachmentType::NvidiaGpuDump => ("NvidiaGpuDump", "nvidia_gpu_dump"),
        _ => ("Crash", "crash"),
    };
    event.entry("platform").or_insert_with(|| "native".into());
    event.entry("level").or_insert_with(|| "fatal".into());
    if !event.contains_key("exception") {
        event.insert(
            "exception".into(),
            serde_json::json!({"values": [{
                "type": exception_type,
                "value": format!("Invalid {exception_type}"),
                "mechanism": {"type": mechanism, "handled": false, "synthetic": true},
            }]}),
        );
    }
}

/// `sentry[...]`-style form fields as an event (the minidump endpoint's form data).
fn form_data_event(form_data: &[Item]) -> Option<EventObject> {
    let item = form_data.first()?;
    let fields = decode_form_data(item.payload_slice())?;
    let mut event = EventObject::new();
    for (key, value) in fields {
        if key == "sentry" {
            if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&value) {
                event.extend(object);
            }
            continue;
        }
        let Some(path) = key.strip_prefix("sentry[") else {
            continue;
        };
        let segments: Vec<&str> = path.trim_end_matches(']').split("][").collect();
        insert_path(&mut event, &segments, value);
    }
    Some(event)
}

/// Decodes a `form_data` payload (`envelope.md` §4.2): entries of two length-prefixed UTF-8
/// strings, `u32le(len) key u32le(len) value`. `None` when the payload is truncated.
fn decode_form_data(mut payload: &[u8]) -> Option<Vec<(String, String)>> {
    fn next_string(payload: &mut &[u8]) -> Option<String> {
        let (length, rest) = payload.split_first_chunk::<4>()?;
        let length = usize::try_from(u32::from_le_bytes(*length)).ok()?;
        if rest.len() < length {
            return None;
        }
        let (bytes, rest) = rest.split_at(length);
        *payload = rest;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    let mut fields = Vec::new();
    while !payload.is_empty() {
        let key = next_string(&mut payload)?;
        let value = next_string(&mut payload)?;
        fields.push((key, value));
    }
    Some(fields)
}

fn insert_path(object: &mut EventObject, segments: &[&str], value: String) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        object.insert((*first).to_owned(), Value::String(value));
        return;
    }
    let entry = object
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(EventObject::new()));
    if let Value::Object(child) = entry {
        insert_path(child, rest, value);
    }
}

fn attachment_bytes(unit: &ErrorUnit, attachment_type: AttachmentType) -> usize {
    unit.attachments
        .iter()
        .filter(|item| item.attachment_type().unwrap_or_default() == attachment_type)
        .map(Item::len)
        .sum()
}

fn reject_unit(
    managed: &ManagedEnvelope,
    unit: &ErrorUnit,
    extra: Option<&Item>,
    error: &ErrorEventError,
) {
    reject_unit_with(managed, unit, extra, &error.outcome());
}

/// Rejects every item of the unit: the event counts once in its category, attachments and
/// user reports in theirs.
fn reject_unit_with(
    managed: &ManagedEnvelope,
    unit: &ErrorUnit,
    extra: Option<&Item>,
    outcome: &Outcome,
) {
    let has_event_item = unit.event_item.is_some() || extra.is_some();
    if let Some(item) = unit.event_item.iter().chain(extra).next() {
        managed.track_item_outcome(item, outcome);
    }
    if !has_event_item {
        managed.track(outcome.clone(), event_category(unit), 1);
    }
    for item in unit.attachments.iter().chain(&unit.user_reports) {
        managed.track_item_outcome(item, outcome);
    }
    // Form data is part of the event payload: its count is the event's.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for text in [key, value] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    #[test]
    fn form_data_is_length_prefixed() {
        let mut payload = entry("sentry[release]", "my-app@1.0");
        payload.extend(entry("sentry[tags][key]", "value"));
        payload.extend(entry("sentry", r#"{"environment":"prod"}"#));
        let mut item = Item::new(ItemType::FormData);
        item.set_payload(
            relay_protocol::envelope::ContentType::Text,
            Bytes::from(payload.clone()),
        );
        let event = form_data_event(&[item]).unwrap();
        assert_eq!(event["release"], "my-app@1.0");
        assert_eq!(event["tags"], serde_json::json!({"key": "value"}));
        assert_eq!(event["environment"], "prod");
        // A truncated payload carries no event data.
        assert_eq!(decode_form_data(&payload[..payload.len() - 1]), None);
        assert_eq!(decode_form_data(b""), Some(Vec::new()));
    }

    #[test]
    fn rejection_outcomes() {
        let reason = |error: ErrorEventError| error.outcome().reason().unwrap_or_default();
        assert_eq!(reason(ErrorEventError::InvalidMsgpack), "invalid_msgpack");
        assert_eq!(reason(ErrorEventError::NoEventPayload), "no_event_payload");
        assert_eq!(reason(ErrorEventError::MissingEventId), "invalid_event_id");
        assert_eq!(
            reason(ErrorEventError::InvalidEvent(DiscardReason::InvalidJson)),
            "invalid_json"
        );
        assert_eq!(
            reason(UnrealError::Malformed("x").into()),
            "invalid_unreal_report"
        );
        assert_eq!(
            reason(UnrealError::TooLarge(1).into()),
            "too_large:unreal_report"
        );
        let unsupported = ErrorEventError::from(SecurityReportError::Unsupported).outcome();
        assert_eq!(unsupported.name(), "filtered");
        assert_eq!(unsupported.reason().as_deref(), Some("invalid-csp"));
    }
}
