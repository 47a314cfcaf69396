//! [`ManagedEnvelope`]: an envelope whose fate is accounted for.
//!
//! From the moment an endpoint has parsed an envelope it is wrapped here. It leaves relay in
//! exactly one of two ways: [`ManagedEnvelope::accept`] (delivered, or handed to an upstream
//! that owns its outcomes) or [`ManagedEnvelope::reject`] (one outcome per category of every
//! item). Dropping it any other way is a bug; the drop guard then records `invalid/internal`
//! outcomes and logs an error, so nothing is ever lost silently.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use relay_protocol::envelope::{Envelope, Item};
use relay_protocol::ProjectId;
use relay_quotas::Scoping;

use crate::services::outcome::{DiscardReason, Outcome, OutcomeHandle, TrackOutcome};
use crate::utils::budget::BufferPermit;

/// An envelope plus everything needed to deliver or account for it.
pub struct ManagedEnvelope {
    envelope: Envelope,
    scoping: Scoping,
    received_at: DateTime<Utc>,
    remote_addr: Option<IpAddr>,
    outcomes: OutcomeHandle,
    permit: Option<BufferPermit>,
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
        self.permit = Some(permit);
    }

    /// Whether the permit is attached.
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
        self.outcomes.track(TrackOutcome {
            timestamp: self.received_at,
            scoping: self.scoping.clone(),
            outcome,
            event_id: self.envelope.event_id(),
            remote_addr: self.remote_addr,
            category,
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
        });
    }

    /// Removes items for which `keep` returns false, recording `outcome` for each.
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
