//! The `traffic` phase (closed and open model) and the synchronized wake of `sync_expiry`.
//!
//! - Closed model: every client runs `concurrency` loops of *request, think time* until the phase
//!   ends. Without a synchronized start each loop begins at a random point of its first think time,
//!   so the load is steady from the first second. A client told to wait (`Retry-After` on a 429 or
//!   503) pauses that long instead of its think time when longer, never past the phase end. A call
//!   that failed for a passing reason (transport, 5xx, 429) is followed by the client's backoff
//!   ([`crate::client::retry`]: 200 ms doubling up to 5 s) instead, when longer than the think time.
//! - Open model: arrivals at `rate` per second on an intended schedule, dealt to the clients in turn.
//!   An arrival whose client has all `concurrency` slots busy is `dropped`; latency is recorded from
//!   the intended send time (`api`, corrected for coordinated omission) and from the actual send
//!   (`api_uncorrected`).
//! - After `sync_expiry` the phase starts at the gate's deadline: every client wakes at once
//!   (`wake_skew`), waits until every client has woken (a [`Muster`], so the first clients' requests
//!   do not delay the later wakes), then fires; `recovery` is the time from the deadline to the
//!   client's first successful call, and the clients without one by the phase end are counted
//!   `never_recovered` (in the open model: among the clients that got an arrival). Each client's
//!   first request of the phase records `send_skew`: the deadline (open model: the intended send
//!   time of its first arrival) → the moment the request was handed to a ready connection, which
//!   is later than the wake by the muster, a pool wait, a connect, a pending `Retry-After`. At the
//!   storm a client's first loop goes first: its other `concurrency − 1` loops yield once, so in
//!   pool mode every client's first request queues for a connection before any second one.
//!
//! Requests still in flight when the phase ends get a short grace, then are cut (not recorded), so a
//! hung target cannot stretch the phase by a whole client timeout.
//!
//! Clients run on a few shard tasks ([`spawn_sharded`]: four per core, each driving its share with a
//! `FuturesUnordered`) instead of one task each. At a storm a shard polls none of its clients before
//! the gate opens and then polls each one for the first time: a client's wake is that first poll,
//! with no waiter per client to register and then walk, and no trip through the runtime's scheduler.
//! The woken clients muster by shard (one [`Muster`] group each, so the two workers share no
//! counter). That keeps `wake_skew` of 10 000 clients within a millisecond or two.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::Either;
use futures::stream::FuturesUnordered;
use rand::Rng;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::schedule::{Gate, Muster};
use crate::client::retry::Retry;
use crate::client::session::{ApiOutcome, Session};
use crate::metrics::names;

/// Longest time requests in flight at the end of a phase may take to finish.
const END_GRACE: Duration = Duration::from_secs(2);
/// Longest time a woken client waits for the others before it starts anyway.
const MUSTER_BOUND: Duration = Duration::from_millis(250);
/// Pause after a failed call when there is no think time, so a dead target is not spun on.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// How the phase starts.
pub(crate) struct Start {
    /// `Some`: a synchronized start (after `sync_expiry`).
    pub gate: Option<Arc<Gate>>,
}

impl Start {
    fn at(&self) -> Instant {
        match &self.gate {
            Some(g) => g.deadline().max(Instant::now()),
            None => Instant::now(),
        }
    }
}

/// A token cancelled `grace` after `end` (or with `cancel`).
fn phase_token(cancel: &CancellationToken, end: Instant, grace: Duration) -> CancellationToken {
    let t = cancel.child_token();
    let timer = t.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep_until(end + grace) => timer.cancel(),
            _ = timer.cancelled() => {}
        }
    });
    t
}

fn grace(timeout: Duration) -> Duration {
    timeout.min(END_GRACE)
}

/// Shard tasks per core for [`spawn_sharded`].
const SHARDS_PER_CORE: usize = 4;

/// How a phase's clients are dealt to the shard tasks of [`spawn_sharded`]: client `i` to shard
/// `i % count`. A shard's clients are one group of a [`Muster`].
#[derive(Debug, Clone, Copy)]
struct Shards {
    count: usize,
    clients: usize,
}

impl Shards {
    /// Four shards per core, at most one per client.
    fn new(clients: usize) -> Shards {
        let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
        Shards {
            count: (cores * SHARDS_PER_CORE).clamp(1, clients.max(1)),
            clients,
        }
    }

