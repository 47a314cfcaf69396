//! Sessions (`processing.md` §3.6): `session` updates and `sessions` aggregates become
//! session metrics for the metrics aggregator; nothing is produced directly.
//!
//! Per item: parse (invalid → dropped), clock-drift correction, `timestamp < started` →
//! `timestamp = started`, time-window checks against `processing.max_session_secs_in_past` /
//! `max_secs_in_future` (relative to the receive time), mandatory valid release, invalid
//! environment removed, `{{auto}}` IP resolved, inbound filters, then metric extraction.
//!
//! Invariant: sessions never produce outcomes — every drop here is silent, for invalid data
//! and filters alike (`outcomes.md` §3.4).
//!
//! Metric extraction (namespace `sessions`, unit `none`, bucket timestamp = `started`,
//! common tags `release`, `environment` if set, `sdk` = the envelope's client):
//!
//! | Metric | When | Value | Extra tags |
//! |---|---|---|---|
//! | `c:sessions/session@none` | update with `init`; aggregate with a total > 0 | 1 / total | `session.status: init` |
//! | `c:sessions/session@none` | aggregate with errors | errored+abnormal+unhandled+crashed | `session.status: errored_preaggr` |
//! | `c:sessions/session@none` | abnormal / unhandled / crashed > 0 | that count | `session.status: <status>` |
//! | `s:sessions/error@none` | update with `errors > 0` or an error status | FNV-1a of the session id | – |
//! | `s:sessions/user@none` | valid `did`: healthy → one bucket; else one per applicable status | FNV-1a of `did` | none / `session.status: errored|abnormal|unhandled|crashed` (+ `abnormal_mechanism`) |

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use relay_protocol::envelope::ItemType;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::event::{parse_timestamp, AUTO_IP, MINIMUM_CLOCK_DRIFT};
use super::metric_buckets::project_bucket;
use super::{ProcessingContext, ProcessingOutput};
use crate::managed::ManagedEnvelope;
use crate::services::metrics::{fnv1a32, Bucket, BucketValue};

/// The counter of sessions.
pub const SESSION_METRIC: &str = "c:sessions/session@none";
/// The set of users (hashed distinct ids).
pub const USER_METRIC: &str = "s:sessions/user@none";
/// The set of errored sessions (hashed session ids).
pub const ERROR_METRIC: &str = "s:sessions/error@none";

/// Longest valid release name in bytes.
const MAX_RELEASE_BYTES: usize = 200;
/// Longest valid environment name in bytes.
const MAX_ENVIRONMENT_BYTES: usize = 64;
/// The `abnormal_mechanism` value meaning "no mechanism".
const NO_MECHANISM: &str = "none";
/// `sessionMetrics.version` from which the `abnormal_mechanism` tag is extracted.
const ABNORMAL_MECHANISM_VERSION: u64 = 2;

/// Why a session item was dropped (never reported as an outcome).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session payload is not a JSON object")]
    InvalidJson,
    #[error("session field `{0}` is missing or invalid")]
    InvalidField(&'static str),
    #[error("invalid release name")]
    InvalidRelease,
    #[error("session timestamp is outside the accepted time window")]
    OutsideTimeWindow,
}

/// `status` of a session update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    Ok,
    Exited,
    Crashed,
    Abnormal,
    Errored,
    Unhandled,
    /// Any other value; counts as healthy.
    Unknown(String),
}

impl SessionStatus {
    fn parse(status: &str) -> SessionStatus {
        match status {
            "ok" => SessionStatus::Ok,
            "exited" => SessionStatus::Exited,
            "crashed" => SessionStatus::Crashed,
            "abnormal" => SessionStatus::Abnormal,
            "errored" => SessionStatus::Errored,
            "unhandled" => SessionStatus::Unhandled,
            other => SessionStatus::Unknown(other.to_owned()),
        }
    }

    /// Whether the status alone makes the session errored.
    fn is_error(&self) -> bool {
        matches!(
            self,
            SessionStatus::Crashed
                | SessionStatus::Abnormal
                | SessionStatus::Errored
                | SessionStatus::Unhandled
        )
    }
}

/// `attrs` of updates and aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAttributes {
    pub release: String,
    pub environment: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A parsed `session` item.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionUpdate {
    pub session_id: Uuid,
    pub distinct_id: Option<String>,
    pub init: bool,
    pub started: DateTime<Utc>,
    pub timestamp: DateTime<Utc>,
    pub status: SessionStatus,
    pub errors: u64,
    pub abnormal_mechanism: Option<String>,
    pub attributes: SessionAttributes,
}

