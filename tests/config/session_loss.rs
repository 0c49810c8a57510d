//! The issue 17 session-loss metrics in the report: `notice_latency` per cause and path,
//! `ghost_requests`/`ghost_time`, `end_reason.*`, `reason_unclear`, `unnoticed.*` — in report.json,
//! the terminal's "session loss" table and report.html's "Session loss" panel; and no panel when
//! no session ended.

use std::time::{Duration, Instant};

use authbench::client::notice::{EndCause, Notice, NoticePath, Reason, record_unnoticed};
use authbench::metrics::{Recorder, names};
use authbench::report::{Report, RunMeta, terminal_summary, write_all};

fn meta() -> RunMeta {
    RunMeta {
        name: "notice".into(),
        description: String::new(),
        scenario_path: None,
        target: "builtin mock".into(),
        clients: 4,
        strategy: "single-flight".into(),
        config: serde_json::json!({}),
        interrupted: false,
        shard: None,
        threads: None,
    }
}

#[test]
fn the_session_loss_panel_shows_every_figure() {
    let rec = Recorder::with_shards(2);
    let t0 = Instant::now();
    for (i, (path, reason, ghosts)) in [
        (NoticePath::Push, Reason::LoggedOut, 0),
        (NoticePath::Api401, Reason::LoggedOut, 2),
        (NoticePath::Api401, Reason::Unknown, 1),
    ]
    .into_iter()
    .enumerate()
    {
        rec.count(i, &names::session_ends(EndCause::ForceLogout.name()), 1);
        Notice {
            path,
            reason,
            cause: Some((EndCause::ForceLogout, t0)),
            ghosts,
            at: t0 + Duration::from_millis(100 * (i as u64 + 1)),
        }
        .record(&rec, i);
    }
    rec.count(3, &names::session_ends(EndCause::ForceLogout.name()), 1);
    record_unnoticed(&rec, 3, EndCause::ForceLogout, 4);
    rec.count(0, names::REQUESTS, 10);
    let report = Report::from_run(meta(), rec.snapshot(), &[]);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["histograms"]["notice_latency"]["count"], 3);
    assert_eq!(
        json["histograms"]["notice_latency.force_logout.api_401"]["count"],
        2
    );
    assert_eq!(json["histograms"]["ghost_time"]["count"], 2);
    assert_eq!(json["counters"]["ghost_requests"], 7);
    assert_eq!(json["counters"]["reason_unclear"], 1);
    assert_eq!(json["counters"]["unnoticed.force_logout"], 1);
    assert_eq!(json["counters"]["end_reason.logged_out"], 2);
    assert_eq!(json["counters"]["session_ends.force_logout"], 4);

    let text = terminal_summary(&report, false);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} line in\n{text}"))
            .to_string()
    };
    assert!(line("session loss").contains("p99"), "{text}");
    assert!(
        line("notice_latency force_logout via api_401").contains(" 2 "),
        "{text}"
    );
    assert!(
        line("notice_latency force_logout via push").contains(" 1 "),
        "{text}"
    );
    assert!(line("notice_latency (all)").contains(" 3 "), "{text}");
    assert!(line("unnoticed").contains("force_logout×1"), "{text}");
    assert!(line("end_reason").contains("unknown×1"), "{text}");
    assert!(line("│ reason_unclear").contains('1'), "{text}");

    let dir = tempfile::tempdir().unwrap();
    write_all(&report, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("id=\"session-loss\""));
    for label in [
        "api_401",
        "ghost_requests",
        "reason_unclear",
        "logged_out 2",
    ] {
        assert!(html.contains(label), "report.html lacks {label}");
    }
}

#[test]
fn no_session_loss_panel_without_an_end() {
    let rec = Recorder::with_shards(1);
    rec.count(0, names::REQUESTS, 10);
    let report = Report::from_run(meta(), rec.snapshot(), &[]);
    assert!(!terminal_summary(&report, false).contains("session loss"));
    let dir = tempfile::tempdir().unwrap();
    write_all(&report, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(!html.contains("id=\"session-loss\""));
}
