//! The threshold grammar (`expect:` in a scenario, DESIGN §3): an expression such as
//! `p99(refresh) < 250ms` parsed into a [`Threshold`] — what is measured, the operator and the
//! limit in base units. Evaluating a threshold against a run is the report's job.
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
//!            | "* clients" | clients       counts: the limit is that many per client of the run
//!                                          (`push_registrations == 2 * clients`), so the
//!                                          threshold holds whatever `--clients` says
//! ```
//!
//! The metric names come from the caller as a [`Vocabulary`] (the metrics module owns them), so a
//! threshold on a name that can never exist (`spurious_logout == 0`) is refused with a suggestion
//! instead of silently comparing an absent counter.

use std::fmt;

use super::did_you_mean;

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

    /// Whether `observed op limit` holds, with a relative tolerance of 1e-9 for equality (so
    /// `0.1 + 0.2 == 0.3`).
    pub fn holds(self, observed: f64, limit: f64) -> bool {
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
    /// `failure_rate(<op>)`: the failures of one operation per request of it, or with `*` of
    /// each operation, held to the limit on its own (the worst one is compared).
    OpFailureRate {
        /// Which operations.
        ops: OpSelection,
    },
}

/// The operations of `failure_rate(...)`.
#[derive(Debug, Clone, PartialEq)]
pub enum OpSelection {
    /// `failure_rate(login)`.
    One(String),
    /// `failure_rate(*)`: every operation but those the scenario holds to a limit of their own
    /// (`except`, filled in when the thresholds are evaluated together).
    Every {
        /// Operations with a `failure_rate(<op>)` threshold of their own.
        except: Vec<String>,
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
    /// The kind of quantity measured (decides units and formatting).
    pub kind: Kind,
    /// The limit is per client (`2 * clients`): `limit` is the factor, and the report multiplies
    /// it by the run's clients.
    pub per_client: bool,
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
    #[error("threshold `{expr}`: unknown histogram `{name}`{}; histograms: {known}", hint(.suggestion))]
    UnknownHistogram {
        expr: String,
        name: String,
        suggestion: Option<String>,
        known: String,
    },
    #[error("threshold `{expr}`: unknown metric `{name}`{}; use a counter (e.g. spurious_logouts, status.api.200, errors.timeout), a derived value (refresh_amplification, error_rate, errors), `p99(<histogram>)` or `rate(<op>)`", hint(.suggestion))]
    UnknownMetric {
        expr: String,
        name: String,
        suggestion: Option<String>,
    },
    #[error("threshold `{expr}`: no counter `{name}` can exist: {detail}")]
    UnknownMember {
        expr: String,
        name: String,
        detail: String,
    },
    #[error("threshold `{expr}`: unknown operation `{name}`{}; use `failure_rate(*)` for each operation, or one of: {known}", hint(.suggestion))]
    UnknownOp {
        expr: String,
        name: String,
        suggestion: Option<String>,
        known: String,
    },
    #[error(
        "threshold `{expr}`: `{text}` is not a number; e.g. `error_rate < 0.1%` or `p99(refresh) < 250ms`"
    )]
    BadNumber { expr: String, text: String },
    #[error(
        "threshold `{expr}`: unknown unit `{unit}`; use us, ms or s for latencies, % for ratios, /s for rates, `N * clients` for a count per client"
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
    #[error("threshold `{expr}`: {detail}; write `{example}`")]
    ShareOverWhole {
        expr: String,
        detail: String,
        example: String,
    },
}

/// The fix line for a threshold that is not specific: the grammar by example.
const GENERIC_FIX: &str = "write METRIC OP VALUE, e.g. `p99(refresh) < 250ms`, `spurious_logouts == 0`, `error_rate < 0.1%`, `refresh_amplification <= 1.0`";

