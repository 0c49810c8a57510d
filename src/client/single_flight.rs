//! Single-flight: at most one token-renewing call per session at a time.
//!
//! Every request that finds its access token stale asks the [`SingleFlight`] to renew it. The first
//! one *leads* (runs the refresh); the others wait for the lock and then *follow*: if the leader
//! replaced the stale token they retry with the new one, and if the leader's attempt failed they give
//! up instead of hammering the server with their own attempts. A request whose token was already
//! replaced before it even asked (its 401 was for an older generation) never waits at all.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a caller of [`SingleFlight::run`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Flight<T> {
    /// This caller ran the renewal; here is its result.
    Led(T),
    /// Someone else had already renewed the token: retry with the current one.
    Renewed,
    /// An attempt ran while this caller waited and did not renew the token: do not try again.
    Failed,
}

/// The per-session lock plus an attempt counter (a few dozen bytes per session).
#[derive(Debug, Default)]
pub struct SingleFlight {
    lock: tokio::sync::Mutex<()>,
    attempts: AtomicU64,
}

impl SingleFlight {
    /// Runs `renew` unless the token is no longer stale (`is_stale() == false`: someone renewed it)
    /// or an attempt completed while this caller was waiting for the lock.
    pub async fn run<T, F, Fut>(&self, is_stale: impl Fn() -> bool, renew: F) -> Flight<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if !is_stale() {
            return Flight::Renewed;
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let _guard = self.lock.lock().await;
        if !is_stale() {
            return Flight::Renewed;
        }
        if self.attempts.load(Ordering::Acquire) != seen {
            return Flight::Failed;
        }
        // Boxed: only the leader holds the renewal's state. Inline, every follower's wait would be
        // as large as a whole refresh exchange (a storm holds every call of every client here).
        let out = Box::pin(renew()).await;
        self.attempts.fetch_add(1, Ordering::AcqRel);
        Flight::Led(out)
    }

    /// Runs `f` while holding the lock, unconditionally (login, logout: operations that must not
    /// interleave with a refresh of the same session).
    pub async fn exclusive<T, Fut: Future<Output = T>>(&self, f: impl FnOnce() -> Fut) -> T {
        let _guard = self.lock.lock().await;
        let out = f().await;
        self.attempts.fetch_add(1, Ordering::AcqRel);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test]
    async fn many_waiters_one_renewal() {
        let sf = Arc::new(SingleFlight::default());
        let generation = Arc::new(AtomicU64::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (sf, generation, calls) = (sf.clone(), generation.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                sf.run(
                    || generation.load(Ordering::SeqCst) == 0,
                    || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        generation.store(1, Ordering::SeqCst);
                        true
                    },
                )
                .await
            }));
        }
        let mut led = 0;
        for t in tasks {
            match t.await.unwrap() {
                Flight::Led(true) => led += 1,
                Flight::Renewed => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(led, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// Spawns a caller whose token is stale; its renewal counts itself in `calls`, then returns
    /// what `renewal` does.
    fn spawn_stale(
        sf: &Arc<SingleFlight>,
        calls: &Arc<AtomicUsize>,
        renewal: impl Future<Output = bool> + Send + 'static,
    ) -> tokio::task::JoinHandle<Flight<bool>> {
        let (sf, calls) = (sf.clone(), calls.clone());
        tokio::spawn(async move {
            sf.run(
                || true,
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    renewal.await
                },
            )
            .await
        })
    }

    #[tokio::test]
    async fn waiters_do_not_retry_a_failed_attempt() {
        let sf = Arc::new(SingleFlight::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let leader = spawn_stale(&sf, &calls, async {
            rx.await.ok();
            false
        });
        // Let the leader take the lock before the follower asks.
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let follower = spawn_stale(&sf, &calls, async { true });
        tokio::task::yield_now().await;
        tx.send(()).unwrap();
        assert_eq!(leader.await.unwrap(), Flight::Led(false));
        assert_eq!(follower.await.unwrap(), Flight::Failed);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn not_stale_returns_at_once() {
        let sf = SingleFlight::default();
        let out: Flight<()> = sf.run(|| false, || async { unreachable!() }).await;
        assert_eq!(out, Flight::Renewed);
    }
}
