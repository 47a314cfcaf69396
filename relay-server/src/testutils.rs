//! Shared builders for the crate's unit tests (compiled only for tests).
//!
//! One fixed project is used across the crate: project [`PROJECT_ID`] of organization
//! [`ORGANIZATION_ID`], DSN key [`PROJECT_KEY`] with numeric id [`KEY_ID`]. This module offers:
//!
//! - [`config`]: a [`Config`] from YAML text;
//! - [`TestProject`]: the JSON of a project state with those defaults (features and event
//!   retention, optionally `allowedDomains`, `trustedRelays`, `verifySignature`, `quotas` or
//!   any other `config` key) and the [`ProjectState`] it parses into;
//! - [`scoping`], [`request_scoping`] and [`request_checks`]: the accounting scope of the
//!   project, the scope a request has before the project checks, and what those checks need
//!   to know about the request;
//! - [`json_item`], [`TestEnvelope`]: envelope items and a [`ManagedEnvelope`] built from items
//!   or envelope text, with a capturing [`OutcomeHandle`]; [`drain_outcomes`] and
//!   [`outcome_summary`] read what was captured;
//! - [`directory_forwarding`]: a [`Forwarding`] that writes envelopes into a directory, with an
//!   upstream handle that never contacts anybody (for the ingest and sink tests);
//! - [`processing_context`] (processing builds): the context processors run with.
#![cfg_attr(not(feature = "processing"), allow(dead_code))]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use relay_config::Config;
use relay_protocol::envelope::{ContentType, Envelope, Item, ItemType};
use relay_protocol::{DataCategory, ProjectId, ProjectKey};
use relay_quotas::Scoping;
use serde_json::{json, Value};
use tokio::sync::mpsc::Receiver;

use crate::managed::{ManagedEnvelope, RequestChecks};
use crate::outcome::{OutcomeHandle, TrackOutcome};
use crate::services::forwarding::sink::{DirectorySink, EnvelopeSink};
use crate::services::forwarding::Forwarding;
#[cfg(feature = "processing")]
use crate::services::processing::context::ProcessingContext;
use crate::services::projects::ProjectState;
use crate::services::shutdown::ShutdownHandle;
use crate::services::upstream::UpstreamHandle;

/// The DSN public key of the test project.
pub const PROJECT_KEY: &str = "31a5a894b4524f74a9a8d0e27e21ba91";
/// The id of the test project.
pub const PROJECT_ID: u64 = 42;
/// The organization of the test project.
pub const ORGANIZATION_ID: u64 = 7;
/// The numeric id of [`PROJECT_KEY`].
pub const KEY_ID: u64 = 300;
/// The event retention of the test project, in days.
pub const EVENT_RETENTION: u16 = 90;

/// A config from YAML text; panics on invalid YAML.
pub fn config(yaml: &str) -> Config {
    Config::from_yaml_str(yaml).expect("test config parses")
}

/// [`PROJECT_KEY`] parsed.
pub fn project_key() -> ProjectKey {
    ProjectKey::parse(PROJECT_KEY).expect("valid test key")
}

/// The complete scoping of the test project (organization, project, key and key id).
pub fn scoping() -> Scoping {
    Scoping {
        organization_id: Some(ORGANIZATION_ID),
        project_id: Some(ProjectId(PROJECT_ID)),
        project_key: project_key(),
        key_id: Some(KEY_ID),
    }
}

/// The scoping of a request to `/api/42/…` before the project checks completed it: only the
/// key and the project id of the URL are known.
pub fn request_scoping() -> Scoping {
    Scoping {
        organization_id: None,
        project_id: Some(ProjectId(PROJECT_ID)),
        project_key: project_key(),
        key_id: None,
    }
}

/// What the project checks know about a plain request to `/api/42/…` with [`PROJECT_KEY`]: no
/// origin, no required features, no signature, not trusted, received now.
pub fn request_checks() -> RequestChecks {
    RequestChecks {
        request_project_id: Some(ProjectId(PROJECT_ID)),
        public_key: project_key(),
        origin: None,
        required_features: Vec::new(),
        relay_signature: None,
        trusted: false,
        received_at: Utc::now(),
    }
}

/// The JSON of a project state, with the defaults of the test project; see the module docs.
#[derive(Clone, Debug)]
pub struct TestProject {
    value: Value,
}

