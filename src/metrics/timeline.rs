//! The run's timeline: event counts per interval for a few series (requests, refreshes, failures,
//! requests sent and done, clients recovered, ...), gauges sampled at the end of each interval
//! (open sockets, active clients), and the latency of the operations completed in each interval
//! (a small HDR histogram per interval and operation, so p50 and p99 over time merge exactly).
//!
//! Resolution adapts to the run's length: intervals are [`FINE_MS`] (100 ms) long, so a storm that
//! lasts a second shows its rise and fall; when a timeline would exceed [`MAX_BUCKETS`] intervals,
//! it is coarsened tenfold (1 s, then 10 s, then 100 s), adding neighbours together. Interval
//! widths are therefore always 100 ms × 10^k, and intervals are aligned on wall-clock multiples of
//! their width: interval `i` covers Unix milliseconds `start_ms + i × bucket_ms ..` the next. Two
//! timelines from different processes (shards of one run) merge by coarsening the finer one to the
//! other's width and adding them, shifted by the difference of their starts.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::codec::{self, HIGHEST_US, LOWEST_US};

/// The finest interval: 100 ms.
pub const FINE_MS: u64 = 100;
/// Most intervals kept; a longer timeline is coarsened tenfold (so 6 min at 100 ms, 1 h at 1 s,
/// 10 h at 10 s, 100 h at 100 s).
pub const MAX_BUCKETS: usize = 3_600;
/// The coarsest interval; a timeline that would need more than [`MAX_BUCKETS`] of these is cut
/// and [`Timeline::truncated`] is set (after 100 hours).
pub const MAX_BUCKET_MS: u64 = 100_000;
/// Interval width of reports written before intervals had a width (one second).
const LEGACY_BUCKET_MS: u64 = 1_000;
/// Significant digits of an interval's latency histogram: 1 gives buckets about 6% wide, enough
/// for a p50/p99 curve at a fraction of a full histogram's size.
const INTERVAL_SIGFIG: u8 = 1;

/// The latency of one operation's exchanges completed in one interval (µs).
#[derive(Clone, PartialEq)]
pub struct IntervalLatency(pub Histogram<u32>);

impl IntervalLatency {
    /// An empty interval histogram (1 µs .. 1 h, about 6% resolution).
    pub fn new() -> Self {
        IntervalLatency(
            Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, INTERVAL_SIGFIG)
                .expect("static histogram bounds are valid"),
        )
    }

    /// The value at quantile `q` (µs), `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        (!self.0.is_empty()).then(|| self.0.value_at_quantile(q))
    }
}

impl Default for IntervalLatency {
    fn default() -> Self {
        Self::new()
    }
}

/// The summary only (the histogram's own `Debug` lists every bucket).
impl std::fmt::Debug for IntervalLatency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalLatency")
            .field("count", &self.0.len())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

/// Series, gauges and interval latencies of one run. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "wire::Timeline", into = "wire::Timeline")]
pub struct Timeline {
    /// Unix time in milliseconds at which interval 0 starts (a multiple of `bucket_ms`).
    pub start_ms: i64,
    /// Interval width in milliseconds: 100 × 10^k.
    pub bucket_ms: u64,
    /// Number of intervals; every vector below has this length.
    pub buckets: usize,
    /// Events per interval, per series (e.g. `requests`, `refreshes`, `failures`, `sent`).
    pub series: BTreeMap<String, Vec<u64>>,
    /// Gauge value at the end of each interval (e.g. `open_sockets`).
    pub gauges: BTreeMap<String, Vec<i64>>,
    /// Latency of the exchanges completed in each interval, per operation (`None`: none).
    pub latency: BTreeMap<String, Vec<Option<IntervalLatency>>>,
    /// True when the run outlasted what the coarsest intervals hold and later ones were dropped.
    pub truncated: bool,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new(0, FINE_MS)
    }
}

impl Timeline {
    /// An empty timeline of `bucket_ms`-wide intervals (rounded up to 100 ms × 10^k) whose first
    /// interval holds the instant `start_ms` (Unix milliseconds).
    pub fn new(start_ms: i64, bucket_ms: u64) -> Self {
        let bucket_ms = valid_width(bucket_ms);
        Timeline {
            start_ms: align(start_ms, bucket_ms),
            bucket_ms,
            buckets: 0,
            series: BTreeMap::new(),
            gauges: BTreeMap::new(),
            latency: BTreeMap::new(),
            truncated: false,
        }
    }

