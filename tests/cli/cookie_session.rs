//! `client.strategy: cookie-session` as a user meets it: the shipped scenario passes against the
//! builtin mock in cookie mode and cannot pass when every login is refused; the shipped Django
//! profile runs against the mock's cookie mode; bad combinations are refused with the key and
//! the fix; `check` skips the OAuth catalog against a cookie-session profile.

use std::path::Path;

use assert_cmd::Command;

fn authbench() -> Command {
    let mut cmd = Command::cargo_bin("authbench").expect("authbench binary");
    cmd.env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// The shipped scenario, small and short: 20 clients, 1 s cookies, 500 ms traffic phases.
fn shipped(out: &Path) -> Command {
    let mut cmd = authbench();
    cmd.args(["run", "scenarios/cookie-session.yaml", "--clients", "20"])
        .args(["--duration", "500ms", "--quiet"])
        .args(["--set", "mock.access_ttl=1s"])
        .args(["--set", "plan.0.login.ramp=100ms"])
        .args(["--set", "client.think_time=250ms"])
        .arg("--out")
        .arg(out);
    cmd
}

#[test]
fn the_shipped_scenario_passes_on_the_cookie_mock_and_a_refusing_server_fails_it() {
    let out = tempfile::tempdir().unwrap();
    shipped(out.path()).assert().success();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let c = &report["counters"];
    assert_eq!(c["session_ends.expired"], 20, "{c}");
    assert_eq!(c["never_recovered"], 0, "{c}");
    assert!(c["renewals"].as_u64().unwrap() >= 20, "{c}");

    // Every login refused (wrong passwords): the thresholds fail the run.
    let bad = tempfile::tempdir().unwrap();
    shipped(bad.path())
        .args(["--set", "users.password=nope-{n}"])
        .assert()
        .code(1);
}

#[test]
fn the_django_profile_runs_against_the_mock_cookie_mode_and_check_skips_the_token_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("django.yaml");
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/targets/django-session.yaml");
    // A mock in cookie mode on a free port, as a separate process (the profile's base_url is
    // given with --base-url).
    let mock = std::process::Command::new(assert_cmd::cargo::cargo_bin("authbench"))
        .args([
            "mock",
            "--port",
            "0",
            "--session-mode",
            "cookie",
            "--admin-key",
            "k",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(mock);
    let url = read_url(&mut guard.0);
    std::fs::write(
        &scenario,
        format!(
            "name: django\ntarget: {}\nclients: 4\nclient: {{ strategy: cookie-session, think_time: 100ms }}\nplan:\n  - login: {{ ramp: 0s }}\n  - traffic: {{ duration: 400ms }}\n  - logout: {{}}\nexpect:\n  - never_logged_in == 0\n  - failure_rate == 0%\n  - status.api.200 >= 4\n  - status.logout.200 == 4\n",
            profile.display()
        ),
    )
    .unwrap();
    authbench()
        .args(["run"])
        .arg(&scenario)
        .args(["--base-url", &url, "--quiet", "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .success();
    // `check` against a cookie-session profile: the OAuth catalog does not apply — SKIP with the
    // reason, never a PASS or a FAIL.
    let assert = authbench()
        .args(["check"])
        .arg(&profile)
        .args([
            "--base-url",
            &url,
            "--only",
            "RT-01,RS-01,JW-01",
            "--json",
            "--out",
        ])
        .arg(dir.path().join("check"))
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let report: serde_json::Value = serde_json::from_str(&text).expect("json");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{text}");
    for r in results {
        assert_eq!(r["status"], "SKIP", "{r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("cookie-session server"),
            "{r}"
        );
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `http://127.0.0.1:PORT` the mock prints at start.
fn read_url(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let out = child.stdout.as_mut().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    for line in lines.by_ref().take(20) {
        let line = line.unwrap();
        if let Some(i) = line.find("http://") {
            let url: String = line[i..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return url.trim_end_matches(['/', ',', ')']).to_string();
        }
    }
    panic!("the mock printed no URL");
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes `text` as `name`, validates it and asserts exit 2 with every one of `needles` in the
/// message; returns the file's path.
fn refused(dir: &Path, name: &str, text: &str, needles: &[&str]) -> std::path::PathBuf {
    let p = write(dir, name, text);
    let out = authbench().args(["validate"]).arg(&p).assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    for n in needles {
        assert!(stderr.contains(n), "{name}: {n:?} not in {stderr}");
    }
    p
}

#[test]
fn bad_combinations_are_refused_with_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = "clients: 2\nclient: { strategy: cookie-session }\nplan:\n  - login: {}\n";
    // The builtin mock serves tokens unless told otherwise.
    refused(
        d,
        "a.yaml",
        base,
        &["client.strategy", "session_mode: cookie"],
    );
    // No refresh endpoint: no refresh race.
    refused(
        d,
        "b.yaml",
        &format!("{base}  - refresh_race: {{}}\nmock: {{ session_mode: cookie }}\n"),
        &["plan.1.refresh_race", "no refresh endpoint"],
    );
    // A profile naming no session cookie, run with strategy cookie-session.
    let token_profile = write(
        d,
        "token.yaml",
        "preset: mock\nbase_url: http://127.0.0.1:1\n",
    );
    refused(
        d,
        "c.yaml",
        &format!("target: {}\n{base}", token_profile.display()),
        &["names no session cookie"],
    );
    // A cookie-session profile with a refresh request; one with a CSRF header but no source.
    refused(
        d,
        "p.yaml",
        "base_url: http://127.0.0.1:1\nlogin: { path: /login }\nresource: { path: /me }\nrefresh: { path: /refresh }\ncookie_session: { cookie: sessionid }\n",
        &["p.yaml:4:", "no refresh endpoint"],
    );
    refused(
        d,
        "q.yaml",
        "base_url: http://127.0.0.1:1\nlogin: { path: /login }\nresource: { path: /me }\ncookie_session:\n  cookie: sessionid\n  csrf: { header: X-CSRFToken }\n",
        &["cookie_session.csrf", "cookie: csrftoken"],
    );
    // A token profile without refresh says what a cookie-session server is written as.
    refused(
        d,
        "r.yaml",
        "base_url: http://127.0.0.1:1\nlogin: { path: /login }\nresource: { path: /me }\n",
        &["cookie_session: { cookie: sessionid }"],
    );
    // The shipped files validate.
    for f in [
        "scenarios/cookie-session.yaml",
        "scenarios/targets/django-session.yaml",
        "scenarios/targets/mock-session.yaml",
    ] {
        authbench().args(["validate", f]).assert().success();
    }
}
