//! `client.strategy: cookie-session` against the mock's cookie sessions (`--session-mode
//! cookie`): sliding renewal adopted from `Set-Cookie`, the CSRF token and `Origin` on every
//! unsafe call (and what a missing one costs), the storm of expired cookies with its books, a
//! server that refuses every login, the admin logout, and the profile/strategy mismatches.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{mock, plan, run, settings};
use authbench::client::Strategy;
use authbench::engine::{self, Plan, Progress, Users};
use authbench::metrics::Recorder;
use authbench::profile::{LoadOptions, Profile, profile_from_str_opts};
use authbench::report::{Origin, Report, RunMeta};
use authbench::scenario::Phase;
use authbench_mock::{MockServer, SessionMode};
use tokio_util::sync::CancellationToken;

async fn cookie_mock(ttl: Duration) -> MockServer {
    mock(|c| {
        c.session_mode = SessionMode::Cookie;
        c.access_ttl = ttl;
    })
    .await
}

/// The `mock-session` preset pointed at `server`.
fn preset(server: &MockServer) -> Arc<Profile> {
    Arc::new(
        authbench::profile::preset("mock-session", &server.base_url())
            .expect("mock-session preset")
            .with_admin_key(server.admin_key()),
    )
}

/// A profile file's text loaded against `server`.
fn profile_yaml(server: &MockServer, yaml: &str) -> Arc<Profile> {
    let opts = LoadOptions {
        base_url: Some(server.base_url()),
        ..LoadOptions::default()
    };
    Arc::new(
        profile_from_str_opts(yaml, None, &opts)
            .expect("profile loads")
            .with_admin_key(server.admin_key()),
    )
}

fn cookie_plan(clients: u32, phases: Vec<Phase>) -> Plan {
    plan(clients, settings(Strategy::CookieSession, 1), phases)
}

fn login() -> Phase {
    Phase::Login {
        ramp: Duration::ZERO,
    }
}

