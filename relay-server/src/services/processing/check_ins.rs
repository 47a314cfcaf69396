//! Check-ins (`processing.md` §3.8): the first `check_in` item is parsed, normalized and
//! produced as a `check_in` message on `ingest-monitors`, keyed by its routing hint; further
//! check-in items are duplicates.

use bytes::Bytes;
use relay_kafka::messages::{check_in_routing_hint, unix_seconds_or_now, CheckInMessage};
use relay_kafka::KafkaTopic;
use relay_protocol::envelope::ItemType;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};

/// Longest monitor slug; longer ones are truncated.
const MAX_MONITOR_SLUG_CHARS: usize = 50;
/// Longest valid environment name.
const MAX_ENVIRONMENT_CHARS: usize = 64;
/// Keys written first, in this order; the rest follow sorted.
const KNOWN_OPTIONAL_KEYS: [&str; 4] = ["environment", "duration", "monitor_config", "contexts"];

/// Why a check-in was rejected.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckInError {
    /// Not JSON, not an object, no `status`, or an unusable `check_in_id`.
    #[error("check-in is not valid JSON of the check-in shape")]
    InvalidJson,
    /// Empty slug or over-long environment.
    #[error("check-in fails normalization")]
    Invalid,
}

impl From<CheckInError> for DiscardReason {
    fn from(error: CheckInError) -> DiscardReason {
        match error {
            CheckInError::InvalidJson => DiscardReason::InvalidJson,
            CheckInError::Invalid => DiscardReason::InvalidCheckIn,
        }
    }
}

/// A normalized check-in: the payload and what its routing hint needs.
#[derive(Debug)]
pub struct NormalizedCheckIn {
    pub payload: Vec<u8>,
    pub monitor_slug: String,
    pub environment: Option<String>,
}

/// Runs the check-in processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let Some(check_in) = managed.take_first_where(
        |item| *item.ty() == ItemType::CheckIn,
        Outcome::Invalid(DiscardReason::DuplicateItem),
    ) else {
        return;
    };
    let normalized = match normalize_check_in(check_in.payload_slice()) {
        Ok(normalized) => normalized,
        Err(error) => {
            managed.track_item_outcome(&check_in, &Outcome::Invalid(error.into()));
            return;
        }
    };
    let routing_hint = check_in_routing_hint(
        context.project_id(),
        &normalized.monitor_slug,
        normalized.environment.as_deref(),
    );
    let message = CheckInMessage::new(
        context.organization_id(),
        context.project_id(),
        routing_hint,
        Bytes::from(normalized.payload),
        unix_seconds_or_now(context.received_at),
        context.client().map(str::to_owned),
        context.event_retention(),
    );
    if output
        .add_message(check_in.quantities(), KafkaTopic::Monitors, &message)
        .is_err()
    {
        managed.track_item_outcome(&check_in, &Outcome::Invalid(DiscardReason::Internal));
    }
}

/// Parses and normalizes a check-in payload (see the module docs of `processing.md` §3.8).
pub fn normalize_check_in(payload: &[u8]) -> Result<NormalizedCheckIn, CheckInError> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(payload) else {
        return Err(CheckInError::InvalidJson);
    };
    let status = match object.remove("status") {
        Some(Value::String(status)) => normalize_status(&status),
        _ => return Err(CheckInError::InvalidJson),
    };
    let check_in_id = match object.remove("check_in_id") {
        None | Some(Value::Null) => Uuid::nil(),
        Some(Value::String(id)) => Uuid::parse_str(&id).map_err(|_| CheckInError::InvalidJson)?,
        Some(_) => return Err(CheckInError::InvalidJson),
    };
    let monitor_slug: String = match object.remove("monitor_slug") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(slug)) => slug.chars().take(MAX_MONITOR_SLUG_CHARS).collect(),
        Some(_) => return Err(CheckInError::InvalidJson),
    };
    if monitor_slug.is_empty() {
        return Err(CheckInError::Invalid);
    }
    let environment = match object.get("environment") {
        None | Some(Value::Null) => None,
        Some(Value::String(environment)) => {
            if environment.chars().count() > MAX_ENVIRONMENT_CHARS {
                return Err(CheckInError::Invalid);
            }
            Some(environment.clone())
        }
        Some(_) => return Err(CheckInError::InvalidJson),
    };

    let mut normalized = Map::new();
    normalized.insert(
        "check_in_id".into(),
        Value::String(check_in_id.simple().to_string()),
    );
    normalized.insert("monitor_slug".into(), Value::String(monitor_slug.clone()));
    normalized.insert("status".into(), Value::String(status.to_owned()));
    for key in KNOWN_OPTIONAL_KEYS {
        if let Some(value) = object.remove(key) {
            if !value.is_null() {
                normalized.insert(key.into(), value);
            }
        }
    }
    let mut unknown: Vec<(String, Value)> = object.into_iter().collect();
    unknown.sort_by(|left, right| left.0.cmp(&right.0));
    normalized.extend(unknown);
    let payload =
        serde_json::to_vec(&Value::Object(normalized)).map_err(|_| CheckInError::InvalidJson)?;
    Ok(NormalizedCheckIn {
        payload,
        monitor_slug,
        environment,
    })
}

/// `missed` and anything unrecognised become `unknown`.
fn normalize_status(status: &str) -> &'static str {
    match status {
        "ok" => "ok",
        "error" => "error",
        "in_progress" => "in_progress",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(payload: &str) -> Result<Value, CheckInError> {
        normalize_check_in(payload.as_bytes())
            .map(|normalized| serde_json::from_slice(&normalized.payload).unwrap())
    }

    #[test]
    fn known_fields_first_then_unknown_sorted() {
        let value = normalized(
            r#"{"zeta":1,"status":"missed","monitor_slug":"my-cron","alpha":2,"duration":2.5,
                "check_in_id":"83a7f2b2-8f3a-4c38-9b9e-1234567890ab","environment":"prod"}"#,
        )
        .unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "check_in_id",
                "monitor_slug",
                "status",
                "environment",
                "duration",
                "alpha",
                "zeta"
            ]
        );
        assert_eq!(value["check_in_id"], "83a7f2b28f3a4c389b9e1234567890ab");
        assert_eq!(value["status"], "unknown");
    }

    #[test]
    fn defaults_and_failures() {
        let value = normalized(r#"{"status":"ok","monitor_slug":"a"}"#).unwrap();
        assert_eq!(value["check_in_id"], "00000000000000000000000000000000");
        assert_eq!(
            normalized(r#"{"monitor_slug":"a"}"#).unwrap_err(),
            CheckInError::InvalidJson
        );
        assert_eq!(
            normalized(r#"{"status":"ok"}"#).unwrap_err(),
            CheckInError::Invalid
        );
        let long_environment = format!(
            r#"{{"status":"ok","monitor_slug":"a","environment":"{}"}}"#,
            "e".repeat(65)
        );
        assert_eq!(
            normalized(&long_environment).unwrap_err(),
            CheckInError::Invalid
        );
        let long_slug = format!(r#"{{"status":"ok","monitor_slug":"{}"}}"#, "s".repeat(60));
        assert_eq!(
            normalized(&long_slug).unwrap()["monitor_slug"],
            "s".repeat(50)
        );
    }

    #[test]
    fn rejection_reasons() {
        let reason = |error: CheckInError| DiscardReason::from(error).to_string();
        assert_eq!(reason(CheckInError::InvalidJson), "invalid_json");
        assert_eq!(reason(CheckInError::Invalid), "invalid_check_in");
    }
}
