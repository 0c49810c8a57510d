//! The issue 11 §3 counters in the report: `sessions_expired`, `refresh_forks`, `reuse_detected`
//! with the refresh outcomes, `never_recovered` beside the `recovery` histogram, `send_skew` beside
//! `wake_skew` — in report.json, the terminal summary and report.html.

use authbench::metrics::{Recorder, names};
use authbench::report::{Report, RunMeta, terminal_summary, write_all};

fn meta() -> RunMeta {
    RunMeta {
        name: "storm".into(),
        description: String::new(),
        scenario_path: None,
        target: "builtin mock".into(),
        clients: 10,
        strategy: "naive".into(),
        config: serde_json::json!({}),
        interrupted: false,
        shard: None,
        threads: None,
    }
}

#[test]
fn the_new_counters_show_where_their_relatives_do() {
    let rec = Recorder::with_shards(2);
    for i in 0..10usize {
        rec.record(i, names::RECOVERY, 40_000 + i as u64);
        rec.record(i, names::WAKE_SKEW, 300 + i as u64);
        rec.record(i, names::SEND_SKEW, 250_000 + i as u64);
        rec.count(i, names::REQUESTS, 3);
        rec.count(i, names::REFRESH_CALLS, 1);
        rec.count(i, names::REFRESHES_NEEDED, 1);
    }
    rec.count(0, names::RELOGINS, 5);
    rec.count(0, names::SESSIONS_EXPIRED, 4);
    rec.count(0, names::SPURIOUS_LOGOUTS, 1);
    rec.count(0, names::REFRESH_FORKS, 2);
    rec.count(0, names::NEVER_RECOVERED, 3);
    let report = Report::from_run(meta(), rec.snapshot(), &[]);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["counters"]["sessions_expired"], 4);
    assert_eq!(json["counters"]["refresh_forks"], 2);
    assert_eq!(json["counters"]["never_recovered"], 3);
    assert_eq!(json["histograms"]["send_skew"]["count"], 10);

    let text = terminal_summary(&report, false);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().any(|w| w == name))
            .unwrap_or_else(|| panic!("no {name} line in\n{text}"))
            .to_string()
    };
    assert!(line("sessions_expired").contains(" 4 "), "{text}");
    assert!(line("refresh_forks").contains(" 2 "), "{text}");
    assert!(line("never_recovered").contains(" 3 "), "{text}");
    assert!(line("reuse_detected").contains(" 0 "), "{text}");
    assert!(line("send_skew").contains("250"), "{text}");
    // The latency table lists send_skew right after wake_skew.
    let pos = |name: &str| text.find(&format!(" {name} ")).unwrap();
    assert!(pos("wake_skew") < pos("send_skew"));

    let dir = tempfile::tempdir().unwrap();
    write_all(&report, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for label in [
        "never recovered",
        "send skew",
        "sessions expired",
        "refresh forks",
    ] {
        assert!(html.contains(label), "report.html lacks {label}");
    }
    // never_recovered sits right after the recovery histogram's row in the storm panel.
    let (recovery, never, wake) = (
        html.find("time to recover").unwrap(),
        html.find("never recovered").unwrap(),
        html.find("wake skew").unwrap(),
    );
    assert!(recovery < never && never < wake);
}
