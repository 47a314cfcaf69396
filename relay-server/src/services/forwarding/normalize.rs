//! Event normalization before forwarding (managed relays, `normalization.md` §1.1 last
//! paragraph, `config.md` §4.8 `normalization.level`).
//!
//! Every item whose payload is event JSON (`event`, `transaction`, `security`, `feedback`) is
//! parsed into the event model, normalized at the relay's depth and written back. With the
//! default level the forward-compatible subset runs (no removal of unknown attributes, no
//! `errors` list: the upstream normalizes again); with `full` everything runs and the item is
//! marked `fully_normalized` so a processing relay that trusts this one can skip the work.
//! A managed relay also records itself in the event's `ingest_path` (`processing.md` §3.1).
//!
//! Invariant: an envelope part either comes back with every event item normalized, or is
//! rejected as a whole with the outcome of the first event that could not be (its
//! attachments and user reports belong to that event and cannot travel without it).

use relay_config::Config;
use relay_event::schema::{Event, EventType, IngestPathEntry};
use relay_event::Annotated;
use relay_protocol::envelope::{Item, ItemType};

use crate::managed::ManagedEnvelope;
use crate::outcome::Outcome;
use crate::services::normalization::{
    self, NormalizationDepth, NormalizationResources, RequestFacts,
};
use crate::services::projects::ProjectState;
use crate::RELAY_VERSION;

/// Whether the item's payload is an event this relay normalizes.
pub fn carries_event_json(item: &Item) -> bool {
    matches!(
        item.ty(),
        ItemType::Event | ItemType::Transaction | ItemType::Security | ItemType::Feedback
    )
}

/// Whether any item of the envelope needs normalization (only those go to the worker pool).
pub fn needs_normalization(managed: &ManagedEnvelope) -> bool {
    managed
        .envelope()
        .items()
        .iter()
        .any(|item| carries_event_json(item) && !item.fully_normalized())
}

/// Normalizes every event item of `managed` in place (see the module docs); `Err` is the
/// outcome the whole part is rejected with.
pub fn normalize_event_items(
    managed: &mut ManagedEnvelope,
    project: &ProjectState,
    config: &Config,
    resources: &NormalizationResources,
) -> Result<(), Outcome> {
    let depth = NormalizationDepth::of(config);
    let headers = managed.envelope().headers();
    let request = RequestFacts {
        headers,
        received_at: managed.received_at(),
        client_addr: headers.remote_addr.or(managed.remote_addr()),
        scoping: managed.scoping(),
    };
    let normalization_config =
        normalization::normalization_config(config, resources, project, &request, depth);
    let own_entry = config.credentials().map(|credentials| IngestPathEntry {
        version: Annotated::new(RELAY_VERSION.to_owned()),
        public_key: Annotated::new(credentials.public_key.to_string()),
        ..IngestPathEntry::default()
    });

    for item in managed.envelope_mut().items_mut() {
        if !carries_event_json(item) || item.fully_normalized() {
            continue;
        }
        let mut event =
            normalization::parse_event(item.payload_slice()).map_err(Outcome::Invalid)?;
        if let Some(event) = event.value_mut() {
            force_item_type(event, item.ty());
        }
        normalization::normalize_event(&mut event, &normalization_config)
            .map_err(Outcome::Invalid)?;
        if let (Some(event), Some(entry)) = (event.value_mut(), &own_entry) {
            event
                .ingest_path
                .get_or_insert_with(Vec::new)
                .push(Annotated::new(entry.clone()));
        }
        let payload = normalization::serialize_event(&event).map_err(Outcome::Invalid)?;
        item.set_payload_keep_content_type(payload);
        if depth == NormalizationDepth::Full {
            item.set_fully_normalized(true);
        }
    }
    Ok(())
}

/// The event type the carrier dictates (`processing.md` §3.1–§3.2); the others are inferred by
/// normalization (`normalization.md` §7.8).
fn force_item_type(event: &mut Event, item_type: &ItemType) {
    match item_type {
        ItemType::Transaction => event.ty = Annotated::new(EventType::Transaction),
        ItemType::Feedback => event.ty = Annotated::new(EventType::UserReportV2),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use relay_protocol::envelope::ItemType;
    use serde_json::{json, Value};

    use super::*;
    use crate::outcome::{DiscardReason, OutcomeHandle};
    use crate::testutils::{config, json_item, TestEnvelope, TestProject};

    fn run(yaml: &str, items: Vec<Item>) -> Result<Vec<(Value, bool)>, Outcome> {
        let mut managed = TestEnvelope::from_items(items).managed(OutcomeHandle::disabled());
        let project = TestProject::new().build();
        normalize_event_items(
            &mut managed,
            &project,
            &config(yaml),
            &NormalizationResources::default(),
        )?;
        let items = managed
            .envelope()
            .items()
            .iter()
            .map(|item| {
                let payload = serde_json::from_slice(item.payload_slice()).unwrap();
                (payload, item.fully_normalized())
            })
            .collect();
        managed.accept();
        Ok(items)
    }

    #[test]
    fn default_level_keeps_unknown_attributes_and_writes_no_errors() {
        let items = run(
            "",
            vec![json_item(
                ItemType::Event,
                r#"{"message": "hi", "level": "bogus", "unknown_key": 1}"#,
            )],
        )
        .unwrap();
        let (event, fully_normalized) = &items[0];
        assert!(!fully_normalized);
        assert_eq!(event["logentry"], json!({"formatted": "hi"}));
        assert_eq!(event["unknown_key"], json!(1));
        assert!(event.get("errors").is_none());
        assert!(event["_meta"]["level"][""]["err"].is_array());
        assert_eq!(event["level"], json!("error"));
    }

    #[test]
    fn full_level_removes_unknown_attributes_and_marks_the_item() {
        let items = run(
            "normalization:\n  level: full\n",
            vec![json_item(
                ItemType::Event,
                r#"{"message": "hi", "unknown_key": 1}"#,
            )],
        )
        .unwrap();
        let (event, fully_normalized) = &items[0];
        assert!(fully_normalized);
        // normalization.md §9: a top-level unknown attribute becomes null with an error.
        assert_eq!(event["unknown_key"], Value::Null);
        assert_eq!(event["errors"][0]["type"], json!("invalid_attribute"));
    }

    #[test]
    fn transactions_are_typed_and_invalid_ones_rejected() {
        let outcome = run(
            "",
            vec![json_item(
                ItemType::Transaction,
                r#"{"timestamp": 10, "start_timestamp": 20}"#,
            )],
        )
        .unwrap_err();
        assert_eq!(outcome, Outcome::Invalid(DiscardReason::InvalidTransaction));
        let outcome = run("", vec![json_item(ItemType::Event, "[1]")]).unwrap_err();
        assert_eq!(outcome, Outcome::Invalid(DiscardReason::InvalidJson));
    }

    #[test]
    fn other_items_and_already_normalized_events_are_untouched() {
        let mut normalized = json_item(ItemType::Event, r#"{"message": "x"}"#);
        normalized.set_fully_normalized(true);
        let session = json_item(ItemType::Session, r#"{"sid": "x"}"#);
        let items = run("", vec![normalized, session]).unwrap();
        assert_eq!(items[0].0, json!({"message": "x"}));
        assert_eq!(items[1].0, json!({"sid": "x"}));
    }
}
