//! Long-running services. Each owns its state and is reached through a cheap handle.

pub mod forward;
pub mod health;
pub mod internal_errors;
pub mod managed;
pub mod metrics;
pub mod outcome;
pub mod processing;
pub mod processor;
pub mod projects;
pub mod relays;
pub mod shutdown;
pub mod store;
pub mod upstream;
