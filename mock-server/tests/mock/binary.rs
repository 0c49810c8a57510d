//! The `authbench-mock` binary: its address on stdout, its logs on stderr with the same flags and
//! lines as `authbench mock` (tests/cli/logging.rs checks that side).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// `authbench-mock ARGS` (without `RUST_LOG`), running, and the first line it printed on stdout
/// (`authbench-mock listening on URL`).
fn listening(args: &[&str], stderr: Stdio) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authbench-mock"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, first)
}

#[test]
fn v_and_json_format_log_the_listening_address_on_stderr() {
    let (mut child, first) = listening(
        &["--port", "0", "-v", "--log-format", "json"],
        Stdio::piped(),
    );
    // The log line is written before the address is printed.
    child.kill().unwrap();
    let stderr = String::from_utf8(child.wait_with_output().unwrap().stderr).unwrap();
    let line: serde_json::Value =
        serde_json::from_str(stderr.lines().next().expect("a log line")).unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["message"], "authbench-mock listening");
    let url = line["fields"]["url"].as_str().unwrap();
    assert_eq!(first.trim(), format!("authbench-mock listening on {url}"));
}

#[test]
fn an_unknown_log_format_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_authbench-mock"))
        .args(["--log-format", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The threads of process `pid` that tokio made (`comm` `tokio-rt-worker`, or
/// `tokio-runtime-w` from older tokio): its workers and its blocking pool's threads.
fn tokio_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter(|t| {
            let comm = std::fs::read_to_string(t.as_ref().unwrap().path().join("comm"));
            comm.is_ok_and(|c| c.starts_with("tokio-r"))
        })
        .count()
}

/// The mock's tokio threads once it listens, started with `--threads n`.
fn tokio_threads_with(n: usize) -> usize {
    let (mut child, first) =
        listening(&["--port", "0", "--threads", &n.to_string()], Stdio::null());
    assert!(first.starts_with("authbench-mock listening on"), "{first}");
    let threads = tokio_threads(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    threads
}

#[test]
fn threads_sets_the_worker_threads_and_refuses_zero() {
    // The blocking pool is the same in both runs, so the difference is the workers'.
    let (one, three) = (tokio_threads_with(1), tokio_threads_with(3));
    assert!(one >= 1, "{one}");
    assert_eq!(
        three - one,
        2,
        "--threads 1: {one} tokio threads, --threads 3: {three}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_authbench-mock"))
        .args(["--port", "0", "--threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("'--threads <N>'") && stderr.contains("1..=1024"),
        "{stderr}"
    );
}

/// The write end of a pipe whose read end is already closed: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

/// Starts `cmd` and waits until it catches SIGTERM, which the mock does from just before it
/// prints its address lines (or until it ends by itself, which a panic on a closed pipe does).
#[cfg(target_os = "linux")]
fn start_until_sigterm_is_caught(cmd: &mut Command) -> std::process::Child {
    let mut child = cmd.spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the mock ended by itself ({status})");
        }
        let caught = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| {
                let mask = s
                    .lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))?
                    .trim()
                    .to_owned();
                u64::from_str_radix(&mask, 16).ok()
            })
            .unwrap_or(0);
        if caught & (1 << (15 - 1)) != 0 {
            return child;
        }
        assert!(std::time::Instant::now() < deadline, "SIGTERM never caught");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[cfg(target_os = "linux")]
fn sigterm(child: &std::process::Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
#[cfg(target_os = "linux")]
fn a_closed_stdout_does_not_stop_the_mock() {
    // A script that reads the address and closes the pipe (`authbench-mock | head -1`), taken to
    // the extreme: stdout is closed before the first line is printed.
    let child = start_until_sigterm_is_caught(
        Command::new(env!("CARGO_BIN_EXE_authbench-mock"))
            .args(["--port", "0"])
            .env_remove("RUST_LOG")
            .stdout(closed_pipe())
            .stderr(Stdio::piped()),
    );
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
}

#[test]
#[cfg(target_os = "linux")]
fn logging_to_a_closed_stderr_does_not_stop_the_mock() {
    // Both streams gone, and debug logs to write: every line is dropped, none is a panic.
    let mut child = start_until_sigterm_is_caught(
        Command::new(env!("CARGO_BIN_EXE_authbench-mock"))
            .args(["--port", "0", "-vv"])
            .env_remove("RUST_LOG")
            .stdout(closed_pipe())
            .stderr(closed_pipe()),
    );
    sigterm(&child);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
