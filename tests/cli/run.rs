//! The `authbench` binary as a user runs it: exit codes, messages and the files a run writes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn authbench() -> Command {
    let mut cmd = Command::cargo_bin("authbench").expect("authbench binary");
    cmd.env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// `authbench run scenarios/storm.yaml --clients N --duration D`.
fn storm(clients: u32, duration: &str) -> Command {
    let mut cmd = authbench();
    cmd.args(["run", "scenarios/storm.yaml", "--clients"])
        .arg(clients.to_string())
        .args(["--duration", duration]);
    cmd
}

/// A short storm on the builtin mock: `clients`, 2 s tokens, a 200 ms login ramp, 1 s of
/// traffic, `settings` as `--set` overrides.
fn short_storm_command(clients: u32, settings: &[&str]) -> Command {
    let mut cmd = storm(clients, "1s");
    for s in ["mock.access_ttl=2s", "plan.0.login.ramp=200ms"]
        .iter()
        .chain(settings)
    {
        cmd.args(["--set", s]);
    }
    cmd
}

/// The report.json a run wrote into `out`.
fn report_in(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

/// [`short_storm_command`] run quietly into `out`, which must exit 0; its report.json.
fn short_storm(clients: u32, settings: &[&str], out: &Path) -> serde_json::Value {
    let mut cmd = short_storm_command(clients, settings);
    cmd.arg("--quiet").arg("--out").arg(out).assert().success();
    report_in(out)
}

#[test]
fn the_version_names_the_allocator_the_binary_was_built_with() {
    // The default build allocates with jemalloc (feature `jemalloc`; README, "jemalloc").
    authbench()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(concat!(
            "authbench ",
            env!("CARGO_PKG_VERSION"),
            "\nallocator: jemalloc"
        )));
}

#[test]
fn storm_runs_end_to_end_on_the_builtin_mock_and_writes_every_file() {
    let out = tempfile::tempdir().unwrap();
    let report = short_storm(40, &[], out.path());
    for f in [
        "report.json",
        "report.html",
        "summary.txt",
        "junit.xml",
        "api.hgrm",
        "refresh.hgrm",
    ] {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
    assert_eq!(report["run"]["clients"], 40);
    assert_eq!(
        report["counters"]["refreshes_needed"],
        report["counters"]["refresh_calls"]
    );
    assert!(report["counters"]["refresh_calls"].as_u64().unwrap() >= 40);
}

#[test]
fn threads_sets_the_runtime_the_clients_run_on_and_the_report_says_so() {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = short_storm_command(20, &[]);
    cmd.args(["--threads", "1", "--out"]).arg(out.path());
    let stdout = String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap();
    let report = report_in(out.path());
    assert_eq!(report["run"]["threads"], 1);
    assert_eq!(
        report["counters"]["status.api.200"].as_u64().map(|n| n > 0),
        Some(true)
    );
    assert!(stdout.contains("· 1 thread ·"), "{stdout}");
    // Without it: one worker per CPU this process may use.
    let out = tempfile::tempdir().unwrap();
    let report = short_storm(20, &[], out.path());
    let cpus = std::thread::available_parallelism().unwrap().get();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        assert_eq!(report["run"]["threads"], cpus);
    }
    refuses_run(&["--threads", "0"], &["'--threads <N>'", "1..=1024"]);
}

#[test]
fn the_summary_shows_connections_the_server_closed() {
    // Every answer says `Connection: close`: each one retires its connection, and the summary
    // says so (not as a fault: every request still got its answer).
    let out = tempfile::tempdir().unwrap();
    let report = short_storm(20, &["mock.connection_close=true"], out.path());
    let retired = report["counters"]["connections_retired"].as_u64().unwrap();
    assert_eq!(retired, report["derived"]["requests"].as_u64().unwrap());
    let summary = std::fs::read_to_string(out.path().join("summary.txt")).unwrap();
    let row = summary
        .lines()
        .find(|l| l.contains("connections_retired"))
        .unwrap_or_else(|| panic!("no connections_retired row in:\n{summary}"));
    let shown: String = authbench::report::format::count(retired);
    assert!(row.contains(&shown), "{row}");
    assert!(row.contains("Connection: close"), "{row}");
}