    /// The shard of client `i`.
    fn of(self, i: usize) -> usize {
        i % self.count
    }

    /// How many clients each shard drives, shard by shard.
    fn sizes(self) -> impl Iterator<Item = usize> {
        (0..self.count).map(move |s| (self.clients + self.count - 1 - s) / self.count)
    }

    /// A muster of every client, grouped by shard.
    fn muster(self) -> Arc<Muster> {
        Muster::new(self.sizes())
    }
}

/// Runs `client(i)` for every client `i` of `shards` on its shard task (see the module docs) until every one is
/// done or `token` fires. The futures are created here, before anything runs.
///
/// With a `gate`, a shard polls none of its clients before the gate opens: the shared gate wakes a
/// handful of shards, and each client's first poll is its wake. No client registers a waiter to be
/// woken through (walking a million waiters before the first client ran was most of the wake of a
/// million). So a client's future must do nothing before its gate that could be done earlier:
/// whatever it allocates is made by `client(i)`.
fn spawn_sharded<F, Fut>(
    shards: Shards,
    token: &CancellationToken,
    gate: Option<&Arc<Gate>>,
    client: F,
) -> JoinSet<()>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let queues: Vec<FuturesUnordered<Fut>> =
        (0..shards.count).map(|_| FuturesUnordered::new()).collect();
    for i in 0..shards.clients {
        queues[shards.of(i)].push(client(i));
    }
    let mut set = JoinSet::new();
    for mut queue in queues {
        let (token, gate) = (token.clone(), gate.cloned());
        set.spawn(async move {
            token
                .run_until_cancelled(async move {
                    if let Some(gate) = gate {
                        gate.wait().await;
                    }
                    while queue.next().await.is_some() {}
                })
                .await;
        });
    }
    set
}

/// Waits for the gate, waits for every other client to have woken too, then records this client's
/// wake skew (recording after the muster keeps its cost out of the instant everyone wakes).
async fn wake(session: &Session, gate: &Gate, muster: &Muster, shard: usize) {
    let woke = gate.wait().await;
    if gate.aborted() {
        // Cancelled before the deadline: nothing was measured.
        return;
    }
    muster.arrive(shard, MUSTER_BOUND).await;
    session.env().recorder.record_duration(
        session.id() as usize,
        names::WAKE_SKEW,
        gate.skew(woke),
    );
}

/// Counts `never_recovered`: the clients of `sessions` whose flag in `recovered` is still unset
/// (`eligible`: only those clients count). Recorded even when 0, so the report shows it beside the
/// `recovery` histogram.
fn count_never_recovered(
    sessions: &[Arc<Session>],
    recovered: &[AtomicBool],
    eligible: impl Fn(usize) -> bool,
) {
    let Some(first) = sessions.first() else {
        return;
    };
    let never = (0..sessions.len())
        .filter(|&i| eligible(i) && !recovered[i].load(Ordering::Acquire))
        .count();
    first
        .env()
        .recorder
        .count(first.id() as usize, names::NEVER_RECOVERED, never as u64);
}

fn record_recovery(session: &Session, gate: &Gate, recovered: &AtomicBool) {
    if !recovered.swap(true, Ordering::AcqRel) {
        let rec = &session.env().recorder;
        let shard = session.id() as usize;
        rec.record_duration(
            shard,
            names::RECOVERY,
            Instant::now().saturating_duration_since(gate.deadline()),
        );
        rec.series(shard, names::SERIES_RECOVERED, 1);
    }
}

/// `sync_expiry` not followed by traffic: every client wakes at the deadline and records its skew.
pub(crate) async fn wake_all(
    sessions: &[Arc<Session>],
    gate: Arc<Gate>,
    cancel: &CancellationToken,
) {
    let shards = Shards::new(sessions.len());
    let muster = shards.muster();
    let mut set = spawn_sharded(shards, cancel, Some(&gate), |i| {
        let (s, muster, gate) = (sessions[i].clone(), muster.clone(), gate.clone());
        async move { wake(&s, &gate, &muster, shards.of(i)).await }
    });
    while set.join_next().await.is_some() {}
}

