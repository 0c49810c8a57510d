//! Thresholds (`expect:` in a scenario): parsing the grammar of DESIGN §3 and evaluating it
//! against a [`Report`].
//!
//! ```text
//! threshold := metric op number [unit]
//! metric    := stat "(" histogram ")"      p50 p75 p90 p95 p99 p999 p9999 min max mean stdev → µs
//!            | "count(" histogram ")"      samples in the histogram
//!            | "rate(" histogram|counter ")"   per second over the run
//!            | counter | derived          refresh_calls, status.api.200, errors.timeout, ...
//!                                          refresh_amplification, error_rate, errors
//! op        := "<" | "<=" | "==" | ">=" | ">"
//! unit      := us | µs | ms | s            latencies (required, except for 0)
//!            | %                           ratios (error_rate, refresh_amplification)
//!            | /s | /m                     rates (optional; /s is the default)
//! ```
//!
//! Missing data: a latency statistic of a histogram with no samples **fails** ("no samples") —
//! a threshold about something never measured cannot be called met. A counter never recorded is
//! 0. A derived value that is undefined (refresh amplification with no refresh needed, error rate
//! with no request) fails with a message saying why.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::format;
use super::model::{Report, per_second};
use crate::metrics::names;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }

    fn holds(self, observed: f64, limit: f64) -> bool {
        let eq = (observed - limit).abs() <= 1e-9 * observed.abs().max(limit.abs()).max(1.0);
        match self {
            Op::Lt => observed < limit && !eq,
            Op::Le => observed <= limit || eq,
            Op::Eq => eq,
            Op::Ge => observed >= limit || eq,
            Op::Gt => observed > limit && !eq,
        }
    }
}

/// A statistic of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// A quantile in (0, 1], e.g. p99 → 0.99 (stored as parts per 10 000).
    Quantile(u32),
    /// Smallest sample.
    Min,
    /// Largest sample.
    Max,
    /// Mean.
    Mean,
    /// Standard deviation.
    Stdev,
    /// Number of samples.
    Count,
}

const STATS: &[(&str, Stat)] = &[
    ("p50", Stat::Quantile(5_000)),
    ("p75", Stat::Quantile(7_500)),
    ("p90", Stat::Quantile(9_000)),
    ("p95", Stat::Quantile(9_500)),
    ("p99", Stat::Quantile(9_900)),
    ("p999", Stat::Quantile(9_990)),
    ("p9999", Stat::Quantile(9_999)),
    ("min", Stat::Min),
    ("max", Stat::Max),
    ("mean", Stat::Mean),
    ("stdev", Stat::Stdev),
    ("count", Stat::Count),
];

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// `stat(histogram)`.
    Histogram {
        /// Statistic.
        stat: Stat,
        /// Histogram name.
        histogram: String,
    },
    /// `rate(name)`: histogram samples or counter increments per second over the run.
    Rate {
        /// Histogram or counter name.
        name: String,
    },
    /// A counter or derived value by name.
    Value {
        /// Name.
        name: String,
    },
}

/// The kind of quantity a metric is, which decides the units it accepts and how it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// µs.
    Latency,
    /// A count of events.
    Count,
    /// A dimensionless ratio (printed as % when the limit was given in %).
    Ratio,
    /// Events per second.
    Rate,
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written (trimmed).
    pub expr: String,
    /// What is measured.
    pub metric: Metric,
    /// Comparison.
    pub op: Op,
    /// The limit in base units: µs for latencies, a fraction for ratios, per second for rates.
    pub limit: f64,
    /// The limit was written as a percentage.
    pub percent: bool,
}

/// The evaluation of one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The expression as written.
    pub expr: String,
    /// Observed value in base units (µs, count, fraction, per second); `None` when there was
    /// nothing to observe.
    pub observed: Option<f64>,
    /// Observed value formatted for people, e.g. `212ms`, `0.05%`, `3`.
    pub observed_text: String,
    /// Whether the threshold holds.
    pub passed: bool,
    /// One sentence for people, e.g. `p99(refresh) = 312ms, expected < 250ms`.
    pub message: String,
}

