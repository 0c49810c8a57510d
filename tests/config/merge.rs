//! `merge` (exact merge of shard reports) and `compare` (several reports side by side).

use std::path::PathBuf;
use std::time::Duration;

use authbench::config::Threshold;
use authbench::metrics::{PhaseMark, Recorder, Snapshot, Timeline, names};
use authbench::report::{
    CompareError, Comparison, Completeness, MergeError, Report, ReportError, RunMeta, merge,
    merge_paths, merge_with, terminal_summary, threshold, write_all,
};
use chrono::{TimeZone, Utc};

fn meta(name: &str, shard: Option<(u32, u32)>) -> RunMeta {
    RunMeta {
        name: name.into(),
        target: "builtin mock".into(),
        clients: 100,
        strategy: "single-flight".into(),
        shard,
        ..RunMeta::default()
    }
}

/// With a threshold on `spurious_logouts` (the shards count 0, 1 and 2 of them), which replaces
/// the default `spurious_logouts == 0`.
const EXPECT: &[&str] = &[
    "count(api) == 3000",
    "p99(api) < 1s",
    "requests >= 3000",
    "spurious_logouts <= 3",
];

fn expect() -> Vec<String> {
    EXPECT.iter().map(|s| s.to_string()).collect()
}

fn thresholds() -> Vec<Threshold> {
    EXPECT
        .iter()
        .map(|e| threshold::parse(e).unwrap())
        .collect()
}

/// Shard `i` of 3 records its own slice of samples; `all` records every sample.
fn shard_snapshot(i: u64, all: &Recorder) -> Snapshot {
    let r = Recorder::with_shards(4);
    for k in 0..1000u64 {
        // Different distributions per shard so that averaging percentiles would be wrong.
        let v = 100 + (k * 7919 + i * 104_729) % (5_000 * (i + 1) * (i + 1));
        r.record(k as usize, names::API, v);
        all.record(k as usize, names::API, v);
        r.count(k as usize, "requests", 1);
        all.count(k as usize, "requests", 1);
        r.count(
            k as usize,
            &format!("status.api.{}", 200 + (k % 2) * 201),
            1,
        );
    }
    r.count(0, "spurious_logouts", i);
    let mut s = r.snapshot();
    // Put the shards on one wall clock: shard i started i seconds after 09:00:00.
    let start =
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + chrono::Duration::seconds(i as i64);
    s.started_at = start;
    s.elapsed = Duration::from_secs(10);
    let mut t = Timeline::new(start.timestamp_millis(), 1000);
    t.buckets = 3;
    t.series.insert("requests".into(), vec![100, 200, 700]);
    t.gauges.insert("open_sockets".into(), vec![1, 2, 3]);
    s.timeline = t;
    s.phases = vec![
        PhaseMark {
            name: "login".into(),
            at: start,
            offset_ms: 0,
            interrupted: false,
        },
        PhaseMark {
            name: "traffic".into(),
            at: start + chrono::Duration::milliseconds(1500),
            offset_ms: 1500,
            interrupted: false,
        },
    ];
    s
}

fn shards() -> (Vec<(String, Report)>, Recorder) {
    let all = Recorder::with_shards(4);
    let reports = (0..3u64)
        .map(|i| {
            let r = Report::from_run(
                meta("storm", Some((i as u32, 3))),
                shard_snapshot(i, &all),
                &thresholds(),
            );
            (format!("shard-{i}"), r)
        })
        .collect();
    (reports, all)
}

