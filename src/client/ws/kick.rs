//! Kick latency: the time from a trigger (the second login, the logout call, the admin revoke) to
//! the kick event or close frame on the *old* session's socket.
//!
//! A [`KickBoard`] exists once per run; it hands out one [`KickClock`] per session. The engine arms
//! a session's clock when the trigger happens; the socket task signals it when the kick arrives. The
//! two can happen in either order, so whoever comes second records the latency.
//!
//! Which instant is the trigger matters: a server revokes the old session *while* it handles the
//! second login, so its kick often reaches the old socket before the login's response is read (on
//! loopback, 645 of 1 000 kicks in a test). Arm with the instant the trigger request was **sent**
//! ([`KickClock::arm_at`]): the latency then covers the server's handling plus the fan-out and is
//! never negative. A signal before that instant is not the trigger's doing (a socket the server
//! closed right after its handshake, a kick of an earlier login): it is counted in
//! `kicks_before_trigger` and gives no latency sample. [`KickClock::arm`] (now, i.e. the response)
//! would count a kick that beat the response that way too: use it only when nothing was sent.
//!
//! Only a kick signal counts: a `kicked`/`logout` event, or a close frame that ends the socket for
//! good (the socket task decides; an expiry close such as 4401 is not one). After the phase the
//! engine calls [`KickBoard::settle`] to wait (bounded) until every armed clock resolved; the rest
//! are counted as `missed_kicks`. A socket that ends without a kick signal resolves its clock
//! without a latency: `kick_target_gone` when it had ended before the trigger, a missed kick when
//! it ended after it (e.g. its token expired, the refresh was refused and the socket stopped).
//!
//! A clock is cheap: two `AtomicU64` of microseconds since a process epoch, one flag byte and an
//! `Arc` to its board. Each clock is one-shot: one trigger, one kick.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::metrics::Recorder;
use crate::metrics::names::{
    self, KICK_LATENCY, KICK_TARGET_GONE, KICKS_BEFORE_TRIGGER, MISSED_KICKS,
};

/// The metric names a board records under: one set per channel (WebSocket, SSE, push), so a
/// report says which channel a kick arrived on.
#[derive(Debug)]
pub struct KickNames {
    /// Histogram: trigger → kick signal.
    pub latency: &'static str,
    /// Counter: armed clocks without a kick signal.
    pub missed: &'static str,
    /// Counter: kick signals before the trigger was armed.
    pub before_trigger: &'static str,
    /// Counter: armed clocks whose channel had already ended (None: the channel never ends, as a
    /// push registration).
    pub target_gone: Option<&'static str>,
}

/// The WebSocket's names (`kick_latency`, `missed_kicks`, ...).
pub const WS_KICKS: KickNames = KickNames {
    latency: KICK_LATENCY,
    missed: MISSED_KICKS,
    before_trigger: KICKS_BEFORE_TRIGGER,
    target_gone: Some(KICK_TARGET_GONE),
};

/// The SSE channel's names (`sse_kick_latency`, `sse_missed_kicks`, ...).
pub const SSE_KICKS: KickNames = KickNames {
    latency: names::SSE_KICK_LATENCY,
    missed: names::SSE_MISSED_KICKS,
    before_trigger: names::SSE_KICKS_BEFORE_TRIGGER,
    target_gone: Some(names::SSE_KICK_TARGET_GONE),
};

/// The push channel's names (`push_latency`, `missed_pushes`, ...).
pub const PUSH_KICKS: KickNames = KickNames {
    latency: names::PUSH_LATENCY,
    missed: names::MISSED_PUSHES,
    before_trigger: names::PUSHES_BEFORE_TRIGGER,
    target_gone: None,
};

/// `seen_at` value meaning "the socket ended without a kick signal".
const GONE: u64 = u64::MAX;
const RESOLVED: u8 = 1;

/// Microseconds since a process-wide epoch, never 0 (0 means "unset").
fn micros(at: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| Instant::now() - Duration::from_secs(1));
    u64::try_from(at.saturating_duration_since(epoch).as_micros())
        .unwrap_or(GONE - 1)
        .clamp(1, GONE - 1)
}

/// Per-run tally of kick clocks; see the module docs.
#[derive(Debug)]
pub struct KickBoard {
    recorder: Recorder,
    names: &'static KickNames,
    armed: AtomicU64,
    resolved: AtomicU64,
    /// Resolved clocks whose socket ended after the trigger without a kick signal.
    ended_unkicked: AtomicU64,
    missed_counted: AtomicU64,
    notify: Notify,
}

/// Result of [`KickBoard::settle`] or [`KickBoard::tally`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KickTally {
    /// Clocks armed so far.
    pub armed: u64,
    /// Armed clocks resolved (kick seen, or socket gone).
    pub resolved: u64,
    /// Armed clocks still unresolved, plus those whose socket ended after the trigger without a
    /// kick signal.
    pub missed: u64,
}

