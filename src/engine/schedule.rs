//! Time: ramps, the synchronized wake of every client, and a wall-clock start.
//!
//! - [`ramp_offset`] spreads `n` starts evenly over a ramp.
//! - [`Gate`] releases every waiting client at one deadline. Tokio's timer has a 1 ms granularity
//!   and fires late under load, so a dedicated thread sleeps until just before the deadline and
//!   spins the last stretch, then hands over to the arming task, which wakes every waiter with one
//!   `notify_waiters` from a runtime worker (wakes from a worker go to its local queue; from a
//!   foreign thread each one would go through the runtime's shared injection queue). Each client
//!   measures `wake_skew` = actual wake − deadline. A gate opened early because the run was
//!   cancelled is *aborted*: nobody woke at the deadline, so nothing may be measured against it.
//! - [`ShardGate`] is a shard's copy of a gate: the shared gate wakes a handful of shards, each
//!   shard opens its copy, which wakes the shard's clients from an array of slots (one per
//!   client) rather than a list threaded through their futures.
//! - [`Muster`] holds the woken clients until every one of them has woken (and recorded its skew)
//!   before any starts working: otherwise the first clients' requests would fill the runtime's
//!   local queues and the later wakes would wait behind them. Each arrival parks in its own slot
//!   and counts in its shard's stripe (no shared lock, no counter written by every core, no timer
//!   per party: 10 000 arrivals within a millisecond).
//! - [`wait_until_wall`] sleeps until a wall-clock instant (`--start-at`), so shards on several
//!   machines start together.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, SystemTime};

use futures::task::AtomicWaker;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Start offset of item `k` of `n` spread evenly over `ramp` (the first at 0, the last at
/// `ramp·(n-1)/n`).
pub fn ramp_offset(k: u64, n: u64, ramp: Duration) -> Duration {
    if n == 0 || ramp.is_zero() {
        return Duration::ZERO;
    }
    let nanos = ramp.as_nanos() * u128::from(k.min(n)) / u128::from(n);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// How long before the deadline the opening thread stops sleeping and starts spinning.
const SPIN: Duration = Duration::from_millis(2);

/// One deadline shared by many waiters; see the module docs. `W` is how its waiters wait: a
/// [`Notify`] for any number of waiters (the shared gate), or [`Slots`], one per client of a shard
/// ([`ShardGate`]).
#[derive(Debug)]
pub struct Gate<W = Notify> {
    deadline: Instant,
    open: AtomicBool,
    aborted: AtomicBool,
    waiters: W,
}

/// How a gate's waiters are woken when it opens.
pub trait Waiters {
    /// Wakes every waiter (called once, after the gate is marked open).
    fn wake_all(&self);
}

impl Waiters for Notify {
    fn wake_all(&self) {
        self.notify_waiters();
    }
}

/// A shard's copy of the shared [`Gate`]: the clients of one shard wait on it, each in its own
/// slot, and the shard opens it from its own task once the shared gate opens (see
/// `engine::traffic::spawn_sharded`). Opening walks the slots in order, an array, where a
/// [`Notify`] walks a list threaded through every waiter's future: at the wake of 10 000 clients
/// that list walk was over half of the wake's CPU (one dependent cache miss per client).
pub type ShardGate = Gate<Slots>;

/// One waker slot per client of a shard: client `i` waits in slot `i / stride` (`stride`: the
/// number of shards, so a shard's clients fill its slots without gaps). A waiter that is dropped
/// leaves its waker in its slot: the opening then wakes a task that no longer waits, which costs
/// that task one poll.
#[derive(Debug)]
pub struct Slots {
    wakers: Box<[AtomicWaker]>,
    stride: usize,
}

impl Waiters for Slots {
    fn wake_all(&self) {
        for slot in &*self.wakers {
            slot.wake();
        }
    }
}

impl Gate {
    /// A gate that opens at `deadline` once [`Gate::arm`] runs.
    pub fn new(deadline: Instant) -> Arc<Gate> {
        Arc::new(Gate::closed(deadline, Notify::new()))
    }

    /// A gate that is already open (no synchronized start).
    pub fn open_now() -> Arc<Gate> {
        let g = Gate::new(Instant::now());
        g.open.store(true, Ordering::Release);
        g
    }

    /// Opens the gate at its deadline (or at once if cancelled). Sleeps on the runtime until shortly
    /// before, then hands the last stretch to a thread that spins to the exact instant and wakes
    /// this task, which opens the gate (see the module docs).
    pub async fn arm(self: Arc<Self>, cancel: CancellationToken) {
        let early = self.deadline.checked_sub(SPIN * 5).unwrap_or(self.deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(early) => {}
            _ = cancel.cancelled() => {
                self.abort();
                return;
            }
        }
        let (at_deadline, deadline_reached) = tokio::sync::oneshot::channel::<()>();
        let deadline = self.deadline.into_std();
        let timer = std::thread::Builder::new()
            .name("authbench-gate".into())
            .spawn(move || {
                loop {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        break;
                    }
                    let left = deadline - now;
                    if left > SPIN {
                        std::thread::sleep(left - SPIN);
                    } else {
                        std::hint::spin_loop();
                    }
                }
                let _ = at_deadline.send(());
            });
        match timer {
            // Released also if the thread died without a word, or on cancel.
            Ok(_) => {
                tokio::select! {
                    _ = deadline_reached => {}
                    _ = cancel.cancelled() => return self.abort(),
                }
            }
            // No thread available: fall back to the runtime's timer.
            Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(self.deadline) => {}
                    _ = cancel.cancelled() => return self.abort(),
                }
            }
        }
        self.release();
    }

    /// Waits until the gate opens; returns the instant this waiter observed it.
    pub async fn wait(&self) -> Instant {
        let notified = self.waiters.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !self.is_open() {
            notified.await;
        }
        Instant::now()
    }
}

