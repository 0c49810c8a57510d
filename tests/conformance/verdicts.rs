//! No false PASS, no false FAIL, right levels — each against the in-process mock with the flaw or
//! knob that produces the case:
//!
//! - a broken server (one that refuses every refresh, whose rotated tokens are one-shot, whose
//!   sessions end early — also when its refreshes answer late — that forks chains, or whose
//!   resource takes any token) never makes a check PASS: "refused after X" verdicts rest on a
//!   control, and so does AT-02's "accepted before the expiry";
//! - a resource that stops answering (503) or refuses everything after the genuine token's call
//!   never makes a "refused" check PASS: the first is no verdict (ERROR), the second fails the
//!   check's control (SKIP);
//! - RT-09 follows the winner's chain: a clean winner (PASS), a race that ends the session (INFO),
//!   a fork (WARN) — and a server forking in one round out of four is caught every time;
//! - RS-02 follows RFC 6750's wording: a bare challenge or a 403 is a WARN (SHOULD), a missing
//!   challenge a FAIL (MUST).

use std::sync::Arc;
use std::time::Duration;

use authbench::checks::{self, CheckOptions, ConformanceRun, Status};
use authbench_mock::{Flaw, MockConfig};

/// Runs the checks `ids` against a builtin-configured mock with `flaws`, changed by `knobs`.
async fn run(flaws: &[Flaw], knobs: fn(&mut MockConfig), ids: &[&str]) -> ConformanceRun {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    knobs(&mut cfg);
    run_with_profile(cfg, "", ids).await
}

/// Runs the checks `ids` against a mock with `cfg`, through the `mock` preset changed by the
/// profile keys `yaml`.
async fn run_with_profile(cfg: MockConfig, yaml: &str, ids: &[&str]) -> ConformanceRun {
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let yaml = format!("preset: mock\nbase_url: {}\n{yaml}", server.base_url());
    let profile = authbench::profile::profile_from_str(&yaml, None)
        .expect("profile")
        .with_admin_key(server.admin_key())
        .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config()));
    let opts = CheckOptions {
        only: ids.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    server.shutdown().await;
    run
}

fn no_knobs(_: &mut MockConfig) {}

/// One expectation: check `id` reports `status` and its message contains `says`.
type Want = (&'static str, Status, &'static str);

/// A case: its name, the mock's flaws and knobs, and what the checks must report.
type Case = (&'static str, Vec<Flaw>, fn(&mut MockConfig), Vec<Want>);

fn verify(what: &str, run: &ConformanceRun, wants: &[Want]) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, status, says) in wants {
        match run.get(id) {
            Some(r) if r.status == *status && r.message.contains(says) => {}
            Some(r) => problems.push(format!(
                "{what}: {id} expected {status} saying {says:?}, got {} {:?}\n  {:#?}",
                r.status, r.message, r.assertions
            )),
            None => problems.push(format!("{what}: {id} did not run")),
        }
    }
    problems
}

