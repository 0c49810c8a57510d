//! Thresholds evaluated against a report: the observed value of a parsed
//! [`Threshold`](crate::config::Threshold) (the grammar lives in [`crate::config::threshold`]),
//! formatted for people, and whether it holds.
//!
//! Missing data: a latency statistic of a histogram with no samples **fails** ("no samples") —
//! a threshold about something never measured cannot be called met. A counter never recorded is
//! 0. A derived value that is undefined (refresh amplification with no refresh needed, error rate
//! with no request) fails with a message saying why.
//!
//! Default thresholds ([`DEFAULTS`]): a run whose clients never got a session, whose operations
//! failed, or whose sessions the server ended before their time (a refresh of a valid token
//! refused: `spurious_logouts`), must not pass because its scenario forgot to ask. Every load run is held to
//! them unless the scenario has a threshold on the same metric, which replaces the default
//! (`failure_rate < 5%` loosens it, `failure_rate <= 100%` switches it off). They are listed with
//! the scenario's thresholds, marked `origin: default`. A run that opens channels is also held to
//! [`CHANNEL_DEFAULTS`]: sockets the server refused are not "operations" of `failure_rate`.

use super::format;
use super::model::{Origin, Report, ThresholdResult, per_second};
use crate::config::threshold::{Kind, Metric, Stat, Threshold, ThresholdError};
use crate::metrics::names;

/// The default thresholds of every load run (see the module docs).
pub const DEFAULTS: &[&str] = &[
    "never_logged_in == 0",
    "never_recovered == 0",
    "failure_rate < 1%",
    "spurious_logouts == 0",
];

/// The default thresholds of a load run that opens channels (WebSockets, SSE streams, push
/// registrations): a run whose every socket the server refused must not pass because the HTTP
/// side worked. Applied when the report holds [`names::CHANNELS_NEVER_OPENED`], which such a run
/// records even at 0.
pub const CHANNEL_DEFAULTS: &[&str] = &["channels_never_opened == 0"];

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
            let channels = self.counters.contains_key(names::CHANNELS_NEVER_OPENED);
            let defaults = DEFAULTS
                .iter()
                .chain(CHANNEL_DEFAULTS.iter().filter(|_| channels));
            for d in defaults.filter_map(|e| parse(e).ok()) {
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

/// Most decimals added to tell a failed value from its limit.
const MAX_EXTRA_DIGITS: usize = 12;

/// A value of `t`'s metric with `decimals` digits after the point, in the unit the limit is shown
/// in (so that the two line up).
fn show_digits(t: &Threshold, v: f64, decimals: usize) -> String {
    match t.kind {
        Kind::Latency => {
            let (scale, unit) = match t.limit.abs() {
                l if l < 1_000.0 => (1.0, "µs"),
                l if l < 1_000_000.0 => (1_000.0, "ms"),
                _ => (1_000_000.0, "s"),
            };
            format!("{:.decimals$}{unit}", v / scale)
        }
        Kind::Ratio if t.percent => format!("{:.decimals$}%", v * 100.0),
        Kind::Count | Kind::Ratio => format!("{v:.decimals$}"),
        Kind::Rate => format!("{v:.decimals$}/s"),
    }
}

/// The observed value and the limit as text. When a failed comparison would print them alike
/// (`1.004` and `1.0` both show as `1.00`), digits are added until they differ, so the reason for
/// the failure is visible (`1.004, expected <= 1.000`).
fn shown_apart(t: &Threshold, v: f64, passed: bool) -> (String, String) {
    let (value, limit) = (show(t, v), show(t, t.limit));
    if passed || value != limit || v == t.limit {
        return (value, limit);
    }
    (1..=MAX_EXTRA_DIGITS)
        .map(|d| (show_digits(t, v, d), show_digits(t, t.limit, d)))
        .find(|(a, b)| a != b)
        .unwrap_or((value, limit))
}

/// Evaluates `t` against a report. A per-client limit (`2 * clients`) is the factor times the
/// report's clients.
pub fn evaluate(t: &Threshold, report: &Report) -> ThresholdResult {
    let scaled;
    let t = if t.per_client {
        scaled = Threshold {
            limit: t.limit * f64::from(report.run.clients),
            per_client: false,
            ..t.clone()
        };
        &scaled
    } else {
        t
    };
    let lhs = t.lhs().to_string();
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
            let (text, limit) = shown_apart(t, v, passed);
            let limit = format!("{} {limit}", t.op.as_str());
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
    fn a_failure_shows_enough_digits_to_see_why() {
        let cases = [
            ("refresh_amplification <= 1.0", 1.004, "1.004", "1.000"),
            ("refresh_amplification <= 1.0", 1.5, "1.50", "1.00"),
            ("error_rate < 1%", 0.010_04, "1.004%", "1.000%"),
            ("p99(refresh) < 2s", 2_000_400.0, "2.0004s", "2.0000s"),
            ("p99(refresh) < 2s", 2_000_000.0, "2s", "2s"),
            ("relogins == 0", 0.25, "0.25", "0"),
        ];
        for (expr, v, value, limit) in cases {
            let t = parse(expr).unwrap();
            assert!(!t.op.holds(v, t.limit), "{expr} fails for {v}");
            assert_eq!(
                shown_apart(&t, v, false),
                (value.to_string(), limit.to_string()),
                "{expr} with {v}"
            );
        }
        let t = parse("refresh_amplification <= 1.0").unwrap();
        assert_eq!(shown_apart(&t, 1.0, true), ("1.00".into(), "1.00".into()));
    }

    #[test]
    fn a_per_client_limit_scales_with_the_runs_clients() {
        let mut report = Report::from_run(
            crate::report::RunMeta {
                name: "t".into(),
                clients: 20,
                ..Default::default()
            },
            crate::metrics::Recorder::new().snapshot(),
            &[],
        );
        report.counters.insert(names::RELOGINS.into(), 40);
        let t = parse("relogins == 2 * clients").unwrap();
        let r = evaluate(&t, &report);
        assert!(r.passed, "{}", r.message);
        assert_eq!(r.message, "relogins = 40 (== 40)");
        report.run.clients = 21;
        let r = evaluate(&t, &report);
        assert!(!r.passed);
        assert_eq!(r.message, "relogins = 40, expected == 42");
    }

    #[test]
    fn the_defaults_parse() {
        for d in DEFAULTS.iter().chain(CHANNEL_DEFAULTS) {
            assert!(parse(d).is_ok(), "{d}");
        }
    }
}
