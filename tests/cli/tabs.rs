//! `scenarios/tabs.yaml` end to end on the builtin mock, small: the tab metrics reach the terminal,
//! report.json and report.html.

use assert_cmd::Command;

#[test]
fn tab_metrics_reach_every_report() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::cargo_bin("authbench")
        .expect("authbench binary")
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "scenarios/tabs.yaml", "--clients", "20"])
        .args([
            "--set",
            "client.tab_sync=lock",
            "--set",
            "client.think_time=100ms",
        ])
        .args(["--set", "plan=[{login: {}}, {logout: {}}]"])
        // No token expires in this plan: refresh_amplification is undefined, so only the tab one.
        .args(["--set", "expect=[tab_logout_missed == 0]"])
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    let terminal = String::from_utf8_lossy(&run.get_output().stdout).to_string();
    assert!(terminal.contains("20 × 4 tabs (lock)"), "{terminal}");
    for name in ["tab_logout_sync", "stale_tab_requests", "tab_logout_missed"] {
        assert!(
            terminal.contains(name),
            "{name} not in the terminal:\n{terminal}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    // One login per user, the other 3 tabs opened on it; one logout sample per user.
    assert_eq!(report["counters"]["logins"], 20);
    assert_eq!(report["counters"]["clients_logged_in"], 80);
    assert_eq!(report["counters"]["tab_adoptions"], 60);
    assert_eq!(report["counters"]["tab_logout_missed"], 0);
    assert_eq!(report["histograms"]["tab_logout_sync"]["count"], 20);
    assert!(report["counters"]["stale_tab_requests"].is_u64());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    for name in ["tab_logout_sync", "stale_tab_requests", "× 4 tabs (lock)"] {
        assert!(html.contains(name), "{name} not in report.html");
    }
}
