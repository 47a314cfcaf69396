//! The shared stages of the processing skeleton (`processing.md` §2): normalization, inbound
//! filters, dynamic sampling, quotas and PII scrubbing. Every processor calls them in the
//! skeleton's order, so completing a stage changes this file only.
//!
//! Today: normalization is the full normalization of `normalization.md` on the typed event
//! model ([`super::event::normalize`]); inbound filters, dynamic sampling and PII scrubbing
//! keep everything; quotas are enforced from the cached rate limits before processing
//! (`processing.md` §1.4) and Redis quotas are not consulted yet.

use relay_event::schema::{Event, Replay};
use relay_event::Annotated;

use super::event::{self, EventKind};
use super::ProcessingContext;
use crate::outcome::{DiscardReason, Outcome};

/// Normalizes an event (`normalization.md`); `Err` rejects it with `invalid/<reason>`.
/// `fully_normalized` is the item header of the event's carrier.
pub fn normalize_event(
    context: &ProcessingContext,
    event: &mut Annotated<Event>,
    kind: EventKind,
    fully_normalized: bool,
) -> Result<(), DiscardReason> {
    event::normalize(context, event, kind, fully_normalized)
}

/// Inbound filters (`processing.md` §4, `filters.md`): `Err` carries the `filtered` outcome.
pub fn filter_event(
    _context: &ProcessingContext,
    _event: &Annotated<Event>,
) -> Result<(), Outcome> {
    Ok(())
}

/// PII scrubbing of an event (`pii.md`).
pub fn scrub_event(_context: &ProcessingContext, _event: &mut Annotated<Event>) {}

/// Inbound filters of a replay event (`processing.md` §3.7): `Err` carries the `filtered`
/// outcome.
pub fn filter_replay_event(
    _context: &ProcessingContext,
    _replay: &Annotated<Replay>,
) -> Result<(), Outcome> {
    Ok(())
}

/// PII scrubbing of a replay event (`pii.md`).
pub fn scrub_replay_event(_context: &ProcessingContext, _replay: &mut Annotated<Replay>) {}