impl<W: Waiters> Gate<W> {
    fn closed(deadline: Instant, waiters: W) -> Gate<W> {
        Gate {
            deadline,
            open: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            waiters,
        }
    }

    /// The scheduled opening time.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the gate has opened.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Opens the gate now because the run was cancelled: see [`Gate::aborted`].
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.release();
    }

    /// Whether the gate was opened by a cancellation instead of its deadline (nothing woke at the
    /// deadline: no wake skew, no storm).
    pub fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Whether the storm this gate starts has begun: the deadline has passed and the gate was not
    /// aborted. Unlike [`Gate::aborted`] alone, this does not depend on whether the task that
    /// aborts the gate on cancellation has run yet.
    pub fn storm_started(&self) -> bool {
        !self.aborted() && Instant::now() >= self.deadline
    }

    /// Opens the gate now and wakes its waiters (once: a gate opens once).
    pub fn release(&self) {
        if !self.open.swap(true, Ordering::AcqRel) {
            self.waiters.wake_all();
        }
    }

    /// Wake skew of a waiter that woke at `woke`.
    pub fn skew(&self, woke: Instant) -> Duration {
        woke.saturating_duration_since(self.deadline)
    }
}

impl ShardGate {
    /// A closed gate at `deadline` for `waiters` clients `i` with `i % stride` alike.
    pub fn for_shard(deadline: Instant, waiters: usize, stride: usize) -> Arc<ShardGate> {
        Arc::new(Gate::closed(
            deadline,
            Slots {
                wakers: (0..waiters).map(|_| AtomicWaker::new()).collect(),
                stride: stride.max(1),
            },
        ))
    }