#[test]
fn merge_of_three_shards_equals_one_histogram_of_all_samples() {
    let (inputs, all) = shards();
    // Each shard alone fails `count(api) == 3000`; the merge passes it.
    assert!(inputs.iter().all(|(_, r)| !r.passed()));
    let merged = merge(inputs.clone()).unwrap();
    let one = all.snapshot();
    let h = &merged.histograms["api"];
    let want = &one.histograms["api"];
    assert_eq!(h.histogram, *want);
    assert_eq!(h.count, 3000);
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        assert_eq!(
            h.histogram.value_at_quantile(q),
            want.value_at_quantile(q),
            "q={q}"
        );
    }
    assert_eq!(h.p99, want.value_at_quantile(0.99));
    assert_eq!(h.max, want.max());
    // Averaging the shards' p99 would not give the true p99.
    let avg = inputs
        .iter()
        .map(|(_, r)| r.histograms["api"].p99)
        .sum::<u64>()
        / 3;
    assert_ne!(avg, h.p99);

    assert_eq!(merged.counter("requests"), 3000);
    assert_eq!(merged.counter("spurious_logouts"), 3, "0 + 1 + 2");
    assert_eq!(
        merged.counter("status.api.200") + merged.counter("status.api.401"),
        3000
    );
    assert_eq!(merged.run.clients, 300);
    assert_eq!(merged.run.shard, None);
    assert_eq!(
        merged.run.merged_from,
        vec!["shard-0", "shard-1", "shard-2"]
    );
    // Wall-clock span: 09:00:00 .. 09:00:12 (shard 2 started at +2 s and ran 10 s).
    assert_eq!(
        merged.run.started_at,
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
    );
    assert!((merged.run.duration_s - 12.0).abs() < 1e-9);
    // Timelines aligned on wall-clock seconds: bucket k holds every shard's second at 09:00:0k.
    assert_eq!(
        merged.timeline.series["requests"],
        vec![100, 300, 1000, 900, 700]
    );
    assert_eq!(merged.timeline.gauges["open_sockets"], vec![1, 3, 6, 5, 3]);
    // Phases at their earliest time, once each.
    let phases: Vec<(&str, u64)> = merged
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.offset_ms))
        .collect();
    assert_eq!(phases, vec![("login", 0), ("traffic", 1500)]);
    // Thresholds re-evaluated from the stored expect list.
    assert_eq!(merged.expect, expect());
    assert!(merged.passed(), "{:?}", merged.thresholds);
    let from_expect = merged
        .thresholds
        .iter()
        .filter(|t| t.origin == authbench::report::Origin::Scenario);
    assert_eq!(from_expect.count(), EXPECT.len());
}

#[test]
fn merge_round_trips_through_files() {
    let (inputs, _) = shards();
    let root = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = Vec::new();
    for (label, r) in &inputs {
        let d = root.path().join(label);
        write_all(r, &d).unwrap();
        paths.push(d);
    }
    let merged = merge_paths(&paths, Completeness::Required).unwrap();
    let direct = merge(inputs).unwrap();
    assert_eq!(
        merged.histograms["api"].histogram,
        direct.histograms["api"].histogram
    );
    assert_eq!(merged.counters, direct.counters);
    let out = root.path().join("merged");
    write_all(&merged, &out).unwrap();
    let back = Report::load(&out).unwrap();
    assert_eq!(back.histograms["api"].count, 3000);
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("Merged from 3 reports")
    );
}