impl ThresholdError {
    /// The correction for this expression: the expression rewritten where the error knows how
    /// (a name it recognised under a typo, a unit, an operator), else the grammar by example.
    pub fn fix(&self) -> String {
        let rewrite =
            |expr: &str, from: &str, to: &str| format!("write `{}`", expr.replacen(from, to, 1));
        match self {
            ThresholdError::UnknownMetric {
                expr,
                name,
                suggestion: Some(s),
            } => rewrite(expr, name, s),
            ThresholdError::UnknownHistogram {
                expr,
                name,
                suggestion: Some(s),
                ..
            }
            | ThresholdError::UnknownOp {
                expr,
                name,
                suggestion: Some(s),
                ..
            } => rewrite(expr, &format!("({name})"), &format!("({s})")),
            ThresholdError::UnknownHistogram { known, .. } => {
                format!("use one of the histograms: {known}")
            }
            ThresholdError::UnknownOp { known, .. } => {
                format!("use `failure_rate(*)` or one of the operations: {known}")
            }
            ThresholdError::BadOperator {
                expr, found, fix, ..
            } => rewrite(expr, found, fix),
            ThresholdError::UnknownStat { expr, stat, .. } => rewrite(expr, stat, "p99"),
            ThresholdError::MissingUnit {
                metric, op, number, ..
            } => format!("write `{metric} {op} {number}ms`"),
            ThresholdError::UnknownMember { name, detail, .. } => {
                format!("correct `{name}`: {detail}")
            }
            ThresholdError::UnitMismatch { example, .. }
            | ThresholdError::ShareOverWhole { example, .. } => format!("write `{example}`"),
            _ => GENERIC_FIX.to_string(),
        }
    }
}

fn hint(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// The metric names a threshold may use.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    /// Histogram names (`stat(histogram)`, `rate(histogram)`).
    pub histograms: &'static [&'static str],
    /// Fixed counter names.
    pub counters: &'static [&'static str],
    /// Counter families with a dynamic last part (`status.`, `errors.`).
    pub counter_prefixes: &'static [&'static str],
    /// Values derived from counters and histograms (`error_rate`).
    pub derived: &'static [&'static str],
    /// The derived values that are ratios (`%` allowed); every other value is a count.
    pub ratios: &'static [&'static str],
    /// Operation names (`failure_rate(login)`).
    pub ops: &'static [&'static str],
    /// Counter families whose name parts after the prefix come from fixed sets
    /// (`unnoticed.<cause>`, `failures.<op>.<class>`, `status.<op>.<code>`).
    pub closed_families: &'static [Family],
}

/// A counter family whose name, after its prefix, is exactly `parts.len()` dot-separated parts,
/// each from a fixed set: a threshold on any other name of the family can never see a count.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The prefix, with its dot (`failures.`).
    pub prefix: &'static str,
    /// The parts after it, in order.
    pub parts: &'static [Part],
}

/// The values one part of a [`Family`] name takes.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// One of these names.
    Names(&'static [&'static str]),
    /// A number in `lo..=hi` (an HTTP status, a close code).
    Number(u16, u16),
    /// A number in `lo..=hi`, or one of these names.
    NumberOr(u16, u16, &'static [&'static str]),
}

impl Part {
    fn admits(self, part: &str) -> bool {
        let number = |lo: u16, hi: u16| {
            part.parse::<u16>()
                .is_ok_and(|n| (lo..=hi).contains(&n) && n.to_string() == part)
        };
        match self {
            Part::Names(names) => names.contains(&part),
            Part::Number(lo, hi) => number(lo, hi),
            Part::NumberOr(lo, hi, names) => number(lo, hi) || names.contains(&part),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Part::Names(names) | Part::NumberOr(_, _, names) => names,
            Part::Number(..) => &[],
        }
    }

    /// What the part must be, for people.
    fn describe(self) -> String {
        match self {
            Part::Names(names) => format!("one of {}", names.join(", ")),
            Part::Number(lo, hi) => format!("a number from {lo} to {hi}"),
            Part::NumberOr(lo, hi, names) => {
                format!("a number from {lo} to {hi} or one of {}", names.join(", "))
            }
        }
    }
}