    /// Interval width in seconds.
    pub fn bucket_s(&self) -> f64 {
        self.bucket_ms as f64 / 1000.0
    }

    /// Seconds from Unix millisecond `origin_ms` to the start of interval `i`.
    pub fn at_s(&self, i: usize, origin_ms: i64) -> f64 {
        (self.start_ms + i as i64 * self.bucket_ms as i64 - origin_ms) as f64 / 1000.0
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.buckets == 0
            && self.series.is_empty()
            && self.gauges.is_empty()
            && self.latency.is_empty()
    }

    /// Sum of a series over the whole run (0 when absent).
    pub fn total(&self, series: &str) -> u64 {
        self.series.get(series).map_or(0, |v| v.iter().sum())
    }

    /// The busiest interval of a series: `(interval index, count)`.
    pub fn peak(&self, series: &str) -> Option<(usize, u64)> {
        let v = self.series.get(series)?;
        v.iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .map(|(i, c)| (i, *c))
    }

    /// A series as events per second in each interval (whatever the interval width).
    pub fn rate(&self, series: &str) -> Option<Vec<f64>> {
        let per = self.bucket_s();
        self.series
            .get(series)
            .map(|v| v.iter().map(|c| *c as f64 / per).collect())
    }

    /// Requests in flight at the end of each interval: every `sent` so far minus every `done`
    /// (sent and answered, failed or abandoned). `None` for timelines without these series.
    pub fn in_flight(&self) -> Option<Vec<i64>> {
        let sent = self.series.get(super::names::SERIES_SENT)?;
        let done = self.series.get(super::names::SERIES_DONE);
        let mut level: i64 = 0;
        Some(
            (0..self.buckets)
                .map(|i| {
                    let s = sent.get(i).copied().unwrap_or(0);
                    let d = done.and_then(|d| d.get(i)).copied().unwrap_or(0);
                    level = level.saturating_add_unsigned(s).saturating_sub_unsigned(d);
                    level.max(0)
                })
                .collect(),
        )
    }

    /// Quantile `q` of operation `op`'s latency in each interval (µs; `None`: no sample there).
    pub fn latency_quantile(&self, op: &str, q: f64) -> Option<Vec<Option<u64>>> {
        self.latency
            .get(op)
            .map(|v| v.iter().map(|h| h.as_ref()?.quantile(q)).collect())
    }

    /// Adds `n` events of `series` at Unix millisecond `at_ms`.
    pub fn add_count(&mut self, series: &str, at_ms: i64, n: u64) {
        let Some(i) = self.slot(at_ms) else { return };
        let v = entry(&mut self.series, series, self.buckets, 0);
        v[i] = v[i].saturating_add(n);
    }

    /// Adds the latencies in `h` to operation `op` at Unix millisecond `at_ms`.
    pub fn add_latency(&mut self, op: &str, at_ms: i64, h: &Histogram<u32>) {
        if h.is_empty() {
            return;
        }
        let Some(i) = self.slot(at_ms) else { return };
        let v = entry(&mut self.latency, op, self.buckets, None);
        match &mut v[i] {
            Some(dst) => add_saturating(&mut dst.0, h),
            slot @ None => *slot = Some(IntervalLatency(h.clone())),
        }
    }

    /// Gauge `name` held `value` from Unix millisecond `from_ms` up to `to_ms` (exclusive): the
    /// intervals that end in that span take it; earlier intervals never set are 0.
    pub fn set_gauge(&mut self, name: &str, from_ms: i64, to_ms: i64, value: i64) {
        if to_ms <= from_ms {
            return;
        }
        let Some(last) = self.slot(to_ms - 1) else {
            return;
        };
        let first = self.index_of(from_ms).unwrap_or(0).min(last);
        let v = entry(&mut self.gauges, name, self.buckets, 0);
        for x in &mut v[first..=last] {
            *x = value;
        }
    }

    /// Extends the timeline so that it holds Unix millisecond `at_ms` (series with 0, gauges with
    /// their last value, latencies with nothing).
    pub fn extend_to(&mut self, at_ms: i64) {
        self.slot(at_ms);
    }

