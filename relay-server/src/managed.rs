//! [`ManagedEnvelope`]: an envelope whose fate is accounted for.
//!
//! From the moment an endpoint has parsed an envelope it is wrapped here. It leaves relay in
//! exactly one of two ways: [`ManagedEnvelope::accept`] (delivered, or handed to an upstream
//! that owns its outcomes) or [`ManagedEnvelope::reject`] (one outcome per category of every
//! item). Dropping it any other way is a bug; the drop guard then records `invalid/internal`
//! outcomes and logs an error, so nothing is ever lost silently.
//!
//! [`ManagedEnvelope::split_by`] turns one managed envelope into several (managed mode sends
//! one envelope per product, relay-protocol.md §8.2). Every item moves into exactly one part
//! and each part is accounted for on its own, so the invariant holds per part. The parts
//! *share* the buffer permit of the original: the bytes and the buffer slot the request
//! reserved are given back when the last part is settled. Holding the whole reservation a
//! little longer than strictly needed never under-counts memory, and a split can never fail
//! for lack of budget after the request was already accepted.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use relay_protocol::envelope::{Envelope, Item};
use relay_protocol::ProjectId;
use relay_quotas::Scoping;

use crate::outcome::{DiscardReason, Outcome, OutcomeHandle, TrackOutcome};
use crate::utils::budget::BufferPermit;

/// What the project checks (http-api.md §3.6) need to know about the request an envelope
/// came with. It travels with the envelope while it waits for its project's state.
#[derive(Clone, Debug)]
pub struct RequestChecks {
    /// Project id from the URL, if the route has one.
    pub request_project_id: Option<relay_protocol::ProjectId>,
    /// The DSN public key the request authenticated with.
    pub public_key: relay_protocol::ProjectKey,
    /// `Origin` (or `Referer`) of a browser request, checked against `allowedDomains`.
    pub origin: Option<url::Url>,
    /// `required_features` of the envelope header.
    pub required_features: Vec<String>,
    /// `X-Sentry-Relay-Signature`, if sent.
    pub relay_signature: Option<String>,
    /// The request carries the id of an internal static relay.
    pub trusted: bool,
    /// When relay received the request, for the signature's age.
    pub received_at: DateTime<Utc>,
}

/// An envelope plus everything needed to deliver or account for it.
pub struct ManagedEnvelope {
    envelope: Envelope,
    scoping: Scoping,
    received_at: DateTime<Utc>,
    remote_addr: Option<IpAddr>,
    outcomes: OutcomeHandle,
    /// Shared by all parts of a split envelope; released when the last part is dropped.
    permit: Option<Arc<BufferPermit>>,
    /// Set once accepted or rejected; the drop guard checks it.
    settled: bool,
}