impl KickBoard {
    /// A board recording into `recorder` under the WebSocket's names.
    pub fn new(recorder: Recorder) -> Arc<KickBoard> {
        Self::with_names(recorder, &WS_KICKS)
    }

    /// A board recording into `recorder` under `names` (one channel's).
    pub fn with_names(recorder: Recorder, names: &'static KickNames) -> Arc<KickBoard> {
        Arc::new(KickBoard {
            recorder,
            names,
            armed: AtomicU64::new(0),
            resolved: AtomicU64::new(0),
            ended_unkicked: AtomicU64::new(0),
            missed_counted: AtomicU64::new(0),
            notify: Notify::new(),
        })
    }

    /// A new, unarmed clock for one session; `shard` spreads recording like everywhere else.
    pub fn clock(self: &Arc<Self>, shard: usize) -> Arc<KickClock> {
        Arc::new(KickClock {
            board: Arc::clone(self),
            shard,
            armed_at: AtomicU64::new(0),
            seen_at: AtomicU64::new(0),
            flags: AtomicU8::new(0),
        })
    }

    /// Current numbers, without waiting or counting anything.
    pub fn tally(&self) -> KickTally {
        let armed = self.armed.load(Ordering::SeqCst);
        let resolved = self.resolved.load(Ordering::SeqCst);
        let unkicked = self.ended_unkicked.load(Ordering::SeqCst);
        KickTally {
            armed,
            resolved,
            missed: armed.saturating_sub(resolved) + unkicked,
        }
    }

    /// Waits until every armed clock is resolved, or `timeout`; then adds the still-unresolved ones
    /// (not counted by an earlier `settle`) to the `missed_kicks` counter. A kick that arrives later
    /// still records its latency.
    pub async fn settle(&self, timeout: Duration) -> KickTally {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let t = self.tally();
            if t.resolved >= t.armed {
                break;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let tally = self.tally();
        let before = self
            .missed_counted
            .fetch_max(tally.missed, Ordering::SeqCst);
        if tally.missed > before {
            self.recorder
                .count(0, self.names.missed, tally.missed - before);
        }
        tally
    }
}

/// One session's kick clock; see the module docs.
#[derive(Debug)]
pub struct KickClock {
    board: Arc<KickBoard>,
    shard: usize,
    armed_at: AtomicU64,
    seen_at: AtomicU64,
    flags: AtomicU8,
}

impl KickClock {
    /// Arms the clock now (e.g. the trigger's response arrived; prefer [`Self::arm_at`] with the
    /// send instant, see the module docs). Returns false if it was already armed.
    pub fn arm(&self) -> bool {
        self.arm_at(Instant::now())
    }

