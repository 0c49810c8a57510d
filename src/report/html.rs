//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) rendered
//! from `templates/report.html` with minijinja. Sections: run header and verdict, thresholds, sample failures,
//! latency table and percentile curves, timeline charts with phase boundaries ([`super::charts`]), storm panel,
//! session loss panel ([`super::session_loss`]),
//! counters with status and close codes, conformance with evidence, resolved configuration.

use serde::Serialize;

use super::charts;
use super::conformance::Status;
use super::format;
use super::model::Report;
use super::model::ThresholdResult;
use super::sections::{self, KeyValue};
use super::session_loss;
use super::svg::{self, Chart, Line, XScale};
use crate::metrics::names;

/// The page template (also used as the base look of the compare page).
pub(crate) const STYLE: &str = include_str!("templates/style.css");
const TEMPLATE: &str = include_str!("templates/report.html");

#[derive(Serialize)]
struct Page<'a> {
    style: &'static str,
    generator: String,
    run: RunView,
    verdict: Verdict,
    thresholds: &'a [ThresholdResult],
    failure_samples: Vec<String>,
    latency: Vec<LatencyRow>,
    percentile_charts: Vec<String>,
    timeline_charts: Vec<String>,
    timeline_note: String,
    phases: Vec<PhaseRow>,
    storm: Vec<KeyValue>,
    session_loss: Option<session_loss::SessionLoss>,
    counters: Vec<KeyValue>,
    status_codes: Vec<StatusRow>,
    close_codes: Vec<CloseRow>,
    ws_events: Vec<(String, String)>,
    conformance: Option<ConformanceView>,
    config_json: String,
    /// The load-test sections (thresholds to status codes) are shown: not for a conformance run.
    load: bool,
}

#[derive(Serialize)]
struct RunView {
    name: String,
    description: String,
    scenario: String,
    target: String,
    version: String,
    started: String,
    duration: String,
    clients: String,
    strategy: String,
    shard: String,
    threads: Option<u32>,
    interrupted: bool,
    partial: Option<String>,
    merged_from: Vec<String>,
}

#[derive(Serialize)]
struct Verdict {
    passed: bool,
    text: String,
}

#[derive(Serialize)]
struct LatencyRow {
    name: String,
    count: String,
    p50: String,
    p90: String,
    p99: String,
    p999: String,
    max: String,
    mean: String,
    rate: String,
}

#[derive(Serialize)]
struct PhaseRow {
    name: String,
    at: String,
    offset: String,
    interrupted: bool,
}

#[derive(Serialize)]
struct StatusRow {
    op: String,
    codes: Vec<(String, String, String)>,
}

#[derive(Serialize)]
struct CloseRow {
    code: String,
    meaning: &'static str,
    count: String,
}

#[derive(Serialize)]
struct ConformanceView {
    summary: Vec<(String, usize, String)>,
    strict: bool,
    fail_on: &'static str,
    checks: Vec<CheckView>,
}

#[derive(Serialize)]
struct CheckView {
    status: &'static str,
    class: String,
    id: String,
    title: String,
    family: String,
    level: &'static str,
    requirements: String,
    message: String,
    duration: String,
    expected_failure: bool,
    evidence: Vec<(String, String)>,
}

/// Renders the report page.
pub fn report_html(report: &Report) -> Result<String, minijinja::Error> {
    let page = build(report);
    render(
        TEMPLATE,
        "report.html",
        minijinja::Value::from(minijinja::value::Serde(&page)),
    )
}

pub(crate) fn render(
    source: &str,
    name: &str,
    ctx: minijinja::Value,
) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template(name, source)?;
    env.get_template(name)?.render(ctx)
}

