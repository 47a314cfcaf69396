//! The processing pipeline of a processing relay (`processing.md` §2–§3).
//!
//! An envelope of an enabled project that passed the project checks is handed to
//! [`ProcessingService::submit`]. It is queued for the bounded [`WorkerPool`](crate::utils::worker_pool::WorkerPool) (CPU-heavy
//! work never runs on the HTTP reactor threads); a worker runs the processors in the fixed
//! order of §2, each taking the items it understands out of the envelope, and the resulting
//! [`StoreRequest`]s are produced to Kafka (or the topic files of the embedded default).
//!
//! Accounting (outcomes.md): every item either ends up in a store request or is tracked as an
//! outcome by its processor; leftovers are rejected with `invalid/internal`. The envelope's
//! buffer permit is held until Kafka acknowledged every message, so a slow or unreachable
//! broker fills the memory budget and the endpoints answer 503 instead of buffering without
//! bound. Messages that cannot be enqueued after retries, or whose delivery fails, become
//! `invalid/internal` outcomes for what their request carried.
//!
//! Every processor follows the skeleton of §2 (expand → validate → normalize → filters →
//! sampling → quotas → PII → metrics → store); stages that later work fills in are explicit
//! functions in [`stages`], so adding them is local.

#[cfg(feature = "processing")]
pub mod attachments;
#[cfg(feature = "processing")]
pub mod check_ins;
pub mod client_reports;
#[cfg(feature = "processing")]
pub mod context;
#[cfg(feature = "processing")]
pub mod errors;
#[cfg(feature = "processing")]
pub mod event;
#[cfg(feature = "processing")]
pub mod logs;
#[cfg(feature = "processing")]
pub mod metric_buckets;
#[cfg(feature = "processing")]
pub mod output;
#[cfg(feature = "processing")]
pub mod profiles;
#[cfg(feature = "processing")]
pub mod replays;
#[cfg(feature = "processing")]
pub mod security;
#[cfg(feature = "processing")]
mod service;
#[cfg(feature = "processing")]
pub mod sessions;
#[cfg(feature = "processing")]
pub mod spans;
#[cfg(feature = "processing")]
pub mod stages;
#[cfg(feature = "processing")]
pub mod trace_attachments;
#[cfg(feature = "processing")]
pub mod trace_metrics;
#[cfg(feature = "processing")]
pub mod transactions;
#[cfg(feature = "processing")]
pub mod unreal;
#[cfg(feature = "processing")]
pub mod user_reports;

#[cfg(feature = "processing")]
pub use context::ProcessingContext;
#[cfg(feature = "processing")]
pub use output::{ProcessingOutput, StoreRequest};
#[cfg(feature = "processing")]
pub use service::ProcessingService;