/// Why a threshold expression was refused. Every message names the expression, what is wrong,
/// and shows a correct example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error("empty threshold; write one like `p99(refresh) < 250ms`")]
    Empty,
    #[error(
        "threshold `{expr}`: no comparison operator; use one of < <= == >= >, e.g. `p99(refresh) < 250ms`"
    )]
    MissingOperator { expr: String },
    #[error(
        "threshold `{expr}`: `{found}` is not an operator; write `{fix}` (operators: < <= == >= >)"
    )]
    BadOperator {
        expr: String,
        found: String,
        fix: String,
    },
    #[error(
        "threshold `{expr}`: only one comparison per threshold; write two entries instead, e.g. `p99(api) > 1ms` and `p99(api) < 250ms`"
    )]
    TwoOperators { expr: String },
    #[error(
        "threshold `{expr}`: unknown statistic `{stat}`; use one of p50 p75 p90 p95 p99 p999 p9999 min max mean stdev count, e.g. `p99({arg}) < 250ms`"
    )]
    UnknownStat {
        expr: String,
        stat: String,
        arg: String,
    },
    #[error("threshold `{expr}`: unknown histogram `{name}`{}; histograms: {}", did_you_mean(.suggestion), names::HISTOGRAMS.join(", "))]
    UnknownHistogram {
        expr: String,
        name: String,
        suggestion: Option<String>,
    },
    #[error("threshold `{expr}`: unknown metric `{name}`{}; use a counter (e.g. spurious_logouts, status.api.200, errors.timeout), a derived value (refresh_amplification, error_rate, errors), `p99(<histogram>)` or `rate(<op>)`", did_you_mean(.suggestion))]
    UnknownMetric {
        expr: String,
        name: String,
        suggestion: Option<String>,
    },
    #[error(
        "threshold `{expr}`: `{text}` is not a number; e.g. `error_rate < 0.1%` or `p99(refresh) < 250ms`"
    )]
    BadNumber { expr: String, text: String },
    #[error(
        "threshold `{expr}`: unknown unit `{unit}`; use us, ms or s for latencies, % for ratios, /s for rates"
    )]
    UnknownUnit { expr: String, unit: String },
    #[error(
        "threshold `{expr}`: `{metric}` is a latency, give a unit: e.g. `{metric} {op} {number}ms`"
    )]
    MissingUnit {
        expr: String,
        metric: String,
        op: String,
        number: String,
    },
    #[error(
        "threshold `{expr}`: unit `{unit}` does not fit `{metric}`, which is {what}; e.g. `{example}`"
    )]
    UnitMismatch {
        expr: String,
        unit: String,
        metric: String,
        what: String,
        example: String,
    },
    #[error("threshold `{expr}`: {detail}; e.g. `p99(refresh) < 250ms`")]
    Syntax { expr: String, detail: String },
}

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// Parses one threshold expression.
pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err(ThresholdError::Empty);
    }
    let e = || expr.to_string();
    let (lhs, op, rhs) = split_op(expr)?;
    let metric = parse_metric(expr, lhs.trim())?;
    let (number, unit) = split_unit(rhs.trim());
    if number.is_empty() && unit.is_empty() {
        return Err(ThresholdError::Syntax {
            expr: e(),
            detail: format!("no limit after `{}`", op.as_str()),
        });
    }
    let value = parse_number(number).ok_or_else(|| ThresholdError::BadNumber {
        expr: e(),
        text: rhs.trim().to_string(),
    })?;
    let kind = metric.kind();
    let metric_text = lhs.trim().to_string();
    let mismatch = |what: &str, example: String| ThresholdError::UnitMismatch {
        expr: e(),
        unit: unit.to_string(),
        metric: metric_text.clone(),
        what: what.to_string(),
        example,
    };
    let (limit, percent) = match (kind, unit) {
        (Kind::Latency, "us" | "µs") => (value, false),
        (Kind::Latency, "ms") => (value * 1e3, false),
        (Kind::Latency, "s") => (value * 1e6, false),
        (Kind::Latency, "") if value == 0.0 => (0.0, false),
        (Kind::Latency, "") => {
            return Err(ThresholdError::MissingUnit {
                expr: e(),
                metric: metric_text,
                op: op.as_str().to_string(),
                number: number.to_string(),
            });
        }
        (Kind::Latency, "%") => {
            return Err(mismatch(
                "a latency",
                format!("{metric_text} {} 250ms", op.as_str()),
            ));
        }
        (Kind::Ratio, "") => (value, false),
        (Kind::Ratio, "%") => (value / 100.0, true),
        (Kind::Ratio, "us" | "µs" | "ms" | "s" | "/s" | "/m") => {
            return Err(mismatch(
                "a ratio",
                format!("{metric_text} {} 0.1%", op.as_str()),
            ));
        }
        (Kind::Count, "") => (value, false),
        (Kind::Count, "%" | "us" | "µs" | "ms" | "s" | "/s" | "/m") => {
            return Err(mismatch(
                "a count",
                format!(
                    "{metric_text} {} 0 (for a share of requests use error_rate < 0.1%)",
                    op.as_str()
                ),
            ));
        }
        (Kind::Rate, "" | "/s") => (value, false),
        (Kind::Rate, "/m") => (value / 60.0, false),
        (Kind::Rate, "%" | "us" | "µs" | "ms" | "s") => {
            return Err(mismatch(
                "a rate per second",
                format!("{metric_text} {} 1000/s", op.as_str()),
            ));
        }
        (_, other) => {
            return Err(ThresholdError::UnknownUnit {
                expr: e(),
                unit: other.to_string(),
            });
        }
    };
    Ok(Threshold {
        expr: expr.to_string(),
        metric,
        op,
        limit,
        percent,
    })
}

