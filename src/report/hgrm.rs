//! `<op>.hgrm`: the HdrHistogram percentile distribution text (`outputPercentileDistribution` of
//! the Java library), values in milliseconds — the input of the standard HdrHistogram plotter
//! (<https://hdrhistogram.github.io/HdrHistogram/plotFiles.html>) and of HistogramLogAnalyzer.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Percentile ticks per half distance, as the Java library's default output uses.
const TICKS_PER_HALF_DISTANCE: u32 = 5;
/// µs per output unit (ms).
const SCALE: f64 = 1_000.0;

/// Renders `h` (µs) as a percentile distribution in ms.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total: u64 = 0;
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / SCALE;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.digits$} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:>12.digits$} {q:>2.12} {total:>10}");
            }
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / SCALE, h.stdev() / SCALE, h.max() as f64 / SCALE)
    };
    let sub_buckets = (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two();
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.digits$}, StdDeviation   = {stdev:>12.digits$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.digits$}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {sub_buckets:>12}]",
        h.buckets()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    #[test]
    fn java_compatible_layout() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 100).unwrap(); // 0.1ms .. 100ms
        }
        let text = percentile_distribution(&h);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines.next().unwrap(), "");
        let first = lines.next().unwrap();
        assert_eq!(
            first,
            "       0.100 0.000000000000          1           1.00"
        );
        let rows: Vec<&str> = text
            .lines()
            .skip(2)
            .take_while(|l| !l.starts_with('#'))
            .collect();
        let last = rows.last().unwrap();
        assert!(
            last.starts_with("     100.") && last.contains(" 1.000000000000       1000"),
            "{last}"
        );
        assert_eq!(last.split_whitespace().count(), 3);
        // Percentiles never decrease, counts never decrease, and every row has 4 columns but the last.
        let mut prev = (0.0f64, 0u64);
        for r in &rows[..rows.len() - 1] {
            let cols: Vec<&str> = r.split_whitespace().collect();
            assert_eq!(cols.len(), 4, "{r}");
            let p: f64 = cols[1].parse().unwrap();
            let c: u64 = cols[2].parse().unwrap();
            assert!(p >= prev.0 && c >= prev.1);
            prev = (p, c);
        }
        assert!(text.contains("#[Mean    =       50.0"), "{text}");
        assert!(text.contains("Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn empty_histogram_has_header_and_footer() {
        let text = percentile_distribution(&new_histogram());
        assert!(text.starts_with("       Value"));
        assert!(text.contains("Total count    =            0]"));
    }
}