fn build(r: &Report) -> Page<'_> {
    let run = &r.run;
    let (passed, text) = sections::verdict(r);
    Page {
        style: STYLE,
        generator: format!("authbench {}", env!("CARGO_PKG_VERSION")),
        run: RunView {
            name: run.name.clone(),
            description: run.description.clone(),
            scenario: run.scenario_path.clone().unwrap_or_else(|| "-".into()),
            target: or_dash(&run.target),
            version: run.tool_version.clone(),
            started: run
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            duration: format::seconds(run.duration_s),
            clients: match sections::logged_in(r) {
                Some((ever, _)) => format!(
                    "{}{} ({} logged in)",
                    format::count(u64::from(run.clients)),
                    sections::clients_note(r),
                    format::count(ever)
                ),
                None => format!(
                    "{}{}",
                    format::count(u64::from(run.clients)),
                    sections::clients_note(r)
                ),
            },
            strategy: or_dash(&run.strategy),
            shard: run
                .shard
                .map(|s| format!("{} of {}", s.index, s.count))
                .unwrap_or_else(|| "-".into()),
            threads: run.threads,
            interrupted: run.interrupted,
            partial: r.partial_note(),
            merged_from: run.merged_from.clone(),
        },
        verdict: Verdict { passed, text },
        thresholds: &r.thresholds,
        failure_samples: r
            .failure_samples
            .iter()
            .map(sections::failure_line)
            .collect(),
        latency: r
            .ordered_histograms()
            .into_iter()
            .map(|(name, h)| LatencyRow {
                name: name.to_string(),
                count: format::count(h.count),
                p50: format::micros(h.p50 as f64),
                p90: format::micros(h.p90 as f64),
                p99: format::micros(h.p99 as f64),
                p999: format::micros(h.p999 as f64),
                max: format::micros(h.max as f64),
                mean: format::micros(h.mean),
                rate: format::rate(r.derived.rates.get(name).copied().unwrap_or(0.0)),
            })
            .collect(),
        percentile_charts: percentile_charts(r),
        timeline_charts: charts::report_charts(r),
        timeline_note: timeline_note(r),
        phases: r
            .phases
            .iter()
            .map(|p| PhaseRow {
                name: p.name.clone(),
                at: p.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                offset: format::seconds(p.offset_ms as f64 / 1000.0),
                interrupted: p.interrupted,
            })
            .collect(),
        storm: storm(r),
        session_loss: session_loss::session_loss(r),
        counters: sections::key_counters(r),
        status_codes: sections::status_codes(r)
            .into_iter()
            .map(|(op, codes)| {
                let total: u64 = codes.iter().map(|c| c.1).sum();
                StatusRow {
                    op,
                    codes: codes
                        .into_iter()
                        .map(|(c, n)| {
                            let share = format::percent(n as f64 / total.max(1) as f64);
                            (c, format::count(n), share)
                        })
                        .collect(),
                }
            })
            .collect(),
        close_codes: sections::close_codes(r)
            .into_iter()
            .map(|(code, meaning, n)| CloseRow {
                code,
                meaning,
                count: format::count(n),
            })
            .collect(),
        ws_events: r
            .counters_with_prefix(names::PREFIX_WS_EVENTS)
            .map(|(t, n)| (t.to_string(), format::count(n)))
            .collect(),
        conformance: r.conformance.as_ref().map(|c| ConformanceView {
            summary: [
                Status::Pass,
                Status::Fail,
                Status::Warn,
                Status::Skip,
                Status::Info,
                Status::Error,
            ]
            .iter()
            .map(|s| (s.name().to_string(), c.count(*s), s.name().to_lowercase()))
            .collect(),
            strict: c.strict,
            fail_on: c.fail_on.name(),
            checks: c
                .checks
                .iter()
                .map(|k| CheckView {
                    status: k.status.name(),
                    class: k.status.name().to_lowercase(),
                    id: k.id.clone(),
                    title: k.title.clone(),
                    family: k.family.clone(),
                    level: k.level.name(),
                    requirements: k.requirements.join(", "),
                    message: k.message.clone(),
                    duration: format!("{} ms", k.duration_ms),
                    expected_failure: k.expected_failure,
                    evidence: k
                        .evidence
                        .iter()
                        .map(|e| (e.request.clone(), e.response.clone()))
                        .collect(),
                })
                .collect(),
        }),
        config_json: serde_json::to_string_pretty(&run.config).unwrap_or_default(),
        load: r.is_load_run(),
    }
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

fn percentile_charts(r: &Report) -> Vec<String> {
    r.ordered_histograms()
        .into_iter()
        .filter(|(_, h)| h.count > 0)
        .map(|(name, h)| {
            let (points, decades) = svg::percentile_points(&h.histogram);
            svg::render(&Chart {
                title: format!(
                    "{name} — {} samples, p50 {}, p99 {}, max {}",
                    format::count(h.count),
                    format::micros(h.p50 as f64),
                    format::micros(h.p99 as f64),
                    format::micros(h.max as f64)
                ),
                y_label: "latency (ms)".into(),
                x: XScale::Percentile { decades },
                lines: vec![Line {
                    label: name.to_string(),
                    points,
                    ..Line::default()
                }],
                marks: vec![],
                width: svg::NARROW,
                height: svg::TALL,
                x_to: None,
            })
        })
        .collect()
}