impl Default for TestProject {
    fn default() -> Self {
        TestProject::new()
    }
}

impl TestProject {
    /// An enabled project [`PROJECT_ID`] of [`ORGANIZATION_ID`] with the key [`PROJECT_KEY`]
    /// (numeric id [`KEY_ID`]), no features and an event retention of [`EVENT_RETENTION`].
    pub fn new() -> TestProject {
        TestProject {
            value: json!({
                "disabled": false,
                "projectId": PROJECT_ID,
                "organizationId": ORGANIZATION_ID,
                "publicKeys": [{"publicKey": PROJECT_KEY, "numericId": KEY_ID}],
                "config": {"features": [], "eventRetention": EVENT_RETENTION},
            }),
        }
    }

    /// Sets a top-level field of the state (`projectId`, `disabled`, `upstream`, …).
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> TestProject {
        self.value[key] = value.into();
        self
    }

    /// Sets a key of the state's `config` object.
    pub fn config(mut self, key: &str, value: impl Into<Value>) -> TestProject {
        self.value["config"][key] = value.into();
        self
    }

    /// `organizationId`.
    pub fn organization_id(self, organization_id: u64) -> TestProject {
        self.set("organizationId", organization_id)
    }

    /// The `numericId` of the project's key.
    pub fn key_id(mut self, key_id: u64) -> TestProject {
        self.value["publicKeys"][0]["numericId"] = key_id.into();
        self
    }

    /// `config.features`.
    pub fn features(self, features: &[&str]) -> TestProject {
        self.config("features", features.to_vec())
    }

    /// `config.eventRetention`.
    pub fn event_retention(self, days: u16) -> TestProject {
        self.config("eventRetention", days)
    }

    /// `config.allowedDomains`.
    pub fn allowed_domains(self, domains: &[&str]) -> TestProject {
        self.config("allowedDomains", domains.to_vec())
    }

    /// `config.trustedRelays`: the public keys of relays whose signatures are accepted.
    pub fn trusted_relays(self, keys: &[&relay_auth::PublicKey]) -> TestProject {
        let keys: Vec<String> = keys.iter().map(|key| key.to_string()).collect();
        self.config("trustedRelays", keys)
    }

    /// `config.trustedRelaySettings.verifySignature`.
    pub fn verify_signature(self, enabled: bool) -> TestProject {
        let setting = if enabled { "enabled" } else { "disabled" };
        self.config(
            "trustedRelaySettings",
            json!({ "verifySignature": setting }),
        )
    }

    /// `config.quotas` (a JSON array of quotas).
    pub fn quotas(self, quotas: Value) -> TestProject {
        self.config("quotas", quotas)
    }

    /// The parsed state; panics when it does not parse.
    pub fn build(&self) -> ProjectState {
        ProjectState::parse(self.value.clone()).expect("test project state parses")
    }

    /// The complete scoping of this project (organization, project id, key and key id as
    /// the JSON has them).
    pub fn scoping(&self) -> Scoping {
        Scoping {
            organization_id: self.value["organizationId"].as_u64(),
            project_id: self.value["projectId"].as_u64().map(ProjectId),
            project_key: project_key(),
            key_id: self.value["publicKeys"][0]["numericId"].as_u64(),
        }
    }
}

/// An item of type `ty` with a JSON payload.
pub fn json_item(ty: ItemType, payload: &str) -> Item {
    let mut item = Item::new(ty);
    item.set_payload(
        ContentType::Json,
        Bytes::copy_from_slice(payload.as_bytes()),
    );
    item
}

/// A [`ManagedEnvelope`] under construction: the complete [`scoping`] of the test project,
/// received now, without a client address, unless set otherwise.
pub struct TestEnvelope {
    envelope: Envelope,
    scoping: Scoping,
    received_at: DateTime<Utc>,
    remote_addr: Option<IpAddr>,
}

impl TestEnvelope {
    /// An envelope with default headers holding `items`.
    pub fn from_items(items: Vec<Item>) -> TestEnvelope {
        let mut envelope = Envelope::new(Default::default());
        for item in items {
            envelope.add_item(item);
        }
        TestEnvelope::from_envelope(envelope)
    }