/// Every case in parallel (staggered: logins are the CPU-heavy part); a case that disagrees is
/// run once more on its own (a 2 s access token and a 4 s session are timing-bound on an
/// overloaded machine; a real defect fails both times).
async fn check_all(cases: Vec<Case>) {
    let tasks: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, flaws, knobs, wants))| {
            let (flaws, knobs) = (flaws.clone(), *knobs);
            let ids: Vec<&'static str> = wants.iter().map(|w| w.0).collect();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150) * i as u32).await;
                run(&flaws, knobs, &ids).await
            })
        })
        .collect();
    let mut failures = Vec::new();
    for ((what, flaws, knobs, wants), task) in cases.iter().zip(tasks) {
        let first = task.await.expect("case task");
        if verify(what, &first, wants).is_empty() {
            continue;
        }
        let ids: Vec<&str> = wants.iter().map(|w| w.0).collect();
        failures.extend(verify(what, &run(flaws, *knobs, &ids).await, wants));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_server_never_makes_a_check_pass() {
    use Status::{Error, Fail, Skip, Warn};
    const NOT_JUDGED: &str = "not judged: ";
    check_all(vec![
        (
            "reject-all-refresh",
            vec![Flaw::RejectAllRefresh],
            no_knobs,
            vec![
                ("RT-06", Skip, "see RT-01"),
                ("RT-07", Skip, "see RT-01"),
                ("RT-08", Skip, "see RT-01"),
                ("RT-09", Skip, "the control was refused too"),
                ("RT-10", Skip, "the control was refused too"),
                // Their twins, as old as the judged sessions, are refused first.
                ("RT-12", Skip, "was refused too"),
                ("RV-01", Skip, "was refused too"),
            ],
        ),
        (
            "one-shot-rotation",
            vec![Flaw::OneShotRotation],
            no_knobs,
            vec![
                // The twin, rotated as often, is refused before the control is asked.
                ("RT-07", Skip, "was refused too"),
                ("RT-08", Skip, "see RT-06"),
                ("RT-09", Skip, "after one rotation"),
                ("RT-10", Skip, NOT_JUDGED),
            ],
        ),
        (
            "session-ends-early",
            vec![Flaw::SessionEndsEarly],
            no_knobs,
            vec![("RT-10", Warn, "ENDED EARLY")],
        ),
        (
            // A resource that takes any token: an acceptance proves nothing.
            "accept-any-token",
            vec![Flaw::AcceptAnyToken],
            no_knobs,
            vec![("AT-02", Skip, "accepts a made-up access token too")],
        ),
        (
            // Each refresh answered 2.2 s late: the session (ended at 2 s) is refused near its
            // announced end, long after it was last known alive — no PASS for "on time".
            "session-ends-early, refreshes 2.2 s late",
            vec![Flaw::SessionEndsEarly],
            |c| c.faults = vec!["latency:refresh=2200ms".parse().unwrap()],
            vec![("RT-10", Error, "whether it ended early is not known")],
        ),
        (
            // A server that enforces no single-session policy but ends every session at 1 s
            // (announcing 2 s), its logins answered 1.2 s late: the oldest session is refused for
            // its age, not for the second login, while the newest (the fresh control) still
            // refreshes. A twin as old as the oldest (another user's session, logged in with it)
            // is refused too: not judged, where the refusal counted for the limit (PASS).
            "session-limit-ignored, sessions end at 1 s, logins 1.2 s late",
            vec![Flaw::SessionLimitIgnored, Flaw::SessionEndsEarly],
            |c| {
                c.max_sessions = 1;
                c.max_session = Duration::from_secs(2);
                c.access_ttl = Duration::from_millis(1500);
                c.faults = vec!["latency:login=1200ms".parse().unwrap()];
            },
            // (On a loaded machine the newest session may be past 1 s at its own refresh too:
            // then the fresh control says "not judged" first.)
            vec![("SS-01", Skip, NOT_JUDGED)],
        ),
        (
            // No family revocation, sessions that end 1 s after login, refreshes answered 400 ms
            // late: R2 is refused after the replay for the session's age (1.2 s), while the
            // fresh control (two refreshes, 0.8 s) still refreshes. The twin is refused with R2.
            "no-family-revocation, sessions end at 1 s, refreshes 400 ms late",
            vec![Flaw::NoFamilyRevocation, Flaw::SessionEndsEarly],
            |c| {
                c.max_session = Duration::from_secs(2);
                c.reuse_grace = Duration::ZERO;
                c.faults = vec!["latency:refresh=400ms".parse().unwrap()];
            },
            vec![("RT-07", Skip, "was refused too")],
        ),
        (
            "grace-new-successor",
            vec![Flaw::GraceNewSuccessor],
            no_knobs,
            vec![
                ("RT-08", Warn, "DIFFERENT successor"),
                ("RT-09", Warn, "forked chain in 16 of 16 rounds"),
            ],
        ),
        (
            "racy-rotation",
            vec![Flaw::RacyRotation],
            no_knobs,
            vec![("RT-09", Warn, "forked chain in 16 of 16 rounds")],
        ),
        (
            // A logout answered 500 ends nothing: the socket that stays open is no verdict.
            "every logout answered 500",
            vec![],
            |c| c.faults = vec!["error:logout=100%".parse().unwrap()],
            vec![("WS-02", Error, "the logout was answered 500")],
        ),
        (
            // An introspection endpoint that fails describes nothing: no verdict, not a PASS.
            "every introspection answered 500",
            vec![],
            |c| c.faults = vec!["error:introspect=100%".parse().unwrap()],
            vec![("IN-01", Error, "does not introspect as active (500")],
        ),
        (
            // A rate limit says nothing about the token: no FAIL for the 429 ("unexpected
            // answer"), no PASS — an ERROR naming the cause and the fix.
            "refreshes past 1/s answered 429",
            vec![],
            |c| c.faults = vec!["rate:refresh=1/s".parse().unwrap()],
            vec![
                ("RT-02", Error, "the server rate-limited the check (429"),
                ("RT-02", Error, "`--jobs 1`"),
                ("RT-09", Error, "rate-limited the check"),
            ],
        ),
        (
            // Over capacity (503) is no answer about the token either.
            "every refresh answered 503 (capacity 0)",
            vec![],
            |c| c.faults = vec!["capacity:refresh=0".parse().unwrap()],
            vec![
                ("RT-02", Error, "the server was unavailable (503"),
                ("RT-06", Error, "the server was unavailable (503"),
                ("RV-01", Error, "`--jobs 1`"),
            ],
        ),
        (
            // exp in milliseconds: ~55 000 years ahead while expires_in says 2 s.
            "exp-millis",
            vec![Flaw::ExpMillis],
            no_knobs,
            vec![("RT-01", Fail, "not in seconds (milliseconds?)")],
        ),
    ])
    .await;
}

/// A login answered 429 is the check's setup, not its subject: tried once more, and when the
/// limit holds, an ERROR naming the rate limit and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_login_is_no_verdict() {
    let run = run(
        &[],
        |c| c.faults = vec!["rate:login=1/m".parse().unwrap()],
        &["RT-01", "RT-02"],
    )
    .await;
    let errors: Vec<_> = ["RT-01", "RT-02"]
        .iter()
        .map(|id| run.get(id).expect("the check ran"))
        .filter(|r| r.status == Status::Error)
        .collect();
    // One of the two gets the one login a minute; the other is refused twice.
    assert!(!errors.is_empty(), "no login was rate-limited");
    for r in errors {
        assert!(
            r.message.contains("again after a 429") && r.message.contains("rate-limited"),
            "{}",
            r.message
        );
    }
}

