//! The engine with the two channels besides the WebSocket (`client.channel: sse|push`), on real
//! sockets: the old session's stream or device is told of the login elsewhere (`sse_kick_latency`,
//! `push_latency`), a server that never tells is counted (`sse_missed_kicks`, `missed_pushes`),
//! a server that refuses every socket, stream or push registration cannot pass
//! (`channels_never_opened`), and a stream survives its access
//! token's expiry by refreshing and resuming with `Last-Event-ID`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::channel_notice::told_of_the_kick;
use crate::support::{
    Ran, canned_endpoint_with, eventually, mock, plan, profile, run_push, settings, with_channel,
};
use authbench::client::push::PushReceiver;
use authbench::client::{Channel, Strategy};
use authbench::metrics::Recorder;
use authbench::report::{Origin, Report, RunMeta};
use authbench::scenario::Phase;
use authbench_mock::Flaw;

fn kickoff() -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Relogin {
            ramp: Duration::ZERO,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relogin_kicks_the_old_sse_stream() {
    let server = mock(|c| c.single_session = true).await;
    let clients = 8;
    let r = crate::support::run(
        with_channel(clients, Channel::Sse, kickoff()),
        profile(&server),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.samples("sse_kick_latency"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("sse_missed_kicks"), 0);
    assert_eq!(r.counter("sse_events.kicked"), n);
    // Every old stream read its welcome before its kick (events arrive in order). A new stream's
    // welcome follows its connect by microseconds, but the run ends as soon as every kick is seen,
    // so on a loaded machine one of them can still be unread then (CI saw 15 of 16): what is
    // certain is the old streams' welcome and every new stream's connect.
    let welcome = r.counter("sse_events.welcome");
    assert!((n..=2 * n).contains(&welcome), "welcome events: {welcome}");
    assert_eq!(r.counter("sse_connects"), 2 * n, "old and new streams");
    assert_eq!(r.counter("sse_sessions_ended"), n);
    assert_eq!(r.counter("ended.session_ended"), n);
    assert_eq!(r.samples("kick_latency"), 0, "no WebSocket in this run");
    assert_eq!(r.samples("sse_connect"), 2 * n);
    assert_eq!(r.counter("spurious_logouts"), 0);
    assert_eq!(server.stats().sse_total, 2 * n);
    // The kick event told each old session at once, with its reason.
    told_of_the_kick(&r, n, "sse_event");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_kicks_misses_every_sse_kick() {
    let server = mock(|c| {
        c.single_session = true;
        c.flaws = vec![Flaw::NoKick];
    })
    .await;
    let clients = 4;
    let mut p = with_channel(clients, Channel::Sse, kickoff());
    p.kick_timeout = Duration::from_millis(400);
    let r = crate::support::run(p, profile(&server)).await;
    assert_eq!(
        r.counter("sse_missed_kicks"),
        u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.samples("sse_kick_latency"), 0);
    assert_eq!(r.counter("sse_events.kicked"), 0);
    // Nothing told the old sessions: each registered end stays unnoticed.
    let (c, n) = (&r.snap.counters, u64::from(clients));
    assert_eq!(r.counter("session_ends.kicked"), n, "{c:?}");
    assert_eq!(r.counter("unnoticed.kicked"), n, "{c:?}");
    assert_eq!(r.samples("notice_latency"), 0, "{c:?}");
    assert_eq!(r.counter("end_reason.kicked"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_refreshes_and_resumes_after_its_token_expires() {
    // 2 s access tokens (the test mock); 3.5 s of waiting: every stream gets session_expired once.
    let server = mock(|_| {}).await;
    let clients = 3;
    let phases = vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Wait {
            duration: Duration::from_millis(3500),
        },
    ];
    let r = crate::support::run(
        with_channel(clients, Channel::Sse, phases),
        profile(&server),
    )
    .await;
    let n = u64::from(clients);
    assert!(
        r.counter("sse_events.session_expired") >= n,
        "{:?}",
        r.snap.counters
    );
    assert!(r.samples("sse_reconnect") >= n);
    assert!(
        r.counter("sse_resumes") >= n,
        "reconnects send Last-Event-ID"
    );
    assert!(server.stats().sse_resumes >= n, "and the server saw them");
    assert!(r.counter("refresh_calls") >= n);
    assert_eq!(r.counter("sse_missed_kicks"), 0);
    assert_eq!(r.counter("ended.stopped"), n, "every stream ran to the end");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relogin_is_pushed_to_every_old_device() {
    let clients = 8;
    let (r, server, receiver) = run_push(
        clients,
        kickoff(),
        true,
        |c| c.single_session = true,
        Duration::from_secs(5),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.samples("push_latency"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("missed_pushes"), 0);
    assert_eq!(
        r.counter("push_registrations"),
        2 * n,
        "old and new devices"
    );
    assert_eq!(r.counter("push_events.kicked"), n);
    assert_eq!(r.counter("pushes_received"), n);
    assert_eq!(r.counter("pushes_unrouted"), 0);
    assert_eq!(r.samples("kick_latency"), 0, "no WebSocket in this run");
    // The mock counts a push once the receiver answered it, which can follow the client's count.
    assert!(
        eventually(Duration::from_secs(5), || server.stats().pushes_sent == n).await,
        "pushes_sent {} of {n}",
        server.stats().pushes_sent
    );
    assert_eq!(receiver.routes(), 0, "every device closed at the end");
    // The pushed kick told each old session at once, with its reason; the old devices ended with
    // their session, the new ones when the run closed them.
    told_of_the_kick(&r, n, "push_message");
    let c = &r.snap.counters;
    assert_eq!(r.counter("ended.session_ended"), n, "{c:?}");
    assert_eq!(r.counter("ended.stopped"), n, "{c:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_pushes_misses_every_push() {
    let clients = 4;
    let (r, server, _) = run_push(
        clients,
        kickoff(),
        true,
        |c| {
            c.single_session = true;
            c.flaws = vec![Flaw::NoKick];
        },
        Duration::from_millis(400),
    )
    .await;
    assert_eq!(
        r.counter("missed_pushes"),
        u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.samples("push_latency"), 0);
    // Nothing told the old sessions, and no device heard of its session's end: each was closed
    // by the run.
    let (c, n) = (&r.snap.counters, u64::from(clients));
    assert_eq!(r.counter("session_ends.kicked"), n, "{c:?}");
    assert_eq!(r.counter("unnoticed.kicked"), n, "{c:?}");
    assert_eq!(r.samples("notice_latency"), 0, "{c:?}");
    assert_eq!(r.counter("push_events.kicked"), 0);
    assert_eq!(r.counter("ended.session_ended"), 0, "{c:?}");
    assert_eq!(r.counter("ended.stopped"), 2 * n, "{c:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_registrations_cannot_pass() {
    // No --push-url: the mock answers every registration 501.
    let clients = 3;
    let (r, server, _) = run_push(
        clients,
        kickoff(),
        false,
        |c| c.single_session = true,
        Duration::from_millis(400),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(
        r.counter("push_register_failed"),
        2 * n,
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.counter("push_registrations"), 0);
    assert_eq!(
        r.counter("missed_pushes"),
        n,
        "every kicked device missed its push"
    );
    assert_eq!(r.counter("channels_never_opened"), 2 * n);
    assert_eq!(
        channel_default(&r, clients),
        Some((false, Some(2.0 * f64::from(clients))))
    );
    // Every registration ended, refused; nothing told the old sessions of the kick.
    let c = &r.snap.counters;
    assert_eq!(r.counter("ended.refused"), 2 * n, "{c:?}");
    assert_eq!(r.counter("ended.stopped"), 0, "{c:?}");
    assert_eq!(r.counter("unnoticed.kicked"), n, "{c:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_come_back_after_an_outage_with_last_event_id() {
    let server = mock(|c| c.access_ttl = Duration::from_secs(60)).await;
    let clients = 3;
    let phases = vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Outage {
            duration: Duration::from_millis(300),
        },
        Phase::Wait {
            duration: Duration::from_millis(2500),
        },
    ];
    let r = crate::support::run(
        with_channel(clients, Channel::Sse, phases),
        profile(&server),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(
        r.counter("sse_end_without_event"),
        n,
        "{:?}",
        r.snap.counters
    );
    assert!(r.counter("sse_reconnects") >= n);
    assert!(r.counter("sse_resumes") >= n);
    assert_eq!(
        r.counter("ended.stopped"),
        n,
        "every stream was open again at the end"
    );
    server.shutdown().await;
}

/// A raw POST to the receiver.
async fn post(url: &str, auth: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn the_push_receiver_answers_like_fcm() {
    let rec = Recorder::new();
    let receiver = PushReceiver::start("127.0.0.1:0".parse().unwrap(), rec.clone())
        .await
        .unwrap();
    let url = receiver.send_url();
    assert!(
        url.ends_with("/v1/projects/authbench/messages:send"),
        "{url}"
    );
    let msg = r#"{"message":{"token":"nobody","data":{"type":"kicked"}}}"#;
    let (status, body) = post(&url, None, msg).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let (status, body) = post(&url, Some("Bearer x"), r#"{"message":{}}"#).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let (status, body) = post(&url, Some("Bearer x"), msg).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["details"][0]["errorCode"], "UNREGISTERED");
    assert_eq!(rec.counter("pushes_unrouted"), 1);
    assert_eq!(rec.counter("pushes_received"), 0);
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_ends_the_stream_with_the_logout_event() {
    let server = mock(|_| {}).await;
    let clients = 4;
    let phases = vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Logout {
            ramp: Duration::ZERO,
        },
    ];
    let r = crate::support::run(
        with_channel(clients, Channel::Sse, phases),
        profile(&server),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.counter("sse_events.logout"), n, "{:?}", r.snap.counters);
    assert_eq!(r.samples("sse_kick_latency"), n);
    assert_eq!(r.counter("sse_missed_kicks"), 0);
    assert_eq!(
        r.counter("ended.session_ended"),
        n,
        "every stream ended with its session"
    );
    server.shutdown().await;
}

/// Login, then 1.5 s of calls (the channels open after each login).
fn login_then_calls() -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Traffic {
            duration: Duration::from_millis(1_500),
            rate: None,
        },
    ]
}

/// `clients` with a `channel` each log in and call for 1.5 s against `profile`.
async fn channel_run(
    clients: u32,
    channel: Channel,
    profile: Arc<authbench::profile::Profile>,
) -> Ran {
    crate::support::run(with_channel(clients, channel, login_then_calls()), profile).await
}

/// The report of `r` judged by the default thresholds alone: `(passed, value)` of the channel
/// default, `None` when the report is not held to it.
fn channel_default(r: &Ran, clients: u32) -> Option<(bool, Option<f64>)> {
    let meta = RunMeta {
        name: "channels".into(),
        clients,
        ..RunMeta::default()
    };
    let report = Report::from_run(meta, r.snap.clone(), &[]);
    report
        .thresholds
        .iter()
        .find(|t| t.expr == "channels_never_opened == 0")
        .map(|t| {
            assert_eq!(t.origin, Origin::Default);
            (t.passed, t.observed)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_every_socket_cannot_pass() {
    // Every HTTP call works; every WebSocket handshake is answered 500. Before
    // `channels_never_opened`, no default threshold looked at sockets and such a run passed.
    let clients = 4;
    let broken = mock(|c| c.faults = vec!["error:ws=100%".parse().unwrap()]).await;
    let r = channel_run(clients, Channel::Ws, profile(&broken)).await;
    assert_eq!(r.counter("failures"), 0, "{:?}", r.snap.counters);
    assert!(r.counter("ws_connect_failed.500") >= u64::from(clients));
    assert_eq!(r.counter("channels_never_opened"), u64::from(clients));
    assert_eq!(
        channel_default(&r, clients),
        Some((false, Some(f64::from(clients))))
    );
    broken.shutdown().await;

    // The same run against the correct mock: every socket opens, the default holds at 0.
    let server = mock(|_| {}).await;
    let r = channel_run(clients, Channel::Ws, profile(&server)).await;
    assert_eq!(r.counter("ws_connects"), u64::from(clients));
    assert_eq!(channel_default(&r, clients), Some((true, Some(0.0))));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_turns_every_socket_away_cannot_pass() {
    // Every handshake succeeds, and the socket is closed at once with 1013 "try again later"
    // (`capacity:ws=0`): no socket is ever held, like a refused handshake.
    let clients = 4;
    let server = mock(|c| c.faults = vec!["capacity:ws=0".parse().unwrap()]).await;
    let r = channel_run(clients, Channel::Ws, profile(&server)).await;
    let (opened, turned_away, at_stop) = sockets_by_end(&r, clients);
    // Every channel was turned away at least once ...
    assert!(turned_away >= u64::from(clients), "{:?}", r.snap.counters);
    // ... and every socket opened was turned away by the server with 1013, except those the
    // run's own stop closed first (a socket accepted just before the end, its 1013 still on the
    // way): nothing else ended one.
    assert_eq!(opened, turned_away + at_stop, "{:?}", r.snap.counters);
    // Such a socket held nothing either: every channel never opened.
    assert_eq!(r.counter("channels_never_opened"), u64::from(clients));
    assert_eq!(
        channel_default(&r, clients),
        Some((false, Some(f64::from(clients))))
    );
    // Each socket turned away is a failed attempt: a server that turns away only part of them,
    // and later lets the clients in, fails by `channel_failure_rate`.
    assert_eq!(
        r.counter("channels_turned_away"),
        turned_away,
        "{:?}",
        r.snap.counters
    );
    assert_eq!(
        channel_failure_rate(&r, clients).map(|(p, _)| p),
        Some(false)
    );
    // No socket was open at the end: one that the retries got upgraded in the end's grace was
    // turned away within the second too (it used to count as open: `kickoff.yaml --clients 20`
    // with `capacity:ws=10` said 8 of the 10 new sessions without a socket).
    assert_eq!(
        r.counter("ws_not_open_at_end"),
        u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    server.shutdown().await;

    // The same run against the correct mock: no socket is turned away, each one is open until
    // the stop closes it, and every channel opened.
    let server = mock(|_| {}).await;
    let r = channel_run(clients, Channel::Ws, profile(&server)).await;
    let (opened, turned_away, at_stop) = sockets_by_end(&r, clients);
    assert_eq!(
        (opened, turned_away, at_stop),
        (u64::from(clients), 0, u64::from(clients)),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.counter("channels_never_opened"), 0);
    assert_eq!(channel_default(&r, clients), Some((true, Some(0.0))));
    assert_eq!(r.counter("channels_turned_away"), 0);
    assert_eq!(channel_failure_rate(&r, clients), Some((true, Some(0.0))));
    assert_eq!(r.counter("ws_not_open_at_end"), 0);
    server.shutdown().await;
}

/// A `ws_connect` phase leaves a channel that is still retrying alone: it is the client's one
/// channel. It used to replace every channel not open at that instant, ending it
/// (`ended.stopped`) and counting the client's channel twice (`kickoff.yaml --clients 20` with
/// `capacity:ws=10`: 50 channel ends and 30 channels never opened for 40 channels).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_connect_keeps_a_channel_that_is_still_retrying() {
    let clients = 4u32;
    let server = mock(|c| c.faults = vec!["capacity:ws=0".parse().unwrap()]).await;
    // The login opens each channel; by the time `ws_connect` runs, the server has turned every
    // socket away and the channels are waiting to retry.
    let phases = vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Wait {
            duration: Duration::from_millis(300),
        },
        Phase::WsConnect {
            ramp: Duration::ZERO,
        },
        Phase::Traffic {
            duration: Duration::from_millis(500),
            rate: None,
        },
    ];
    let r = crate::support::run(with_channel(clients, Channel::Ws, phases), profile(&server)).await;
    let c = &r.snap.counters;
    let ends: u64 = c
        .iter()
        .filter(|(k, _)| k.starts_with("ended."))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(ends, u64::from(clients), "one channel per client: {c:?}");
    assert_eq!(
        r.counter("channels_never_opened"),
        u64::from(clients),
        "{c:?}"
    );
    server.shutdown().await;
}

/// `(passed, value)` of the default `channel_failure_rate < 1%` of `r` judged alone.
fn channel_failure_rate(r: &Ran, clients: u32) -> Option<(bool, Option<f64>)> {
    let meta = RunMeta {
        name: "channels".into(),
        clients,
        ..RunMeta::default()
    };
    Report::from_run(meta, r.snap.clone(), &[])
        .thresholds
        .iter()
        .find(|t| t.expr == "channel_failure_rate < 1%")
        .map(|t| (t.passed, t.observed))
}

/// A login elsewhere replaces a session whose socket the server keeps turning away, so the kick
/// never reaches it: its next handshake is refused (401), then its refresh, and that is how it
/// learns of the kick. It used to be counted a spurious logout and to log in again, taking the
/// user's session back from the new login (`kickoff.yaml --clients 30` with `capacity:ws=0`: 96
/// spurious logouts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_session_whose_kick_never_arrived_learns_it_from_its_refused_refresh() {
    let clients = 4u32;
    let server = mock(|c| {
        c.single_session = true;
        c.faults = vec!["capacity:ws=0".parse().unwrap()];
    })
    .await;
    let mut p = with_channel(clients, Channel::Ws, kickoff());
    p.kick_timeout = Duration::from_secs(8);
    let r = crate::support::run(p, profile(&server)).await;
    let c = &r.snap.counters;
    // Every old session tried its socket again after the relogin and was refused for its token...
    assert!(
        r.counter("ws_connect_failed.401") >= u64::from(clients),
        "{c:?}"
    );
    // ... learned of the kick from the refused refresh, and stayed out.
    let noticed = r
        .snap
        .histograms
        .get("notice_latency.kicked.refresh_rejected")
        .map_or(0, |h| h.len());
    assert_eq!(noticed, u64::from(clients), "{c:?}");
    assert_eq!(r.counter("relogins"), 0, "{c:?}");
    assert_eq!(r.counter("spurious_logouts"), 0, "{c:?}");
    assert_eq!(r.counter("unnoticed.kicked"), 0, "{c:?}");
    server.shutdown().await;
}

/// How the sockets of a run of `clients` channels ended: `(ws_connects, ws_close.1013,
/// ws_closed_at_stop)`, after checking that no socket ended any other way (another close code,
/// none, a reconnect) and that the stop ended at most one socket per channel, each channel
/// ending `ended.stopped` then.
fn sockets_by_end(r: &Ran, clients: u32) -> (u64, u64, u64) {
    let c = &r.snap.counters;
    let closes: Vec<(&String, &u64)> = c
        .iter()
        .filter(|(k, _)| k.starts_with("ws_close.") && k.as_str() != "ws_close.1013")
        .collect();
    assert!(closes.is_empty(), "other ends: {closes:?} in {c:?}");
    assert_eq!(r.counter("errors.ws_abnormal"), 0, "{c:?}");
    let at_stop = r.counter("ws_closed_at_stop");
    assert!(at_stop <= r.counter("ended.stopped"), "{c:?}");
    assert!(r.counter("ended.stopped") <= u64::from(clients), "{c:?}");
    (
        r.counter("ws_connects"),
        r.counter("ws_close.1013"),
        at_stop,
    )
}

/// An event-stream endpoint that answers every request 200 `text/event-stream` with an empty
/// body and closes: each stream ends at once having delivered nothing.
async fn empty_streams() -> SocketAddr {
    canned_endpoint_with(|_, _| {
        (
            200,
            "content-type: text/event-stream\r\n".into(),
            String::new(),
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ends_every_stream_at_once_cannot_pass() {
    let server = mock(|_| {}).await;
    let streams = empty_streams().await;
    let yaml = format!(
        "preset: mock\nbase_url: {}\nsse: {{ url: 'http://{streams}/events' }}\n",
        server.base_url()
    );
    let empty = Arc::new(authbench::profile::profile_from_str(&yaml, None).expect("profile loads"));
    let clients = 3;
    let r = channel_run(clients, Channel::Sse, empty).await;
    assert!(
        r.counter("sse_connects") >= u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.counter("channels_never_opened"), u64::from(clients));
    assert_eq!(
        channel_default(&r, clients),
        Some((false, Some(f64::from(clients))))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_stream_cannot_pass_and_a_run_without_channels_is_not_held_to_it() {
    // The profile's stream path does not exist (404 on every request for it).
    let server = mock(|_| {}).await;
    let yaml = format!(
        "preset: mock\nbase_url: {}\nsse: {{ path: /no-such-stream }}\n",
        server.base_url()
    );
    let missing =
        Arc::new(authbench::profile::profile_from_str(&yaml, None).expect("profile loads"));
    let clients = 3;
    let r = channel_run(clients, Channel::Sse, missing).await;
    assert_eq!(r.counter("sse_connect_failed.404"), u64::from(clients));
    assert_eq!(r.counter("channels_never_opened"), u64::from(clients));
    assert_eq!(
        channel_default(&r, clients),
        Some((false, Some(f64::from(clients))))
    );

    // No channel at all: the counter is not in the report and neither is its default.
    let r = crate::support::run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            login_then_calls(),
        ),
        profile(&server),
    )
    .await;
    assert!(!r.snap.counters.contains_key("channels_never_opened"));
    assert_eq!(channel_default(&r, clients), None);
    server.shutdown().await;
}

/// A server that refuses part of the stream requests (`error:sse=50%`) or push registrations
/// (`error:push=50%`) cannot pass: each refusal is a failed channel attempt, and the default
/// `channel_failure_rate < 1%` fails the run. The mock could not fail either before. The same
/// runs against the correct mock hold it at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_part_of_the_streams_or_registrations_cannot_pass() {
    // 20 first attempts at 50 %: none refused once in a million runs.
    let clients = 20;
    for (channel, op) in [(Channel::Sse, "sse"), (Channel::Push, "push")] {
        for faulty in [true, false] {
            let fault = |c: &mut authbench_mock::MockConfig| {
                if faulty {
                    c.faults = vec![format!("error:{op}=50%").parse().unwrap()];
                }
            };
            let (r, server) = if channel == Channel::Push {
                let (r, server, _) = run_push(
                    clients,
                    login_then_calls(),
                    true,
                    fault,
                    Duration::from_secs(1),
                )
                .await;
                (r, server)
            } else {
                let server = mock(fault).await;
                (
                    channel_run(clients, channel, profile(&server)).await,
                    server,
                )
            };
            let c = &r.snap.counters;
            let refused = if channel == Channel::Push {
                r.counter("push_register_failed")
            } else {
                r.counter("sse_connect_failed.500")
            };
            let rate = channel_failure_rate(&r, clients);
            if faulty {
                assert!(refused > 0, "{op}: {c:?}");
                assert_eq!(rate.map(|(passed, _)| passed), Some(false), "{op}: {c:?}");
            } else {
                assert_eq!(refused, 0, "{op}: {c:?}");
                assert_eq!(rate, Some((true, Some(0.0))), "{op}: {c:?}");
            }
            server.shutdown().await;
        }
    }
}
