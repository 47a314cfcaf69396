//! The shared stages of the processing skeleton (`processing.md` §2): normalization, inbound
//! filters, dynamic sampling, quotas and PII scrubbing. Every processor calls them in the
//! skeleton's order, so completing a stage changes this file only.
//!
//! Today: normalization is the light normalization of [`super::event`]; inbound filters,
//! dynamic sampling and PII scrubbing keep everything; quotas are enforced from the cached
//! rate limits before processing (`processing.md` §1.4) and Redis quotas are not consulted yet.

use super::event::{self, EventKind, EventObject};
use super::ProcessingContext;
use crate::outcome::Outcome;

/// Normalizes an event (`normalization.md`).
pub fn normalize_event(context: &ProcessingContext, event: &mut EventObject, kind: EventKind) {
    event::normalize(context, event, kind);
}

/// Inbound filters (`processing.md` §4, `filters.md`): `Err` carries the `filtered` outcome.
pub fn filter_event(_context: &ProcessingContext, _event: &EventObject) -> Result<(), Outcome> {
    Ok(())
}

/// PII scrubbing of an event (`pii.md`).
pub fn scrub_event(_context: &ProcessingContext, _event: &mut EventObject) {}