    /// Client `client` waits until the gate opens; returns the instant it observed the opening.
    /// Every client of the shard has a slot (`waiters` ≥ its clients); one without a slot would
    /// see the opening only when woken for another reason.
    pub async fn wait(&self, client: usize) -> Instant {
        let slot = self.waiters.wakers.get(client / self.waiters.stride);
        debug_assert!(
            slot.is_some(),
            "client {client} has no slot in its shard's gate"
        );
        until_set(&self.open, slot).await;
        Instant::now()
    }
}

/// A rendezvous of `n` parties: each [`Muster::arrive`]s, then waits until all have arrived (or a
/// bound passed, so a party that never comes cannot stall the others). Watchers
/// ([`Muster::watch`]) wait for the same release without being waited for.
///
/// Party `p` is counted in stripe `p % stripes`, each stripe a counter on its own cache line, and
/// parks in its own slot (an `AtomicWaker`; a stripe's slots are adjacent); watcher `w` in its
/// own slot after the parties'. Give it as many stripes as there are shards
/// (`engine::traffic::shard_count`), so each shard counts its clients on a line no other core
/// writes: with one shared counter every arrival of a million clients moved that line between
/// the cores, and each arrival delays every later client's wake on the same core. A stripe
/// whose parties have all arrived counts once in `full`; the last stripe to fill releases
/// everyone. Only the first arrival runs the bound's timer, and it releases everyone when the
/// bound passes or when it is dropped while waiting. The release wakes every party before any
/// watcher.
#[derive(Debug)]
pub struct Muster {
    stripes: Box<[Stripe]>,
    /// Party slots per stripe.
    per_stripe: usize,
    /// Stripes whose every party has arrived.
    full: AtomicUsize,
    /// Stripes with parties.
    counted: usize,
    /// Whether a party has arrived (the first runs the bound's timer).
    started: AtomicBool,
    released: AtomicBool,
    /// The parties' slots, stripe by stripe, then the watchers'.
    slots: Box<[AtomicWaker]>,
}

/// One stripe's arrivals, alone on its cache line (128 bytes: two lines prefetched together).
#[derive(Debug)]
#[repr(align(128))]
struct Stripe {
    arrived: AtomicUsize,
    expected: usize,
}

impl Muster {
    /// A muster expecting parties `0..n`, with no watchers.
    pub fn new(n: usize, stripes: usize) -> Arc<Muster> {
        Muster::watched(n, 0, stripes)
    }

    /// A muster expecting parties `0..parties` and watched by `watchers`, counting in `stripes`
    /// stripes (at least one).
    pub fn watched(parties: usize, watchers: usize, stripes: usize) -> Arc<Muster> {
        let n = stripes.clamp(1, parties.max(1));
        let per_stripe = parties.div_ceil(n);
        let stripes: Box<[Stripe]> = (0..n)
            .map(|k| Stripe {
                arrived: AtomicUsize::new(0),
                // Parties k, k + n, …: how many of them are below `parties`.
                expected: (parties + n - 1 - k) / n,
            })
            .collect();
        let counted = stripes.iter().filter(|s| s.expected > 0).count();
        Arc::new(Muster {
            stripes,
            per_stripe,
            full: AtomicUsize::new(0),
            counted,
            started: AtomicBool::new(false),
            released: AtomicBool::new(false),
            slots: (0..n * per_stripe + watchers)
                .map(|_| AtomicWaker::new())
                .collect(),
        })
    }

    /// Party `party` (`0..parties`) arrives and waits until everyone has arrived, at most `bound`
    /// after the first arrival. Each party arrives once.
    pub async fn arrive(&self, party: usize, bound: Duration) {
        let n = self.stripes.len();
        let stripe = &self.stripes[party % n];
        debug_assert!(
            party / n < stripe.expected,
            "party {party} is not one of this muster's"
        );
        let k = stripe.arrived.fetch_add(1, Ordering::AcqRel);
        if k + 1 == stripe.expected && self.full.fetch_add(1, Ordering::AcqRel) + 1 >= self.counted
        {
            self.release();
            return;
        }
        let slot = (party % n) * self.per_stripe + party / n;
        // A load first: after the first arrival nobody writes this line again.
        if !self.started.load(Ordering::Acquire) && !self.started.swap(true, Ordering::AcqRel) {
            let guard = ReleaseOnDrop(self);
            let _ = tokio::time::timeout(bound, self.released_in(slot)).await;
            drop(guard);
        } else {
            self.released_in(slot).await;
        }
    }