    /// Adds `other` into `self`, aligning both on wall-clock time (see the module docs). Series
    /// and latencies are summed; gauges are summed too (open sockets of two shards are the
    /// sockets of both), a shard contributing 0 outside its own time span.
    pub fn merge(&mut self, other: &Timeline) {
        if other.is_empty() {
            self.truncated |= other.truncated;
            return;
        }
        if self.is_empty() {
            let truncated = self.truncated;
            *self = other.clone();
            self.truncated |= truncated;
            return;
        }
        let mut a = std::mem::take(self);
        let mut b = other.clone();
        let width = a.bucket_ms.max(b.bucket_ms);
        a.coarsen_to(width);
        b.coarsen_to(width);
        let mut out = Timeline::new(a.start_ms.min(b.start_ms), width);
        out.truncated = a.truncated || b.truncated;
        // Spans the union of both (coarsening further when it must).
        out.slot(a.end_ms().max(b.end_ms()) - 1);
        for src in [&mut a, &mut b] {
            src.coarsen_to(out.bucket_ms);
            out.absorb(src);
        }
        *self = out;
    }

    /// Adds `src` (same interval width, starting no earlier) into `self`.
    fn absorb(&mut self, src: &Timeline) {
        let shift = ((src.start_ms - self.start_ms) / self.bucket_ms as i64) as usize;
        let n = self.buckets;
        let slots = |len: usize| {
            (0..len)
                .map(move |i| (i, shift + i))
                .filter(move |(_, j)| *j < n)
        };
        for (name, v) in &src.series {
            let dst = entry(&mut self.series, name, n, 0);
            for (i, j) in slots(v.len()) {
                dst[j] = dst[j].saturating_add(v[i]);
            }
        }
        for (name, v) in &src.gauges {
            let dst = entry(&mut self.gauges, name, n, 0);
            for (i, j) in slots(v.len()) {
                dst[j] = dst[j].saturating_add(v[i]);
            }
        }
        for (name, v) in &src.latency {
            let dst = entry(&mut self.latency, name, n, None);
            for (i, j) in slots(v.len()) {
                if let Some(h) = &v[i] {
                    match &mut dst[j] {
                        Some(d) => add_saturating(&mut d.0, &h.0),
                        slot @ None => *slot = Some(h.clone()),
                    }
                }
            }
        }
    }

    /// Coarsens to intervals of `width` ms (a multiple of the current width; smaller is ignored):
    /// counts and latencies of the intervals that fall together are added, a gauge keeps the value
    /// at the end of the new interval.
    pub fn coarsen_to(&mut self, width: u64) {
        let width = valid_width(width);
        if width <= self.bucket_ms {
            return;
        }
        let factor = (width / self.bucket_ms) as usize;
        let new_start = align(self.start_ms, width);
        let offset = ((self.start_ms - new_start) / self.bucket_ms as i64) as usize;
        let new_len = if self.buckets == 0 {
            0
        } else {
            (self.buckets - 1 + offset) / factor + 1
        };
        let map = |i: usize| (i + offset) / factor;
        for v in self.series.values_mut() {
            let mut out = vec![0u64; new_len];
            for (i, c) in v.iter().enumerate() {
                out[map(i)] = out[map(i)].saturating_add(*c);
            }
            *v = out;
        }
        for v in self.gauges.values_mut() {
            let mut out = vec![0i64; new_len];
            for (i, g) in v.iter().enumerate() {
                out[map(i)] = *g;
            }
            *v = out;
        }
        for v in self.latency.values_mut() {
            let mut out: Vec<Option<IntervalLatency>> = vec![None; new_len];
            for (i, h) in std::mem::take(v).into_iter().enumerate() {
                let Some(h) = h else { continue };
                match &mut out[map(i)] {
                    Some(dst) => add_saturating(&mut dst.0, &h.0),
                    slot @ None => *slot = Some(h),
                }
            }
            *v = out;
        }
        self.start_ms = new_start;
        self.bucket_ms = width;
        self.buckets = new_len;
    }

    fn end_ms(&self) -> i64 {
        self.bucket_start(self.buckets)
    }

    fn bucket_start(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * self.bucket_ms as i64
    }

    /// The interval holding `at_ms` as the timeline stands (no growth), if any.
    fn index_of(&self, at_ms: i64) -> Option<usize> {
        if at_ms < self.start_ms {
            return None;
        }
        let i = ((at_ms - self.start_ms) as u64 / self.bucket_ms) as usize;
        (i < self.buckets).then_some(i)
    }

