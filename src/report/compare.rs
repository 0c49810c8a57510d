//! `authbench compare`: two or more reports side by side — a terminal table with one column per
//! run and the ratio to the first run, and an HTML page with overlaid percentile curves and
//! timelines. Typical use: one scenario against several targets, or before/after a change.
//!
//! A change is marked better or worse by what the metric means ([`Sense`]): lower latency is
//! better, a higher request rate is better, any rise of a count of things that went wrong is worse
//! (0 → 1 585 spurious logouts is a regression, although no ratio to 0 exists), and more refreshes
//! (per second or in all) are worse only when refresh amplification rose — otherwise they just
//! follow the load. Rows that mean nothing when compared (the rate of `wake_skew` or `recovery`
//! samples, one per client) are left out.

use std::path::{Path, PathBuf};

use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use super::charts::{self, Plot};
use super::format;
use super::html::{STYLE, render};
use super::model::{Report, ReportError, per_second};
use super::svg::{self, Chart, Line, Tone, XScale};
use crate::metrics::names;

const TEMPLATE: &str = include_str!("templates/compare.html");

/// Why reports could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Load(#[from] ReportError),
    #[error(
        "compare needs at least two reports, got {0} (e.g. `authbench compare reports/a reports/b`)"
    )]
    TooFew(usize),
}

/// What a row measures, which decides formatting and which direction is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// µs, lower is better.
    Latency,
    /// Per second, higher is better.
    Rate,
    /// A ratio, lower is better.
    Ratio,
    /// A percentage, lower is better.
    Percent,
    /// A count, lower is better.
    Count,
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sense {
    /// Less is better (latency, errors, ratios).
    Lower,
    /// More is better (throughput).
    Higher,
    /// More is worse, but only in a run whose refresh amplification rose (more refreshes per
    /// second at the same amplification just follow the load).
    WorseWithAmplification,
    /// Neither: shown, never marked.
    Neutral,
}

/// How a run compares with the baseline on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The baseline itself, a missing value, or within 10%.
    Same,
    /// Clearly better by the metric's meaning.
    Better,
    /// Clearly worse by the metric's meaning (a count of failures rising from 0 included).
    Worse,
}

/// One compared metric: its value in each run (None = not measured there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Metric name, e.g. `p99(refresh)`.
    pub metric: String,
    /// Kind of value.
    pub kind: RowKind,
    /// Which way is better.
    pub sense: Sense,
    /// Value per run, in run order.
    pub values: Vec<Option<f64>>,
    /// Each run against the baseline (the first is always [`Change::Same`]).
    pub changes: Vec<Change>,
}

impl Row {
    /// `value / first value` for run `i` (None when either is missing or the first is 0).
    pub fn ratio(&self, i: usize) -> Option<f64> {
        match (
            self.values.first().copied().flatten(),
            self.values.get(i).copied().flatten(),
        ) {
            (Some(a), Some(b)) if a != 0.0 => Some(b / a),
            _ => None,
        }
    }

    fn show(&self, v: Option<f64>) -> String {
        match v {
            None => "-".into(),
            Some(v) => match self.kind {
                RowKind::Latency => format::micros(v),
                RowKind::Rate => format::rate(v),
                RowKind::Ratio => format::ratio(v),
                RowKind::Percent => format::percent(v),
                RowKind::Count => format::count(v as u64),
            },
        }
    }

    /// The ratio text after run `i`'s value: `×2.03`, or `was 0` for a rise from zero.
    fn ratio_text(&self, i: usize) -> String {
        if i == 0 {
            return String::new();
        }
        match (self.ratio(i), self.values[0], self.values[i]) {
            (Some(r), _, _) => format!("×{}", format::ratio(r)),
            (None, Some(a), Some(b)) if a == 0.0 && b != 0.0 => "was 0".into(),
            _ => String::new(),
        }
    }

    /// Run `i` against the baseline; `amplification_rose` says whether run `i`'s refresh
    /// amplification is clearly above the baseline's.
    fn change(&self, i: usize, amplification_rose: bool) -> Change {
        let (Some(a), Some(b)) = (
            self.values.first().copied().flatten(),
            self.values.get(i).copied().flatten(),
        ) else {
            return Change::Same;
        };
        if i == 0 {
            return Change::Same;
        }
        // +1: clearly more, -1: clearly less, 0: within 10% (a rise from 0 is always "more").
        let moved = if a == 0.0 {
            if b > 0.0 { 1 } else { 0 }
        } else if b / a > 1.1 {
            1
        } else if b / a < 0.9 {
            -1
        } else {
            0
        };
        match (self.sense, moved) {
            (_, 0) | (Sense::Neutral, _) => Change::Same,
            (Sense::Lower, 1) | (Sense::Higher, -1) => Change::Worse,
            (Sense::Lower, _) | (Sense::Higher, _) => Change::Better,
            (Sense::WorseWithAmplification, 1) if amplification_rose => Change::Worse,
            (Sense::WorseWithAmplification, _) => Change::Same,
        }
    }

