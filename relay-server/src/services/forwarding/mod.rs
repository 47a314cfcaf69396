//! Forwarding: where accepted envelopes go in relays that do not process them (managed,
//! proxy and static relays without `processing.enabled`).
//!
//! A managed relay first turns SDK client reports into outcomes and then splits each envelope
//! into one envelope per product ([`split`]), each stamped with the send time as `sent_at`
//! (relay-protocol.md §8.2). Parts that carry events are normalized first ([`normalize`]) on
//! a bounded worker pool, since parsing and normalizing is CPU work that must not run on the
//! HTTP reactor; the memory budget bounds what waits for it (every part holds its envelope's
//! buffer permit). Proxy and static relays forward one envelope per incoming one, unchanged.
//! Every envelope then leaves through the [`sink`]: the upstream send queue, or the output
//! directory.
//!
//! Flow control lives with the upstream send queue: [`Forwarding::wait_for_admission`] lets a
//! request wait for room in it, and SIGUSR1 pauses its dequeuing.

pub mod normalize;
pub mod sink;
pub mod split;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use relay_config::{Config, RelayMode, UpstreamDescriptor};

use self::sink::EnvelopeSink;
use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};
use crate::services::normalization::NormalizationResources;
use crate::services::processing::client_reports::convert_client_reports;
use crate::services::projects::ProjectState;
use crate::services::upstream::UpstreamHandle;
use crate::utils::worker_pool::WorkerPool;

/// The name of the threads that normalize events before forwarding.
const NORMALIZER_THREAD_NAME: &str = "relay-normalize";

/// An envelope part waiting for event normalization.
struct NormalizationJob {
    part: ManagedEnvelope,
    project: Arc<ProjectState>,
    target: Option<UpstreamDescriptor>,
}

/// Handle to the forwarding path; cheap to clone.
#[derive(Clone)]
pub struct Forwarding {
    config: Arc<Config>,
    sink: EnvelopeSink,
    upstream: UpstreamHandle,
    /// The event normalizers of a managed relay; `None` in proxy and static relays.
    normalizers: Option<Arc<WorkerPool<NormalizationJob>>>,
}

impl Forwarding {
    /// Forwarding through `sink`, with flow control from the `upstream` send queue. A managed
    /// relay starts its event normalizers (`limits.max_thread_count` threads); then this must
    /// run inside the tokio runtime the sinks send on.
    pub fn new(
        config: Arc<Config>,
        sink: EnvelopeSink,
        upstream: UpstreamHandle,
        resources: NormalizationResources,
    ) -> std::io::Result<Forwarding> {
        let normalizers = if config.mode() == RelayMode::Managed && !config.processing_enabled() {
            let worker_config = Arc::clone(&config);
            let worker_sink = sink.clone();
            let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
            let pool = WorkerPool::start(
                NORMALIZER_THREAD_NAME,
                config.max_thread_count(),
                config.spool_max_buffered_envelopes().max(1),
                move |job: NormalizationJob| {
                    // The sinks spawn their sends on the runtime.
                    let _runtime = runtime.enter();
                    let NormalizationJob {
                        mut part,
                        project,
                        target,
                    } = job;
                    let normalized = normalize::normalize_event_items(
                        &mut part,
                        &project,
                        &worker_config,
                        &resources,
                    );
                    match normalized {
                        Ok(()) => worker_sink.submit(part, target),
                        Err(outcome) => part.reject(outcome),
                    }
                },
            )?;
            Some(Arc::new(pool))
        } else {
            None
        };
        Ok(Forwarding {
            config,
            sink,
            upstream,
            normalizers,
        })
    }

    /// Forwards an envelope of an enabled project: client reports converted and split per
    /// product in managed mode, unchanged otherwise.
    pub fn submit_checked(
        &self,
        mut managed: ManagedEnvelope,
        state: &Arc<ProjectState>,
        target: Option<UpstreamDescriptor>,
    ) {
        if self.config.mode() != RelayMode::Managed {
            self.sink.submit(managed, target);
            return;
        }
        convert_client_reports(&mut managed, state, &self.config);
        let groups = split::product_groups(managed.envelope().items());
        let sent_at = Utc::now();
        for mut part in managed.split_by(&groups) {
            part.envelope_mut().headers_mut().sent_at = Some(sent_at);
            match &self.normalizers {
                Some(normalizers) if normalize::needs_normalization(&part) => {
                    let job = NormalizationJob {
                        part,
                        project: Arc::clone(state),
                        target: target.clone(),
                    };
                    if let Err((job, error)) = normalizers.try_submit(job) {
                        tracing::error!(
                            error = &error as &dyn std::error::Error,
                            "cannot queue an envelope for event normalization"
                        );
                        job.part.reject(Outcome::Invalid(DiscardReason::Internal));
                    }
                }
                _ => self.sink.submit(part, target.clone()),
            }
        }
    }

    /// Forwards an envelope that has no project state (proxy mode) as it is.
    pub fn submit_unchecked(&self, managed: ManagedEnvelope, target: Option<UpstreamDescriptor>) {
        self.sink.submit(managed, target);
    }

    /// Waits until the upstream send queue has room (flow control, see
    /// `spool.envelopes.max_queued_for_upstream`); `false` when none appeared in time.
    pub async fn wait_for_admission(&self, max_queued: usize, timeout: Duration) -> bool {
        self.upstream.wait_for_admission(max_queued, timeout).await
    }

    /// Pauses or resumes sending envelopes upstream (SIGUSR1); returns whether it now sends.
    pub fn toggle_dequeue(&self) -> bool {
        self.upstream.toggle_envelope_dequeue()
    }

    /// Graceful shutdown: the event normalizers finish what they hold and stop. Blocks the
    /// calling thread.
    pub fn stop(&self) {
        if let Some(normalizers) = &self.normalizers {
            normalizers.join();
        }
    }

    /// Whether [`Forwarding::stop`] has anything to do.
    pub fn needs_stop(&self) -> bool {
        self.normalizers.is_some()
    }
}
