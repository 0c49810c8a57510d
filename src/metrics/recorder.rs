//! The [`Recorder`]: where every client task writes its measurements.
//!
//! Recording must not become the bottleneck of a load generator, so state is split into shards,
//! each behind its own `parking_lot::Mutex`; the caller passes a shard hint (its client index) and
//! two clients collide only when their hints map to the same shard at the same instant. A record is
//! an uncontended lock, a short linear lookup by name and an HDR record (32-bit counts).
//!
//! Memory is bounded independently of the number of clients: at most one histogram per name per
//! shard (created on first use, covering only up to the largest sample so far, with 32-bit
//! counts: see [`ShardLatency`]), one counter map per shard, and one shared timeline of at most
//! [`MAX_BUCKETS`](super::timeline::MAX_BUCKETS) intervals. Timeline series and interval
//! latencies are buffered per shard for the current 100 ms tick and folded into the shared
//! timeline when the shard moves on to a later tick (or at snapshot time): the shared timeline's
//! lock is taken once per shard and tick, not per request.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::codec::new_histogram;
use super::names;
use super::samples::{FailureSample, Samples};
use super::shard_latency::ShardLatency;
use super::timeline::{FINE_MS, IntervalLatency, Timeline};

/// A phase boundary: the moment a plan phase started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMark {
    /// Phase name, e.g. `login`, `sync_expiry`, `traffic`.
    pub name: String,
    /// Wall-clock time the phase started.
    pub at: DateTime<Utc>,
    /// Milliseconds since the recorder's start.
    pub offset_ms: u64,
    /// The run was cancelled (Ctrl-C) before this phase ran to its end: what it measured is
    /// partial, and what it did not reach is missing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// Everything recorded so far, merged over all shards. Cumulative: taking a snapshot resets nothing.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Latency histograms in µs, by name (only names recorded at least once).
    pub histograms: BTreeMap<String, Histogram<u64>>,
    /// Counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Series, gauges and interval latencies (100 ms intervals).
    pub timeline: Timeline,
    /// Phase boundaries in order.
    pub phases: Vec<PhaseMark>,
    /// A few sample failures (see [`super::samples`]).
    pub failure_samples: Vec<FailureSample>,
    /// Wall-clock time the recorder was created.
    pub started_at: DateTime<Utc>,
    /// Time since then.
    pub elapsed: Duration,
}

/// Sharded, cheaply clonable metrics sink (an `Arc` inside). See the module docs.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("started_at", &self.inner.started_at)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

