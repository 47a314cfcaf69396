//! The memory budget of the envelope buffer.
//!
//! Every envelope that relay holds (waiting for a project config, queued for the upstream, or
//! waiting for a retry) owns a [`BufferPermit`] for its size. When the budget is exhausted new
//! envelopes are refused with 503 *before* they are queued, so memory use is a configured
//! number (`spool.envelopes.max_memory_size`, `spool.envelopes.max_buffered_envelopes`) and
//! never grows with the backlog. Dropping the permit gives the bytes back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug)]
struct BudgetInner {
    max_bytes: usize,
    max_envelopes: usize,
    used_bytes: AtomicUsize,
    used_envelopes: AtomicUsize,
}

/// Shared byte and envelope-count budget; cheap to clone.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    inner: Arc<BudgetInner>,
}

/// Why a reservation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BudgetExceeded {
    #[error("envelope buffer does not have capacity")]
    Full,
}

impl MemoryBudget {
    /// A budget of `max_bytes` bytes and `max_envelopes` envelopes.
    pub fn new(max_bytes: usize, max_envelopes: usize) -> MemoryBudget {
        MemoryBudget {
            inner: Arc::new(BudgetInner {
                max_bytes,
                max_envelopes,
                used_bytes: AtomicUsize::new(0),
                used_envelopes: AtomicUsize::new(0),
            }),
        }
    }

    /// Reserves room for one envelope of `bytes` bytes.
    ///
    /// An envelope larger than the whole budget is still admitted into an otherwise empty
    /// buffer, so a configured budget smaller than the size limits cannot reject everything.
    pub fn try_reserve(&self, bytes: usize) -> Result<BufferPermit, BudgetExceeded> {
        let inner = &self.inner;
        let previous_count = inner.used_envelopes.fetch_add(1, Ordering::AcqRel);
        if previous_count >= inner.max_envelopes {
            inner.used_envelopes.fetch_sub(1, Ordering::AcqRel);
            return Err(BudgetExceeded::Full);
        }
        let previous_bytes = inner.used_bytes.fetch_add(bytes, Ordering::AcqRel);
        if previous_bytes > 0 && previous_bytes + bytes > inner.max_bytes {
            inner.used_bytes.fetch_sub(bytes, Ordering::AcqRel);
            inner.used_envelopes.fetch_sub(1, Ordering::AcqRel);
            return Err(BudgetExceeded::Full);
        }
        Ok(BufferPermit {
            budget: self.clone(),
            bytes,
        })
    }

    /// Bytes currently held.
    pub fn used_bytes(&self) -> usize {
        self.inner.used_bytes.load(Ordering::Acquire)
    }

    /// Envelopes currently held.
    pub fn used_envelopes(&self) -> usize {
        self.inner.used_envelopes.load(Ordering::Acquire)
    }

    /// Whether another average envelope would still fit (the readiness "spool health" probe).
    pub fn has_capacity(&self) -> bool {
        self.used_bytes() < self.inner.max_bytes && self.used_envelopes() < self.inner.max_envelopes
    }
}

/// Room for one buffered envelope; released on drop.
#[derive(Debug)]
pub struct BufferPermit {
    budget: MemoryBudget,
    bytes: usize,
}

impl Drop for BufferPermit {
    fn drop(&mut self) {
        let inner = &self.budget.inner;
        inner.used_bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        inner.used_envelopes.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_when_full_and_recovers_when_released() {
        let budget = MemoryBudget::new(100, 10);
        let first = budget.try_reserve(60).unwrap();
        assert_eq!(budget.try_reserve(60).unwrap_err(), BudgetExceeded::Full);
        let second = budget.try_reserve(40).unwrap();
        assert_eq!(budget.used_bytes(), 100);
        drop(first);
        drop(second);
        assert_eq!(budget.used_bytes(), 0);
        assert_eq!(budget.used_envelopes(), 0);
    }

    #[test]
    fn oversized_envelope_fits_into_an_empty_buffer_only() {
        let budget = MemoryBudget::new(10, 10);
        let big = budget.try_reserve(50).unwrap();
        assert!(budget.try_reserve(1).is_err());
        drop(big);
        assert!(budget.try_reserve(1).is_ok());
    }

    #[test]
    fn counts_envelopes() {
        let budget = MemoryBudget::new(1000, 2);
        let _a = budget.try_reserve(1).unwrap();
        let _b = budget.try_reserve(1).unwrap();
        assert!(budget.try_reserve(1).is_err());
        assert!(!budget.has_capacity());
    }
}
