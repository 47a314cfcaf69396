//! Wiring: starts every service for the configured mode and hands the HTTP layer one
//! [`ServiceState`] with their handles.

use std::sync::Arc;

use relay_config::{Config, RelayMode};

use crate::outcome::OutcomeHandle;
use crate::services::forwarding::sink::{DirectorySink, EnvelopeSink, UpstreamSink};
use crate::services::forwarding::Forwarding;
use crate::services::health::HealthCheck;
use crate::services::ingest::{Destination, IngestService};
use crate::services::normalization::NormalizationResources;
use crate::services::outcomes::start_outcome_aggregator;
use crate::services::projects::redis_source::RedisProjectSource;
use crate::services::projects::{fetch, ProjectCache};
use crate::services::relays::RelayKeyCache;
use crate::services::shutdown::ShutdownHandle;
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
        if config.mode() == RelayMode::Static {
            let directory = config
                .path()
                .ok_or_else(|| anyhow::anyhow!("static mode needs a config directory (-c)"))?;
            let loaded = projects.load_static_projects(directory)?;
            tracing::info!(projects = loaded, "loaded static project configs");
        }
        if config.mode() != RelayMode::Managed {
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
            config.spool_max_memory_size().as_usize(),
            config.spool_max_buffered_envelopes(),
        );
        // `cli::run` refuses `processing.enabled` in builds without the processing feature.
        #[cfg(feature = "processing")]
        let store = match config.processing_enabled() {
            true => Some(start_store(&config)?),
            false => None,
        };
        #[cfg(not(feature = "processing"))]
        let store = None;
        let outcomes = start_outcome_aggregator(
            config.clone(),
            sink.clone(),
            store.clone(),
            projects.clone(),
            shutdown.clone(),
        );
        let normalization = NormalizationResources::load(&config, projects.clone())?;
        let forwarding = Forwarding::new(
            config.clone(),
            sink,
            upstream.clone(),
            normalization.clone(),
        )?;
        let destination = match store {
            #[cfg(feature = "processing")]
            Some(store) => start_processing(
                &config,
                store,
                &outcomes,
                &projects,
                &shutdown,
                forwarding,
                normalization,
            )?,
            _ => Destination::Forwarding(forwarding),
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
        if config.mode() == RelayMode::Managed {
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

/// The processing pipeline of a processing relay, with the metrics aggregator it feeds.
#[cfg(feature = "processing")]
fn start_processing(
    config: &Arc<Config>,
    store: crate::services::store::StoreSink,
    outcomes: &OutcomeHandle,
    projects: &ProjectCache,
    shutdown: &ShutdownHandle,
    forwarding: Forwarding,
    normalization: NormalizationResources,
) -> anyhow::Result<Destination> {
    use crate::services::metrics::{sessions_eap_rate, start_metrics_aggregator};
    let metrics = start_metrics_aggregator(
        config.clone(),
        store.clone(),
        outcomes.clone(),
        shutdown.clone(),
        sessions_eap_rate(projects.clone()),
    );
    let pipeline = crate::services::processing::ProcessingService::start(
        config.clone(),
        store,
        metrics,
        normalization,
    )?;
    Ok(Destination::Processing {
        pipeline,
        forwarding,
        config: config.clone(),
    })
}

/// The Kafka producers, or the topic files of the embedded default (no `kafka_config`).
#[cfg(feature = "processing")]
fn start_store(config: &Config) -> anyhow::Result<crate::services::store::StoreSink> {
    let topics_directory = config
        .output_topics_dir()
        .unwrap_or_else(|| std::path::PathBuf::from(relay_config::OUTPUT_TOPICS_DIR_NAME));
    let store = crate::services::store::StoreSink::from_config(config, &topics_directory)?;
    if let crate::services::store::StoreSink::Files(_) = &store {
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
