//! Ctrl-C on a run (DESIGN's exit codes): the clients stop, the partial report is written, and the
//! run exits 130.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether process `pid` catches signal `signal` (its handler shows in `/proc/PID/status`).
fn catches(pid: u32, signal: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let mask = s
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))?
                .trim()
                .to_owned();
            u64::from_str_radix(&mask, 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// Sends process `pid` what Ctrl-C sends (SIGINT).
pub(crate) fn ctrl_c(pid: u32) {
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -INT {pid}");
}

#[test]
#[cfg(target_os = "linux")]
fn ctrl_c_writes_a_partial_report_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let mut child = Command::new(env!("CARGO_BIN_EXE_authbench"))
        .args([
            "run",
            "scenarios/storm.yaml",
            "--clients",
            "20",
            "--duration",
            "60s",
            "--set",
            "mock.access_ttl=2s",
            "--set",
            "plan.0.login.ramp=100ms",
            "--out",
        ])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !catches(pid, 2) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended by itself"
        );
        assert!(Instant::now() < deadline, "SIGINT never caught");
        std::thread::sleep(Duration::from_millis(5));
    }
    ctrl_c(pid);
    let started = Instant::now();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // The traffic phase alone would take 60 s.
    assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopping clients and writing a partial report"),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["run"]["interrupted"], true);
}