    /// An envelope parsed from its serialized text (headers line, then items); panics when
    /// it does not parse.
    pub fn parse(text: &str) -> TestEnvelope {
        let envelope =
            Envelope::parse(Bytes::copy_from_slice(text.as_bytes())).expect("test envelope parses");
        TestEnvelope::from_envelope(envelope)
    }

    /// An envelope built elsewhere.
    pub fn from_envelope(envelope: Envelope) -> TestEnvelope {
        TestEnvelope {
            envelope,
            scoping: scoping(),
            received_at: Utc::now(),
            remote_addr: None,
        }
    }

    /// Changes the envelope (headers, event id, …) before it is wrapped.
    pub fn with(mut self, change: impl FnOnce(&mut Envelope)) -> TestEnvelope {
        change(&mut self.envelope);
        self
    }

    /// The scoping the envelope is accounted to.
    pub fn scoping(mut self, scoping: Scoping) -> TestEnvelope {
        self.scoping = scoping;
        self
    }

    /// The receive time.
    pub fn received_at(mut self, received_at: DateTime<Utc>) -> TestEnvelope {
        self.received_at = received_at;
        self
    }

    /// The client address the envelope came from.
    pub fn remote_addr(mut self, remote_addr: IpAddr) -> TestEnvelope {
        self.remote_addr = Some(remote_addr);
        self
    }

    /// Wraps the envelope, recording its outcomes into `outcomes`.
    pub fn managed(self, outcomes: OutcomeHandle) -> ManagedEnvelope {
        ManagedEnvelope::new(
            self.envelope,
            self.scoping,
            self.received_at,
            self.remote_addr,
            outcomes,
        )
    }

    /// Wraps the envelope with a capturing outcome handle; read the receiver with
    /// [`drain_outcomes`].
    pub fn capturing(self) -> (ManagedEnvelope, Receiver<TrackOutcome>) {
        let (outcomes, receiver) = OutcomeHandle::capturing();
        (self.managed(outcomes), receiver)
    }
}

/// Every outcome captured so far, in the order they were tracked.
pub fn drain_outcomes(receiver: &mut Receiver<TrackOutcome>) -> Vec<TrackOutcome> {
    let mut tracked = Vec::new();
    while let Ok(outcome) = receiver.try_recv() {
        tracked.push(outcome);
    }
    tracked
}

/// `(outcome name, reason, category, quantity)` of each outcome, for compact assertions
/// (`("invalid", "too_large:event", DataCategory::Error, 1)`).
pub fn outcome_summary(
    outcomes: &[TrackOutcome],
) -> Vec<(&'static str, String, DataCategory, u32)> {
    outcomes
        .iter()
        .map(|tracked| {
            (
                tracked.outcome.name(),
                tracked.outcome.reason().unwrap_or_default(),
                tracked.category,
                tracked.quantity,
            )
        })
        .collect()
}

/// Forwarding into `<directory>/envelopes/` (one file per envelope). Its upstream handle runs
/// in proxy mode against an address nobody listens on, so it never registers or sends; it
/// only provides the flow control. Must run inside the tokio runtime.
pub fn directory_forwarding(
    config: Arc<Config>,
    directory: &Path,
    shutdown: &ShutdownHandle,
) -> Forwarding {
    let upstream_config = Arc::new(self::config(
        "relay: {mode: proxy, upstream: \"http://127.0.0.1:1/\"}",
    ));
    let upstream =
        UpstreamHandle::start(upstream_config, shutdown.clone()).expect("upstream handle starts");
    let sink = DirectorySink::new(directory.to_path_buf()).expect("output directory");
    Forwarding::new(
        config,
        EnvelopeSink::Directory(sink),
        upstream,
        crate::services::normalization::NormalizationResources::default(),
    )
    .expect("forwarding starts")
}

/// The envelope files a directory sink wrote below `directory`, sorted by name (empty when
/// it wrote none yet).
pub fn envelope_files(directory: &Path) -> Vec<PathBuf> {
    let Ok(listing) = std::fs::read_dir(directory.join("envelopes")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = listing
        .map(|entry| entry.expect("readable entry").path())
        .collect();
    files.sort();
    files
}

/// The context a processor runs with, for `managed` of `project`.
#[cfg(feature = "processing")]
pub fn processing_context(
    config: Config,
    project: ProjectState,
    managed: &ManagedEnvelope,
) -> ProcessingContext {
    ProcessingContext::new(Arc::new(config), Arc::new(project), managed)
}
