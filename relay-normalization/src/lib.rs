//! Event normalization (normalization.md): the normalization steps as [`Processor`]s over the
//! typed event model of `relay-event`.
//!
//! Every step is a pure transformation of an [`Annotated<Event>`]: no I/O, no server
//! dependency. What a step changes or rejects is recorded in the meta of the affected value
//! (`_meta` on output), never lost silently. [`normalize_event`] runs the implemented steps in
//! the order of normalization.md §3:
//!
//! | § | step | module | runs when |
//! |---|---|---|---|
//! | §6.2 | schema checks: `trim_whitespace`, `nonempty`, characters, `required` | [`schema`] | not renormalizing |
//! | §8.1, §8.2 | trimming: string limits and databag budgets | [`trimming`] | [`NormalizationConfig::enable_trimming`] |
//! | §9 | removal of unknown attributes | [`remove_other`] | [`NormalizationConfig::remove_other`] (default: not renormalizing) |
//! | §10.2 | the `errors` list | [`event_errors`] | [`NormalizationConfig::emit_event_errors`] (default: not renormalizing) |
//!
//! # Not implemented yet
//!
//! These steps of normalization.md are not part of this crate yet; [`normalize_event`] leaves
//! the event as they would find it:
//!
//! * clock-drift correction from the envelope's `sent_at` (§4.1) and the whole validation
//!   (§4.2 past/future timestamps, §4.3 stale timestamps, §5 transaction checks);
//! * legacy conversions (§6.1, `apple` debug images);
//! * the field normalization steps 1–29 of §7, among them transaction-name normalization
//!   (step 2), IP addresses (§7.1), GeoIP (step 5), release / environment validation, user,
//!   logentry (§7.2), tags (§7.3), stack frames (§7.4), exceptions (§7.5), device class
//!   (§7.6), user agent → contexts (§7.7), default attributes (§7.8), request (§7.9) and
//!   contexts (§7.10). In particular unknown `user` attributes are not moved into `user.data`
//!   yet, so removal of unknown attributes drops them;
//! * the stack-frame limits of §8.3 (frame count and frame-data slimming).
//!
//! The step modules can also be used on their own: each exposes its processor, to be run with
//! [`relay_event::process_value`] from [`ProcessingState::root`].

#![warn(missing_docs)]

pub mod event_errors;
pub mod remove_other;
pub mod schema;
pub mod trimming;

use relay_event::schema::Event;
use relay_event::{process_value, Annotated, ProcessingState, Processor};

pub use event_errors::{emit_event_errors, EventErrorsProcessor};
pub use remove_other::RemoveOtherProcessor;
pub use schema::SchemaProcessor;
pub use trimming::{trim_string, TrimmingProcessor};

/// The knobs of normalization (normalization.md §1.1) that the implemented steps use.
///
/// The knobs of the steps that are not implemented yet (received time, max age and future,
/// project id, client, key id, protocol version, grouping config, client IP, user-agent
/// normalization, client sample rate, replay id, span normalization, GeoIP; see the crate
/// docs) are not part of it yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalizationConfig {
    /// Renormalize an already normalized event (normalization.md §12): skips the schema
    /// checks and defaults [`Self::remove_other`] and [`Self::emit_event_errors`] to off.
    pub is_renormalize: bool,
    /// Cut strings and databags to their limits (normalization.md §8). Off by default, on in
    /// the server pipeline.
    pub enable_trimming: bool,
    /// Remove unknown attributes (normalization.md §9); `None` means `!is_renormalize`.
    pub remove_other: Option<bool>,
    /// Append the `errors` list (normalization.md §10.2); `None` means `!is_renormalize`.
    pub emit_event_errors: Option<bool>,
}

impl NormalizationConfig {
    /// Whether unknown attributes are removed.
    pub fn removes_other(&self) -> bool {
        self.remove_other.unwrap_or(!self.is_renormalize)
    }

    /// Whether the `errors` list is emitted.
    pub fn emits_event_errors(&self) -> bool {
        self.emit_event_errors.unwrap_or(!self.is_renormalize)
    }
}

/// Runs one processor over the whole event. The implemented steps never reject an event.
fn run<P: Processor>(event: &mut Annotated<Event>, processor: &mut P) {
    // Only `InvalidTransaction` is returned, which none of these processors produce.
    let _ = process_value(event, processor, &ProcessingState::root());
}

/// Normalizes `event` in place with the implemented steps, in the order of normalization.md
/// §3: schema checks (unless renormalizing), trimming (if enabled), removal of unknown
/// attributes (if enabled), the `errors` list (if enabled). Never rejects the event.
pub fn normalize_event(event: &mut Annotated<Event>, config: &NormalizationConfig) {
    if !config.is_renormalize {
        run(event, &mut SchemaProcessor);
    }
    if config.enable_trimming {
        run(event, &mut TrimmingProcessor::new());
    }
    if config.removes_other() {
        run(event, &mut RemoveOtherProcessor);
    }
    if config.emits_event_errors() {
        emit_event_errors(event);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn normalize(input: serde_json::Value, config: NormalizationConfig) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        normalize_event(&mut event, &config);
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn defaults_check_schema_remove_other_and_emit_errors() {
        assert_eq!(
            normalize(
                json!({"dist": "a b", "foo": "bar"}),
                NormalizationConfig::default()
            ),
            json!({"dist": null,
                "errors": [
                    {"type": "invalid_data", "name": "dist", "value": "a b",
                        "reason": "invalid character ' '"},
                    {"type": "invalid_attribute", "name": "foo"},
                ],
                "foo": null,
                "_meta": {
                    "dist": {"": {"err": [["invalid_data", {"reason": "invalid character ' '"}]],
                        "val": "a b"}},
                    "foo": {"": {"err": ["invalid_attribute"]}}}})
        );
    }

    #[test]
    fn renormalize_keeps_unknown_attributes_and_emits_nothing() {
        // §12: `{"foo": "x", "logentry": {"message": "m", "x": 1}}` is returned unchanged.
        let config = NormalizationConfig {
            is_renormalize: true,
            ..NormalizationConfig::default()
        };
        let input = json!({"logentry": {"message": "m", "x": 1}, "foo": "x"});
        assert_eq!(normalize(input.clone(), config), input);
        // Schema checks are skipped, too.
        let input = json!({"dist": "a b"});
        assert_eq!(normalize(input.clone(), config), input);
    }

    #[test]
    fn trimming_runs_only_when_enabled() {
        let input = json!({"culprit": "x".repeat(201)});
        let config = NormalizationConfig::default();
        assert_eq!(normalize(input.clone(), config), input);
        let config = NormalizationConfig {
            enable_trimming: true,
            ..config
        };
        assert_eq!(
            normalize(input, config)["_meta"]["culprit"][""]["len"],
            json!(201)
        );
    }

    #[test]
    fn explicit_switches_override_the_defaults() {
        let config = NormalizationConfig {
            remove_other: Some(false),
            emit_event_errors: Some(false),
            ..NormalizationConfig::default()
        };
        let input = json!({"foo": "bar", "release": ""});
        assert_eq!(
            normalize(input, config),
            json!({"release": null, "foo": "bar", "_meta": {"release": {"": {
                "err": [["invalid_data", {"reason": "expected a non-empty string"}]]}}}})
        );
    }
}