/// Closed-model traffic for `duration`.
pub(crate) async fn closed(
    sessions: &[Arc<Session>],
    duration: Duration,
    start: Start,
    cancel: &CancellationToken,
) {
    let Some(first) = sessions.first() else {
        if let Some(g) = &start.gate {
            g.wait().await;
        }
        return;
    };
    let settings = first.env().settings.clone();
    let begin = start.at();
    let end = begin + duration;
    let token = phase_token(cancel, end, grace(settings.timeout));
    let shards = Shards::new(sessions.len());
    let muster = shards.muster();
    let recovered: Arc<[AtomicBool]> = sessions.iter().map(|_| AtomicBool::new(false)).collect();
    let mut set = spawn_sharded(shards, &token, start.gate.as_ref(), |i| {
        let s = sessions[i].clone();
        let (think, gate) = (settings.think_time, start.gate.clone());
        let stagger = gate.is_none() && !think.is_zero();
        let n = settings.concurrency.max(1);
        let loop_number = |j: u32| {
            let (s, gate, recovered) = (s.clone(), gate.clone(), recovered.clone());
            async move {
                // At the storm, every client's first request queues (for a pooled connection)
                // before any client's second: otherwise the last clients' first requests would
                // wait behind the others' `concurrency − 1` more.
                if gate.is_some() && j > 0 {
                    tokio::task::yield_now().await;
                }
                client_loop(&s, end, think, stagger, gate.as_deref(), &recovered[i]).await
            }
        };
        // The loops are made here, before the deadline (a shard polls no client before it):
        // at the storm they were 20 000 fresh allocations of ~1 KB in its first milliseconds
        // (page faults and heap growth while the first requests should be going out). Several
        // loops run in a `FuturesUnordered`, each polled only when woken (`join_all` polled every
        // loop of the client on any wake); one runs inline (a `FuturesUnordered` would allocate
        // two more chunks the size of the loop's future, its stub and the loop's task).
        let loops = if n > 1 {
            Either::Left((0..n).map(&loop_number).collect::<FuturesUnordered<_>>())
        } else {
            Either::Right(loop_number(0))
        };
        let muster = muster.clone();
        async move {
            if let Some(g) = &gate {
                wake(&s, g, &muster, shards.of(i)).await;
                if g.aborted() {
                    return;
                }
                s.expect_first_send(g.deadline().into_std());
            }
            match loops {
                Either::Left(mut many) => while many.next().await.is_some() {},
                Either::Right(only) => only.await,
            }
        }
    });
    while set.join_next().await.is_some() {}
    token.cancel();
    if let Some(gate) = &start.gate {
        // A storm cut before it started (Ctrl-C opened the gate) measured no recovery.
        if gate.storm_started() {
            count_never_recovered(sessions, &recovered, |_| true);
        }
        for s in sessions {
            s.cancel_first_send();
        }
    }
}

async fn client_loop(
    s: &Session,
    end: Instant,
    think: Duration,
    stagger: bool,
    gate: Option<&Gate>,
    recovered: &AtomicBool,
) {
    if stagger {
        let offset = rand::rng().random_range(0.0..think.as_secs_f64());
        tokio::time::sleep_until((Instant::now() + Duration::from_secs_f64(offset)).min(end)).await;
    }
    let mut retry = Retry::default();
    while Instant::now() < end {
        let outcome = s.api_call(None).await;
        if outcome == ApiOutcome::Ok
            && let Some(g) = gate
        {
            record_recovery(s, g, recovered);
        }
        // A failure for a passing reason (the target is down, overloaded) backs off: 200 ms
        // doubling up to 5 s, or the think time when longer; a success starts again from 200 ms.
        let pause = if outcome != ApiOutcome::Ok && s.failing_for_a_passing_reason() {
            think.max(retry.next_delay())
        } else {
            retry.reset();
            match outcome {
                ApiOutcome::Error | ApiOutcome::NoSession if think.is_zero() => ERROR_PAUSE,
                _ => think,
            }
        };
        // A server's Retry-After (429/503) stretches the pause, never past the phase end.
        let mut until = Instant::now() + pause;
        if let Some(t) = s.retry_at() {
            until = until.max(t);
        }
        if until > Instant::now() {
            tokio::time::sleep_until(until.min(end)).await;
        }
    }
}

