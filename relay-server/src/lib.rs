//! The `relay` server: HTTP endpoints and the services that move envelopes upstream.
//!
//! Layout:
//! - [`cli`]: the command line (`run`, `credentials`, `config`, `healthcheck`, …).
//! - [`server`]: starts the services and listeners, handles signals and shutdown.
//! - [`endpoints`]: one module per route group of http-api.md.
//! - [`extractors`], [`middlewares`]: request authentication, bodies, CORS, encodings.
//! - [`services`]: upstream queue, project cache, processor, outcomes, health, relay keys.
//! - [`utils`]: small shared helpers (backoff, memory budget, encodings, origins).

pub mod cli;
pub mod cli_project_config;
pub mod endpoints;
pub mod extractors;
pub mod logging;
pub mod managed;
pub mod middlewares;
pub mod outcome;
pub mod processing_checks;
pub mod server;
pub mod service;
pub mod services;
pub mod utils;

/// The Relay protocol version this relay implements and reports to the world
/// (`--version`, registration, user agent): upstreams gate features on it.
pub const RELAY_VERSION: &str = "26.9.0";

/// Our own build identity, for the startup log.
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
