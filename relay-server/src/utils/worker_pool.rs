//! A bounded pool of worker threads for CPU-heavy processing, so JSON parsing, normalization
//! and message encoding never run on the async reactor threads.
//!
//! Work items of type `T` are queued in a bounded channel and handed to one shared handler.
//! [`WorkerPool::try_submit`] never blocks; a full queue hands the work item back so the
//! caller can account for it (the memory budget in front of the pool makes that rare: every
//! queued envelope holds a buffer permit). [`WorkerPool::join`] closes the queue, lets the
//! workers finish everything queued and waits for them (graceful shutdown).

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError};
use parking_lot::Mutex;

/// Why a work item was handed back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("the processing queue is full ({capacity} envelopes)")]
    Full { capacity: usize },
    #[error("the processing pool is shutting down")]
    ShuttingDown,
}

/// Handle to the workers.
pub struct WorkerPool<T> {
    sender: Mutex<Option<Sender<T>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    capacity: usize,
}

impl<T: Send + 'static> WorkerPool<T> {
    /// Starts `threads` workers (at least one) behind a queue of `capacity` work items, each
    /// item handled by `handler`.
    pub fn start(
        name: &str,
        threads: usize,
        capacity: usize,
        handler: impl Fn(T) + Send + Sync + 'static,
    ) -> std::io::Result<WorkerPool<T>> {
        let capacity = capacity.max(1);
        let (sender, receiver) = crossbeam_channel::bounded::<T>(capacity);
        let handler = Arc::new(handler);
        let mut workers = Vec::new();
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            let handler = Arc::clone(&handler);
            let worker = std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    for work in receiver {
                        handler(work);
                    }
                })?;
            workers.push(worker);
        }
        Ok(WorkerPool {
            sender: Mutex::new(Some(sender)),
            workers: Mutex::new(workers),
            capacity,
        })
    }

    /// Queues a work item without blocking; hands it back when it cannot be queued.
    pub fn try_submit(&self, work: T) -> Result<(), (T, SubmitError)> {
        let sender = self.sender.lock();
        let Some(sender) = sender.as_ref() else {
            return Err((work, SubmitError::ShuttingDown));
        };
        match sender.try_send(work) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(work)) => Err((
                work,
                SubmitError::Full {
                    capacity: self.capacity,
                },
            )),
            Err(TrySendError::Disconnected(work)) => Err((work, SubmitError::ShuttingDown)),
        }
    }

    /// Work items waiting in the queue (the processing pipeline's admission control).
    #[cfg(any(test, feature = "processing"))]
    pub fn queued(&self) -> usize {
        self.sender.lock().as_ref().map_or(0, Sender::len)
    }

    /// Closes the queue and waits until the workers handled every queued item. Blocks.
    pub fn join(&self) {
        drop(self.sender.lock().take());
        let workers = std::mem::take(&mut *self.workers.lock());
        for worker in workers {
            if worker.join().is_err() {
                tracing::error!("a processing worker panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn full_queue_hands_the_item_back_and_join_runs_everything_queued() {
        let handled = Arc::new(AtomicUsize::new(0));
        let (gate_sender, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let counter = Arc::clone(&handled);
        let pool = WorkerPool::start("test", 1, 2, move |value: usize| {
            if value == 0 {
                // Blocks the only worker until the test opens the gate.
                let _ = gate.lock().recv();
            }
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        pool.try_submit(0).unwrap();
        // Wait until the worker picked up item 0, so the queue is empty again.
        while pool.queued() > 0 {
            std::thread::yield_now();
        }
        pool.try_submit(1).unwrap();
        pool.try_submit(2).unwrap();
        assert_eq!(
            pool.try_submit(3).unwrap_err(),
            (3, SubmitError::Full { capacity: 2 })
        );
        gate_sender.send(()).unwrap();
        pool.join();
        assert_eq!(handled.load(Ordering::SeqCst), 3);
        assert_eq!(
            pool.try_submit(4).unwrap_err(),
            (4, SubmitError::ShuttingDown)
        );
    }
}