fn timeline_note(r: &Report) -> String {
    let t = &r.timeline;
    let mut note = format!(
        "{} intervals of {}",
        format::count(t.buckets as u64),
        format::interval(t.bucket_ms)
    );
    let group = charts::group_of(t);
    if group > 1 {
        note.push_str(&format!("; each point is the busiest of {group} intervals"));
    }
    if t.truncated {
        note.push_str("; the run outlasted what the timeline holds (100 hours), later intervals are not shown");
    }
    note
}

fn storm(r: &Report) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let mut kv = |name: &str, value: String, note: String, bad: bool| {
        out.push(KeyValue {
            name: name.into(),
            value,
            note,
            bad,
        })
    };
    match r.derived.refresh_amplification {
        Some(a) => kv(
            "refresh amplification",
            format::ratio(a),
            format!(
                "{} refresh calls for {} expiries",
                format::count(r.counter(names::REFRESH_CALLS)),
                format::count(r.counter(names::REFRESHES_NEEDED))
            ),
            a > 1.0 + 1e-9,
        ),
        None => kv(
            "refresh amplification",
            "-".into(),
            "no refresh was needed".into(),
            false,
        ),
    }
    let t = &r.timeline;
    if let Some((i, peak)) = t.peak(names::SERIES_REFRESHES) {
        kv(
            "refresh peak",
            format::rate(peak as f64 / t.bucket_s()),
            format!(
                "{} refreshes in the {} from {} on",
                format::count(peak),
                format::interval(t.bucket_ms),
                format::seconds(t.at_s(i, t.start_ms))
            ),
            false,
        );
    }
    if let Some(v) = t.in_flight()
        && let Some((i, peak)) = v
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))
    {
        kv(
            "requests in flight, peak",
            format::count(u64::try_from(*peak).unwrap_or(0)),
            format!(
                "at {} (sent, not yet answered)",
                format::seconds(t.at_s(i + 1, t.start_ms))
            ),
            false,
        );
    }
    for (hist, label, what) in [
        (
            names::RECOVERY,
            "time to recover",
            "storm start → first successful call",
        ),
        (
            names::WAKE_SKEW,
            "wake skew",
            "scheduled → actual wake of synchronized clients",
        ),
        (
            names::SEND_SKEW,
            "send skew",
            "scheduled instant → each client's first request written",
        ),
        (names::REFRESH, "refresh latency", "refresh round trip"),
    ] {
        match r.histograms.get(hist).filter(|h| h.count > 0) {
            Some(h) => kv(
                label,
                format!("p99 {}", format::micros(h.p99 as f64)),
                format!(
                    "{what}: p50 {}, max {}, {} samples",
                    format::micros(h.p50 as f64),
                    format::micros(h.max as f64),
                    format::count(h.count)
                ),
                false,
            ),
            None => kv(
                label,
                "-".into(),
                format!("{what}: not measured in this run"),
                false,
            ),
        }
        if hist == names::RECOVERY && r.counters.contains_key(names::NEVER_RECOVERED) {
            let never = r.counter(names::NEVER_RECOVERED);
            kv(
                "never recovered",
                format::count(never),
                "clients without a successful call after the storm".into(),
                never > 0,
            );
        }
        if hist == names::SEND_SKEW
            && let Some(a) = &r.server_arrivals
        {
            kv(
                "server arrival",
                format!("p99 {}", format::micros(a.p99_us as f64)),
                format!(
                    "sync point → {} reaching the server: first {}, p50 {}, max {}, spread (p99 − first) {}, {} requests",
                    a.op,
                    format::micros(a.first_us as f64),
                    format::micros(a.p50_us as f64),
                    format::micros(a.max_us as f64),
                    format::micros(a.spread_p99_us as f64),
                    format::count(a.count)
                ),
                false,
            );
        }
    }
    for (name, label) in [
        (names::SPURIOUS_LOGOUTS, "spurious logouts"),
        (names::SESSIONS_EXPIRED, "sessions expired"),
        (names::FALSE_LOGOUTS, "false logouts"),
        (names::RELOGINS, "relogins"),
        (names::REUSE_DETECTED, "reuse detected"),
        (names::REFRESH_FORKS, "refresh forks"),
    ] {
        let v = r.counter(name);
        kv(
            label,
            format::count(v),
            String::new(),
            v > 0 && !matches!(name, names::RELOGINS | names::SESSIONS_EXPIRED),
        );
    }
    out
}
