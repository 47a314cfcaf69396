//! The validation half of normalization (normalization.md §1, §3): the steps before the
//! normalization proper, and the only ones that may reject an event.
//!
//! [`validate_event`] runs, in this order: past/future timestamps and `received` (§4.2,
//! [`normalize_timestamps`]), the stale-timestamp check (§4.3, [`check_stale_timestamps`]) and
//! the transaction checks (§5, [`validate_transaction`]). The clock drift correction from the
//! envelope's `sent_at` (§4.1) comes before it and is not part of validation.

use relay_event::schema::Event;
use relay_event::{Annotated, ProcessingAction, Timestamp};

use crate::timestamps::{check_stale_timestamps, normalize_timestamps};
use crate::transaction_validation::{validate_transaction, TimestampRange};

/// The knobs of validation (normalization.md §1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationConfig {
    /// When the event was received.
    pub received_at: Timestamp,
    /// The oldest accepted event timestamp, in seconds before `received_at`; `None`: no limit.
    pub max_secs_in_past: Option<u64>,
    /// The latest accepted event timestamp, in seconds after `received_at`; `None`: no limit.
    pub max_secs_in_future: Option<u64>,
    /// The range `[start, end)` transaction timestamps must fall into; `None`: no range.
    pub transaction_range: Option<TimestampRange>,
}

/// Validates `event` (see the module docs); `Err` with
/// [`ProcessingAction::InvalidTransaction`] rejects it.
pub fn validate_event(
    event: &mut Annotated<Event>,
    config: &ValidationConfig,
) -> Result<(), ProcessingAction> {
    normalize_timestamps(
        event,
        config.received_at,
        config.max_secs_in_past,
        config.max_secs_in_future,
    );
    check_stale_timestamps(event)?;
    validate_transaction(event, config.transaction_range)
}