fn split_op(expr: &str) -> Result<(&str, Op, &str), ThresholdError> {
    let e = || expr.to_string();
    let bytes = expr.as_bytes();
    let Some(pos) = bytes
        .iter()
        .position(|b| matches!(b, b'<' | b'>' | b'=' | b'!'))
    else {
        return Err(ThresholdError::MissingOperator { expr: e() });
    };
    let two = expr.get(pos..pos + 2).unwrap_or("");
    let (op, len) = match two {
        "<=" => (Ok(Op::Le), 2),
        ">=" => (Ok(Op::Ge), 2),
        "==" => (Ok(Op::Eq), 2),
        "=<" => (Err("<="), 2),
        "=>" => (Err(">="), 2),
        "!=" => (Err("< or >"), 2),
        _ => match bytes[pos] {
            b'<' => (Ok(Op::Lt), 1),
            b'>' => (Ok(Op::Gt), 1),
            b'=' => (Err("=="), 1),
            _ => (Err("< or >"), 1),
        },
    };
    let op = op.map_err(|fix| ThresholdError::BadOperator {
        expr: e(),
        found: expr[pos..pos + len].to_string(),
        fix: fix.to_string(),
    })?;
    let rhs = &expr[pos + len..];
    if rhs.contains(['<', '>', '=', '!']) {
        return Err(ThresholdError::TwoOperators { expr: e() });
    }
    if expr[..pos].trim().is_empty() {
        return Err(ThresholdError::Syntax {
            expr: e(),
            detail: format!("nothing before `{}`", op.as_str()),
        });
    }
    Ok((&expr[..pos], op, rhs))
}

