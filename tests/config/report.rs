//! Report model and writers: report.json round trip, thresholds against a report, .hgrm, junit,
//! summary.txt and the self-contained report.html.

use std::collections::BTreeMap;
use std::time::Duration;

use authbench::config::Threshold;
use authbench::metrics::{PhaseMark, Recorder, Snapshot, Timeline, names, new_histogram};
use authbench::report::{
    CheckResult, Conformance, Evidence, FailOn, Level, Report, ReportError, RunMeta, Status,
    terminal_summary, threshold, write_all,
};
use chrono::{TimeZone, Utc};

fn meta() -> RunMeta {
    RunMeta {
        name: "storm".into(),
        description: "Every client's access token expires in the same second.".into(),
        scenario_path: Some("scenarios/storm.yaml".into()),
        target: "builtin mock (http://127.0.0.1:41234)".into(),
        clients: 5000,
        strategy: "single-flight".into(),
        config: serde_json::json!({"clients": 5000, "target": "https://auth.example.com/"}),
        interrupted: false,
        shard: None,
        threads: Some(2),
    }
}

/// A deterministic pseudo-random stream (no dependency, reproducible).
fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 11) as f64) / ((1u64 << 53) as f64)
}

/// A realistic 40-second storm run, built directly as a snapshot.
fn synthetic_snapshot() -> Snapshot {
    let mut seed = 7u64;
    let mut hist = |n: usize, base: f64, spread: f64, tail: f64| {
        let mut h = new_histogram();
        for _ in 0..n {
            let u = lcg(&mut seed);
            let mut v = base + spread * (-(1.0 - u).ln());
            if lcg(&mut seed) < 0.01 {
                v += tail * lcg(&mut seed);
            }
            h.saturating_record(v as u64);
        }
        h
    };
    let mut histograms = BTreeMap::new();
    histograms.insert("login".to_string(), hist(5000, 4_000.0, 3_000.0, 80_000.0));
    histograms.insert(
        "refresh".to_string(),
        hist(5000, 6_000.0, 20_000.0, 400_000.0),
    );
    histograms.insert("api".to_string(), hist(200_000, 300.0, 700.0, 30_000.0));
    histograms.insert(
        "recovery".to_string(),
        hist(5000, 30_000.0, 60_000.0, 900_000.0),
    );
    histograms.insert("wake_skew".to_string(), hist(5000, 50.0, 300.0, 2_000.0));
    histograms.insert(
        "kick_latency".to_string(),
        hist(500, 2_000.0, 4_000.0, 50_000.0),
    );
    let counters: BTreeMap<String, u64> = [
        ("requests", 210_000),
        ("logins", 5000),
        ("refresh_calls", 5000),
        ("refreshes_needed", 5000),
        ("relogins", 0),
        ("spurious_logouts", 0),
        ("reuse_detected", 0),
        ("errors.timeout", 3),
        ("errors.connect", 1),
        ("status.api.200", 195_000),
        ("status.api.401", 5000),
        ("status.login.200", 5000),
        ("status.refresh.200", 5000),
        ("ws_close.4409", 500),
        ("ws_close.1006", 2),
        ("ws_events.kicked", 500),
        ("missed_kicks", 0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    let mut timeline = Timeline::new(start.timestamp_millis(), 1000);
    timeline.buckets = 40;
    let mut req = vec![0u64; 40];
    let mut refr = vec![0u64; 40];
    let mut errs = vec![0u64; 40];
    let mut logins = vec![0u64; 40];
    let mut sockets = vec![0i64; 40];
    for s in 0..40 {
        if s < 3 {
            logins[s] = [1500, 2500, 1000][s];
        }
        if (3..12).contains(&s) {
            req[s] = 5200 + (s as u64 * 37) % 400;
        }
        if s == 12 {
            refr[s] = 4200;
            req[s] = 1800;
        }
        if s == 13 {
            refr[s] = 800;
            req[s] = 9000;
            errs[s] = 4;
        }
        if s > 13 {
            req[s] = 6800 + (s as u64 * 53) % 500;
        }
        sockets[s] = if s < 2 {
            2500 * s as i64
        } else if s < 30 {
            5000
        } else {
            4500
        };
    }
    timeline.series.insert("requests".into(), req);
    timeline.series.insert("refreshes".into(), refr);
    timeline.series.insert("errors".into(), errs);
    timeline.series.insert("logins".into(), logins);
    timeline.series.insert("relogins".into(), vec![0; 40]);
    timeline.gauges.insert("open_sockets".into(), sockets);
    let phase = |name: &str, ms: i64| PhaseMark {
        name: name.into(),
        at: start + chrono::Duration::milliseconds(ms),
        offset_ms: ms as u64,
        interrupted: false,
    };
    Snapshot {
        histograms,
        counters,
        timeline,
        phases: vec![
            phase("login", 0),
            phase("sync_expiry", 3_000),
            phase("traffic", 12_100),
            phase("relogin", 30_000),
        ],
        failure_samples: Vec::new(),
        started_at: start,
        elapsed: Duration::from_secs(40),
    }
}

/// Equality with a readable failure (the Debug form of a histogram is thousands of counts).
fn assert_same(a: &Report, b: &Report) {
    if a == b {
        return;
    }
    let (va, vb) = (
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap(),
    );
    for (k, x) in va.as_object().unwrap() {
        let y = &vb[k];
        if x != y {
            let (x, y) = (x.to_string(), y.to_string());
            panic!(
                "reports differ in `{k}`:\n{}\n{}",
                &x[..x.len().min(600)],
                &y[..y.len().min(600)]
            );
        }
    }
    for (k, h) in &a.histograms {
        assert!(
            h == &b.histograms[k],
            "histogram {k} differs: {:?} vs {:?}",
            (h.count, h.min, h.max, h.mean, h.stdev),
            {
                let o = &b.histograms[k];
                (o.count, o.min, o.max, o.mean, o.stdev)
            }
        );
    }
    panic!("reports differ");
}

fn conformance() -> Conformance {
    let check = |id: &str, status, expected| CheckResult {
        id: id.into(),
        title: format!("{id} title"),
        family: id[..2].into(),
        level: Level::Must,
        requirements: vec!["RFC6749-5.2".into()],
        status,
        message: format!("{id} observed something"),
        evidence: vec![Evidence {
            request:
                "POST /oauth/token HTTP/1.1\ngrant_type=refresh_token&refresh_token=abcdefgh…(43)"
                    .into(),
            response: "HTTP/1.1 400\n{\"error\":\"invalid_grant\"}".into(),
        }],
        duration_ms: 12,
        expected_failure: expected,
    };
    Conformance {
        strict: false,
        fail_on: FailOn::Fail,
        checks: vec![
            check("RT-01", Status::Pass, false),
            check("RT-02", Status::Fail, false),
            check("RS-01", Status::Warn, false),
            check("WS-01", Status::Skip, false),
            check("AT-01", Status::Info, false),
            check("JW-01", Status::Fail, true),
        ],
    }
}

const EXPECT: &[&str] = &[
    "refresh_amplification <= 1.0",
    "p99(refresh) < 250ms",
    "spurious_logouts == 0",
    "error_rate < 0.1%",
    "p99(recovery) < 100ms",
    "p99(reconnect) < 1s",
    "stale_ws_messages == 0",
];

fn expect() -> Vec<Threshold> {
    parsed(EXPECT)
}

fn parsed(exprs: &[&str]) -> Vec<Threshold> {
    exprs.iter().map(|e| threshold::parse(e).unwrap()).collect()
}

#[test]
fn thresholds_evaluate_against_the_report() {
    let r = Report::from_run(meta(), synthetic_snapshot(), &expect());
    let by = |e: &str| r.thresholds.iter().find(|t| t.expr == e).unwrap();
    assert!(by("refresh_amplification <= 1.0").passed);
    assert_eq!(by("refresh_amplification <= 1.0").observed, Some(1.0));
    assert!(by("spurious_logouts == 0").passed);
    // 4 errors / 210 000 requests = 0.0019% < 0.1%
    let er = by("error_rate < 0.1%");
    assert!(er.passed, "{}", er.message);
    assert!((er.observed.unwrap() - 4.0 / 210_000.0).abs() < 1e-12);
    // Recovery p99 is far above 100 ms in the synthetic data.
    let rec = by("p99(recovery) < 100ms");
    assert!(!rec.passed);
    assert!(rec.message.contains("expected < 100ms"), "{}", rec.message);
    // Never measured histogram → fails with "no samples".
    let rc = by("p99(reconnect) < 1s");
    assert!(!rc.passed && rc.observed.is_none());
    assert!(rc.message.contains("no samples"), "{}", rc.message);
    // Never recorded counter → 0.
    let st = by("stale_ws_messages == 0");
    assert!(st.passed && st.observed == Some(0.0));
    let p99 = r.histograms["refresh"].histogram.value_at_quantile(0.99) as f64;
    assert_eq!(by("p99(refresh) < 250ms").observed, Some(p99));
    assert!(!r.passed());
    assert_eq!(r.derived.requests, 210_000);
    assert_eq!(r.derived.errors, 4);
    assert!((r.derived.rates["api"] - 200_000.0 / 40.0).abs() < 1e-9);
}

#[test]
fn bad_expect_is_a_typed_error() {
    let err = threshold::parse("p99(refesh) < 1ms").unwrap_err();
    assert!(err.to_string().contains("did you mean `refresh`"));
}

#[test]
fn writes_every_file_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let report =
        Report::from_run(meta(), synthetic_snapshot(), &expect()).with_conformance(conformance());
    let written = write_all(&report, dir.path()).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in [
        "report.json",
        "login.hgrm",
        "refresh.hgrm",
        "api.hgrm",
        "kick_latency.hgrm",
        "recovery.hgrm",
        "wake_skew.hgrm",
        "summary.txt",
        "junit.xml",
        "report.html",
    ] {
        assert!(names.contains(&f.to_string()), "{f} not in {names:?}");
        assert!(dir.path().join(f).is_file());
    }
    if let Some(keep) = std::env::var_os("AUTHBENCH_KEEP_SAMPLE_REPORT") {
        write_all(&report, std::path::Path::new(&keep)).unwrap();
    }

    // report.json: loads back equal, histograms decode to the very same histograms.
    let back = Report::load(dir.path()).unwrap();
    assert_same(&back, &report);
    for (name, h) in &report.histograms {
        assert_eq!(back.histograms[name].histogram, h.histogram, "{name}");
        assert_eq!(back.histograms[name].p99, h.p99);
    }
    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(raw["schema_version"], 1);
    assert!(
        raw["histograms"]["refresh"]["hdr"]
            .as_str()
            .unwrap()
            .starts_with("HISTF")
    );
    assert_eq!(raw["run"]["started_at"], "2026-11-22T09:00:00Z");
    assert_eq!(raw["run"]["threads"], 2);
    assert_eq!(raw["conformance"]["checks"][1]["status"], "FAIL");

    // .hgrm: the HdrHistogram percentile distribution in ms.
    let hgrm = std::fs::read_to_string(dir.path().join("refresh.hgrm")).unwrap();
    assert!(hgrm.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    assert!(hgrm.contains("Total count    =         5000]"));

    // summary.txt is the uncoloured terminal summary.
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert_eq!(summary, terminal_summary(&report, false));
    assert!(!summary.contains('\x1b'));
    for s in [
        "storm",
        "2 threads",
        "refresh_amplification",
        "p99(recovery) < 100ms",
        "✗",
        "✓",
        "status api",
        "4409",
        "RT-02",
        "FAIL:",
    ] {
        assert!(summary.contains(s), "summary lacks {s}:\n{summary}");
    }
    assert!(terminal_summary(&report, true).contains("\x1b["));

    // junit.xml: one case per threshold and per check; failures carry the message.
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let junit = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let thresholds = &junit.test_suites[0];
    assert_eq!(thresholds.name.as_str(), "thresholds");
    // The scenario's thresholds, then the default ones it does not override (it has its own
    // `spurious_logouts == 0`).
    assert_eq!(
        thresholds.test_cases.len(),
        EXPECT.len() + authbench::report::threshold::DEFAULTS.len() - 1
    );
    assert_eq!(thresholds.failures, 2);
    let conf = &junit.test_suites[1];
    assert_eq!(conf.name.as_str(), "conformance");
    assert_eq!(conf.test_cases.len(), 6);
    assert_eq!(
        conf.failures, 1,
        "only RT-02 fails: RS-01 is a warning, JW-01 expected"
    );
    assert_eq!(conf.skipped, 1);
    assert!(xml.contains("p99(recovery) = "));
    assert!(xml.contains("FAIL: RT-02 observed something"));
    assert!(xml.contains("invalid_grant"));

    // report.html: every section, and not a single external reference.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for id in [
        "id=\"run\"",
        "id=\"thresholds\"",
        "id=\"latency\"",
        "id=\"timeline\"",
        "id=\"storm\"",
        "id=\"counters\"",
        "id=\"codes\"",
        "id=\"conformance\"",
        "id=\"config\"",
    ] {
        assert!(html.contains(id), "missing section {id}");
    }
    assert!(
        html.matches("<svg").count() >= 8,
        "6 percentile charts + 2 timelines"
    );
    for l in [">50%<", ">90%<", ">99%<", ">99.9%<"] {
        assert!(html.contains(l), "percentile label {l}");
    }
    for phase in ["sync_expiry", "traffic", "relogin"] {
        assert!(
            html.contains(&format!(">{phase}</text>")),
            "phase mark {phase}"
        );
    }
    assert!(html.contains("kicked: replaced by a login elsewhere"));
    assert!(html.contains("<details><summary>evidence"));
    assert!(html.contains("@media print"));
    let lower = html.to_lowercase();
    for bad in [
        "http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link",
    ] {
        assert!(!lower.contains(bad), "report.html contains `{bad}`");
    }
}

#[test]
fn load_refuses_what_is_not_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.json");
    let cases: &[(&str, &str)] = &[
        ("this is not json", "not JSON"),
        ("[1,2,3]", "not a JSON object"),
        ("{\"hello\": 1}", "no `schema_version`"),
        ("{\"schema_version\": \"one\"}", "not a number"),
        ("{\"schema_version\": 1}", "missing field"),
    ];
    for (text, want) in cases {
        std::fs::write(&p, text).unwrap();
        let e = Report::load(&p).unwrap_err();
        assert!(matches!(e, ReportError::NotAReport { .. }), "{text}: {e}");
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
    std::fs::write(&p, "{\"schema_version\": 2}").unwrap();
    let e = Report::load(&p).unwrap_err();
    assert!(
        matches!(e, ReportError::UnsupportedSchema { found: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("version 1"));
    // A folder without report.json.
    let e = Report::load(dir.path().join("nothing-here")).unwrap_err();
    assert!(matches!(e, ReportError::Io { .. }));
    // A report whose histogram is corrupt.
    let good = Report::from_run(meta(), synthetic_snapshot(), &[]);
    let mut v = serde_json::to_value(&good).unwrap();
    v["histograms"]["refresh"]["hdr"] = serde_json::Value::String("SGVsbG8=".into());
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = Report::load(&p).unwrap_err();
    assert!(e.to_string().contains("histogram"), "{e}");
}

#[test]
fn a_live_recorder_run_becomes_a_report() {
    let rec = Recorder::with_shards(8);
    rec.phase("traffic");
    for i in 0..1000usize {
        rec.record(i, names::API, 100 + i as u64);
        rec.count(i, "requests", 1);
        rec.count(i, "status.api.200", 1);
        rec.series(i, names::SERIES_REQUESTS, 1);
    }
    rec.gauge_add(names::GAUGE_OPEN_SOCKETS, 10);
    let report = Report::from_run(
        meta(),
        rec.snapshot(),
        &parsed(&["count(api) == 1000", "rate(requests) > 0"]),
    );
    assert!(report.passed(), "{:?}", report.thresholds);
    assert_eq!(report.histograms["api"].count, 1000);
    assert_eq!(report.histograms["api"].min, 100);
    assert_eq!(report.timeline.total("requests"), 1000);
    assert_eq!(report.derived.error_rate, Some(0.0));
    assert_eq!(report.derived.refresh_amplification, None);
}

#[test]
fn reuse_detected_at_zero_says_whether_any_refusal_could_have_told() {
    // The notes of the summary's counter rows (the terminal table wraps long ones).
    let notes = |refused: u64, reuse: u64| {
        let rec = Recorder::with_shards(2);
        rec.phase("traffic");
        rec.count(0, names::REFRESH_CALLS, 10);
        rec.count(0, names::REFRESHES_NEEDED, 10);
        if refused > 0 {
            rec.count(0, names::REFRESHES_REFUSED, refused);
        }
        if reuse > 0 {
            rec.count(0, names::REUSE_DETECTED, reuse);
        }
        let report = Report::from_run(meta(), rec.snapshot(), &[]);
        authbench::report::sections::key_counters(&report)
            .into_iter()
            .map(|kv| (kv.name, kv.note))
            .collect::<BTreeMap<_, _>>()
    };
    // Refusals that never said "already used": 0 is what the server said, and the summary says so.
    let silent = notes(7, 0);
    assert!(silent.contains_key("refreshes_refused"), "{silent:?}");
    assert!(
        silent["reuse_detected"].contains("none of the 7 refused refreshes said so"),
        "{silent:?}"
    );
    // No refusal at all, or refusals that said it: no such remark.
    for (refused, reuse) in [(0, 0), (7, 3)] {
        let n = notes(refused, reuse);
        assert!(!n["reuse_detected"].contains("said so"), "{n:?}");
    }
}
