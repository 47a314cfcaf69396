//! The contexts that the server derives from the trace's dynamic sampling context (DSC):
//! the replay context (normalization.md §7 step 23) and the client sample rate (step 29).
//!
//! Both overwrite what the event sent, meta included (StoreNormalizer 0.10.1):
//!
//! * with a replay id, `contexts.replay` becomes `{"replay_id": <id>}` (other attributes and
//!   a previous id are dropped); without one it is left alone;
//! * `contexts.trace.client_sample_rate` becomes the configured rate, or is cleared without
//!   one (an invalid sent value loses its error, too). Only a trace context is touched; by
//!   step 29 step 25 has created it for non-transactions, and transactions need one.

use relay_event::schema::contexts::ReplayContext;
use relay_event::schema::{Context, Contexts, Event, EventId};
use relay_event::Annotated;

/// Step 23.
pub fn normalize_replay_context(event: &mut Event, replay_id: Option<EventId>) {
    let Some(replay_id) = replay_id else {
        return;
    };
    let contexts = event.contexts.get_or_insert_with(Contexts::default);
    let replay = ReplayContext {
        replay_id: Annotated::new(replay_id),
        ..ReplayContext::default()
    };
    contexts.0.insert(
        "replay".to_owned(),
        Annotated::new(Context::Replay(Box::new(replay))),
    );
}

/// Step 29.
pub fn normalize_client_sample_rate(event: &mut Event, client_sample_rate: Option<f64>) {
    let trace = event
        .contexts
        .value_mut()
        .as_mut()
        .and_then(Contexts::trace_mut);
    if let Some(trace) = trace {
        trace.client_sample_rate = Annotated(client_sample_rate, Default::default());
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(
        input: serde_json::Value,
        replay_id: Option<&str>,
        rate: Option<f64>,
    ) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        let replay_id = replay_id.map(|id| EventId(id.parse().unwrap()));
        if let Some(event) = event.value_mut() {
            normalize_replay_context(event, replay_id);
            normalize_client_sample_rate(event, rate);
        }
        to_json(&event).unwrap()
    }

    const ID: &str = "52df9022-8352-46ee-b317-dbd739ccd059";

    #[test]
    fn replay_context_replaces_what_was_sent() {
        // StoreNormalizer 0.10.1 outputs.
        let replay = json!({"replay": {"replay_id": "52df9022835246eeb317dbd739ccd059",
            "type": "replay"}});
        assert_eq!(run(json!({}), Some(ID), None), json!({"contexts": replay}));
        let input = json!({"contexts": {"replay": {"replay_id": "a".repeat(32), "x": 1}}});
        assert_eq!(run(input, Some(ID), None), json!({"contexts": replay}));
        let input = json!({"contexts": {"replay": "bad"}});
        assert_eq!(run(input, Some(ID), None), json!({"contexts": replay}));
        let input = json!({"contexts": {"replay": {"replay_id": "a".repeat(32)}}});
        assert_eq!(
            run(input.clone(), None, None)["contexts"]["replay"]["replay_id"],
            json!("a".repeat(32))
        );
    }

    #[test]
    fn client_sample_rate_is_set_or_cleared() {
        let trace = |rate: serde_json::Value| {
            json!({"contexts": {"trace": {
            "client_sample_rate": rate}}})
        };
        assert_eq!(
            run(trace(json!(0.1)), None, Some(0.5)),
            json!({"contexts": {"trace": {"client_sample_rate": 0.5, "type": "trace"}}})
        );
        assert_eq!(
            run(trace(json!(0.1)), None, None),
            json!({"contexts": {"trace": {"type": "trace"}}})
        );
        // The error of an invalid value goes with it.
        assert_eq!(
            run(trace(json!("x")), None, None),
            json!({"contexts": {"trace": {"type": "trace"}}})
        );
        // No trace context: nothing to set.
        assert_eq!(run(json!({}), None, Some(0.5)), json!({}));
    }
}
