//! Request arrivals after a sync point: the server-side view of a synchronized storm.
//!
//! `POST /admin/sync-point` arms [`Arrivals`] with a wall-clock instant `T` (the instant a load
//! generator scheduled its clients to send) and, optionally, one operation to watch. From then on,
//! each session's *first* request of that operation (of every login, refresh and resource call
//! when none is given) records its arrival offset from `T` — taken when the mock's handler starts,
//! i.e. once the request line, headers and body have been read — into an HDR histogram in µs. So
//! the offsets describe the storm (every client's first request after the sync point), not the
//! later waves of the same clients: a session's later requests are only counted (`repeats`).
//! The session is the refresh-token family: named by the token response of a login or refresh,
//! and by the `sid` claim of the Bearer token of a resource call (an expired one too), so with
//! every operation watched a client's first request counts whatever it is. Where the session
//! cannot be named (a refresh the server refused, a request without a mock token), every request
//! counts as a first. Requests that arrive before `T` are only counted.
//! `GET /admin/stats` shows the distribution ([`ArrivalStats`]); arming again starts a new window.
//!
//! Cost: while nothing is armed, one relaxed atomic load per request. Armed, one wall-clock read,
//! an uncontended lock of one of [`SHARDS`] histograms chosen by the worker thread, and for a
//! named session one insert into one of [`SHARDS`] sets of session hashes chosen by the hash.

use std::cell::Cell;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::config::Op;

/// Number of histogram shards (threads map onto them round-robin).
pub const SHARDS: usize = 16;
/// Largest offset recorded, µs (1 h); later arrivals are clamped to it.
const HIGHEST_US: u64 = 3_600_000_000;

/// The armed window and its histograms. See the module docs.
#[derive(Debug)]
pub struct Arrivals {
    /// Sync point, µs since the Unix epoch; 0 while not armed.
    at_us: AtomicU64,
    /// The watched operation: 0 = every operation, else `1 + index in Op::ALL`.
    op: AtomicU64,
    before: AtomicU64,
    /// Requests of a session whose first request was already recorded.
    repeats: AtomicU64,
    shards: Box<[Mutex<Histogram<u64>>]>,
    /// Hashes of the sessions recorded in this window, sharded by hash.
    seen: Box<[Mutex<HashSet<u64>>]>,
}

/// One request's arrival, taken when its handler starts ([`Arrivals::arrive`]); recorded once the
/// handler knows its session ([`Arrivals::settle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Not armed, another operation, or before the sync point (already counted).
    Ignored,
    /// Arrived this many µs after the sync point.
    After(u64),
}

/// What `GET /admin/stats` shows under `arrivals` once a sync point was set. Offsets are µs from
/// the sync point; `spread_p99_us` is `p99_us - first_us`: how wide the burst was at the server,
/// whatever the clock difference between generator and server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalStats {
    /// The sync point, ms since the Unix epoch.
    pub sync_point_unix_ms: u64,
    /// The watched operation (`login`, `refresh`, `api`), or `all`.
    pub op: String,
    /// Requests that arrived at or after the sync point.
    pub count: u64,
    /// Requests of the watched operation that arrived before the sync point (not in the offsets).
    pub before_sync_point: u64,
    /// Later requests of a session already counted (its second, third, … request after the sync
    /// point: a later wave, not the storm; not in the offsets).
    #[serde(default)]
    pub repeats: u64,
    /// Earliest arrival offset.
    pub first_us: u64,
    /// Median arrival offset.
    pub p50_us: u64,
    /// 99th-percentile arrival offset.
    pub p99_us: u64,
    /// Latest arrival offset.
    pub max_us: u64,
    /// `p99_us - first_us`.
    pub spread_p99_us: u64,
}

/// A sync point could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncPointError {
    /// `op` named something other than login, refresh or api.
    #[error("op {0:?}: expected login, refresh or api")]
    Op(String),
    /// The instant is 0 or more than a day away from the server's clock.
    #[error("at_unix_ms {at}: more than a day away from the server's clock ({now})")]
    Far { at: u64, now: u64 },
}

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals {
            at_us: AtomicU64::new(0),
            op: AtomicU64::new(0),
            before: AtomicU64::new(0),
            repeats: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(new_histogram())).collect(),
            seen: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("static bounds are valid")
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn op_code(op: Option<Op>) -> u64 {
    op.and_then(|op| Op::ALL.iter().position(|o| *o == op))
        .map_or(0, |i| i as u64 + 1)
}

impl Arrivals {
    /// Arms the window: arrivals of `op` (every operation when `None`) from now on count against
    /// the sync point `at_unix_ms`. Clears the previous window.
    pub fn arm(&self, at_unix_ms: u64, op: Option<&str>) -> Result<(), SyncPointError> {
        let op = match op {
            None => None,
            Some(name) => match name.parse::<Op>() {
                // The fault operations besides these three are not request arrivals a sync
                // point is about.
                Ok(op @ (Op::Login | Op::Refresh | Op::Api)) => Some(op),
                _ => return Err(SyncPointError::Op(name.to_string())),
            },
        };
        let now = now_us() / 1000;
        if at_unix_ms == 0 || at_unix_ms.abs_diff(now) > 24 * 3600 * 1000 {
            return Err(SyncPointError::Far {
                at: at_unix_ms,
                now,
            });
        }
        // Disarm while the histograms are cleared, so no arrival lands in a half-reset window.
        self.at_us.store(0, Relaxed);
        for s in self.shards.iter() {
            s.lock().reset();
        }
        for s in self.seen.iter() {
            *s.lock() = HashSet::default();
        }
        self.before.store(0, Relaxed);
        self.repeats.store(0, Relaxed);
        self.op.store(op_code(op), Relaxed);
        self.at_us.store(at_unix_ms * 1000, Relaxed);
        Ok(())
    }

