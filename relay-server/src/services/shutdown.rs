//! Graceful shutdown signalling.
//!
//! One [`ShutdownHandle`] is shared by every service. `begin` marks the start of a graceful
//! shutdown (readiness turns false, the HTTP server stops accepting, buffers drain);
//! `finish` tells long-running tasks to stop now.

use std::sync::Arc;

use tokio::sync::watch;

/// Phases of a relay's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// Graceful shutdown: stop accepting, drain what is buffered.
    Draining,
    /// Everything must stop.
    Finished,
}

/// Shared shutdown state; cheap to clone.
#[derive(Clone)]
pub struct ShutdownHandle {
    sender: Arc<watch::Sender<Phase>>,
    receiver: watch::Receiver<Phase>,
}

impl Default for ShutdownHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownHandle {
    pub fn new() -> ShutdownHandle {
        let (sender, receiver) = watch::channel(Phase::Running);
        ShutdownHandle {
            sender: Arc::new(sender),
            receiver,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        *self.receiver.borrow()
    }

    /// Whether a graceful shutdown has started (or finished).
    pub fn is_draining(&self) -> bool {
        self.phase() >= Phase::Draining
    }

    /// Whether everything must stop.
    pub fn is_finished(&self) -> bool {
        self.phase() == Phase::Finished
    }

    /// Starts the graceful shutdown.
    pub fn begin(&self) {
        self.sender.send_if_modified(|phase| {
            if *phase == Phase::Running {
                *phase = Phase::Draining;
                return true;
            }
            false
        });
    }

    /// Ends everything.
    pub fn finish(&self) {
        self.sender.send_replace(Phase::Finished);
    }

    /// Resolves once the phase is at least `phase`.
    pub async fn reached(&self, phase: Phase) {
        let mut receiver = self.receiver.clone();
        let _ = receiver.wait_for(|current| *current >= phase).await;
    }

    /// Resolves once everything must stop.
    pub async fn finished(&self) {
        self.reached(Phase::Finished).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_only_move_forward() {
        let handle = ShutdownHandle::new();
        assert_eq!(handle.phase(), Phase::Running);
        handle.begin();
        assert!(handle.is_draining());
        handle.finish();
        handle.begin();
        assert!(handle.is_finished());
        handle.finished().await;
    }
}
