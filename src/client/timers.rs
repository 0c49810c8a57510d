//! One timer task for every proactive refresh of a run.
//!
//! A proactive client refreshes at `exp - margin ± jitter`. Giving each of 100 000 idle clients its
//! own sleeping task would cost a task per client; instead every session pushes `(when, weak
//! session, token generation)` to one [`Timers`] task that keeps a min-heap and spawns the refresh
//! when it is due. An entry whose session is gone is simply dropped; whether the generation is still
//! current is the session's business (the target's [`Timed::due`] checks it).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::{Arc, Weak};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::stamp::MonoStamp;

/// Something a timer fires on.
pub trait Timed: Send + Sync + 'static {
    /// The timer set with `tag` is due.
    fn due(self: Arc<Self>, tag: u64) -> impl Future<Output = ()> + Send;
}

/// One pending timer: 24 bytes, and a million clients keep one each. Timers due at the same
/// nanosecond fire in no particular order (they are spawned together).
struct Entry<T> {
    at: MonoStamp,
    target: Weak<T>,
    tag: u64,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest entry must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

/// Handle to the timer task (cheap to clone). The task fires nothing more once `stop` fires (the
/// refreshes it started go on until `cut`), and ends when every handle is dropped.
pub struct Timers<T> {
    tx: mpsc::UnboundedSender<Entry<T>>,
}

impl<T> Clone for Timers<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Timed> Timers<T> {
    /// Spawns the timer task on the current runtime. After `stop` no timer fires; a refresh it
    /// fired before runs until it is done or `cut` fires (a run's end lets the refreshes on the
    /// wire finish: [`crate::engine`]'s grace). `stop` should be a child of `cut`.
    pub fn start(stop: CancellationToken, cut: CancellationToken) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, stop, cut));
        Timers { tx }
    }

    /// Fires `target.due(tag)` at `at` (at once when `at` is past), unless `target` is gone by then.
    pub fn schedule(&self, at: Instant, target: Weak<T>, tag: u64) {
        // A send error means the run is over: nothing left to refresh for.
        let _ = self.tx.send(Entry {
            at: at.into(),
            target,
            tag,
        });
    }
}

async fn run<T: Timed>(
    mut rx: mpsc::UnboundedReceiver<Entry<T>>,
    stop: CancellationToken,
    cancel: CancellationToken,
) {
    let mut heap: BinaryHeap<Entry<T>> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|e| e.at);
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            msg = rx.recv() => match msg {
                Some(entry) => heap.push(entry),
                None if heap.is_empty() => return,
                None => {
                    // Every handle is gone: fire what is left, then stop.
                    while let Some(e) = heap.pop() {
                        sleep_until(e.at).await;
                        fire(e, &cancel);
                    }
                    return;
                }
            },
            _ = sleep_until_opt(next) => {
                let now = MonoStamp::from(Instant::now());
                while heap.peek().is_some_and(|e| e.at <= now) {
                    if let Some(e) = heap.pop() {
                        fire(e, &cancel);
                    }
                }
            }
        }
    }
}

fn fire<T: Timed>(e: Entry<T>, cancel: &CancellationToken) {
    if let Some(target) = e.target.upgrade() {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            cancel.run_until_cancelled(target.due(e.tag)).await;
        });
    }
}

async fn sleep_until(at: MonoStamp) {
    tokio::time::sleep_until(Instant::from_std(at.get())).await;
}

async fn sleep_until_opt(at: Option<MonoStamp>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::time::Duration;

    struct Probe {
        fired: Mutex<Vec<u64>>,
        done: tokio::sync::Notify,
    }

    impl Timed for Probe {
        async fn due(self: Arc<Self>, tag: u64) {
            self.fired.lock().push(tag);
            self.done.notify_one();
        }
    }

    #[test]
    fn an_entry_is_24_bytes() {
        assert_eq!(size_of::<Entry<Probe>>(), 24);
    }

    #[tokio::test]
    async fn fires_in_time_order_and_skips_dropped_targets() {
        let cancel = CancellationToken::new();
        let timers = Timers::<Probe>::start(cancel.child_token(), cancel.clone());
        let probe = Arc::new(Probe {
            fired: Mutex::new(Vec::new()),
            done: tokio::sync::Notify::new(),
        });
        let gone = Arc::new(Probe {
            fired: Mutex::new(Vec::new()),
            done: tokio::sync::Notify::new(),
        });
        let t0 = Instant::now();
        timers.schedule(t0 + Duration::from_millis(30), Arc::downgrade(&probe), 3);
        timers.schedule(t0 + Duration::from_millis(10), Arc::downgrade(&probe), 1);
        timers.schedule(t0 + Duration::from_millis(20), Arc::downgrade(&gone), 2);
        drop(gone);
        for _ in 0..2 {
            probe.done.notified().await;
        }
        assert_eq!(*probe.fired.lock(), vec![1, 3]);
        assert!(Instant::now() >= t0 + Duration::from_millis(30));
        cancel.cancel();
    }

    /// A refresh that is due and then waits for its answer.
    struct Slow {
        started: Mutex<Vec<u64>>,
        begun: tokio::sync::Notify,
        answer: tokio::sync::Notify,
        finished: Mutex<Vec<u64>>,
        done: tokio::sync::Notify,
    }

    impl Timed for Slow {
        async fn due(self: Arc<Self>, tag: u64) {
            self.started.lock().push(tag);
            self.begun.notify_one();
            self.answer.notified().await;
            self.finished.lock().push(tag);
            self.done.notify_one();
        }
    }

    #[tokio::test]
    async fn after_stop_nothing_fires_and_what_fired_finishes() {
        let cut = CancellationToken::new();
        let stop = cut.child_token();
        let timers = Timers::<Slow>::start(stop.clone(), cut.clone());
        let slow = Arc::new(Slow {
            started: Mutex::new(Vec::new()),
            begun: tokio::sync::Notify::new(),
            answer: tokio::sync::Notify::new(),
            finished: Mutex::new(Vec::new()),
            done: tokio::sync::Notify::new(),
        });
        let t0 = Instant::now();
        timers.schedule(t0, Arc::downgrade(&slow), 1);
        timers.schedule(t0 + Duration::from_secs(10), Arc::downgrade(&slow), 2);
        slow.begun.notified().await;
        // The run ends while refresh 1 waits for its answer: the timer task ends (its receiver
        // goes), with refresh 2 never fired ...
        stop.cancel();
        timers.tx.closed().await;
        // ... and refresh 1 still gets its answer.
        slow.answer.notify_one();
        slow.done.notified().await;
        assert_eq!(
            *slow.finished.lock(),
            vec![1],
            "the refresh on the wire finished"
        );
        assert_eq!(
            *slow.started.lock(),
            vec![1],
            "nothing fired after the stop"
        );
        cut.cancel();
    }
}