    /// Arms the clock with an explicit trigger instant: when the trigger request was sent.
    pub fn arm_at(&self, trigger: Instant) -> bool {
        let t = micros(trigger);
        if self
            .armed_at
            .compare_exchange(0, t, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        self.board.armed.fetch_add(1, Ordering::SeqCst);
        let seen = self.seen_at.load(Ordering::SeqCst);
        if seen != 0 {
            self.finish(t, seen, false);
        }
        true
    }

    /// Whether the clock is armed and no kick (nor the socket's end) has been seen yet: the socket
    /// is still open and unnotified.
    pub fn armed_unresolved(&self) -> bool {
        self.armed_at.load(Ordering::SeqCst) != 0
            && self.flags.load(Ordering::SeqCst) & RESOLVED == 0
    }

    /// Whether the clock has been armed.
    pub fn is_armed(&self) -> bool {
        self.armed_at.load(Ordering::SeqCst) != 0
    }

    /// The socket task saw a kick signal (kick/logout event or a close frame) at `at`. Only the
    /// first signal counts.
    pub(crate) fn signal(&self, at: Instant) {
        self.observe(micros(at));
    }

    /// The socket task ended without a kick signal: an armed clock resolves without a latency.
    pub(crate) fn socket_gone(&self) {
        self.observe(GONE);
    }

    fn observe(&self, seen: u64) {
        if self
            .seen_at
            .compare_exchange(0, seen, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let armed = self.armed_at.load(Ordering::SeqCst);
        if armed != 0 {
            self.finish(armed, seen, true);
        }
    }

    /// Records the outcome exactly once, whichever side (arm or signal) completes the pair;
    /// `after_trigger`: the signal came second.
    fn finish(&self, armed: u64, seen: u64, after_trigger: bool) {
        if self.flags.fetch_or(RESOLVED, Ordering::SeqCst) & RESOLVED != 0 {
            return;
        }
        let rec = &self.board.recorder;
        let names = self.board.names;
        if seen == GONE && after_trigger {
            // The socket ended after the trigger and no kick ever came: a missed kick.
            self.board.ended_unkicked.fetch_add(1, Ordering::SeqCst);
        } else if seen == GONE {
            if let Some(gone) = names.target_gone {
                rec.count(self.shard, gone, 1);
            }
        } else if seen < armed {
            // Signalled before the trigger was sent: the trigger cannot have caused it (a socket
            // the server closed right after its handshake, a kick of an earlier login). No
            // latency: a 0 µs sample would flatter a server that never kicks at all.
            rec.count(self.shard, names.before_trigger, 1);
        } else {
            rec.record(self.shard, names.latency, seen - armed);
        }
        let resolved = self.board.resolved.fetch_add(1, Ordering::SeqCst) + 1;
        if resolved >= self.board.armed.load(Ordering::SeqCst) {
            self.board.notify.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_after_arm_records_the_latency() {
        let rec = Recorder::new();
        let board = KickBoard::new(rec.clone());
        let clock = board.clock(3);
        let t0 = Instant::now();
        assert!(clock.arm_at(t0));
        assert!(!clock.arm_at(t0), "one-shot");
        assert!(clock.armed_unresolved());
        clock.signal(t0 + Duration::from_millis(5));
        clock.signal(t0 + Duration::from_millis(50));
        assert!(!clock.armed_unresolved());
        let snap = rec.snapshot();
        let h = &snap.histograms[KICK_LATENCY];
        assert_eq!(h.len(), 1);
        assert!((4_900..=5_100).contains(&h.max()), "{}", h.max());
        assert_eq!(board.tally().missed, 0);
    }

    #[test]
    fn a_signal_before_the_trigger_was_sent_is_counted_without_a_latency() {
        let rec = Recorder::new();
        let board = KickBoard::new(rec.clone());
        let clock = board.clock(0);
        let t0 = Instant::now();
        clock.signal(t0);
        assert!(!clock.is_armed());
        clock.arm_at(t0 + Duration::from_millis(2));
        assert_eq!(rec.counter(KICKS_BEFORE_TRIGGER), 1);
        assert_eq!(rec.samples(KICK_LATENCY), 0, "no 0 µs kick");
        assert_eq!(board.tally().missed, 0, "resolved: its socket is gone");
    }

    #[test]
    fn a_signal_after_the_send_but_before_the_arm_records_its_latency() {
        let rec = Recorder::new();
        let board = KickBoard::new(rec.clone());
        let clock = board.clock(0);
        let sent = Instant::now();
        clock.signal(sent + Duration::from_millis(3));
        clock.arm_at(sent);
        assert_eq!(rec.counter(KICKS_BEFORE_TRIGGER), 0);
        assert_eq!(rec.samples(KICK_LATENCY), 1);
    }

    #[test]
    fn gone_socket_resolves_without_latency() {
        let rec = Recorder::new();
        let board = KickBoard::new(rec.clone());
        let clock = board.clock(0);
        clock.socket_gone();
        clock.arm();
        assert_eq!(rec.counter(KICK_TARGET_GONE), 1);
        assert_eq!(rec.samples(KICK_LATENCY), 0);
        assert_eq!(board.tally().resolved, 1);
    }

    #[tokio::test]
    async fn a_socket_ending_after_the_trigger_without_a_kick_is_missed() {
        let rec = Recorder::new();
        let board = KickBoard::new(rec.clone());
        let clock = board.clock(0);
        clock.arm();
        clock.socket_gone();
        let t = board.settle(Duration::from_secs(5)).await;
        assert_eq!((t.armed, t.resolved, t.missed), (1, 1, 1));
        assert_eq!(rec.counter(MISSED_KICKS), 1);
        assert_eq!(rec.counter(KICK_TARGET_GONE), 0);
        assert_eq!(rec.samples(KICK_LATENCY), 0);
        assert_eq!(board.settle(Duration::from_millis(1)).await.missed, 1);
        assert_eq!(rec.counter(MISSED_KICKS), 1, "not counted twice");
    }

    #[tokio::test]
    async fn settle_counts_missed_once_and_wakes_on_resolution() {
        let rec = Recorder::new();
        let board = KickBoard::new(rec.clone());
        let a = board.clock(0);
        let b = board.clock(1);
        a.arm();
        b.arm();
        let late = Arc::clone(&b);
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            late.signal(Instant::now());
        });
        let t = board.settle(Duration::from_millis(50)).await;
        assert_eq!((t.armed, t.missed), (2, 1));
        assert_eq!(rec.counter(MISSED_KICKS), 1);
        let again = board.settle(Duration::from_millis(1)).await;
        assert_eq!(again.missed, 1);
        assert_eq!(rec.counter(MISSED_KICKS), 1, "not counted twice");
        a.signal(Instant::now());
        let done = board.settle(Duration::from_secs(5)).await;
        assert_eq!(done.missed, 0);
    }
}
