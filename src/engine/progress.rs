//! What the CLI's live display reads while a run goes on: the current phase and a few atomics.
//!
//! The engine writes, the display polls (e.g. ten times a second); nothing here blocks a client.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::client::Live;

/// Live state of a run; create one with [`Progress::new`], hand an `Arc` to [`super::run`].
#[derive(Debug, Default)]
pub struct Progress {
    phase: Mutex<&'static str>,
    phase_index: AtomicU32,
    phase_count: AtomicU32,
    clients: AtomicU32,
    /// Counters bumped by every session (logged in, requests, refreshes, errors).
    pub live: Arc<Live>,
    /// WebSockets currently open.
    pub open_sockets: AtomicI64,
    /// The scheduled wall-clock instant of the latest synchronized phase (`sync_expiry`),
    /// published when the phase starts, before that instant: a server that records arrivals
    /// after a sync point (the reference mock's `POST /admin/sync-point`) can be told.
    sync_point: watch::Sender<Option<std::time::SystemTime>>,
}

/// A consistent-enough copy of [`Progress`] for one display refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressTick {
    /// Current phase (`starting`, `login`, ..., `done`).
    pub phase: &'static str,
    /// 1-based number of the current phase (0 before the first).
    pub phase_index: u32,
    /// Number of phases in the plan.
    pub phase_count: u32,
    /// Clients this process drives.
    pub clients: u32,
    pub logged_in: i64,
    pub requests: u64,
    pub refreshes: u64,
    pub errors: u64,
    pub open_sockets: i64,
}

impl Progress {
    /// Fresh progress, phase `starting`.
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            phase: Mutex::new("starting"),
            ..Default::default()
        })
    }

    /// A copy of the current values.
    pub fn tick(&self) -> ProgressTick {
        ProgressTick {
            phase: *self.phase.lock(),
            phase_index: self.phase_index.load(Ordering::Relaxed),
            phase_count: self.phase_count.load(Ordering::Relaxed),
            clients: self.clients.load(Ordering::Relaxed),
            logged_in: self.live.logged_in(),
            requests: self.live.requests(),
            refreshes: self.live.refreshes(),
            errors: self.live.errors(),
            open_sockets: self.open_sockets.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_plan(&self, clients: u32, phases: u32) {
        self.clients.store(clients, Ordering::Relaxed);
        self.phase_count.store(phases, Ordering::Relaxed);
    }

    /// Follows the sync points the engine publishes (see the field's docs).
    pub fn sync_points(&self) -> watch::Receiver<Option<std::time::SystemTime>> {
        self.sync_point.subscribe()
    }

    pub(crate) fn set_sync_point(&self, at: std::time::SystemTime) {
        self.sync_point.send_replace(Some(at));
    }

    pub(crate) fn set_phase(&self, index: u32, name: &'static str) {
        *self.phase.lock() = name;
        self.phase_index.store(index, Ordering::Relaxed);
    }
}