/// One group of a `sessions` item.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionAggregate {
    pub started: DateTime<Utc>,
    pub distinct_id: Option<String>,
    pub exited: u64,
    pub errored: u64,
    pub abnormal: u64,
    pub unhandled: u64,
    pub crashed: u64,
}

/// A parsed `sessions` item.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionAggregates {
    pub aggregates: Vec<SessionAggregate>,
    pub attributes: SessionAttributes,
}

/// Runs the sessions processor.
pub fn process(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    let items = managed
        .take_items_where(|item| matches!(item.ty(), ItemType::Session | ItemType::Sessions));
    if items.is_empty() {
        return;
    }
    let extraction = Extraction::new(context);
    for item in items {
        let buckets = if *item.ty() == ItemType::Session {
            process_update(context, &extraction, item.payload_slice())
        } else {
            process_aggregates(context, &extraction, item.payload_slice())
        };
        match buckets {
            Ok(buckets) => output.buckets.extend(
                buckets
                    .into_iter()
                    .map(|bucket| project_bucket(context, bucket)),
            ),
            Err(error) => {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "dropping session item"
                );
            }
        }
    }
}

fn process_update(
    context: &ProcessingContext,
    extraction: &Extraction,
    payload: &[u8],
) -> Result<Vec<Bucket>, SessionError> {
    let mut update = parse_update(payload, context.received_at)?;
    let drift = clock_drift(context);
    update.started += drift;
    update.timestamp += drift;
    if update.timestamp < update.started {
        update.timestamp = update.started;
    }
    let window = TimeWindow::new(context);
    if !window.contains(update.started) || !window.contains(update.timestamp) {
        return Err(SessionError::OutsideTimeWindow);
    }
    normalize_attributes(context, &mut update.attributes);
    if let Err(filter) = filter_session(context, &update.attributes) {
        tracing::debug!(filter, "session filtered");
        return Ok(Vec::new());
    }
    Ok(extraction.update_metrics(&update))
}

fn process_aggregates(
    context: &ProcessingContext,
    extraction: &Extraction,
    payload: &[u8],
) -> Result<Vec<Bucket>, SessionError> {
    let mut aggregates = parse_aggregates(payload)?;
    let drift = clock_drift(context);
    let window = TimeWindow::new(context);
    aggregates.aggregates.retain_mut(|aggregate| {
        aggregate.started += drift;
        window.contains(aggregate.started)
    });
    normalize_attributes(context, &mut aggregates.attributes);
    if let Err(filter) = filter_session(context, &aggregates.attributes) {
        tracing::debug!(filter, "session aggregates filtered");
        return Ok(Vec::new());
    }
    Ok(extraction.aggregate_metrics(&aggregates))
}

/// The correction for a client clock that is off by at least [`MINIMUM_CLOCK_DRIFT`]:
/// receive time − `sent_at`.
fn clock_drift(context: &ProcessingContext) -> ChronoDuration {
    match context.headers.sent_at {
        Some(sent_at) => {
            let drift = context.received_at - sent_at;
            if drift.abs() >= MINIMUM_CLOCK_DRIFT {
                drift
            } else {
                ChronoDuration::zero()
            }
        }
        None => ChronoDuration::zero(),
    }
}

/// `[received − max_session_secs_in_past, received + max_secs_in_future]`.
struct TimeWindow {
    oldest: DateTime<Utc>,
    newest: DateTime<Utc>,
}

impl TimeWindow {
    fn new(context: &ProcessingContext) -> TimeWindow {
        let config = &context.config;
        TimeWindow {
            oldest: context.received_at
                - ChronoDuration::seconds(i64::from(config.max_session_secs_in_past())),
            newest: context.received_at
                + ChronoDuration::seconds(i64::from(config.max_secs_in_future())),
        }
    }

    fn contains(&self, timestamp: DateTime<Utc>) -> bool {
        timestamp >= self.oldest && timestamp <= self.newest
    }
}

/// Removes an invalid environment and resolves `{{auto}}` IPs.
fn normalize_attributes(context: &ProcessingContext, attributes: &mut SessionAttributes) {
    if attributes
        .environment
        .as_deref()
        .is_some_and(|environment| !is_valid_environment(environment))
    {
        attributes.environment = None;
    }
    if attributes.ip_address.as_deref() == Some(AUTO_IP) {
        attributes.ip_address = context.client_addr.map(|address| address.to_string());
    }
}