#[test]
fn storm_runs_over_https_against_the_builtin_mock_serving_tls() {
    let out = tempfile::tempdir().unwrap();
    let report = short_storm(40, &["mock.tls=true", "client.connections=8"], out.path());
    assert!(
        report["run"]["target"]
            .as_str()
            .unwrap()
            .contains("https://"),
        "{}",
        report["run"]["target"]
    );
    // Every new connection of the pool paid a handshake (kept-alive ones are reused, so never more
    // than one per request); no TLS errors.
    let handshakes = report["histograms"]["tls_handshake"]["count"]
        .as_u64()
        .unwrap();
    assert!(handshakes >= 1, "{}", report["histograms"]);
    assert!(
        handshakes <= report["counters"]["requests"].as_u64().unwrap(),
        "{handshakes}"
    );
    assert_eq!(report["counters"]["errors.tls"].as_u64().unwrap_or(0), 0);
    assert_eq!(
        report["counters"]["refreshes_needed"],
        report["counters"]["refresh_calls"]
    );
    // The terminal summary and the HTML report show the handshakes too.
    let summary = std::fs::read_to_string(out.path().join("summary.txt")).unwrap();
    assert!(summary.contains("tls_handshake"), "{summary}");
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("tls_handshake"));
}

#[test]
fn json_flag_prints_a_machine_readable_summary() {
    let out = tempfile::tempdir().unwrap();
    let output = storm(10, "500ms")
        .args(["--json"])
        .args([
            "--set",
            "mock.access_ttl=1s",
            "--set",
            "plan.0.login.ramp=100ms",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(v["passed"], true);
    assert!(v["histograms"]["login"]["p99"].as_u64().is_some());
    assert!(
        v["histograms"]["login"].get("hdr").is_none(),
        "encoded histograms are left out"
    );
}

#[test]
fn a_failed_threshold_exits_1() {
    let out = tempfile::tempdir().unwrap();
    storm(8, "300ms")
        .args(["--quiet"])
        .args([
            "--set",
            "mock.access_ttl=1s",
            "--set",
            "plan.0.login.ramp=100ms",
        ])
        .args(["--set", "expect=[\"requests < 1\"]"])
        .arg("--out")
        .arg(out.path())
        .assert()
        .code(1);
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("requests &lt; 1") || junit.contains("requests < 1"),
        "{junit}"
    );
    assert!(junit.contains("<failure"), "{junit}");
}

/// `authbench <command> bad.yaml` with `yaml` in the file exits 2 and says each of `says`.
fn rejects_scenario(command: &str, yaml: &str, says: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut assert = authbench().arg(command).arg(&file).assert().code(2);
    for s in says {
        assert = assert.stderr(predicate::str::contains(*s));
    }
}

#[test]
fn a_typo_in_a_scenario_exits_2_with_line_column_and_suggestion() {
    rejects_scenario(
        "run",
        "name: x\nclinets: 10\nplan:\n  - login: { ramp: 1s }\n",
        &["bad.yaml:2:1", "did you mean `clients`"],
    );
}

#[test]
fn a_list_written_as_a_mapping_or_missing_is_named_by_its_own_key() {
    // `plan:` with `login: {}` under it: the list is `plan`'s (it named `plan.login` and wrote
    // the fix `login: [login: {]`).
    rejects_scenario(
        "validate",
        "clients: 2\nplan:\n  login: {}\n",
        &[
            "`plan` takes a list",
            "key: plan\n",
            "fix: write `plan` as a list, each item on its own line after a `- `: `- login: {}`",
        ],
    );
    // An empty `plan:` (the fix was `plan: [:]`).
    rejects_scenario(
        "validate",
        "clients: 2\nplan:\n",
        &["key: plan\n", "fix: write a list here"],
    );
    // No `plan` at all (the key was `clients.plan`).
    rejects_scenario(
        "validate",
        "clients: 2\n",
        &[
            "missing key `plan`",
            "key: plan\n",
            "add `plan:` at the top level of the file",
        ],
    );
}

#[test]
fn a_bad_duration_exits_2_and_names_the_value() {
    rejects_scenario(
        "validate",
        "name: x\nclients: 1\nplan:\n  - login: { ramp: 3 parsecs }\n",
        &["parsecs", "bad.yaml:4:20", "plan.0.login.ramp"],
    );
}

#[test]
fn a_target_profile_that_is_not_there_is_named_where_it_was_given() {
    // In the scenario: its file, line and key, and the path it was resolved to.
    rejects_scenario(
        "run",
        "name: x\nclients: 1\ntarget: nope.yaml\nplan:\n  - login: {}\n",
        &[
            "bad.yaml:3:1",
            "nope.yaml does not exist",
            "key: target",
            "fix: point `target:` at a target profile file",
        ],
    );
    // On the command line: the flag.
    refuses_run(
        &["--target", "no/such/target.yaml"],
        &["--target no/such/target.yaml: the target profile no/such/target.yaml does not exist"],
    );
}

/// `authbench run scenarios/storm.yaml --clients 5 ARGS` exits 2 within a minute (no panic, no run
/// for ever) and says each of `says`.
fn refuses_run(args: &[&str], says: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let mut assert = authbench()
        .args(["run", "scenarios/storm.yaml", "--clients", "5", "--quiet"])
        .args(args)
        .arg("--out")
        .arg(out.path())
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("panicked").not());
    for s in says {
        assert = assert.stderr(predicate::str::contains(*s));
    }
}

