//! Scenario and target files: every shipped file loads; errors name file, line, column, key and
//! fix; `--set` overrides; garbage never panics.

use std::path::{Path, PathBuf};
use std::time::Duration;

use authbench::profile;
use authbench::scenario::{
    self, Connections, ErrorKind, Phase, Strategy, TargetSpec, UserSource, load, load_str,
};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_scenario_file_loads_and_validates() {
    let files = yaml_files("scenarios");
    assert!(files.len() >= 4, "{files:?}");
    for f in &files {
        let s = load(f, &[]).unwrap_or_else(|e| panic!("{}:\n{e}", f.display()));
        assert!(!s.plan.is_empty(), "{}", f.display());
        assert!(
            !s.description.is_empty(),
            "{} has no description",
            f.display()
        );
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.lines()
                .any(|l| l.contains("yaml-language-server: $schema=")),
            "{} has no schema modeline",
            f.display()
        );
        assert!(
            text.contains("# Run:"),
            "{} does not say how to run it",
            f.display()
        );
    }
}

#[test]
fn every_target_file_loads() {
    let files = yaml_files("scenarios/targets");
    assert!(files.len() >= 3, "{files:?}");
    for f in &files {
        // Secrets come from the environment; validating the files must not need them.
        let text = std::fs::read_to_string(f).unwrap();
        let p = profile::profile_from_str_with(&text, Some(f), profile::EnvCheck::Skip)
            .unwrap_or_else(|e| panic!("{}:\n{e}", f.display()));
        assert!(
            text.lines()
                .any(|l| l.contains("yaml-language-server: $schema=")),
            "{} has no schema modeline",
            f.display()
        );
        assert!(p.base_url().scheme().starts_with("http"));
    }
    for name in ["mock", "mock-json", "oauth2"] {
        let f = repo(&format!("scenarios/targets/{name}.yaml"));
        let p = profile::load_profile(&f).unwrap_or_else(|e| panic!("{}:\n{e}", f.display()));
        assert_eq!(
            p.base_url().as_str(),
            "http://127.0.0.1:8080/",
            "{}",
            f.display()
        );
    }
    let first = std::fs::read_to_string(repo("scenarios/targets/mock.yaml")).unwrap();
    assert!(
        first
            .lines()
            .next()
            .unwrap()
            .starts_with("# authbench mock --port 8080"),
        "mock.yaml must start with the command that starts the mock"
    );
}

#[test]
fn storm_has_the_promised_shape() {
    let s = load(&repo("scenarios/storm.yaml"), &[]).unwrap();
    assert!(s.clients >= 5000);
    assert_eq!(s.target, TargetSpec::Builtin);
    assert_eq!(s.mock.port, 0, "the builtin mock binds port 0");
    assert_eq!(s.mock.access_ttl, Duration::from_secs(5));
    assert_eq!(s.client.strategy, Strategy::SingleFlight);
    assert_eq!(s.client.concurrency, 4);
    assert_eq!(s.client.connections, Connections::Pool(500));
    assert!(matches!(s.plan[1], Phase::SyncExpiry { .. }));
    assert!(
        s.expect
            .iter()
            .any(|e| e.expr.contains("refresh_amplification"))
    );
    assert_eq!(s.users.credentials(7), ("user7".into(), "pw-7".into()));
    assert_eq!(s.config["clients"], 5000);
}

#[test]
fn defaults_apply() {
    let s = load_str("plan:\n  - login: {}\n  - traffic: { duration: 5s }\n", &[]).unwrap();
    assert_eq!(s.name, "scenario");
    assert_eq!(s.clients, 1);
    assert_eq!(s.client.strategy, Strategy::SingleFlight);
    assert_eq!(s.client.concurrency, 1);
    assert_eq!(s.client.timeout, Duration::from_secs(10));
    assert_eq!(s.client.think_time, Duration::from_secs(1));
    assert_eq!(s.client.connections, Connections::PerClient);
    assert_eq!(s.mock.access_ttl, Duration::from_secs(30));
    assert!(matches!(s.users, UserSource::Pattern { offset: 0, .. }));
    assert_eq!(
        s.plan[0],
        Phase::Login {
            ramp: Duration::ZERO
        }
    );
}