    /// The interval holding `at_ms`, growing (and coarsening) the timeline as needed; `None` when
    /// the instant is before the start or beyond what the coarsest intervals hold.
    fn slot(&mut self, at_ms: i64) -> Option<usize> {
        if at_ms < self.start_ms {
            return None;
        }
        loop {
            let i = (at_ms - self.start_ms) as u64 / self.bucket_ms;
            if i < MAX_BUCKETS as u64 {
                let i = i as usize;
                if i >= self.buckets {
                    self.grow(i + 1);
                }
                return Some(i);
            }
            if self.bucket_ms >= MAX_BUCKET_MS {
                self.truncated = true;
                return None;
            }
            self.coarsen_to(self.bucket_ms * 10);
        }
    }

    fn grow(&mut self, buckets: usize) {
        if buckets <= self.buckets {
            return;
        }
        self.buckets = buckets;
        for v in self.series.values_mut() {
            v.resize(buckets, 0);
        }
        for v in self.gauges.values_mut() {
            let last = v.last().copied().unwrap_or(0);
            v.resize(buckets, last);
        }
        for v in self.latency.values_mut() {
            v.resize(buckets, None);
        }
    }
}

/// The vector of `name`, created with `len` copies of `fill` when absent.
fn entry<'a, T: Clone>(
    map: &'a mut BTreeMap<String, Vec<T>>,
    name: &str,
    len: usize,
    fill: T,
) -> &'a mut Vec<T> {
    if !map.contains_key(name) {
        map.insert(name.to_string(), vec![fill; len]);
    }
    map.get_mut(name).expect("just inserted")
}

