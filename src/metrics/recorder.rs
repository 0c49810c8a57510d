//! The [`Recorder`]: where every client task writes its measurements.
//!
//! Recording must not become the bottleneck of a load generator, so state is split into shards,
//! each behind its own `parking_lot::Mutex`; the caller passes a shard hint (its client index) and
//! two clients collide only when their hints map to the same shard at the same instant. A record is
//! an uncontended lock, a short linear lookup by name and an HDR `saturating_record`.
//!
//! Memory is bounded independently of the number of clients: at most one histogram per name per
//! shard (allocated zeroed on first use, so untouched pages cost nothing), one counter map per
//! shard, and one shared timeline capped at [`MAX_SECONDS`](super::timeline::MAX_SECONDS).
//! Timeline series are buffered per shard for the current second and folded into the shared
//! timeline when the shard moves on to a later second (or at snapshot time).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::codec::new_histogram;
use super::samples::{FailureSample, Samples};
use super::timeline::{MAX_SECONDS, Timeline};

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
    /// Per-second series and gauges.
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
    /// Fraction of a second the wall clock was past a whole second at start: bucket `i` of the
    /// timeline is then exactly Unix second `started_at.timestamp() + i`.
    subsec: Duration,
    mask: usize,
    shards: Box<[Padded<Mutex<Shard>>]>,
    timeline: Mutex<TimelineAcc>,
    gauges: Mutex<Vec<(&'static str, i64)>>,
    /// Gauges have been sampled for every second below this one.
    sampled_to: AtomicU64,
    phases: Mutex<Vec<PhaseMark>>,
    samples: Samples,
}

/// Keeps each shard's lock on its own cache line pair, so shards do not false-share.
#[repr(align(128))]
struct Padded<T>(T);