#[test]
fn durations_past_their_bounds_exit_2_naming_the_key_and_the_limit() {
    const HUGE: &str = "18446744073709551615s";
    refuses_run(
        &["--set", &format!("client.think_time={HUGE}")],
        &["key: client.think_time", "think_time", "longer than a day"],
    );
    refuses_run(
        &["--duration", HUGE],
        &[
            "--duration",
            "key: plan.2.traffic.duration",
            "longer than 30 days",
        ],
    );
    refuses_run(
        &["--duration", "9999999999999s"],
        &[
            "--duration",
            "key: plan.2.traffic.duration",
            "longer than 30 days",
        ],
    );
    refuses_run(
        &[
            "--set",
            &format!("plan=[{{login: {{}}}}, {{wait: {{duration: {HUGE}}}}}]"),
        ],
        &["key: plan.1.wait.duration", "longer than 30 days"],
    );
    refuses_run(
        &[
            "--set",
            &format!("plan=[{{login: {{}}}}, {{idle: {{duration: {HUGE}}}}}]"),
        ],
        &["key: plan.1.idle.duration", "longer than 30 days"],
    );
    refuses_run(
        &[
            "--set",
            &format!(
                "plan=[{{login: {{}}}}, {{sync_expiry: {{offset: {HUGE}}}}}, {{traffic: {{duration: 1s}}}}]"
            ),
        ],
        &["key: plan.1.sync_expiry.offset", "longer than a day"],
    );
    refuses_run(
        &["--duration", "0s"],
        &["key: plan.2.traffic.duration", "traffic lasts 0s"],
    );
}

#[test]
fn a_bad_clients_flag_is_named_as_typed() {
    authbench()
        .args(["run", "scenarios/storm.yaml", "--clients", "0", "--quiet"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value '0' for '--clients <N>': expected a whole number of clients from 1 to 10000000",
        ))
        .stderr(predicate::str::contains("--set clients").not());
    // The real bounds, not those of the flag's type; a negative count reaches the same message.
    for n in ["99999999999", "10000001", "-5"] {
        authbench()
            .args(["run", "scenarios/storm.yaml", "--clients", n, "--quiet"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "invalid value '{n}' for '--clients <N>': expected a whole number of clients from 1 to 10000000"
            )))
            .stderr(predicate::str::contains("4294967295").not());
    }
    // In a file, and through --set, the range is the key's: 0 is no allowed value.
    rejects_scenario(
        "validate",
        "name: x\nclients: -5\nplan:\n  - login: { ramp: 1s }\n",
        &[
            "bad.yaml:2:10: invalid value: expected a whole number from 1 to 10000000",
            "fix: `clients` takes a whole number from 1 to 10000000",
        ],
    );
    authbench()
        .args(["validate", "scenarios/storm.yaml", "--set", "clients=-5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected a whole number"))
        .stderr(predicate::str::contains("u32").not())
        .stderr(predicate::str::contains(
            "fix: `clients` takes a whole number from 1 to 10000000",
        ));
    // The same value through --set is named as --set.
    authbench()
        .args([
            "run",
            "scenarios/storm.yaml",
            "--set",
            "clients=0",
            "--quiet",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--set clients=0: clients is 0"));
}

#[test]
fn durations_within_their_bounds_still_run() {
    let out = tempfile::tempdir().unwrap();
    authbench()
        .args(["run", "scenarios/storm.yaml", "--clients", "5", "--quiet"])
        .args(["--set", "mock.access_ttl=1s", "--set", "client.think_time=200ms"])
        .args([
            "--set",
            "plan=[{login: {}}, {wait: {duration: 100ms}}, {idle: {duration: 100ms}}, {sync_expiry: {offset: 50ms}}, {traffic: {duration: 30d}}]",
        ])
        .args(["--duration", "500ms"])
        .arg("--out")
        .arg(out.path())
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success();
    let report = report_in(out.path());
    assert!(report["counters"]["requests"].as_u64().unwrap() >= 5);
}

#[test]
fn an_output_folder_that_cannot_be_made_exits_3_naming_it_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let inside = file.join("report");
    storm(5, "1s")
        .arg("--out")
        .arg(&inside)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "cannot create the output folder {}",
            inside.display()
        )))
        .stderr(predicate::str::contains(
            "= fix: give --out a folder you can write to",
        ));
}

