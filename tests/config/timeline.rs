//! Reports show the storm (issue 15 §4), without a network: `compare` judges a change by what the
//! metric means and leaves out noise; an old report with one-second buckets still loads, renders
//! and merges with a new one; shard timelines with interval latencies merge exactly.

use std::time::Duration;

use authbench::metrics::{IntervalLatency, Recorder, Timeline, names};
use authbench::report::compare::{Change, Sense};
use authbench::report::{Comparison, Report, RunMeta, html, merge, write_all};

/// A storm report: `refresh_calls` refreshes for `needed` expiries, `spurious` logouts (and as
/// many reuses detected), `refreshes_per_s` refresh samples over 10 s.
fn storm(refresh_calls: u64, needed: u64, spurious: u64, refresh_samples: u64) -> Report {
    let r = Recorder::with_shards(2);
    for k in 0..refresh_samples {
        r.record(k as usize, names::REFRESH, 20_000 + k);
    }
    for k in 0..500u64 {
        r.record(k as usize, names::WAKE_SKEW, 500 + k * 3);
        r.record(k as usize, names::API, 4_000);
    }
    r.count(0, names::REQUESTS, 10_000);
    r.count(0, names::REFRESH_CALLS, refresh_calls);
    r.count(0, names::REFRESHES_NEEDED, needed);
    r.count(0, names::SPURIOUS_LOGOUTS, spurious);
    r.count(0, names::REUSE_DETECTED, spurious);
    let mut s = r.snapshot();
    s.elapsed = Duration::from_secs(10);
    let meta = RunMeta {
        name: "storm".into(),
        clients: 500,
        ..RunMeta::default()
    };
    Report::from_run(meta, s, &[])
}

fn row<'a>(
    rows: &'a [authbench::report::compare::Row],
    metric: &str,
) -> &'a authbench::report::compare::Row {
    rows.iter()
        .find(|r| r.metric == metric)
        .unwrap_or_else(|| panic!("no row {metric}"))
}

#[test]
fn compare_judges_by_meaning_and_leaves_out_noise() {
    let single = storm(10_000, 10_000, 0, 10_000);
    let naive = storm(28_000, 10_000, 1_585, 28_000);
    let cmp = Comparison::new(vec![
        ("single".into(), single.clone()),
        ("naive".into(), naive),
    ])
    .unwrap();
    let rows = cmp.rows();
    // 0 → 1 585 is a regression although no ratio to 0 exists.
    for metric in [names::SPURIOUS_LOGOUTS, names::REUSE_DETECTED] {
        let r = row(&rows, metric);
        assert_eq!(r.values, vec![Some(0.0), Some(1_585.0)]);
        assert_eq!(r.changes, vec![Change::Same, Change::Worse], "{metric}");
    }
    // More refreshes per second with amplification 1.00 → 2.80: worse, not "higher rate, better".
    let rate = row(&rows, "rate(refresh)");
    assert_eq!(rate.sense, Sense::WorseWithAmplification);
    assert_eq!(rate.changes[1], Change::Worse);
    assert_eq!(row(&rows, names::REFRESH_CALLS).changes[1], Change::Worse);
    // Noise left out: the rate of one-per-client samples.
    assert!(rows.iter().all(|r| r.metric != "rate(wake_skew)"));
    assert!(rows.iter().any(|r| r.metric == "p99(wake_skew)"));

    let table = cmp.terminal_table(true);
    let line = table
        .lines()
        .find(|l| l.contains("spurious_logouts"))
        .unwrap();
    assert!(line.contains("(was 0)"), "{line}");
    assert!(
        line.contains("\x1b[38;5;9m") || line.contains("\x1b[31m"),
        "red: {line:?}"
    );
    let page = cmp.html().unwrap();
    assert!(
        page.contains("class=\"num worse\">1 585<span class=\"ratio\">was 0</span>"),
        "html marks the regression"
    );
    for chart in ["refreshes per second", "p99(refresh) per interval"] {
        assert!(page.contains(chart), "compare page lacks {chart}");
    }

    // The same amplification with more refreshes per second (a bigger run) is not marked.
    let bigger = storm(20_000, 20_000, 0, 20_000);
    let cmp = Comparison::new(vec![("single".into(), single), ("bigger".into(), bigger)]).unwrap();
    let rows = cmp.rows();
    assert_eq!(row(&rows, "rate(refresh)").changes[1], Change::Same);
    assert_eq!(row(&rows, names::REFRESH_CALLS).changes[1], Change::Same);
}