    /// Notes the arrival of one request of `op` whose session is unknown: recorded as a first
    /// (nothing while not armed).
    #[inline]
    pub fn note(&self, op: Op) {
        self.settle(self.arrive(op), None);
    }

    /// Takes the arrival of one request of `op` now; [`Arrivals::settle`] records it once the
    /// session is known. An arrival before the sync point is counted here.
    #[inline]
    pub fn arrive(&self, op: Op) -> Arrival {
        let at = self.at_us.load(Relaxed);
        if at == 0 {
            return Arrival::Ignored;
        }
        let watched = self.op.load(Relaxed);
        if watched != 0 && watched != op_code(Some(op)) {
            return Arrival::Ignored;
        }
        let now = now_us();
        if now < at {
            self.before.fetch_add(1, Relaxed);
            return Arrival::Ignored;
        }
        Arrival::After((now - at).max(1))
    }

    /// Records `arrival` when it is the first of `session` in this window (always when the
    /// session is unknown); a later one only counts as a repeat.
    pub fn settle(&self, arrival: Arrival, session: Option<&str>) {
        let Arrival::After(offset) = arrival else {
            return;
        };
        if let Some(id) = session {
            let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(id);
            let first = self.seen[(hash >> 32) as usize % SHARDS]
                .lock()
                .insert(hash);
            if !first {
                self.repeats.fetch_add(1, Relaxed);
                return;
            }
        }
        self.shards[shard()].lock().saturating_record(offset);
    }

    /// The window's distribution, or `None` when no sync point was set.
    pub fn stats(&self) -> Option<ArrivalStats> {
        let at = self.at_us.load(Relaxed);
        if at == 0 {
            return None;
        }
        let mut h = new_histogram();
        for s in self.shards.iter() {
            h.add(&*s.lock()).expect("same bounds");
        }
        let op = match self.op.load(Relaxed) {
            0 => "all",
            i => Op::ALL[(i - 1) as usize].name(),
        };
        let (first, p99) = if h.is_empty() {
            (0, 0)
        } else {
            (h.min(), h.value_at_quantile(0.99))
        };
        Some(ArrivalStats {
            sync_point_unix_ms: at / 1000,
            op: op.to_string(),
            count: h.len(),
            before_sync_point: self.before.load(Relaxed),
            repeats: self.repeats.load(Relaxed),
            first_us: first,
            p50_us: if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.5)
            },
            p99_us: p99,
            max_us: if h.is_empty() { 0 } else { h.max() },
            spread_p99_us: p99.saturating_sub(first),
        })
    }
}

/// The session id (`sid` claim, as in the token response's `session_id`) of one of the mock's
/// own JWT access tokens, read without verifying the token: only to tell whose request arrived
/// (an expired token's request is its session's too). `None` for anything else.
pub fn token_session(token: &str) -> Option<String> {
    use base64::Engine;
    #[derive(Deserialize)]
    struct Sid {
        sid: String,
    }
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Sid>(&json).ok().map(|c| c.sid)
}

/// This thread's shard: assigned round-robin the first time a thread records.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.with(|m| {
        if m.get() == usize::MAX {
            m.set(NEXT.fetch_add(1, Relaxed) % SHARDS);
        }
        m.get()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unarmed_records_nothing_and_bad_input_is_refused() {
        let a = Arrivals::default();
        a.note(Op::Refresh);
        assert_eq!(a.stats(), None);
        let now = now_us() / 1000;
        assert_eq!(a.arm(now, Some("ws")), Err(SyncPointError::Op("ws".into())));
        assert_eq!(
            a.arm(now, Some("logout")),
            Err(SyncPointError::Op("logout".into()))
        );
        assert!(matches!(a.arm(1, None), Err(SyncPointError::Far { .. })));
        assert_eq!(a.stats(), None);
    }

    #[test]
    fn filters_by_op_and_counts_early_arrivals() {
        let a = Arrivals::default();
        let now = now_us() / 1000;
        a.arm(now.saturating_sub(5), Some("refresh")).unwrap();
        a.note(Op::Refresh);
        a.note(Op::Api);
        let s = a.stats().unwrap();
        assert_eq!((s.count, s.op.as_str()), (1, "refresh"));
        assert!(s.first_us >= 5_000, "{s:?}");
        a.arm(now + 60_000, None).unwrap();
        a.note(Op::Api);
        let s = a.stats().unwrap();
        assert_eq!((s.count, s.before_sync_point, s.op.as_str()), (0, 1, "all"));
    }
}