#[test]
fn an_unreachable_target_exits_3_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dead.yaml");
    // Port 1 on loopback: nothing listens there.
    std::fs::write(&target, "preset: mock\nbase_url: http://127.0.0.1:1\n").unwrap();
    authbench()
        .args(["run", "scenarios/storm.yaml", "--quiet", "--target"])
        .arg(&target)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("unreachable"))
        .stderr(predicate::str::contains("127.0.0.1:1"));
}

/// The `.yaml` files in `dir` (relative to the repository).
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect()
}

#[test]
fn every_shipped_scenario_validates() {
    for path in yaml_files("scenarios") {
        authbench().arg("validate").arg(&path).assert().success();
    }
}

#[test]
fn the_committed_schema_matches_the_binary() {
    let output = authbench().arg("schema").output().unwrap();
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("authbench.schema.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        printed, committed,
        "regenerate with: authbench schema > authbench.schema.json"
    );
    assert_eq!(
        printed["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
}

#[test]
fn every_shipped_target_profile_validates() {
    for path in yaml_files("scenarios/targets") {
        authbench()
            .arg("validate")
            .arg(&path)
            .assert()
            .success()
            .stdout(predicate::str::contains("valid target profile"));
    }
}

#[test]
fn the_mock_target_profile_starts_the_mock_with_the_check_knobs() {
    // `authbench check scenarios/targets/mock.yaml` must see the same knobs as the builtin check
    // target, so every check is applicable against the external process too.
    let first = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/targets/mock.yaml"),
    )
    .unwrap()
    .lines()
    .next()
    .unwrap()
    .to_string();
    assert!(
        first.starts_with("# authbench mock --port 8080 --admin-key dev-admin "),
        "{first}"
    );
    assert!(
        first.ends_with(authbench::checks::BUILTIN_MOCK_FLAGS),
        "{first}"
    );
}

#[test]
fn a_server_that_fails_every_login_fails_the_run_and_the_summary_says_why() {
    let addr = crate::canned::serve(
        "501 Not Implemented",
        "text/html",
        "<h1>501 Not Implemented</h1>",
    );
    let out = tempfile::tempdir().unwrap();
    let run = storm(5, "500ms")
        .args(["--target", &format!("http://{addr}")])
        // No scenario thresholds: the defaults alone must fail the run.
        .args(["--set", "expect=[]", "--set", "plan.0.login.ramp=100ms"])
        .arg("--out")
        .arg(out.path())
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&run.get_output().stdout).to_string();
    for needle in [
        "failures.login.5xx",
        "0 of 5",
        "never_logged_in == 0 (default)",
        "failure_rate < 1% (default)",
        "sample failures",
        "login 501 (5xx): <h1>501 Not Implemented</h1>",
    ] {
        assert!(stdout.contains(needle), "{needle:?} missing in:\n{stdout}");
    }
    let report = report_in(out.path());
    assert_eq!(report["counters"]["never_logged_in"], 5);
    assert_eq!(report["counters"]["clients_logged_in"], 0);
    assert_eq!(report["derived"]["failure_rate"], 1.0);
    // The configuration in the report is what ran: the target given, `--duration`, and no mock
    // section (the builtin mock did not run).
    let config = &report["run"]["config"];
    assert_eq!(config["target"], format!("http://{addr}"), "{config}");
    assert!(config.get("mock").is_none(), "{config}");
    assert_eq!(
        config["plan"][2]["traffic"]["duration"], "500ms",
        "{config}"
    );
    assert!(
        report["histograms"].get("login").is_none(),
        "no successful login"
    );
    assert!(
        report["histograms"]["login_failed"]["count"]
            .as_u64()
            .unwrap()
            >= 5
    );
    assert_eq!(report["failure_samples"][0]["status"], 501);
    assert_eq!(report["thresholds"][0]["origin"], "default");
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(
        html.contains("Sample failures"),
        "report.html shows the samples"
    );
    assert!(
        html.contains("(0 logged in)"),
        "report.html shows who got a session"
    );
}

