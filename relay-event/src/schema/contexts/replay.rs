//! [`ReplayContext`] (`type: replay`): the session replay the event belongs to.

use super::super::EventId;
use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Replay information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct ReplayContext {
    /// The id of the replay.
    pub replay_id: Annotated<EventId>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn replay_id_is_an_event_id() {
        let replay: Annotated<ReplayContext> =
            from_json(json!({"replay_id": "52DF9022-8352-46EE-B317-DBD739CCD059"}));
        assert_eq!(
            to_json(&replay).ok(),
            Some(json!({"replay_id": "52df9022835246eeb317dbd739ccd059"}))
        );
        let replay: Annotated<ReplayContext> = from_json(json!({"replay_id": "nope"}));
        let output = to_json(&replay).unwrap_or_default();
        assert_eq!(output["_meta"]["replay_id"][""]["val"], "nope");
    }
}