struct Inner {
    started_at: DateTime<Utc>,
    start: Instant,
    /// How far the wall clock was past a whole 100 ms at start: tick `i` (elapsed + lead, in
    /// 100 ms) then covers Unix milliseconds `origin_ms + 100 i ..`, aligned across processes.
    lead: Duration,
    /// Unix milliseconds of tick 0.
    origin_ms: i64,
    mask: usize,
    shards: Box<[Padded<Mutex<Shard>>]>,
    timeline: Mutex<Timeline>,
    gauges: Mutex<Vec<(&'static str, i64)>>,
    /// Gauges have been sampled for every tick below this one.
    sampled_to: AtomicU64,
    phases: Mutex<Vec<PhaseMark>>,
    samples: Samples,
    /// Requests begun and not yet finished or dropped (see [`Recorder::begin_request`]).
    in_flight: AtomicU64,
    /// The run's own `outage` phase has the target away (see [`Recorder::set_outage`]).
    outage: AtomicBool,
}

/// Keeps each shard's lock on its own cache line pair, so shards do not false-share.
#[repr(align(128))]
struct Padded<T>(T);

#[derive(Default)]
struct Shard {
    histograms: Vec<(&'static str, ShardLatency)>,
    counters: HashMap<Box<str>, u64, BuildHasherDefault<Fnv>>,
    /// The tick `pending` and `pending_latency` belong to.
    pending_tick: u64,
    pending: Vec<(&'static str, u64)>,
    pending_latency: Vec<(&'static str, IntervalLatency)>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder whose clock starts now, with a shard count suited to the threads that record
    /// into it (8 × the worker threads of the caller's runtime, between 8 and 64, a power of two).
    pub fn new() -> Self {
        Self::with_shards((authbench_mock::runtime::workers() * 8).clamp(8, 64))
    }

    /// A recorder with `shards` shards (rounded up to a power of two, at least 1, at most 1024).
    pub fn with_shards(shards: usize) -> Self {
        let n = shards.clamp(1, 1024).next_power_of_two();
        let started_at = Utc::now();
        let fine_ns = FINE_MS * 1_000_000;
        let lead = Duration::from_nanos(u64::from(started_at.timestamp_subsec_nanos()) % fine_ns);
        let origin_ms = started_at.timestamp_millis().div_euclid(FINE_MS as i64) * FINE_MS as i64;
        Recorder {
            inner: Arc::new(Inner {
                started_at,
                start: Instant::now(),
                lead,
                origin_ms,
                mask: n - 1,
                shards: (0..n)
                    .map(|_| Padded(Mutex::new(Shard::default())))
                    .collect(),
                timeline: Mutex::new(Timeline::new(origin_ms, FINE_MS)),
                gauges: Mutex::new(Vec::new()),
                sampled_to: AtomicU64::new(0),
                phases: Mutex::new(Vec::new()),
                samples: Samples::default(),
                in_flight: AtomicU64::new(0),
                outage: AtomicBool::new(false),
            }),
        }
    }

    /// Wall-clock time the recorder was created.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// Time since the recorder was created.
    pub fn elapsed(&self) -> Duration {
        self.inner.start.elapsed()
    }

    /// Records one latency sample of `micros` µs into histogram `hist`. Values above 1 h are
    /// clamped to 1 h. `shard` is any number that spreads callers (e.g. the client index). The
    /// operations of [`names::TIMELINE_LATENCIES`] also go to the current timeline interval.
    #[inline]
    pub fn record(&self, shard: usize, hist: &'static str, micros: u64) {
        let tick = names::TIMELINE_LATENCIES
            .iter()
            .any(|n| same(n, hist))
            .then(|| self.current_tick());
        if let Some(tick) = tick {
            self.sample_gauges(tick);
        }
        let mut s = self.shard(shard).lock();
        s.histogram(hist).record(micros);
        if let Some(tick) = tick {
            self.roll(&mut s, tick);
            s.interval(hist).0.saturating_record(micros);
        }
    }

    /// [`record`](Self::record) for a `Duration`.
    #[inline]
    pub fn record_duration(&self, shard: usize, hist: &'static str, d: Duration) {
        self.record(
            shard,
            hist,
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
        );
    }

    /// Adds `n` to counter `counter`. Allocates only the first time a shard sees the name.
    #[inline]
    pub fn count(&self, shard: usize, counter: &str, n: u64) {
        let mut s = self.shard(shard).lock();
        if let Some(c) = s.counters.get_mut(counter) {
            *c = c.saturating_add(n);
        } else {
            s.counters.insert(counter.into(), n);
        }
    }

    /// Adds 1 to each of `counters` under one lock of the shard (a request's `requests` and
    /// `requests.<op>`: one lock, not two, on the hot path).
    #[inline]
    pub fn count_each(&self, shard: usize, counters: &[&str]) {
        let mut s = self.shard(shard).lock();
        for counter in counters {
            if let Some(c) = s.counters.get_mut(*counter) {
                *c = c.saturating_add(1);
            } else {
                s.counters.insert((*counter).into(), 1);
            }
        }
    }

    /// Adds `n` events to the current interval of timeline series `series`.
    pub fn series(&self, shard: usize, series: &'static str, n: u64) {
        let tick = self.current_tick();
        self.sample_gauges(tick);
        let mut s = self.shard(shard).lock();
        self.roll(&mut s, tick);
        match s.pending.iter_mut().find(|(name, _)| same(name, series)) {
            Some((_, c)) => *c = c.saturating_add(n),
            None => s.pending.push((series, n)),
        }
    }

    /// Counts a request of operation `op` that leaves now (series `sent`); the returned guard
    /// counts it `done` when dropped, answered or not. Their running difference is the timeline's
    /// in-flight line. A guard dropped without [`InFlight::finish`] is a request that never got an
    /// outcome (still waiting for a connection or an answer when its phase was cut off at the end
    /// of its grace): it counts `failures.<op>.unfinished`, so that no request leaves the books.
    pub fn begin_request(&self, shard: usize, op: &'static str) -> InFlight<'_> {
        self.series(shard, names::SERIES_SENT, 1);
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            rec: self,
            shard,
            op,
            finished: false,
        }
    }

    /// Requests begun and not yet finished or abandoned.
    pub fn requests_in_flight(&self) -> u64 {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Waits (up to `within`) until every request begun has finished or been abandoned — the
    /// tasks of a cancelled run drop theirs as they are next polled — so that a snapshot taken
    /// afterwards has every request in its books. Returns how many are still in flight.
    pub async fn settle_in_flight(&self, within: Duration) -> u64 {
        let until = tokio::time::Instant::now() + within;
        loop {
            let left = self.requests_in_flight();
            if left == 0 || tokio::time::Instant::now() >= until {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The p99 of each of [`names::TIMELINE_LATENCIES`] over the last `window` of 100 ms ticks
    /// (what the shards have folded into the shared timeline so far, which they do when they move
    /// on to a new tick: a live estimate, not the report's).
    pub fn recent_p99(&self, window: Duration) -> Vec<(&'static str, Option<u64>)> {
        let tick = self.current_tick();
        let to_ms = self.inner.origin_ms + tick as i64 * FINE_MS as i64;
        let from_ms = to_ms - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let t = self.inner.timeline.lock();
        names::TIMELINE_LATENCIES
            .iter()
            .map(|op| {
                let index = |ms: i64| {
                    usize::try_from((ms - t.start_ms).div_euclid(t.bucket_ms as i64)).unwrap_or(0)
                };
                // The current tick too: what the shards have folded of it so far.
                let (from, to) = (index(from_ms), index(to_ms) + 1);
                let intervals = t.latency.get(*op).map_or(&[][..], |v| v.as_slice());
                let recent = intervals.get(from.min(intervals.len())..to.min(intervals.len()));
                let mut sum: Option<IntervalLatency> = None;
                for h in recent.into_iter().flatten().flatten() {
                    match &mut sum {
                        Some(s) => {
                            let _ = s.0.add(&h.0);
                        }
                        None => sum = Some(h.clone()),
                    }
                }
                (*op, sum.and_then(|s| s.quantile(0.99)))
            })
            .collect()
    }

    /// Moves gauge `gauge` by `delta` (e.g. +1 when a socket opens, -1 when it closes). Gauges are
    /// sampled into the timeline at the end of every 100 ms tick.
    pub fn gauge_add(&self, gauge: &'static str, delta: i64) {
        self.sample_gauges(self.current_tick());
        let mut g = self.inner.gauges.lock();
        match g.iter_mut().find(|(name, _)| same(name, gauge)) {
            Some((_, v)) => *v = v.saturating_add(delta),
            None => g.push((gauge, delta)),
        }
    }

    /// Current value of a gauge (0 when never moved).
    pub fn gauge(&self, gauge: &str) -> i64 {
        let g = self.inner.gauges.lock();
        g.iter()
            .find(|(name, _)| *name == gauge)
            .map_or(0, |(_, v)| *v)
    }

    /// Marks the start of a phase (drawn as a boundary on the timeline).
    pub fn phase(&self, name: &str) {
        let elapsed = self.elapsed();
        let at = self.inner.started_at
            + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero());
        self.inner.phases.lock().push(PhaseMark {
            name: name.to_string(),
            at,
            offset_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            interrupted: false,
        });
    }

    /// The run's own `outage` phase took the target away (`true`) or saw it back (`false`).
    /// While it is away, a failure without an answer is the run's doing, not the server's:
    /// it is counted `failures_in_outage.<op>` (or `channel_failures_in_outage`) besides its
    /// usual counter, and the failure rates leave it out.
    pub fn set_outage(&self, away: bool) {
        self.inner.outage.store(away, Ordering::Relaxed);
    }

    /// Counts a failed channel handshake, stream request or registration under `counter`, and
    /// `channel_failures_in_outage` too while the run's own outage has the target away.
    pub fn count_channel_failure(&self, shard: usize, counter: &str) {
        self.count(shard, counter, 1);
        if self.in_outage() {
            self.count(shard, names::CHANNEL_FAILURES_IN_OUTAGE, 1);
        }
    }

    /// Whether the run's own outage has the target away now (see [`Recorder::set_outage`]).
    pub fn in_outage(&self) -> bool {
        self.inner.outage.load(Ordering::Relaxed)
    }

    /// Marks the latest phase as interrupted (see [`PhaseMark::interrupted`]).
    pub fn phase_interrupted(&self) {
        if let Some(last) = self.inner.phases.lock().last_mut() {
            last.interrupted = true;
        }
    }

    /// Whether a failure sample would still be kept ([`Recorder::failure_sample`]).
    pub fn wants_failure_sample(&self) -> bool {
        self.inner.samples.wants_more()
    }

    /// Keeps `sample` if it is the first of its kind and there is room.
    pub fn failure_sample(&self, sample: FailureSample) {
        self.inner.samples.offer(sample);
    }

    /// Sum of one counter over all shards, for live progress displays (cheaper than a snapshot).
    pub fn counter(&self, counter: &str) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|s| s.0.lock().counters.get(counter).copied().unwrap_or(0))
            .fold(0u64, u64::saturating_add)
    }

    /// Number of samples in one histogram over all shards.
    pub fn samples(&self, hist: &str) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|s| {
                let s = s.0.lock();
                s.histograms
                    .iter()
                    .find(|(n, _)| *n == hist)
                    .map_or(0, |(_, h)| h.len())
            })
            .sum()
    }

    /// Everything recorded so far, merged losslessly over shards.
    pub fn snapshot(&self) -> Snapshot {
        let mut histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
        let mut counters: BTreeMap<String, u64> = BTreeMap::new();
        for shard in self.inner.shards.iter() {
            let mut s = shard.0.lock();
            self.fold(&mut s);
            for (name, h) in &s.histograms {
                h.add_to(
                    histograms
                        .entry((*name).to_string())
                        .or_insert_with(new_histogram),
                );
            }
            for (name, c) in &s.counters {
                let e = counters.entry(name.to_string()).or_insert(0);
                *e = e.saturating_add(*c);
            }
        }
        let elapsed = self.elapsed();
        let tick = self.tick_of(elapsed);
        self.sample_gauges(tick);
        let timeline = self.build_timeline(tick);
        Snapshot {
            histograms,
            counters,
            timeline,
            phases: self.inner.phases.lock().clone(),
            failure_samples: self.inner.samples.list(),
            started_at: self.inner.started_at,
            elapsed,
        }
    }

    /// The shared timeline up to and including tick `current`, whose gauges show their present
    /// values.
    fn build_timeline(&self, current: u64) -> Timeline {
        let mut t = self.inner.timeline.lock().clone();
        let from = self.tick_ms(current);
        t.extend_to(from);
        for (name, now) in self.inner.gauges.lock().iter() {
            t.set_gauge(name, from, from + FINE_MS as i64, *now);
        }
        t
    }

    /// Samples every gauge for each tick before `tick` not sampled yet. The first caller in a new
    /// tick does it; others see `sampled_to` already advanced and return at once.
    fn sample_gauges(&self, tick: u64) {
        let inner = &*self.inner;
        if inner.sampled_to.load(Ordering::Acquire) >= tick {
            return;
        }
        let gauges = inner.gauges.lock();
        let from = inner.sampled_to.load(Ordering::Acquire);
        if from >= tick {
            return;
        }
        if !gauges.is_empty() {
            let mut t = inner.timeline.lock();
            // Nothing moved a gauge in between (or it would have sampled then): each held its
            // current value over these ticks.
            for (name, value) in gauges.iter() {
                t.set_gauge(name, self.tick_ms(from), self.tick_ms(tick), *value);
            }
        }
        inner.sampled_to.store(tick, Ordering::Release);
    }

    /// Moves shard `s` to tick `tick`, folding what it buffered for another tick.
    #[inline]
    fn roll(&self, s: &mut Shard, tick: u64) {
        if s.pending_tick != tick {
            self.fold(s);
            s.pending_tick = tick;
        }
    }

    /// Folds shard `s`'s buffered series and interval latencies into the shared timeline.
    fn fold(&self, s: &mut Shard) {
        let latency = s.pending_latency.iter().any(|(_, h)| !h.0.is_empty());
        if s.pending.is_empty() && !latency {
            return;
        }
        let at = self.tick_ms(s.pending_tick);
        let mut t = self.inner.timeline.lock();
        for (name, c) in s.pending.drain(..) {
            t.add_count(name, at, c);
        }
        for (name, h) in &mut s.pending_latency {
            if !h.0.is_empty() {
                t.add_latency(name, at, &h.0);
                h.0.reset();
            }
        }
    }

    /// Unix milliseconds at which tick `tick` starts.
    fn tick_ms(&self, tick: u64) -> i64 {
        self.inner.origin_ms + i64::try_from(tick.saturating_mul(FINE_MS)).unwrap_or(i64::MAX / 2)
    }

    #[inline]
    fn shard(&self, hint: usize) -> &Mutex<Shard> {
        &self.inner.shards[hint & self.inner.mask].0
    }

    #[inline]
    fn current_tick(&self) -> u64 {
        self.tick_of(self.inner.start.elapsed())
    }

    #[inline]
    fn tick_of(&self, elapsed: Duration) -> u64 {
        u64::try_from((elapsed + self.inner.lead).as_millis() / u128::from(FINE_MS))
            .unwrap_or(u64::MAX)
    }
}

impl Shard {
    #[inline]
    fn histogram(&mut self, name: &'static str) -> &mut ShardLatency {
        let i = match self.histograms.iter().position(|(n, _)| same(n, name)) {
            Some(i) => i,
            None => {
                self.histograms.push((name, ShardLatency::new()));
                self.histograms.len() - 1
            }
        };
        &mut self.histograms[i].1
    }

    /// This tick's interval histogram of `name`.
    #[inline]
    fn interval(&mut self, name: &'static str) -> &mut IntervalLatency {
        let i = match self.pending_latency.iter().position(|(n, _)| same(n, name)) {
            Some(i) => i,
            None => {
                self.pending_latency.push((name, IntervalLatency::new()));
                self.pending_latency.len() - 1
            }
        };
        &mut self.pending_latency[i].1
    }
}

/// A request in flight (see [`Recorder::begin_request`]): counted `done` when dropped, and
/// `requests` and `failures.<op>.unfinished` unless [`InFlight::finish`]ed first.
#[must_use = "the request counts as in flight until this guard is finished or dropped"]
pub struct InFlight<'a> {
    rec: &'a Recorder,
    shard: usize,
    op: &'static str,
    finished: bool,
}

impl InFlight<'_> {
    /// The request got its outcome (an answer or a transport error, counted by the caller).
    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.rec.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.rec.series(self.shard, names::SERIES_DONE, 1);
        if !self.finished {
            // Counted in `requests` too, like every request with an outcome: else a run of
            // unanswered requests has more failures than requests.
            self.rec.count(self.shard, names::REQUESTS, 1);
            self.rec.series(self.shard, names::SERIES_REQUESTS, 1);
            self.rec.count(self.shard, &names::requests_of(self.op), 1);
            self.rec.count(
                self.shard,
                &names::failure(self.op, names::CLASS_UNFINISHED),
                1,
            );
            if self.rec.in_outage() {
                self.rec.count(self.shard, &names::in_outage(self.op), 1);
            }
            self.rec.series(self.shard, names::SERIES_FAILURES, 1);
        }
    }
}

