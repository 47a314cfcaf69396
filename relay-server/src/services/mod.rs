//! Long-running services. Each owns its state and is reached through a cheap handle.

pub mod forwarding;
pub mod health;
pub mod ingest;
pub mod internal_errors;
pub mod metrics;
pub mod outcomes;
pub mod processing;
pub mod projects;
pub mod relays;
pub mod shutdown;
pub mod store;
pub mod upstream;
