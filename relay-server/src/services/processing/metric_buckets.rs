//! `metric_buckets` items (`processing.md` §3.12, `envelope.md` §4.4): parsed and handed to
//! the metrics aggregator, which applies the name, time-window and tag-length rules on merge.
//!
//! From a trusted sender (the request carried the id of an internal static relay) the
//! `sessions`, `spans`, `transactions` and `outcomes` namespaces are accepted and the bucket
//! metadata (`received_at`) is kept; from anyone else only `sessions` is accepted, other
//! buckets are dropped silently and `received_at` becomes this relay's receive time.
//! Bucket timestamps are clock-drift corrected like events (`sent_at` off by at least
//! [`MINIMUM_CLOCK_DRIFT`]).
//!
//! Invariant: metric buckets count in no data category, so nothing here produces an outcome;
//! an unparsable item is dropped whole, an invalid bucket alone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration as ChronoDuration;
use relay_protocol::envelope::ItemType;
use serde_json::{Map, Value};

use super::event::MINIMUM_CLOCK_DRIFT;
use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::services::metrics::{
    parse_mri, Bucket, BucketValue, ProjectBucket, OUTCOMES_NAMESPACE, SESSIONS_NAMESPACE,
};

/// The namespace untrusted senders may submit.
const ACCEPTED_NAMESPACE: &str = SESSIONS_NAMESPACE;

/// The namespaces trusted senders may submit.
const TRUSTED_NAMESPACES: [&str; 4] = [
    SESSIONS_NAMESPACE,
    "spans",
    "transactions",
    OUTCOMES_NAMESPACE,
];

/// Runs the processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let items = managed.take_items_where(|item| *item.ty() == ItemType::MetricBuckets);
    if items.is_empty() {
        return;
    }
    let drift = clock_drift_secs(context);
    let received_at = context.received_at.timestamp();
    for item in items {
        let Some(buckets) = parse_buckets(item.payload_slice()) else {
            tracing::debug!("dropping unparsable metric_buckets item");
            continue;
        };
        for mut bucket in buckets {
            let accepted = match bucket.namespace() {
                Some(namespace) if context.trusted_sender => {
                    TRUSTED_NAMESPACES.contains(&namespace)
                }
                Some(namespace) => namespace == ACCEPTED_NAMESPACE,
                None => false,
            };
            if !accepted {
                continue;
            }
            bucket.timestamp = bucket.timestamp.saturating_add(drift);
            if !context.trusted_sender || bucket.received_at.is_none() {
                bucket.received_at = Some(received_at);
            }
            output.buckets.push(project_bucket(context, bucket));
        }
    }
}

/// Attaches the envelope's project to a bucket. The project id is the config's `projectId`
/// only: buckets of a config without one are dropped at flush (`project-config.md` §1.3).
pub fn project_bucket(context: &ProcessingContext, bucket: Bucket) -> ProjectBucket {
    let mut scoping = context.scoping.clone();
    scoping.project_id = context.project.project_id;
    ProjectBucket {
        scoping,
        retention_days: context.event_retention(),
        bucket,
    }
}

/// Receive time − `sent_at` in seconds when the drift is at least [`MINIMUM_CLOCK_DRIFT`].
fn clock_drift_secs(context: &ProcessingContext) -> i64 {
    let Some(sent_at) = context.headers.sent_at else {
        return 0;
    };
    let drift: ChronoDuration = context.received_at - sent_at;
    if drift.abs() >= MINIMUM_CLOCK_DRIFT {
        drift.num_seconds()
    } else {
        0
    }
}

/// Parses a `metric_buckets` payload: `None` unless it is a JSON array; buckets that are not
/// valid are left out.
pub fn parse_buckets(payload: &[u8]) -> Option<Vec<Bucket>> {
    let Ok(Value::Array(entries)) = serde_json::from_slice::<Value>(payload) else {
        return None;
    };
    Some(entries.iter().filter_map(parse_bucket).collect())
}

/// One bucket `{timestamp, width, name, type, value, tags?, metadata?}`; the name must be an
/// MRI whose type letter equals `type`.
fn parse_bucket(entry: &Value) -> Option<Bucket> {
    let object = entry.as_object()?;
    let name = object.get("name")?.as_str()?;
    let type_code = object.get("type")?.as_str()?;
    if parse_mri(name)?.type_code != type_code {
        return None;
    }
    let timestamp = match object.get("timestamp")? {
        Value::Number(number) => match number.as_i64() {
            Some(seconds) => seconds,
            None => number.as_f64().filter(|seconds| seconds.is_finite())? as i64,
        },
        _ => return None,
    };
    let value = parse_value(type_code, object.get("value")?)?;
    let tags = match object.get("tags") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(tags)) => parse_tags(tags)?,
        Some(_) => return None,
    };
    // Bucket metadata of the sending relay; only trusted senders' is kept.
    let received_at = object
        .get("metadata")
        .and_then(|metadata| metadata.get("received_at"))
        .and_then(Value::as_i64);
    Some(Bucket {
        name: name.to_owned(),
        timestamp,
        tags,
        value,
        received_at,
    })
}