/// Why a name of a closed family is not one of its members.
struct BadMember {
    /// The corrected name, when every wrong part is a plausible typo.
    suggestion: Option<String>,
    /// What went wrong, for people.
    detail: String,
}

impl Vocabulary {
    /// Whether `name` is a counter: a fixed one or a member of a dynamic family.
    pub fn is_counter(&self, name: &str) -> bool {
        self.counters.contains(&name)
            || self
                .counter_prefixes
                .iter()
                .any(|p| name.len() > p.len() && name.starts_with(p))
    }

    /// For a name in a closed family that is not one of its members: the name corrected where
    /// each wrong part is a plausible typo, and what is wrong (`unnoticed.kiked` →
    /// `unnoticed.kicked`; `status.api.2000`: "`2000` is not a number from 100 to 599").
    fn unknown_member(&self, name: &str) -> Option<BadMember> {
        let family = self
            .closed_families
            .iter()
            .find(|f| name.starts_with(f.prefix))?;
        let written: Vec<&str> = name[family.prefix.len()..].split('.').collect();
        if written.len() != family.parts.len() {
            let shape: Vec<String> = family
                .parts
                .iter()
                .map(|p| format!("<{}>", p.describe()))
                .collect();
            return Some(BadMember {
                suggestion: None,
                detail: format!(
                    "`{name}` has {} part(s) after `{}`, the family has {}: {}{}",
                    written.len(),
                    family.prefix,
                    family.parts.len(),
                    family.prefix,
                    shape.join(".")
                ),
            });
        }
        let mut corrected = Vec::with_capacity(written.len());
        let mut problems = Vec::new();
        let mut all_typos = true;
        for (part, kind) in written.iter().zip(family.parts) {
            if kind.admits(part) {
                corrected.push(part.to_string());
                continue;
            }
            problems.push(format!("`{part}` is not {}", kind.describe()));
            match did_you_mean(part, kind.names().iter().copied()) {
                Some(s) => corrected.push(s),
                None => {
                    all_typos = false;
                    corrected.push(part.to_string());
                }
            }
        }
        (!problems.is_empty()).then(|| BadMember {
            suggestion: all_typos.then(|| format!("{}{}", family.prefix, corrected.join("."))),
            detail: problems.join("; "),
        })
    }

    fn is_histogram(&self, name: &str) -> bool {
        self.histograms.contains(&name)
    }
}

impl Threshold {
    /// Parses one threshold expression against the metric names of `vocab`.
    pub fn parse(expr: &str, vocab: &Vocabulary) -> Result<Threshold, ThresholdError> {
        parse(expr, vocab)
    }
}

