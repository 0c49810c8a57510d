//! Issue 12 §1 rejection matchers in the engine: `access_rejected` decides which resource answers
//! make a client renew and retry, `refresh_rejected` rules which refresh answers make it log in
//! again.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{mock, plan, run, settings, storm};
use authbench::client::Strategy;
use authbench::profile::{self, Profile};
use authbench::scenario::Phase;

fn profile_with(server: &authbench_mock::MockServer, extra: &str) -> Arc<Profile> {
    let src = format!("preset: mock\nbase_url: {}\n{extra}", server.base_url());
    Arc::new(
        profile::profile_from_str(&src, None)
            .unwrap()
            .with_admin_key(server.admin_key()),
    )
}

async fn storm_with(extra: &str) -> crate::support::Ran {
    let server = mock(|_| {}).await;
    let r = run(
        plan(
            6,
            settings(Strategy::SingleFlight, 1),
            storm(Duration::from_millis(1200)),
        ),
        profile_with(&server, extra),
    )
    .await;
    server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_rejected_decides_what_renews() {
    let (default, cognito_like) = tokio::join!(
        storm_with(""),
        // A server whose dead-token answer is 400 (Cognito): the mock's 401 is then not a
        // rejection, so clients do not renew and the calls fail.
        storm_with("access_rejected: { status: 400, body: { __type: NotAuthorizedException } }\n"),
    );
    assert!(default.counter("status.api.401") >= 6, "expired tokens met");
    assert!(default.counter("refresh_calls") >= 6, "renewed");
    assert_eq!(default.counter("failures.api.4xx"), 0);
    assert!(cognito_like.counter("status.api.401") >= 6);
    assert_eq!(cognito_like.counter("refresh_calls"), 0, "nothing renews");
    assert_eq!(
        cognito_like.counter("failures.api.4xx"),
        cognito_like.counter("status.api.401"),
        "every unrenewed 401 is a failure"
    );
}

/// login → force_logout (every session revoked) → traffic: each client's next refresh meets the
/// mock's 400 `invalid_grant`.
async fn revoked_then_traffic(extra: &str) -> crate::support::Ran {
    let server = mock(|_| {}).await;
    let zero = Duration::ZERO;
    let r = run(
        plan(
            4,
            settings(Strategy::SingleFlight, 1),
            vec![
                Phase::Login { ramp: zero },
                Phase::ForceLogout { ramp: zero },
                Phase::Traffic {
                    duration: Duration::from_millis(800),
                    rate: None,
                },
            ],
        ),
        profile_with(&server, extra),
    )
    .await;
    server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rejected_rules_decide_what_logs_in_again() {
    let (matching, narrow) = tokio::join!(
        revoked_then_traffic("refresh_rejected: { status: 400, body: { error: invalid_grant } }\n"),
        // DRF SimpleJWT's answer; the mock's 400 invalid_grant is then not "refresh token dead".
        revoked_then_traffic(
            "refresh_rejected: { status: 401, body: { code: token_not_valid } }\n"
        ),
    );
    assert!(matching.counter("status.refresh.400") >= 4);
    assert!(
        matching.counter("relogins") >= 4,
        "dead refresh token: log in again"
    );
    assert_eq!(matching.counter("failures.refresh.4xx"), 0);
    assert!(narrow.counter("status.refresh.400") >= 4);
    assert_eq!(
        narrow.counter("relogins"),
        0,
        "not a rejection: no new login"
    );
    assert_eq!(
        narrow.counter("failures.refresh.4xx"),
        narrow.counter("status.refresh.400"),
        "an answer outside the rules is a failure"
    );
}

async fn grant_run(extra: &str, clients: u32) -> crate::support::Ran {
    grant_run_on(|_| {}, extra, clients).await
}

async fn grant_run_on(
    tweak: impl FnOnce(&mut authbench_mock::MockConfig),
    extra: &str,
    clients: u32,
) -> crate::support::Ran {
    let server = mock(tweak).await;
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            storm(Duration::from_millis(1500)),
        ),
        profile_with(&server, extra),
    )
    .await;
    server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_clients_get_tokens_and_ask_again_when_they_expire() {
    let r = grant_run("grant: client_credentials\n", 4).await;
    assert_eq!(r.counter("never_logged_in"), 0);
    assert!(r.counter("status.api.200") >= 4);
    // No refresh token (RFC 6749 §4.4.3): renewal is a new grant, never a refresh call, and
    // never a spurious logout.
    assert_eq!(r.counter("refresh_calls"), 0);
    assert!(
        r.counter("logins") >= 8,
        "a second grant after expiry: {}",
        r.counter("logins")
    );
    assert_eq!(r.counter("spurious_logouts"), 0);
    assert_eq!(r.counter("failures.login.4xx"), 0);
    // A machine client with a wrong secret gets nothing.
    let wrong = grant_run(
        "grant: client_credentials\nlogin: { path: /oauth/token, form: { grant_type: client_credentials, client_id: \"{{user}}\", client_secret: wrong } }\n",
        2,
    )
    .await;
    assert_eq!(wrong.counter("never_logged_in"), 2);
    assert_eq!(wrong.counter("status.api.200"), 0);
}

const AUTH_CODE: &str = "grant:\n  authorization_code:\n    authorize: { path: /authorize, query: { client_id: spa, scope: openid } }\n    redirect_uri: http://127.0.0.1:3000/callback\n    form: \"form#login\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_code_logins_drive_the_form_and_refresh_as_usual() {
    let r = grant_run(AUTH_CODE, 4).await;
    assert_eq!(r.counter("never_logged_in"), 0, "every client signed in");
    assert!(r.counter("logins") >= 4);
    assert!(
        r.counter("refresh_calls") >= 4,
        "the code's refresh token is used"
    );
    assert_eq!(r.counter("failures.refresh.4xx"), 0);
    assert_eq!(r.counter("spurious_logouts"), 0);
    // The default form selector meets the page's first form (a search box): no login.
    let wrong_form = grant_run(&AUTH_CODE.replace("    form: \"form#login\"\n", ""), 2).await;
    assert_eq!(wrong_form.counter("never_logged_in"), 2);
    assert!(wrong_form.counter("failures.authorize.4xx") >= 2);
    assert_eq!(
        wrong_form.counter("failures.login.4xx"),
        0,
        "no code was exchanged"
    );
}