    fn direction(&self, i: usize) -> i8 {
        match self.changes.get(i) {
            Some(Change::Worse) => 1,
            Some(Change::Better) => -1,
            _ => 0,
        }
    }
}

/// Histograms whose rate means nothing to compare: one sample per client (`wake_skew`,
/// `recovery`), per kick or reconnect, the uncorrected twin of `api`, failed operations (their
/// count is in `failures`), and per new TLS connection.
const NO_RATE: &[&str] = &[
    names::WAKE_SKEW,
    names::RECOVERY,
    names::KICK_LATENCY,
    names::RECONNECT,
    names::SSE_KICK_LATENCY,
    names::SSE_RECONNECT,
    names::PUSH_LATENCY,
    names::API_UNCORRECTED,
    names::LOGIN_FAILED,
    names::REFRESH_FAILED,
    names::API_FAILED,
    names::LOGOUT_FAILED,
    names::TAB_LOGOUT_SYNC,
    names::TLS_HANDSHAKE,
];

/// Two or more loaded reports.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// `(label, report)` in the order given; the first is the baseline.
    pub runs: Vec<(String, Report)>,
}

impl Comparison {
    /// Loads reports (files or folders). Refuses fewer than two, or anything that is not a report
    /// of a schema version this build reads.
    pub fn load(paths: &[PathBuf]) -> Result<Self, CompareError> {
        let mut runs = Vec::with_capacity(paths.len());
        for p in paths {
            runs.push((label_of(p), Report::load(p)?));
        }
        Self::new(runs)
    }

    /// Compares already loaded reports.
    pub fn new(mut runs: Vec<(String, Report)>) -> Result<Self, CompareError> {
        if runs.len() < 2 {
            return Err(CompareError::TooFew(runs.len()));
        }
        // Disambiguate equal labels.
        for i in 1..runs.len() {
            let base = runs[i].0.clone();
            let mut n = 2;
            while runs[..i].iter().any(|(l, _)| *l == runs[i].0) {
                runs[i].0 = format!("{base} #{n}");
                n += 1;
            }
        }
        Ok(Comparison { runs })
    }

