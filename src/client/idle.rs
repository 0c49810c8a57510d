//! [`Idle`]: the switch the `idle` phase throws for every client of a run — "the user walked away
//! and the device slept": no request of any kind leaves a client while it is on.
//!
//! API calls stop by themselves (no traffic phase runs). What would still send are the renewals
//! nobody asked for: a proactive timer coming due, a socket renewing its token after an expiry
//! close. A proactive timer firing *is* activity — a tab that keeps its timers running never goes
//! idle (the `wait` phase models that tab) — so while idle, every renewal waits at the one place
//! all of them pass ([`Session::shared_renew`](super::Session::shared_renew)) until the phase ends,
//! as a frozen background tab or a suspended mobile app does. Sockets stay open.
//!
//! The facts a session-loss measurement needs about the idle cause are kept here and in
//! [`Lifetime`](super::lifetime::Lifetime): when the clients went idle ([`Idle::since`]) and,
//! per client, when its last renewal answered and which end the server announced with it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::sync::watch;

/// Whether the clients of a run are idle (see the module docs). Cheap to consult: one atomic
/// load when not idle.
#[derive(Debug)]
pub struct Idle {
    on: AtomicBool,
    changed: watch::Sender<bool>,
    since: Mutex<Option<SystemTime>>,
    /// When the last idle period ended (wall clock), `None` while it lasts or before any.
    until: Mutex<Option<SystemTime>>,
}

impl Default for Idle {
    fn default() -> Self {
        Idle {
            on: AtomicBool::new(false),
            changed: watch::Sender::new(false),
            since: Mutex::new(None),
            until: Mutex::new(None),
        }
    }
}

impl Idle {
    /// Every client goes idle now.
    pub fn begin(&self) {
        *self.since.lock() = Some(SystemTime::now());
        *self.until.lock() = None;
        self.on.store(true, Ordering::Release);
        self.changed.send_replace(true);
    }

    /// The idle period is over: every held renewal goes ahead.
    pub fn end(&self) {
        *self.until.lock() = Some(SystemTime::now());
        self.on.store(false, Ordering::Release);
        self.changed.send_replace(false);
    }

    /// Whether the clients are idle now.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Whether `t` fell inside the last idle period (begun, and not yet over or over after `t`):
    /// a session end announced for then is an end by idleness.
    pub fn covers(&self, t: SystemTime) -> bool {
        let since = *self.since.lock();
        let until = *self.until.lock();
        since.is_some_and(|s| s <= t) && until.is_none_or(|u| t <= u)
    }

    /// When the last idle period began (wall clock), `None` before any.
    pub fn since(&self) -> Option<SystemTime> {
        *self.since.lock()
    }

    /// Returns at once when not idle, else when the idle period ends.
    pub async fn until_active(&self) {
        if !self.is_on() {
            return;
        }
        let mut rx = self.changed.subscribe();
        // The sender lives as long as `self`: the wait ends with the idle period.
        let _ = rx.wait_for(|idle| !*idle).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_renewal_waits_for_the_end_of_the_idle_period() {
        let idle = Arc::new(Idle::default());
        assert_eq!(idle.since(), None);
        idle.until_active().await; // not idle: at once
        idle.begin();
        assert!(idle.is_on() && idle.since().is_some());
        let waiter = tokio::spawn({
            let idle = idle.clone();
            async move { idle.until_active().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "held while idle");
        idle.end();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released when the idle period ends")
            .unwrap();
        assert!(!idle.is_on());
    }
}