/// Name equality with a pointer fast path (names are usually the same `&'static str` constant).
#[inline]
fn same(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// FNV-1a: a fast hash for the short counter names (no DoS concern: names come from our code).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::codec::HIGHEST_US;
    use crate::metrics::names;

    #[test]
    fn count_each_adds_one_to_every_counter_named() {
        let r = Recorder::with_shards(1);
        r.count_each(0, &[names::REQUESTS, "requests.api"]);
        r.count_each(0, &[names::REQUESTS, "requests.login"]);
        let s = r.snapshot();
        assert_eq!(s.counters[names::REQUESTS], 2);
        assert_eq!(s.counters["requests.api"], 1);
        assert_eq!(s.counters["requests.login"], 1);
    }

    #[test]
    fn a_shard_histogram_grows_only_as_far_as_its_samples_and_clamps_at_one_hour() {
        let r = Recorder::with_shards(2);
        r.record(0, names::API, 900);
        let small = r.shard(0).lock().histograms[0].1.distinct_values();
        let full = new_histogram().distinct_values();
        assert!(
            small * 4 <= full,
            "{small} of {full} buckets for a 900 µs sample"
        );
        r.record(1, names::API, 5 * HIGHEST_US);
        r.record(0, names::API, 2_000_000);
        let grown = r.shard(0).lock().histograms[0].1.distinct_values();
        assert!(small < grown && grown < full, "{small} < {grown} < {full}");
        let snap = r.snapshot();
        let h = &snap.histograms[names::API];
        assert_eq!(h.len(), 3);
        assert!(h.equivalent(h.max(), HIGHEST_US), "max {}", h.max());
        assert!(h.equivalent(h.min(), 900));
    }

    #[test]
    fn snapshot_merges_shards_losslessly() {
        let r = Recorder::with_shards(8);
        let mut all = new_histogram();
        for i in 0..10_000u64 {
            let v = 100 + (i * 7919) % 50_000;
            r.record(i as usize, names::REFRESH, v);
            all.record(v).unwrap();
            r.count(i as usize, names::REFRESH_CALLS, 1);
            r.count(i as usize, &names::status("refresh", 200), 2);
        }
        let s = r.snapshot();
        let h = &s.histograms[names::REFRESH];
        assert_eq!(h.len(), 10_000);
        assert_eq!(*h, all);
        assert_eq!(h.value_at_quantile(0.99), all.value_at_quantile(0.99));
        assert_eq!(s.counters[names::REFRESH_CALLS], 10_000);
        assert_eq!(s.counters[&names::status("refresh", 200)], 20_000);
        assert_eq!(r.counter(names::REFRESH_CALLS), 10_000);
        assert_eq!(r.samples(names::REFRESH), 10_000);
        // Cumulative: a second snapshot sees the same totals.
        assert_eq!(r.snapshot().counters[names::REFRESH_CALLS], 10_000);
    }

    #[test]
    fn saturates_above_one_hour() {
        let r = Recorder::with_shards(1);
        r.record(0, names::API, u64::MAX);
        r.record_duration(0, names::API, Duration::from_secs(7200));
        let s = r.snapshot();
        let h = &s.histograms[names::API];
        assert_eq!(h.len(), 2);
        assert!(h.max() >= crate::metrics::codec::HIGHEST_US);
        assert!(h.max() <= crate::metrics::codec::HIGHEST_US * 1001 / 1000);
    }

    #[test]
    fn series_and_gauges_land_in_the_timeline() {
        let r = Recorder::with_shards(4);
        for i in 0..100 {
            r.series(i, names::SERIES_REQUESTS, 1);
        }
        r.series(0, names::SERIES_ERRORS, 3);
        r.gauge_add(names::GAUGE_OPEN_SOCKETS, 5);
        r.gauge_add(names::GAUGE_OPEN_SOCKETS, -2);
        r.phase("traffic");
        let s = r.snapshot();
        let t = &s.timeline;
        assert!(t.buckets >= 1);
        assert_eq!(t.bucket_ms, FINE_MS);
        assert_eq!(t.total(names::SERIES_REQUESTS), 100);
        assert_eq!(t.total(names::SERIES_ERRORS), 3);
        assert_eq!(*t.gauges[names::GAUGE_OPEN_SOCKETS].last().unwrap(), 3);
        assert_eq!(t.start_ms, s.started_at.timestamp_millis() / 100 * 100);
        assert_eq!(s.phases.len(), 1);
        assert_eq!(s.phases[0].name, "traffic");
        assert_eq!(r.gauge(names::GAUGE_OPEN_SOCKETS), 3);
    }

    #[test]
    fn gauge_sampling_fills_missed_seconds() {
        // The first move must land in tick 0: a recorder made just before a 100 ms boundary of
        // the wall clock would see it in tick 1 (then tick 0 rightly reads 0). Such a recorder is
        // made again.
        let r = (0..5)
            .find_map(|_| {
                let r = Recorder::with_shards(1);
                r.gauge_add("g", 4);
                (r.current_tick() == 0).then_some(r)
            })
            .expect("a recorder whose gauge moved within its first tick");
        // Pretend three ticks went by with no event: the sampler fills them with the level.
        r.sample_gauges(3);
        r.gauge_add("g", 1);
        let t = r.build_timeline(3);
        assert_eq!(t.gauges["g"], vec![4, 4, 4, 5]);
    }

    #[test]
    fn timeline_keeps_latency_and_requests_in_flight() {
        let r = Recorder::with_shards(4);
        {
            let a = r.begin_request(0, "api");
            let b = r.begin_request(1, "api");
            r.begin_request(2, "api").finish();
            let mid = r.snapshot().timeline;
            assert_eq!(*mid.in_flight().unwrap().last().unwrap(), 2);
            a.finish();
            drop(b); // cut off without an outcome
        }
        let books = r.snapshot();
        assert_eq!(books.counters.get("failures.api.unfinished"), Some(&1));
        for v in [1_000u64, 2_000, 100_000] {
            r.record(0, names::REFRESH, v);
        }
        r.record(0, names::WAKE_SKEW, 5);
        let t = r.snapshot().timeline;
        let recent = r.recent_p99(Duration::from_secs(1));
        let refresh = recent.iter().find(|(op, _)| *op == names::REFRESH).unwrap();
        assert!(refresh.1.is_some_and(|v| v >= 94_000), "{recent:?}");
        assert!(
            recent
                .iter()
                .any(|(op, v)| *op == names::API && v.is_none())
        );
        assert_eq!(*t.in_flight().unwrap().last().unwrap(), 0);
        assert_eq!(t.total(names::SERIES_SENT), 3);
        let p99: Vec<u64> = t
            .latency_quantile(names::REFRESH, 0.99)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(p99.len(), 1, "one interval holds the three samples");
        assert!((94_000..=106_000).contains(&p99[0]), "{p99:?}");
        assert!(
            !t.latency.contains_key(names::WAKE_SKEW),
            "only the operations of TIMELINE_LATENCIES are kept per interval"
        );
    }

    #[test]
    fn concurrent_recording_is_exact() {
        let r = Recorder::with_shards(4);
        std::thread::scope(|sc| {
            for t in 0..4 {
                let r = r.clone();
                sc.spawn(move || {
                    for i in 0..5_000 {
                        r.record(t * 5_000 + i, names::API, 1 + i as u64);
                        r.count(t, names::REQUESTS, 1);
                        r.series(t, names::SERIES_REQUESTS, 1);
                    }
                });
            }
        });
        let s = r.snapshot();
        assert_eq!(s.histograms[names::API].len(), 20_000);
        assert_eq!(s.counters[names::REQUESTS], 20_000);
        assert_eq!(s.timeline.total(names::SERIES_REQUESTS), 20_000);
    }
}
