//! [`ProcessingContext`]: everything a processor needs to know about the envelope it works on,
//! besides the items themselves.
//!
//! Built once per envelope on the worker thread from the project state, the global config and
//! the envelope's accounting context; processors only read it.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use relay_config::Config;
use relay_protocol::envelope::EnvelopeHeaders;
use relay_protocol::{EventId, ProjectId};
use relay_quotas::Scoping;
use serde_json::Value;

use crate::managed::ManagedEnvelope;
use crate::services::normalization::NormalizationResources;
use crate::services::projects::ProjectState;

/// The read-only inputs of the processors for one envelope.
pub struct ProcessingContext {
    pub config: Arc<Config>,
    pub project: Arc<ProjectState>,
    pub scoping: Scoping,
    pub received_at: DateTime<Utc>,
    pub headers: EnvelopeHeaders,
    /// The address of the client as seen by the outermost relay (`remote_addr` envelope header)
    /// or, without it, the peer of this relay.
    pub client_addr: Option<IpAddr>,
    /// The request carried the id of an internal static relay (`auth.static_relays` with
    /// `internal: true`): its metric buckets of every namespace are accepted.
    pub trusted_sender: bool,
    /// The GeoIP database and the global config for event normalization.
    pub normalization: NormalizationResources,
}

impl ProcessingContext {
    pub fn new(
        config: Arc<Config>,
        project: Arc<ProjectState>,
        managed: &ManagedEnvelope,
    ) -> ProcessingContext {
        let headers = managed.envelope().headers().clone();
        let client_addr = headers.remote_addr.or(managed.remote_addr());
        ProcessingContext {
            config,
            project,
            scoping: managed.scoping().clone(),
            received_at: managed.received_at(),
            headers,
            client_addr,
            trusted_sender: false,
            normalization: NormalizationResources::default(),
        }
    }

    /// The scoping organization; `0` when the project config has none.
    pub fn organization_id(&self) -> u64 {
        self.scoping.organization_id.unwrap_or(0)
    }

    /// The scoping project id (the config's `projectId`, else the request's).
    pub fn project_id(&self) -> ProjectId {
        self.scoping.project_id.unwrap_or(ProjectId(0))
    }

    /// The numeric id of the DSN key, if the key config has one.
    pub fn key_id(&self) -> Option<u64> {
        self.scoping.key_id
    }

    /// The envelope's `event_id` header.
    pub fn event_id(&self) -> Option<EventId> {
        self.headers.event_id
    }

    /// `config.eventRetention`, default 90 days.
    pub fn event_retention(&self) -> u16 {
        self.project.config.event_retention_days()
    }

    /// `config.retentions.<product>` as (standard, downsampled) days, if configured
    /// (`project-config.md`); `downsampled` falls back to `standard`.
    pub fn product_retention(&self, product: &str) -> Option<(u16, u16)> {
        let retention = self.project.raw_config.get("retentions")?.get(product)?;
        let standard = u16::try_from(retention.get("standard")?.as_u64()?).ok()?;
        let downsampled = retention
            .get("downsampled")
            .and_then(Value::as_u64)
            .and_then(|days| u16::try_from(days).ok())
            .unwrap_or(standard);
        Some((standard, downsampled))
    }

    /// Whether `config.features` contains `feature`.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.project
            .config
            .features
            .iter()
            .any(|enabled| enabled == feature)
    }

    /// The client (`name/version`) from the envelope header, i.e. the SDK.
    pub fn client(&self) -> Option<&str> {
        self.headers.client.as_deref()
    }

    /// `processing.attachment_chunk_size` in bytes, at least 1.
    pub fn attachment_chunk_size(&self) -> NonZeroUsize {
        let bytes = self.config.attachment_chunk_size().as_usize();
        NonZeroUsize::new(bytes).unwrap_or(NonZeroUsize::MIN)
    }

    /// `datascrubbingSettings.scrubIpAddresses`: client IPs must not be filled in.
    pub fn scrub_ip_addresses(&self) -> bool {
        self.project.normalization.scrub_ip_addresses
    }
}
