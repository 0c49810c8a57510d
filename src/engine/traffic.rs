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
//!   storm a client's first loop goes first: only it waits at the gate, its other
//!   `concurrency − 1` loops wait for the muster's release, which wakes them after every first
//!   loop, and then yield once, so in pool mode every client's first request queues for a
//!   connection before any second one (within a shard; shards interleave).
//!
//! Requests still in flight when the phase ends get a short grace, then are cut (not recorded), so a
//! hung target cannot stretch the phase by a whole client timeout.
//!
//! Clients run on a few shard tasks ([`spawn_sharded`]: four per worker thread, each driving its
//! share with a `FuturesUnordered`) instead of one task each: waking 10 000 clients at one instant
//! then costs a queue push per client rather than a trip through the runtime's scheduler, which is
//! what keeps `wake_skew` within a millisecond or two.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rand::Rng;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::schedule::{Gate, Muster, ShardGate};
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

/// How long requests in flight at the end of a phase (or of the run) may take to finish: the
/// client timeout, at most [`END_GRACE`].
pub(crate) fn grace(timeout: Duration) -> Duration {
    timeout.min(END_GRACE)
}

/// Shard tasks per worker thread of the runtime for [`spawn_sharded`].
const SHARDS_PER_WORKER: usize = 4;

/// How many shard tasks [`spawn_sharded`] runs `clients` on: client `i` is on shard
/// `i % shard_count(clients)`. Four per worker thread of the runtime (`--threads`).
fn shard_count(clients: usize) -> usize {
    (authbench_mock::runtime::workers() * SHARDS_PER_WORKER).clamp(1, clients.max(1))
}

/// Runs `client(i, j, gate)` for every client `i` in `0..clients` and each of its loops `j` in
/// `0..loops` on a few shard tasks (see the module docs) until every one is done or `token` fires.
/// The futures are created here, before anything runs. A client's loops share its shard, and every
/// client's first loop is queued before any client's second, so at a synchronized start the first
/// loops are polled first. (Each loop is its own entry in its shard's queue: a queue per client
/// would cost a task and a stub the size of a loop, ~2 KB per client.)
///
/// With a `gate`, each shard gets its own copy (a [`ShardGate`], same deadline, a slot for each of
/// its clients) that the shard opens as soon as the shared one opens, and its clients wait on that
/// copy: the shared gate then wakes a handful of shards instead of every client, and each shard
/// wakes its own clients on whichever worker runs it. The client closure gets the copy; client `i`
/// waits on it with `wait(i)`.
fn spawn_sharded<F, Fut>(
    clients: usize,
    loops: usize,
    token: &CancellationToken,
    gate: Option<&Arc<Gate>>,
    client: F,
) -> JoinSet<()>
where
    F: Fn(usize, usize, Option<Arc<ShardGate>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let shards = shard_count(clients);
    // Shard `k` holds clients k, k + shards, …: a slot for each.
    let local: Vec<Option<Arc<ShardGate>>> = (0..shards)
        .map(|_| gate.map(|g| ShardGate::for_shard(g.deadline(), clients.div_ceil(shards), shards)))
        .collect();
    let queues: Vec<FuturesUnordered<Fut>> = (0..shards).map(|_| FuturesUnordered::new()).collect();
    for j in 0..loops {
        for i in 0..clients {
            queues[i % shards].push(client(i, j, local[i % shards].clone()));
        }
    }
    let mut set = JoinSet::new();
    for (mut queue, local) in queues.into_iter().zip(local) {
        let token = token.clone();
        let relay = gate.cloned().zip(local).map(|(shared, local)| async move {
            shared.wait().await;
            if shared.aborted() {
                local.abort();
            } else {
                local.release();
            }
        });
        set.spawn(async move {
            token
                .run_until_cancelled(async move {
                    let drive = async { while queue.next().await.is_some() {} };
                    match relay {
                        Some(relay) => {
                            futures::future::join(relay, drive).await;
                        }
                        None => drive.await,
                    }
                })
                .await;
        });
    }
    set
}