#[test]
fn every_phase_parses() {
    let src = "client: { websocket: true }\nplan:\n  - login: { ramp: 1s }\n  - sync_expiry: {}\n  - traffic: { duration: 1h30m, rate: 120/m }\n  - refresh_race: { parallel: 4 }\n  - relogin: { ramp: 250ms }\n  - ws_connect: {}\n  - force_logout: {}\n  - wait: { duration: 2s }\n  - logout: {}\n";
    let s = load_str(src, &[]).unwrap();
    let names: Vec<_> = s.plan.iter().map(Phase::name).collect();
    assert_eq!(
        names,
        [
            "login",
            "sync_expiry",
            "traffic",
            "refresh_race",
            "relogin",
            "ws_connect",
            "force_logout",
            "wait",
            "logout"
        ]
    );
    assert_eq!(
        s.plan[1],
        Phase::SyncExpiry {
            offset: Duration::from_millis(100)
        }
    );
    match &s.plan[2] {
        Phase::Traffic { duration, rate } => {
            assert_eq!(*duration, Duration::from_secs(5400));
            assert_eq!(rate.unwrap().per_second, 2.0);
        }
        other => panic!("{other:?}"),
    }
    assert!(s.uses_websocket());
}

#[test]
fn devices_and_logout_everywhere_parse_with_their_defaults() {
    let src = "client: { devices: 3 }\nmock: { max_sessions: 3 }\nplan:\n  - login: {}\n  - logout_everywhere: {}\n  - logout_everywhere: { ramp: 2s, await_expiry: 0s }\n";
    let s = load_str(src, &[]).unwrap();
    assert_eq!(s.client.devices, 3);
    assert_eq!(s.mock.max_sessions, 3);
    assert_eq!(s.mock.session_limit(), Some(3));
    assert_eq!(
        s.plan[1],
        Phase::LogoutEverywhere {
            ramp: Duration::ZERO,
            await_expiry: Duration::from_secs(30)
        }
    );
    assert_eq!(s.plan[2].name(), "logout_everywhere");
    let plan = authbench::engine::Plan::from_scenario(&s);
    assert_eq!(plan.devices, 3);
    assert_eq!(
        load_str("plan: [ { login: {} } ]\n", &[])
            .unwrap()
            .client
            .devices,
        1
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Why loading `text` from a file called `name` fails.
fn load_file_err(name: &str, text: &str) -> scenario::ConfigError {
    let dir = tempfile::tempdir().unwrap();
    load(&write(dir.path(), name, text), &[]).unwrap_err()
}

#[test]
fn typo_gives_did_you_mean_with_line_and_column() {
    let e = load_file_err("typo.yaml", "name: t\nclinets: 100\nplan:\n  - login: {}\n");
    assert_eq!(e.kind(), ErrorKind::UnknownKey);
    assert_eq!(e.position(), Some((2, 1)));
    let s = e.to_string();
    assert!(s.contains("typo.yaml:2:1:"), "{s}");
    assert!(
        s.contains("unknown field `clinets`, did you mean `clients`?"),
        "{s}"
    );
    assert!(s.contains("clinets: 100"), "snippet missing: {s}");
    assert!(s.contains("= fix: rename `clinets` to `clients`"), "{s}");
    assert!(s.contains("= key: clinets"), "{s}");

    // Nested keys and phase names.
    let e = load_str("client:\n  concurency: 4\nplan: [ { login: {} } ]\n", &[]).unwrap_err();
    assert_eq!(e.position(), Some((2, 3)));
    assert_eq!(e.key(), Some("client.concurency"));
    assert!(e.to_string().contains("did you mean `concurrency`?"), "{e}");
    let e = load_str("plan:\n  - login: {}\n  - sync_expiri: {}\n", &[]).unwrap_err();
    assert_eq!(e.position().map(|p| p.0), Some(3));
    assert!(e.to_string().contains("did you mean `sync_expiry`?"), "{e}");
    let e = load_str(
        "client: { strategy: singleflight }\nplan: [ { login: {} } ]\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("did you mean `single-flight`?"),
        "{e}"
    );
    let e = load_str("plan:\n  - traffic: { duration: 5s, rat: 5/s }\n", &[]).unwrap_err();
    assert!(e.to_string().contains("did you mean `rate`?"), "{e}");
}

#[test]
fn bad_duration_names_value_and_examples() {
    let e = load_str(
        "plan:\n  - login: {}\n  - traffic: { duration: 30 parsecs }\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
    let s = e.to_string();
    assert!(s.contains("\"30 parsecs\""), "{s}");
    assert!(s.contains("30s") && s.contains("250ms"), "{s}");
    assert_eq!(e.position().map(|p| p.0), Some(3));
    let e = load_str("client: { think_time: 30 }\nplan: [ { login: {} } ]\n", &[]).unwrap_err();
    assert!(e.to_string().contains("needs a unit"), "{e}");
    let e = load_str(
        "plan:\n  - login: {}\n  - traffic: { duration: 1s, rate: 2000 }\n",
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("2000/s"), "{e}");
}

/// The error of loading `text` from `bad.yaml`, checked for its key, `line:column` (also in the
/// rendered message, after the file name) and fix (exactly, and as the rendered `= fix:` line).
fn value_error(text: &str, key: &str, at: (u64, u64), fix: &str) -> scenario::ConfigError {
    let e = load_file_err("bad.yaml", text);
    let s = e.to_string();
    assert_eq!(e.kind(), ErrorKind::InvalidValue, "{s}");
    assert_eq!(e.key(), Some(key), "{s}");
    assert_eq!(e.position(), Some(at), "{s}");
    assert!(s.contains(&format!("bad.yaml:{}:{}: ", at.0, at.1)), "{s}");
    assert_eq!(e.diagnostic().fix.as_deref(), Some(fix), "{s}");
    assert!(
        s.contains(&format!("\n  = key: {key}\n  = fix: {fix}")),
        "{s}"
    );
    e
}

#[test]
fn a_percentage_for_scoped_share_gets_the_fraction_as_its_fix() {
    value_error(
        "name: t\nclient:\n  scoped_share: 25%\nplan:\n  - login: {}\n",
        "client.scoped_share",
        (3, 17),
        "write the share as a number from 0 to 1, not a percentage: `scoped_share: 0.25`",
    );
    let e = value_error(
        "name: t\nclient: { scoped_share: lots }\nplan:\n  - login: {}\n",
        "client.scoped_share",
        (2, 25),
        "`scoped_share` takes a number from 0 to 1, e.g. `scoped_share: 0.25` (a quarter of the calls)",
    );
    assert!(e.to_string().contains("expected a number"), "{e}");
    // Through --set as well.
    for (set, fix) in [
        (
            "client.scoped_share=25%",
            "write the share as a number from 0 to 1, not a percentage: `scoped_share: 0.25`",
        ),
        (
            "client.tabs=4.5",
            "`tabs` takes a whole number of tabs from 1 to 64, e.g. `tabs: 4`",
        ),
    ] {
        let e = load_str("plan: [ { login: {} } ]\n", &[set.into()]).unwrap_err();
        assert_eq!(e.diagnostic().fix.as_deref(), Some(fix), "{e}");
    }
}

#[test]
fn a_fraction_of_a_tab_gets_a_whole_number_as_its_fix() {
    let e = value_error(
        "name: t\nclient:\n  tabs: 4.5\nplan:\n  - login: {}\n",
        "client.tabs",
        (3, 9),
        "`tabs` takes a whole number of tabs from 1 to 64, e.g. `tabs: 4`",
    );
    assert!(e.to_string().contains("expected a whole number"), "{e}");
}

#[test]
fn one_flaw_written_without_a_list_gets_the_list_form_as_its_fix() {
    value_error(
        "name: t\nmock:\n  flaws: racy-rotation\nplan:\n  - login: {}\n",
        "mock.flaws",
        (3, 10),
        "write a list, even of one item: `flaws: [racy-rotation]`",
    );
    value_error(
        "name: t\nmock:\n  faults: \"error:refresh=1%\"  # one\nplan:\n  - login: {}\n",
        "mock.faults",
        (3, 11),
        "write a list, even of one item: `faults: [\"error:refresh=1%\"]`",
    );
}

#[test]
fn a_pattern_alone_for_users_gets_the_users_mapping_as_its_fix() {
    let e = value_error(
        "name: t\nusers: \"user{n}\"\nplan:\n  - login: {}\n",
        "users",
        (2, 8),
        "`users` takes a mapping: write `users: { pattern: \"user{n}\", password: \"pw-{n}\" }` (or `users: { csv: users.csv }`)",
    );
    assert!(!e.to_string().contains("phase"), "{e}");
    value_error(
        "name: t\nusers: accounts.csv\nplan:\n  - login: {}\n",
        "users",
        (2, 8),
        "`users` takes a mapping: write `users: { csv: accounts.csv }`",
    );
    // The mock's `users` is a number, not the credentials.
    value_error(
        "name: t\nmock: { users: lots }\nplan:\n  - login: {}\n",
        "mock.users",
        (2, 16),
        "`users` takes a whole number, e.g. 100",
    );
    // A phase's settings keep the phase fix.
    let e = load_file_err("bad.yaml", "name: t\nplan:\n  - login: 2s\n");
    assert!(
        e.diagnostic()
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("- login: { ramp: 2s }")),
        "{e}"
    );
}

/// Every duration unit, as errors and the README list them.
const UNITS: &str = "ns|nsec|nanos, us|µs|usec, ms|msec|millis, s|sec|secs|second|seconds, m|min|mins|minute|minutes, h|hr|hrs|hour|hours, d|day|days, w|wk|wks|week|weeks, M|month|months, y|yr|yrs|year|years";

#[test]
fn an_upper_case_duration_unit_gets_the_lower_case_form_and_the_real_units() {
    let e = value_error(
        "name: t\nclient:\n  think_time: 2S\nplan:\n  - login: {}\n",
        "client.think_time",
        (3, 15),
        "write `2s`: units are case-sensitive and lower case (M is months)",
    );
    let s = e.to_string();
    assert!(
        s.contains(&format!(
            "invalid duration \"2S\": unknown unit \"S\", did you mean `2s`? (units are case-sensitive); units: {UNITS} ("
        )),
        "{s}"
    );
    // Exactly the units the parser takes, and the README lists the same.
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    assert!(
        readme.contains(&format!("`{UNITS}`")),
        "README does not list: {UNITS}"
    );
    // Through --set as well.
    let e = load_str(
        "plan: [ { login: {} } ]\n",
        &["client.think_time=2S".into()],
    )
    .unwrap_err();
    assert_eq!(
        e.diagnostic().fix.as_deref(),
        Some("write `2s`: units are case-sensitive and lower case (M is months)"),
        "{e}"
    );
}

#[test]
fn missing_and_wrong_typed_values() {
    let e = load_str("clients: 10\n", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingKey);
    assert!(e.to_string().contains("`plan`"), "{e}");
    let e = load_str("clients: many\nplan: [ { login: {} } ]\n", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
    assert_eq!(e.position(), Some((1, 10)));
    assert_eq!(e.key(), Some("clients"));
    let e = load_str("plan:\n  - traffic: {}\n", &[]).unwrap_err();
    assert!(e.to_string().contains("missing key `duration`"), "{e}");
    assert_eq!(e.key(), Some("plan.0.traffic.duration"));
    let e = load_str("plan: [\n", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(e.diagnostic().fix.is_some(), "{e}");
}

#[test]
fn semantic_errors_point_at_the_key() {
    let e = load_file_err(
        "bad.yaml",
        "clients: 10\nclient:\n  concurrency: 100\nplan:\n  - login: {}\n",
    );
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(e.key(), Some("client.concurrency"));
    assert_eq!(e.position(), Some((3, 3)));
    assert!(e.to_string().contains("bad.yaml:3:3:"), "{e}");

    let cases: &[(&str, &str)] = &[
        ("clients: 0\nplan: [ { login: {} } ]\n", "clients"),
        ("plan:\n  - sync_expiry: {}\n", "plan.0.sync_expiry"),
        ("plan:\n  - traffic: { duration: 0s }\n", "plan.0.traffic"),
        ("plan: []\n", "plan"),
        (
            "client: { strategy: proactive, proactive_margin: 30s }\nplan: [ { login: {} } ]\n",
            "client.proactive_margin",
        ),
        (
            "client: { strategy: proactive, proactive_margin: 2s, jitter: 3s }\nmock: { access_ttl: 10s }\nplan: [ { login: {} } ]\n",
            "client.jitter",
        ),
        (
            "client: { strategy: sliding }\nplan: [ { login: {} } ]\n",
            "client.strategy",
        ),
        (
            "clients: 20\nmock: { users: 10 }\nplan: [ { login: {} } ]\n",
            "clients",
        ),
        (
            "users: { pattern: alice }\nplan: [ { login: {} } ]\n",
            "users.pattern",
        ),
        (
            "mock: { flaws: [no-kik] }\nplan: [ { login: {} } ]\n",
            "mock.flaws.0",
        ),
        (
            "mock: { access_ttl: 0s }\nplan: [ { login: {} } ]\n",
            "mock.access_ttl",
        ),
        ("name: \"a b\"\nplan: [ { login: {} } ]\n", "name"),
        (
            "plan:\n  - login: {}\n  - refresh_race: { parallel: 1 }\n",
            "plan.1.refresh_race.parallel",
        ),
        (
            "client: { scoped_share: 1.5 }\nplan: [ { login: {} } ]\n",
            "client.scoped_share",
        ),
        (
            "client: { devices: 0 }\nplan: [ { login: {} } ]\n",
            "client.devices",
        ),
        (
            "client: { devices: 17 }\nplan: [ { login: {} } ]\n",
            "client.devices",
        ),
        (
            "plan:\n  - login: {}\n  - logout_everywhere: { await_expiry: 11m }\n",
            "plan.1.logout_everywhere.await_expiry",
        ),
        (
            "mock: { single_session: true, max_sessions: 3 }\nplan: [ { login: {} } ]\n",
            "mock.max_sessions",
        ),
    ];
    for (src, key) in cases {
        let e = load_str(src, &[]).unwrap_err();
        assert!(
            e.key().is_some_and(|k| k.starts_with(key)),
            "{src}: expected key {key}, got {e}"
        );
        assert!(e.diagnostic().fix.is_some(), "{src}: no fix in {e}");
    }
    let e = load_str("mock: { flaws: [no-kik] }\nplan: [ { login: {} } ]\n", &[]).unwrap_err();
    assert!(e.to_string().contains("no-kick"), "{e}");
}

#[test]
fn csv_users_relative_to_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "users.csv",
        "username,password\nalice,a1\nbob,b2\n",
    );
    let f = write(
        dir.path(),
        "s.yaml",
        "clients: 2\nusers: { csv: users.csv }\nplan: [ { login: {} } ]\n",
    );
    let s = load(&f, &[]).unwrap();
    assert_eq!(s.users.credentials(1), ("bob".into(), "b2".into()));
    let e = load(&f, &["clients=3".into()]).unwrap_err();
    assert!(e.to_string().contains("2 users for 3 clients"), "{e}");
}

#[test]
fn overrides_work() {
    let base = repo("scenarios/storm.yaml");
    let s = load(
        &base,
        &[
            "client.strategy=naive".into(),
            "clients=100".into(),
            "mock.access_ttl=2s".into(),
            "plan.2.traffic.duration=5s".into(),
            "client.connections=per-client".into(),
            "name=2024".into(),
            "expect=[spurious_logouts == 0]".into(),
        ],
    )
    .unwrap();
    assert_eq!(s.client.strategy, Strategy::Naive);
    assert_eq!(s.clients, 100);
    assert_eq!(s.mock.access_ttl, Duration::from_secs(2));
    assert_eq!(
        s.plan[2],
        Phase::Traffic {
            duration: Duration::from_secs(5),
            rate: None
        }
    );
    assert_eq!(s.client.connections, Connections::PerClient);
    assert_eq!(s.name, "2024");
    let exprs: Vec<&str> = s.expect.iter().map(|t| t.expr.as_str()).collect();
    assert_eq!(exprs, ["spurious_logouts == 0"]);
    assert_eq!(s.config["client"]["strategy"], "naive");

    let s = load(&repo("scenarios/jitter.yaml"), &["client.jitter=0s".into()]).unwrap();
    assert_eq!(s.client.jitter, Duration::ZERO);
}

#[test]
fn bad_overrides_are_clear() {
    let base = repo("scenarios/storm.yaml");
    let err = |set: &str| load(&base, &[set.to_string()]).unwrap_err();
    let e = err("clinets=5");
    assert_eq!(e.kind(), ErrorKind::Override);
    let s = e.to_string();
    assert!(s.starts_with("--set clinets=5: "), "{s}");
    assert!(
        s.contains("did you mean `clients`?") && s.contains("--set clients=5"),
        "{s}"
    );
    let s = err("client.strategy=fastest").to_string();
    assert!(
        s.contains("unknown value `fastest`") && s.contains("single-flight"),
        "{s}"
    );
    let s = err("mock.access_ttl=soon").to_string();
    assert!(
        s.contains("--set mock.access_ttl=soon") && s.contains("250ms"),
        "{s}"
    );
    let s = err("plan.9.traffic.duration=5s").to_string();
    assert!(s.contains("list of 3 entries"), "{s}");
    let s = err("plan.2.duration=5s").to_string();
    assert!(s.contains("plan.2.traffic.duration"), "{s}");
    let s = err("clients").to_string();
    assert!(s.contains("KEY=VALUE"), "{s}");
    // A semantic problem caused by an override names the override, not the file.
    let e = err("client.concurrency=100");
    assert_eq!(e.key(), Some("client.concurrency"));
    assert!(
        e.to_string().starts_with("--set client.concurrency=100: "),
        "{e}"
    );
}

#[test]
fn garbage_never_panics() {
    let mut inputs: Vec<String> = [
        "",
        "   \n# only a comment\n",
        "- a\n- b\n",
        "42",
        "plan",
        "{",
        "plan: [",
        "\u{0}\u{1}\u{2}",
        "plan: !!binary aGVsbG8=",
        "plan: { login: {} }",
        "plan:\n  - login\n",
        "plan:\n  - login: { ramp: 2s }\n    traffic: {}\n",
        "plan: [ { login: {}, traffic: {} } ]",
        "? [a, b]\n: c\n",
        "name: a\nname: b\nplan: [ { login: {} } ]\n",
        "clients: -1\nplan: [ { login: {} } ]\n",
        "clients: 99999999999999999999\nplan: [ { login: {} } ]\n",
        "---\nplan: []\n---\nplan: []\n",
        "plan: [ { traffic: { duration: 1s, rate: \"1e308/s\" } } ]",
        "client: { connections: -5 }\nplan: [ { login: {} } ]\n",
        "users: { csv: /nonexistent/users.csv }\nplan: [ { login: {} } ]\n",
        "users: { csv: x.csv, pattern: \"u{n}\" }\nplan: [ { login: {} } ]\n",
        "expect: [ 1, 2 ]\nplan: [ { login: {} } ]\n",
        "mock: { faults: [\"latency:refresh=9..1\"] }\nplan: [ { login: {} } ]\n",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Billion laughs.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        bomb.push_str(&format!(
            "{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    bomb.push_str("plan: *j\n");
    inputs.push(bomb);
    inputs.push("[".repeat(10_000));
    inputs.push(format!(
        "name: {}\nplan: [ {{ login: {{}} }} ]\n",
        "x".repeat(100_000)
    ));
    for input in &inputs {
        let r = std::panic::catch_unwind(|| load_str(input, &[]));
        let r = r.unwrap_or_else(|_| panic!("panicked on {:?}", &input[..input.len().min(80)]));
        if let Err(e) = r {
            let text = e.to_string();
            assert!(!text.is_empty());
            assert!(
                text.len() < 20_000,
                "error too long for {:?}",
                &input[..input.len().min(40)]
            );
        }
        let _ = std::panic::catch_unwind(|| profile::profile_from_str(input, None))
            .unwrap_or_else(|_| panic!("profile panicked on {:?}", &input[..input.len().min(80)]));
    }
}

#[test]
fn empty_and_non_mapping_files_say_so() {
    let e = load_str("# nothing\n", &[]).unwrap_err();
    assert!(e.to_string().contains("is empty"), "{e}");
    let e = load_str("- login: {}\n", &[]).unwrap_err();
    assert!(e.to_string().contains("not a list"), "{e}");
}

#[test]
fn io_errors_name_the_file() {
    let e = load(Path::new("/nonexistent/dir/s.yaml"), &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("/nonexistent/dir/s.yaml"), "{e}");
}

#[test]
fn target_specs() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "t.yaml",
        "target: targets/x.yaml\nplan: [ { login: {} } ]\n",
    );
    let s = load(&f, &[]).unwrap();
    assert_eq!(
        s.target,
        TargetSpec::File(dir.path().join("targets/x.yaml"))
    );
    let s = load(&f, &["target=https://idp.example.com".into()]).unwrap();
    assert_eq!(s.target, TargetSpec::Url("https://idp.example.com".into()));
    let s = load(&f, &["target=builtin".into()]).unwrap();
    assert_eq!(s.target, TargetSpec::Builtin);
}

#[test]
fn threshold_expressions_are_validated() {
    let e = load_str(
        "plan: [ { login: {} } ]\nexpect:\n  - p99(refresh) < 250ms\n  - p99(refresh) <<< fast\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key(), Some("expect.1"));
    assert_eq!(e.position().map(|p| p.0), Some(4));
    // The fix line is the expression corrected, where the error knows the correction.
    let e = load_str(
        "plan: [ { login: {} } ]\nexpect:\n  - unnoticed.kiked == 0\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.diagnostic().fix.as_deref(),
        Some("write `unnoticed.kicked == 0`"),
        "{e}"
    );
}

#[test]
fn schema_is_draft07_and_closed() {
    let schema = scenario::json_schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let defs = schema["definitions"].as_object().unwrap();
    let scen = &defs["Scenario"];
    assert_eq!(scen["additionalProperties"], false);
    assert!(scen["properties"]["clients"].is_object());
    assert!(
        scen["properties"].get("clinets").is_none(),
        "an unknown key is rejected"
    );
    assert_eq!(scen["required"], serde_json::json!(["plan"]));
    let target = &defs["TargetProfile"];
    assert_eq!(target["additionalProperties"], false);
    assert!(target["properties"]["base_url"].is_object());
    // Durations are strings with a pattern.
    let cc = &defs["ClientConfig"]["properties"]["think_time"];
    assert_eq!(cc["type"], "string");
    assert!(cc["pattern"].is_string());
    // Phases: one-key maps, each closed.
    let phase = defs["Phase"].to_string();
    assert!(
        phase.contains("sync_expiry") && phase.contains("refresh_race"),
        "{phase}"
    );
    // Every $ref resolves.
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, c) in m {
                    if k == "$ref" {
                        out.push(c.as_str().unwrap().to_string());
                    } else {
                        refs(c, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&schema, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(defs.contains_key(name), "dangling {r}");
    }
    // No draft 2019+ keywords.
    let text = schema.to_string();
    assert!(!text.contains("$defs") && !text.contains("unevaluatedProperties"));
}

#[test]
fn an_outage_phase_parses_and_its_duration_is_bounded() {
    let s = load_str(
        "plan:\n  - login: {}\n  - outage: { duration: 3s }\n  - traffic: { duration: 10s }\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        s.plan[1],
        Phase::Outage {
            duration: Duration::from_secs(3)
        }
    );
    assert_eq!(s.plan[1].name(), "outage");
    for bad in ["0s", "2h"] {
        let e = load_str(
            &format!("plan:\n  - login: {{}}\n  - outage: {{ duration: {bad} }}\n"),
            &[],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.key(), Some("plan.1.outage.duration"), "{msg}");
        assert_eq!(e.position().map(|p| p.0), Some(3), "{msg}");
        assert!(msg.contains("at most 10m"), "{msg}");
    }
    let e = load_str("plan:\n  - outage: {}\n", &[]).unwrap_err();
    assert!(e.to_string().contains("duration"), "{e}");
}

#[test]
fn an_idle_phase_parses_needs_a_login_and_a_duration() {
    let s = load_str(
        "plan:\n  - login: {}\n  - idle: { duration: 2m }\n  - traffic: { duration: 10s }\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        s.plan[1],
        Phase::Idle {
            duration: Duration::from_secs(120)
        }
    );
    assert_eq!(s.plan[1].name(), "idle");
    let e = load_str("plan:\n  - login: {}\n  - idle: { duration: 0s }\n", &[]).unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.key(), Some("plan.1.idle.duration"), "{msg}");
    assert_eq!(e.position().map(|p| p.0), Some(3), "{msg}");
    assert!(msg.contains("idle lasts 0s"), "{msg}");
    let e = load_str("plan:\n  - idle: { duration: 5s }\n", &[]).unwrap_err();
    assert!(e.to_string().contains("needs logged-in clients"), "{e}");
    let e = load_str("plan:\n  - login: {}\n  - idle: {}\n", &[]).unwrap_err();
    assert!(e.to_string().contains("duration"), "{e}");
}

#[test]
fn every_duration_has_an_upper_bound() {
    let huge = "18446744073709551615s";
    // (scenario with VALUE for the value, the key, the limit in the message, the largest value
    // accepted, one just past it)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "client: { think_time: VALUE }\nplan: [ { login: {} } ]\n",
            "client.think_time",
            "longer than a day",
            "24h",
            "24h 1ms",
        ),
        (
            "client: { timeout: VALUE }\nplan: [ { login: {} } ]\n",
            "client.timeout",
            "longer than a day",
            "1d",
            "1d 1s",
        ),
        (
            "client: { proactive_margin: VALUE }\nplan: [ { login: {} } ]\n",
            "client.proactive_margin",
            "longer than a day",
            "1d",
            "25h",
        ),
        (
            "client: { jitter: VALUE }\nplan: [ { login: {} } ]\n",
            "client.jitter",
            "longer than a day",
            "1d",
            "2d",
        ),
        (
            "plan:\n  - login: {}\n  - sync_expiry: { offset: VALUE }\n",
            "plan.1.sync_expiry.offset",
            "longer than a day",
            "1d",
            "1d 1ns",
        ),
        (
            "plan:\n  - login: {}\n  - relogin: { ramp: VALUE }\n",
            "plan.1.relogin.ramp",
            "longer than a day",
            "1d",
            "1d 1s",
        ),
        (
            "plan:\n  - login: {}\n  - traffic: { duration: VALUE }\n",
            "plan.1.traffic.duration",
            "longer than 30 days",
            "30d",
            "30d 1s",
        ),
        (
            "plan:\n  - login: {}\n  - wait: { duration: VALUE }\n",
            "plan.1.wait.duration",
            "longer than 30 days",
            "30d",
            "31d",
        ),
        (
            "plan:\n  - login: {}\n  - idle: { duration: VALUE }\n",
            "plan.1.idle.duration",
            "longer than 30 days",
            "720h",
            "720h 1ms",
        ),
    ];
    for (src, key, limit, max, past) in cases {
        load_str(&src.replace("VALUE", max), &[])
            .unwrap_or_else(|e| panic!("{key}: {max} should load:\n{e}"));
        for bad in [*past, huge] {
            let text = src.replace("VALUE", bad);
            let e = load_str(&text, &[]).unwrap_err();
            let msg = e.to_string();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{msg}");
            assert_eq!(e.key(), Some(*key), "{msg}");
            assert!(e.position().is_some(), "{key}: no position in {msg}");
            assert!(msg.contains(limit), "{key}: {msg}");
            assert!(e.diagnostic().fix.is_some(), "{key}: no fix in {msg}");
        }
        // The same through `--set` names the override.
        let set = format!("{key}={huge}");
        let e = load_str(&src.replace("VALUE", max), std::slice::from_ref(&set)).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.key(), Some(*key), "{msg}");
        assert!(
            msg.contains(&format!("--set {set}")) && msg.contains(limit),
            "{msg}"
        );
    }
}

#[test]
fn recheck_bounds_a_traffic_duration_set_after_loading() {
    let mut s = load_str("plan:\n  - login: {}\n  - traffic: { duration: 5s }\n", &[]).unwrap();
    scenario::validate::recheck(&s).unwrap();
    s.plan[1] = Phase::Traffic {
        duration: Duration::from_secs(9_999_999_999_999),
        rate: None,
    };
    let p = scenario::validate::recheck(&s).unwrap_err();
    assert_eq!(p.path, "plan.1.traffic.duration");
    assert!(p.message.contains("longer than 30 days"), "{p:?}");
    s.plan[1] = Phase::Traffic {
        duration: scenario::validate::MAX_PHASE_DURATION,
        rate: None,
    };
    scenario::validate::recheck(&s).unwrap();
}

#[test]
fn a_value_of_the_wrong_kind_is_told_what_its_key_takes_not_serde_words() {
    // Each of these read serde's words with no fix (`externally tagged enum expected scalar or
    // mapping`, `expected string scalar`, `invalid u32` under the caret, `expected string or
    // map`, `expected struct variant`).
    let file = |client: &str| {
        load_str(
            &format!("clients: 2\nclient:\n  {client}\nplan: [ {{ login: {{}} }} ]\n"),
            &[],
        )
        .unwrap_err()
    };
    let e = file("strategy: []");
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
    assert_eq!(e.key(), Some("client.strategy"));
    let s = e.to_string();
    assert!(
        s.contains("a list where a single name belongs")
            && e.diagnostic().fix.as_deref()
                == Some(
                    "`strategy` takes one of: naive, single-flight, proactive, sliding, cookie-session"
                ),
        "{s}"
    );
    assert!(!s.contains("externally tagged"), "{s}");
    let e = file("concurrency: [4]");
    let s = e.to_string();
    assert!(
        s.contains("a list or mapping where a single value belongs"),
        "{s}"
    );
    assert_eq!(
        e.diagnostic().fix.as_deref(),
        Some("`concurrency` takes a whole number from 1 to 64"),
        "{s}"
    );
    let s = file("concurrency: abc").to_string();
    assert!(
        s.contains("expected a whole number") && !s.contains("u32"),
        "the caret's label too: {s}"
    );
    let e = file("tab_sync: [lock]");
    assert_eq!(
        e.diagnostic().fix.as_deref(),
        Some("`tab_sync` takes one of: none, storage-event, lock, leader")
    );
    // A list where a phase belongs.
    let e = load_str("clients: 2\nplan:\n  - [login]\n", &[]).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("a list where a phase belongs"), "{s}");
    assert!(
        e.diagnostic()
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("- login: { ramp: 2s }")),
        "{s}"
    );
    // The same through --set.
    let base = repo("scenarios/storm.yaml");
    let set = |s: &str| load(&base, &[s.to_string()]).unwrap_err();
    let e = set("client.strategy=5");
    let s = e.to_string();
    assert!(
        s.contains("expected a name") && !s.contains("string or map"),
        "{s}"
    );
    assert!(
        e.diagnostic()
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("one of: naive, single-flight")),
        "{s}"
    );
    let e = set("plan.2.traffic=5");
    let s = e.to_string();
    assert!(
        s.contains("expected a mapping (key: value)") && !s.contains("struct variant"),
        "{s}"
    );
    let e = set("client.connections=false");
    assert_eq!(
        e.diagnostic().fix.as_deref(),
        Some("`client.connections` takes `per-client` or a whole number of at least 1")
    );
}

