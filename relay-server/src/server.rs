//! Running relay: starts the services and the HTTP listeners, then waits for a signal and
//! shuts down (config.md §5).
//!
//! Graceful shutdown (`SIGTERM`): readiness turns false, the listeners stop accepting, and
//! relay waits up to `limits.shutdown_timeout` for every buffered envelope to leave (delivered
//! upstream or written); whatever is left then is accounted as `internal` outcomes. `SIGINT`,
//! `SIGQUIT` or a second signal end the process without waiting.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::middleware::{self, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use relay_config::{Config, OverridableConfig};
use tokio::signal::unix::{signal, SignalKind};

use crate::endpoints;
use crate::middlewares::compression::compress_responses;
use crate::middlewares::{content_encoding_gate, merge_slashes};
use crate::outcome::{DiscardReason, Outcome};
use crate::service::ServiceState;
use crate::services::shutdown::ShutdownHandle;
use crate::RELAY_VERSION;

/// How often the drain checks whether everything left.
const DRAIN_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Time the outcome aggregator gets to hand its final reports to the upstream queue.
const OUTCOME_FLUSH_GRACE: Duration = Duration::from_millis(100);
/// How long a client may take to send its request headers (http-api.md §1).
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Which routes a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RouteSet {
    /// Everything (no separate internal listener).
    All,
    /// Everything but the internal routes, which answer 404 here.
    Public,
    /// Only health checks and autoscaling.
    Internal,
}

fn create_app(
    data: web::Data<ServiceState>,
    routes: RouteSet,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(data)
        .configure(move |config| match routes {
            RouteSet::All => endpoints::configure_main(config, true),
            RouteSet::Public => endpoints::configure_main(config, false),
            RouteSet::Internal => endpoints::configure_internal(config),
        })
        .wrap(middleware::from_fn(compress_responses))
        .wrap(middleware::from_fn(content_encoding_gate))
        .wrap(middleware::from_fn(merge_slashes))
        .wrap(
            DefaultHeaders::new()
                .add(("Server", format!("sentry-relay/{RELAY_VERSION}")))
                .add(("Cross-Origin-Resource-Policy", "cross-origin")),
        )
}

/// HTTP workers for `limits.max_thread_count` threads.
///
/// Receiving is cheaper than forwarding (which serializes, compresses and waits on the
/// upstream), so half the threads serve HTTP and the async runtime gets all of them; measured
/// on 2 cores, one HTTP worker instead of two raised the edge benchmark from 15.7k to 17.3k
/// envelopes/s and halved its p99 (BENCHMARKS.md), mostly through fewer context switches.
fn http_worker_count(threads: usize) -> usize {
    threads.div_ceil(2).max(1)
}

/// Re-reads the config directory every `relay.config_reload_interval` and applies the
/// `health` section (config.md §1.3; everything else needs a restart). A config that fails to
/// load leaves the running one untouched.
async fn run_config_reload(
    state: ServiceState,
    directory: PathBuf,
    overrides: OverridableConfig,
    interval: Duration,
) {
    let mut current = state.config.health().clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = state.shutdown.finished() => return,
        }
        let loaded = Config::from_path(&directory, true).and_then(|mut config| {
            config.apply_overrides(overrides.clone())?;
            Ok(config)
        });
        match loaded {
            Ok(config) if *config.health() != current => {
                tracing::info!("applying reloaded health config");
                current = config.health().clone();
                state.health.update_config(current.clone());
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(error = %error, "config reload failed, keeping the running config")
            }
        }
    }
}

