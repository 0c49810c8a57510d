//! What the CLI's live display reads while a run goes on: the current phase, what it waits for
//! (a countdown) and a few atomics.
//!
//! The engine writes, the display polls (e.g. ten times a second); nothing here blocks a client.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
    deadline: Mutex<Option<(Instant, Until)>>,
    /// Counters bumped by every session (logged in, requests, refreshes, errors).
    pub live: Arc<Live>,
    /// WebSockets currently open.
    pub open_sockets: AtomicI64,
    /// The scheduled wall-clock instant of the latest synchronized phase (`sync_expiry`),
    /// published when the phase starts, before that instant: a server that records arrivals
    /// after a sync point (the reference mock's `POST /admin/sync-point`) can be told.
    sync_point: watch::Sender<Option<std::time::SystemTime>>,
}

/// What the current phase counts down to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The run's start (`--start-at`).
    Start,
    /// The synchronized wake of every client (`sync_expiry`).
    Storm,
    /// The end of the phase (a traffic phase's duration, a login ramp, a wait).
    End,
}

impl Until {
    /// How a countdown reads: `starts in`, `storm in`, `ends in`.
    pub fn label(self) -> &'static str {
        match self {
            Until::Start => "starts in",
            Until::Storm => "storm in",
            Until::End => "ends in",
        }
    }
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
    /// Failed operations so far (`failures.*`).
    pub failures: u64,
    pub open_sockets: i64,
    /// What the phase waits for and how long is left (`None`: no known end).
    pub countdown: Option<(Until, Duration)>,
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
            failures: self.live.failures(),
            open_sockets: self.open_sockets.load(Ordering::Relaxed),
            // A phase past its planned end (a login phase whose retries outlast its ramp, a
            // traffic phase's grace for answers still on the way) has no known end: no countdown,
            // rather than one stuck at 0.0 s.
            countdown: self.deadline.lock().and_then(|(at, until)| {
                let left = at.checked_duration_since(Instant::now())?;
                (!left.is_zero()).then_some((until, left))
            }),
        }
    }

    /// Sets (or, with `None`, clears) what the current phase counts down to.
    pub(crate) fn set_deadline(&self, deadline: Option<(Instant, Until)>) {
        *self.deadline.lock() = deadline;
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

    /// Enters phase `index` (clearing the countdown of the previous one).
    pub(crate) fn set_phase(&self, index: u32, name: &'static str) {
        *self.phase.lock() = name;
        self.phase_index.store(index, Ordering::Relaxed);
        self.set_deadline(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_runs_down_and_clears_with_the_phase() {
        let p = Progress::new();
        assert_eq!(p.tick().countdown, None);
        p.set_deadline(Some((
            Instant::now() + Duration::from_secs(30),
            Until::Storm,
        )));
        let (until, left) = p.tick().countdown.expect("a countdown");
        assert_eq!(until, Until::Storm);
        assert!(left > Duration::from_secs(29) && left <= Duration::from_secs(30));
        p.set_phase(2, "traffic");
        assert_eq!(p.tick().countdown, None);
    }

    #[test]
    fn a_phase_past_its_planned_end_shows_no_countdown() {
        let p = Progress::new();
        p.set_deadline(Some((Instant::now(), Until::End)));
        assert_eq!(p.tick().countdown, None);
    }
}