    /// Watcher `w` (`0..watchers`) waits until the muster is released, without arriving.
    pub async fn watch(&self, w: usize) {
        self.released_in(self.stripes.len() * self.per_stripe + w)
            .await;
    }

    /// Releases everyone now (e.g. the start was called off: nobody is coming).
    pub fn dismiss(&self) {
        self.release();
    }

    /// How many parties have arrived.
    #[cfg(test)]
    fn arrivals(&self) -> usize {
        self.stripes
            .iter()
            .map(|s| s.arrived.load(Ordering::Acquire))
            .sum()
    }

    /// Waits in slot `k` until released.
    async fn released_in(&self, k: usize) {
        until_set(&self.released, Some(&self.slots[k])).await
    }

    fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            for slot in &*self.slots {
                slot.wake();
            }
        }
    }
}

/// Waits until `flag` is set, woken through `slot` (a waiter without a slot sees the flag only
/// when polled for another reason). The waker is registered before the second look at the flag,
/// so a setter that sets it and then wakes the slot is never missed.
async fn until_set(flag: &AtomicBool, slot: Option<&AtomicWaker>) {
    std::future::poll_fn(|cx| {
        if flag.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Some(slot) = slot {
            slot.register(cx.waker());
        }
        if flag.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Releases a muster when the first arrival stops waiting (bound passed, or dropped).
struct ReleaseOnDrop<'a>(&'a Muster);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Sleeps until the wall-clock instant `at` (returns at once if it is past). `false` when cancelled.
pub async fn wait_until_wall(at: SystemTime, cancel: &CancellationToken) -> bool {
    let Ok(left) = at.duration_since(SystemTime::now()) else {
        return !cancel.is_cancelled();
    };
    let gate = Gate::new(Instant::now() + left);
    let armed = tokio::spawn(gate.clone().arm(cancel.clone()));
    let opened = tokio::select! {
        _ = gate.wait() => !cancel.is_cancelled(),
        _ = cancel.cancelled() => false,
    };
    armed.abort();
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_spreads_evenly() {
        let r = Duration::from_secs(2);
        assert_eq!(ramp_offset(0, 4, r), Duration::ZERO);
        assert_eq!(ramp_offset(1, 4, r), Duration::from_millis(500));
        assert_eq!(ramp_offset(3, 4, r), Duration::from_millis(1500));
        assert_eq!(ramp_offset(3, 4, Duration::ZERO), Duration::ZERO);
        assert_eq!(ramp_offset(0, 0, r), Duration::ZERO);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gate_wakes_every_waiter_within_a_few_ms() {
        // 500 ms ahead: the waiters and the arming task are in place long before the deadline even
        // when CI's parallel tests hold the cores (60 ms was once too short for that).
        let gate = Gate::new(Instant::now() + Duration::from_millis(500));
        let mut tasks = Vec::new();
        for _ in 0..500 {
            let g = gate.clone();
            tasks.push(tokio::spawn(async move {
                let woke = g.wait().await;
                (woke >= g.deadline(), g.skew(woke))
            }));
        }
        tokio::spawn(gate.clone().arm(CancellationToken::new()));
        let mut skews = Vec::new();
        for t in tasks {
            let (after, skew) = t.await.unwrap();
            assert!(after, "a waiter woke before the deadline");
            skews.push(skew);
        }
        skews.sort();
        // Debug build on a shared 2-core machine: generous bounds; the product bar is p99 < 2 ms
        // (bench row 3). The 90th percentile tells a gate that wakes everyone at once from one that
        // does not; the worst may include a stall of the whole process, which is not the gate's.
        let (p90, worst) = (skews[skews.len() * 9 / 10], skews[skews.len() - 1]);
        assert!(p90 < Duration::from_millis(50), "p90 skew {p90:?}");
        assert!(worst < Duration::from_secs(1), "worst skew {worst:?}");
    }

    /// Counts its wakes.
    struct Woken(AtomicUsize);

    impl futures::task::ArcWake for Woken {
        fn wake_by_ref(me: &Arc<Self>) {
            me.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Polls `wait` once with a waker that counts into a new [`Woken`].
    fn poll_once<F: std::future::Future>(wait: std::pin::Pin<&mut F>) -> (bool, Arc<Woken>) {
        let woken = Arc::new(Woken(AtomicUsize::new(0)));
        let waker = futures::task::waker(woken.clone());
        let ready = F::poll(wait, &mut std::task::Context::from_waker(&waker)).is_ready();
        (ready, woken)
    }

    /// Polls each of `waits` once, asserting that none is ready (`what`: what readiness would
    /// mean); returns the counters of their wakes.
    fn poll_all_pending<F: std::future::Future>(
        waits: &mut [std::pin::Pin<Box<F>>],
        what: &str,
    ) -> Vec<Arc<Woken>> {
        waits
            .iter_mut()
            .map(|w| {
                let (ready, woken) = poll_once(w.as_mut());
                assert!(!ready, "{what}");
                woken
            })
            .collect()
    }

    #[test]
    fn a_shard_gate_wakes_each_client_in_its_slot() {
        use futures::FutureExt;
        // Shard 1 of 3 holds clients 1, 4, 7, 10: slots 0..4. Were two of them to share a slot,
        // the second's waker would replace the first's, and the first would never wake.
        let gate = ShardGate::for_shard(Instant::now() + Duration::from_secs(3600), 4, 3);
        let mut waits: Vec<_> = [1, 4, 7, 10].map(|c| Box::pin(gate.wait(c))).into();
        let woken = poll_all_pending(&mut waits, "a client passed a closed gate");
        gate.release();
        for (k, w) in woken.iter().enumerate() {
            assert_eq!(w.0.load(Ordering::SeqCst), 1, "client {k} woken once");
        }
        for w in waits {
            assert!(w.now_or_never().is_some(), "a woken client passes");
        }
        assert!(!gate.aborted());
        // A client that comes after the opening passes at once.
        assert!(gate.wait(7).now_or_never().is_some());
    }

    #[test]
    fn an_aborted_shard_gate_lets_its_clients_through_as_aborted() {
        use futures::FutureExt;
        let gate = ShardGate::for_shard(Instant::now() + Duration::from_secs(3600), 2, 1);
        let mut waiting = Box::pin(gate.wait(1));
        let (ready, woken) = poll_once(waiting.as_mut());
        assert!(!ready);
        // A client that went away leaves its waker in its slot: the release wakes it harmlessly.
        let (_, gone) = poll_once(Box::pin(gate.wait(0)).as_mut());
        gate.abort();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert_eq!(gone.0.load(Ordering::SeqCst), 1);
        assert!(waiting.now_or_never().is_some());
        assert!(gate.aborted());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn muster_releases_when_the_last_arrives() {
        let m = Muster::new(3, 2);
        let early = {
            let m = m.clone();
            tokio::spawn(async move { m.arrive(0, Duration::from_secs(30)).await })
        };
        let second = {
            let m = m.clone();
            tokio::spawn(async move { m.arrive(2, Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Stripe 0 (parties 0 and 2) is full; stripe 1 waits for party 1.
        assert!(!early.is_finished() && !second.is_finished());
        m.arrive(1, Duration::from_secs(30)).await;
        early.await.unwrap();
        second.await.unwrap();
        // A missing party only delays the others by the bound.
        let lonely = Muster::new(2, 2);
        let t = std::time::Instant::now();
        lonely.arrive(1, Duration::from_millis(30)).await;
        assert!(t.elapsed() >= Duration::from_millis(29));
    }

    #[tokio::test]
    async fn a_striped_muster_releases_only_when_every_stripe_is_full() {
        use futures::FutureExt;
        // 10 parties in 4 stripes (3, 3, 2, 2 parties), and a muster with more stripes than
        // parties.
        for (parties, stripes) in [(10, 4), (2, 8)] {
            let m = Muster::new(parties, stripes);
            let last = parties - 1;
            let mut waiting: Vec<_> = (0..last)
                .map(|p| Box::pin(m.arrive(p, Duration::from_secs(3600))))
                .collect();
            let counters = poll_all_pending(
                &mut waiting,
                &format!("released before party {last} arrived"),
            );
            assert_eq!(m.arrivals(), last);
            // The last party completes its stripe and the muster: it goes on without waiting.
            assert!(
                Box::pin(m.arrive(last, Duration::from_secs(3600)))
                    .now_or_never()
                    .is_some()
            );
            for (p, (w, woken)) in waiting.iter_mut().zip(&counters).enumerate() {
                assert_eq!(woken.0.load(Ordering::SeqCst), 1, "party {p} woken once");
                assert!(w.as_mut().now_or_never().is_some(), "party {p} released");
            }
        }
    }

    #[tokio::test]
    async fn watchers_wait_for_the_release_without_being_waited_for() {
        let m = Muster::watched(2, 1, 2);
        let watcher = {
            let m = m.clone();
            tokio::spawn(async move { m.watch(0).await })
        };
        let party = {
            let m = m.clone();
            tokio::spawn(async move { m.arrive(0, Duration::from_secs(30)).await })
        };
        while m.arrivals() == 0 {
            tokio::task::yield_now().await;
        }
        // One party of two has arrived: nobody is released, and the watcher is not counted.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!watcher.is_finished() && !party.is_finished());
        m.arrive(1, Duration::from_secs(30)).await;
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .expect("the watcher is released with the parties")
            .unwrap();
        party.await.unwrap();
        // Dismissed before anyone arrived: the watchers go at once.
        let called_off = Muster::watched(3, 2, 2);
        called_off.dismiss();
        called_off.watch(1).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_first_arrival_that_gives_up_releases_the_others() {
        let m = Muster::new(3, 2);
        let first = {
            let m = m.clone();
            tokio::spawn(async move { m.arrive(0, Duration::from_secs(30)).await })
        };
        while m.arrivals() == 0 {
            tokio::task::yield_now().await;
        }
        let second = {
            let m = m.clone();
            tokio::spawn(async move { m.arrive(1, Duration::from_secs(30)).await })
        };
        first.abort();
        // Released by the aborted first arrival, long before its 30 s bound.
        tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("released")
            .unwrap();
    }

    #[tokio::test]
    async fn cancel_opens_the_gate_and_late_waiters_pass() {
        let gate = Gate::new(Instant::now() + Duration::from_secs(3600));
        let cancel = CancellationToken::new();
        let armed = tokio::spawn(gate.clone().arm(cancel.clone()));
        cancel.cancel();
        armed.await.unwrap();
        assert!(gate.is_open());
        gate.wait().await; // already open: returns at once
    }

    #[tokio::test]
    async fn wall_clock_start() {
        let cancel = CancellationToken::new();
        let t = std::time::Instant::now();
        assert!(wait_until_wall(SystemTime::now() + Duration::from_millis(30), &cancel).await);
        assert!(t.elapsed() >= Duration::from_millis(29));
        assert!(wait_until_wall(SystemTime::UNIX_EPOCH, &cancel).await);
        cancel.cancel();
        assert!(!wait_until_wall(SystemTime::now() + Duration::from_secs(60), &cancel).await);
    }
}
