//! `authbench check --only/--skip/--list`: a selection that leaves no check is refused (exit 2,
//! naming the filters), an empty value is refused, and `--list` honours `--only`, `--skip` and
//! `--json` and refuses the flags of a run.

use assert_cmd::Command;
use predicates::prelude::*;

fn authbench() -> Command {
    let mut cmd = Command::cargo_bin("authbench").expect("authbench binary");
    cmd.env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn a_selection_that_leaves_no_check_is_a_usage_error() {
    let out = tempfile::tempdir().unwrap();
    authbench()
        .args(["check", "--only", "RT-01", "--skip", "RT-01", "--out"])
        .arg(out.path().join("r"))
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "--only RT-01 --skip RT-01 leaves no check to run",
        ))
        .stderr(predicate::str::contains("= fix:"));
    assert!(
        !out.path().join("r").exists(),
        "no report for a refused run"
    );
    authbench()
        .args(["check", "--only", "RT", "--skip", "rt-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--skip rt- removes every check"));
}

#[test]
fn an_empty_only_or_skip_value_is_refused() {
    for args in [
        &["--only", ""][..],
        &["--only", "RT-01,"][..],
        &["--skip", ""][..],
        &["--list", "--only", ""][..],
    ] {
        authbench()
            .arg("check")
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("an empty check id names no check"))
            .stderr(predicate::str::contains(args[args.len() - 2]));
    }
}

#[test]
fn list_honours_only_skip_and_json() {
    let out = authbench()
        .args(["check", "--list", "--only", "RT", "--skip", "RT-02"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RT-01") && !text.contains("RT-02"), "{text}");
    assert!(!text.contains("RS-01") && !text.contains("\nWS "), "{text}");

    let out = authbench()
        .args(["check", "--list", "--json", "--only", "RS-01,WS"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "RS-01");
    assert!(ids[1..].iter().all(|id| id.starts_with("WS-")), "{ids:?}");
    assert!(json[0]["level"].is_string() && json[0]["requirements"].is_array());

    let all = authbench()
        .args(["check", "--list", "--json"])
        .output()
        .unwrap();
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(
        all.as_array().unwrap().len(),
        authbench::checks::catalog().len()
    );
    authbench()
        .args(["check", "--list", "--only", "RT-7"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `RT-07`"));
}

#[test]
fn list_refuses_the_flags_of_a_run() {
    for args in [
        &["--strict"][..],
        &["--out", "x"][..],
        &["--fail-on", "warn"][..],
        &["--jobs", "2"][..],
        &["--set", "users.offset=1"][..],
        &["http://127.0.0.1:1"][..],
    ] {
        authbench()
            .args(["check", "--list"])
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("cannot be used with"));
    }
}

#[test]
fn the_help_shows_no_example_it_would_refuse() {
    // clap prints `{n}` as a line break: an example with it reached the terminal as
    // `--set users.pattern=qa`, refused for having no placeholder.
    let out = authbench().args(["check", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("users.pattern=PATTERN"), "{help}");
    assert!(
        flat.contains("`{ n }` written without the spaces"),
        "{help}"
    );
    assert!(!help.contains("pattern=qa\n"), "{help}");
}
