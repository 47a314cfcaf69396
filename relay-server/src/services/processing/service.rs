//! The processing service: the bounded worker pool that runs the processors of an envelope
//! in the fixed order of `processing.md` §2 and hands their messages to the store.

use std::sync::Arc;
use std::time::Duration;

use relay_config::Config;
use relay_protocol::envelope::ItemType;

use super::output::{self, ProcessingOutput, StoreRequest};
use super::{
    attachments, check_ins, errors, logs, metric_buckets, profiles, replays, sessions, spans,
    trace_attachments, trace_metrics, transactions, user_reports, ProcessingContext,
};

use crate::managed::{ManagedEnvelope, OutcomeTracker};
use crate::outcome::{DiscardReason, Outcome};
use crate::services::metrics::MetricsHandle;
use crate::services::normalization::NormalizationResources;
use crate::services::projects::ProjectState;
use crate::services::store::{Delivery, StoreSink};
use crate::utils::budget::BufferPermit;
use crate::utils::worker_pool::WorkerPool;

/// Name prefix of the worker threads.
const WORKER_THREAD_NAME: &str = "relay-processor";

/// One envelope for the workers.
struct ProcessingJob {
    managed: ManagedEnvelope,
    project: Arc<ProjectState>,
    /// The request came from an internal static relay (`auth.static_relays`).
    trusted_sender: bool,
}

/// Handle to the processing pipeline; cheap to clone.
#[derive(Clone)]
pub struct ProcessingService {
    inner: Arc<ServiceInner>,
}

struct ServiceInner {
    pool: WorkerPool<ProcessingJob>,
    store: StoreSink,
    dequeue: Arc<DequeueGate>,
    /// Signalled whenever a worker finished an envelope (room in the queue).
    room: Arc<tokio::sync::Notify>,
}

/// What the workers share.
struct Worker {
    config: Arc<Config>,
    store: StoreSink,
    metrics: MetricsHandle,
    normalization: NormalizationResources,
    runtime: tokio::runtime::Handle,
    room: Arc<tokio::sync::Notify>,
    dequeue: Arc<DequeueGate>,
}

/// `SIGUSR1` (config.md §5): while closed, workers hand no envelope on for processing;
/// envelopes keep being accepted and queued (within the memory budget) meanwhile.
#[derive(Default)]
struct DequeueGate {
    paused: parking_lot::Mutex<bool>,
    resumed: parking_lot::Condvar,
}

impl DequeueGate {
    fn is_paused(&self) -> bool {
        *self.paused.lock()
    }

    /// Flips the gate; returns whether dequeuing is on afterwards.
    fn toggle(&self) -> bool {
        let mut paused = self.paused.lock();
        *paused = !*paused;
        self.resumed.notify_all();
        !*paused
    }

    fn open(&self) {
        *self.paused.lock() = false;
        self.resumed.notify_all();
    }

    /// Blocks the worker thread while paused.
    fn wait_until_open(&self) {
        let mut paused = self.paused.lock();
        while *paused {
            self.resumed.wait(&mut paused);
        }
    }
}

impl ProcessingService {
    /// Starts the workers (`limits.max_thread_count`). Must run inside the tokio runtime that
    /// awaits Kafka deliveries.
    pub fn start(
        config: Arc<Config>,
        store: StoreSink,
        metrics: MetricsHandle,
        normalization: NormalizationResources,
    ) -> std::io::Result<ProcessingService> {
        let room = Arc::new(tokio::sync::Notify::new());
        let dequeue = Arc::new(DequeueGate::default());
        let worker = Worker {
            dequeue: Arc::clone(&dequeue),
            config: config.clone(),
            store: store.clone(),
            metrics,
            normalization,
            runtime: tokio::runtime::Handle::current(),
            room: Arc::clone(&room),
        };
        let pool = WorkerPool::start(
            WORKER_THREAD_NAME,
            config.max_thread_count(),
            config.spool_max_buffered_envelopes().max(1),
            move |job: ProcessingJob| {
                worker.dequeue.wait_until_open();
                worker.process(job);
                worker.room.notify_waiters();
            },
        )?;
        Ok(ProcessingService {
            inner: Arc::new(ServiceInner {
                pool,
                store,
                dequeue,
                room,
            }),
        })
    }