/// Same bounds on both sides, so `add` fails only on a count overflow: then the counts saturate.
fn add_saturating(dst: &mut Histogram<u32>, src: &Histogram<u32>) {
    if dst.add(src).is_err() {
        for v in src.iter_recorded() {
            dst.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// `at_ms` rounded down to a multiple of `width` (also for times before 1970).
fn align(at_ms: i64, width: u64) -> i64 {
    at_ms.div_euclid(width as i64) * width as i64
}

/// `width` rounded up to 100 ms × 10^k, at most [`MAX_BUCKET_MS`].
fn valid_width(width: u64) -> u64 {
    let mut w = FINE_MS;
    while w < width && w < MAX_BUCKET_MS {
        w *= 10;
    }
    w
}

/// How a timeline looks in `report.json`. Reports written before interval widths existed have
/// `start_unix` and `seconds` only (one-second intervals) and are read as such.
mod wire {
    use super::*;

    #[derive(Serialize, Deserialize)]
    pub(super) struct Timeline {
        /// Unix seconds of the start (kept for readers of older reports).
        #[serde(default)]
        start_unix: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_ms: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bucket_ms: Option<u64>,
        #[serde(default, alias = "seconds")]
        buckets: usize,
        #[serde(default)]
        series: BTreeMap<String, Vec<u64>>,
        #[serde(default)]
        gauges: BTreeMap<String, Vec<i64>>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        latency: BTreeMap<String, Latency>,
        #[serde(default)]
        truncated: bool,
    }

    /// One operation's interval latencies: p50 and p99 in µs for people and plotting tools, and
    /// the interval histograms themselves (HdrHistogram V2+DEFLATE, base64) for merging.
    #[derive(Serialize, Deserialize)]
    pub(super) struct Latency {
        #[serde(default)]
        count: Vec<u64>,
        #[serde(default)]
        p50: Vec<Option<u64>>,
        #[serde(default)]
        p99: Vec<Option<u64>>,
        hdr: Vec<Option<String>>,
    }

    impl From<super::Timeline> for Timeline {
        fn from(t: super::Timeline) -> Self {
            let latency = t
                .latency
                .iter()
                .map(|(op, v)| {
                    let q = |q: f64| v.iter().map(|h| h.as_ref()?.quantile(q)).collect();
                    let lat = Latency {
                        count: v
                            .iter()
                            .map(|h| h.as_ref().map_or(0, |h| h.0.len()))
                            .collect(),
                        p50: q(0.5),
                        p99: q(0.99),
                        // An interval histogram holds at most u32::MAX per bucket: encodable.
                        hdr: v
                            .iter()
                            .map(|h| h.as_ref().and_then(|h| codec::encode(&h.0).ok()))
                            .collect(),
                    };
                    (op.clone(), lat)
                })
                .collect();
            Timeline {
                start_unix: t.start_ms.div_euclid(1000),
                start_ms: Some(t.start_ms),
                bucket_ms: Some(t.bucket_ms),
                buckets: t.buckets,
                series: t.series,
                gauges: t.gauges,
                latency,
                truncated: t.truncated,
            }
        }
    }

    impl TryFrom<Timeline> for super::Timeline {
        type Error = String;

        fn try_from(w: Timeline) -> Result<Self, String> {
            let bucket_ms = match (w.start_ms, w.bucket_ms) {
                (_, Some(b)) => b,
                (None, None) => LEGACY_BUCKET_MS,
                (Some(_), None) => FINE_MS,
            };
            if valid_width(bucket_ms) != bucket_ms {
                return Err(format!(
                    "timeline: bucket_ms {bucket_ms} is not 100, 1000, 10000 or 100000"
                ));
            }
            let start_ms = w.start_ms.unwrap_or(w.start_unix.saturating_mul(1000));
            if start_ms.rem_euclid(bucket_ms as i64) != 0 {
                return Err(format!(
                    "timeline: start_ms {start_ms} is not a multiple of bucket_ms {bucket_ms}"
                ));
            }
            let n = w.buckets;
            let check = |what: &str, name: &str, len: usize| {
                if len == n {
                    Ok(())
                } else {
                    Err(format!(
                        "timeline: {what} `{name}` has {len} values, expected {n} (one per interval)"
                    ))
                }
            };
            for (name, v) in &w.series {
                check("series", name, v.len())?;
            }
            for (name, v) in &w.gauges {
                check("gauge", name, v.len())?;
            }
            let mut latency = BTreeMap::new();
            for (op, l) in w.latency {
                check("latency", &op, l.hdr.len())?;
                let v = l
                    .hdr
                    .iter()
                    .enumerate()
                    .map(|(i, text)| match text {
                        None => Ok(None),
                        Some(t) => codec::decode_as::<u32>(t)
                            .map(|h| Some(IntervalLatency(h)))
                            .map_err(|e| format!("timeline: latency `{op}` interval {i}: {e}")),
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                latency.insert(op, v);
            }
            Ok(super::Timeline {
                start_ms,
                bucket_ms,
                buckets: n,
                series: w.series,
                gauges: w.gauges,
                latency,
                truncated: w.truncated,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timeline of 1 s intervals from Unix second `start`.
    fn tl(start: i64, reqs: &[u64], sockets: &[i64]) -> Timeline {
        let mut t = Timeline::new(start * 1000, 1000);
        t.buckets = reqs.len();
        t.series.insert("requests".into(), reqs.to_vec());
        t.gauges.insert("open_sockets".into(), sockets.to_vec());
        t
    }

    #[test]
    fn merge_aligns_on_wall_clock() {
        let mut a = tl(100, &[1, 2, 3], &[5, 5, 0]);
        let b = tl(101, &[10, 20, 30], &[1, 1, 1]);
        a.merge(&b);
        assert_eq!(a.start_ms, 100_000);
        assert_eq!(a.buckets, 4);
        assert_eq!(a.series["requests"], vec![1, 12, 23, 30]);
        assert_eq!(a.gauges["open_sockets"], vec![5, 6, 1, 1]);
        assert_eq!(a.total("requests"), 66);
        assert_eq!(a.peak("requests"), Some((3, 30)));
    }

    #[test]
    fn merge_with_earlier_start_and_empty() {
        let mut a = Timeline::default();
        a.merge(&tl(50, &[4], &[]));
        let mut b = tl(48, &[1, 1], &[]);
        b.merge(&a);
        assert_eq!(b.start_ms, 48_000);
        assert_eq!(b.series["requests"], vec![1, 1, 4]);
    }

    #[test]
    fn merge_coarsens_the_finer_timeline() {
        // 100 ms intervals from 10.3 s; one-second intervals from 10 s.
        let mut fine = Timeline::new(10_300, FINE_MS);
        for (k, n) in [(0, 1u64), (6, 2), (7, 4), (12, 8)] {
            fine.add_count("requests", 10_300 + k * 100, n);
        }
        let coarse = tl(10, &[100, 200], &[]);
        fine.merge(&coarse);
        assert_eq!((fine.start_ms, fine.bucket_ms), (10_000, 1000));
        // 10.3 and 10.9 s fall in second 10; 11.0 s (k=7) and 11.5 s in second 11.
        assert_eq!(fine.series["requests"], vec![103, 212]);
    }

    #[test]
    fn hundred_millisecond_intervals_show_a_burst() {
        let mut t = Timeline::new(1_000_050, FINE_MS);
        assert_eq!(t.start_ms, 1_000_000);
        for _ in 0..500 {
            t.add_count("refreshes", 1_002_340, 1);
        }
        t.add_count("refreshes", 1_003_010, 5);
        assert_eq!(t.buckets, 31);
        assert_eq!(t.peak("refreshes"), Some((23, 500)));
        assert_eq!(t.rate("refreshes").unwrap()[23], 5_000.0);
    }

    #[test]
    fn long_runs_coarsen_tenfold_and_stay_bounded() {
        let mut t = Timeline::new(0, FINE_MS);
        t.add_count("requests", 250, 1);
        let mut h = IntervalLatency::new();
        h.0.record(1_000).unwrap();
        t.add_latency("api", 250, &h.0);
        t.set_gauge("g", 0, 300, 7);
        // 10 minutes in: past 3 600 intervals of 100 ms, so the timeline switches to 1 s.
        t.add_count("requests", 600_000, 2);
        assert_eq!(t.bucket_ms, 1000);
        assert_eq!(t.buckets, 601);
        assert_eq!(t.series["requests"][0], 1);
        assert_eq!(t.series["requests"][600], 2);
        assert_eq!(t.gauges["g"][0], 7);
        assert_eq!(t.latency["api"][0].as_ref().unwrap().0.len(), 1);
        // Five days: beyond the coarsest intervals' reach.
        t.add_count("requests", 5 * 86_400_000, 1);
        assert_eq!(t.bucket_ms, MAX_BUCKET_MS);
        assert!(t.truncated);
        assert!(t.buckets <= MAX_BUCKETS);
        assert_eq!(t.total("requests"), 3);
    }

    #[test]
    fn in_flight_is_sent_minus_done() {
        let mut t = Timeline::new(0, FINE_MS);
        for (at, sent, done) in [(0, 10, 0), (100, 5, 3), (200, 0, 12), (300, 0, 0)] {
            t.add_count(super::super::names::SERIES_SENT, at, sent);
            t.add_count(super::super::names::SERIES_DONE, at, done);
        }
        assert_eq!(t.in_flight().unwrap(), vec![10, 12, 0, 0]);
    }

    #[test]
    fn gauges_hold_their_level() {
        let mut t = Timeline::new(0, FINE_MS);
        t.set_gauge("g", 100, 350, 4);
        t.set_gauge("g", 350, 500, 6);
        assert_eq!(t.gauges["g"], vec![0, 4, 4, 6, 6]);
        t.extend_to(650);
        assert_eq!(t.gauges["g"], vec![0, 4, 4, 6, 6, 6, 6]);
    }

    #[test]
    fn json_round_trip_and_legacy_reports() {
        let mut t = Timeline::new(1_700_000_000_000, FINE_MS);
        let mut h = IntervalLatency::new();
        for v in [1_000, 2_000, 90_000] {
            h.0.record(v).unwrap();
        }
        t.add_latency("refresh", 1_700_000_000_250, &h.0);
        t.add_count("refreshes", 1_700_000_000_250, 3);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["bucket_ms"], 100);
        assert_eq!(json["buckets"], 3);
        assert_eq!(json["latency"]["refresh"]["count"][2], 3);
        assert!(json["latency"]["refresh"]["p99"][2].as_u64().unwrap() >= 85_000);
        let back: Timeline = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);

        let legacy = serde_json::json!({
            "start_unix": 1_700_000_000, "seconds": 2,
            "series": { "requests": [3, 4] }, "gauges": {}, "truncated": false
        });
        let old: Timeline = serde_json::from_value(legacy).unwrap();
        assert_eq!(
            (old.start_ms, old.bucket_ms, old.buckets),
            (1_700_000_000_000, 1000, 2)
        );
        assert_eq!(old.rate("requests").unwrap(), vec![3.0, 4.0]);

        let bad = serde_json::json!({ "start_ms": 0, "bucket_ms": 250, "buckets": 0 });
        let err = serde_json::from_value::<Timeline>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bucket_ms 250"), "{err}");
        let short = serde_json::json!({ "start_ms": 0, "bucket_ms": 100, "buckets": 2,
                                        "series": { "requests": [1] } });
        let err = serde_json::from_value::<Timeline>(short)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`requests` has 1 values, expected 2"), "{err}");
    }
}
