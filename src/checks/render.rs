//! Text renderings of the catalog and of a run: the terminal table grouped by family, `--list`,
//! and the README's markdown catalog table (generated from the same metadata).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::catalog;
use super::meta::{CheckMeta, FAMILIES, Level};
use super::outcome::Status;
use super::runner::{CheckOutcome, ConformanceRun};
use crate::report::FailOn;
use crate::report::terminal::{BOLD, FAILED, PASSED, paint};

/// Evidence lines shown per finding on the terminal (the full evidence is in report.json).
const EVIDENCE_LINES: usize = 6;

/// Secondary text (skip reasons, informational assertions).
const DIM: Style = Style::new().dimmed();

const fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(anstyle::Color::Ansi(color)))
}

fn status_style(s: Status) -> Style {
    match s {
        Status::Pass => fg(AnsiColor::Green),
        Status::Fail => FAILED,
        Status::Warn => fg(AnsiColor::Yellow),
        Status::Info => fg(AnsiColor::Cyan),
        Status::Skip => DIM,
        Status::Error => BOLD.fg_color(Some(anstyle::Color::Ansi(AnsiColor::Magenta))),
    }
}

fn badge(s: Status, color: bool) -> String {
    paint(&format!("{:<5}", s.name()), status_style(s), color)
}

fn ms(d: std::time::Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// The terminal table: results grouped by family, findings with their assertions and evidence,
/// then the summary and the verdict.
pub fn render_terminal(run: &ConformanceRun, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "authbench check — {} (profile {}) — {} checks{}",
        run.target,
        run.profile,
        run.results.len(),
        if run.strict { ", --strict" } else { "" }
    );
    for fam in FAMILIES {
        let rows: Vec<&CheckOutcome> = run
            .results
            .iter()
            .filter(|r| r.meta.family_prefix() == fam.prefix)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            paint(&format!("{}  {}", fam.prefix, fam.title), BOLD, color)
        );
        for r in rows {
            row(&mut out, r, color);
        }
    }
    let _ = writeln!(out);
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|s| format!("{} {}", run.count(*s), s.name()))
        .collect();
    let _ = writeln!(
        out,
        "{} checks in {}: {}",
        run.results.len(),
        ms(run.elapsed),
        counts.join(" · ")
    );
    for r in run.results.iter().filter(|r| r.expected.is_some()) {
        let reason = r.expected.as_ref().map(|e| e.reason.as_str()).unwrap_or("");
        if r.unexpected_pass {
            let _ = writeln!(
                out,
                "unexpected pass: {} passes but is listed as an expected failure ({reason}); remove the entry",
                r.meta.id
            );
        } else {
            let _ = writeln!(
                out,
                "expected failure: {} {} ({reason})",
                r.meta.id, r.status
            );
        }
    }
    let failing = run.failing();
    if failing.is_empty() {
        let _ = writeln!(out, "{}", paint("result: PASSED", PASSED, color));
    } else {
        let ids: Vec<String> = failing
            .iter()
            .map(|r| format!("{} {}", r.meta.id, r.status))
            .collect();
        let _ = writeln!(
            out,
            "{} ({}{})",
            paint("result: FAILED", FAILED, color),
            ids.join(", "),
            if run.fail_on == FailOn::Warn {
                "; --fail-on warn"
            } else {
                ""
            }
        );
    }
    out
}

fn row(out: &mut String, r: &CheckOutcome, color: bool) {
    let _ = writeln!(
        out,
        "  {}  {}  {:<66} {:>7}",
        badge(r.status, color),
        r.meta.id,
        super::evidence::cut(r.meta.title, 66),
        ms(r.duration)
    );
    let indent = "               ";
    match r.status {
        Status::Pass => {}
        Status::Skip | Status::Info => {
            let _ = writeln!(out, "{indent}{}", paint(&r.message, DIM, color));
        }
        Status::Error => {
            let _ = writeln!(out, "{indent}{}", r.message);
            evidence_lines(out, r, indent);
        }
        Status::Fail | Status::Warn => {
            for a in &r.assertions {
                let (mark, style) = match a.status {
                    Status::Fail | Status::Warn | Status::Error => ("✗", status_style(a.status)),
                    Status::Info => ("·", DIM),
                    _ => continue,
                };
                let req = if a.requirement.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", a.requirement)
                };
                let _ = writeln!(
                    out,
                    "{indent}{} {}{req}",
                    paint(mark, style, color),
                    a.message
                );
            }
            evidence_lines(out, r, indent);
        }
    }
}