    /// The compared metrics, in reading order.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let reports: Vec<&Report> = self.runs.iter().map(|(_, r)| r).collect();
        let mut ops: Vec<String> = Vec::new();
        for n in names::HISTOGRAMS {
            if reports.iter().any(|r| r.histograms.contains_key(*n)) {
                ops.push(n.to_string());
            }
        }
        for r in &reports {
            for k in r.histograms.keys() {
                if !ops.contains(k) {
                    ops.push(k.clone());
                }
            }
        }
        let row = |metric: String, kind: RowKind, f: &dyn Fn(&Report) -> Option<f64>| Row {
            metric,
            kind,
            sense: match kind {
                RowKind::Rate => Sense::Higher,
                _ => Sense::Lower,
            },
            values: reports.iter().map(|r| f(r)).collect(),
            changes: Vec::new(),
        };
        let with = |mut r: Row, sense: Sense| {
            r.sense = sense;
            r
        };
        rows.push(row("rate(requests)".into(), RowKind::Rate, &|r| {
            Some(per_second(r.derived.requests, r.run.duration_s))
        }));
        for op in &ops {
            let h = |r: &Report| r.histograms.get(op).filter(|h| h.count > 0).cloned();
            rows.push(row(format!("p50({op})"), RowKind::Latency, &|r| {
                h(r).map(|h| h.p50 as f64)
            }));
            rows.push(row(format!("p99({op})"), RowKind::Latency, &|r| {
                h(r).map(|h| h.p99 as f64)
            }));
            rows.push(row(format!("max({op})"), RowKind::Latency, &|r| {
                h(r).map(|h| h.max as f64)
            }));
            if NO_RATE.contains(&op.as_str()) {
                continue;
            }
            let rate = row(format!("rate({op})"), RowKind::Rate, &|r| {
                h(r).map(|h| per_second(h.count, r.run.duration_s))
            });
            // More logins or refreshes per second is no better: it is the storm. It is worse
            // when the run needed more of them per expiry.
            let sense = match op.as_str() {
                names::REFRESH | names::LOGIN => Sense::WorseWithAmplification,
                _ => Sense::Higher,
            };
            rows.push(with(rate, sense));
        }
        rows.push(row(
            names::DERIVED_REFRESH_AMPLIFICATION.into(),
            RowKind::Ratio,
            &|r| r.derived.refresh_amplification,
        ));
        rows.push(with(
            row(names::REFRESH_CALLS.into(), RowKind::Count, &|r| {
                Some(r.counter(names::REFRESH_CALLS) as f64)
            }),
            Sense::WorseWithAmplification,
        ));
        for c in [
            names::SPURIOUS_LOGOUTS,
            names::SESSIONS_EXPIRED,
            names::FALSE_LOGOUTS,
            names::RELOGINS,
            names::REUSE_DETECTED,
            names::REFRESH_FORKS,
        ] {
            rows.push(row(
                c.into(),
                RowKind::Count,
                &|r| Some(r.counter(c) as f64),
            ));
        }
        for c in [
            names::MISSED_KICKS,
            names::SSE_MISSED_KICKS,
            names::MISSED_PUSHES,
            names::KICK_WITHOUT_CLOSE,
            names::CLOSE_WITHOUT_EVENT,
            names::WS_OPEN_AFTER_EXPIRY,
            names::CHANNELS_NEVER_OPENED,
            names::ZOMBIE_SESSIONS,
            names::LOGOUT_EVERYWHERE_FAILED,
            names::NEVER_RECOVERED,
            names::CLOSE_CODE_VIOLATIONS,
            names::STALE_WS_MESSAGES,
            names::DROPPED,
            names::GHOST_REQUESTS,
            names::REASON_UNCLEAR,
            names::STALE_TAB_REQUESTS,
            names::TAB_LOGOUT_MISSED,
        ] {
            if reports.iter().any(|r| r.counters.contains_key(c)) {
                rows.push(row(
                    c.into(),
                    RowKind::Count,
                    &|r| Some(r.counter(c) as f64),
                ));
            }
        }
        // How a tab got its tokens: more adoptions is the `lock`/`leader` mechanism, neither
        // better nor worse in itself.
        if reports
            .iter()
            .any(|r| r.counters.contains_key(names::TAB_ADOPTIONS))
        {
            rows.push(with(
                row(names::TAB_ADOPTIONS.into(), RowKind::Count, &|r| {
                    Some(r.counter(names::TAB_ADOPTIONS) as f64)
                }),
                Sense::Neutral,
            ));
        }
        type Derived = fn(&Report) -> Option<f64>;
        let derived: [(&str, RowKind, Derived); 4] = [
            (names::DERIVED_ERRORS, RowKind::Count, |r| {
                Some(r.derived.errors as f64)
            }),
            (names::DERIVED_ERROR_RATE, RowKind::Percent, |r| {
                r.derived.error_rate
            }),
            (names::DERIVED_FAILURES, RowKind::Count, |r| {
                Some(r.derived.failures as f64)
            }),
            (names::DERIVED_FAILURE_RATE, RowKind::Percent, |r| {
                r.derived.failure_rate
            }),
        ];
        for (name, kind, value) in derived {
            rows.push(row(name.into(), kind, &value));
        }
        if reports
            .iter()
            .any(|r| r.counters.contains_key(names::NEVER_LOGGED_IN))
        {
            rows.push(row(names::NEVER_LOGGED_IN.into(), RowKind::Count, &|r| {
                Some(r.counter(names::NEVER_LOGGED_IN) as f64)
            }));
        }
        let amplification_rose: Vec<bool> = reports
            .iter()
            .map(|r| {
                match (
                    reports[0].derived.refresh_amplification,
                    r.derived.refresh_amplification,
                ) {
                    (Some(a), Some(b)) => b > a * 1.1,
                    _ => false,
                }
            })
            .collect();
        for r in &mut rows {
            r.changes = (0..r.values.len())
                .map(|i| r.change(i, amplification_rose[i]))
                .collect();
        }
        rows
    }

    /// The terminal table: one column per run, each later run with its ratio to the first.
    pub fn terminal_table(&self, color: bool) -> String {
        let mut out = String::new();
        let mut runs = Table::new();
        runs.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(140);
        style(&mut runs, color);
        runs.set_header(bold(&[
            "#", "run", "scenario", "target", "started", "duration", "clients", "threads",
            "verdict",
        ]));
        for (i, (label, r)) in self.runs.iter().enumerate() {
            runs.add_row(vec![
                Cell::new(i + 1),
                Cell::new(label),
                Cell::new(&r.run.name),
                Cell::new(&r.run.target),
                Cell::new(
                    r.run
                        .started_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
                Cell::new(format::seconds(r.run.duration_s)),
                Cell::new(format::count(u64::from(r.run.clients))),
                Cell::new(threads_text(r)),
                Cell::new(if r.passed() { "PASS" } else { "FAIL" }),
            ]);
        }
        out.push_str(&runs.to_string());
        out.push('\n');

        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(140);
        style(&mut t, color);
        let mut head = vec!["metric".to_string()];
        for i in 0..self.runs.len() {
            head.push(if i == 0 {
                "#1 (baseline)".into()
            } else {
                format!("#{}", i + 1)
            });
        }
        t.set_header(
            head.iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold))
                .collect::<Vec<_>>(),
        );
        for row in self.rows() {
            if row.values.iter().all(Option::is_none) {
                continue;
            }
            let mut cells = vec![Cell::new(&row.metric)];
            for (i, v) in row.values.iter().enumerate() {
                let mut text = row.show(*v);
                let ratio = row.ratio_text(i);
                if !ratio.is_empty() {
                    text.push_str(&format!(" ({ratio})"));
                }
                let mut cell = Cell::new(text).set_alignment(CellAlignment::Right);
                if color && i > 0 {
                    match row.direction(i) {
                        1 => cell = cell.fg(Color::Red),
                        -1 => cell = cell.fg(Color::Green),
                        _ => {}
                    }
                }
                cells.push(cell);
            }
            t.add_row(cells);
        }
        out.push_str(&t.to_string());
        out.push('\n');
        out.push_str(LEGEND);
        out.push('\n');
        out
    }

    /// The comparison page: run list, the table, overlaid percentile curves per operation and
    /// overlaid timelines (x = seconds since each run's start). Self-contained like report.html.
    pub fn html(&self) -> Result<String, minijinja::Error> {
        #[derive(Serialize)]
        struct RunView {
            n: usize,
            label: String,
            name: String,
            target: String,
            started: String,
            duration: String,
            clients: String,
            threads: String,
            passed: bool,
        }
        #[derive(Serialize)]
        struct RowView {
            metric: String,
            cells: Vec<(String, String, &'static str)>,
        }
        #[derive(Serialize)]
        struct Page {
            style: &'static str,
            generator: String,
            runs: Vec<RunView>,
            rows: Vec<RowView>,
            percentile_charts: Vec<String>,
            timeline_charts: Vec<String>,
        }
        let rows = self
            .rows()
            .into_iter()
            .filter(|r| r.values.iter().any(Option::is_some))
            .map(|row| RowView {
                metric: row.metric.clone(),
                cells: (0..row.values.len())
                    .map(|i| {
                        let ratio = row.ratio_text(i);
                        let class = match row.direction(i) {
                            1 => "worse",
                            -1 => "better",
                            _ => "",
                        };
                        (row.show(row.values[i]), ratio, class)
                    })
                    .collect(),
            })
            .collect();
        let page = Page {
            style: STYLE,
            generator: format!("authbench {}", env!("CARGO_PKG_VERSION")),
            runs: self
                .runs
                .iter()
                .enumerate()
                .map(|(i, (label, r))| RunView {
                    n: i + 1,
                    label: label.clone(),
                    name: r.run.name.clone(),
                    target: r.run.target.clone(),
                    started: r
                        .run
                        .started_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    duration: format::seconds(r.run.duration_s),
                    clients: format::count(u64::from(r.run.clients)),
                    threads: threads_text(r),
                    passed: r.passed(),
                })
                .collect(),
            rows,
            percentile_charts: self.percentile_charts(),
            timeline_charts: self.timeline_charts(),
        };
        render(
            TEMPLATE,
            "compare.html",
            minijinja::Value::from(minijinja::value::Serde(&page)),
        )
    }

    fn legend(&self, i: usize) -> String {
        format!("#{} {}", i + 1, self.runs[i].0)
    }

    fn percentile_charts(&self) -> Vec<String> {
        let mut ops: Vec<&str> = Vec::new();
        for n in names::HISTOGRAMS {
            if self
                .runs
                .iter()
                .any(|(_, r)| r.histograms.get(*n).is_some_and(|h| h.count > 0))
            {
                ops.push(n);
            }
        }
        ops.into_iter()
            .map(|op| {
                let mut decades = 2;
                let lines = self
                    .runs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (_, r))| {
                        let h = r.histograms.get(op).filter(|h| h.count > 0)?;
                        let (points, d) = svg::percentile_points(&h.histogram);
                        decades = decades.max(d);
                        Some(Line {
                            label: self.legend(i),
                            points,
                            ..Line::default()
                        })
                    })
                    .collect::<Vec<_>>();
                svg::render(&Chart {
                    title: format!("{op}: latency by percentile"),
                    y_label: "latency (ms)".into(),
                    x: XScale::Percentile { decades },
                    lines,
                    marks: vec![],
                    width: svg::NARROW,
                    height: svg::TALL,
                    x_to: None,
                })
            })
            .collect()
    }

    /// Overlaid timelines, one quantity per chart (see [`charts`]): requests, refreshes and
    /// failures per second, requests in flight, p99 latency per interval, clients recovered.
    fn timeline_charts(&self) -> Vec<String> {
        let mut quantities: Vec<(String, &str, Plot<'_>)> = vec![
            (
                "requests per second".into(),
                "per second",
                Plot::Rate(names::SERIES_REQUESTS),
            ),
            (
                "refreshes per second".into(),
                "per second",
                Plot::Rate(names::SERIES_REFRESHES),
            ),
            (
                "failures per second".into(),
                "per second",
                Plot::Rate(names::SERIES_FAILURES),
            ),
            ("requests in flight".into(), "requests", Plot::InFlight),
        ];
        for op in names::TIMELINE_LATENCIES {
            quantities.push((
                format!("p99({op}) per interval"),
                "latency (ms)",
                Plot::Latency(op, 0.99),
            ));
        }
        quantities.push((
            "clients recovered since the synchronized start".into(),
            "% of clients",
            Plot::Recovered,
        ));
        let x_to = self
            .runs
            .iter()
            .map(|(_, r)| charts::x_extent(r))
            .fold(0.0, f64::max);
        quantities
            .into_iter()
            .filter_map(|(title, y_label, plot)| {
                let lines: Vec<Line> = self
                    .runs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (_, r))| {
                        Some(Line {
                            label: self.legend(i),
                            points: charts::plot(r, plot)?,
                            tone: Tone::Normal,
                        })
                    })
                    .collect();
                if lines.iter().all(|l| l.points.iter().all(|p| p.1 == 0.0)) {
                    return None;
                }
                Some(svg::render(&Chart {
                    title,
                    y_label: y_label.into(),
                    x: XScale::Seconds,
                    lines,
                    marks: vec![],
                    width: svg::WIDE,
                    height: svg::SHORT,
                    x_to: Some(x_to),
                }))
            })
            .collect()
    }
}