/// Inbound filters on the release, `ip_address`, `user_agent` and client IP (`filters.md`
/// §1); `Err` carries the filter's stat key. The filters themselves are not implemented yet
/// (`stages.rs` keeps every event too), so every session passes.
fn filter_session(
    _context: &ProcessingContext,
    _attributes: &SessionAttributes,
) -> Result<(), &'static str> {
    Ok(())
}

/// A Sentry release name: not empty, not `.`, `..`, ` ` or `latest` (any case), no
/// `/`, `\`, newline, carriage return, tab or form feed, at most 200 bytes.
pub fn is_valid_release(release: &str) -> bool {
    !release.is_empty()
        && release.len() <= MAX_RELEASE_BYTES
        && !matches!(release, "." | ".." | " ")
        && !release.eq_ignore_ascii_case("latest")
        && !release.contains(['/', '\\', '\n', '\r', '\t', '\x0c'])
}

/// A Sentry environment name (`normalization.md` §7 step 7): not empty, not `.`, `..` or `none`
/// (any case), no `/`, newline, carriage return, tab or form feed, at most 64 bytes.
pub fn is_valid_environment(environment: &str) -> bool {
    !environment.is_empty()
        && environment.len() <= MAX_ENVIRONMENT_BYTES
        && !matches!(environment, "." | "..")
        && !environment.eq_ignore_ascii_case("none")
        && !environment.contains(['/', '\n', '\r', '\t', '\x0c'])
}

// --- parsing ------------------------------------------------------------------------------

fn parse_object(payload: &[u8]) -> Result<Map<String, Value>, SessionError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(SessionError::InvalidJson),
    }
}

/// A field that may be absent or `null`.
fn optional<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