#[test]
fn merge_refuses_mismatched_inputs() {
    let (inputs, _) = shards();
    assert!(matches!(merge(vec![]), Err(MergeError::Empty)));

    let mut other = inputs.clone();
    other[1].1.run.name = "soak".into();
    let e = merge(other).unwrap_err();
    assert!(matches!(e, MergeError::Scenario { .. }));
    assert!(e.to_string().contains("`soak`"), "{e}");

    let mut dup = inputs.clone();
    dup[2].1.run.shard = dup[0].1.run.shard;
    let e = merge(dup).unwrap_err();
    assert!(
        matches!(
            e,
            MergeError::DuplicateShard {
                index: 0,
                count: 3,
                ..
            }
        ),
        "{e}"
    );

    let mut count = inputs.clone();
    count[1].1.run.shard = Some(authbench::report::ShardInfo { index: 1, count: 4 });
    assert!(matches!(
        merge(count).unwrap_err(),
        MergeError::ShardCount { .. }
    ));

    let mut mixed = inputs.clone();
    mixed[1].1.run.shard = None;
    assert!(matches!(
        merge(mixed).unwrap_err(),
        MergeError::MixedSharding { .. }
    ));

    // Shards of two runs: another configuration, or another time.
    let mut config = inputs.clone();
    for (_, r) in &mut config {
        r.run.config = serde_json::json!({"clients": 100, "users": {"pattern": "user{n}"}});
    }
    config[2].1.run.config["users"]["pattern"] = "qa{n}".into();
    let e = merge(config).unwrap_err();
    assert!(
        matches!(&e, MergeError::Configuration { key, .. } if key == "users.pattern"),
        "{e}"
    );
    let mut later = inputs.clone();
    later[1].1.run.started_at = later[0].1.run.started_at + chrono::Duration::minutes(6);
    let e = merge(later).unwrap_err();
    assert!(
        matches!(e, MergeError::NotTogether { .. })
            && e.to_string().contains("did not run at the same time"),
        "{e}"
    );
    // A conformance run is no shard.
    let mut check = inputs.clone();
    check[1].1.conformance = Some(Default::default());
    let e = merge(check).unwrap_err();
    assert!(matches!(e, MergeError::Conformance { .. }), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"not\": \"a report\"}").unwrap();
    let e = merge_paths(&[junk], Completeness::Required).unwrap_err();
    assert!(
        matches!(e, MergeError::Load(ReportError::NotAReport { .. })),
        "{e}"
    );
}

