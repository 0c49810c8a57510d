//! The "session loss" panel shared by the terminal and `report.html` (issue 17 §1–§2): for every
//! end of a session the scenario caused, how long its client took to notice and by which path, the
//! ghost requests and ghost time, the reasons clients inferred, and the ends never noticed.
//! Definitions: README, "Session loss: notice latency, ghosts, reasons".

use serde::Serialize;

use super::format;
use super::model::Report;
use crate::metrics::names;

/// One `notice_latency.<cause>.<path>` histogram, formatted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeRow {
    pub cause: String,
    pub path: String,
    pub count: String,
    pub p50: String,
    pub p90: String,
    pub p99: String,
    pub max: String,
}

/// One labelled count (`expired` × 12).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    pub name: String,
    pub count: String,
    /// A problem sign (an unnoticed end, an unclear reason).
    pub bad: bool,
}

/// The panel's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionLoss {
    /// `session_ends.<cause>`: ends caused (or announced and found).
    pub ends: Vec<Tally>,
    /// Notice latency per cause and path, then the total (`all`, `all`).
    pub notices: Vec<NoticeRow>,
    /// `unnoticed.<cause>`.
    pub unnoticed: Vec<Tally>,
    /// `ghost_requests`.
    pub ghost_requests: String,
    /// `ghost_time`: count, p50, p99, max (`None`: no client sent a ghost request).
    pub ghost_time: Option<NoticeRow>,
    /// `end_reason.<reason>`.
    pub reasons: Vec<Tally>,
    /// `reason_unclear`.
    pub reason_unclear: Tally,
}

/// The panel, when the run ended or noticed any session (`None` otherwise).
pub fn session_loss(r: &Report) -> Option<SessionLoss> {
    let tallies = |prefix: &str, bad: bool| -> Vec<Tally> {
        r.counters_with_prefix(prefix)
            .map(|(name, n)| Tally {
                name: name.to_string(),
                count: format::count(n),
                bad: bad && n > 0,
            })
            .collect()
    };
    let ends = tallies(names::PREFIX_SESSION_ENDS, false);
    let reasons = tallies(names::PREFIX_END_REASON, false);
    if ends.is_empty() && reasons.is_empty() {
        return None;
    }
    let row = |cause: &str, path: &str, name: &str| {
        r.histograms
            .get(name)
            .filter(|h| h.count > 0)
            .map(|h| NoticeRow {
                cause: cause.to_string(),
                path: path.to_string(),
                count: format::count(h.count),
                p50: format::micros(h.p50 as f64),
                p90: format::micros(h.p90 as f64),
                p99: format::micros(h.p99 as f64),
                max: format::micros(h.max as f64),
            })
    };
    let mut notices: Vec<NoticeRow> = r
        .histograms
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix(names::PREFIX_NOTICE_LATENCY)?;
            let (cause, path) = rest.split_once('.')?;
            row(cause, path, k)
        })
        .collect();
    if notices.len() != 1 {
        notices.extend(row("all", "all", names::NOTICE_LATENCY));
    }
    let unclear = r.counter(names::REASON_UNCLEAR);
    Some(SessionLoss {
        ends,
        notices,
        unnoticed: tallies(names::PREFIX_UNNOTICED, true),
        ghost_requests: format::count(r.counter(names::GHOST_REQUESTS)),
        ghost_time: row("", "", names::GHOST_TIME),
        reasons,
        reason_unclear: Tally {
            name: names::REASON_UNCLEAR.to_string(),
            count: format::count(unclear),
            bad: unclear > 0,
        },
    })
}

/// `a × 3  b × 1` for a list of tallies (`-` when empty).
pub fn inline(list: &[Tally]) -> String {
    if list.is_empty() {
        return "-".to_string();
    }
    list.iter()
        .map(|t| format!("{}×{}", t.name, t.count))
        .collect::<Vec<_>>()
        .join("  ")
}