impl ManagedEnvelope {
    pub fn new(
        envelope: Envelope,
        scoping: Scoping,
        received_at: DateTime<Utc>,
        remote_addr: Option<IpAddr>,
        outcomes: OutcomeHandle,
    ) -> ManagedEnvelope {
        ManagedEnvelope {
            envelope,
            scoping,
            received_at,
            remote_addr,
            outcomes,
            permit: None,
            settled: false,
        }
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    pub fn envelope_mut(&mut self) -> &mut Envelope {
        &mut self.envelope
    }

    pub fn scoping(&self) -> &Scoping {
        &self.scoping
    }

    /// Updates the scoping once the project config is known.
    pub fn set_scoping(&mut self, scoping: Scoping) {
        self.scoping = scoping;
    }

    /// The project id the envelope is sent to upstream; 0 for legacy store requests without
    /// one (relay-protocol.md §8.1).
    pub fn project_id(&self) -> ProjectId {
        self.scoping.project_id.unwrap_or(ProjectId(0))
    }

    pub fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    /// Attaches the buffer permit that holds this envelope's memory.
    pub fn set_permit(&mut self, permit: BufferPermit) {
        self.permit = Some(Arc::new(permit));
    }

    /// Whether the permit is attached.
    #[cfg(test)]
    pub fn has_permit(&self) -> bool {
        self.permit.is_some()
    }

    /// Records one outcome for every category of `item`.
    pub fn track_item_outcome(&self, item: &Item, outcome: &Outcome) {
        for (category, quantity) in item.quantities() {
            self.track(outcome.clone(), category, quantity);
        }
    }

    /// Records an outcome for an arbitrary category and quantity (e.g. from rate limiting).
    pub fn track(&self, outcome: Outcome, category: relay_protocol::DataCategory, quantity: usize) {
        self.track_at(self.received_at, outcome, category, quantity);
    }

    /// Records an outcome with its own timestamp instead of the receive time (client report
    /// entries carry the time the SDK dropped the data, outcomes.md §4.1).
    pub fn track_at(
        &self,
        timestamp: DateTime<Utc>,
        outcome: Outcome,
        category: relay_protocol::DataCategory,
        quantity: usize,
    ) {
        self.outcomes.track(TrackOutcome {
            timestamp,
            scoping: self.scoping.clone(),
            outcome,
            event_id: self.envelope.event_id(),
            remote_addr: self.remote_addr,
            category,
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
        });
    }

    /// A detached handle that records outcomes in this envelope's accounting context after
    /// its items were taken out (e.g. when a Kafka delivery fails later).
    #[cfg(feature = "processing")]
    pub fn tracker(&self) -> OutcomeTracker {
        OutcomeTracker {
            outcomes: self.outcomes.clone(),
            scoping: self.scoping.clone(),
            received_at: self.received_at,
            event_id: self.envelope.event_id(),
            remote_addr: self.remote_addr,
        }
    }

    /// The buffer permit, shared: whoever holds a clone keeps the envelope's memory reserved
    /// (processing holds it until Kafka acknowledged the messages).
    #[cfg(feature = "processing")]
    pub fn shared_permit(&self) -> Option<Arc<BufferPermit>> {
        self.permit.clone()
    }

    /// The client address the envelope came from (`remote_addr` of the request).
    pub fn remote_addr(&self) -> Option<IpAddr> {
        self.remote_addr
    }

    /// Removes items for which `keep` returns false, recording `outcome` for each.
    #[cfg(feature = "processing")]
    pub fn retain_items(&mut self, mut keep: impl FnMut(&Item) -> bool, outcome: Outcome) {
        let mut dropped = Vec::new();
        self.envelope.retain_items(|item| {
            if keep(item) {
                return true;
            }
            dropped.push(item.clone());
            false
        });
        for item in &dropped {
            self.track_item_outcome(item, &outcome);
        }
    }

    /// Removes every item for which `take` returns true and hands them to the caller, who
    /// becomes responsible for their fate (e.g. client reports turned into outcomes).
    pub fn take_items_where(&mut self, mut take: impl FnMut(&Item) -> bool) -> Vec<Item> {
        let mut taken = Vec::new();
        self.envelope.retain_items(|item| {
            if !take(item) {
                return true;
            }
            taken.push(item.clone());
            false
        });
        taken
    }

    /// Takes every item for which `take` returns true and hands the first to the caller; the
    /// others are rejected with `extra_outcome` (kinds of which only one item is processed,
    /// `duplicate_item` of `processing.md` §2, `profiling_too_many_profiles` of §3.2 step 1).
    #[cfg(feature = "processing")]
    pub fn take_first_where(
        &mut self,
        take: impl FnMut(&Item) -> bool,
        extra_outcome: Outcome,
    ) -> Option<Item> {
        let mut taken = self.take_items_where(take).into_iter();
        let first = taken.next()?;
        for extra in taken {
            self.track_item_outcome(&extra, &extra_outcome);
        }
        Some(first)
    }

    /// Splits the envelope into one part per distinct key: `keys[i]` is the key of item `i`.
    ///
    /// Parts are ordered by the first item of each key and keep the items' order; each part
    /// carries the original envelope headers, scoping, receive time and client address, and
    /// shares the buffer permit. A single key (or a `keys` slice that does not match the
    /// items, which is a caller bug and logged) returns the envelope unchanged.
    pub fn split_by<K: PartialEq>(mut self, keys: &[K]) -> Vec<ManagedEnvelope> {
        if keys.len() != self.envelope.len() {
            tracing::error!(
                keys = keys.len(),
                items = self.envelope.len(),
                "envelope split keys do not match its items, not splitting"
            );
            return vec![self];
        }
        let mut distinct: Vec<&K> = Vec::new();
        let mut part_of_item = Vec::with_capacity(keys.len());
        for key in keys {
            let index = match distinct.iter().position(|known| *known == key) {
                Some(index) => index,
                None => {
                    distinct.push(key);
                    distinct.len() - 1
                }
            };
            part_of_item.push(index);
        }
        if distinct.len() <= 1 {
            return vec![self];
        }
        let mut parts: Vec<ManagedEnvelope> =
            (0..distinct.len()).map(|_| self.empty_part()).collect();
        for (item, part) in self.envelope.take_items().into_iter().zip(part_of_item) {
            parts[part].envelope.add_item(item);
        }
        // Every item lives in a part now; the emptied original needs no outcome.
        self.settled = true;
        parts
    }

    /// A new, empty envelope with this one's headers and accounting context.
    fn empty_part(&self) -> ManagedEnvelope {
        ManagedEnvelope {
            envelope: Envelope::new(self.envelope.headers().clone()),
            scoping: self.scoping.clone(),
            received_at: self.received_at,
            remote_addr: self.remote_addr,
            outcomes: self.outcomes.clone(),
            permit: self.permit.clone(),
            settled: false,
        }
    }

    /// The envelope was delivered (or is owned by the upstream now): no outcome.
    pub fn accept(mut self) {
        self.settled = true;
    }

    /// Drops the envelope, recording `outcome` for every item.
    pub fn reject(mut self, outcome: Outcome) {
        self.settled = true;
        for item in self.envelope.items() {
            self.track_item_outcome(item, &outcome);
        }
    }
}

/// Records outcomes for data that left a [`ManagedEnvelope`] (see [`ManagedEnvelope::tracker`]).
#[cfg(feature = "processing")]
#[derive(Clone)]
pub struct OutcomeTracker {
    outcomes: OutcomeHandle,
    scoping: Scoping,
    received_at: DateTime<Utc>,
    event_id: Option<relay_protocol::EventId>,
    remote_addr: Option<IpAddr>,
}

#[cfg(feature = "processing")]
impl OutcomeTracker {
    /// Records `outcome` for `quantity` of `category`, timestamped with the receive time.
    pub fn track(&self, outcome: Outcome, category: relay_protocol::DataCategory, quantity: usize) {
        self.outcomes.track(TrackOutcome {
            timestamp: self.received_at,
            scoping: self.scoping.clone(),
            outcome,
            event_id: self.event_id,
            remote_addr: self.remote_addr,
            category,
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
        });
    }
}

impl Drop for ManagedEnvelope {
    fn drop(&mut self) {
        if self.settled || self.envelope.is_empty() {
            return;
        }
        tracing::error!(
            project_key = %self.scoping.project_key,
            items = self.envelope.len(),
            "envelope dropped without outcome, recording internal error"
        );
        let outcome = Outcome::Invalid(DiscardReason::Internal);
        for item in self.envelope.items() {
            self.track_item_outcome(item, &outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_protocol::envelope::ItemType;
    use relay_protocol::{DataCategory, ProjectKey};

    use super::*;
    use crate::outcome::OutcomeHandle;
    use crate::utils::budget::MemoryBudget;

    fn item(ty: ItemType) -> Item {
        crate::testutils::json_item(ty, "{}")
    }

    fn managed(items: Vec<Item>, outcomes: OutcomeHandle) -> ManagedEnvelope {
        let mut envelope = Envelope::new(Default::default());
        envelope.headers_mut().client = Some("sdk/1.0".into());
        for item in items {
            envelope.add_item(item);
        }
        let scoping = Scoping {
            organization_id: Some(1),
            project_id: Some(ProjectId(42)),
            project_key: ProjectKey::parse("31a5a894b4524f74a9a8d0e27e21ba91").unwrap(),
            key_id: None,
        };
        ManagedEnvelope::new(envelope, scoping, Utc::now(), None, outcomes)
    }

    fn drain(receiver: &mut tokio::sync::mpsc::Receiver<TrackOutcome>) -> Vec<TrackOutcome> {
        let mut tracked = Vec::new();
        while let Ok(outcome) = receiver.try_recv() {
            tracked.push(outcome);
        }
        tracked
    }

    #[test]
    fn split_moves_every_item_into_one_part_with_the_original_headers() {
        let (outcomes, mut receiver) = OutcomeHandle::capturing();
        let envelope = managed(
            vec![
                item(ItemType::Event),
                item(ItemType::Session),
                item(ItemType::Attachment),
                item(ItemType::CheckIn),
            ],
            outcomes,
        );
        let headers = envelope.envelope().headers().clone();
        let parts = envelope.split_by(&["a", "b", "a", "c"]);
        let types: Vec<Vec<String>> = parts
            .iter()
            .map(|part| {
                part.envelope()
                    .items()
                    .iter()
                    .map(|item| item.ty().name().to_owned())
                    .collect()
            })
            .collect();
        assert_eq!(
            types,
            vec![
                vec!["event".to_owned(), "attachment".to_owned()],
                vec!["session".to_owned()],
                vec!["check_in".to_owned()],
            ]
        );
        for part in &parts {
            assert_eq!(part.envelope().headers(), &headers);
            assert_eq!(part.project_id(), ProjectId(42));
        }
        // The emptied original recorded nothing.
        assert!(drain(&mut receiver).is_empty());

        // Each part is accounted for on its own.
        let mut parts = parts.into_iter();
        parts.next().unwrap().accept();
        parts
            .next()
            .unwrap()
            .reject(Outcome::Invalid(DiscardReason::Timestamp));
        drop(parts.next().unwrap());
        let tracked = drain(&mut receiver);
        let summary: Vec<(DataCategory, Outcome)> = tracked
            .into_iter()
            .map(|outcome| (outcome.category, outcome.outcome))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    DataCategory::Session,
                    Outcome::Invalid(DiscardReason::Timestamp)
                ),
                (
                    DataCategory::Monitor,
                    Outcome::Invalid(DiscardReason::Internal)
                ),
            ]
        );
    }

