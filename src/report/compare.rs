//! `authbench compare`: two or more reports side by side — a terminal table with one column per
//! run and the ratio to the first run, and an HTML page with overlaid percentile curves and
//! timelines. Typical use: one scenario against several targets, or before/after a change.

use std::path::{Path, PathBuf};

use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use super::format;
use super::html::{STYLE, render};
use super::model::{Report, ReportError, per_second};
use super::svg::{self, Chart, Line, XScale};
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

/// One compared metric: its value in each run (None = not measured there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Metric name, e.g. `p99(refresh)`.
    pub metric: String,
    /// Kind of value.
    pub kind: RowKind,
    /// Value per run, in run order.
    pub values: Vec<Option<f64>>,
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

    /// Whether run `i` is clearly worse (+1), clearly better (-1) or about the same (0) as run 0.
    fn direction(&self, i: usize) -> i8 {
        let Some(r) = self.ratio(i) else { return 0 };
        let worse = if self.kind == RowKind::Rate {
            r < 0.9
        } else {
            r > 1.1
        };
        let better = if self.kind == RowKind::Rate {
            r > 1.1
        } else {
            r < 0.9
        };
        if worse {
            1
        } else if better {
            -1
        } else {
            0
        }
    }
}

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
            values: reports.iter().map(|r| f(r)).collect(),
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
            rows.push(row(format!("rate({op})"), RowKind::Rate, &|r| {
                h(r).map(|h| per_second(h.count, r.run.duration_s))
            }));
        }
        rows.push(row(
            names::DERIVED_REFRESH_AMPLIFICATION.into(),
            RowKind::Ratio,
            &|r| r.derived.refresh_amplification,
        ));
        for c in [
            names::REFRESH_CALLS,
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
            names::NEVER_RECOVERED,
            names::CLOSE_CODE_VIOLATIONS,
            names::STALE_WS_MESSAGES,
            names::DROPPED,
        ] {
            if reports.iter().any(|r| r.counters.contains_key(c)) {
                rows.push(row(
                    c.into(),
                    RowKind::Count,
                    &|r| Some(r.counter(c) as f64),
                ));
            }
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
            "#", "run", "scenario", "target", "started", "duration", "clients", "verdict",
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
                if i > 0
                    && let Some(r) = row.ratio(i)
                {
                    text.push_str(&format!(" (×{})", format::ratio(r)));
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
        out.push_str("×N = value divided by the baseline's (run #1); for rates higher is better, for everything else lower is better.\n");
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
                        let ratio = if i == 0 {
                            String::new()
                        } else {
                            row.ratio(i)
                                .map(|r| format!("×{}", format::ratio(r)))
                                .unwrap_or_default()
                        };
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
                })
            })
            .collect()
    }

    fn timeline_charts(&self) -> Vec<String> {
        [
            names::SERIES_REQUESTS,
            names::SERIES_REFRESHES,
            names::SERIES_ERRORS,
        ]
        .iter()
        .filter(|s| self.runs.iter().any(|(_, r)| r.timeline.total(s) > 0))
        .map(|series| {
            let lines = self
                .runs
                .iter()
                .enumerate()
                .filter_map(|(i, (_, r))| {
                    let v = r.timeline.series.get(*series)?;
                    let values: Vec<f64> = v.iter().map(|x| *x as f64).collect();
                    Some(Line {
                        label: self.legend(i),
                        points: svg::downsample(&values, 900).0,
                    })
                })
                .collect();
            svg::render(&Chart {
                title: format!("{series} per second"),
                y_label: "per second".into(),
                x: XScale::Seconds,
                lines,
                marks: vec![],
                width: svg::WIDE,
            })
        })
        .collect()
    }
}

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
