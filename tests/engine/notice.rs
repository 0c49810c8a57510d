//! Session loss, noticed (issue 17 §1–§2), against the in-process mock over real sockets: each
//! path that tells a client its session is over (push event, close code, 401 on its next call,
//! its own refresh timer), each cause the engine knows (force logout, a login elsewhere, the
//! announced end), the ghost requests sent in between, and the reason the client could infer.

use std::time::Duration;

use crate::support::{mock, plan, profile, run, settings};
use authbench::client::Strategy;
use authbench::scenario::Phase;
use authbench_mock::Flaw;

fn zero() -> Duration {
    Duration::ZERO
}

fn login_ws_then(end: Phase) -> Vec<Phase> {
    vec![
        Phase::Login { ramp: zero() },
        Phase::WsConnect { ramp: zero() },
        end,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_hears_of_a_force_logout_before_any_ghost_request() {
    let server = mock(|_| {}).await;
    let clients = 5;
    let n = u64::from(clients);
    let mut phases = login_ws_then(Phase::ForceLogout { ramp: zero() });
    phases.push(Phase::Traffic {
        duration: Duration::from_millis(400),
        rate: None,
    });
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 1), phases),
        profile(&server),
    )
    .await;
    let c = &r.snap.counters;
    assert_eq!(r.counter("session_ends.force_logout"), n, "{c:?}");
    assert_eq!(r.samples("notice_latency.force_logout.push"), n, "{c:?}");
    assert_eq!(r.samples("notice_latency"), n);
    assert_eq!(r.counter("end_reason.logged_out"), n, "{c:?}");
    assert_eq!(r.counter("reason_unclear"), 0);
    // Told before the traffic phase: nothing was sent on the dead session.
    assert_eq!(r.counter("ghost_requests"), 0, "{c:?}");
    assert_eq!(r.samples("ghost_time"), 0);
    assert_eq!(r.counter("unnoticed.force_logout"), 0);
    // The calls after the notice find the session over (401) and log in again, counted once.
    assert_eq!(r.counter("relogins"), n, "{c:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passive_client_learns_at_its_next_call_which_is_a_ghost() {
    let server = mock(|_| {}).await;
    let clients = 6;
    let n = u64::from(clients);
    let phases = vec![
        Phase::Login { ramp: zero() },
        Phase::ForceLogout { ramp: zero() },
        Phase::Traffic {
            duration: Duration::from_millis(800),
            rate: None,
        },
    ];
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 2), phases),
        profile(&server),
    )
    .await;
    let c = &r.snap.counters;
    assert_eq!(r.samples("notice_latency.force_logout.api_401"), n, "{c:?}");
    assert_eq!(r.samples("notice_latency"), n);
    // At least the call whose 401 told it; with two loops per client perhaps the other one too.
    let ghosts = r.counter("ghost_requests");
    assert!(
        (n..=2 * n).contains(&ghosts),
        "{ghosts} ghost requests, {c:?}"
    );
    assert_eq!(r.samples("ghost_time"), n);
    assert_eq!(r.counter("end_reason.logged_out"), n, "{c:?}");
    assert_eq!(r.counter("reason_unclear"), 0);
    assert_eq!(r.counter("spurious_logouts"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proactive_client_learns_from_its_own_timer() {
    let server = mock(|_| {}).await;
    let clients = 4;
    let n = u64::from(clients);
    // 2 s access tokens (`exp` in whole seconds: 2-3 s from the login), refresh 800 ms before
    // exp: the timer fires 1.2-2.2 s after the login, and its refused refresh must be noticed
    // before the run ends. A 4.5 s wait leaves 2.3 s for that, room for a stall of the machine
    // (2.5 s left 0.3 s).
    let phases = vec![
        Phase::Login { ramp: zero() },
        Phase::ForceLogout { ramp: zero() },
        Phase::Wait {
            duration: Duration::from_millis(4500),
        },
    ];
    let r = run(
        plan(clients, settings(Strategy::Proactive, 1), phases),
        profile(&server),
    )
    .await;
    let c = &r.snap.counters;
    assert_eq!(
        r.samples("notice_latency.force_logout.exp_timer"),
        n,
        "{c:?}"
    );
    assert_eq!(r.counter("ghost_requests"), 0, "no call was made: {c:?}");
    assert_eq!(r.counter("end_reason.logged_out"), n);
    assert_eq!(r.counter("unnoticed.force_logout"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_is_pushed_with_its_reason() {
    let server = mock(|c| c.single_session = true).await;
    let clients = 5;
    let n = u64::from(clients);
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            login_ws_then(Phase::Relogin { ramp: zero() }),
        ),
        profile(&server),
    )
    .await;
    let c = &r.snap.counters;
    assert_eq!(r.counter("session_ends.kicked"), n, "{c:?}");
    assert_eq!(r.samples("notice_latency.kicked.push"), n, "{c:?}");
    assert_eq!(r.counter("end_reason.kicked"), n);
    assert_eq!(r.counter("reason_unclear"), 0);
    assert_eq!(r.counter("unnoticed.kicked"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_nobody_hears_of_is_unnoticed() {
    let server = mock(|c| {
        c.single_session = true;
        c.flaws = vec![Flaw::NoKick];
    })
    .await;
    let clients = 3;
    let mut p = plan(
        clients,
        settings(Strategy::SingleFlight, 1),
        login_ws_then(Phase::Relogin { ramp: zero() }),
    );
    p.kick_timeout = Duration::from_millis(400);
    let r = run(p, profile(&server)).await;
    let c = &r.snap.counters;
    assert_eq!(r.counter("unnoticed.kicked"), u64::from(clients), "{c:?}");
    assert_eq!(r.samples("notice_latency"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_generic_signal_for_every_end_leaves_the_reason_unknown() {
    let server = mock(|c| c.flaws = vec![Flaw::GenericSessionEnd]).await;
    let clients = 4;
    let n = u64::from(clients);
    let mut phases = login_ws_then(Phase::ForceLogout { ramp: zero() });
    phases.push(Phase::Traffic {
        duration: Duration::from_millis(300),
        rate: None,
    });
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 1), phases),
        profile(&server),
    )
    .await;
    let c = &r.snap.counters;
    // 4403 without an event: the close code tells the client, but not why.
    assert_eq!(
        r.samples("notice_latency.force_logout.close_code"),
        n,
        "{c:?}"
    );
    assert_eq!(r.counter("end_reason.unknown"), n, "{c:?}");
    assert_eq!(r.counter("reason_unclear"), n);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_announced_end_is_noticed_as_an_expiry() {
    // Sessions end 3 s after their login (announced as refresh_expires_in); tokens live 2 s.
    let server = mock(|c| c.max_session = Duration::from_secs(3)).await;
    let clients = 4;
    let n = u64::from(clients);
    let phases = vec![
        Phase::Login { ramp: zero() },
        Phase::Traffic {
            duration: Duration::from_millis(6500),
            rate: None,
        },
    ];
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 1), phases),
        profile(&server),
    )
    .await;
    let c = &r.snap.counters;
    let ended = r.counter("session_ends.expired");
    assert!(ended >= n, "{c:?}");
    assert_eq!(r.samples("notice_latency"), ended, "{c:?}");
    assert_eq!(r.samples("notice_latency.expired.api_401"), ended, "{c:?}");
    assert_eq!(r.counter("end_reason.expired"), ended, "{c:?}");
    assert_eq!(r.counter("reason_unclear"), 0);
    assert_eq!(r.counter("sessions_expired"), ended);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sockets_refresh_refused_after_the_announced_end_is_noticed() {
    // 2 s tokens, 3 s sessions: the socket's second expiry close (4401) leads to a refresh the
    // server refuses — the session is over, and nothing else told the client.
    let server = mock(|c| c.max_session = Duration::from_secs(3)).await;
    let clients = 3;
    let n = u64::from(clients);
    let phases = vec![
        Phase::Login { ramp: zero() },
        Phase::WsConnect { ramp: zero() },
        Phase::Wait {
            duration: Duration::from_millis(7000),
        },
    ];
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 1), phases),
        profile(&server),
    )
    .await;
    let c = &r.snap.counters;
    assert!(
        r.samples("notice_latency.expired.refresh_rejected") >= n,
        "{c:?}"
    );
    assert_eq!(
        r.samples("notice_latency"),
        r.counter("session_ends.expired"),
        "{c:?}"
    );
    assert_eq!(r.counter("reason_unclear"), 0, "{c:?}");
    assert_eq!(r.counter("ghost_requests"), 0, "no resource call was made");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_noticed_as_idle_at_the_next_call() {
    // The mock ends a session 3 s after its last login or refresh; the profile declares it.
    let server = mock(|c| c.idle_timeout = Duration::from_secs(3)).await;
    let profile = std::sync::Arc::new(
        authbench::profile::profile_from_str(
            &format!(
                "preset: mock\nbase_url: {}\nsession: {{ idle: 3s }}\n",
                server.base_url()
            ),
            None,
        )
        .expect("profile"),
    );
    let clients = 3;
    let n = u64::from(clients);
    let phases = vec![
        Phase::Login { ramp: zero() },
        Phase::Wait {
            duration: Duration::from_millis(3800),
        },
        Phase::Traffic {
            duration: Duration::from_millis(600),
            rate: None,
        },
    ];
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 1), phases),
        profile,
    )
    .await;
    let c = &r.snap.counters;
    assert_eq!(r.samples("notice_latency.idle.api_401"), n, "{c:?}");
    assert_eq!(r.counter("session_ends.idle"), n, "{c:?}");
    // "the session ended after the idle timeout": an expiry, read right.
    assert_eq!(r.counter("end_reason.expired"), n, "{c:?}");
    assert_eq!(r.counter("reason_unclear"), 0);
    // The call whose 401 told it was sent after the end.
    assert!(r.counter("ghost_requests") >= n, "{c:?}");
    server.shutdown().await;
}