fn traffic(ms: u64) -> Phase {
    Phase::Traffic {
        duration: Duration::from_millis(ms),
        rate: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_renewal_keeps_sessions_past_their_first_expiry() {
    // 5 s of calls every 250 ms with a 3 s cookie (Max-Age=3): only the renewals keep the
    // sessions. 3 s, not 1 s: a client descheduled for 1-2 s between two calls must not find its
    // (renewed) cookie expired.
    let server = cookie_mock(Duration::from_secs(3)).await;
    let clients = 4;
    let r = run(
        cookie_plan(clients, vec![login(), traffic(5000)]),
        preset(&server),
    )
    .await;
    let c = &r.snap.counters;
    assert_eq!(r.counter("logins"), u64::from(clients), "{c:?}");
    assert_eq!(r.counter("relogins"), 0, "{c:?}");
    assert_eq!(r.counter("status.api.401"), 0, "{c:?}");
    // Some client called past its login cookie's 3 s: calls are >= 250 ms apart, so a client's
    // 13th call comes >= 3 s after its first, and more than 12 calls per client on the whole
    // means at least one client made 13. (About 20 per client run unloaded: ~1.9 s of slack.)
    assert!(
        r.counter("status.api.200") > u64::from(clients) * 12,
        "{c:?}"
    );
    // Every answer re-set the cookie: one renewal per call.
    assert_eq!(r.counter("renewals"), r.counter("status.api.200"), "{c:?}");
    assert_eq!(r.counter("refresh_calls"), 0);
    let st = server.stats().cookie_sessions.expect("cookie stats");
    assert_eq!(st.csrf_rejected + st.origin_rejected, 0, "{st:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_and_origin_are_sent_and_a_missing_one_is_refused() {
    let server = cookie_mock(Duration::from_secs(30)).await;
    let clients = 3;
    let phases = || vec![login(), traffic(300)];
    // The preset sends both: every POST passes (checked above by the mock's counters too).
    let ok = run(cookie_plan(clients, phases()), preset(&server)).await;
    assert!(ok.counter("status.api.200") >= u64::from(clients));
    assert_eq!(ok.counter("status.api.403"), 0);

    // No CSRF source: every POST is refused — a failure, never a pass.
    let base = "base_url: http://x\nlogin: { path: /session/login, form: { username: \"{{user}}\", password: \"{{password}}\" } }\nresource: { method: POST, path: /session/me }\n";
    let no_csrf = profile_yaml(
        &server,
        &format!("{base}cookie_session: {{ cookie: sessionid }}\n"),
    );
    let r = run(cookie_plan(clients, phases()), no_csrf).await;
    assert_eq!(r.counter("status.api.200"), 0, "{:?}", r.snap.counters);
    assert!(r.counter("status.api.403") >= u64::from(clients));
    assert_eq!(r.counter("failures.api.4xx"), r.counter("status.api.403"));
    assert_eq!(
        r.counter("relogins"),
        0,
        "a CSRF refusal is not a session end"
    );

    // A foreign Origin: refused as well.
    let foreign = profile_yaml(
        &server,
        &format!(
            "{base}cookie_session: {{ cookie: sessionid, origin: \"https://elsewhere.example\", csrf: {{ cookie: csrftoken, header: X-CSRFToken }} }}\n"
        ),
    );
    let r = run(cookie_plan(clients, phases()), foreign).await;
    // The login form is a POST too: refused there already, so no call gets through.
    assert_eq!(r.counter("status.api.200"), 0);
    assert_eq!(r.counter("logins"), 0);
    assert!(
        r.counter("failures.login.4xx") >= u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    let st = server.stats().cookie_sessions.unwrap();
    assert!(st.csrf_rejected >= u64::from(clients), "{st:?}");
    assert!(st.origin_rejected >= u64::from(clients), "{st:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_token_can_come_from_a_page() {
    let server = cookie_mock(Duration::from_secs(30)).await;
    // Rails-style: the token is in a meta tag; the page is read before and after the login
    // (the login rotates the token).
    let p = profile_yaml(
        &server,
        "base_url: http://x\nlogin: { path: /session/login, form: { username: \"{{user}}\", password: \"{{password}}\" } }\nresource: { method: POST, path: /session/me }\ncookie_session:\n  cookie: sessionid\n  csrf: { page: /session/csrf, selector: \"meta[name=csrf-token]\", header: X-CSRF-Token-Is-Not-Read-By-The-Mock }\n",
    );
    // The mock reads X-CSRFToken: a token in another header is refused — proving the page's token
    // goes where the profile says. Then the right header passes.
    let r = run(cookie_plan(2, vec![login(), traffic(200)]), p).await;
    assert_eq!(r.counter("status.api.200"), 0);
    assert_eq!(
        r.counter("status.csrf_page.200"),
        4,
        "{:?}",
        r.snap.counters
    );
    let p = profile_yaml(
        &server,
        "base_url: http://x\nlogin: { path: /session/login, form: { username: \"{{user}}\", password: \"{{password}}\" } }\nresource: { method: POST, path: /session/me }\ncookie_session:\n  cookie: sessionid\n  csrf: { page: /session/csrf, selector: \"meta[name=csrf-token]\", header: X-CSRFToken }\n",
    );
    let r = run(cookie_plan(2, vec![login(), traffic(300)]), p).await;
    assert!(r.counter("status.api.200") >= 2, "{:?}", r.snap.counters);
    assert_eq!(r.counter("status.api.403"), 0, "{:?}", r.snap.counters);
    server.shutdown().await;

    // A server whose CSRF page fails in part (`error:csrf_page=50%`) cannot pass: the page is an
    // operation of its own (`csrf_page`), held to the default `failure_rate(*) < 1%` — the mock
    // could not fail it before. The correct server passes the same run.
    let clients = 20;
    for faulty in [true, false] {
        let server = mock(|c| {
            c.session_mode = SessionMode::Cookie;
            c.access_ttl = Duration::from_secs(30);
            if faulty {
                c.faults = vec!["error:csrf_page=50%".parse().unwrap()];
            }
        })
        .await;
        let p = profile_yaml(
            &server,
            "base_url: http://x\nlogin: { path: /session/login, form: { username: \"{{user}}\", password: \"{{password}}\" } }\nresource: { method: POST, path: /session/me }\ncookie_session:\n  cookie: sessionid\n  csrf: { page: /session/csrf, selector: \"meta[name=csrf-token]\", header: X-CSRFToken }\n",
        );
        let r = run(cookie_plan(clients, vec![login(), traffic(300)]), p).await;
        let meta = RunMeta {
            name: "csrf-page".into(),
            clients,
            ..RunMeta::default()
        };
        let rep = Report::from_run(meta, r.snap.clone(), &[]);
        let each = rep
            .thresholds
            .iter()
            .find(|t| t.expr == "failure_rate(*) < 1%")
            .expect("the per-operation default");
        let failed = r.counter("failures.csrf_page.5xx");
        // Each failure is counted where its request is: no operation fails more than it sent (a
        // failed page was counted `failures.login`, beside `requests.csrf_page`: login 27 of 21).
        for (op, o) in &rep.derived.operations {
            assert!(o.failures <= o.requests, "{op}: {o:?}");
        }
        if faulty {
            assert!(failed > 0, "{:?}", r.snap.counters);
            let page = &rep.derived.operations["csrf_page"];
            assert_eq!(page.failures, failed);
            assert!(page.failure_rate.is_some_and(|f| f > 0.01), "{page:?}");
            assert!(!each.passed && each.origin == Origin::Default);
        } else {
            assert_eq!(failed, 0, "{:?}", r.snap.counters);
            assert!(rep.passed(), "{:?}", rep.thresholds);
        }
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_storm_ends_every_session_at_once_and_every_client_recovers() {
    let server = cookie_mock(Duration::from_secs(1)).await;
    let clients = 12;
    let mut client = settings(Strategy::CookieSession, 2);
    client.think_time = Duration::from_millis(100);
    let r = run(
        plan(
            clients,
            client,
            vec![
                login(),
                Phase::SyncExpiry {
                    offset: Duration::from_millis(100),
                },
                traffic(500),
            ],
        ),
        preset(&server),
    )
    .await;
    let n = u64::from(clients);
    let c = &r.snap.counters;
    // Every session ended by its expiry, noticed at the first call, and every client logged in
    // again once (its 2 concurrent calls share the one login).
    assert_eq!(r.counter("session_ends.expired"), n, "{c:?}");
    assert_eq!(r.counter("sessions_expired"), n, "{c:?}");
    assert_eq!(r.counter("relogins"), n, "{c:?}");
    assert_eq!(r.counter("logins"), 2 * n, "{c:?}");
    assert_eq!(r.counter("spurious_logouts"), 0, "{c:?}");
    // Every refused call was retried on the new session — also the one that arrived while its
    // client was between the dead session and the new one — and none ended refused.
    assert_eq!(r.counter("retries"), r.counter("status.api.401"), "{c:?}");
    assert_eq!(r.samples("api_failed"), 0, "{c:?}");
    assert_eq!(r.samples("notice_latency.expired.api_401"), n, "{c:?}");
    assert_eq!(r.counter("end_reason.expired"), n, "{c:?}");
    // The books: recovered + never recovered = clients, and nobody was left behind.
    assert_eq!(
        r.samples("recovery") + r.counter("never_recovered"),
        n,
        "{c:?}"
    );
    assert_eq!(r.counter("never_recovered"), 0, "{c:?}");
    assert_eq!(r.samples("wake_skew"), n);
    // The expired cookie was not sent: the mock saw no cookie, not an expired session.
    let st = server.stats().cookie_sessions.unwrap();
    assert!(st.refused >= n, "{st:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_the_login_page_means_the_session_is_gone() {
    let server = cookie_mock(Duration::from_secs(1)).await;
    let clients = 3;
    let yaml = |redirect: &str| {
        format!(
            "base_url: http://x\nlogin: {{ path: /session/login, form: {{ username: \"{{{{user}}}}\", password: \"{{{{password}}}}\" }} }}\nresource: {{ path: /accounts/profile/ }}\ncookie_session: {{ cookie: sessionid{redirect} }}\n"
        )
    };
    let storm = || {
        vec![
            login(),
            Phase::SyncExpiry {
                offset: Duration::from_millis(100),
            },
            traffic(300),
        ]
    };
    // The page answers a gone session with 302 to /accounts/login/: with `login_redirect` that is
    // the end of the session — one new login per client, the call retried.
    let with = profile_yaml(&server, &yaml(", login_redirect: /accounts/login/"));
    let r = run(cookie_plan(clients, storm()), with).await;
    let n = u64::from(clients);
    let c = &r.snap.counters;
    assert_eq!(r.counter("status.api.302"), n, "{c:?}");
    assert_eq!(r.counter("relogins"), n, "{c:?}");
    assert_eq!(r.counter("session_ends.expired"), n, "{c:?}");
    assert_eq!(r.counter("never_recovered"), 0, "{c:?}");
    assert_eq!(r.samples("api_failed"), 0, "{c:?}");
    // Without it, the redirect is an answer the call did not expect: a failure, no recovery.
    let without = profile_yaml(&server, &yaml(""));
    let r = run(cookie_plan(clients, storm()), without).await;
    let c = &r.snap.counters;
    assert_eq!(r.counter("relogins"), 0, "{c:?}");
    assert!(r.counter("failures.api.4xx") >= n, "{c:?}");
    assert_eq!(r.counter("never_recovered"), n, "{c:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_rejects_every_login_gets_nothing_through() {
    let server = cookie_mock(Duration::from_secs(30)).await;
    let clients = 3;
    let wrong = Plan::new(
        clients,
        Users::pattern("user{n}", "wrong-{n}", 0),
        settings(Strategy::CookieSession, 1),
        vec![login(), traffic(300)],
    );
    let r = run(wrong, preset(&server)).await;
    assert_eq!(r.counter("logins"), 0);
    assert_eq!(r.counter("status.api.200"), 0);
    assert_eq!(r.counter("clients_logged_in"), 0, "{:?}", r.snap.counters);
    assert_eq!(r.counter("never_logged_in"), u64::from(clients));
    assert!(r.counter("failures.login.4xx") >= u64::from(clients));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_logout_is_noticed_and_is_no_spurious_logout() {
    let server = cookie_mock(Duration::from_secs(30)).await;
    let clients = 3;
    // Every client must call at least once to notice the logout: its first call comes after a
    // random offset in [0, think time), so a 50 ms think time in a 2 s phase leaves ~1.9 s for a
    // descheduled client (a 300 ms phase with 250 ms left 50 ms). Still one relogin each: the new
    // 30 s cookie slides with every call and nothing else ends it within the phase.
    let mut client = settings(Strategy::CookieSession, 1);
    client.think_time = Duration::from_millis(50);
    let r = run(
        plan(
            clients,
            client,
            vec![
                login(),
                Phase::ForceLogout {
                    ramp: Duration::ZERO,
                },
                traffic(2000),
            ],
        ),
        preset(&server),
    )
    .await;
    let n = u64::from(clients);
    let c = &r.snap.counters;
    assert_eq!(r.counter("session_ends.force_logout"), n, "{c:?}");
    assert_eq!(r.counter("relogins"), n, "{c:?}");
    assert_eq!(r.counter("spurious_logouts"), 0, "{c:?}");
    assert_eq!(r.counter("sessions_expired"), 0, "{c:?}");
    assert!(r.counter("status.api.200") >= n);
    server.shutdown().await;
}

#[tokio::test]
async fn strategy_and_profile_must_agree_about_cookie_sessions() {
    let server = cookie_mock(Duration::from_secs(30)).await;
    let go = |plan: Plan, p: Arc<Profile>| async move {
        engine::run(
            plan,
            p,
            Recorder::new(),
            CancellationToken::new(),
            Progress::new(),
        )
        .await
        .expect_err("refused")
        .to_string()
    };
    let token_profile =
        Arc::new(authbench::profile::preset("mock", &server.base_url()).expect("mock preset"));
    let e = go(cookie_plan(1, vec![login()]), token_profile).await;
    assert!(
        e.contains("names no session cookie") && e.contains("cookie_session"),
        "{e}"
    );
    let e = go(
        plan(1, settings(Strategy::SingleFlight, 1), vec![login()]),
        preset(&server),
    )
    .await;
    assert!(e.contains("client.strategy: cookie-session"), "{e}");
    server.shutdown().await;
}
