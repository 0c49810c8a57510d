//! Thresholds evaluated against a report: the observed value of a parsed
//! [`Threshold`](crate::config::Threshold) (the grammar lives in [`crate::config::threshold`]),
//! formatted for people, and whether it holds.
//!
//! Missing data: a latency statistic of a histogram with no samples **fails** ("no samples") —
//! a threshold about something never measured cannot be called met. A counter never recorded is
//! 0. A derived value that is undefined (refresh amplification with no refresh needed, error rate
//! with no request) fails with a message saying why.
//!
//! Default thresholds ([`DEFAULTS`]): a run whose clients never got a session, or whose
//! operations failed, must not pass because its scenario forgot to ask. Every load run is held to
//! them unless the scenario has a threshold on the same metric, which replaces the default
//! (`failure_rate < 5%` loosens it, `failure_rate <= 100%` switches it off). They are listed with
//! the scenario's thresholds, marked `origin: default`.

use super::format;
use super::model::{Origin, Report, ThresholdResult, per_second};
use crate::config::threshold::{Kind, Metric, Stat, Threshold, ThresholdError};
use crate::metrics::names;

/// The default thresholds of every load run (see the module docs).
pub const DEFAULTS: &[&str] = &["never_logged_in == 0", "failure_rate < 1%"];

/// Parses an expression with authbench's metric names (for expressions read back from a
/// `report.json`; a scenario's thresholds arrive parsed).
pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
    Threshold::parse(expr, &names::VOCABULARY)
}

impl Report {
    /// Evaluates `thresholds` against this report: `expect` becomes their expressions and
    /// `thresholds` their results, in order.
    /// A load run (one with clients) is also held to the [`DEFAULTS`] the scenario does not
    /// override, listed after the scenario's own.
    pub fn evaluate_thresholds(&mut self, thresholds: &[Threshold]) {
        self.expect = thresholds.iter().map(|t| t.expr.clone()).collect();
        let mut results: Vec<ThresholdResult> =
            thresholds.iter().map(|t| evaluate(t, self)).collect();
        if self.run.clients > 0 {
            for d in DEFAULTS.iter().filter_map(|e| parse(e).ok()) {
                if !thresholds.iter().any(|t| t.metric == d.metric) {
                    let mut r = evaluate(&d, self);
                    r.origin = Origin::Default;
                    results.push(r);
                }
            }
        }
        self.thresholds = results;
    }
}

/// Formats a value of `t`'s metric for people.
fn show(t: &Threshold, v: f64) -> String {
    match t.kind {
        Kind::Latency => format::micros(v),
        Kind::Count => {
            if v.fract() == 0.0 && v >= 0.0 {
                format::count(v as u64)
            } else {
                format::sig3(v)
            }
        }
        Kind::Ratio if t.percent => format::percent(v),
        Kind::Ratio => format::ratio(v),
        Kind::Rate => format::rate(v),
    }
}

/// Evaluates `t` against a report.
pub fn evaluate(t: &Threshold, report: &Report) -> ThresholdResult {
    let lhs = t.lhs().to_string();
    let limit = format!("{} {}", t.op.as_str(), show(t, t.limit));
    let observed: Result<f64, String> = match &t.metric {
            Metric::Histogram { stat, histogram } => match report.histograms.get(histogram) {
                Some(h) if h.count > 0 => Ok(match stat {
                    Stat::Quantile(q) => h.histogram.value_at_quantile(f64::from(*q) / 10_000.0) as f64,
                    Stat::Min => h.min as f64,
                    Stat::Max => h.max as f64,
                    Stat::Mean => h.mean,
                    Stat::Stdev => h.stdev,
                    Stat::Count => h.count as f64,
                }),
                _ if *stat == Stat::Count => Ok(0.0),
                _ => Err(format!(
                    "{lhs}: no samples — the run never measured `{histogram}` (did the phase that produces it run?)"
                )),
            },
            Metric::Rate { name } => {
                let n = report
                    .histograms
                    .get(name)
                    .map(|h| h.count)
                    .unwrap_or_else(|| report.counter(name));
                Ok(per_second(n, report.run.duration_s))
            }
            Metric::Value { name } => match name.as_str() {
                names::DERIVED_REFRESH_AMPLIFICATION => report.derived.refresh_amplification.ok_or_else(|| {
                    format!("{lhs} is undefined: no refresh was needed during the run (refreshes_needed = 0)")
                }),
                names::DERIVED_ERROR_RATE => report.derived.error_rate.ok_or_else(|| {
                    format!("{lhs} is undefined: no request was made during the run (requests = 0)")
                }),
                names::DERIVED_ERRORS => Ok(report.derived.errors as f64),
                names::DERIVED_FAILURE_RATE => report.derived.failure_rate.ok_or_else(|| {
                    format!("{lhs} is undefined: no request was made during the run (requests = 0)")
                }),
                names::DERIVED_FAILURES => Ok(report.derived.failures as f64),
                other => Ok(report.counter(other) as f64),
            },
        };
    match observed {
        Ok(v) => {
            let passed = t.op.holds(v, t.limit);
            let text = show(t, v);
            let message = if passed {
                format!("{lhs} = {text} ({limit})")
            } else {
                format!("{lhs} = {text}, expected {limit}")
            };
            ThresholdResult {
                expr: t.expr.clone(),
                observed: Some(v),
                observed_text: text,
                passed,
                message,
                origin: Origin::Scenario,
            }
        }
        Err(message) => ThresholdResult {
            expr: t.expr.clone(),
            observed: None,
            observed_text: "-".to_string(),
            passed: false,
            message,
            origin: Origin::Scenario,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_parse() {
        for d in DEFAULTS {
            assert!(parse(d).is_ok(), "{d}");
        }
    }
}