#[test]
fn progress_counts_down_in_plain_lines_when_stderr_is_not_a_terminal() {
    let out = tempfile::tempdir().unwrap();
    let start_at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let output = storm(20, "1s")
        .args([
            "--set",
            "mock.access_ttl=1s",
            "--set",
            "plan.0.login.ramp=100ms",
            "--start-at",
            &start_at,
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    // A plain line at each phase change: the wait for --start-at, the wait for the synchronized
    // expiry, and the end of the traffic phase, each with its countdown.
    let at = |s: &str| {
        err.find(s)
            .unwrap_or_else(|| panic!("stderr lacks {s:?}:\n{err}"))
    };
    assert!(
        at("phase waiting (0/3) starts in") < at("storm in"),
        "{err}"
    );
    assert!(at("storm in") < at("phase traffic (3/3) ends in"), "{err}");
    assert!(err.contains("req/s"), "{err}");
}

#[test]
fn the_clients_bounds_in_messages_are_the_validated_ones() {
    assert_eq!(
        authbench::scenario::CLIENTS,
        format!(
            "a whole number from 1 to {}, e.g. 100",
            authbench::scenario::validate::MAX_CLIENTS
        )
    );
}

#[test]
fn a_shard_without_clients_is_refused() {
    let out = tempfile::tempdir().unwrap();
    authbench()
        .args([
            "run",
            "scenarios/storm.yaml",
            "--clients",
            "2",
            "--shard",
            "4/5",
            "--out",
        ])
        .arg(out.path().join("r"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--shard 4/5: --clients 2, so shard 4 of 5 would run no client",
        ))
        .stderr(predicate::str::contains(
            "fix: run at most 2 shards (--shard i/2), or at least 5 clients (--clients 5)",
        ));
    assert!(!out.path().join("r").exists());
}

/// A target profile for a server that is not there (the refusals come before any request).
fn absent_server(dir: &Path) -> PathBuf {
    let profile = dir.join("idp.yaml");
    std::fs::write(&profile, "preset: mock\nbase_url: http://127.0.0.1:1\n").unwrap();
    profile
}

#[test]
fn mock_settings_with_another_target_are_refused_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let profile = absent_server(dir.path());
    authbench()
        .args([
            "run",
            "scenarios/storm.yaml",
            "--set",
            "mock.flaws=[no-kick]",
            "--target",
        ])
        .arg(&profile)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--set mock.flaws=[no-kick]: mock.* configures the builtin mock",
        ))
        .stderr(predicate::str::contains(
            "fix: drop it, or run without --target",
        ));
    // The scenario's own target is another server: the same.
    let scenario = dir.path().join("s.yaml");
    std::fs::write(
        &scenario,
        "name: s\ntarget: idp.yaml\nclients: 1\nplan:\n  - login: { ramp: 0s }\n",
    )
    .unwrap();
    authbench()
        .args(["run"])
        .arg(&scenario)
        .args(["--set", "mock.access_ttl=3s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "mock.* configures the builtin mock",
        ))
        .stderr(predicate::str::contains("--set target=builtin"));
}

#[test]
fn a_scenarios_own_mock_section_with_another_target_is_ignored_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let profile = absent_server(dir.path());
    // storm.yaml has a `mock:` section; the absent server then stops the run (exit 3).
    authbench()
        .args(["run", "scenarios/storm.yaml", "--quiet", "--target"])
        .arg(&profile)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "scenarios/storm.yaml: the `mock:` section is ignored: it configures the builtin mock, and --target is",
        ));
}

#[test]
fn validate_checks_a_target_profiles_overridden_values() {
    let dir = tempfile::tempdir().unwrap();
    let profile = absent_server(dir.path());
    authbench()
        .arg("validate")
        .arg(&profile)
        .args(["--set", "base_url=notaurl"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--set base_url=notaurl: base_url \"notaurl\" is not an http(s) URL",
        ));
    authbench()
        .arg("validate")
        .arg(&profile)
        .args(["--set", "bse_url=http://x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `base_url`?"));
    authbench()
        .arg("validate")
        .arg(&profile)
        .args(["--set", "base_url=https://staging.example.com"])
        .assert()
        .success()
        .stdout(predicate::str::contains("for https://staging.example.com/"));
    // Every shipped profile survives an override unchanged otherwise.
    for file in yaml_files("scenarios/targets") {
        authbench()
            .arg("validate")
            .arg(&file)
            .args(["--set", "base_url=https://staging.example.com"])
            .assert()
            .success();
    }
}
