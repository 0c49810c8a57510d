//! `authbench check` options on real sockets: `--strict` (a refresh rejected with 401 instead of
//! 400 `invalid_grant` is a WARN, a FAIL with `--strict`), expected failures (a known deviation
//! does not fail the run; an entry whose check now passes is reported as an unexpected pass),
//! `--fail-on warn`, selection, needs → SKIP, a check that cannot run (ERROR, end to end), and the
//! redaction of every token in the evidence.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use authbench::checks::{self, CheckOptions, ConformanceRun, FailOn, Status};
use authbench::profile::Profile;
use authbench_mock::{Flaw, MockServer};

use crate::canned::canned_endpoint;

async fn mock(flaws: &[Flaw]) -> MockServer {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    authbench_mock::start(cfg).await.expect("mock starts")
}

fn profile(server: &MockServer) -> Arc<Profile> {
    Arc::new(
        authbench::profile::preset("mock", &server.base_url())
            .expect("preset")
            .with_admin_key(server.admin_key())
            .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config())),
    )
}

fn only(ids: &[&str]) -> CheckOptions {
    CheckOptions {
        only: ids.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    }
}

/// A token endpoint that answers every request `401 {"error":"invalid_grant"}` (like simplejwt or
/// Auth0's 403).
async fn rejecting_token_endpoint() -> SocketAddr {
    canned_endpoint(|_| {
        (
            401,
            r#"{"error":"invalid_grant","error_description":"token not valid"}"#,
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_refresh_rejection_is_a_warn_and_a_fail_with_strict() {
    let server = mock(&[]).await;
    let fake = rejecting_token_endpoint().await;
    let yaml = format!(
        "preset: mock\nbase_url: {}\nrefresh:\n  path: http://{fake}/oauth/token\n  form:\n    grant_type: refresh_token\n    refresh_token: \"{{{{refresh_token}}}}\"\n",
        server.base_url()
    );
    let profile = Arc::new(
        authbench::profile::profile_from_str(&yaml, None)
            .expect("profile")
            .with_admin_key(server.admin_key())
            .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config())),
    );
    let lenient = checks::run(profile.clone(), &only(&["RT-02"])).await;
    let r = lenient.get("RT-02").expect("RT-02 ran");
    assert_eq!(r.status, Status::Warn, "{r:#?}");
    assert!(
        r.message.contains("401") && r.message.contains("instead of 400"),
        "{}",
        r.message
    );
    assert_eq!(
        lenient.exit_code(),
        0,
        "a WARN does not fail the run by default"
    );

    let strict = checks::run(
        profile,
        &CheckOptions {
            strict: true,
            ..only(&["RT-02"])
        },
    )
    .await;
    assert_eq!(strict.get("RT-02").unwrap().status, Status::Fail);
    assert_eq!(strict.exit_code(), 1);
    assert!(
        strict.to_report().checks[0]
            .requirements
            .contains(&"RFC6749-5.2".to_string())
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_failures_and_unexpected_passes() {
    let server = mock(&[Flaw::NoRotation]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expected.yaml");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(
        f,
        "# known deviations\n- id: RT-06\n  reason: rotation is off on purpose (ticket AUTH-1)\n- id: RT-01\n  reason: fixed long ago"
    )
    .unwrap();
    let expected = checks::load_expected_failures(&path).expect("valid file");
    let run = checks::run(
        profile(&server),
        &CheckOptions {
            expected: Some(expected),
            fail_on: FailOn::Warn,
            ..only(&["RT-01", "RT-06", "RT-07"])
        },
    )
    .await;
    let rt06 = run.get("RT-06").unwrap();
    assert_eq!(rt06.status, Status::Fail);
    assert!(rt06.expected.is_some() && !rt06.unexpected_pass);
    let rt01 = run.get("RT-01").unwrap();
    assert_eq!(rt01.status, Status::Pass);
    assert!(rt01.unexpected_pass, "{rt01:#?}");
    // RT-07 cannot apply without rotation.
    assert_eq!(run.get("RT-07").unwrap().status, Status::Skip);
    assert!(run.passed(), "{}", checks::render_terminal(&run, false));
    let text = checks::render_terminal(&run, false);
    assert!(text.contains("unexpected pass: RT-01"), "{text}");
    assert!(text.contains("expected failure: RT-06 FAIL"), "{text}");
    assert!(text.contains("result: PASSED"), "{text}");

    // The same run without the file fails.
    let run = checks::run(profile(&server), &only(&["RT-06"])).await;
    assert_eq!(run.exit_code(), 1);
    assert!(checks::render_terminal(&run, false).contains("result: FAILED (RT-06 FAIL)"));

    // A bad file is an error with a position.
    std::fs::write(
        &path,
        "- id: RT-06\n  reason: x\n- id: RT-99\n  reason: y\n",
    )
    .unwrap();
    let err = checks::load_expected_failures(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected.yaml:3:") && err.contains("RT-99"),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_profile_features_skip_with_the_reason() {
    let server = mock(&[]).await;
    // A bare profile: login, refresh and resource only.
    let yaml = format!(
        r#"base_url: {}
login: {{ path: /oauth/token, form: {{ grant_type: password, username: "{{{{user}}}}", password: "{{{{password}}}}" }} }}
refresh: {{ path: /oauth/token, form: {{ grant_type: refresh_token, refresh_token: "{{{{refresh_token}}}}" }} }}
resource: {{ path: /api/me, headers: {{ Authorization: "Bearer {{{{access_token}}}}" }} }}
"#,
        server.base_url()
    );
    let bare = Arc::new(authbench::profile::profile_from_str(&yaml, None).expect("profile"));
    let run = checks::run(bare, &only(&["WS", "RV", "IN", "RT-12", "AT-01", "RT-06"])).await;
    for r in &run.results {
        if r.meta.id == "RT-06" {
            assert_eq!(r.status, Status::Pass, "{}", r.message);
            continue;
        }
        assert_eq!(r.status, Status::Skip, "{}: {}", r.meta.id, r.message);
        assert!(
            r.message.contains("profile has no"),
            "{}: {}",
            r.meta.id,
            r.message
        );
    }
    assert_eq!(run.results.len(), 11);
    assert!(run.passed());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_cannot_run_is_an_error_in_report_json_and_junit() {
    let server = mock(&[]).await;
    // The login endpoint is a port nothing listens on: no check that needs a login can run.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let yaml = format!(
        "preset: mock\nbase_url: {}\nlogin:\n  path: http://{closed}/oauth/token\n  form:\n    grant_type: password\n    username: \"{{{{user}}}}\"\n    password: \"{{{{password}}}}\"\n",
        server.base_url()
    );
    let profile = Arc::new(authbench::profile::profile_from_str(&yaml, None).expect("profile"));
    let run = checks::run(profile, &only(&["RT-01"])).await;
    let rt01 = run.get("RT-01").expect("RT-01 ran");
    assert_eq!(rt01.status, Status::Error, "{rt01:#?}");
    assert_eq!(run.exit_code(), 1, "an ERROR fails the run");
    let text = checks::render_terminal(&run, false);
    assert!(text.contains("ERROR  RT-01"), "{text}");
    assert!(text.contains("result: FAILED (RT-01 ERROR)"), "{text}");

    let (report, dir) = write_conformance_report(&server, &run);
    assert!(!report.passed());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["conformance"]["checks"][0]["status"], "ERROR");
    assert_eq!(json["run"]["name"], "check");
    assert!(json.get("histograms").is_none(), "no load-test section");
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let junit = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = junit
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "conformance")
        .expect("conformance suite");
    assert_eq!((suite.errors, suite.failures), (1, 0), "{xml}");
    assert!(xml.contains("<error") && xml.contains("ERROR: "), "{xml}");
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert!(summary.contains("ERROR"), "{summary}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("class=\"status error\""),
        "the check row is marked ERROR"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conformance_report_has_its_real_times_and_only_conformance_sections() {
    let server = mock(&[]).await;
    let run = checks::run(profile(&server), &only(&["RT-01", "RT-02", "RS-01"])).await;
    assert!(run.elapsed > std::time::Duration::ZERO);
    let (_, dir) = write_conformance_report(&server, &run);

    // report.json: the run header with the real duration, and the conformance section only.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["conformance", "run", "schema_version"], "{json:#}");
    let duration_s = json["run"]["duration_s"].as_f64().unwrap();
    assert!(
        (duration_s - run.elapsed.as_secs_f64()).abs() < 1e-6,
        "{duration_s} vs {:?}",
        run.elapsed
    );
    // It still loads, and nothing of a load run appears.
    let back = authbench::report::Report::load(dir.path()).unwrap();
    assert!(!back.is_load_run());

    // JUnit: every check carries its own time, the suite and the document the run's.
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let junit = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(junit.test_suites.len(), 1, "{xml}");
    let suite = &junit.test_suites[0];
    assert_eq!(suite.name.as_str(), "conformance");
    let close = |a: Option<std::time::Duration>, secs: f64| {
        a.is_some_and(|d| (d.as_secs_f64() - secs).abs() < 0.002)
    };
    assert!(close(suite.time, duration_s), "{xml}");
    assert!(close(junit.time, duration_s), "{xml}");
    assert_eq!(suite.test_cases.len(), 3);
    for case in &suite.test_cases {
        let id = case.name.as_str().split(' ').next().unwrap();
        // A check against the in-process mock can take well under a millisecond: compare the
        // exact duration, not whole milliseconds.
        let took = run.get(id).expect("ran").duration;
        assert!(took > std::time::Duration::ZERO, "{id} took no time?");
        let secs = took.as_secs_f64();
        assert!(close(case.time, secs), "{id}: {:?} vs {secs}", case.time);
    }

    // The page and the summary: the conformance section, no empty load-test sections above it.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("id=\"conformance\""));
    for load in [
        "thresholds",
        "latency",
        "timeline",
        "storm",
        "counters",
        "codes",
    ] {
        assert!(
            !html.contains(&format!("id=\"{load}\"")),
            "section {load} shown"
        );
    }
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert!(!summary.contains("clients"), "{summary}");
    assert!(summary.contains("RT-01"), "{summary}");
    server.shutdown().await;
}

/// Every token-shaped string in the evidence of a run is redacted (a prefix of at most 8
/// characters). The JWKS is public and not checked.
fn assert_redacted(run: &ConformanceRun) {
    let json = serde_json::to_value(run).unwrap();
    let mut texts = Vec::new();
    for r in json["results"].as_array().unwrap() {
        for e in r["evidence"].as_array().unwrap() {
            let label = e["label"].as_str().unwrap_or("");
            if label == "JWKS" || label == "OpenID discovery" {
                continue;
            }
            texts.push(e.to_string());
        }
        texts.push(r["assertions"].to_string());
        texts.push(r["message"].to_string());
    }
    for t in texts {
        let mut run_len = 0;
        for c in t.chars() {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                run_len += 1;
                assert!(
                    run_len < 40,
                    "an unredacted token-like string in evidence: {t}"
                );
            } else {
                run_len = 0;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_never_shows_a_whole_token() {
    let server = mock(&[Flaw::ReuseAllowed, Flaw::RefreshAsAccess]).await;
    let run = checks::run(
        profile(&server),
        &only(&["RT-01", "RT-07", "RT-09", "JW", "WS-01", "IN-01", "RS-04"]),
    )
    .await;
    assert!(
        run.results
            .iter()
            .all(|r| !r.evidence.is_empty() || r.status == Status::Skip)
    );
    assert_eq!(run.get("RT-07").unwrap().status, Status::Warn);
    assert_eq!(run.get("JW-07").unwrap().status, Status::Fail);
    assert_redacted(&run);
    let report = serde_json::to_string(&run.to_report()).unwrap();
    assert!(
        report.contains("…("),
        "redacted tokens keep a short prefix and their length"
    );
    server.shutdown().await;
}

/// The report `authbench check` writes for `run` against `server`, and the folder holding its files.
fn write_conformance_report(
    server: &MockServer,
    run: &ConformanceRun,
) -> (authbench::report::Report, tempfile::TempDir) {
    let meta = authbench::report::ConformanceMeta {
        target: server.base_url(),
        config: serde_json::json!({}),
        started_at: run.started_at,
        duration: run.elapsed,
    };
    let report = authbench::report::Report::from_conformance(meta, run.to_report());
    let dir = tempfile::tempdir().unwrap();
    authbench::report::write_all(&report, dir.path()).unwrap();
    (report, dir)
}
