//! Small helpers shared by endpoints and services.

pub mod api_error;
pub mod backoff;
pub mod budget;
pub mod encoding;
pub mod multipart;
pub mod origin;
pub mod relay_envelope;
pub mod worker_pool;