#[test]
fn an_old_report_with_one_second_buckets_still_renders_and_merges() {
    let new = storm(100, 100, 0, 100);
    let mut json = serde_json::to_value(&new).unwrap();
    let start = new.timeline.start_ms / 1000;
    json["timeline"] = serde_json::json!({
        "start_unix": start, "seconds": 3,
        "series": { "requests": [10, 2000, 30], "refreshes": [0, 500, 0] },
        "gauges": { "active_clients": [500, 500, 500] }, "truncated": false
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.json"), json.to_string()).unwrap();
    let old = Report::load(dir.path()).unwrap();
    assert_eq!((old.timeline.bucket_ms, old.timeline.buckets), (1000, 3));
    let page = html::report_html(&old).unwrap();
    assert!(page.contains("3 intervals of 1 s"));
    assert!(page.contains("Refreshes per second (own scale)"));
    write_all(&old, &dir.path().join("again")).unwrap();

    // Merged with a new (100 ms) report of another shard: the result has one-second buckets.
    let mut a = old.clone();
    a.run.shard = Some(authbench::report::ShardInfo { index: 0, count: 2 });
    let mut b = new.clone();
    b.run.shard = Some(authbench::report::ShardInfo { index: 1, count: 2 });
    let merged = merge(vec![("a".into(), a), ("b".into(), b)]).unwrap();
    assert_eq!(merged.timeline.bucket_ms, 1000);
    assert_eq!(
        merged.timeline.total(names::SERIES_REQUESTS),
        2040 + new.timeline.total(names::SERIES_REQUESTS)
    );
}

#[test]
fn interval_latencies_of_shards_merge_exactly() {
    let mut a = Timeline::new(1_000_000, 100);
    let mut b = Timeline::new(1_000_200, 100);
    let mut fast = IntervalLatency::new();
    let mut slow = IntervalLatency::new();
    for _ in 0..98 {
        fast.0.record(1_000).unwrap();
    }
    for _ in 0..2 {
        slow.0.record(900_000).unwrap();
    }
    a.add_latency(names::REFRESH, 1_000_250, &fast.0);
    b.add_latency(names::REFRESH, 1_000_250, &slow.0);
    a.merge(&b);
    let p99 = a.latency_quantile(names::REFRESH, 0.99).unwrap();
    let p50 = a.latency_quantile(names::REFRESH, 0.5).unwrap();
    assert_eq!(p99.len(), 3);
    // 100 samples in interval 2: the p99 is one of the two slow ones, the p50 a fast one.
    assert!(p99[2].unwrap() >= 850_000, "{p99:?}");
    assert!(p50[2].unwrap() <= 1_100, "{p50:?}");
    let json = serde_json::to_string(&a).unwrap();
    let back: Timeline = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
}

#[test]
fn refreshes_get_their_own_scale_under_a_30k_request_rate() {
    // 3 000 requests and 50 refreshes in one 100 ms interval: 30 000/s and 500/s.
    let mut report = storm(100, 100, 0, 100);
    let start = report.timeline.start_ms;
    let mut t = Timeline::new(start, 100);
    t.add_count(names::SERIES_REQUESTS, start + 1_050, 3_000);
    t.add_count(names::SERIES_REFRESHES, start + 1_050, 50);
    t.add_count(names::SERIES_FAILURES, start + 1_150, 2);
    t.extend_to(start + 1_950);
    report.timeline = t;
    let page = html::report_html(&report).unwrap();
    let chart = |title: &str| {
        let at = page
            .find(title)
            .unwrap_or_else(|| panic!("no chart {title:?}"));
        let end = at + page[at..].find("</svg>").unwrap();
        page[at..end].to_string()
    };
    // The request chart's axis reaches 30k; the refresh chart's stops at 500, so the spike fills it.
    assert!(chart("Requests per second").contains(">30k<"));
    let refreshes = chart("Refreshes per second (own scale)");
    assert!(refreshes.contains(">500<"), "{refreshes}");
    assert!(!refreshes.contains("k<"), "{refreshes}");
    // Failures: their own chart, in failure red, with their own 0..20/s axis.
    let failures = chart("Failures per second: 2 failures");
    assert!(failures.contains("class=\"line failure f0\""), "{failures}");
    assert!(failures.contains(">20<"), "{failures}");
}

#[test]
fn compare_shows_the_socket_verdict_counters_a_run_recorded() {
    let good = storm(100, 100, 0, 100);
    let bad = {
        let r = Recorder::with_shards(1);
        r.count(0, names::REQUESTS, 100);
        r.count(0, names::KICK_WITHOUT_CLOSE, 50);
        r.count(0, names::CLOSE_WITHOUT_EVENT, 7);
        r.count(0, names::CHANNELS_NEVER_OPENED, 30);
        r.count(0, names::ZOMBIE_SESSIONS, 2);
        let mut s = r.snapshot();
        s.elapsed = Duration::from_secs(10);
        Report::from_run(RunMeta::default(), s, &[])
    };
    let cmp = Comparison::new(vec![("good".into(), good), ("bad".into(), bad)]).unwrap();
    let rows = cmp.rows();
    for (metric, n) in [
        (names::KICK_WITHOUT_CLOSE, 50.0),
        (names::CLOSE_WITHOUT_EVENT, 7.0),
        (names::CHANNELS_NEVER_OPENED, 30.0),
        (names::ZOMBIE_SESSIONS, 2.0),
    ] {
        let r = row(&rows, metric);
        assert_eq!(r.values, vec![Some(0.0), Some(n)], "{metric}");
        assert_eq!(r.changes[1], Change::Worse, "{metric}");
    }
    // A counter neither run recorded has no row.
    assert!(rows.iter().all(|r| r.metric != names::WS_OPEN_AFTER_EXPIRY));
}