/// Waits for the gate, waits for every other client to have woken too, then records this client's
/// wake skew (recording after the muster keeps its cost out of the instant everyone wakes). A gate
/// opened by a cancellation dismisses the muster (its watchers then see the abort).
async fn wake(session: &Session, client: usize, gate: &ShardGate, muster: &Muster) {
    let woke = gate.wait(client).await;
    if gate.aborted() {
        // Cancelled before the deadline: nothing was measured.
        muster.dismiss();
        return;
    }
    muster.arrive(client, MUSTER_BOUND).await;
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

fn record_recovery(session: &Session, deadline: Instant, recovered: &AtomicBool) {
    if !recovered.swap(true, Ordering::AcqRel) {
        let rec = &session.env().recorder;
        let shard = session.id() as usize;
        rec.record_duration(
            shard,
            names::RECOVERY,
            Instant::now().saturating_duration_since(deadline),
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
    let muster = Muster::new(sessions.len(), shard_count(sessions.len()));
    let mut set = spawn_sharded(sessions.len(), 1, cancel, Some(&gate), |i, _, gate| {
        let (s, muster) = (sessions[i].clone(), muster.clone());
        async move {
            if let Some(gate) = gate {
                wake(&s, i, &gate, &muster).await;
            }
        }
    });
    while set.join_next().await.is_some() {}
}

/// What every loop of one closed-model phase shares, once per phase: a storm keeps 20 000 loops
/// in flight at once, so what each loop's future holds is paid 20 000 times (a loop holds this
/// behind one pointer, its session, its shard's gate and two indices).
struct Closed {
    end: Instant,
    think: Duration,
    /// The gate's deadline, at a synchronized start: `recovery` is measured from it.
    deadline: Option<Instant>,
    clients: usize,
    muster: Arc<Muster>,
    /// Whether client `i` has had a successful call since the gate opened.
    recovered: Box<[AtomicBool]>,
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
    let end = start.at() + duration;
    let token = phase_token(cancel, end, grace(settings.timeout));
    let (clients, loops) = (sessions.len(), settings.concurrency.max(1) as usize);
    // At a synchronized start each client's first loop waits for the gate and musters; its other
    // loops only watch the muster, so the gate wakes one future per client and every first loop
    // is polled before any other (the muster's release wakes its parties before its watchers).
    // Without a gate nobody musters: no slots.
    let (parties, watchers) = match &start.gate {
        Some(_) => (clients, clients * (loops - 1)),
        None => (0, 0),
    };
    let phase = Arc::new(Closed {
        end,
        think: settings.think_time,
        deadline: start.gate.as_ref().map(|g| g.deadline()),
        clients,
        muster: Muster::watched(parties, watchers, shard_count(clients)),
        recovered: sessions.iter().map(|_| AtomicBool::new(false)).collect(),
    });
    if let Some(g) = &start.gate {
        // The first request written at or after the deadline, by whichever loop, is the client's
        // first of the phase (one sent before the deadline is not).
        for s in sessions {
            s.expect_first_send(g.deadline().into_std());
        }
    }
    let mut set = spawn_sharded(clients, loops, &token, start.gate.as_ref(), |i, j, gate| {
        let (s, phase) = (sessions[i].clone(), phase.clone());
        // `clients` and `concurrency` are 32-bit in the scenario: so are these indices.
        let (i, j) = (i as u32, j as u32);
        async move {
            if let Some(g) = &gate {
                match j {
                    0 => wake(&s, i as usize, g, &phase.muster).await,
                    _ => {
                        let watcher = (j as usize - 1) * phase.clients + i as usize;
                        phase.muster.watch(watcher).await;
                        // A first loop whose poll was cut short is behind this one in the queue
                        // again: without this yield the 5 000 × 4 storm measured twice as wide at
                        // the server (README, "A pool of 500").
                        tokio::task::yield_now().await;
                    }
                }
                if g.aborted() {
                    return;
                }
            }
            client_loop(&s, &phase, i).await
        }
    });
    while set.join_next().await.is_some() {}
    token.cancel();
    if let Some(gate) = &start.gate {
        // A storm cut before it started (Ctrl-C opened the gate) measured no recovery.
        if gate.storm_started() {
            count_never_recovered(sessions, &phase.recovered, |_| true);
        }
        for s in sessions {
            s.cancel_first_send();
        }
    }
}

/// A loop of client `i` in a closed phase: request, think time, until the phase ends. Without a
/// gate it starts at a random point of its first think time. (What it needs is read from
/// `phase` where it is used, not copied: a copy would be part of every loop's future.)
async fn client_loop(s: &Session, phase: &Closed, i: u32) {
    if phase.deadline.is_none() && !phase.think.is_zero() {
        let offset = rand::rng().random_range(0.0..phase.think.as_secs_f64());
        let first = Instant::now().checked_add(Duration::from_secs_f64(offset));
        tokio::time::sleep_until(first.map_or(phase.end, |t| t.min(phase.end))).await;
    }
    let mut retry = Retry::default();
    while Instant::now() < phase.end {
        let outcome = s.api_call(None).await;
        if outcome == ApiOutcome::Ok
            && let Some(deadline) = phase.deadline
        {
            record_recovery(s, deadline, &phase.recovered[i as usize]);
        }
        let think = phase.think;
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
        // (`think_time` is at most a day; a pause past what an instant can hold ends at `end`.)
        let mut until = Instant::now().checked_add(pause).unwrap_or(phase.end);
        if let Some(t) = s.retry_at() {
            until = until.max(t);
        }
        if until > Instant::now() {
            tokio::time::sleep_until(until.min(phase.end)).await;
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
        // The dispatcher is the last party.
        let muster = Muster::new(sessions.len() + 1, shard_count(sessions.len()));
        wakers = spawn_sharded(sessions.len(), 1, cancel, Some(gate), |i, _, gate| {
            let (s, muster) = (sessions[i].clone(), muster.clone());
            async move {
                if let Some(gate) = gate {
                    wake(&s, i, &gate, &muster).await;
                }
            }
        });
        tokio::select! {
            _ = async {
                gate.wait().await;
                muster.arrive(sessions.len(), MUSTER_BOUND).await;
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
                                record_recovery(s, g.deadline(), &recovered[idx]);
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
    use super::*;
    use crate::client::session::test_env;

    #[tokio::test]
    async fn a_closed_loop_holds_its_call_and_little_else() {
        // At the storm all 20 000 loops (5 000 clients × 4) exist at once, each as large as its
        // largest state: a call in flight. When every loop copied the phase's end, think time,
        // gate and recovery flags (and its function's arguments were copied again), a loop in
        // flight held 136 bytes beside its call (release build: 624 bytes around a 488-byte
        // call); now what the phase shares sits behind one pointer.
        let s = Session::new(test_env(), 0);
        let call = std::mem::size_of_val(&s.api_call(None));
        let phase = Closed {
            end: Instant::now(),
            think: Duration::from_secs(1),
            deadline: None,
            clients: 1,
            muster: Muster::watched(0, 0, 1),
            recovered: Box::new([AtomicBool::new(false)]),
        };
        let whole = std::mem::size_of_val(&client_loop(&s, &phase, 0));
        println!("api call: {call} bytes, loop: {whole} bytes");
        assert!(
            whole <= call + 72,
            "{whole} bytes around a {call}-byte call"
        );
    }
}