/// Open-model traffic: `rate` arrivals per second for `duration`.
pub(crate) async fn open(
    sessions: &[Arc<Session>],
    duration: Duration,
    rate: f64,
    start: Start,
    cancel: &CancellationToken,
) {
    let Some(first) = sessions.first() else {
        return;
    };
    let rec = first.env().recorder.clone();
    let timeout = first.env().settings.timeout;
    let mut wakers = JoinSet::new();
    if let Some(gate) = &start.gate {
        // Every client wakes (and records its skew); the dispatcher starts once they all have.
        // The dispatcher is a group of its own, after the shards'.
        let shards = Shards::new(sessions.len());
        let muster = Muster::new(shards.sizes().chain([1]));
        wakers = spawn_sharded(shards, cancel, Some(gate), |i| {
            let (s, muster, gate) = (sessions[i].clone(), muster.clone(), gate.clone());
            async move { wake(&s, &gate, &muster, shards.of(i)).await }
        });
        tokio::select! {
            _ = async {
                gate.wait().await;
                muster.arrive(shards.count, MUSTER_BOUND).await;
            } => {}
            _ = cancel.cancelled() => {}
        }
    }
    let begin = start.at();
    let end = begin + duration;
    let token = phase_token(cancel, end, grace(timeout));
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        1e-9
    };
    let arrival = |i: u64| begin.checked_add(Duration::try_from_secs_f64(i as f64 / rate).ok()?);
    let recovered: Arc<[AtomicBool]> = sessions.iter().map(|_| AtomicBool::new(false)).collect();
    // Clients that got an arrival (the first one marks the client's first send).
    let mut started = vec![false; sessions.len()];
    let mut inflight = JoinSet::new();
    let mut i: u64 = 0;
    while let Some(intended) = arrival(i) {
        if intended >= end || token.is_cancelled() {
            break;
        }
        if intended > Instant::now() {
            tokio::select! {
                _ = tokio::time::sleep_until(intended) => {}
                _ = token.cancelled() => break,
            }
        }
        let idx = (i % sessions.len() as u64) as usize;
        let session = &sessions[idx];
        i += 1;
        match session.try_claim_slot() {
            Some(slot) => {
                if start.gate.is_some() && !std::mem::replace(&mut started[idx], true) {
                    session.expect_first_send(intended.into_std());
                }
                let (token, gate, recovered) =
                    (token.clone(), start.gate.clone(), recovered.clone());
                let intended = intended.into_std();
                inflight.spawn(async move {
                    token
                        .run_until_cancelled(async move {
                            let s = slot.session();
                            let outcome = s.api_call(Some(intended)).await;
                            if outcome == ApiOutcome::Ok
                                && let Some(g) = &gate
                            {
                                record_recovery(s, g, &recovered[idx]);
                            }
                        })
                        .await
                });
            }
            None => rec.count(session.id() as usize, names::DROPPED, 1),
        }
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
    wakers.abort_all();
    token.cancel();
    if let Some(gate) = &start.gate {
        // A storm cut before it started (Ctrl-C opened the gate) measured no recovery.
        if gate.storm_started() {
            count_never_recovered(sessions, &recovered, |i| started[i]);
        }
        for s in sessions {
            s.cancel_first_send();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn shards_deal_every_client_once() {
        for clients in [0, 1, 7, 8, 9, 100, 1001] {
            let shards = Shards::new(clients);
            let sizes: Vec<usize> = shards.sizes().collect();
            assert_eq!(sizes.len(), shards.count);
            for (s, &size) in sizes.iter().enumerate() {
                let dealt = (0..clients).filter(|&i| shards.of(i) == s).count();
                assert_eq!(size, dealt, "shard {s} of {clients} clients");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sharded_client_first_runs_when_its_gate_opens() {
        // Made now, polled first at the deadline: each client's first poll is its wake.
        let gate = Gate::new(Instant::now() + Duration::from_millis(300));
        let first_runs = Arc::new(Mutex::new(Vec::new()));
        let token = CancellationToken::new();
        let made = AtomicBool::new(false);
        let mut set = spawn_sharded(Shards::new(64), &token, Some(&gate), |_| {
            made.store(true, Ordering::Relaxed);
            let runs = first_runs.clone();
            async move { runs.lock().unwrap().push(Instant::now()) }
        });
        assert!(
            made.load(Ordering::Relaxed),
            "the clients are made before anything runs"
        );
        tokio::spawn(gate.clone().arm(token.clone()));
        while set.join_next().await.is_some() {}
        let runs = first_runs.lock().unwrap();
        assert_eq!(runs.len(), 64, "every client ran");
        let early = runs.iter().filter(|&&t| t < gate.deadline()).count();
        assert_eq!(early, 0, "{early} clients ran before the gate opened");
    }
}