    /// Flow control for ingestion (the processing counterpart of the upstream's admission,
    /// `spool.envelopes.max_queued_for_upstream` / `admission_timeout_ms`): waits until fewer
    /// than `max_queued` envelopes wait for a worker, at most `timeout`. While processing
    /// keeps up this returns at once; when clients send faster than the workers process,
    /// requests wait here instead of filling the memory budget, so the budget's 503 is left
    /// for a broker that does not acknowledge. Returns whether there is room.
    pub async fn wait_for_admission(&self, max_queued: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a wakeup between check and wait is not missed.
            let room = self.inner.room.notified();
            // Paused by SIGUSR1: envelopes are accepted into the queue, the budget bounds it.
            if self.inner.dequeue.is_paused() || self.inner.pool.queued() < max_queued {
                return true;
            }
            if tokio::time::timeout_at(deadline, room).await.is_err() {
                return self.inner.pool.queued() < max_queued;
            }
        }
    }

    /// Queues an envelope that passed the project checks.
    pub fn submit(
        &self,
        managed: ManagedEnvelope,
        project: Arc<ProjectState>,
        trusted_sender: bool,
    ) {
        let job = ProcessingJob {
            managed,
            project,
            trusted_sender,
        };
        if let Err((job, error)) = self.inner.pool.try_submit(job) {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "cannot queue envelope for processing"
            );
            job.managed
                .reject(Outcome::Invalid(DiscardReason::Internal));
        }
    }

    /// Pauses or resumes handing envelopes to the processors (`SIGUSR1`); returns whether
    /// dequeuing is on afterwards.
    pub fn toggle_dequeue(&self) -> bool {
        self.inner.dequeue.toggle()
    }

    /// Graceful shutdown: runs what is queued, then flushes the producers (at most `timeout`).
    /// Blocks the calling thread.
    pub fn stop(&self, timeout: Duration) {
        // Paused workers would never finish the queue.
        self.inner.dequeue.open();
        self.inner.pool.join();
        self.inner.store.flush(timeout);
    }
}

impl Worker {
    fn process(&self, job: ProcessingJob) {
        let ProcessingJob {
            mut managed,
            project,
            trusted_sender,
        } = job;
        let mut context = ProcessingContext::new(self.config.clone(), project, &managed);
        context.trusted_sender = trusted_sender;
        context.normalization = self.normalization.clone();
        let mut output = ProcessingOutput::default();
        run_processors(&context, &mut managed, &mut output);

        let tracker = managed.tracker();
        let permit = managed.shared_permit();
        if managed.envelope().is_empty() {
            managed.accept();
        } else {
            let leftover: Vec<String> = managed
                .envelope()
                .items()
                .iter()
                .map(|item| item.ty().name().to_owned())
                .collect();
            tracing::error!(?leftover, "items left over after processing");
            managed.reject(Outcome::Invalid(DiscardReason::Internal));
        }
        if !output.buckets.is_empty() {
            self.metrics.merge(std::mem::take(&mut output.buckets));
        }
        self.produce(output.requests, tracker, permit);
    }