/// The authorize pages are an operation of their own: every request of the flow is counted
/// `requests.authorize`, a failed flow once where its last request is. A server whose sign-in
/// pages fail (`error:authorize=…`) cannot pass, and its error pages are a passing failure
/// (`5xx`, tried again), not a form selector to fix; the correct server passes the same run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_authorize_pages_fail_the_run_where_their_requests_are() {
    use authbench::report::{Report, RunMeta};
    let clients = 6;
    for percent in [100, 30, 0] {
        let r = grant_run_on(
            |c| {
                if percent > 0 {
                    c.faults = vec![format!("error:authorize={percent}%").parse().unwrap()];
                }
            },
            AUTH_CODE,
            clients,
        )
        .await;
        let meta = RunMeta {
            name: "authorize-pages".into(),
            clients,
            ..RunMeta::default()
        };
        let rep = Report::from_run(meta, r.snap.clone(), &[]);
        for (op, o) in &rep.derived.operations {
            assert!(o.failures <= o.requests, "{percent}%: {op}: {o:?}");
        }
        let each = rep
            .thresholds
            .iter()
            .find(|t| t.expr == "failure_rate(*) < 1%")
            .expect("the per-operation default");
        let failed = r.counter("failures.authorize.5xx");
        // Three pages per sign-in: the authorize URL, the form, the redirect back.
        assert!(
            r.counter("requests.authorize") >= 3 * u64::from(clients),
            "{percent}%: {:?}",
            r.snap.counters
        );
        assert_eq!(
            r.counter("failures.authorize.4xx"),
            0,
            "{percent}%: an error page is a 5xx"
        );
        assert_eq!(r.counter("failures.login.4xx"), 0, "{percent}%");
        match percent {
            0 => {
                assert_eq!(failed, 0, "{:?}", r.snap.counters);
                assert!(each.passed, "{each:?}");
                assert_eq!(r.counter("never_logged_in"), 0);
            }
            100 => {
                assert_eq!(r.counter("never_logged_in"), u64::from(clients));
                assert_eq!(r.counter("requests.login"), 0, "no code to exchange");
                assert_eq!(
                    failed,
                    r.counter("requests.authorize"),
                    "{:?}",
                    r.snap.counters
                );
                assert!(
                    !each.passed && each.message.contains("authorize"),
                    "{each:?}"
                );
            }
            _ => {
                assert!(failed > 0, "{:?}", r.snap.counters);
                let pages = &rep.derived.operations["authorize"];
                assert_eq!(pages.failures, failed);
                assert!(
                    !each.passed && each.message.contains("authorize"),
                    "{each:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spa_refresh_token_in_a_rotating_httponly_cookie() {
    // The SPA pattern: sign in through the authorize page, then the refresh token lives only in
    // an HttpOnly cookie that every refresh answer rotates (mock --refresh-cookie, rotation and
    // reuse detection on). A client that sent a stale cookie would trip reuse detection.
    let server = mock(|c| {
        c.refresh_cookie = true;
        c.access_ttl = Duration::from_secs(1);
    })
    .await;
    let extra = format!(
        "{AUTH_CODE}refresh:\n  path: /oauth/token\n  form: {{ grant_type: refresh_token }}\nextract:\n  refresh_token: cookie:refresh_token\n"
    );
    let r = run(
        plan(
            4,
            settings(Strategy::SingleFlight, 1),
            vec![
                Phase::Login {
                    ramp: Duration::ZERO,
                },
                Phase::Traffic {
                    duration: Duration::from_millis(5000),
                    rate: None,
                },
            ],
        ),
        profile_with(&server, &extra),
    )
    .await;
    server.shutdown().await;
    assert_eq!(r.counter("never_logged_in"), 0);
    assert!(
        r.counter("status.refresh.200") >= 8,
        "at least two rotations per client: {}",
        r.counter("status.refresh.200")
    );
    assert_eq!(r.counter("reuse_detected"), 0, "always the newest cookie");
    assert_eq!(r.counter("relogins"), 0);
    assert_eq!(r.counter("failures.refresh.4xx"), 0);
}

const TWO_STEP: &str = "admin_user_id:\n  request: { path: /admin/users, query: { username: \"{{user}}\" }, headers: { Authorization: \"Bearer {{admin_key}}\" } }\n  id: json:/0/id\nadmin_logout: { path: \"/admin/users/by-id/{{user_id}}/logout\", headers: { Authorization: \"Bearer {{admin_key}}\" } }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_step_admin_logout_looks_the_id_up_first() {
    let wrong = TWO_STEP.replace("json:/0/id", "json:/0/uuid");
    let (two_step, wrong_id) =
        tokio::join!(revoked_then_traffic(TWO_STEP), revoked_then_traffic(&wrong));
    // Lookup + logout per user, every session revoked: the next refresh is refused.
    assert_eq!(
        two_step.counter("status.force_logout.200"),
        8,
        "4 lookups + 4 logouts"
    );
    assert!(two_step.counter("relogins") >= 4);
    assert_eq!(two_step.counter("failures.force_logout.body"), 0);
    // An extractor that finds no id: no logout is sent, and it is a failure of force_logout.
    assert_eq!(
        wrong_id.counter("status.force_logout.200"),
        4,
        "lookups only"
    );
    assert_eq!(wrong_id.counter("failures.force_logout.body"), 4);
    assert_eq!(wrong_id.counter("relogins"), 0, "nothing was revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_logout_command_runs_once_per_user_with_the_user_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("users.txt");
    let ok = format!(
        "force_logout: {{ command: [sh, -c, \"echo \\\"$AUTHBENCH_USER\\\" >> {}\"] }}\n",
        log.display()
    );
    let (ran, failing) = tokio::join!(
        revoked_then_traffic(&ok),
        revoked_then_traffic(
            "force_logout: { command: [sh, -c, \"echo no such user >&2; exit 3\"] }\n"
        ),
    );
    let mut users: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    users.sort();
    assert_eq!(users, ["user0", "user1", "user2", "user3"]);
    assert_eq!(ran.counter("failures.force_logout.4xx"), 0);
    assert_eq!(failing.counter("failures.force_logout.4xx"), 4);
}