    #[test]
    fn single_group_or_mismatched_keys_leave_the_envelope_whole() {
        let envelope = managed(
            vec![item(ItemType::Event), item(ItemType::Attachment)],
            OutcomeHandle::disabled(),
        );
        let mut parts = envelope.split_by(&[1, 1]);
        assert_eq!(parts.len(), 1);
        let envelope = parts.remove(0);
        assert_eq!(envelope.envelope().len(), 2);
        let mut parts = envelope.split_by(&[1]);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].envelope().len(), 2);
        parts.remove(0).accept();
    }

    #[test]
    fn parts_share_the_permit_until_the_last_is_settled() {
        let budget = MemoryBudget::new(1_000, 10);
        let mut envelope = managed(
            vec![item(ItemType::Event), item(ItemType::Session)],
            OutcomeHandle::disabled(),
        );
        envelope.set_permit(budget.try_reserve(100).unwrap());
        let mut parts = envelope.split_by(&[0, 1]).into_iter();
        let first = parts.next().unwrap();
        let second = parts.next().unwrap();
        assert!(first.has_permit() && second.has_permit());
        assert_eq!((budget.used_bytes(), budget.used_envelopes()), (100, 1));
        first.accept();
        assert_eq!(budget.used_bytes(), 100);
        second.accept();
        assert_eq!((budget.used_bytes(), budget.used_envelopes()), (0, 0));
    }

    #[test]
    fn track_at_uses_the_given_timestamp_and_take_items_where_hands_items_over() {
        let (outcomes, mut receiver) = OutcomeHandle::capturing();
        let mut envelope = managed(
            vec![item(ItemType::ClientReport), item(ItemType::Event)],
            outcomes,
        );
        let taken = envelope.take_items_where(|item| *item.ty() == ItemType::ClientReport);
        assert_eq!(taken.len(), 1);
        assert_eq!(envelope.envelope().len(), 1);
        let timestamp = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        envelope.track_at(
            timestamp,
            Outcome::ClientDiscard("queue_overflow".into()),
            DataCategory::Error,
            2,
        );
        envelope.accept();
        let tracked = drain(&mut receiver);
        assert_eq!(tracked.len(), 1);
        assert_eq!(tracked[0].timestamp, timestamp);
        assert_eq!(tracked[0].quantity, 2);
    }
}
