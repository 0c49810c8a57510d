//! The per-second timeline: counts per second for a few series (requests, refreshes, errors,
//! relogins, logins) and gauges sampled once per second (open sockets, active clients).
//!
//! Buckets are aligned on wall-clock seconds: bucket `i` covers the Unix second
//! `start_unix + i`. Two timelines from different processes (shards of one run) therefore merge by
//! plain addition after shifting by the difference of their `start_unix`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Longest timeline kept: 24 hours of one-second buckets. Later seconds are not recorded and
/// [`Timeline::truncated`] is set; histograms and counters keep counting.
pub const MAX_SECONDS: usize = 86_400;

/// Per-second series and gauges of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Unix time in whole seconds of bucket 0.
    pub start_unix: i64,
    /// Number of one-second buckets; every vector below has this length.
    pub seconds: usize,
    /// Events per second, per series (e.g. `requests`, `refreshes`, `errors`, `relogins`).
    pub series: BTreeMap<String, Vec<u64>>,
    /// Gauge value at the end of each second (e.g. `open_sockets`).
    pub gauges: BTreeMap<String, Vec<i64>>,
    /// True when the run outlasted [`MAX_SECONDS`] and later seconds were dropped.
    #[serde(default)]
    pub truncated: bool,
}

impl Timeline {
    /// An empty timeline starting at `start_unix`.
    pub fn new(start_unix: i64) -> Self {
        Timeline {
            start_unix,
            ..Timeline::default()
        }
    }

    /// Sum of a series over the whole run (0 when absent).
    pub fn total(&self, series: &str) -> u64 {
        self.series.get(series).map_or(0, |v| v.iter().sum())
    }

    /// The busiest second of a series: `(second index, count)`.
    pub fn peak(&self, series: &str) -> Option<(usize, u64)> {
        let v = self.series.get(series)?;
        v.iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .map(|(i, c)| (i, *c))
    }

    /// Extends every vector to `seconds` buckets (zero-filled; gauges hold their last value).
    pub fn pad_to(&mut self, seconds: usize) {
        let seconds = seconds.min(MAX_SECONDS);
        if seconds <= self.seconds {
            return;
        }
        self.seconds = seconds;
        for v in self.series.values_mut() {
            v.resize(seconds, 0);
        }
        for v in self.gauges.values_mut() {
            let last = v.last().copied().unwrap_or(0);
            v.resize(seconds, last);
        }
    }

    /// Adds `other` into `self`, aligning both on wall-clock seconds. Series are summed; gauges are
    /// summed too (open sockets of two shards are the sockets of both), a shard contributing 0
    /// outside its own time span.
    pub fn merge(&mut self, other: &Timeline) {
        if other.seconds == 0 && other.series.is_empty() && other.gauges.is_empty() {
            self.truncated |= other.truncated;
            return;
        }
        if self.seconds == 0 && self.series.is_empty() && self.gauges.is_empty() {
            let truncated = self.truncated;
            *self = other.clone();
            self.truncated |= truncated;
            return;
        }
        let start = self.start_unix.min(other.start_unix);
        let end =
            (self.start_unix + self.seconds as i64).max(other.start_unix + other.seconds as i64);
        let mut seconds = usize::try_from(end - start).unwrap_or(0);
        let mut truncated = self.truncated || other.truncated;
        if seconds > MAX_SECONDS {
            seconds = MAX_SECONDS;
            truncated = true;
        }
        let mut out = Timeline {
            start_unix: start,
            seconds,
            truncated,
            ..Timeline::default()
        };
        for src in [&*self, other] {
            let shift = usize::try_from(src.start_unix - start).unwrap_or(0);
            for (name, v) in &src.series {
                let dst = out
                    .series
                    .entry(name.clone())
                    .or_insert_with(|| vec![0; seconds]);
                for (i, c) in v.iter().enumerate() {
                    if let Some(d) = dst.get_mut(shift + i) {
                        *d = d.saturating_add(*c);
                    }
                }
            }
            for (name, v) in &src.gauges {
                let dst = out
                    .gauges
                    .entry(name.clone())
                    .or_insert_with(|| vec![0; seconds]);
                for (i, c) in v.iter().enumerate() {
                    if let Some(d) = dst.get_mut(shift + i) {
                        *d = d.saturating_add(*c);
                    }
                }
            }
        }
        *self = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl(start: i64, reqs: &[u64], sockets: &[i64]) -> Timeline {
        let mut t = Timeline::new(start);
        t.seconds = reqs.len();
        t.series.insert("requests".into(), reqs.to_vec());
        t.gauges.insert("open_sockets".into(), sockets.to_vec());
        t
    }

    #[test]
    fn merge_aligns_on_wall_clock() {
        let mut a = tl(100, &[1, 2, 3], &[5, 5, 0]);
        let b = tl(101, &[10, 20, 30], &[1, 1, 1]);
        a.merge(&b);
        assert_eq!(a.start_unix, 100);
        assert_eq!(a.seconds, 4);
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
        assert_eq!(b.start_unix, 48);
        assert_eq!(b.series["requests"], vec![1, 1, 4]);
    }

    #[test]
    fn pad_keeps_gauge_level() {
        let mut a = tl(0, &[1], &[7]);
        a.pad_to(3);
        assert_eq!(a.series["requests"], vec![1, 0, 0]);
        assert_eq!(a.gauges["open_sockets"], vec![7, 7, 7]);
    }
}