fn parse_metric(expr: &str, lhs: &str) -> Result<Metric, ThresholdError> {
    let e = || expr.to_string();
    if let Some(open) = lhs.find('(') {
        let func = lhs[..open].trim().to_ascii_lowercase();
        let Some(inner) = lhs[open + 1..].strip_suffix(')') else {
            return Err(ThresholdError::Syntax {
                expr: e(),
                detail: format!("`{lhs}` lacks a closing parenthesis"),
            });
        };
        let arg = inner.trim();
        if arg.is_empty() || !is_ident(arg) {
            return Err(ThresholdError::Syntax {
                expr: e(),
                detail: format!("`{arg}` is not a metric name inside `{func}(...)`"),
            });
        }
        if func == "rate" {
            if names::HISTOGRAMS.contains(&arg) || names::is_counter(arg) {
                return Ok(Metric::Rate {
                    name: arg.to_string(),
                });
            }
            let mut all: Vec<&str> = names::HISTOGRAMS.to_vec();
            all.extend_from_slice(names::COUNTERS);
            return Err(ThresholdError::UnknownMetric {
                expr: e(),
                name: arg.to_string(),
                suggestion: suggest(arg, &all),
            });
        }
        let Some(stat) = STATS.iter().find(|(n, _)| *n == func).map(|(_, s)| *s) else {
            return Err(ThresholdError::UnknownStat {
                expr: e(),
                stat: func,
                arg: arg.to_string(),
            });
        };
        if !names::HISTOGRAMS.contains(&arg) {
            return Err(ThresholdError::UnknownHistogram {
                expr: e(),
                name: arg.to_string(),
                suggestion: suggest(arg, names::HISTOGRAMS),
            });
        }
        return Ok(Metric::Histogram {
            stat,
            histogram: arg.to_string(),
        });
    }
    if lhs.contains(')') || !is_ident(lhs) {
        return Err(ThresholdError::Syntax {
            expr: e(),
            detail: format!("`{lhs}` is not a metric"),
        });
    }
    if names::DERIVED.contains(&lhs) || names::is_counter(lhs) {
        return Ok(Metric::Value {
            name: lhs.to_string(),
        });
    }
    if STATS.iter().any(|(n, _)| *n == lhs) {
        return Err(ThresholdError::Syntax {
            expr: e(),
            detail: format!("`{lhs}` needs a histogram, e.g. `{lhs}(refresh)`"),
        });
    }
    let mut all: Vec<&str> = names::COUNTERS.to_vec();
    all.extend_from_slice(names::DERIVED);
    Err(ThresholdError::UnknownMetric {
        expr: e(),
        name: lhs.to_string(),
        suggestion: suggest(lhs, &all),
    })
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// Splits `250ms` into (`250`, `ms`); also `250 ms`.
fn split_unit(rhs: &str) -> (&str, &str) {
    let end = rhs
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == '-' || c == '+'))
        .unwrap_or(rhs.len());
    (rhs[..end].trim(), rhs[end..].trim())
}

fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty()
        || cleaned.starts_with('-')
        || !cleaned.chars().any(|c| c.is_ascii_digit())
        || cleaned.matches('.').count() > 1
    {
        return None;
    }
    cleaned
        .trim_start_matches('+')
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// The closest candidate within a small edit distance.
fn suggest(name: &str, candidates: &[&str]) -> Option<String> {
    let max = (name.len() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (levenshtein(name, c), *c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl Metric {
    /// The kind of quantity.
    pub fn kind(&self) -> Kind {
        match self {
            Metric::Histogram {
                stat: Stat::Count, ..
            } => Kind::Count,
            Metric::Histogram { .. } => Kind::Latency,
            Metric::Rate { .. } => Kind::Rate,
            Metric::Value { name }
                if name == names::DERIVED_REFRESH_AMPLIFICATION
                    || name == names::DERIVED_ERROR_RATE =>
            {
                Kind::Ratio
            }
            Metric::Value { .. } => Kind::Count,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl Threshold {
    /// Formats a value of this threshold's metric for people.
    fn show(&self, v: f64) -> String {
        match self.metric.kind() {
            Kind::Latency => format::micros(v),
            Kind::Count => {
                if v.fract() == 0.0 && v >= 0.0 {
                    format::count(v as u64)
                } else {
                    format::sig3(v)
                }
            }
            Kind::Ratio if self.percent => format::percent(v),
            Kind::Ratio => format::ratio(v),
            Kind::Rate => format::rate(v),
        }
    }

    /// The left-hand side as written, e.g. `p99(refresh)`.
    fn lhs(&self) -> &str {
        self.expr
            .find(['<', '>', '='])
            .map_or(self.expr.as_str(), |i| self.expr[..i].trim())
    }

    /// Evaluates the threshold against a report.
    pub fn evaluate(&self, report: &Report) -> ThresholdResult {
        let lhs = self.lhs().to_string();
        let limit = format!("{} {}", self.op.as_str(), self.show(self.limit));
        let observed: Result<f64, String> = match &self.metric {
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
                other => Ok(report.counter(other) as f64),
            },
        };
        match observed {
            Ok(v) => {
                let passed = self.op.holds(v, self.limit);
                let text = self.show(v);
                let message = if passed {
                    format!("{lhs} = {text} ({limit})")
                } else {
                    format!("{lhs} = {text}, expected {limit}")
                };
                ThresholdResult {
                    expr: self.expr.clone(),
                    observed: Some(v),
                    observed_text: text,
                    passed,
                    message,
                }
            }
            Err(message) => ThresholdResult {
                expr: self.expr.clone(),
                observed: None,
                observed_text: "-".to_string(),
                passed: false,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(expr: &str) -> String {
        parse(expr).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_design_examples() {
        let t = parse("p99(refresh) < 250ms").unwrap();
        assert_eq!(
            t.metric,
            Metric::Histogram {
                stat: Stat::Quantile(9_900),
                histogram: "refresh".into()
            }
        );
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.limit, 250_000.0);

        let t = parse("error_rate < 0.1%").unwrap();
        assert!((t.limit - 0.001).abs() < 1e-12);
        assert!(t.percent);

        let t = parse("spurious_logouts == 0").unwrap();
        assert_eq!(t.op, Op::Eq);
        assert_eq!(
            t.metric,
            Metric::Value {
                name: "spurious_logouts".into()
            }
        );

        let t = parse("refresh_amplification <= 1.0").unwrap();
        assert_eq!((t.op, t.limit), (Op::Le, 1.0));

        let t = parse("rate(api) >= 2000/s").unwrap();
        assert_eq!(t.metric, Metric::Rate { name: "api".into() });
        assert_eq!(t.limit, 2000.0);

        assert_eq!(parse("max(wake_skew)<2ms").unwrap().limit, 2_000.0);
        assert_eq!(
            parse("p999( kick_latency ) > 1.5 s").unwrap().limit,
            1_500_000.0
        );
        assert_eq!(parse("mean(api) < 900us").unwrap().limit, 900.0);
        assert_eq!(parse("status.api.500 == 0").unwrap().limit, 0.0);
        assert_eq!(parse("ws_close.4409 >= 5_000").unwrap().limit, 5000.0);
        assert_eq!(
            parse("count(refresh) > 0").unwrap().metric.kind(),
            Kind::Count
        );
        assert_eq!(parse("rate(requests) > 60/m").unwrap().limit, 1.0);
    }

    #[test]
    fn errors_say_what_and_how() {
        assert!(err("").contains("p99(refresh) < 250ms"));
        assert!(err("p99(refresh) 250ms").contains("no comparison operator"));
        let m = err("spurious_logouts = 0");
        assert!(
            m.contains("`=` is not an operator") && m.contains("`==`"),
            "{m}"
        );
        assert!(err("p99(refresh) =< 250ms").contains("`<=`"));
        let m = err("p98(refresh) < 250ms");
        assert!(
            m.contains("unknown statistic `p98`") && m.contains("p99(refresh)"),
            "{m}"
        );
        let m = err("p99(refesh) < 250ms");
        assert!(m.contains("did you mean `refresh`"), "{m}");
        let m = err("spurious_logout == 0");
        assert!(m.contains("did you mean `spurious_logouts`"), "{m}");
        let m = err("p99(refresh) < 250");
        assert!(m.contains("is a latency") && m.contains("250ms"), "{m}");
        let m = err("error_rate < 5ms");
        assert!(m.contains("ratio") && m.contains("0.1%"), "{m}");
        let m = err("spurious_logouts < 1%");
        assert!(m.contains("a count"), "{m}");
        let m = err("p99(refresh) < 250 mins");
        assert!(m.contains("unknown unit `mins`"), "{m}");
        assert!(err("p99(refresh) < fast").contains("not a number"));
        assert!(err("p99(refresh) < -5ms").contains("not a number"));
        assert!(err("p99(refresh) < 1.2.3ms").contains("not a number"));
        assert!(err("1ms < p99(api) < 5ms").contains("one comparison"));
        assert!(err("p99(refresh < 250ms").contains("closing parenthesis"));
        assert!(err("p99 < 250ms").contains("p99(refresh)"));
        assert!(err("< 5").contains("nothing before"));
        assert!(err("p99(api) <").contains("no limit"));
        assert!(err("rate(bogus) > 5").contains("unknown metric `bogus`"));
    }

    #[test]
    fn operators_compare_with_tolerance() {
        assert!(Op::Eq.holds(0.1 + 0.2, 0.3));
        assert!(Op::Le.holds(1.0, 1.0));
        assert!(!Op::Lt.holds(1.0, 1.0));
        assert!(Op::Gt.holds(2.0, 1.0));
        assert!(Op::Ge.holds(1.0, 1.0));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("relogin", names::COUNTERS).as_deref(),
            Some("relogins")
        );
        assert_eq!(suggest("zzzzzzzz", names::COUNTERS), None);
    }
}
