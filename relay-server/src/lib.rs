//! The `relay` server: HTTP endpoints and the services that move envelopes to the upstream or
//! to Kafka. `docs/architecture.md` walks one envelope through them.
//!
//! Layers, top to bottom (a module only uses modules below it; `scripts/check-module-cycles.py`
//! keeps it so):
//! - [`cli`], [`server`]: the command line; starting services and listeners, signals, shutdown.
//! - [`service`]: wiring — starts every service and hands the HTTP layer their handles.
//! - [`endpoints`], [`extractors`], [`middlewares`]: HTTP. The only layer that knows status
//!   codes and error bodies.
//! - [`services`]: the ingest fast path, forwarding, the processing pipeline, and the services
//!   they use (upstream, project cache, store, outcome and metrics aggregators, health).
//! - [`managed`], [`outcome`]: an envelope whose fate is accounted for; the outcome vocabulary.
//! - [`utils`]: small shared helpers (memory budget, backoff, encodings, origins, error body).

pub mod cli;
#[cfg(feature = "processing")]
mod cli_project_config;
mod endpoints;
mod extractors;
mod logging;
mod managed;
mod middlewares;
mod outcome;
#[cfg(feature = "processing")]
mod processing_checks;
mod server;
mod service;
mod services;
#[cfg(test)]
mod testutils;
mod utils;

/// The Relay protocol version this relay implements and reports to the world
/// (`--version`, registration, user agent): upstreams gate features on it.
pub const RELAY_VERSION: &str = "26.9.0";

/// Our own build identity, for the startup log.
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