/// The resource answers a call without credentials with a redirect to a login page: RS-01's
/// messages name the 302 and where it leads, not a 401 that never came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs01_names_the_status_it_got() {
    let fake = crate::canned::canned_endpoint_with(|_, _| {
        (302, "location: /login\r\n".to_string(), String::new())
    })
    .await;
    let resource = format!(
        "resource: {{ method: GET, path: \"http://{fake}/api/me\", headers: {{ Authorization: \"Bearer {{{{access_token}}}}\" }} }}\n"
    );
    let j = judged_with_profile(checks::builtin_mock_config(), &resource, &["RS-01"])
        .await
        .remove(0);
    assert_eq!(j.status, Status::Fail, "{j:#?}");
    assert!(
        j.message
            .contains("no WWW-Authenticate header on the 302 redirect to /login"),
        "{}",
        j.message
    );
    assert!(!format!("{j:?}").contains("the 401"), "{j:#?}");
}

/// An introspection endpoint the profile never declared (the preset's `/oauth/introspect`) that
/// the server does not have (404): IN-01 SKIPs, naming the path, the preset it came from and how
/// to declare one — it was an ERROR that failed the run. Declared in the profile, the same 404
/// is the profile's wrong path (ERROR naming the fix).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in01_skips_an_introspection_endpoint_the_server_does_not_have() {
    let server = authbench_mock::start(checks::builtin_mock_config())
        .await
        .expect("mock starts");
    let mock = server.base_url();
    // Everything but the mock's endpoints declared below answers 404.
    let fake = crate::canned::canned_endpoint(|_| (404, r#"{"error":"not_found"}"#)).await;
    let undeclared = format!(
        "preset: mock\nbase_url: http://{fake}\n\
         login: {{ method: POST, path: \"{mock}/oauth/token\", form: {{ grant_type: password, username: \"{{{{user}}}}\", password: \"{{{{password}}}}\" }} }}\n\
         refresh: {{ method: POST, path: \"{mock}/oauth/token\", form: {{ grant_type: refresh_token, refresh_token: \"{{{{refresh_token}}}}\" }} }}\n\
         resource: {{ method: GET, path: \"{mock}/api/me\", headers: {{ Authorization: \"Bearer {{{{access_token}}}}\" }} }}\n"
    );
    let declared = format!(
        "preset: mock\nbase_url: {mock}\n\
         introspect: {{ method: POST, path: /oauth/no-such-endpoint, headers: {{ Authorization: \"Bearer {{{{admin_key}}}}\" }}, form: {{ token: \"{{{{token}}}}\" }} }}\n"
    );
    for (yaml, want, says) in [
        (
            undeclared,
            Status::Skip,
            [
                "no introspection endpoint at POST /oauth/introspect (404 Not Found)",
                "comes from the `mock` preset",
                "declare its endpoint with `introspect:",
            ],
        ),
        (
            declared,
            Status::Error,
            [
                "no introspection endpoint at POST /oauth/no-such-endpoint (404 Not Found)",
                "the path the profile's `introspect:` declares",
                "correct its path",
            ],
        ),
    ] {
        let profile = authbench::profile::profile_from_str(&yaml, None)
            .expect("profile")
            .with_admin_key(server.admin_key());
        let opts = CheckOptions {
            only: vec!["IN-01".into()],
            ..CheckOptions::default()
        };
        let run = checks::run(Arc::new(profile), &opts).await;
        let r = run.get("IN-01").expect("IN-01 ran");
        assert_eq!(r.status, want, "{r:#?}");
        for part in says {
            assert!(r.message.contains(part), "{part:?} in {}", r.message);
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt09_follows_the_winners_chain() {
    fn no_grace(c: &mut MockConfig) {
        c.reuse_grace = Duration::ZERO;
    }
    fn no_grace_no_detection(c: &mut MockConfig) {
        c.reuse_grace = Duration::ZERO;
        c.reuse_detection = false;
    }
    check_all(vec![
        (
            "grace window: the same successor for all, and it lives on",
            vec![],
            no_knobs,
            vec![("RT-09", Status::Pass, "one chain in every round")],
        ),
        (
            "no grace, no reuse detection: one clean winner",
            vec![],
            no_grace_no_detection,
            vec![("RT-09", Status::Pass, "one chain in every round")],
        ),
        (
            "no grace, reuse detection: the race ends the session",
            vec![],
            no_grace,
            vec![("RT-09", Status::Info, "the user is logged out")],
        ),
    ])
    .await;
}

/// Three runs against a server that forks in rounds 4, 8, 12 and 16 only: WARN every time, and
/// the findings list every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt09_catches_a_fork_in_one_round_out_of_four_every_time() {
    for attempt in 1..=3 {
        let run = run(&[Flaw::ForkOneInFour], no_knobs, &["RT-09"]).await;
        let r = run.get("RT-09").expect("RT-09 ran");
        assert_eq!(r.status, Status::Warn, "attempt {attempt}: {r:#?}");
        assert!(
            r.message
                .contains("forked chain in 4 of 16 rounds (round 4, 8, 12, 16)"),
            "attempt {attempt}: {}",
            r.message
        );
        let rounds: Vec<&str> = r
            .assertions
            .iter()
            .filter(|a| a.message.starts_with("round "))
            .map(|a| a.message.as_str())
            .collect();
        assert_eq!(
            rounds.len(),
            checks::catalog::rt::rt09::ROUNDS,
            "{rounds:#?}"
        );
        assert!(rounds[3].ends_with("FORKED") && rounds[2].ends_with("lives on"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rs02_levels_follow_the_rfc6750_wording() {
    check_all(vec![
        (
            "bare challenge (SHOULD include error)",
            vec![Flaw::BareBearerChallenge],
            no_knobs,
            vec![("RS-02", Status::Warn, "error=(none)")],
        ),
        (
            "403 for an expired token (SHOULD answer 401)",
            vec![Flaw::ForbiddenOnExpired],
            no_knobs,
            vec![("RS-02", Status::Warn, "status 403 instead of 401")],
        ),
        (
            "no challenge (MUST send one)",
            vec![Flaw::NoWwwAuthenticate],
            no_knobs,
            vec![("RS-02", Status::Fail, "no WWW-Authenticate header")],
        ),
    ])
    .await;
}

/// A server's documented refusal of a premise is a verdict (SKIP naming the check that judges
/// it), never an ERROR blaming the profile; the ERROR of a check that could not run reaches the
/// report as ERROR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_premise_is_a_server_verdict_not_an_error() {
    let run = run(&[Flaw::RejectAllRefresh], no_knobs, &["RT-06"]).await;
    let r = run.get("RT-06").expect("RT-06 ran");
    assert_eq!(r.status, Status::Skip, "{r:#?}");
    assert!(r.message.contains("400 invalid_grant"), "{}", r.message);
    assert_eq!(run.to_report().checks[0].status, Status::Skip);
}

/// A canned resource's answer to call `n`.
type Answer = fn(usize) -> (u16, &'static str);

/// Runs check `id` against the builtin mock with `flaws`, its resource replaced by a canned one
/// that answers `answer(n)` to call `n`.
async fn judged_by_canned_resource(id: &'static str, flaws: &[Flaw], answer: Answer) -> Judged {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    let fake = crate::canned::canned_endpoint(answer).await;
    let resource = format!(
        "resource: {{ method: GET, path: \"http://{fake}/api/me\", headers: {{ Authorization: \"Bearer {{{{access_token}}}}\" }} }}\n"
    );
    judged_with_profile(cfg, &resource, &[id]).await.remove(0)
}

/// [`run_with_profile`]: what each check concluded, in the order of `ids`.
async fn judged_with_profile(cfg: MockConfig, yaml: &str, ids: &[&str]) -> Vec<Judged> {
    let run = run_with_profile(cfg, yaml, ids).await;
    ids.iter()
        .map(|id| {
            let r = run.get(id).expect("the check ran");
            Judged {
                status: r.status,
                message: r.message.clone(),
                assertions: r
                    .assertions
                    .iter()
                    .map(|a| (a.status, a.message.clone()))
                    .collect(),
            }
        })
        .collect()
}

/// What a check concluded: its status, its message and each assertion's status and message.
#[derive(Debug)]
struct Judged {
    status: Status,
    message: String,
    assertions: Vec<(Status, String)>,
}

/// The checks whose verdict is "the resource refused the token".
const REFUSAL_CHECKS: [&str; 5] = ["JW-06", "AT-01", "JW-02", "JW-07", "RS-04"];

const ACCEPTED: (u16, &str) = (200, r#"{"sub":"user0"}"#);
const REFUSED: (u16, &str) = (401, r#"{"error":"invalid_token"}"#);

/// A resource that answers 503 after the genuine token's call: the calls a check judges get
/// neither an acceptance nor a refusal. Each check reports an ERROR naming the 503 — never a
/// PASS for a "refusal" that was the server failing (RV-01 too: its refresh part passes, and the
/// 503 of its resource part is not taken for a refusal).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resource_that_fails_gives_no_verdict() {
    const UNAVAILABLE: (u16, &str) = (503, r#"{"error":"unavailable"}"#);
    let ids = REFUSAL_CHECKS.iter().chain(&["RV-01"]);
    let mut runs: Vec<_> = REFUSAL_CHECKS
        .iter()
        .map(|id| {
            judged_by_canned_resource(id, &[], |n| match n {
                0 => ACCEPTED,
                _ => UNAVAILABLE,
            })
        })
        .collect();
    // RV-01 calls the resource only after the revocation.
    runs.push(judged_by_canned_resource("RV-01", &[], |_| UNAVAILABLE));
    let results = futures::future::join_all(runs).await;
    for (
        id,
        Judged {
            status, message, ..
        },
    ) in ids.zip(results)
    {
        assert_eq!(status, Status::Error, "{id}: {message}");
        assert!(
            message.contains("503") && message.contains("says nothing about the request"),
            "{id}: {message}"
        );
    }
}

/// A resource that refuses every token after the genuine token's call: each check's control (a
/// token the server must accept) is refused too, so the refusal it judges proves nothing (SKIP).
/// With refreshes refused for every session as well, JW-06's control is a fresh login's token
/// (refused too: SKIP); with sessions that end when their tokens expire, JW-06 cannot tell the
/// expiry from the session's end: two sessions, then SKIP.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resource_that_refuses_everything_cannot_pass() {
    let mut runs: Vec<_> = REFUSAL_CHECKS
        .iter()
        .map(|id| {
            judged_by_canned_resource(id, &[], |n| match n {
                0 => ACCEPTED,
                _ => REFUSED,
            })
        })
        .collect();
    // Refresh refused for every session: the fresh login's token is the control, refused too.
    runs.push(judged_by_canned_resource(
        "JW-06",
        &[Flaw::RejectAllRefresh],
        |n| match n {
            0 => ACCEPTED,
            _ => REFUSED,
        },
    ));
    // Sessions that end when their tokens expire (a fresh session still refreshes): each
    // session's genuine call accepted, its expired token refused.
    runs.push(judged_by_canned_resource(
        "JW-06",
        &[Flaw::SessionEndsEarly],
        |n| match n % 2 {
            0 => ACCEPTED,
            _ => REFUSED,
        },
    ));
    // RV-01's refresh part stands on its own control; its resource part is not judged.
    runs.push(judged_by_canned_resource("RV-01", &[], |_| REFUSED));
    let mut results = futures::future::join_all(runs).await;
    let rv01 = results.pop().expect("RV-01 ran");
    assert!(
        rv01.assertions
            .iter()
            .any(|(s, m)| *s == Status::Info && m.contains("is refused too")),
        "RV-01: {:?}",
        rv01.assertions
    );
    assert!(
        !rv01
            .assertions
            .iter()
            .any(|(s, m)| *s == Status::Pass && m.contains("access token of the revoked grant")),
        "RV-01: {:?}",
        rv01.assertions
    );
    let wants = REFUSAL_CHECKS
        .iter()
        .map(|id| (*id, "is refused too"))
        .chain([
            ("JW-06", "a fresh login's access token is refused too"),
            ("JW-06", "twice the session ended"),
        ]);
    for (
        (id, says),
        Judged {
            status, message, ..
        },
    ) in wants.zip(results)
    {
        assert_eq!(status, Status::Skip, "{id}: {message}");
        assert!(message.contains(says), "{id}: {message}");
    }
}

/// SL-01 says "the target has no sliding sessions" only when its calls came close enough
/// together that a renewal window could not lie between two of them unseen: against a mock
/// without sliding renewal it SKIPs; with every call answered 700 ms late it cannot tell (ERROR).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sl01_claims_no_sliding_sessions_only_from_calls_close_together() {
    fn no_sliding(c: &mut MockConfig) {
        c.sliding_window = Duration::ZERO;
    }
    fn no_sliding_slow_api(c: &mut MockConfig) {
        c.sliding_window = Duration::ZERO;
        c.faults = vec!["latency:api=700ms".parse().unwrap()];
    }
    check_all(vec![
        (
            "no sliding renewal",
            vec![],
            no_sliding,
            vec![("SL-01", Status::Skip, "the target has no sliding sessions")],
        ),
        (
            "no sliding renewal, answers 700 ms late",
            vec![],
            no_sliding_slow_api,
            vec![(
                "SL-01",
                Status::Error,
                "a renewal window may lie between them",
            )],
        ),
    ])
    .await;
}

/// JW-06 bounds a leeway by when a refusal was answered: with every call answered 2.5 s late, the
/// correct mock's refusal after `exp` may as well be a server's 2 s leeway — no verdict (ERROR),
/// not "refused just after exp". (Access tokens of 3 s, so the genuine call is judged before they
/// expire, and sessions of 30 s, so the control's refresh is not refused for the session's end.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jw06_bounds_the_leeway_by_when_the_refusal_was_answered() {
    fn slow_api(c: &mut MockConfig) {
        c.access_ttl = Duration::from_secs(3);
        c.max_session = Duration::from_secs(30);
        c.faults = vec!["latency:api=2500ms".parse().unwrap()];
    }
    check_all(vec![(
        "answers 2.5 s late",
        vec![],
        slow_api,
        vec![("JW-06", Status::Error, "later than the 1.80s leeway")],
    )])
    .await;
}

/// A resource server with a clock-skew leeway (RFC 7519 §4.1.4 allows a small one): the mock
/// accepts access tokens 3 s past their `exp`. Undeclared, JW-06 and RS-02 FAIL (an expired token
/// accepted) and JW-06 names the `expiry_leeway` key; declared in the profile, both judge the token
/// past the leeway and PASS. (Sessions of 30 s, so the controls' refreshes are not refused for the
/// session's end.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declared_leeway_is_waited_out() {
    async fn judged(declared: &str) -> Vec<Judged> {
        let mut cfg = checks::builtin_mock_config();
        cfg.access_leeway = Duration::from_secs(3);
        cfg.max_session = Duration::from_secs(30);
        judged_with_profile(cfg, declared, &["JW-06", "RS-02"]).await
    }
    let (undeclared, declared) = tokio::join!(judged(""), judged("expiry_leeway: 3s\n"));
    assert_eq!(
        undeclared[0].status,
        Status::Fail,
        "{}",
        undeclared[0].message
    );
    assert!(
        undeclared[0].message.contains("expiry_leeway"),
        "{}",
        undeclared[0].message
    );
    assert_eq!(
        undeclared[1].status,
        Status::Fail,
        "{}",
        undeclared[1].message
    );
    assert!(
        undeclared[1].message.contains("expired token was ACCEPTED"),
        "{}",
        undeclared[1].message
    );
    for (id, j) in ["JW-06", "RS-02"].iter().zip(&declared) {
        assert_eq!(j.status, Status::Pass, "{id}: {}", j.message);
    }
    assert!(
        declared[0].message.contains("the declared leeway of 3.00s"),
        "{}",
        declared[0].message
    );
}

/// RT-08 says "no grace window" only of a replay the server judged at once after the rotation:
/// against a mock without grace it does; with refreshes answered 500 ms late the replay came too
/// late to rule out a shorter window, and the finding says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt08_claims_no_grace_window_only_from_a_prompt_replay() {
    fn no_grace(c: &mut MockConfig) {
        c.reuse_grace = Duration::ZERO;
    }
    fn no_grace_slow_refresh(c: &mut MockConfig) {
        c.reuse_grace = Duration::ZERO;
        c.faults = vec!["latency:refresh=500ms".parse().unwrap()];
    }
    check_all(vec![
        (
            "no grace",
            vec![],
            no_grace,
            vec![(
                "RT-08",
                Status::Info,
                "no grace window: the predecessor R1 was rejected at once",
            )],
        ),
        (
            "no grace, refreshes answered 500 ms late",
            vec![],
            no_grace_slow_refresh,
            vec![("RT-08", Status::Info, "the replay came late")],
        ),
    ])
    .await;
}

/// AT-01 says "refused immediately after logout" only of a refusal answered within 0.5 s of the
/// logout: with every resource call answered 700 ms late, the server judged the token too late to
/// rule out a shorter window, and the check says so (INFO), never PASS.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at01_claims_an_immediate_refusal_only_from_a_prompt_answer() {
    fn slow_api(c: &mut MockConfig) {
        c.faults = vec!["latency:api=700ms".parse().unwrap()];
    }
    check_all(vec![(
        "resource answers 700 ms late",
        vec![],
        slow_api,
        vec![("AT-01", Status::Info, "a shorter one was not tried")],
    )])
    .await;
}

/// A refusal that arrives after the refresh token's announced end may be the expiry's: with
/// refresh tokens that live 1 s (announced in `refresh_expires_in`) and every refresh answered
/// 700 ms late, RT-07's R2 is judged by the server past its end when it is tried after the reuse.
/// RT-07 SKIPs; it passed ("R2 revoked with the family"), and would pass against a server that
/// revokes no family at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refusal_after_the_announced_end_is_not_the_revocations() {
    fn short_lived_slow_refresh(c: &mut MockConfig) {
        c.refresh_ttl = Duration::from_secs(1);
        c.faults = vec!["latency:refresh=700ms".parse().unwrap()];
    }
    check_all(vec![(
        "refresh tokens of 1 s, refreshes answered 700 ms late",
        vec![Flaw::NoFamilyRevocation],
        short_lived_slow_refresh,
        vec![("RT-07", Status::Skip, "announced lifetime had ended")],
    )])
    .await;
}

/// A resource (or revocation endpoint) that answers 503 says nothing about the request: RS-01 and
/// RS-02 report ERROR naming the 503 — they FAILed it for its missing `WWW-Authenticate` — and
/// RV-02 too (RFC 7009 §2.2.1 allows a 503; it FAILed it for not answering 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unavailable_server_is_no_finding_about_its_answers() {
    const UNAVAILABLE: (u16, &str) = (503, r#"{"error":"unavailable"}"#);
    let rs = ["RS-01", "RS-02"].map(|id| judged_by_canned_resource(id, &[], |_| UNAVAILABLE));
    let revoke = async {
        let fake = crate::canned::canned_endpoint(|_| UNAVAILABLE).await;
        let yaml = format!(
            "revoke: {{ path: \"http://{fake}/oauth/revoke\", form: {{ token: \"{{{{token}}}}\", token_type_hint: \"{{{{token_type_hint}}}}\" }} }}\n"
        );
        judged_with_profile(checks::builtin_mock_config(), &yaml, &["RV-02"])
            .await
            .remove(0)
    };
    let (rs, rv02) = tokio::join!(futures::future::join_all(rs), revoke);
    for (id, j) in ["RS-01", "RS-02", "RV-02"]
        .iter()
        .zip(rs.iter().chain([&rv02]))
    {
        assert_eq!(j.status, Status::Error, "{id}: {}", j.message);
        assert!(
            j.message.contains("503") && j.message.contains("says nothing about the request"),
            "{id}: {}",
            j.message
        );
    }
}

/// JW-03 reads the server's keys first: discovery and JWKS answered 503 are a failing server, not
/// one that publishes no keys (ERROR naming the 503, where it SKIPped "no JWKS found").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jw03_takes_a_failing_key_endpoint_for_an_error() {
    let fake = crate::canned::canned_endpoint(|_| (503, r#"{"error":"unavailable"}"#)).await;
    let profile = authbench::profile::profile_from_str(
        &format!("preset: mock\nbase_url: http://{fake}\n"),
        None,
    )
    .expect("profile");
    let opts = CheckOptions {
        only: vec!["JW-03".into()],
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    let r = run.get("JW-03").expect("JW-03 ran");
    assert_eq!(r.status, Status::Error, "{}", r.message);
    assert!(r.message.contains("503"), "{}", r.message);
}

/// An introspection endpoint that calls a live access token inactive, while the resource accepts
/// it, gives the server's verdict: IN-01 FAILs (RFC 7662 §2.2). It was an ERROR blaming the
/// profile's introspection credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in01_fails_a_live_token_called_inactive() {
    let fake = crate::canned::canned_endpoint(|_| (200, r#"{"active":false}"#)).await;
    let yaml = format!(
        "introspect: {{ path: \"http://{fake}/oauth/introspect\", headers: {{ Authorization: \"Bearer {{{{admin_key}}}}\" }}, form: {{ token: \"{{{{token}}}}\" }} }}\n"
    );
    let j = judged_with_profile(checks::builtin_mock_config(), &yaml, &["IN-01"])
        .await
        .remove(0);
    assert_eq!(j.status, Status::Fail, "{}", j.message);
    assert!(
        j.message.contains("introspects as inactive"),
        "{}",
        j.message
    );
}

/// RS-03 builds on a resource that accepts a fresh token: one refused with 401 `invalid_token` is
/// the server's documented verdict, not the profile's fault — SKIP naming RT-01 (it was an ERROR).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs03_skips_when_the_resource_refuses_a_fresh_token() {
    let j = judged_by_canned_resource("RS-03", &[], |_| REFUSED).await;
    assert_eq!(j.status, Status::Skip, "{}", j.message);
    assert!(j.message.contains("see RT-01"), "{}", j.message);
}

/// A builtin-configured mock whose sessions end 1 s after login while announcing 2 s
/// (`session-ends-early` with a 2 s session; 1.5 s access tokens).
fn sessions_ending_at_one_second() -> MockConfig {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.push(Flaw::SessionEndsEarly);
    cfg.max_session = Duration::from_secs(2);
    cfg.access_ttl = Duration::from_millis(1500);
    cfg
}

/// An endpoint that does nothing and answers 200 `{}` 1.2 s late (a logout that ends nothing).
async fn slow_no_op() -> std::net::SocketAddr {
    crate::canned::slow_canned_endpoint(Duration::from_millis(1200), |_, _| {
        (200, String::new(), "{}".to_string())
    })
    .await
}

/// Check `id` of `run` is not judged because its twin was refused too.
fn twin_refused_too(run: &ConformanceRun, id: &str) {
    let r = run.get(id).expect("the check ran");
    assert!(
        r.status == Status::Skip && r.message.contains("refused") && r.message.contains(" too"),
        "{id} {} {:?}\n{:#?}",
        r.status,
        r.message,
        r.assertions
    );
}

/// SS-02 against a logout everywhere that ends nothing and answers 1.2 s late, on a server whose
/// sessions end 1 s after login (announcing 2 s): every session is refused afterwards for its age,
/// and a fresh control still refreshes, so the refusals passed for the logout's. A twin (another
/// user's session, logged in and refreshed with session 1) is refused too: not judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ss02_is_not_fooled_by_sessions_that_end_by_their_age() {
    let fake = slow_no_op().await;
    let mut cfg = sessions_ending_at_one_second();
    cfg.max_sessions = 0;
    let yaml = format!(
        "logout_everywhere: {{ path: \"http://{fake}/logout-all\", headers: {{ Authorization: \"Bearer {{{{access_token}}}}\" }} }}\n"
    );
    twin_refused_too(&run_with_profile(cfg, &yaml, &["SS-02"]).await, "SS-02");
}

/// RT-10 against a token endpoint that announces a 4 s session at login and at every rotation
/// but ends none by its age: it refuses a refresh token left unused for 1.2 s (an idle timeout it
/// does not announce), so rotation extends the session forever. RT-10's refresh after the
/// announced end came 2.3 s after its last rotation and was refused for its idleness: a PASS. A
/// twin (another user's session logged in with the last rotation, its token as old) is refused
/// too: not judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt10_is_not_fooled_by_an_unannounced_idle_timeout() {
    use std::collections::HashMap;
    use std::time::Instant;
    let issued: Arc<parking_lot::Mutex<(u32, HashMap<String, Instant>)>> = Arc::default();
    let fake = crate::canned::canned_endpoint_with(move |_, request| {
        let body = request.split("\r\n\r\n").nth(1).unwrap_or("");
        let field = |name: &str| {
            body.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .map(str::to_string)
        };
        let mut state = issued.lock();
        let alive = match (field("grant_type").as_deref(), field("refresh_token")) {
            (Some("password"), _) => true,
            (Some("refresh_token"), Some(rt)) => state
                .1
                .remove(&rt)
                .is_some_and(|used| used.elapsed() < Duration::from_millis(1200)),
            _ => return (404, String::new(), r#"{"error":"not_found"}"#.to_string()),
        };
        if !alive {
            return (400, String::new(), r#"{"error":"invalid_grant"}"#.to_string());
        }
        state.0 += 1;
        let rt = format!("rt-idle-{:06}", state.0);
        state.1.insert(rt.clone(), Instant::now());
        let body = format!(
            r#"{{"access_token":"at-idle-{:06}","token_type":"Bearer","expires_in":60,"refresh_token":"{rt}","refresh_expires_in":4}}"#,
            state.0
        );
        (200, String::new(), body)
    })
    .await;
    let yaml = format!("preset: mock\nbase_url: http://{fake}\n");
    let profile = authbench::profile::profile_from_str(&yaml, None).expect("profile");
    let opts = CheckOptions {
        only: vec!["RT-10".into()],
        ..CheckOptions::default()
    };
    twin_refused_too(&checks::run(Arc::new(profile), &opts).await, "RT-10");
}

/// RT-12 and RV-01 against a logout and a revocation that end nothing and answer 1.2 s late, on a
/// server whose sessions end 1 s after login (announcing 2 s): the refresh afterwards is refused
/// for the session's age, and a fresh control still refreshes, so each refusal passed for the
/// event's. The twin, logged in with the judged session, is refused too: not judged. RT-12's
/// admin logout (the mock's own, at once) is still judged, with its twin alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_and_revocation_are_not_credited_with_an_end_by_age() {
    let fake = slow_no_op().await;
    let cfg = sessions_ending_at_one_second();
    let form = "form: { token: \"{{refresh_token}}\", token_type_hint: refresh_token }";
    let yaml = format!(
        "logout: {{ path: \"http://{fake}/logout\", {form} }}\nrevoke: {{ path: \"http://{fake}/revoke\", form: {{ token: \"{{{{token}}}}\", token_type_hint: \"{{{{token_type_hint}}}}\" }} }}\n"
    );
    let run = run_with_profile(cfg, &yaml, &["RT-12", "RV-01"]).await;
    let rt12 = run.get("RT-12").expect("RT-12 ran");
    let said = |status: Status, says: &str| {
        rt12.assertions
            .iter()
            .any(|a| a.status == status && a.message.contains(says))
    };
    assert!(
        said(Status::Info, "refresh after logout not judged: ")
            && !said(Status::Pass, "refresh after logout:")
            && said(Status::Pass, "refresh after the admin logout:")
            && said(Status::Info, "as old as the judged one, still refreshes"),
        "RT-12 {} {:#?}",
        rt12.status,
        rt12.assertions
    );
    twin_refused_too(&run, "RV-01");
}

/// AT-01 against a logout that ends nothing and answers 1.2 s late, and a resource that refuses
/// an access token 1 s after it first saw it (an end by age, long before its `exp`): the first
/// call after the logout is refused at once, and a fresh login's token is accepted, so the
/// refusal passed for the logout's. The twin's token, issued and first used with the judged one,
/// is refused too: not judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at01_is_not_fooled_by_a_resource_that_refuses_tokens_by_their_age() {
    use std::collections::HashMap;
    use std::time::Instant;
    let seen: Arc<parking_lot::Mutex<HashMap<String, Instant>>> = Arc::default();
    let resource = crate::canned::canned_endpoint_with(move |_, request| {
        let token = request
            .lines()
            .find_map(|l| l.strip_prefix("authorization: "))
            .unwrap_or_default()
            .to_string();
        let first = *seen.lock().entry(token).or_insert_with(Instant::now);
        if first.elapsed() < Duration::from_secs(1) {
            (200, String::new(), r#"{"sub":"someone"}"#.to_string())
        } else {
            (
                401,
                "www-authenticate: Bearer error=\"invalid_token\"\r\n".to_string(),
                r#"{"error":"invalid_token"}"#.to_string(),
            )
        }
    })
    .await;
    let logout = slow_no_op().await;
    let yaml = format!(
        "resource: {{ method: GET, path: \"http://{resource}/api/me\", headers: {{ Authorization: \"Bearer {{{{access_token}}}}\" }} }}\nlogout: {{ path: \"http://{logout}/logout\", form: {{ token: \"{{{{refresh_token}}}}\" }} }}\n"
    );
    let run = run_with_profile(checks::builtin_mock_config(), &yaml, &["AT-01"]).await;
    twin_refused_too(&run, "AT-01");
}

/// A login answered with a server error is the check's setup failing, not its verdict: it is tried
/// once more, and both exchanges are in the evidence. A login that fails again stops the check
/// with an ERROR naming the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_answered_with_a_server_error_is_tried_once_more() {
    let server = authbench_mock::start(checks::builtin_mock_config())
        .await
        .expect("mock starts");
    // The tokens the canned login hands out on its second answer: a genuine login at the mock.
    let genuine = reqwest::Client::new()
        .post(format!("{}/oauth/token", server.base_url()))
        .form(&[
            ("grant_type", "password"),
            ("username", "user0"),
            ("password", "pw-0"),
        ])
        .send()
        .await
        .expect("the mock answers")
        .text()
        .await
        .expect("a body");
    assert!(genuine.contains("refresh_token"), "{genuine}");
    const BUSY: &str = r#"{"error":"server_error"}"#;
    for (fails, want) in [(1, Status::Pass), (usize::MAX, Status::Error)] {
        let tokens = genuine.clone();
        let fake = crate::canned::canned_endpoint_with(move |n, _| match n < fails {
            true => (500, String::new(), BUSY.to_string()),
            false => (200, String::new(), tokens.clone()),
        })
        .await;
        let yaml = format!(
            "preset: mock\nbase_url: {}\nlogin: {{ method: POST, path: \"http://{fake}/oauth/token\", form: {{ grant_type: password, username: \"{{{{user}}}}\", password: \"{{{{password}}}}\" }} }}\n",
            server.base_url()
        );
        let profile = authbench::profile::profile_from_str(&yaml, None)
            .expect("profile")
            .with_admin_key(server.admin_key());
        let opts = CheckOptions {
            only: vec!["RT-01".to_string()],
            ..CheckOptions::default()
        };
        let run = checks::run(Arc::new(profile), &opts).await;
        let r = run.get("RT-01").expect("RT-01 ran");
        assert_eq!(r.status, want, "{r:#?}");
        let logins: Vec<Option<u16>> = r
            .evidence
            .iter()
            .filter(|e| e.label.starts_with("login as"))
            .map(|e| e.status)
            .collect();
        match want {
            Status::Pass => assert_eq!(logins, [Some(500), Some(200)], "{r:#?}"),
            _ => {
                assert_eq!(logins, [Some(500), Some(500)], "{r:#?}");
                assert!(
                    r.message.contains("again after a server error") && r.message.contains("500"),
                    "{}",
                    r.message
                );
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_socket_told_but_not_closed_is_said_so_not_told_nothing() {
    use Status::Warn;
    check_all(vec![
        (
            "no-close-after-event",
            vec![Flaw::NoCloseAfterEvent],
            no_knobs,
            vec![
                ("WS-02", Warn, "the logout event came, but no close frame"),
                ("WS-04", Warn, "the kicked event came, but no close frame"),
            ],
        ),
        (
            "silent-logout",
            vec![Flaw::SilentLogout],
            no_knobs,
            vec![("WS-02", Warn, "told nothing")],
        ),
    ])
    .await;
}
