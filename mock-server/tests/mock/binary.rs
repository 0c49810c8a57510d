//! The `authbench-mock` binary: its address on stdout, its logs on stderr with the same flags and
//! lines as `authbench mock` (tests/cli/logging.rs checks that side).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn v_and_json_format_log_the_listening_address_on_stderr() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authbench-mock"))
        .args(["--port", "0", "-v", "--log-format", "json"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
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