    /// Enqueues every request's messages; awaits their deliveries on the runtime while holding
    /// the envelope's buffer permit.
    fn produce(
        &self,
        requests: Vec<StoreRequest>,
        tracker: OutcomeTracker,
        permit: Option<Arc<BufferPermit>>,
    ) {
        let mut pending: Vec<(Vec<Delivery>, output::Quantities)> = Vec::new();
        for request in requests {
            let mut deliveries = Vec::with_capacity(request.messages.len());
            let mut failed = false;
            for (topic, message) in request.messages {
                // A worker thread, not the async runtime: pausing on a full queue is
                // backpressure.
                match self.store.send_with_retries_blocking(topic, message) {
                    Ok(delivery) => deliveries.push(delivery),
                    Err(error) => {
                        tracing::error!(
                            error = &error as &dyn std::error::Error,
                            "failed to produce kafka message"
                        );
                        failed = true;
                        break;
                    }
                }
            }
            if failed {
                track_quantities(&tracker, &request.quantities);
            }
            // Messages of a failed request that were enqueued still get delivered; their data
            // is already counted as lost, so their reports are only awaited for the permit.
            let quantities = if failed {
                output::Quantities::new()
            } else {
                request.quantities
            };
            if deliveries
                .iter()
                .any(|delivery| matches!(delivery, Delivery::Kafka(_)))
            {
                pending.push((deliveries, quantities));
            }
        }
        if pending.is_empty() {
            return;
        }
        self.runtime.spawn(async move {
            for (deliveries, quantities) in pending {
                let mut delivered = true;
                for delivery in deliveries {
                    if let Err(error) = delivery.wait().await {
                        tracing::error!(
                            error = &error as &dyn std::error::Error,
                            "kafka message was not delivered"
                        );
                        delivered = false;
                    }
                }
                if !delivered {
                    track_quantities(&tracker, &quantities);
                }
            }
            drop(permit);
        });
    }
}

fn track_quantities(tracker: &OutcomeTracker, quantities: &output::Quantities) {
    for (category, quantity) in quantities {
        tracker.track(
            Outcome::Invalid(DiscardReason::Internal),
            *category,
            *quantity,
        );
    }
}

/// The processors of §2 in their fixed order.
fn run_processors(
    context: &ProcessingContext,
    managed: &mut ManagedEnvelope,
    output: &mut ProcessingOutput,
) {
    // Client reports were turned into outcomes before processing (ingest/destination.rs).
    sessions::process(context, managed, output);
    metric_buckets::process(context, managed, output);
    replays::process(context, managed, output);
    spans::process(context, managed, output);
    logs::process(context, managed, output);
    trace_metrics::process(context, managed, output);
    profiles::process_chunks(context, managed, output);
    check_ins::process(context, managed, output);
    errors::process(context, managed, output);
    transactions::process(context, managed, output);
    trace_attachments::process(context, managed, output);
    attachments::process(context, managed, output);
    user_reports::process(context, managed, output);
    profiles::process_standalone(context, managed, output);
    forward_unknown(managed);
    reject_leftover_form_data(managed);
}

/// §2 #15: unknown items are rejected by processing relays.
fn forward_unknown(managed: &mut ManagedEnvelope) {
    managed.retain_items(
        |item| !item.ty().is_unknown(),
        Outcome::Invalid(DiscardReason::InvalidEnvelope),
    );
}

/// §2 #16: `form_data` without an event.
fn reject_leftover_form_data(managed: &mut ManagedEnvelope) {
    managed.retain_items(
        |item| *item.ty() != ItemType::FormData,
        Outcome::Invalid(DiscardReason::InvalidEnvelope),
    );
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn dequeue_gate_blocks_workers_until_reopened() {
        let gate = Arc::new(DequeueGate::default());
        assert!(!gate.toggle(), "first toggle pauses");
        assert!(gate.is_paused());
        let passed = Arc::new(AtomicBool::new(false));
        let worker = {
            let (gate, passed) = (Arc::clone(&gate), Arc::clone(&passed));
            std::thread::spawn(move || {
                gate.wait_until_open();
                passed.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !passed.load(Ordering::SeqCst),
            "a paused gate lets nothing through"
        );
        assert!(gate.toggle(), "second toggle resumes");
        worker.join().unwrap();
        assert!(passed.load(Ordering::SeqCst));
        gate.toggle();
        gate.open();
        assert!(!gate.is_paused(), "shutdown opens a paused gate");
    }
}
