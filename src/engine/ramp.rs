//! Running one job per client, started evenly over a ramp, as lightweight tasks.
//!
//! Tasks are spawned at their start time (not all up front), so a ramp of 100 000 logins keeps only
//! the logins in flight alive, and every task stops at once when the run is cancelled. At most
//! [`in_flight_cap`] run at once: when the target answers slower than the ramp asks, later starts
//! wait for earlier jobs instead of piling up (issue 16: a million clients logging in).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::schedule::ramp_offset;
use crate::client::Session;

/// Jobs in flight at most ([`ramped`]).
pub(crate) const MAX_IN_FLIGHT: usize = 20_000;

/// Jobs in flight at most for these sessions. A pool lets `n` requests through at once, so more
/// than `2n` jobs only wait for a permit, each holding its task (~4 KiB in a release build: 20 000
/// waiting logins held 82 MB of a million clients' peak); per-client connections send at once.
/// Never below 1 000, so a job that also opens a WebSocket outside the pool is not throttled by a
/// small pool.
///
/// `any`: one of the sessions (they share the run's connector).
pub(crate) fn in_flight_cap(any: Option<&Arc<Session>>) -> usize {
    cap_for_pool(any.and_then(|s| s.env().connector.pool_size()))
}

/// [`ramped`] with job `k` for `sessions[k]`, at most [`in_flight_cap`] of them in flight.
pub(crate) async fn ramped_over<T, Fut>(
    sessions: &[Arc<Session>],
    ramp: Duration,
    cancel: &CancellationToken,
    make: impl FnMut(usize) -> Fut,
    done: impl FnMut(usize, T),
) where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let cap = in_flight_cap(sessions.first());
    ramped(sessions.len(), ramp, cap, cancel, make, done).await
}

fn cap_for_pool(pool: Option<usize>) -> usize {
    pool.map_or(MAX_IN_FLIGHT, |n| {
        n.saturating_mul(2).clamp(1_000, MAX_IN_FLIGHT)
    })
}

/// Starts `make(k)` for `k in 0..n`, the k-th at `ramp·k/n` (or, with `cap` jobs still running,
/// once one of them has finished), and waits for all of them. Job `k`'s output goes to
/// `done(k, output)` as it finishes (a cancelled job has none); nothing is collected, so a ramp
/// over a million clients keeps no million results.
pub(crate) async fn ramped<T, Fut>(
    n: usize,
    ramp: Duration,
    cap: usize,
    cancel: &CancellationToken,
    mut make: impl FnMut(usize) -> Fut,
    mut done: impl FnMut(usize, T),
) where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let start = Instant::now();
    let mut set = JoinSet::new();
    let mut out = |joined: Result<Option<(usize, T)>, _>| {
        if let Ok(Some((k, v))) = joined {
            done(k, v);
        }
    };
    for k in 0..n {
        let at = start + ramp_offset(k as u64, n as u64, ramp);
        if at > Instant::now() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = cancel.cancelled() => break,
            }
        }
        // A target slower than the ramp: the next start waits for a job to finish instead of
        // queueing behind a pooled connection (a million queued logins held 1.4 GiB).
        while set.len() >= cap.max(1) && !cancel.is_cancelled() {
            tokio::select! {
                Some(joined) = set.join_next() => out(joined),
                _ = cancel.cancelled() => {}
            }
        }
        if cancel.is_cancelled() {
            break;
        }
        let job = make(k);
        let cancel = cancel.clone();
        set.spawn(async move { cancel.run_until_cancelled(job).await.map(|v| (k, v)) });
        while let Some(joined) = set.try_join_next() {
            out(joined);
        }
    }
    while let Some(joined) = set.join_next().await {
        out(joined);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_every_job_spread_over_the_ramp() {
        let cancel = CancellationToken::new();
        let t0 = Instant::now();
        let mut got = Vec::new();
        ramped(
            5,
            Duration::from_millis(100),
            MAX_IN_FLIGHT,
            &cancel,
            |_| async move { Instant::now() },
            |k, at| got.push((k, at)),
        )
        .await;
        got.sort_by_key(|(k, _)| *k);
        assert_eq!(got.len(), 5);
        assert_eq!(
            got.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let (_, last) = got[4];
        assert!(last - t0 >= Duration::from_millis(79), "{:?}", last - t0);
    }

    #[tokio::test]
    async fn a_slow_target_never_has_more_than_the_cap_in_flight() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (cap, n) = (1_000, 1_050);
        let mut got = 0;
        ramped(
            n,
            Duration::ZERO,
            cap,
            &CancellationToken::new(),
            |_| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                }
            },
            |_, ()| got += 1,
        )
        .await;
        assert_eq!(got, n, "every job ran");
        assert!(peak.load(Ordering::SeqCst) <= cap);
    }

    #[test]
    fn a_pool_caps_the_jobs_in_flight_at_twice_its_size() {
        assert_eq!(cap_for_pool(None), MAX_IN_FLIGHT, "per-client connections");
        assert_eq!(cap_for_pool(Some(4_000)), 8_000);
        assert_eq!(cap_for_pool(Some(10)), 1_000, "never below 1 000");
        assert_eq!(cap_for_pool(Some(50_000)), MAX_IN_FLIGHT);
    }

    #[tokio::test]
    async fn cancel_stops_spawning_and_running() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.cancel();
        });
        let t0 = Instant::now();
        let mut got = 0;
        ramped(
            1000,
            Duration::from_secs(60),
            MAX_IN_FLIGHT,
            &cancel,
            |_| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
            },
            |_, ()| got += 1,
        )
        .await;
        assert_eq!(got, 0, "no job finished");
        assert!(t0.elapsed() < Duration::from_secs(2));
    }
}