#[test]
fn every_key_of_both_kinds_of_file_says_what_it_takes() {
    // What a key takes is read from the schema (`authbench schema`): every property of a
    // scenario and of a target profile, down to three levels, has a phrase — a key added to the
    // types is covered without a hand-written hint.
    use authbench::config::schema_hint::what_key_takes;
    let schema = scenario::json_schema();
    let defs = schema["definitions"].as_object().unwrap();
    fn props<'a>(
        defs: &'a serde_json::Map<String, serde_json::Value>,
        node: &'a serde_json::Value,
    ) -> Vec<(&'a String, &'a serde_json::Value)> {
        let node = match node.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => &defs[r.trim_start_matches("#/definitions/")],
            None => {
                // `allOf: [one]`, or an optional section (`anyOf: [section, null]`).
                let one = ["allOf", "anyOf"]
                    .iter()
                    .filter_map(|k| node.get(*k).and_then(|a| a.as_array()))
                    .flatten()
                    .filter(|a| a.get("type").and_then(|t| t.as_str()) != Some("null"))
                    .collect::<Vec<_>>();
                match one.as_slice() {
                    [only] => return props(defs, only),
                    _ => node,
                }
            }
        };
        node.get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.iter().collect())
            .unwrap_or_default()
    }
    let mut checked = 0;
    for root in ["Scenario", "TargetProfile"] {
        let mut todo: Vec<(String, &serde_json::Value, usize)> = props(defs, &defs[root])
            .into_iter()
            .map(|(k, v)| (k.clone(), v, 1))
            .collect();
        while let Some((key, node, depth)) = todo.pop() {
            assert!(
                what_key_takes(&schema, &key).is_some(),
                "{root}: `{key}` has no description of what it takes"
            );
            checked += 1;
            if depth < 3 {
                todo.extend(
                    props(defs, node)
                        .into_iter()
                        .map(|(k, v)| (format!("{key}.{k}"), v, depth + 1)),
                );
            }
        }
    }
    assert!(checked > 100, "only {checked} keys walked");
}