fn parse(expr: &str, vocab: &Vocabulary) -> Result<Threshold, ThresholdError> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err(ThresholdError::Empty);
    }
    let e = || expr.to_string();
    let (lhs, op, rhs) = split_op(expr)?;
    let metric = parse_metric(expr, lhs.trim(), vocab)?;
    let (number, unit) = split_unit(rhs.trim());
    if number.is_empty() && unit.is_empty() {
        return Err(ThresholdError::Syntax {
            expr: e(),
            detail: format!("no limit after `{}`", op.as_str()),
        });
    }
    let per_client = unit.trim_start_matches(['*', '×']).trim() == "clients";
    let value = if per_client && number.is_empty() {
        1.0
    } else {
        parse_number(number).ok_or_else(|| ThresholdError::BadNumber {
            expr: e(),
            text: rhs.trim().to_string(),
        })?
    };
    let kind = metric.kind(vocab);
    let metric_text = lhs.trim().to_string();
    let mismatch = |what: &str, example: String| ThresholdError::UnitMismatch {
        expr: e(),
        unit: unit.to_string(),
        metric: metric_text.clone(),
        what: what.to_string(),
        example,
    };
    let (limit, percent) = match (kind, unit) {
        (Kind::Count, _) if per_client => (value, false),
        (_, _) if per_client => {
            return Err(mismatch(
                "not a count (`clients` scales counts only)",
                "push_registrations == 2 * clients".to_string(),
            ));
        }
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
        (Kind::Ratio, "") if metric.is_share() && value >= 1.0 => {
            return Err(ThresholdError::ShareOverWhole {
                expr: e(),
                detail: format!(
                    "a bare number is a fraction of the requests, so `{number}` allows {}",
                    if value == 1.0 {
                        "all of them"
                    } else {
                        "more than all of them"
                    }
                ),
                example: format!("{metric_text} {} {number}%", op.as_str()),
            });
        }
        (Kind::Ratio, "%") if metric.is_share() && value > 100.0 => {
            return Err(ThresholdError::ShareOverWhole {
                expr: e(),
                detail: "a share is at most 100%, so this limit can never fail (`<= 100%` switches a default off)".to_string(),
                example: format!("{metric_text} {} 1%", op.as_str()),
            });
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
                "a count (a share of requests is `error_rate` or `failure_rate`, e.g. `failure_rate < 0.1%`)",
                format!("{metric_text} {} 0", op.as_str()),
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
        kind,
        per_client,
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

fn parse_metric(expr: &str, lhs: &str, vocab: &Vocabulary) -> Result<Metric, ThresholdError> {
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
        if func == "failure_rate" {
            return parse_op_selection(expr, arg, vocab);
        }
        if arg.is_empty() || !is_ident(arg) {
            return Err(ThresholdError::Syntax {
                expr: e(),
                detail: format!("`{arg}` is not a metric name inside `{func}(...)`"),
            });
        }
        if func == "rate" {
            if vocab.is_histogram(arg) || vocab.is_counter(arg) {
                return Ok(Metric::Rate {
                    name: arg.to_string(),
                });
            }
            let all = vocab.histograms.iter().chain(vocab.counters);
            return Err(ThresholdError::UnknownMetric {
                expr: e(),
                name: arg.to_string(),
                suggestion: did_you_mean(arg, all.copied()),
            });
        }
        let Some(stat) = STATS.iter().find(|(n, _)| *n == func).map(|(_, s)| *s) else {
            return Err(ThresholdError::UnknownStat {
                expr: e(),
                stat: func,
                arg: arg.to_string(),
            });
        };
        if !vocab.is_histogram(arg) {
            return Err(ThresholdError::UnknownHistogram {
                expr: e(),
                name: arg.to_string(),
                suggestion: did_you_mean(arg, vocab.histograms.iter().copied()),
                known: vocab.histograms.join(", "),
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
    if let Some(bad) = vocab.unknown_member(lhs) {
        return Err(match bad.suggestion {
            suggestion @ Some(_) => ThresholdError::UnknownMetric {
                expr: e(),
                name: lhs.to_string(),
                suggestion,
            },
            None => ThresholdError::UnknownMember {
                expr: e(),
                name: lhs.to_string(),
                detail: bad.detail,
            },
        });
    }
    if vocab.derived.contains(&lhs) || vocab.is_counter(lhs) {
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
    let all = vocab.counters.iter().chain(vocab.derived);
    Err(ThresholdError::UnknownMetric {
        expr: e(),
        name: lhs.to_string(),
        suggestion: did_you_mean(lhs, all.copied()),
    })
}

/// The argument of `failure_rate(...)`: `*` or an operation name.
fn parse_op_selection(expr: &str, arg: &str, vocab: &Vocabulary) -> Result<Metric, ThresholdError> {
    let ops = if arg == "*" {
        OpSelection::Every { except: Vec::new() }
    } else if vocab.ops.contains(&arg) {
        OpSelection::One(arg.to_string())
    } else {
        return Err(ThresholdError::UnknownOp {
            expr: expr.to_string(),
            name: arg.to_string(),
            suggestion: did_you_mean(arg, vocab.ops.iter().copied()),
            known: vocab.ops.join(", "),
        });
    };
    Ok(Metric::OpFailureRate { ops })
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

impl Metric {
    /// The kind of quantity, given which value names are ratios.
    pub fn kind(&self, vocab: &Vocabulary) -> Kind {
        match self {
            Metric::Histogram {
                stat: Stat::Count, ..
            } => Kind::Count,
            Metric::Histogram { .. } => Kind::Latency,
            Metric::Rate { .. } => Kind::Rate,
            Metric::Value { name } if vocab.ratios.contains(&name.as_str()) => Kind::Ratio,
            Metric::Value { .. } => Kind::Count,
            Metric::OpFailureRate { .. } => Kind::Ratio,
        }
    }
}

impl Metric {
    /// Whether the metric is a share of something, between 0 and 1 (`error_rate`,
    /// `failure_rate`, `failure_rate(<op>)`, `channel_failure_rate`), unlike a ratio that may
    /// exceed 1 (`refresh_amplification`).
    pub fn is_share(&self) -> bool {
        match self {
            Metric::OpFailureRate { .. } => true,
            Metric::Value { name } => name.ends_with("_rate"),
            _ => false,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl Threshold {
    /// The left-hand side as written, e.g. `p99(refresh)`.
    pub fn lhs(&self) -> &str {
        self.expr
            .find(['<', '>', '='])
            .map_or(self.expr.as_str(), |i| self.expr[..i].trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few of the names the metrics module defines.
    const VOCAB: Vocabulary = Vocabulary {
        histograms: &[
            "login",
            "refresh",
            "api",
            "kick_latency",
            "wake_skew",
            "recovery",
        ],
        counters: &[
            "requests",
            "logins",
            "relogins",
            "spurious_logouts",
            "stale_ws_messages",
        ],
        counter_prefixes: &["status.", "errors.", "ws_close.", "unnoticed."],
        derived: &["refresh_amplification", "error_rate", "errors"],
        ratios: &["refresh_amplification", "error_rate"],
        ops: &["login", "refresh", "api"],
        closed_families: &[
            Family {
                prefix: "status.",
                parts: &[
                    Part::Names(&["login", "refresh", "api"]),
                    Part::Number(100, 599),
                ],
            },
            Family {
                prefix: "unnoticed.",
                parts: &[Part::Names(&["kicked"])],
            },
        ],
    };

    fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
        Threshold::parse(expr, &VOCAB)
    }

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
        assert_eq!(parse("count(refresh) > 0").unwrap().kind, Kind::Count);
        assert_eq!(parse("error_rate < 1%").unwrap().kind, Kind::Ratio);
        assert_eq!(parse("rate(requests) > 60/m").unwrap().limit, 1.0);
    }

    #[test]
    fn failure_rate_takes_an_operation_or_every_one() {
        let t = parse("failure_rate(login) < 5%").unwrap();
        assert_eq!(
            t.metric,
            Metric::OpFailureRate {
                ops: OpSelection::One("login".into())
            }
        );
        assert_eq!((t.kind, t.percent), (Kind::Ratio, true));
        assert!((t.limit - 0.05).abs() < 1e-12);
        let t = parse("failure_rate( * ) <= 0.01").unwrap();
        assert_eq!(
            t.metric,
            Metric::OpFailureRate {
                ops: OpSelection::Every { except: vec![] }
            }
        );
        let m = err("failure_rate(logn) < 1%");
        assert!(
            m.contains("unknown operation `logn`")
                && m.contains("did you mean `login`")
                && m.contains("failure_rate(*)"),
            "{m}"
        );
        assert!(err("failure_rate(api) < 5ms").contains("ratio"));
    }

    #[test]
    fn a_member_of_a_closed_family_must_exist() {
        let m = err("unnoticed.kiked == 0");
        assert!(
            m.contains("unknown metric `unnoticed.kiked`")
                && m.contains("did you mean `unnoticed.kicked`"),
            "{m}"
        );
        let m = err("status.refesh.200 > 0");
        assert!(m.contains("did you mean `status.refresh.200`"), "{m}");
        assert!(parse("status.api.500 == 0").is_ok());
        assert!(parse("unnoticed.kicked == 0").is_ok());
        // Families with members the target decides stay open.
        assert!(parse("ws_close.4409 > 0").is_ok());
    }

    #[test]
    fn a_share_limit_that_can_never_fail_is_refused() {
        let m = err("error_rate < 1");
        assert!(
            m.contains("allows all of them") && m.contains("write `error_rate < 1%`"),
            "{m}"
        );
        let m = err("failure_rate(login) < 101%");
        assert!(m.contains("at most 100%") && m.contains("<= 100%"), "{m}");
        // A fraction, 100 % itself, and a ratio that may exceed 1 stay valid.
        assert!(parse("error_rate < 0.01").is_ok());
        assert!(parse("failure_rate(login) <= 100%").is_ok());
        assert!(parse("refresh_amplification <= 1.5").is_ok());
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
    fn the_fix_is_the_expression_corrected() {
        let fix = |expr: &str| Threshold::parse(expr, &VOCAB).unwrap_err().fix();
        assert_eq!(fix("unnoticed.kiked == 0"), "write `unnoticed.kicked == 0`");
        assert_eq!(fix("spurious_logout == 0"), "write `spurious_logouts == 0`");
        assert_eq!(fix("p99(refesh) < 2s"), "write `p99(refresh) < 2s`");
        assert_eq!(
            fix("failure_rate(logn) < 1%"),
            "write `failure_rate(login) < 1%`"
        );
        assert_eq!(fix("failure_rate(*) < 1"), "write `failure_rate(*) < 1%`");
        assert_eq!(fix("error_rate < 101%"), "write `error_rate < 1%`");
        assert_eq!(fix("spurious_logouts = 0"), "write `spurious_logouts == 0`");
        assert_eq!(fix("p98(api) < 1s"), "write `p99(api) < 1s`");
        assert_eq!(fix("p99(api) < 250"), "write `p99(api) < 250ms`");
        assert_eq!(fix("error_rate < 5ms"), "write `error_rate < 0.1%`");
        // Nothing to go on: the grammar by example.
        assert_eq!(fix("zzzz == 0"), GENERIC_FIX);
        assert!(fix("p99(zzzz) < 1s").starts_with("use one of the histograms: "));
    }

    #[test]
    fn a_count_limit_may_be_per_client() {
        let t = parse("relogins == 2 * clients").unwrap();
        assert!(t.per_client);
        assert_eq!((t.op, t.limit, t.kind), (Op::Eq, 2.0, Kind::Count));
        for expr in [
            "relogins >= clients",
            "relogins >= 1 * clients",
            "relogins >= 1×clients",
        ] {
            let t = parse(expr).unwrap();
            assert!(t.per_client && t.limit == 1.0, "{expr}");
        }
        assert!(!parse("relogins == 2").unwrap().per_client);
        let m = err("p99(refresh) < 2 * clients");
        assert!(m.contains("counts only"), "{m}");
        assert!(m.contains("2 * clients"), "{m}");
        assert!(err("refresh_amplification <= clients").contains("counts only"));
        assert!(err("relogins == two * clients").contains("not a number"));
        assert!(err("relogins == 2 * client").contains("`N * clients` for a count per client"));
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
    fn unknown_histograms_list_the_known_ones() {
        let m = err("p99(refesh) < 250ms");
        assert!(m.contains("histograms: login, refresh, api"), "{m}");
        assert_eq!(parse("p99(api) < 1ms").unwrap().lhs(), "p99(api)");
    }
}
