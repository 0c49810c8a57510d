//! Logging flags (DESIGN §10): `-v`/`-vv`, `RUST_LOG` (wins when set), `--log-format text|json`,
//! log lines on stderr only. `authbench mock` is the probe: it logs `authbench-mock listening` at
//! info level before it prints its address on stdout.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Runs `authbench <args>` (a `mock --port 0` command) until it prints its address, stops it,
/// and returns (stdout's first line, everything written to stderr).
fn mock_logs(args: &[&str], rust_log: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authbench"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(filter) = rust_log {
        cmd.env("RUST_LOG", filter);
    }
    let mut child = cmd.spawn().expect("authbench runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // Logging happens before the address is printed, so stderr holds every line by now.
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    (first, String::from_utf8(out.stderr).unwrap())
}

#[test]
fn default_level_is_warn_so_info_is_silent() {
    let (stdout, stderr) = mock_logs(&["mock", "--port", "0"], None);
    assert!(
        stdout.starts_with("authbench-mock listening on http://127.0.0.1:"),
        "{stdout}"
    );
    assert_eq!(stderr, "", "no log lines below warn by default");
}

#[test]
fn v_and_json_format_write_json_lines_to_stderr() {
    let (stdout, stderr) = mock_logs(&["-v", "--log-format", "json", "mock", "--port", "0"], None);
    let line = stderr.lines().next().expect("one log line");
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "authbench-mock listening");
    let url = v["fields"]["url"].as_str().unwrap();
    assert!(stdout.contains(url), "{url} vs {stdout}");
}

#[test]
fn global_flags_also_go_after_the_command_and_text_is_the_default_format() {
    let (_, stderr) = mock_logs(&["mock", "--port", "0", "-v"], None);
    assert!(
        stderr.contains(" INFO ") && stderr.contains("authbench-mock listening"),
        "{stderr}"
    );
    assert!(serde_json::from_str::<serde_json::Value>(stderr.trim()).is_err());
}

#[test]
fn rust_log_wins_over_v() {
    let (_, stderr) = mock_logs(&["-vv", "mock", "--port", "0"], Some("off"));
    assert_eq!(stderr, "", "RUST_LOG=off silences -vv");
    let (_, stderr) = mock_logs(&["mock", "--port", "0"], Some("authbench_mock=info"));
    assert!(stderr.contains("authbench-mock listening"), "{stderr}");
}

#[test]
fn an_unknown_log_format_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_authbench"))
        .args(["--log-format", "xml", "schema"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("invalid value 'xml'") && stderr.contains("json"),
        "{stderr}"
    );
}
