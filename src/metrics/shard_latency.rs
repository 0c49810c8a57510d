//! One shard's latency histogram of one name: 32-bit counts, half the memory of the 64-bit
//! histogram a snapshot merges into, and exact however long the run.
//!
//! A recorder keeps one of these per name per shard, and at a storm they are a large part of
//! its memory (16 shards × 6 names, each grown to the slowest sample so far: ~90 KB at 64-bit
//! counts once a sample of 2 s was seen). A count of 32 bits overflows only after 2^32 − 1
//! samples in one bucket; before the total reaches that, the counts move into a 64-bit
//! histogram kept beside them ([`ShardLatency::spilled`]), so no count is ever saturated.

use hdrhistogram::{Counter, Histogram};

use super::codec::{HIGHEST_US, growing_histogram, new_histogram};

/// See the module docs.
pub(crate) struct ShardLatency {
    counts: Histogram<u32>,
    /// Samples moved out of `counts` before one of its counts could overflow; `None` until a
    /// shard has recorded 2^32 − 1 samples of one name.
    spilled: Option<Box<Histogram<u64>>>,
    /// `counts` moves into `spilled` when it holds this many samples.
    spill_at: u64,
}

impl ShardLatency {
    /// An empty histogram covering 1 µs..4 ms, growing to 1 h as larger samples arrive.
    pub(crate) fn new() -> ShardLatency {
        ShardLatency::spilling_at(u64::from(u32::MAX))
    }

    /// Moves the counts aside at `spill_at` samples (`u32::MAX` in use; smaller in tests).
    fn spilling_at(spill_at: u64) -> ShardLatency {
        ShardLatency {
            counts: growing_histogram(),
            spilled: None,
            spill_at,
        }
    }

    /// Records one sample of `micros` µs, clamped to 1 h.
    #[inline]
    pub(crate) fn record(&mut self, micros: u64) {
        if self.counts.len() >= self.spill_at {
            self.spill();
        }
        // Clamped here: a growing histogram grows to fit any value (`saturating_record` would
        // clamp to its current top instead of growing). A value up to 1 h cannot fail.
        let _ = self.counts.record(micros.min(HIGHEST_US));
    }

    #[cold]
    fn spill(&mut self) {
        let into = self
            .spilled
            .get_or_insert_with(|| Box::new(new_histogram()));
        add_counts(into, &self.counts);
        self.counts.reset();
    }

    /// Samples recorded.
    pub(crate) fn len(&self) -> u64 {
        self.counts.len() + self.spilled.as_ref().map_or(0, |h| h.len())
    }

    /// Adds every sample to `into`, a full-range histogram (1 µs..1 h, 3 digits).
    pub(crate) fn add_to(&self, into: &mut Histogram<u64>) {
        if let Some(spilled) = &self.spilled {
            into.add(&**spilled)
                .expect("the spilled histogram has the full range's shape");
        }
        add_counts(into, &self.counts);
    }

    /// Buckets held now (it grows with the largest sample).
    #[cfg(test)]
    pub(crate) fn distinct_values(&self) -> usize {
        self.counts.distinct_values()
    }
}

/// Adds `src`'s counts to `into`, both of the codec's shape (lowest 1 µs, 3 digits), so each
/// bucket lands in the bucket of the same index: the sum is exact, not an approximation.
fn add_counts<T: Counter>(into: &mut Histogram<u64>, src: &Histogram<T>) {
    for v in src.iter_recorded() {
        into.saturating_record_n(v.value_iterated_to(), v.count_at_value().as_u64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_into_the_full_range_it_equals_a_histogram_of_the_same_samples() {
        let mut mine = ShardLatency::new();
        let mut all = new_histogram();
        for i in 0..20_000u64 {
            let v = 1 + (i * 7919) % 3_000_000;
            mine.record(v);
            all.record(v).unwrap();
        }
        mine.record(5 * HIGHEST_US);
        all.record(HIGHEST_US).unwrap();
        let mut merged = new_histogram();
        mine.add_to(&mut merged);
        assert_eq!(mine.len(), 20_001);
        assert_eq!(merged, all);
        assert_eq!(merged.value_at_quantile(0.99), all.value_at_quantile(0.99));
        assert!(merged.equivalent(merged.min(), all.min()));
    }

    #[test]
    fn counts_move_aside_before_they_could_overflow_and_none_is_lost() {
        let mut mine = ShardLatency::spilling_at(1_000);
        let mut all = new_histogram();
        for i in 0..2_500u64 {
            // One bucket takes most samples, as a long steady run would.
            let v = if i % 10 == 0 { 50_000 + i } else { 1_000 };
            mine.record(v);
            all.record(v).unwrap();
        }
        // Spilled twice (at 1 000 and 2 000 samples), 500 samples still in the 32-bit counts.
        assert_eq!(mine.counts.len(), 500);
        assert_eq!(mine.spilled.as_ref().map(|h| h.len()), Some(2_000));
        assert_eq!(mine.len(), 2_500);
        let mut merged = new_histogram();
        mine.add_to(&mut merged);
        assert_eq!(merged, all);
        assert_eq!(merged.count_at(1_000), 2_250);
    }
}