fn evidence_lines(out: &mut String, r: &CheckOutcome, indent: &str) {
    if r.evidence.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}evidence:");
    let skip = r.evidence.len().saturating_sub(EVIDENCE_LINES);
    if skip > 0 {
        let _ = writeln!(out, "{indent}  … {skip} earlier exchanges in report.json");
    }
    for e in &r.evidence[skip..] {
        let _ = writeln!(out, "{indent}  {}", e.one_line());
    }
}

fn needs_text(m: &CheckMeta) -> String {
    m.needs
        .iter()
        .map(|n| n.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn level_text(l: Level) -> &'static str {
    match l {
        Level::Must => "MUST → FAIL",
        Level::Should => "SHOULD → WARN",
        Level::Report => "report → INFO",
    }
}

/// `authbench check --list`: the catalog with levels, sources, destructiveness and needs.
pub fn render_list() -> String {
    let all: Vec<&CheckMeta> = catalog::ALL.iter().map(|c| &c.meta).collect();
    render_list_of(&all)
}

/// `authbench check --list --only/--skip`: like [`render_list`], for `checks` only (families
/// without one of them are left out).
pub fn render_list_of(checks: &[&CheckMeta]) -> String {
    let mut out = String::new();
    for fam in FAMILIES {
        let members: Vec<&CheckMeta> = checks
            .iter()
            .copied()
            .filter(|m| m.family_prefix() == fam.prefix)
            .collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}  {}", fam.prefix, fam.title);
        for m in members {
            let _ = writeln!(
                out,
                "  {}  {:<6}  {}",
                m.id,
                m.level.catalog_name(),
                m.title
            );
            let mut extra = vec![m.requirements.join(", ")];
            if m.destructive {
                extra.push("destructive".into());
            }
            if !m.needs.is_empty() {
                extra.push(format!("needs: {}", needs_text(m)));
            }
            let _ = writeln!(out, "                 {}", extra.join(" · "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Levels: MUST → FAIL, SHOULD → WARN, report → INFO. Destructive checks end sessions of their test users."
    );
    out
}

/// A requirement id as a markdown link to its section when it is an RFC (`RFC6749-5.2`).
pub fn requirement_link(id: &str) -> String {
    if let Some(rest) = id.strip_prefix("RFC")
        && let Some((num, section)) = rest.split_once('-')
        && num.chars().all(|c| c.is_ascii_digit())
    {
        return format!(
            "[RFC {num} §{section}](https://www.rfc-editor.org/rfc/rfc{num}#section-{section})"
        );
    }
    if let Some(section) = id.strip_prefix("ASVS5-") {
        return format!("ASVS 5.0 {section}");
    }
    if id == "AUTHBENCH-SLIDING" {
        return "authbench renewal-header convention".into();
    }
    id.to_string()
}

/// The README's catalog table, generated from the metadata.
pub fn markdown_catalog() -> String {
    let mut out = String::from(
        "| Id | Check | Level | Sources | Destructive | Needs |\n|---|---|---|---|---|---|\n",
    );
    for c in catalog::ALL {
        let m = &c.meta;
        let sources: Vec<String> = m.requirements.iter().map(|r| requirement_link(r)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            m.id,
            m.title.replace('|', "\\|"),
            level_text(m.level),
            sources.join(", "),
            if m.destructive { "yes" } else { "" },
            needs_text(m)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_tables() {
        assert_eq!(
            requirement_link("RFC6749-5.2"),
            "[RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)"
        );
        assert_eq!(requirement_link("ASVS5-7.4.1"), "ASVS 5.0 7.4.1");
        assert_eq!(requirement_link("WSTG-SESS-10"), "WSTG-SESS-10");
        let md = markdown_catalog();
        assert_eq!(md.lines().count(), catalog::ALL.len() + 2);
        assert!(md.contains("| RT-07 |"));
        let list = render_list();
        for c in catalog::ALL {
            assert!(list.contains(c.meta.id));
        }
    }
}
