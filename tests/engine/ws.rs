//! The engine with WebSockets: sockets opened by `ws_connect` (or `client.websocket`), the old
//! socket kicked after a second login (`relogin`) or a force logout, `missed_kicks` when the server
//! never kicks, and sockets that survive access-token expiry by refreshing through the session.

use std::time::Duration;

use crate::support::{mock, plan, profile, run, settings};
use authbench::client::Strategy;
use authbench::scenario::Phase;
use authbench_mock::Flaw;

fn zero() -> Duration {
    Duration::ZERO
}

fn kickoff() -> Vec<Phase> {
    vec![
        Phase::Login { ramp: zero() },
        Phase::WsConnect { ramp: zero() },
        Phase::Relogin { ramp: zero() },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relogin_kicks_the_old_socket() {
    let server = mock(|c| c.single_session = true).await;
    let clients = 6;
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 1), kickoff()),
        profile(&server),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.samples("kick_latency"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("missed_kicks"), 0);
    // Old sockets at ws_connect, new ones after the second login.
    assert_eq!(r.counter("ws_connects"), 2 * n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("logins"), 2 * n);
    assert_eq!(r.counter("spurious_logouts"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_kicks_is_counted() {
    let server = mock(|c| {
        c.single_session = true;
        c.flaws = vec![Flaw::NoKick];
    })
    .await;
    let clients = 4;
    let mut p = plan(clients, settings(Strategy::SingleFlight, 1), kickoff());
    p.kick_timeout = Duration::from_millis(400);
    let r = run(p, profile(&server)).await;
    assert_eq!(
        r.counter("missed_kicks"),
        u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.samples("kick_latency"), 0);
    assert!(
        r.took < Duration::from_secs(4),
        "bounded wait: {:?}",
        r.took
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_logout_kicks_every_socket() {
    let server = mock(|_| {}).await;
    let clients = 5;
    // Every client must call at least once to notice the logout: its first call comes after a
    // random offset in [0, think time), so a 50 ms think time in a 3 s phase leaves ~2.9 s for a
    // descheduled client (a 300 ms phase with 250 ms left 50 ms; a 2 s phase, a stall of the
    // machine of 2 s at its start left 1-3 of 5 clients without a call). Still one relogin each:
    // the new session's 2 s tokens are refreshed (24 h refresh tokens, no idle timeout), and no
    // socket reopens in a traffic phase, so nothing can end it again.
    let mut client = settings(Strategy::SingleFlight, 1);
    client.think_time = Duration::from_millis(50);
    let mut p = plan(
        clients,
        client,
        vec![
            Phase::Login { ramp: zero() },
            Phase::ForceLogout { ramp: zero() },
            Phase::Traffic {
                duration: Duration::from_secs(3),
                rate: None,
            },
        ],
    );
    p.websocket = true; // sockets open right after each login
    let r = run(p, profile(&server)).await;
    let n = u64::from(clients);
    assert_eq!(r.counter("ws_connects"), n, "{:?}", r.snap.counters);
    assert_eq!(
        r.counter("status.force_logout.200"),
        n,
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.samples("kick_latency"), n);
    assert_eq!(r.counter("missed_kicks"), 0);
    // The clients learn it from a 401 and log in again: expected, not spurious.
    assert_eq!(r.counter("relogins"), n);
    assert_eq!(r.counter("spurious_logouts"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_survive_token_expiry_through_the_session() {
    let server = mock(|_| {}).await;
    let clients = 4;
    // The 2 s tokens expire 2-3 s after the login (`exp` is a whole second); the close, the
    // refresh and the reconnect must come before the run ends. A 5.2 s wait leaves 2.2 s or more
    // for them, room for a stall of the machine (3.2 s left 0.2-1.2 s).
    let mut p = plan(
        clients,
        settings(Strategy::SingleFlight, 1),
        vec![
            Phase::Login { ramp: zero() },
            Phase::Wait {
                duration: Duration::from_millis(5200),
            },
        ],
    );
    p.websocket = true;
    let r = run(p, profile(&server)).await;
    let n = u64::from(clients);
    // Each 2 s token expired once while idle: the server closed with 4401, the socket refreshed
    // through the session (single-flight) and reconnected.
    assert!(r.counter("ws_close.4401") >= n, "{:?}", r.snap.counters);
    assert!(r.counter("ws_reconnects") >= n);
    assert!(r.counter("refresh_calls") >= n);
    assert_eq!(r.amplification(), 1.0);
    assert_eq!(r.counter("relogins"), 0);
    server.shutdown().await;
}