#[test]
fn merge_refuses_an_incomplete_set_unless_allowed_and_then_says_it_is_partial() {
    let (inputs, _) = shards();
    // Shards 0 and 2 of 3: shard 1 is missing. Both together still fail `count(api) == 3000`,
    // but a merge of 1/3 and 2/3 used to print PASS for any threshold they met.
    let two: Vec<_> = vec![inputs[0].clone(), inputs[2].clone()];
    let e = merge(two.clone()).unwrap_err();
    assert!(
        matches!(
            e,
            MergeError::Incomplete {
                given: 2,
                count: 3,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("shard 1/3 missing"), "{msg}");
    assert!(msg.contains("--allow-partial"), "{msg}");
    let one = vec![inputs[1].clone()];
    let e = merge(one).unwrap_err();
    assert!(e.to_string().contains("shard 0/3, 2/3 missing"), "{e}");

    let merged = merge_with(two, Completeness::AllowPartial).unwrap();
    assert_eq!(
        merged.run.missing_shards,
        [authbench::report::ShardInfo { index: 1, count: 3 }]
    );
    assert_eq!(merged.histograms["api"].count, 2000);
    let note = merged.partial_note().expect("partial");
    assert!(note.contains("merged without shard 1/3"), "{note}");
    // Visible in report.json, the terminal and the HTML page.
    let dir = tempfile::tempdir().unwrap();
    write_all(&merged, dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["run"]["missing_shards"],
        serde_json::json!([{ "index": 1, "count": 3 }])
    );
    let back = Report::load(dir.path()).unwrap();
    assert_eq!(back.run.missing_shards, merged.run.missing_shards);
    let text = terminal_summary(&merged, false);
    assert!(
        text.contains("PARTIAL — merged without shard 1/3"),
        "{text}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    // (minijinja escapes the slash)
    assert!(
        html.contains("Partial report: merged without shard 1&#x2f;3"),
        "{html}"
    );
    // A complete set is not partial.
    assert_eq!(merge(inputs).unwrap().partial_note(), None);
}

#[test]
fn an_interrupted_phase_is_named_in_every_view() {
    let all = Recorder::with_shards(1);
    let mut snap = shard_snapshot(0, &all);
    snap.phases[1].interrupted = true;
    let mut m = meta("storm", None);
    m.interrupted = true;
    let r = Report::from_run(m, snap, &thresholds());
    let dir = tempfile::tempdir().unwrap();
    write_all(&r, dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["phases"][1]["interrupted"], true);
    assert!(json["phases"][0].get("interrupted").is_none());
    let text = terminal_summary(&r, false);
    assert!(
        text.contains("PARTIAL — the run was interrupted during `traffic`"),
        "{text}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("traffic <strong>(interrupted)</strong>"));
    assert!(html.contains("Partial report: the run was interrupted during `traffic`"));
}

fn run_report(name: &str, scale: u64, target: &str) -> Report {
    let r = Recorder::with_shards(2);
    for k in 0..2000u64 {
        r.record(k as usize, names::REFRESH, (1_000 + k) * scale);
        r.record(k as usize, names::API, 500 + k);
        r.count(0, "requests", 1);
        r.series(0, names::SERIES_REQUESTS, 1);
    }
    r.count(0, "refresh_calls", 2000 * scale);
    r.count(0, "refreshes_needed", 2000);
    let mut s = r.snapshot();
    s.elapsed = Duration::from_secs(10);
    let mut m = meta(name, None);
    m.target = target.into();
    let amplification = threshold::parse("refresh_amplification <= 1.0").unwrap();
    Report::from_run(m, s, &[amplification])
}

#[test]
fn compare_shows_ratios_and_overlays() {
    let a = run_report("storm", 1, "mock (http://127.0.0.1:1)");
    let b = run_report("storm", 2, "mock --fault latency:refresh=20ms..80ms");
    let cmp = Comparison::new(vec![("plain".into(), a), ("faulty".into(), b)]).unwrap();
    let rows = cmp.rows();
    let p99 = rows.iter().find(|r| r.metric == "p99(refresh)").unwrap();
    let ratio = p99.ratio(1).unwrap();
    assert!((ratio - 2.0).abs() < 0.01, "{ratio}");
    let amp = rows
        .iter()
        .find(|r| r.metric == "refresh_amplification")
        .unwrap();
    assert_eq!(amp.values, vec![Some(1.0), Some(2.0)]);

    let table = cmp.terminal_table(false);
    for s in [
        "plain",
        "faulty",
        "p99(refresh)",
        "(×2.00)",
        "refresh_amplification",
        "baseline",
        "FAIL",
        "PASS",
    ] {
        assert!(table.contains(s), "table lacks {s}:\n{table}");
    }
    assert!(!table.contains('\x1b'));
    assert!(cmp.terminal_table(true).contains("\x1b["));

    let html = cmp.html().unwrap();
    for s in [
        "id=\"runs\"",
        "id=\"table\"",
        "id=\"latency\"",
        "id=\"timeline\"",
        "#1 plain",
        "#2 faulty",
        "×2.00",
    ] {
        assert!(html.contains(s), "html lacks {s}");
    }
    assert!(
        html.matches("<polyline").count() >= 4,
        "two runs overlaid on each chart"
    );
    let lower = html.to_lowercase();
    for bad in ["http://", "https://", "src=", "href=", "url(", "<script"] {
        assert!(!lower.contains(bad), "compare html contains {bad}");
    }
}

#[test]
fn compare_refuses_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    write_all(&run_report("storm", 1, "mock"), &good).unwrap();

    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "<html>not json</html>").unwrap();
    let e = Comparison::load(&[good.clone(), junk]).unwrap_err();
    assert!(
        matches!(e, CompareError::Load(ReportError::NotAReport { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("is not an authbench report"), "{e}");

    let future = dir.path().join("future.json");
    std::fs::write(&future, "{\"schema_version\": 99, \"run\": {}}").unwrap();
    let e = Comparison::load(&[good.clone(), future]).unwrap_err();
    assert!(
        matches!(
            e,
            CompareError::Load(ReportError::UnsupportedSchema { found: 99, .. })
        ),
        "{e}"
    );

    let e = Comparison::load(std::slice::from_ref(&good)).unwrap_err();
    assert!(matches!(e, CompareError::TooFew(1)));

    let missing = dir.path().join("missing");
    assert!(matches!(
        Comparison::load(&[good.clone(), missing]).unwrap_err(),
        CompareError::Load(ReportError::Io { .. })
    ));

    // Same folder twice: labels are made distinct.
    let cmp = Comparison::load(&[good.clone(), good.join("report.json")]).unwrap();
    assert_eq!(cmp.runs[0].0, "good");
    assert_eq!(cmp.runs[1].0, "good #2");
}
