//! [`Destination`]: where envelopes that passed the fast path go, as one handle with two
//! implementations — forwarding (managed, proxy and static relays) and the processing
//! pipeline (processing relays). The endpoints and the server talk to this handle only: they
//! never ask which kind of relay they run in.
//!
//! Both implementations offer the same three controls: admission (requests wait for room
//! instead of filling the memory budget), pause/resume (SIGUSR1) and stop (graceful
//! shutdown).

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "processing")]
use relay_config::Config;
use relay_config::UpstreamDescriptor;

use crate::managed::ManagedEnvelope;
use crate::services::forwarding::Forwarding;
#[cfg(feature = "processing")]
use crate::services::processing::client_reports::convert_client_reports;
#[cfg(feature = "processing")]
use crate::services::processing::ProcessingService;
use crate::services::projects::ProjectState;

/// Where accepted envelopes go; cheap to clone.
#[derive(Clone)]
pub enum Destination {
    /// Forwarded to the upstream (or the output directory).
    Forwarding(Forwarding),
    /// Processed and produced to Kafka (only in builds with the `processing` feature).
    /// Envelopes without a project state (proxy mode) are
    /// still forwarded unchanged through `forwarding`.
    #[cfg(feature = "processing")]
    Processing {
        /// The processing pipeline.
        pipeline: ProcessingService,
        /// For envelopes without a project state.
        forwarding: Forwarding,
        /// The relay's config (client report conversion needs it).
        config: Arc<Config>,
    },
}

/// `fully_normalized` lets a relay skip normalization only when a trusted relay set it
/// (`processing.md` §3.1): from anyone else (an SDK, an untrusted relay) it is cleared, so
/// the managed relay normalizes the event and the upstream, which trusts this relay, does
/// not skip an event nobody normalized.
fn distrust_normalization_flags(managed: &mut ManagedEnvelope) {
    for item in managed.envelope_mut().items_mut() {
        if item.fully_normalized() {
            item.set_fully_normalized(false);
        }
    }
}

impl Destination {
    /// Sends an envelope of an enabled project that passed every check on its way.
    pub fn submit_checked(
        &self,
        mut managed: ManagedEnvelope,
        state: &Arc<ProjectState>,
        target: Option<UpstreamDescriptor>,
        trusted_sender: bool,
    ) {
        match self {
            Destination::Forwarding(forwarding) => {
                if !trusted_sender {
                    distrust_normalization_flags(&mut managed);
                }
                forwarding.submit_checked(managed, state, target)
            }
            #[cfg(feature = "processing")]
            Destination::Processing {
                pipeline, config, ..
            } => {
                convert_client_reports(&mut managed, state, config);
                if managed.envelope().is_empty() {
                    managed.accept();
                    return;
                }
                pipeline.submit(managed, Arc::clone(state), trusted_sender);
            }
        }
    }

    /// Sends an envelope without a project state (proxy mode) on unchanged.
    pub fn submit_unchecked(&self, managed: ManagedEnvelope, target: Option<UpstreamDescriptor>) {
        self.forwarding().submit_unchecked(managed, target);
    }

    /// Flow control: waits until the destination has room for one more envelope (fewer than
    /// `max_queued` waiting), at most `timeout`. Returns whether there is room.
    pub async fn wait_for_admission(&self, max_queued: usize, timeout: Duration) -> bool {
        match self {
            Destination::Forwarding(forwarding) => {
                forwarding.wait_for_admission(max_queued, timeout).await
            }
            #[cfg(feature = "processing")]
            Destination::Processing { pipeline, .. } => {
                pipeline.wait_for_admission(max_queued, timeout).await
            }
        }
    }

    /// Pauses or resumes handing envelopes on (SIGUSR1); returns whether it now hands on.
    pub fn toggle_dequeue(&self) -> bool {
        match self {
            Destination::Forwarding(forwarding) => forwarding.toggle_dequeue(),
            #[cfg(feature = "processing")]
            Destination::Processing { pipeline, .. } => pipeline.toggle_dequeue(),
        }
    }

    /// Graceful shutdown, after the HTTP servers stopped and the buffers drained: the
    /// processing pipeline runs what it still holds and flushes its producers (at most
    /// `timeout`); forwarding stops its event normalizers (the buffers drained, so they hold
    /// nothing unless the drain timed out). Blocks the calling thread.
    pub fn stop(
        &self,
        #[cfg_attr(not(feature = "processing"), allow(unused_variables))] timeout: Duration,
    ) {
        match self {
            Destination::Forwarding(forwarding) => forwarding.stop(),
            #[cfg(feature = "processing")]
            Destination::Processing { pipeline, .. } => pipeline.stop(timeout),
        }
    }

    /// Whether [`Destination::stop`] does work (the outcome aggregator then gets a moment to
    /// produce its last messages first).
    pub fn needs_stop(&self) -> bool {
        match self {
            Destination::Forwarding(forwarding) => forwarding.needs_stop(),
            #[cfg(feature = "processing")]
            Destination::Processing { .. } => true,
        }
    }

    fn forwarding(&self) -> &Forwarding {
        match self {
            Destination::Forwarding(forwarding) => forwarding,
            #[cfg(feature = "processing")]
            Destination::Processing { forwarding, .. } => forwarding,
        }
    }
}