fn optional_string(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, SessionError> {
    match optional(object, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(SessionError::InvalidField(key)),
    }
}

fn optional_count(object: &Map<String, Value>, key: &'static str) -> Result<u64, SessionError> {
    match optional(object, key) {
        None => Ok(0),
        Some(value) => value.as_u64().ok_or(SessionError::InvalidField(key)),
    }
}

fn required_timestamp(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<DateTime<Utc>, SessionError> {
    optional(object, key)
        .and_then(parse_timestamp)
        .ok_or(SessionError::InvalidField(key))
}

/// `did`: a string (numbers are accepted as their decimal text); a nil UUID or an empty
/// string means "no user".
fn distinct_id(object: &Map<String, Value>) -> Result<Option<String>, SessionError> {
    let did = match optional(object, "did") {
        None => return Ok(None),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(_) => return Err(SessionError::InvalidField("did")),
    };
    let is_nil = Uuid::parse_str(&did).is_ok_and(|uuid| uuid.is_nil());
    Ok((!did.is_empty() && !is_nil).then_some(did))
}

fn parse_attributes(object: &Map<String, Value>) -> Result<SessionAttributes, SessionError> {
    let Some(Value::Object(attrs)) = optional(object, "attrs") else {
        return Err(SessionError::InvalidField("attrs"));
    };
    let release =
        optional_string(attrs, "release")?.ok_or(SessionError::InvalidField("release"))?;
    if !is_valid_release(&release) {
        return Err(SessionError::InvalidRelease);
    }
    Ok(SessionAttributes {
        release,
        environment: optional_string(attrs, "environment")?,
        ip_address: optional_string(attrs, "ip_address")?,
        user_agent: optional_string(attrs, "user_agent")?,
    })
}

/// Parses a `session` payload; a missing `timestamp` defaults to `received_at`.
pub fn parse_update(
    payload: &[u8],
    received_at: DateTime<Utc>,
) -> Result<SessionUpdate, SessionError> {
    let object = parse_object(payload)?;
    let session_id = match optional(&object, "sid") {
        None => Uuid::new_v4(),
        Some(Value::String(sid)) => {
            Uuid::parse_str(sid).map_err(|_| SessionError::InvalidField("sid"))?
        }
        Some(_) => return Err(SessionError::InvalidField("sid")),
    };
    let init = match optional(&object, "init") {
        None => false,
        Some(Value::Bool(init)) => *init,
        Some(_) => return Err(SessionError::InvalidField("init")),
    };
    let timestamp = match optional(&object, "timestamp") {
        None => received_at,
        Some(value) => parse_timestamp(value).ok_or(SessionError::InvalidField("timestamp"))?,
    };
    let status = optional_string(&object, "status")?
        .map_or(SessionStatus::Ok, |status| SessionStatus::parse(&status));
    Ok(SessionUpdate {
        session_id,
        distinct_id: distinct_id(&object)?,
        init,
        started: required_timestamp(&object, "started")?,
        timestamp,
        status,
        errors: optional_count(&object, "errors")?,
        abnormal_mechanism: optional_string(&object, "abnormal_mechanism")?,
        attributes: parse_attributes(&object)?,
    })
}

/// Parses a `sessions` payload.
pub fn parse_aggregates(payload: &[u8]) -> Result<SessionAggregates, SessionError> {
    let object = parse_object(payload)?;
    let aggregates = match optional(&object, "aggregates") {
        None => Vec::new(),
        Some(Value::Array(groups)) => groups
            .iter()
            .map(|group| {
                let Value::Object(group) = group else {
                    return Err(SessionError::InvalidField("aggregates"));
                };
                Ok(SessionAggregate {
                    started: required_timestamp(group, "started")?,
                    distinct_id: distinct_id(group)?,
                    exited: optional_count(group, "exited")?,
                    errored: optional_count(group, "errored")?,
                    abnormal: optional_count(group, "abnormal")?,
                    unhandled: optional_count(group, "unhandled")?,
                    crashed: optional_count(group, "crashed")?,
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(SessionError::InvalidField("aggregates")),
    };
    Ok(SessionAggregates {
        aggregates,
        attributes: parse_attributes(&object)?,
    })
}

// --- metric extraction --------------------------------------------------------------------

/// What metric extraction needs besides the session.
#[derive(Debug, Clone)]
pub struct Extraction {
    /// The envelope's client (`sdk` tag).
    pub sdk: Option<String>,
    /// Unix seconds of the receive time (bucket `received_at`).
    pub received_at: i64,
    /// `sessionMetrics.version >= 2`: tag abnormal users with their mechanism.
    pub abnormal_mechanism: bool,
}

impl Extraction {
    pub fn new(context: &ProcessingContext) -> Extraction {
        let version = context
            .project
            .raw_config
            .get("sessionMetrics")
            .and_then(|metrics| metrics.get("version"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Extraction {
            sdk: context.client().map(str::to_owned),
            received_at: context.received_at.timestamp(),
            abnormal_mechanism: version >= ABNORMAL_MECHANISM_VERSION,
        }
    }

    fn common_tags(&self, attributes: &SessionAttributes) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        tags.insert("release".to_owned(), attributes.release.clone());
        if let Some(environment) = &attributes.environment {
            tags.insert("environment".to_owned(), environment.clone());
        }
        if let Some(sdk) = &self.sdk {
            tags.insert("sdk".to_owned(), sdk.clone());
        }
        tags
    }

    fn bucket(
        &self,
        name: &str,
        started: DateTime<Utc>,
        tags: BTreeMap<String, String>,
        value: BucketValue,
    ) -> Bucket {
        Bucket {
            name: name.to_owned(),
            timestamp: started.timestamp(),
            tags,
            value,
            received_at: Some(self.received_at),
        }
    }

    fn with_status(tags: &BTreeMap<String, String>, status: &str) -> BTreeMap<String, String> {
        let mut tags = tags.clone();
        tags.insert("session.status".to_owned(), status.to_owned());
        tags
    }

    fn session_counter(
        &self,
        started: DateTime<Utc>,
        common: &BTreeMap<String, String>,
        status: &str,
        count: u64,
    ) -> Bucket {
        self.bucket(
            SESSION_METRIC,
            started,
            Self::with_status(common, status),
            BucketValue::Counter(count as f64),
        )
    }

    /// The metrics of one session update (see the module docs).
    pub fn update_metrics(&self, update: &SessionUpdate) -> Vec<Bucket> {
        let common = self.common_tags(&update.attributes);
        let started = update.started;
        let mut buckets = Vec::new();
        if update.init {
            buckets.push(self.session_counter(started, &common, "init", 1));
        }
        let errored = update.errors > 0 || update.status.is_error();
        if errored {
            let session_id = update.session_id.hyphenated().to_string();
            buckets.push(self.bucket(
                ERROR_METRIC,
                started,
                common.clone(),
                BucketValue::Set([fnv1a32(&session_id)].into()),
            ));
        }
        let terminal_status = match update.status {
            SessionStatus::Abnormal => Some("abnormal"),
            SessionStatus::Unhandled => Some("unhandled"),
            SessionStatus::Crashed => Some("crashed"),
            _ => None,
        };
        if let Some(status) = terminal_status {
            buckets.push(self.session_counter(started, &common, status, 1));
        }
        if let Some(did) = &update.distinct_id {
            let user = BucketValue::Set([fnv1a32(did)].into());
            if !errored {
                buckets.push(self.bucket(USER_METRIC, started, common.clone(), user));
            } else {
                buckets.push(self.bucket(
                    USER_METRIC,
                    started,
                    Self::with_status(&common, "errored"),
                    user.clone(),
                ));
                if let Some(status) = terminal_status {
                    let mut tags = Self::with_status(&common, status);
                    let mechanism = update
                        .abnormal_mechanism
                        .as_deref()
                        .filter(|mechanism| *mechanism != NO_MECHANISM);
                    if let (SessionStatus::Abnormal, true, Some(mechanism)) =
                        (&update.status, self.abnormal_mechanism, mechanism)
                    {
                        tags.insert("abnormal_mechanism".to_owned(), mechanism.to_owned());
                    }
                    buckets.push(self.bucket(USER_METRIC, started, tags, user));
                }
            }
        }
        buckets
    }

    /// The metrics of a `sessions` item (see the module docs).
    pub fn aggregate_metrics(&self, aggregates: &SessionAggregates) -> Vec<Bucket> {
        let common = self.common_tags(&aggregates.attributes);
        let mut buckets = Vec::new();
        for aggregate in &aggregates.aggregates {
            let started = aggregate.started;
            let errors = aggregate
                .errored
                .saturating_add(aggregate.abnormal)
                .saturating_add(aggregate.unhandled)
                .saturating_add(aggregate.crashed);
            let total = aggregate.exited.saturating_add(errors);
            if total > 0 {
                buckets.push(self.session_counter(started, &common, "init", total));
            }
            if errors > 0 {
                buckets.push(self.session_counter(started, &common, "errored_preaggr", errors));
            }
            let terminal = [
                ("abnormal", aggregate.abnormal),
                ("unhandled", aggregate.unhandled),
                ("crashed", aggregate.crashed),
            ];
            for (status, count) in terminal {
                if count > 0 {
                    buckets.push(self.session_counter(started, &common, status, count));
                }
            }
            let Some(did) = &aggregate.distinct_id else {
                continue;
            };
            let user = BucketValue::Set([fnv1a32(did)].into());
            if errors == 0 {
                buckets.push(self.bucket(USER_METRIC, started, common.clone(), user));
                continue;
            }
            buckets.push(self.bucket(
                USER_METRIC,
                started,
                Self::with_status(&common, "errored"),
                user.clone(),
            ));
            for (status, count) in terminal {
                if count > 0 {
                    buckets.push(self.bucket(
                        USER_METRIC,
                        started,
                        Self::with_status(&common, status),
                        user.clone(),
                    ));
                }
            }
        }
        buckets
    }
}

#[cfg(test)]
mod tests {
    use relay_config::Config;
    use relay_protocol::ProjectId;
    use serde_json::json;

    use super::*;
    use crate::services::metrics::ProjectBucket;
    use crate::testutils::{processing_context, TestEnvelope, TestProject};

    const CLIENT: &str = "sentry.javascript.browser/8.0.0";
    const SID: &str = "8333339F-5675-4F89-A9A0-1C935255AB58";

    fn rfc3339(timestamp: DateTime<Utc>) -> String {
        timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// Runs the processor on one envelope; returns the buckets and asserts that every item
    /// was taken without an outcome.
    fn run_with(
        items: &[(&str, Value)],
        headers: Value,
        project_config: Value,
        project_id: Option<u64>,
    ) -> Vec<ProjectBucket> {
        let mut text = format!("{headers}\n");
        for (ty, payload) in items {
            let payload = payload.to_string();
            text.push_str(&format!(
                "{}\n{payload}\n",
                json!({"type": ty, "length": payload.len()})
            ));
        }
        // The scoping is the request's (project 42) whatever the state's `projectId` is.
        let project = TestProject::new().organization_id(1).key_id(7);
        let (mut managed, mut receiver) = TestEnvelope::parse(&text)
            .scoping(project.scoping())
            .capturing();
        let project = project
            .set("projectId", project_id)
            .set("config", project_config);
        let context = processing_context(Config::default(), project.build(), &managed);
        let mut output = ProcessingOutput::default();
        process(&context, &mut managed, &mut output);
        assert!(managed.envelope().is_empty(), "session items must be taken");
        managed.accept();
        assert!(
            receiver.try_recv().is_err(),
            "sessions never produce outcomes"
        );
        assert!(output.requests.is_empty());
        output.buckets
    }

    fn run(ty: &str, payload: Value) -> Vec<Bucket> {
        run_with(
            &[(ty, payload)],
            json!({"client": CLIENT}),
            json!({}),
            Some(42),
        )
        .into_iter()
        .map(|bucket| bucket.bucket)
        .collect()
    }

    fn update(overrides: Value) -> Value {
        let now = rfc3339(Utc::now());
        let mut update = json!({
            "sid": SID,
            "did": "foobarbaz",
            "init": false,
            "started": now,
            "timestamp": now,
            "status": "ok",
            "seq": 0,
            "attrs": {"release": "app@1.0", "environment": "production"},
        });
        for (key, value) in overrides.as_object().unwrap() {
            update[key] = value.clone();
        }
        update
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut tags: BTreeMap<String, String> = [
            ("release", "app@1.0"),
            ("environment", "production"),
            ("sdk", CLIENT),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        for (key, value) in pairs {
            tags.insert((*key).to_owned(), (*value).to_owned());
        }
        tags
    }

    /// (name, tags, value) of every bucket, in extraction order.
    fn summary(buckets: &[Bucket]) -> Vec<(String, BTreeMap<String, String>, BucketValue)> {
        buckets
            .iter()
            .map(|bucket| {
                (
                    bucket.name.clone(),
                    bucket.tags.clone(),
                    bucket.value.clone(),
                )
            })
            .collect()
    }

    fn counter(status: &str, count: f64) -> (String, BTreeMap<String, String>, BucketValue) {
        (
            SESSION_METRIC.to_owned(),
            tags(&[("session.status", status)]),
            BucketValue::Counter(count),
        )
    }

    fn user(status: Option<&str>) -> (String, BTreeMap<String, String>, BucketValue) {
        let tags = match status {
            Some(status) => tags(&[("session.status", status)]),
            None => tags(&[]),
        };
        (
            USER_METRIC.to_owned(),
            tags,
            BucketValue::Set([1_617_781_333].into()),
        )
    }

    fn error_set() -> (String, BTreeMap<String, String>, BucketValue) {
        let hash = fnv1a32("8333339f-5675-4f89-a9a0-1c935255ab58");
        (
            ERROR_METRIC.to_owned(),
            tags(&[]),
            BucketValue::Set([hash].into()),
        )
    }

    #[test]
    fn healthy_init_update_counts_the_session_and_the_user() {
        let started = Utc::now() - ChronoDuration::seconds(30);
        let buckets = run(
            "session",
            update(json!({"init": true, "started": rfc3339(started)})),
        );
        assert_eq!(summary(&buckets), vec![counter("init", 1.0), user(None)]);
        assert!(buckets
            .iter()
            .all(|bucket| bucket.timestamp == started.timestamp()));
        let received = buckets[0].received_at.unwrap();
        assert!((Utc::now().timestamp() - received).abs() <= 5);
    }

    #[test]
    fn healthy_update_without_init_only_counts_the_user() {
        let buckets = run("session", update(json!({"status": "exited"})));
        assert_eq!(summary(&buckets), vec![user(None)]);
    }

    #[test]
    fn errors_mark_the_session_and_user_errored() {
        let buckets = run("session", update(json!({"errors": 2})));
        assert_eq!(summary(&buckets), vec![error_set(), user(Some("errored"))]);
        let buckets = run("session", update(json!({"status": "errored"})));
        assert_eq!(summary(&buckets), vec![error_set(), user(Some("errored"))]);
    }

    #[test]
    fn terminal_statuses_are_counted_and_tag_the_user() {
        for status in ["crashed", "abnormal", "unhandled"] {
            let buckets = run("session", update(json!({"status": status, "init": true})));
            assert_eq!(
                summary(&buckets),
                vec![
                    counter("init", 1.0),
                    error_set(),
                    counter(status, 1.0),
                    user(Some("errored")),
                    user(Some(status)),
                ],
                "{status}"
            );
        }
    }

    #[test]
    fn abnormal_mechanism_needs_session_metrics_version_2() {
        let payload = update(json!({"status": "abnormal", "abnormal_mechanism": "anr_foreground"}));
        let with_version = |version: u64| -> Vec<Bucket> {
            run_with(
                &[("session", payload.clone())],
                json!({"client": CLIENT}),
                json!({"sessionMetrics": {"version": version}}),
                Some(42),
            )
            .into_iter()
            .map(|bucket| bucket.bucket)
            .collect()
        };
        let tagged = with_version(2);
        let abnormal_user = tagged.last().unwrap();
        assert_eq!(abnormal_user.name, USER_METRIC);
        assert_eq!(abnormal_user.tags["session.status"], "abnormal");
        assert_eq!(abnormal_user.tags["abnormal_mechanism"], "anr_foreground");
        // Only the abnormal user variant carries it.
        assert_eq!(
            tagged
                .iter()
                .filter(|bucket| bucket.tags.contains_key("abnormal_mechanism"))
                .count(),
            1
        );
        let untagged = with_version(1);
        assert!(untagged
            .iter()
            .all(|bucket| !bucket.tags.contains_key("abnormal_mechanism")));
    }

    #[test]
    fn missing_or_nil_distinct_ids_have_no_user_metric() {
        for did in [
            json!(null),
            json!("00000000-0000-0000-0000-000000000000"),
            json!(""),
        ] {
            let buckets = run("session", update(json!({"did": did, "init": true})));
            assert_eq!(summary(&buckets), vec![counter("init", 1.0)], "{did}");
        }
    }

    #[test]
    fn aggregates_are_counted_per_group() {
        let now = Utc::now();
        let started = rfc3339(now - ChronoDuration::seconds(60));
        let payload = json!({
            "aggregates": [
                {"started": started, "did": "foobarbaz", "exited": 5, "errored": 2, "abnormal": 1,
                 "unhandled": 1, "crashed": 1},
                {"started": started, "exited": 3},
                {"started": started, "did": "foobarbaz", "exited": 1},
                {"started": started},
            ],
            "attrs": {"release": "app@1.0", "environment": "production"},
        });
        let buckets = run("sessions", payload);
        assert_eq!(
            summary(&buckets),
            vec![
                counter("init", 10.0),
                counter("errored_preaggr", 5.0),
                counter("abnormal", 1.0),
                counter("unhandled", 1.0),
                counter("crashed", 1.0),
                user(Some("errored")),
                user(Some("abnormal")),
                user(Some("unhandled")),
                user(Some("crashed")),
                counter("init", 3.0),
                counter("init", 1.0),
                user(None),
            ]
        );
    }

    #[test]
    fn invalid_sessions_are_dropped_silently() {
        let invalid = [
            update(json!({"attrs": {"environment": "production"}})),
            update(json!({"attrs": {"release": "latest"}})),
            update(json!({"attrs": {"release": "a/b"}})),
            update(json!({"attrs": {"release": ""}})),
            update(json!({"attrs": {"release": "r".repeat(201)}})),
            update(json!({"started": null})),
            update(json!({"sid": "not-a-uuid"})),
            update(json!({"errors": -1})),
            update(json!({"init": "yes"})),
            json!([1, 2]),
        ];
        for payload in invalid {
            assert_eq!(run("session", payload.clone()), Vec::new(), "{payload}");
        }
        assert_eq!(
            run(
                "sessions",
                json!({"aggregates": [{"exited": 1}], "attrs": {"release": "a"}})
            ),
            Vec::new()
        );
    }

    #[test]
    fn invalid_environment_is_removed() {
        for environment in ["none", "a/b", ".", &"e".repeat(65)] {
            let buckets = run(
                "session",
                update(
                    json!({"init": true, "did": null, "attrs": {"release": "app@1.0", "environment": environment}}),
                ),
            );
            assert_eq!(buckets.len(), 1);
            assert!(
                !buckets[0].tags.contains_key("environment"),
                "{environment}"
            );
            assert_eq!(buckets[0].tags["release"], "app@1.0");
        }
    }

    #[test]
    fn time_window_and_timestamp_order() {
        let now = Utc::now();
        let old = rfc3339(now - ChronoDuration::days(6));
        let future = rfc3339(now + ChronoDuration::seconds(600));
        assert_eq!(
            run(
                "session",
                update(json!({"init": true, "started": old.clone()}))
            ),
            Vec::new()
        );
        assert_eq!(
            run(
                "session",
                update(json!({"init": true, "started": future.clone()}))
            ),
            Vec::new()
        );
        assert_eq!(
            run(
                "session",
                update(json!({"init": true, "timestamp": future}))
            ),
            Vec::new()
        );
        // A timestamp before `started` is raised to `started` instead of being rejected.
        let buckets = run(
            "session",
            update(json!({"init": true, "did": null, "timestamp": old.clone()})),
        );
        assert_eq!(buckets.len(), 1);
        // Aggregates lose only their groups outside the window.
        let payload = json!({
            "aggregates": [{"started": old, "exited": 1}, {"started": rfc3339(now), "exited": 2}],
            "attrs": {"release": "app@1.0"},
        });
        let buckets = run("sessions", payload);
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].value, BucketValue::Counter(2.0));
    }

    #[test]
    fn clock_drift_is_corrected_from_sent_at() {
        let now = Utc::now();
        let sent_at = now - ChronoDuration::hours(2);
        let started = sent_at - ChronoDuration::seconds(10);
        let buckets = run_with(
            &[(
                "session",
                update(
                    json!({"init": true, "did": null, "started": rfc3339(started), "timestamp": rfc3339(sent_at)}),
                ),
            )],
            json!({"client": CLIENT, "sent_at": rfc3339(sent_at)}),
            json!({}),
            Some(42),
        );
        let shifted = buckets[0].bucket.timestamp;
        assert!((shifted - (now.timestamp() - 10)).abs() <= 2, "{shifted}");

        // A small drift is left alone.
        let sent_at = now - ChronoDuration::minutes(10);
        let buckets = run_with(
            &[(
                "session",
                update(json!({"init": true, "did": null, "started": rfc3339(sent_at)})),
            )],
            json!({"sent_at": rfc3339(sent_at)}),
            json!({}),
            Some(42),
        );
        assert_eq!(buckets[0].bucket.timestamp, sent_at.timestamp());
        // Without a client there is no sdk tag.
        assert!(!buckets[0].bucket.tags.contains_key("sdk"));
    }

    #[test]
    fn buckets_carry_the_project_scoping_and_retention() {
        let items = [
            ("session", update(json!({"init": true}))),
            ("session", update(json!({}))),
        ];
        let buckets = run_with(&items, json!({}), json!({"eventRetention": 30}), Some(42));
        assert_eq!(buckets.len(), 3);
        assert!(buckets.iter().all(|bucket| bucket.retention_days == 30
            && bucket.scoping.project_id == Some(ProjectId(42))
            && bucket.scoping.organization_id == Some(1)));
        // No `projectId` in the config: the aggregator drops the buckets at flush.
        let buckets = run_with(&items, json!({}), json!({}), None);
        assert!(buckets
            .iter()
            .all(|bucket| bucket.scoping.project_id.is_none()));
    }

    #[test]
    fn release_and_environment_rules() {
        for valid in ["app@1.0", "1", "a b", "Latest-1"] {
            assert!(is_valid_release(valid), "{valid}");
        }
        for invalid in [
            "", ".", "..", " ", "latest", "LATEST", "a\\b", "a\nb", "a\tb",
        ] {
            assert!(!is_valid_release(invalid), "{invalid:?}");
        }
        assert!(is_valid_environment("production"));
        assert!(is_valid_environment(&"e".repeat(64)));
        for invalid in ["", "..", "None", "a\x0cb"] {
            assert!(!is_valid_environment(invalid), "{invalid:?}");
        }
    }

    #[test]
    fn update_parsing_defaults() {
        let received = Utc::now();
        let parsed = parse_update(
            br#"{"started": 1700000000.5, "attrs": {"release": "r", "ip_address": "{{auto}}"}}"#,
            received,
        )
        .unwrap();
        assert_eq!(parsed.timestamp, received);
        assert_eq!(parsed.status, SessionStatus::Ok);
        assert!(!parsed.init);
        assert_eq!(parsed.errors, 0);
        assert_eq!(parsed.distinct_id, None);
        assert_eq!(parsed.attributes.ip_address.as_deref(), Some(AUTO_IP));
        assert_eq!(
            parse_update(
                br#"{"started": 1, "status": "bogus", "attrs": {"release": "r"}}"#,
                received
            )
            .unwrap()
            .status,
            SessionStatus::Unknown("bogus".into())
        );
    }
}
