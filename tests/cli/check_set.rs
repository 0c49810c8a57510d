//! `authbench check --set` beyond the test accounts (issue 12 §1): the builtin mock's knobs
//! (`mock.*`) reach the mock the checks run against, a knob against another server is refused,
//! and the scenario keys of a load run are refused with what to use instead.

use assert_cmd::Command;

fn authbench() -> Command {
    let mut cmd = Command::cargo_bin("authbench").expect("authbench binary");
    cmd.env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn rt01(set: &[&str]) -> (Option<i32>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = authbench();
    cmd.args(["check", "--only", "RT-01", "--json", "--out"])
        .arg(dir.path().join("out"));
    for s in set {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

#[test]
fn a_mock_flaw_set_on_the_command_line_changes_the_verdict() {
    let (code, json) = rt01(&[]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["results"][0]["status"], "PASS", "{json}");
    // refresh-cacheable: the refresh answer lacks Cache-Control: no-store, which RT-01 judges.
    let (code, json) = rt01(&["mock.flaws=[refresh-cacheable]"]);
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["results"][0]["status"], "FAIL", "{json}");
    assert!(json.to_string().contains("Cache-Control"), "{json}");
}

#[test]
fn knobs_that_would_do_nothing_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("idp.yaml");
    std::fs::write(&profile, "preset: mock\nbase_url: http://127.0.0.1:1\n").unwrap();
    let out = authbench()
        .args(["check", "--set", "mock.flaws=[no-rotation]", "--target"])
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--set mock.flaws=[no-rotation]"), "{err}");
    assert!(err.contains("builtin mock"), "{err}");

    let out = authbench()
        .args(["check", "--set", "clients=10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`clients` is a setting of a load run"),
        "{err}"
    );
    assert!(err.contains("authbench run"), "{err}");
}
