//! Wiring: starts every service for the configured mode and hands the HTTP layer one
//! [`ServiceState`] with their handles.

use std::sync::Arc;

use relay_config::{Config, RelayMode};

use crate::outcome::OutcomeHandle;
use crate::services::forwarding::sink::{DirectorySink, EnvelopeSink, UpstreamSink};
use crate::services::forwarding::Forwarding;
use crate::services::health::HealthCheck;
use crate::services::ingest::{Destination, IngestService};
use crate::services::metrics::{sessions_eap_rate, start_metrics_aggregator};
use crate::services::outcomes::start_outcome_aggregator;
use crate::services::processing::ProcessingService;
use crate::services::projects::redis_source::RedisProjectSource;
use crate::services::projects::{fetch, ProjectCache};
use crate::services::relays::RelayKeyCache;
use crate::services::shutdown::ShutdownHandle;
use crate::services::store::StoreSink;
use crate::services::upstream::UpstreamHandle;
use crate::utils::budget::MemoryBudget;

/// Handles to every service, shared by all HTTP workers.
#[derive(Clone)]
pub struct ServiceState {
    pub config: Arc<Config>,
    pub ingest: IngestService,
    pub upstream: UpstreamHandle,
    pub outcomes: OutcomeHandle,
    pub relays: RelayKeyCache,
    pub health: HealthCheck,
    pub shutdown: ShutdownHandle,
}

impl ServiceState {
    /// Starts the services. Must run inside the tokio runtime that will host them.
    pub fn start(config: Arc<Config>, shutdown: ShutdownHandle) -> anyhow::Result<ServiceState> {
        let upstream = UpstreamHandle::start(config.clone(), shutdown.clone())?;
        let projects = ProjectCache::new(config.clone());
        if config.values.relay.mode == RelayMode::Static {
            let directory = config
                .path()
                .ok_or_else(|| anyhow::anyhow!("static mode needs a config directory (-c)"))?;
            let loaded = projects.load_static_projects(directory)?;
            tracing::info!(projects = loaded, "loaded static project configs");
        }
        if config.values.relay.mode != RelayMode::Managed {
            if let Some(global) = load_local_global_config(&config) {
                projects.set_global_config(global);
            }
        }

        let sink = match config.output_directory() {
            Some(directory) => EnvelopeSink::Directory(DirectorySink::new(directory.clone())?),
            None => EnvelopeSink::Upstream(UpstreamSink::new(
                config.clone(),
                upstream.clone(),
                projects.clone(),
            )),
        };
        let budget = MemoryBudget::new(
            config.values.spool.envelopes.max_memory_size.as_bytes() as usize,
            config.values.spool.envelopes.max_buffered_envelopes,
        );
        let store = if config.processing_enabled() {
            Some(start_store(&config)?)
        } else {
            None
        };
        let outcomes = start_outcome_aggregator(
            config.clone(),
            sink.clone(),
            store.clone(),
            projects.clone(),
            shutdown.clone(),
        );
        let forwarding = Forwarding::new(config.clone(), sink, upstream.clone());
        let destination = match store {
            Some(store) => {
                let metrics = start_metrics_aggregator(
                    config.clone(),
                    store.clone(),
                    outcomes.clone(),
                    shutdown.clone(),
                    sessions_eap_rate(projects.clone()),
                );
                Destination::Processing {
                    pipeline: ProcessingService::start(config.clone(), store, metrics)?,
                    forwarding,
                    config: config.clone(),
                }
            }
            None => Destination::Forwarding(forwarding),
        };
        let ingest = IngestService::start(
            config.clone(),
            projects.clone(),
            destination,
            budget.clone(),
            shutdown.clone(),
        );
        // Processing with `processing.redis`: project configs are read from Redis first. Never
        // fails for an unreachable Redis, only for a broken setting.
        let redis_projects = RedisProjectSource::start(&config, shutdown.clone())?;
        if config.values.relay.mode == RelayMode::Managed {
            fetch::start_fetchers(
                projects.clone(),
                upstream.clone(),
                shutdown.clone(),
                redis_projects.clone(),
            );
        }
        let relays = RelayKeyCache::start(config.clone(), upstream.clone(), shutdown.clone());
        let health = HealthCheck::start(
            config.clone(),
            upstream.clone(),
            budget,
            shutdown.clone(),
            redis_projects,
        );
        Ok(ServiceState {
            config,
            ingest,
            upstream,
            outcomes,
            relays,
            health,
            shutdown,
        })
    }

    /// Whether the memory watermark refuses new data (http-api.md §6.1).
    pub fn memory_exhausted(&self) -> bool {
        self.health.memory_exhausted()
    }
}

/// The Kafka producers, or the topic files of the embedded default (no `kafka_config`).
fn start_store(config: &Config) -> anyhow::Result<StoreSink> {
    let topics_directory = config
        .output_topics_dir()
        .unwrap_or_else(|| std::path::PathBuf::from(relay_config::OUTPUT_TOPICS_DIR_NAME));
    let store = StoreSink::from_config(config, &topics_directory)?;
    if let StoreSink::Files(_) = &store {
        tracing::info!(
            directory = %topics_directory.display(),
            "no processing.kafka_config: writing kafka messages to one file per topic"
        );
    }
    Ok(store)
}

/// `global_config.json` of the config directory (non-managed modes, relay-protocol.md §5.6).
fn load_local_global_config(config: &Config) -> Option<serde_json::Value> {
    let path = match config.path() {
        Some(directory) => directory.join("global_config.json"),
        None => std::path::PathBuf::from("global_config.json"),
    };
    let text = std::fs::read(&path).ok()?;
    match serde_json::from_slice(&text) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::error!(path = %path.display(), error = %error, "invalid global config, using defaults");
            None
        }
    }
}
