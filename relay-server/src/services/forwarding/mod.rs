//! Forwarding: where accepted envelopes go in relays that do not process them (managed,
//! proxy and static relays without `processing.enabled`).
//!
//! A managed relay first turns SDK client reports into outcomes and then splits each envelope
//! into one envelope per product ([`split`]), each stamped with the send time as `sent_at`
//! (relay-protocol.md §8.2). Proxy and static relays forward one envelope per incoming one,
//! unchanged. Every envelope then leaves through the [`sink`]: the upstream send queue, or
//! the output directory.
//!
//! Flow control lives with the upstream send queue: [`Forwarding::wait_for_admission`] lets a
//! request wait for room in it, and SIGUSR1 pauses its dequeuing.

pub mod sink;
pub mod split;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use relay_config::{Config, RelayMode, UpstreamDescriptor};

use self::sink::EnvelopeSink;
use crate::managed::ManagedEnvelope;
use crate::services::processing::client_reports::convert_client_reports;
use crate::services::projects::ProjectState;
use crate::services::upstream::UpstreamHandle;

/// Handle to the forwarding path; cheap to clone.
#[derive(Clone)]
pub struct Forwarding {
    config: Arc<Config>,
    sink: EnvelopeSink,
    upstream: UpstreamHandle,
}

impl Forwarding {
    /// Forwarding through `sink`, with flow control from the `upstream` send queue.
    pub fn new(config: Arc<Config>, sink: EnvelopeSink, upstream: UpstreamHandle) -> Forwarding {
        Forwarding {
            config,
            sink,
            upstream,
        }
    }

    /// Forwards an envelope of an enabled project: client reports converted and split per
    /// product in managed mode, unchanged otherwise.
    pub fn submit_checked(
        &self,
        mut managed: ManagedEnvelope,
        state: &ProjectState,
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
            self.sink.submit(part, target.clone());
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
}
