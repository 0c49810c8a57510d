//! The timeline charts of the HTML pages: which timeline quantity is drawn how, and on which axis.
//!
//! Each quantity has its own chart and y scale, so a small one is never squashed under a big one:
//! requests per second; refreshes per second; failures per second, in failure red over a shaded
//! area; requests in flight (the queue building and draining); p50 and p99 latency per interval
//! for each operation; the share of clients recovered since a synchronized start. The charts of
//! one report share their x extent, so a spike lines up across them. `report.html` stacks them
//! for one run ([`report_charts`]); `compare` overlays one quantity of several runs ([`plot`]).

use super::format;
use super::model::Report;
use super::svg::{self, Chart, Line, Mark, Tone, XScale};
use crate::metrics::{Timeline, names};

/// Most points per line; longer timelines are bucketed, keeping each bucket's peak.
pub const MAX_POINTS: usize = 900;

/// A quantity of the timeline, as a function of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plot<'a> {
    /// Events of a series per second.
    Rate(&'a str),
    /// Requests in flight at the end of each interval.
    InFlight,
    /// Quantile `q` of operation `op`'s latency per interval, in ms.
    Latency(&'a str, f64),
    /// Share of the run's clients recovered since the latest synchronized start, in %.
    Recovered,
}

/// The points of `plot` for report `r` (x = seconds since the timeline's start), `None` when the
/// report has no such data.
pub fn plot(r: &Report, plot: Plot<'_>) -> Option<Vec<(f64, f64)>> {
    let t = &r.timeline;
    let values: Vec<Option<f64>> = match plot {
        Plot::Rate(series) => t.rate(series)?.into_iter().map(Some).collect(),
        Plot::InFlight => t.in_flight()?.into_iter().map(|v| Some(v as f64)).collect(),
        Plot::Latency(op, q) => t
            .latency_quantile(op, q)?
            .into_iter()
            .map(|v| v.map(|us| us as f64 / 1000.0))
            .collect(),
        Plot::Recovered => recovered(r)?,
    };
    Some(downsample(t, &values))
}

/// The right end of the x axis for `r`'s timeline charts (seconds).
pub fn x_extent(r: &Report) -> f64 {
    let t = &r.timeline;
    let marks = marks(r).into_iter().map(|m| m.x);
    marks.fold(t.at_s(t.buckets, t.start_ms), f64::max)
}

/// Phase boundaries as chart marks.
pub fn marks(r: &Report) -> Vec<Mark> {
    r.phases
        .iter()
        .map(|p| Mark {
            x: ((p.at.timestamp_millis() - r.timeline.start_ms) as f64 / 1000.0).max(0.0),
            label: p.name.clone(),
        })
        .collect()
}

/// The stacked timeline charts of one report, in reading order (none without a timeline).
pub fn report_charts(r: &Report) -> Vec<String> {
    let t = &r.timeline;
    if t.buckets == 0 {
        return Vec::new();
    }
    let x_to = Some(x_extent(r));
    let marks = marks(r);
    let chart = |title: String, y_label: &str, lines: Vec<Line>| {
        svg::render(&Chart {
            title,
            y_label: y_label.into(),
            x: XScale::Seconds,
            lines,
            marks: marks.clone(),
            width: svg::WIDE,
            height: svg::SHORT,
            x_to,
        })
    };
    let line = |label: &str, p: Plot<'_>, tone: Tone| {
        plot(r, p).map(|points| Line {
            label: label.to_string(),
            points,
            tone,
        })
    };
    let rates = |list: &[&str], tone: Tone| -> Vec<Line> {
        list.iter()
            .filter(|s| t.series.contains_key(**s))
            .filter_map(|s| line(s, Plot::Rate(s), tone))
            .collect()
    };
    let mut out = Vec::new();
    let per = format!("per second ({} intervals)", format::interval(t.bucket_ms));

    let requests = rates(
        &[names::SERIES_REQUESTS, names::SERIES_LOGINS],
        Tone::Normal,
    );
    if !requests.is_empty() {
        out.push(chart("Requests per second".into(), &per, requests));
    }
    let refreshes = rates(
        &[names::SERIES_REFRESHES, names::SERIES_RELOGINS],
        Tone::Normal,
    );
    if !refreshes.is_empty() {
        out.push(chart(
            "Refreshes per second (own scale)".into(),
            &per,
            refreshes,
        ));
    }
    let failures = rates(
        &[names::SERIES_FAILURES, names::SERIES_ERRORS],
        Tone::Failure,
    );
    if !failures.is_empty() {
        let total = t.total(names::SERIES_FAILURES) + t.total(names::SERIES_ERRORS);
        let title = if total == 0 {
            "Failures per second: none in this run".to_string()
        } else {
            format!(
                "Failures per second: {} failures, {} transport errors",
                format::count(t.total(names::SERIES_FAILURES)),
                format::count(t.total(names::SERIES_ERRORS))
            )
        };
        out.push(chart(title, &per, failures));
    }
    if let Some(l) = line("in flight", Plot::InFlight, Tone::Normal) {
        let peak = l.points.iter().map(|p| p.1).fold(0.0, f64::max);
        out.push(chart(
            format!(
                "Requests in flight (sent, not yet answered): peak {}",
                format::count(peak as u64)
            ),
            "requests",
            vec![l],
        ));
    }
    for op in names::TIMELINE_LATENCIES {
        let lines: Vec<Line> = [("p99", 0.99), ("p50", 0.5)]
            .into_iter()
            .filter_map(|(label, q)| {
                line(
                    &format!("{label}({op})"),
                    Plot::Latency(op, q),
                    Tone::Normal,
                )
            })
            .filter(|l| !l.points.is_empty())
            .collect();
        if !lines.is_empty() {
            out.push(chart(
                format!("{op} latency per interval: p50 and p99"),
                "latency (ms)",
                lines,
            ));
        }
    }
    if let Some(l) = line("recovered", Plot::Recovered, Tone::Normal) {
        out.push(chart(
            format!(
                "Clients recovered since the synchronized start (% of {}): first successful call",
                format::count(u64::from(r.run.clients))
            ),
            "% of clients",
            vec![l],
        ));
    }
    let known = [
        names::SERIES_REQUESTS,
        names::SERIES_LOGINS,
        names::SERIES_REFRESHES,
        names::SERIES_RELOGINS,
        names::SERIES_FAILURES,
        names::SERIES_ERRORS,
        names::SERIES_SENT,
        names::SERIES_DONE,
        names::SERIES_RECOVERED,
    ];
    let other: Vec<&str> = t
        .series
        .keys()
        .map(String::as_str)
        .filter(|s| !known.contains(s))
        .collect();
    let other = rates(&other, Tone::Normal);
    if !other.is_empty() {
        out.push(chart("Other events per second".into(), &per, other));
    }
    let gauges: Vec<Line> = gauge_order(t)
        .into_iter()
        .filter(|name| t.gauges[name].iter().any(|v| *v != 0))
        .map(|name| {
            let values: Vec<Option<f64>> =
                t.gauges[&name].iter().map(|v| Some(*v as f64)).collect();
            Line {
                label: name,
                points: downsample(t, &values),
                tone: Tone::Normal,
            }
        })
        .collect();
    if !gauges.is_empty() {
        out.push(chart(
            "Open sockets and active clients (end of each interval)".into(),
            "count",
            gauges,
        ));
    }
    out
}