/// What the marks of the comparison table mean.
const LEGEND: &str = "×N = value divided by the baseline's (run #1). Red = worse, green = better, by what the metric means: lower latency, errors and failure counts are better (a rise from 0 is a regression), a higher request rate is better, and more refreshes or logins are worse only when refresh_amplification rose.";

fn style(t: &mut Table, color: bool) {
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
}

fn bold(cols: &[&str]) -> Vec<Cell> {
    cols.iter()
        .map(|c| Cell::new(c).add_attribute(Attribute::Bold))
        .collect()
}

/// A run's worker threads for the runs table, `-` for a report that does not say.
fn threads_text(r: &Report) -> String {
    r.run.threads.map_or_else(|| "-".into(), |n| n.to_string())
}

/// A short name for a report path: its folder's name (`reports/storm-20261122-090000/`), or the
/// file stem for a report file not named `report.json`.
fn label_of(p: &Path) -> String {
    let file_name = |q: &Path| q.file_name().map(|s| s.to_string_lossy().into_owned());
    let name = if p.is_dir() {
        file_name(p)
    } else if p.file_name().is_some_and(|n| n == "report.json") {
        p.parent().and_then(file_name)
    } else {
        p.file_stem().map(|s| s.to_string_lossy().into_owned())
    };
    name.filter(|n| !n.is_empty())
        .unwrap_or_else(|| p.display().to_string())
}