fn parse_tags(tags: &Map<String, Value>) -> Option<BTreeMap<String, String>> {
    tags.iter()
        .map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect()
}

fn parse_value(type_code: &str, value: &Value) -> Option<BucketValue> {
    match type_code {
        "c" => value.as_f64().map(BucketValue::Counter),
        "d" => value
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect::<Option<Vec<f64>>>()
            .map(BucketValue::Distribution),
        "s" => value
            .as_array()?
            .iter()
            .map(|element| u32::try_from(element.as_u64()?).ok())
            .collect::<Option<BTreeSet<u32>>>()
            .map(BucketValue::Set),
        "g" => match value {
            Value::Number(number) => number.as_f64().map(BucketValue::gauge),
            Value::Object(gauge) => {
                let field = |key: &str| gauge.get(key).and_then(Value::as_f64);
                Some(BucketValue::Gauge {
                    last: field("last")?,
                    min: field("min")?,
                    max: field("max")?,
                    sum: field("sum")?,
                    count: gauge.get("count")?.as_u64()?,
                })
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `metric_buckets` item with a session, an outcome and a span usage bucket.
    fn mixed_buckets_item() -> String {
        let now = chrono::Utc::now().timestamp();
        let payload = format!(
            r#"[{{"timestamp":{now},"width":1,"name":"c:sessions/session@none","type":"c","value":1.0}},
                {{"timestamp":{now},"width":1,"name":"c:outcomes/invalid@none","type":"c","value":2.0,
                  "tags":{{"category":"1","reason":"too_large:event","source":"pop"}},
                  "metadata":{{"received_at":{now}}}}},
                {{"timestamp":{now},"width":1,"name":"c:spans/usage@none","type":"c","value":3.0}}]"#
        );
        format!(
            "{{\"type\":\"metric_buckets\",\"length\":{}}}\n{payload}\n",
            payload.len()
        )
    }

    fn accepted_names(trusted_sender: bool) -> Vec<String> {
        let mut harness =
            crate::services::processing::spans::tests::harness(&mixed_buckets_item(), &[]);
        harness.context.trusted_sender = trusted_sender;
        harness.run(process);
        assert_eq!(harness.remaining_items(), 0);
        harness
            .output
            .buckets
            .iter()
            .map(|bucket| bucket.bucket.name.clone())
            .collect()
    }

    #[test]
    fn trusted_relays_may_send_every_namespace_others_only_sessions() {
        assert_eq!(accepted_names(false), ["c:sessions/session@none"]);
        assert_eq!(
            accepted_names(true),
            [
                "c:sessions/session@none",
                "c:outcomes/invalid@none",
                "c:spans/usage@none"
            ]
        );
    }

    #[test]
    fn buckets_of_every_type_parse() {
        let payload = br#"[
            {"timestamp":1735732800,"width":1,"name":"c:sessions/session@none","type":"c","value":1.0,
             "tags":{"release":"a@1","session.status":"init"},"metadata":{"merges":1,"received_at":1}},
            {"timestamp":1735732800.9,"width":1,"name":"s:sessions/user@none","type":"s","value":[3,1,3]},
            {"timestamp":1735732800,"name":"d:sessions/duration@second","type":"d","value":[1.5,2]},
            {"timestamp":1735732800,"name":"g:sessions/load@none","type":"g",
             "value":{"last":1,"min":0,"max":2,"sum":3,"count":3}}
        ]"#;
        let buckets = parse_buckets(payload).unwrap();
        assert_eq!(buckets.len(), 4);
        assert_eq!(buckets[0].value, BucketValue::Counter(1.0));
        assert_eq!(buckets[0].tags["session.status"], "init");
        // The sender's metadata; only trusted senders keep it (see `process`).
        assert_eq!(buckets[0].received_at, Some(1));
        assert_eq!(buckets[1].timestamp, 1_735_732_800);
        assert_eq!(buckets[1].value, BucketValue::Set(BTreeSet::from([1, 3])));
        assert_eq!(buckets[2].value, BucketValue::Distribution(vec![1.5, 2.0]));
        assert_eq!(
            buckets[3].value,
            BucketValue::Gauge {
                last: 1.0,
                min: 0.0,
                max: 2.0,
                sum: 3.0,
                count: 3
            }
        );
    }

    #[test]
    fn invalid_buckets_are_left_out_and_non_arrays_rejected() {
        let payload = br#"[
            {"timestamp":1,"name":"c:sessions/session@none","type":"s","value":1.0},
            {"timestamp":1,"name":"session","type":"c","value":1.0},
            {"timestamp":1,"name":"s:sessions/user@none","type":"s","value":[-1]},
            {"timestamp":1,"name":"c:sessions/session@none","type":"c","value":1.0,"tags":{"a":1}},
            {"timestamp":"1","name":"c:sessions/session@none","type":"c","value":1.0},
            {"timestamp":1,"name":"c:sessions/session@none","type":"c","value":2.0}
        ]"#;
        let buckets = parse_buckets(payload).unwrap();
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].value, BucketValue::Counter(2.0));
        assert_eq!(parse_buckets(b"{}"), None);
        assert_eq!(parse_buckets(b"not json"), None);
    }
}