#[derive(Default)]
struct Shard {
    histograms: Vec<(&'static str, Histogram<u64>)>,
    counters: HashMap<Box<str>, u64, BuildHasherDefault<Fnv>>,
    pending_sec: u64,
    pending: Vec<(&'static str, u64)>,
}

/// Shared timeline under construction.
#[derive(Default)]
struct TimelineAcc {
    series: Vec<(&'static str, Vec<u64>)>,
    gauges: Vec<(&'static str, Vec<i64>)>,
    truncated: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder whose clock starts now, with a shard count suited to this machine
    /// (8 × available cores, between 8 and 64, a power of two).
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_shards((cores * 8).clamp(8, 64))
    }

    /// A recorder with `shards` shards (rounded up to a power of two, at least 1, at most 1024).
    pub fn with_shards(shards: usize) -> Self {
        let n = shards.clamp(1, 1024).next_power_of_two();
        let started_at = Utc::now();
        let subsec = Duration::from_nanos(u64::from(
            started_at.timestamp_subsec_nanos() % 1_000_000_000,
        ));
        Recorder {
            inner: Arc::new(Inner {
                started_at,
                start: Instant::now(),
                subsec,
                mask: n - 1,
                shards: (0..n)
                    .map(|_| Padded(Mutex::new(Shard::default())))
                    .collect(),
                timeline: Mutex::new(TimelineAcc::default()),
                gauges: Mutex::new(Vec::new()),
                sampled_to: AtomicU64::new(0),
                phases: Mutex::new(Vec::new()),
                samples: Samples::default(),
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
    /// clamped to 1 h. `shard` is any number that spreads callers (e.g. the client index).
    #[inline]
    pub fn record(&self, shard: usize, hist: &'static str, micros: u64) {
        let mut s = self.shard(shard).lock();
        s.histogram(hist).saturating_record(micros);
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

    /// Adds `n` events to the current second of timeline series `series`.
    pub fn series(&self, shard: usize, series: &'static str, n: u64) {
        let sec = self.current_second();
        self.sample_gauges(sec);
        let mut s = self.shard(shard).lock();
        if s.pending_sec != sec && !s.pending.is_empty() {
            let pending_sec = s.pending_sec;
            let mut acc = self.inner.timeline.lock();
            for (name, c) in s.pending.drain(..) {
                acc.add(name, pending_sec, c);
            }
        }
        s.pending_sec = sec;
        match s.pending.iter_mut().find(|(name, _)| same(name, series)) {
            Some((_, c)) => *c = c.saturating_add(n),
            None => s.pending.push((series, n)),
        }
    }

    /// Moves gauge `gauge` by `delta` (e.g. +1 when a socket opens, -1 when it closes). Gauges are
    /// sampled into the timeline once per second.
    pub fn gauge_add(&self, gauge: &'static str, delta: i64) {
        self.sample_gauges(self.current_second());
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
            if !s.pending.is_empty() {
                let pending_sec = s.pending_sec;
                let mut acc = self.inner.timeline.lock();
                for (name, c) in s.pending.drain(..) {
                    acc.add(name, pending_sec, c);
                }
            }
            for (name, h) in &s.histograms {
                match histograms.get_mut(*name) {
                    // Same bounds on both sides: `add` cannot fail.
                    Some(dst) => dst.add(h).expect("histograms share bounds"),
                    None => {
                        histograms.insert((*name).to_string(), h.clone());
                    }
                }
            }
            for (name, c) in &s.counters {
                let e = counters.entry(name.to_string()).or_insert(0);
                *e = e.saturating_add(*c);
            }
        }
        let elapsed = self.elapsed();
        let sec = self.second_of(elapsed);
        self.sample_gauges(sec);
        let timeline = self.build_timeline(sec);
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

    fn build_timeline(&self, current: u64) -> Timeline {
        let acc = self.inner.timeline.lock();
        let gauges_now = self.inner.gauges.lock().clone();
        let mut seconds = usize::try_from(current)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let mut truncated = acc.truncated;
        if seconds > MAX_SECONDS {
            seconds = MAX_SECONDS;
            truncated = true;
        }
        let mut t = Timeline::new(self.inner.started_at.timestamp());
        t.seconds = seconds;
        t.truncated = truncated;
        for (name, v) in &acc.series {
            let mut v = v.clone();
            v.resize(seconds, 0);
            *t.series.entry((*name).to_string()).or_default() = v;
        }
        for (name, v) in &acc.gauges {
            let mut v = v.clone();
            // The current, still running second shows the gauge's present value.
            let now = gauges_now
                .iter()
                .find(|(n, _)| same(n, name))
                .map_or(0, |(_, x)| *x);
            v.resize(seconds, now);
            *t.gauges.entry((*name).to_string()).or_default() = v;
        }
        for (name, now) in &gauges_now {
            t.gauges
                .entry((*name).to_string())
                .or_insert_with(|| vec![*now; seconds]);
        }
        t
    }

    /// Samples every gauge for each whole second before `sec` not sampled yet. The first caller
    /// in a new second does it; others see `sampled_to` already advanced and return at once.
    fn sample_gauges(&self, sec: u64) {
        let inner = &*self.inner;
        if inner.sampled_to.load(Ordering::Acquire) >= sec {
            return;
        }
        let gauges = inner.gauges.lock();
        let from = inner.sampled_to.load(Ordering::Acquire);
        if from >= sec {
            return;
        }
        let mut acc = inner.timeline.lock();
        let to = usize::try_from(sec).unwrap_or(usize::MAX).min(MAX_SECONDS);
        if sec as usize > MAX_SECONDS && !gauges.is_empty() {
            acc.truncated = true;
        }
        for (name, value) in gauges.iter() {
            let v = match acc.gauges.iter_mut().position(|(n, _)| same(n, name)) {
                Some(i) => &mut acc.gauges[i].1,
                None => {
                    acc.gauges.push((name, Vec::new()));
                    &mut acc.gauges.last_mut().expect("just pushed").1
                }
            };
            // Seconds before this gauge first moved were 0; seconds since, its current value
            // (nothing moved it in between, or it would have sampled then).
            let filled = v.len();
            let fill_to = to.max(filled);
            let first_new = usize::try_from(from).unwrap_or(usize::MAX).min(fill_to);
            v.resize(first_new.max(filled), 0);
            v.resize(fill_to, *value);
        }
        inner.sampled_to.store(sec, Ordering::Release);
    }

    #[inline]
    fn shard(&self, hint: usize) -> &Mutex<Shard> {
        &self.inner.shards[hint & self.inner.mask].0
    }

    #[inline]
    fn current_second(&self) -> u64 {
        self.second_of(self.inner.start.elapsed())
    }

    #[inline]
    fn second_of(&self, elapsed: Duration) -> u64 {
        (elapsed + self.inner.subsec).as_secs()
    }
}

impl Shard {
    #[inline]
    fn histogram(&mut self, name: &'static str) -> &mut Histogram<u64> {
        let i = match self.histograms.iter().position(|(n, _)| same(n, name)) {
            Some(i) => i,
            None => {
                self.histograms.push((name, new_histogram()));
                self.histograms.len() - 1
            }
        };
        &mut self.histograms[i].1
    }
}

impl TimelineAcc {
    fn add(&mut self, name: &'static str, sec: u64, n: u64) {
        let Ok(sec) = usize::try_from(sec) else {
            self.truncated = true;
            return;
        };
        if sec >= MAX_SECONDS {
            self.truncated = true;
            return;
        }
        let v = match self.series.iter().position(|(s, _)| same(s, name)) {
            Some(i) => &mut self.series[i].1,
            None => {
                self.series.push((name, Vec::new()));
                &mut self.series.last_mut().expect("just pushed").1
            }
        };
        if v.len() <= sec {
            v.resize(sec + 1, 0);
        }
        v[sec] = v[sec].saturating_add(n);
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
    use crate::metrics::names;

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
        assert!(t.seconds >= 1);
        assert_eq!(t.total(names::SERIES_REQUESTS), 100);
        assert_eq!(t.total(names::SERIES_ERRORS), 3);
        assert_eq!(*t.gauges[names::GAUGE_OPEN_SOCKETS].last().unwrap(), 3);
        assert_eq!(t.start_unix, s.started_at.timestamp());
        assert_eq!(s.phases.len(), 1);
        assert_eq!(s.phases[0].name, "traffic");
        assert_eq!(r.gauge(names::GAUGE_OPEN_SOCKETS), 3);
    }

    #[test]
    fn gauge_sampling_fills_missed_seconds() {
        let r = Recorder::with_shards(1);
        r.gauge_add("g", 4);
        // Pretend three seconds went by with no event: the sampler fills them with the level.
        r.sample_gauges(3);
        r.gauge_add("g", 1);
        let t = r.build_timeline(3);
        assert_eq!(t.gauges["g"], vec![4, 4, 4, 5]);
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
