//! Long-running services. Each owns its state and is reached through a cheap handle.

pub mod forwarding;
pub mod health;
pub mod ingest;
pub mod internal_errors;
#[cfg(feature = "processing")]
pub mod metrics;
pub mod normalization;
pub mod outcomes;
pub mod processing;
pub mod projects;
pub mod relays;
pub mod shutdown;
#[cfg(feature = "processing")]
pub mod store;
pub mod upstream;
