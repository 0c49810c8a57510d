//! Sharded runs as the Kubernetes flow does them, locally: three `authbench run --shard i/3`
//! processes against one mock with a common `--start-at`, then `authbench merge`. The merged report
//! must hold exactly the sum of the shards, with percentiles of one histogram holding every sample.

use std::path::{Path, PathBuf};
use std::process::Command;

use authbench::report::Report;

const SCENARIO: &str = "\
name: sharded
clients: 30
users: { pattern: \"user{n}\", password: \"pw-{n}\" }
client: { strategy: single-flight, concurrency: 2, think_time: 100ms }
plan:
  - login: { ramp: 200ms }
  - traffic: { duration: 1s }
expect:
  - spurious_logouts == 0
";

fn authbench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authbench"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd
}

fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("authbench runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_merge_exactly() {
    let mock = authbench_mock::start(authbench_mock::MockConfig {
        port: 0,
        access_ttl: std::time::Duration::from_secs(30),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("sharded.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!("preset: mock\nbase_url: {}\n", mock.base_url()),
    )
    .unwrap();

    let start_at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let outs: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("shard-{i}")))
        .collect();
    let children: Vec<_> = (0..3)
        .map(|i| {
            let shard = format!("{i}/3");
            // Each shard its own thread count: the merged report says their sum.
            let threads = (i + 1).to_string();
            authbench(&[
                "run",
                p(&scenario),
                "--target",
                p(&target),
                "--shard",
                &shard,
                "--threads",
                &threads,
            ])
            .args(["--start-at", &start_at, "--quiet", "--out", p(&outs[i])])
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        let status = tokio::task::spawn_blocking(move || c.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "a shard failed: {status}");
    }

    let merged_dir = dir.path().join("merged");
    let outs2 = outs.clone();
    let md = merged_dir.clone();
    tokio::task::spawn_blocking(move || {
        run_ok(authbench(&[
            "merge",
            p(&outs2[0]),
            p(&outs2[1]),
            p(&outs2[2]),
            "--out",
            p(&md),
        ]))
    })
    .await
    .unwrap();

    let shards: Vec<Report> = outs.iter().map(|o| Report::load(o).unwrap()).collect();
    let merged = Report::load(&merged_dir).unwrap();

    // Users are partitioned: every one of the 30 logged in exactly once, across the shards.
    assert_eq!(shards.iter().map(|s| s.run.clients).sum::<u32>(), 30);
    assert_eq!(mock.stats().logins, 30);
    assert_eq!(merged.histograms["login"].count, 30);
    let threads: Vec<_> = shards.iter().map(|s| s.run.threads).collect();
    assert_eq!(threads, [Some(1), Some(2), Some(3)]);
    assert_eq!(merged.run.threads, Some(6));

    // Counters: the merged value is the sum of the shards', for every counter.
    for (name, value) in &merged.counters {
        let sum: u64 = shards.iter().map(|s| s.counter(name)).sum();
        assert_eq!(*value, sum, "counter {name}");
    }
    // Histograms: identical to one histogram holding every sample.
    for (name, h) in &merged.histograms {
        let mut all = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for s in &shards {
            if let Some(sh) = s.histograms.get(name) {
                all.add(&sh.histogram).unwrap();
            }
        }
        assert_eq!(h.count, all.len(), "{name} count");
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                h.histogram.value_at_quantile(q),
                all.value_at_quantile(q),
                "{name} q{q}"
            );
        }
    }
    assert!(merged.passed());
    mock.shutdown().await;
}

#[test]
fn compare_prints_a_table_and_writes_html_and_refuses_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let outs: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("r{i}"))).collect();
    for (i, out) in outs.iter().enumerate() {
        let strategy = if i == 0 {
            "client.strategy=single-flight"
        } else {
            "client.strategy=naive"
        };
        run_ok({
            let mut c = authbench(&[
                "run",
                "scenarios/storm.yaml",
                "--clients",
                "12",
                "--duration",
                "1s",
            ]);
            c.current_dir(root)
                .args([
                    "--set",
                    "mock.access_ttl=1s",
                    "--set",
                    "plan.0.login.ramp=100ms",
                    "--set",
                    strategy,
                ])
                .args(["--quiet", "--out", p(out)])
                .args(["--threads", if i == 0 { "2" } else { "1" }])
                // The naive run is meant to lose clients in 1 s and log them out (the comparison
                // shows it): switch off the defaults never_recovered == 0 and
                // spurious_logouts == 0 with thresholds on the same metrics.
                .args([
                    "--set",
                    "expect=[\"never_recovered >= 0\", \"spurious_logouts >= 0\"]",
                ]);
            c
        });
    }
    let html = dir.path().join("cmp.html");
    let table = run_ok(authbench(&[
        "compare",
        p(&outs[0]),
        p(&outs[1]),
        "--html",
        p(&html),
    ]));
    assert!(table.contains("refresh_amplification"), "{table}");
    assert!(table.contains("threads"), "{table}");
    let page = std::fs::read_to_string(&html).unwrap();
    // Each run's clients and then its threads.
    for threads in [2, 1] {
        let cells = format!("<td class=\"num\">12</td><td class=\"num\">{threads}</td>");
        assert!(page.contains(&cells), "{cells} not in the page");
    }
    assert!(
        page.contains("<svg") && !page.contains("https://"),
        "self-contained page with charts"
    );

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"not\":\"a report\"}").unwrap();
    let out = authbench(&["compare", p(&outs[0]), p(&garbage)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an authbench report"));
}

#[test]
fn merge_refuses_missing_shards_unless_allow_partial_which_marks_the_result() {
    let dir = tempfile::tempdir().unwrap();
    // Shards 0/3 and 2/3 of a run; shard 1/3 is missing.
    let outs: Vec<PathBuf> = [0u32, 2]
        .iter()
        .map(|&i| {
            let rec = authbench::metrics::Recorder::new();
            rec.count(0, "requests", 10);
            rec.count(0, "status.api.200", 10);
            let meta = authbench::report::RunMeta {
                name: "sharded".into(),
                clients: 10,
                shard: Some((i, 3)),
                ..Default::default()
            };
            let r = Report::from_run(meta, rec.snapshot(), &[]);
            let out = dir.path().join(format!("shard-{i}"));
            authbench::report::write_all(&r, &out).unwrap();
            out
        })
        .collect();
    let merged = dir.path().join("merged");
    let out = authbench(&["merge", p(&outs[0]), p(&outs[1]), "--out", p(&merged)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("shard 1/3 missing"), "{err}");
    assert!(err.contains("--allow-partial"), "{err}");
    assert!(!merged.join("report.json").exists(), "nothing written");

    let stdout = run_ok(authbench(&[
        "merge",
        p(&outs[0]),
        p(&outs[1]),
        "--out",
        p(&merged),
        "--allow-partial",
    ]));
    assert!(
        stdout.contains("PARTIAL — merged without shard 1/3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("partial report: merged without shard 1/3"),
        "{stdout}"
    );
    let back = Report::load(&merged).unwrap();
    assert_eq!(back.run.missing_shards.len(), 1);
    assert_eq!(back.run.clients, 20);
}