/// Gauges in a meaningful order: the known ones first, then any other.
fn gauge_order(t: &Timeline) -> Vec<String> {
    let known = [names::GAUGE_OPEN_SOCKETS, names::GAUGE_ACTIVE_CLIENTS];
    let mut out: Vec<String> = known
        .iter()
        .filter(|k| t.gauges.contains_key(**k))
        .map(|k| k.to_string())
        .collect();
    for k in t.gauges.keys() {
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    out
}

/// Cumulative share (%) of the run's clients recovered, restarting at every `sync_expiry` mark.
fn recovered(r: &Report) -> Option<Vec<Option<f64>>> {
    let t = &r.timeline;
    let v = t.series.get(names::SERIES_RECOVERED)?;
    if r.run.clients == 0 {
        return None;
    }
    let restarts: Vec<usize> = r
        .phases
        .iter()
        .filter(|p| p.name == "sync_expiry")
        .filter_map(|p| {
            let ms = p.at.timestamp_millis() - t.start_ms;
            usize::try_from(ms / t.bucket_ms as i64).ok()
        })
        .collect();
    let clients = f64::from(r.run.clients);
    let mut sum = 0u64;
    Some(
        v.iter()
            .enumerate()
            .map(|(i, n)| {
                if restarts.contains(&i) {
                    sum = 0;
                }
                sum = sum.saturating_add(*n);
                Some((sum as f64 / clients * 100.0).min(100.0))
            })
            .collect(),
    )
}

/// One point per interval at its middle, or, past [`MAX_POINTS`], per group of intervals holding
/// the group's peak (so a storm stays visible). A group without a value gets a NaN point, which
/// breaks the line there (no line drawn across a stretch without samples).
fn downsample(t: &Timeline, values: &[Option<f64>]) -> Vec<(f64, f64)> {
    let group = values.len().div_ceil(MAX_POINTS).max(1);
    let mut out: Vec<(f64, f64)> = values
        .chunks(group)
        .enumerate()
        .map(|(k, c)| {
            let peak = c.iter().flatten().copied().reduce(f64::max);
            let mid = t.at_s(k * group, t.start_ms) + t.bucket_s() * group as f64 / 2.0;
            (mid, peak.unwrap_or(f64::NAN))
        })
        .collect();
    // No leading or trailing gaps: the line starts and ends where the data does.
    while out.last().is_some_and(|p| p.1.is_nan()) {
        out.pop();
    }
    let first = out.iter().position(|p| !p.1.is_nan()).unwrap_or(out.len());
    out.drain(..first);
    out
}

/// How many intervals each point of a line stands for (1 up to [`MAX_POINTS`] intervals).
pub fn group_of(t: &Timeline) -> usize {
    t.buckets.div_ceil(MAX_POINTS).max(1)
}
