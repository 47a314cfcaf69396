//! [`EventId`]: a UUID, parsed leniently and written as 32 lower-case hex digits
//! (normalization.md §2).
//!
//! Any UUID text form is accepted (simple, hyphenated, braced, `urn:uuid:`), in any case. An
//! unparseable string is `invalid_data` with the UUID parser's message (e.g. ``invalid
//! character: found `n` at 0``), other types `expected event id`; the original is kept.

use uuid::Uuid;

use crate::{invalid_type, Annotated, Error, FromValue, Value};

/// The id of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A new random id.
    pub fn new() -> Self {
        EventId(Uuid::new_v4())
    }

    /// The output form: 32 lower-case hex digits.
    pub fn as_simple(&self) -> String {
        self.0.simple().to_string()
    }
}

impl Default for EventId {
    fn default() -> Self {
        EventId::new()
    }
}

impl FromValue for EventId {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::String(text)), mut meta) => match Uuid::parse_str(&text) {
                Ok(uuid) => Annotated(Some(EventId(uuid)), meta),
                Err(err) => {
                    meta.add_error(Error::invalid(err.to_string()));
                    meta.set_original_value(Some(Value::String(text)));
                    Annotated(None, meta)
                }
            },
            Annotated(Some(other), meta) => invalid_type(other, meta, "event id"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

impl crate::IntoValue for EventId {
    // A leaf: no children, so no child meta (and no map built to find out).
    fn has_child_meta(&self) -> bool {
        false
    }

    fn into_value(self) -> Value {
        Value::String(self.as_simple())
    }

    fn serialize_payload<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_simple())
    }
}

impl crate::ProcessValue for EventId {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::annotated_from_json;

    fn parse(json: serde_json::Value) -> Annotated<EventId> {
        EventId::from_value(annotated_from_json(json))
    }

    #[test]
    fn all_uuid_forms_become_simple_lower_case() {
        let simple = "52df9022835246eeb317dbd739ccd059";
        for input in [
            "52df9022835246eeb317dbd739ccd059",
            "52DF9022-8352-46EE-B317-DBD739CCD059",
            "{52df9022-8352-46ee-b317-dbd739ccd059}",
            "urn:uuid:52df9022-8352-46ee-b317-dbd739ccd059",
        ] {
            assert_eq!(
                parse(json!(input)).0.map(|id| id.as_simple()).as_deref(),
                Some(simple)
            );
        }
    }

    #[test]
    fn invalid_ids_keep_the_original() {
        let Annotated(value, meta) = parse(json!("nope"));
        assert!(value.is_none());
        assert!(meta.has_errors());
        assert_eq!(meta.original_value(), Some(&Value::from("nope")));

        let Annotated(value, meta) = parse(json!(42));
        assert!(value.is_none());
        assert_eq!(
            meta.errors()[0].get("reason"),
            Some(&Value::from("expected event id"))
        );
    }
}
