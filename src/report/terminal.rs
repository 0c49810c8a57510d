//! The terminal summary (also written as `summary.txt`, without colour): run header, latency
//! table, counters that matter, status and close codes, sample failures, thresholds (defaults
//! marked), conformance, verdict.

use anstyle::{AnsiColor, Style};
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table, presets};

use super::conformance::Status;
use super::format;
use super::model::{Origin, Report};
use super::sections;
use super::session_loss::{self, SessionLoss};
use crate::metrics::names;

/// Width the tables wrap to (the same on a terminal and in `summary.txt`).
const WIDTH: u16 = 120;

/// Titles.
pub const BOLD: Style = Style::new().bold();
/// A passed verdict.
pub const PASSED: Style = BOLD.fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
/// A failed verdict.
pub const FAILED: Style = BOLD.fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
/// A warning line.
pub const WARNING: Style = BOLD.fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));

/// Renders the summary. `color` adds ANSI colours (the caller decides: tty, `NO_COLOR`).
pub fn terminal_summary(report: &Report, color: bool) -> String {
    let mut out = String::new();
    let r = &report.run;
    let title = format!("authbench · {}", r.name);
    out.push_str(&paint(&title, BOLD, color));
    out.push('\n');
    if !r.description.is_empty() {
        out.push_str(&r.description);
        out.push('\n');
    }

    let mut head = table(color);
    head.load_style(presets::NOTHING);
    let shard = r
        .shard
        .map(|s| format!("{}/{}", s.index, s.count))
        .unwrap_or_else(|| "-".into());
    head.add_row(vec![
        Cell::new("target").add_attribute(Attribute::Dim),
        Cell::new(&r.target),
        Cell::new("started").add_attribute(Attribute::Dim),
        Cell::new(
            r.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    ]);
    if report.is_load_run() {
        head.add_row(vec![
            Cell::new("clients").add_attribute(Attribute::Dim),
            Cell::new(format!(
                "{}{}{} · strategy {}",
                format::count(u64::from(r.clients)),
                sections::clients_note(report),
                sections::logged_in(report)
                    .map(|(ever, _)| format!(" · {} logged in", format::count(ever)))
                    .unwrap_or_default(),
                dash(&r.strategy)
            )),
            Cell::new("duration").add_attribute(Attribute::Dim),
            Cell::new(format!(
                "{} · shard {shard}{} · authbench {}",
                format::seconds(r.duration_s),
                r.threads
                    .map(|n| format!(" · {n} thread{}", if n == 1 { "" } else { "s" }))
                    .unwrap_or_default(),
                r.tool_version
            )),
        ]);
    } else {
        // A conformance run: no clients, no strategy, no shard.
        head.add_row(vec![
            Cell::new("duration").add_attribute(Attribute::Dim),
            Cell::new(format!(
                "{} · authbench {}",
                format::seconds(r.duration_s),
                r.tool_version
            )),
        ]);
    }
    if let Some(p) = &r.scenario_path {
        head.add_row(vec![
            Cell::new("scenario").add_attribute(Attribute::Dim),
            Cell::new(p),
        ]);
    }
    if !r.merged_from.is_empty() {
        head.add_row(vec![
            Cell::new("merged").add_attribute(Attribute::Dim),
            Cell::new(format!("{} reports", r.merged_from.len())),
        ]);
    }
    push_table(&mut out, head);
    if let Some(why) = report.partial_note() {
        out.push_str(&paint(
            &format!("PARTIAL — {why}: this report does not cover the whole run"),
            WARNING,
            color,
        ));
        out.push('\n');
    }

    let hist = report.ordered_histograms();
    if !hist.is_empty() {
        let mut t = table(color);
        t.set_header(header(&[
            "latency", "count", "p50", "p90", "p99", "max", "rate",
        ]));
        for (name, h) in hist {
            let rate = report.derived.rates.get(name).copied().unwrap_or(0.0);
            t.add_row(vec![
                Cell::new(name),
                right(format::count(h.count)),
                right(format::micros(h.p50 as f64)),
                right(format::micros(h.p90 as f64)),
                right(format::micros(h.p99 as f64)),
                right(format::micros(h.max as f64)),
                right(format::rate(rate)),
            ]);
        }
        if let Some(a) = &report.server_arrivals {
            // The server's view next to wake_skew and send_skew: offsets from the same instant.
            t.add_row(vec![
                Cell::new(format!("server arrival ({})", a.op)),
                right(format::count(a.count)),
                right(format::micros(a.p50_us as f64)),
                right("-"),
                right(format::micros(a.p99_us as f64)),
                right(format::micros(a.max_us as f64)),
                right(format!("spread {}", format::micros(a.spread_p99_us as f64))),
            ]);
        }
        push_table(&mut out, t);
    }

    let keys = sections::key_counters(report);
    let codes = sections::status_codes(report);
    let closes = sections::close_codes(report);
    if report.derived.requests > 0 || !report.counters.is_empty() {
        let mut t = table(color);
        t.set_header(header(&["counter", "value", ""]));
        for k in keys {
            let mut v = right(k.value);
            if k.bad && color {
                v = v.fg(Color::Yellow);
            }
            t.add_row(vec![
                Cell::new(k.name),
                v,
                Cell::new(k.note).add_attribute(Attribute::Dim),
            ]);
        }
        for (op, list) in codes {
            let text = list
                .iter()
                .map(|(c, n)| format!("{c}×{}", format::count(*n)))
                .collect::<Vec<_>>()
                .join("  ");
            t.add_row(vec![
                Cell::new(format!("status {op}")),
                Cell::new(text),
                Cell::new(""),
            ]);
        }
        for (code, meaning, n) in closes {
            t.add_row(vec![
                Cell::new(format!("ws_close {code}")),
                right(format::count(n)),
                Cell::new(meaning).add_attribute(Attribute::Dim),
            ]);
        }
        for (ty, n) in report.counters_with_prefix(names::PREFIX_WS_EVENTS) {
            t.add_row(vec![
                Cell::new(format!("ws_events {ty}")),
                right(format::count(n)),
                Cell::new(""),
            ]);
        }
        push_table(&mut out, t);
    }

    if let Some(loss) = session_loss::session_loss(report) {
        push_table(&mut out, session_loss_table(&loss, color));
    }

    if !report.failure_samples.is_empty() {
        out.push_str(&paint("sample failures", BOLD, color));
        out.push('\n');
        for f in &report.failure_samples {
            out.push_str("  ");
            out.push_str(&sections::failure_line(f));
            out.push('\n');
        }
    }

    if !report.thresholds.is_empty() {
        let mut t = table(color);
        t.set_header(header(&["", "threshold", "observed", "result"]));
        for th in &report.thresholds {
            let mark = if th.passed { "✓" } else { "✗" };
            let mut m = Cell::new(mark);
            if color {
                m = m.fg(if th.passed { Color::Green } else { Color::Red });
            }
            let expr = match th.origin {
                Origin::Default => format!("{} (default)", th.expr),
                Origin::Scenario => th.expr.clone(),
            };
            t.add_row(vec![
                m,
                Cell::new(expr),
                right(&th.observed_text),
                Cell::new(&th.message),
            ]);
        }
        push_table(&mut out, t);
    }

    if let Some(c) = &report.conformance {
        let mut t = table(color);
        t.set_header(header(&["status", "check", "level", "title", "observed"]));
        for k in &c.checks {
            let label = if k.expected_failure {
                format!("{} (expected)", k.status.name())
            } else {
                k.status.name().to_string()
            };
            let mut s = Cell::new(label);
            if color {
                s = s.fg(match k.status {
                    Status::Pass => Color::Green,
                    Status::Fail | Status::Error => Color::Red,
                    Status::Warn => Color::Yellow,
                    Status::Skip | Status::Info => Color::Grey,
                });
            }
            t.add_row(vec![
                s,
                Cell::new(&k.id),
                Cell::new(k.level.name()),
                Cell::new(&k.title),
                Cell::new(&k.message),
            ]);
        }
        push_table(&mut out, t);
    }

    let (passed, line) = sections::verdict(report);
    out.push_str(&paint(&line, if passed { PASSED } else { FAILED }, color));
    out.push('\n');
    out
}

/// The "session loss" table: notice latency by cause and path, ghosts, reasons, unnoticed ends.
fn session_loss_table(loss: &SessionLoss, color: bool) -> Table {
    let mut t = table(color);
    t.set_header(header(&[
        "session loss",
        "count",
        "p50",
        "p90",
        "p99",
        "max",
    ]));
    for n in &loss.notices {
        let label = if n.cause == "all" {
            "notice_latency (all)".to_string()
        } else {
            format!("notice_latency {} via {}", n.cause, n.path)
        };
        t.add_row(vec![
            Cell::new(label),
            right(&n.count),
            right(&n.p50),
            right(&n.p90),
            right(&n.p99),
            right(&n.max),
        ]);
    }
    if let Some(g) = &loss.ghost_time {
        t.add_row(vec![
            Cell::new(names::GHOST_TIME),
            right(&g.count),
            right(&g.p50),
            right(&g.p90),
            right(&g.p99),
            right(&g.max),
        ]);
    }
    let mut text_row = |name: &str, value: String, bad: bool| {
        let mut v = Cell::new(value);
        if bad && color {
            v = v.fg(Color::Yellow);
        }
        t.add_row(vec![Cell::new(name), v]);
    };
    text_row("session_ends", session_loss::inline(&loss.ends), false);
    text_row(
        "unnoticed",
        session_loss::inline(&loss.unnoticed),
        loss.unnoticed.iter().any(|u| u.bad),
    );
    text_row(names::GHOST_REQUESTS, loss.ghost_requests.clone(), false);
    text_row("end_reason", session_loss::inline(&loss.reasons), false);
    text_row(
        names::REASON_UNCLEAR,
        loss.reason_unclear.count.clone(),
        loss.reason_unclear.bad,
    );
    t
}

fn table(color: bool) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH);
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

fn header(cols: &[&str]) -> Vec<Cell> {
    cols.iter()
        .map(|c| Cell::new(c).add_attribute(Attribute::Bold))
        .collect()
}

fn right(s: impl ToString) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

fn push_table(out: &mut String, t: Table) {
    out.push_str(&t.to_string());
    out.push('\n');
}

fn dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// `s` in `style` when `color` is on, as is otherwise.
pub fn paint(s: &str, style: Style, color: bool) -> String {
    if color {
        format!("{style}{s}{style:#}")
    } else {
        s.to_string()
    }
}