/// Runs relay until it is told to stop. `overrides` are applied again on every config reload.
pub async fn run(config: Arc<Config>, overrides: OverridableConfig) -> anyhow::Result<()> {
    crate::logging::start_internal_error_reporting();
    let shutdown = ShutdownHandle::new();
    let state = ServiceState::start(config.clone(), shutdown.clone())?;

    let workers = http_worker_count(config.max_thread_count());
    let internal_addr = config.internal_listen_addr();
    let main_addr = config.listen_addr();

    let data = web::Data::new(state.clone());
    let main_routes = if internal_addr.is_some() {
        RouteSet::Public
    } else {
        RouteSet::All
    };
    let main_data = data.clone();
    let mut main = HttpServer::new(move || create_app(main_data.clone(), main_routes))
        .workers(workers)
        .backlog(config.tcp_listen_backlog())
        .keep_alive(config.keepalive_timeout())
        .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
        .disable_signals()
        .shutdown_timeout(config.shutdown_timeout().as_secs());
    if let Some(max_connections) = config.max_connections() {
        main = main.max_connections(max_connections);
    }
    let main = main
        .bind_auto_h2c(main_addr)
        .map_err(|error| anyhow::anyhow!("could not bind to {main_addr}: {error}"))?
        .run();
    let main_handle = main.handle();
    tracing::info!(address = %main_addr, "spawning http server");
    let main_task = tokio::spawn(main);

    let internal = match internal_addr {
        Some(address) => {
            let internal_data = data.clone();
            let server =
                HttpServer::new(move || create_app(internal_data.clone(), RouteSet::Internal))
                    .workers(1)
                    .disable_signals()
                    .bind(address)
                    .map_err(|error| anyhow::anyhow!("could not bind to {address}: {error}"))?
                    .run();
            tracing::info!(address = %address, "spawning internal http server");
            let handle = server.handle();
            Some((handle, tokio::spawn(server)))
        }
        None => None,
    };

    if let (Some(interval), Some(directory)) = (config.config_reload_interval(), config.path()) {
        tokio::spawn(run_config_reload(
            state.clone(),
            directory.to_path_buf(),
            overrides,
            interval,
        ));
    }

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigquit = signal(SignalKind::quit())?;
    let mut sigusr1 = signal(SignalKind::user_defined1())?;
    let graceful = loop {
        tokio::select! {
            _ = sigterm.recv() => break true,
            _ = sigint.recv() => break false,
            _ = sigquit.recv() => break false,
            _ = sigusr1.recv() => {
                let dequeue = state.ingest.destination().toggle_dequeue();
                tracing::info!("SIGUSR1 receive, dequeue={dequeue}");
            }
        }
    };

    shutdown.begin();
    tracing::info!(graceful, "shutting down");
    if graceful {
        main_handle.stop(true).await;
        let deadline = Instant::now() + config.shutdown_timeout();
        tokio::select! {
            _ = drain(&state, deadline) => {}
            _ = sigterm.recv() => tracing::info!("second signal, shutting down immediately"),
            _ = sigint.recv() => tracing::info!("second signal, shutting down immediately"),
            _ = sigquit.recv() => tracing::info!("second signal, shutting down immediately"),
        }
    } else {
        main_handle.stop(false).await;
    }
    account_undelivered(&state);
    shutdown.finish();
    let destination = state.ingest.destination().clone();
    if destination.needs_stop() {
        // The outcome aggregator produces its last messages when it sees `Finished`; give it
        // a moment, then run what the workers still hold and flush the Kafka producers.
        tokio::time::sleep(OUTCOME_FLUSH_GRACE).await;
        let timeout = config.shutdown_timeout().max(Duration::from_secs(1));
        let stopped = tokio::task::spawn_blocking(move || destination.stop(timeout)).await;
        if stopped.is_err() {
            tracing::error!("flushing the kafka producers failed");
        }
    }
    if let Some((handle, task)) = internal {
        handle.stop(false).await;
        let _ = task.await;
    }
    let _ = main_task.await;
    tracing::info!("relay shutdown complete");
    Ok(())
}

/// Waits until nothing is buffered or in flight, or the deadline passes.
async fn drain(state: &ServiceState, deadline: Instant) {
    tokio::time::sleep(OUTCOME_FLUSH_GRACE).await;
    loop {
        let budget = state.ingest.budget();
        let idle = budget.used_envelopes() == 0
            && state.upstream.queued_len() == 0
            && state.upstream.in_flight() == 0;
        if idle {
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                buffered = budget.used_envelopes(),
                queued = state.upstream.queued_len(),
                "shutdown timeout reached with envelopes still buffered"
            );
            return;
        }
        tokio::time::sleep(DRAIN_POLL_INTERVAL).await;
    }
}

/// Everything still held when relay stops is lost; each item becomes an outcome.
fn account_undelivered(state: &ServiceState) {
    for pending in state.ingest.projects().take_all_parked() {
        pending
            .envelope
            .reject(Outcome::Invalid(DiscardReason::Internal));
    }
    state.upstream.abandon_queued();
}
