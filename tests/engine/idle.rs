//! The `idle` phase (issue 17 §3): no client sends anything while it lasts — not even a proactive
//! timer or a socket's renewal — so a server with an idle timeout shorter than the phase ends every
//! session, and the clients count that announced end as `sessions_expired` when they resume. The
//! `wait` phase, where timers keep firing, keeps the same sessions alive.

use std::time::Duration;

use authbench::client::Strategy;
use authbench::scenario::Phase;

use crate::support::*;

/// Login, a little traffic, `pause` for 4 s (longer than the mock's 3 s idle timeout), traffic.
fn plan_with(clients: u32, strategy: Strategy, pause: Phase) -> authbench::engine::Plan {
    let mut s = settings(strategy, 1);
    s.proactive_margin = Duration::from_millis(300);
    let traffic = || Phase::Traffic {
        duration: Duration::from_millis(500),
        rate: None,
    };
    plan(
        clients,
        s,
        vec![
            Phase::Login {
                ramp: Duration::ZERO,
            },
            traffic(),
            pause,
            traffic(),
        ],
    )
}

fn knobs(c: &mut authbench_mock::MockConfig) {
    c.access_ttl = Duration::from_secs(1);
    c.idle_timeout = Duration::from_secs(3);
}

const PAUSE: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_holds_proactive_timers_and_the_idle_end_is_a_session_expiry() {
    let (a, b) = (mock(knobs).await, mock(knobs).await);
    let clients = 4;
    let n = u64::from(clients);
    let (idle, waited) = tokio::join!(
        run(
            plan_with(
                clients,
                Strategy::Proactive,
                Phase::Idle { duration: PAUSE }
            ),
            profile(&a)
        ),
        run(
            plan_with(
                clients,
                Strategy::Proactive,
                Phase::Wait { duration: PAUSE }
            ),
            profile(&b)
        ),
    );
    // Idle: the timers were held, the sessions idled out, each client learnt it at its next
    // refresh (400) and logged in again — an end the server had announced.
    assert_eq!(idle.counter("relogins"), n, "{:?}", idle.snap.counters);
    assert_eq!(idle.counter("sessions_expired"), n);
    assert_eq!(idle.counter("spurious_logouts"), 0);
    // Session loss: each of those ends is an end by idleness (announced, and passed while idle).
    assert_eq!(
        idle.counter("session_ends.idle"),
        n,
        "{:?}",
        idle.snap.counters
    );
    assert_eq!(idle.counter("session_ends.expired"), 0);
    assert!(idle.counter("status.refresh.400") >= n);
    // Wait: the same pause with timers running is activity; nobody was logged out.
    assert_eq!(waited.counter("relogins"), 0, "{:?}", waited.snap.counters);
    assert_eq!(waited.counter("status.refresh.400"), 0);
    assert!(waited.counter("status.refresh.200") >= n);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_stay_open_but_do_not_renew_while_idle() {
    // 1 s access tokens: every socket is closed 4401 during the pause; its renewal waits for the
    // end of the idle phase, finds the session idled out, logs in again and reconnects.
    let server = mock(knobs).await;
    let clients = 3;
    let n = u64::from(clients);
    let mut p = plan_with(
        clients,
        Strategy::SingleFlight,
        Phase::Idle { duration: PAUSE },
    );
    p.websocket = true;
    let r = run(p, profile(&server)).await;
    assert_eq!(r.counter("relogins"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("sessions_expired"), n);
    assert_eq!(r.counter("spurious_logouts"), 0);
    assert_eq!(r.counter("ws_not_open_at_end"), 0, "{:?}", r.snap.counters);
    server.shutdown().await;
}
