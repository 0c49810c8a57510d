//! `authbench run` with `client.channel: sse|push` on the builtin mock, as a user runs it: the
//! shipped kick-off variants at a small size, their metrics in report.json, report.html and the
//! terminal, and the push receiver wired to the mock's `--push-url`.

use assert_cmd::Command;

fn authbench() -> Command {
    let mut cmd = Command::cargo_bin("authbench").expect("authbench binary");
    cmd.env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Runs `scenario` with 30 clients and `expect` (with `--flaw no-kick` when `flaw`); returns
/// (exit 0?, stdout, stderr, report.json, report.html).
fn run_small(
    scenario: &str,
    expect: &str,
    flaw: bool,
) -> (bool, String, String, serde_json::Value, String) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = authbench();
    cmd.args(["run", scenario, "--clients", "30"])
        .args([
            "--set",
            "plan.0.login.ramp=100ms",
            "--set",
            "plan.1.relogin.ramp=100ms",
        ])
        .args(["--set", expect]);
    if flaw {
        cmd.args(["--set", "mock.flaws=[no-kick]"]);
    }
    let o = cmd.arg("--out").arg(out.path()).output().unwrap();
    let report =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        report,
        html,
    )
}

#[test]
fn kickoff_sse_reports_its_kicks_everywhere() {
    let (ok, stdout, stderr, report, html) = run_small(
        "scenarios/kickoff-sse.yaml",
        // The shipped scenario's per-client limit, without its latency bound (a debug build).
        "expect=[\"sse_missed_kicks == 0\", \"sse_events.kicked == clients\"]",
        false,
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert_eq!(report["counters"]["sse_events.kicked"], 30);
    let kicked = &report["thresholds"][1];
    assert_eq!(
        kicked["message"], "sse_events.kicked = 30 (== 30)",
        "{kicked}"
    );
    assert_eq!(report["counters"]["sse_connects"], 60);
    assert!(
        report["histograms"]["sse_kick_latency"].is_object(),
        "{}",
        report["histograms"]
    );
    assert!(html.contains("sse_kick_latency"));
    assert!(stdout.contains("sse_kick_latency"), "{stdout}");
    assert!(stdout.contains("sse_missed_kicks"), "{stdout}");
}

#[test]
fn kickoff_push_reports_its_pushes_everywhere_and_a_silent_server_fails() {
    let expect = "expect=[\"missed_pushes == 0\", \"push_events.kicked == clients\", \"push_registrations == 2 * clients\"]";
    let (ok, stdout, stderr, report, html) =
        run_small("scenarios/kickoff-push.yaml", expect, false);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("push receiver: http://127.0.0.1:"),
        "{stderr}"
    );
    assert_eq!(report["counters"]["push_events.kicked"], 30);
    assert_eq!(report["counters"]["push_registrations"], 60);
    assert!(report["histograms"]["push_latency"].is_object());
    assert!(html.contains("push_latency"));
    assert!(stdout.contains("push_latency"), "{stdout}");
    assert!(stdout.contains("missed_pushes"), "{stdout}");

    let (ok, stdout, _, report, _) = run_small("scenarios/kickoff-push.yaml", expect, true);
    assert!(!ok, "no-kick must fail the run: {stdout}");
    assert_eq!(report["counters"]["missed_pushes"], 30);
}
