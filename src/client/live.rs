//! Live counters of all sessions of a run, read by the CLI's progress display while the run goes on.
//!
//! Plain relaxed atomics: the display only needs a recent value, and the exact figures come from the
//! metrics recorder at the end.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters every session bumps as it works.
#[derive(Debug, Default)]
pub struct Live {
    /// Sessions currently holding tokens.
    pub logged_in: AtomicI64,
    /// HTTP requests sent (every operation).
    pub requests: AtomicU64,
    /// Refresh calls sent.
    pub refreshes: AtomicU64,
    /// Failed exchanges (`errors.*`).
    pub errors: AtomicU64,
    /// Failed operations (`failures.*`).
    pub failures: AtomicU64,
}

impl Live {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn logged_in_delta(&self, delta: i64) {
        self.logged_in.fetch_add(delta, Ordering::Relaxed);
    }

    /// Sessions currently holding tokens.
    pub fn logged_in(&self) -> i64 {
        self.logged_in.load(Ordering::Relaxed)
    }
    /// HTTP requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Refresh calls sent so far.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }
    /// Failed exchanges so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    /// Failed operations so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}
