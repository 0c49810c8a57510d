//! Session loss, noticed on the two channels besides the WebSocket (`client.channel: sse|push`),
//! against the in-process mock over real sockets: the `logout` or `kicked` event of an SSE stream
//! and the `logout` or `kicked` push message tell the session at once, as the WebSocket's event
//! does (`notice_latency.<cause>.sse_event`, `notice_latency.<cause>.push_message`), before it
//! sends anything on the dead session (`ghost_requests` 0) and with the reason the event names. A
//! server that never sends the event leaves the end unnoticed (`unnoticed.kicked`). The kick runs,
//! noticed and not, are the tests of `channels.rs` (beside the kick latencies and missed kicks they
//! also count), with [`told_of_the_kick`] from here. Every push registration ends with a counted
//! reason (`ended.<reason>`), as sockets and streams do.

use std::time::Duration;

use crate::support::{Ran, mock, profile, run, run_push, with_channel};
use authbench::client::Channel;
use authbench::scenario::Phase;

fn zero() -> Duration {
    Duration::ZERO
}

/// Login (the channel opens after it), an admin logs every user out, then 400 ms of calls.
fn force_logout_then_calls() -> Vec<Phase> {
    vec![
        Phase::Login { ramp: zero() },
        Phase::ForceLogout { ramp: zero() },
        Phase::Traffic {
            duration: Duration::from_millis(400),
            rate: None,
        },
    ]
}

/// What a client told of a force logout by its channel's event must show: one notice per client
/// through `path`, none through a 401, no ghost request, the reason right.
fn told_of_the_force_logout(r: &Ran, n: u64, path: &str) {
    let c = &r.snap.counters;
    assert_eq!(r.counter("session_ends.force_logout"), n, "{c:?}");
    assert_eq!(
        r.samples(&format!("notice_latency.force_logout.{path}")),
        n,
        "{c:?}"
    );
    assert_eq!(r.samples("notice_latency"), n);
    assert_eq!(r.samples("notice_latency.force_logout.api_401"), 0);
    // Told during the force_logout phase: nothing was sent on the dead session.
    assert_eq!(r.counter("ghost_requests"), 0, "{c:?}");
    assert_eq!(r.samples("ghost_time"), 0);
    assert_eq!(r.counter("unnoticed.force_logout"), 0);
    assert_eq!(r.counter("end_reason.logged_out"), n, "{c:?}");
    assert_eq!(r.counter("reason_unclear"), 0);
    // The calls after the notice find the session over and log in again, an expected relogin.
    assert_eq!(r.counter("relogins"), n, "{c:?}");
    assert_eq!(r.counter("spurious_logouts"), 0);
}

/// What a client kicked by a login elsewhere and told by its channel's event must show.
pub(crate) fn told_of_the_kick(r: &Ran, n: u64, path: &str) {
    let c = &r.snap.counters;
    assert_eq!(r.counter("session_ends.kicked"), n, "{c:?}");
    assert_eq!(
        r.samples(&format!("notice_latency.kicked.{path}")),
        n,
        "{c:?}"
    );
    assert_eq!(r.samples("notice_latency"), n);
    assert_eq!(r.counter("unnoticed.kicked"), 0, "{c:?}");
    assert_eq!(r.counter("end_reason.kicked"), n, "{c:?}");
    assert_eq!(r.counter("reason_unclear"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_tells_of_a_force_logout_before_any_ghost_request() {
    let server = mock(|_| {}).await;
    let clients = 5;
    let r = run(
        with_channel(clients, Channel::Sse, force_logout_then_calls()),
        profile(&server),
    )
    .await;
    assert_eq!(r.counter("sse_events.logout"), u64::from(clients));
    told_of_the_force_logout(&r, u64::from(clients), "sse_event");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_tells_of_a_force_logout_before_any_ghost_request() {
    let clients = 5;
    let (r, server, _) = run_push(
        clients,
        force_logout_then_calls(),
        true,
        |_| {},
        Duration::from_secs(5),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.counter("push_events.logout"), n, "{:?}", r.snap.counters);
    told_of_the_force_logout(&r, n, "push_message");
    assert_eq!(r.counter("ended.session_ended"), n, "{:?}", r.snap.counters);
    server.shutdown().await;
}
