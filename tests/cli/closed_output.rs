//! A reader that goes away (`authbench … | head`) must not turn output into a panic: what would
//! have been printed is dropped and the command ends with its own exit code.

use std::process::{Command, Output, Stdio};

/// The write end of a pipe whose read end is already closed: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

/// Runs `authbench ARGS` with stdout (and stderr, when `close_stderr`) going nowhere.
fn with_closed_output(args: &[&str], close_stderr: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authbench"));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdout(closed_pipe());
    if close_stderr {
        cmd.stderr(closed_pipe());
    } else {
        cmd.stderr(Stdio::piped());
    }
    cmd.output().expect("authbench runs")
}

#[test]
fn commands_that_print_a_lot_exit_0_when_stdout_is_closed() {
    for args in [
        &["schema"][..],
        &["completions", "bash"],
        &["check", "--list"],
        &["validate", "scenarios/storm.yaml"],
    ] {
        let out = with_closed_output(args, false);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn a_run_whose_terminal_went_away_still_writes_its_report_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("report");
    let out = with_closed_output(
        &[
            // Log lines too (the builtin mock's address at info).
            "-v",
            "run",
            "scenarios/storm.yaml",
            "--clients",
            "20",
            "--duration",
            "1s",
            "--set",
            "mock.access_ttl=2s",
            "--set",
            "plan.0.login.ramp=100ms",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        true,
    );
    // Stderr is closed too, so a panic shows only in the exit code (101).
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["run"]["clients"], 20);
    assert_eq!(report["counters"]["logins"], 20);
}
