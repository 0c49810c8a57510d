//! WebSocket measurements against the mock's deliberate flaws (the report must show each failure)
//! and a kick-off fan-out with many sockets at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{
    BOUND, TestTokens, close_stopped, eventually, http, login, mock, open_socket, ws_options,
};
use authbench::client::ws::{self, KickBoard, SessionEnd, WsEnd, WsHandle};
use authbench::metrics::Recorder;
use authbench::metrics::names;
use authbench_mock::Flaw;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn no_kick_shows_as_a_missed_kick() {
    let server = mock(|c| {
        c.single_session = true;
        c.flaws = vec![Flaw::NoKick];
    })
    .await;
    let sock = open_socket(&server, 20).await;
    sock.login_elsewhere().await;
    let tally = sock.board.settle(Duration::from_millis(300)).await;
    assert_eq!((tally.armed, tally.missed), (1, 1));
    assert_eq!(sock.rec.counter(names::MISSED_KICKS), 1);
    assert!(sock.h.is_open(), "the old socket is still open, unnotified");
    assert_eq!(sock.rec.samples("kick_latency"), 0);
    close_stopped(sock.h).await;
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_close_code_shows_as_a_close_without_event() {
    let server = mock(|c| {
        c.single_session = true;
        c.flaws = vec![Flaw::WrongCloseCode];
    })
    .await;
    let sock = open_socket(&server, 21).await;
    sock.login_elsewhere().await;
    let out = tokio::time::timeout(BOUND, sock.h.join()).await.unwrap();
    assert_eq!(
        out.end,
        WsEnd::Normal(1000),
        "the client cannot tell it was kicked"
    );
    assert!(sock.tokens.ended.lock().is_empty());
    assert_eq!(sock.rec.counter("ws_close.1000"), 1);
    assert_eq!(sock.rec.counter("ws_close.4409"), 0);
    assert_eq!(sock.rec.counter("ws_close_class.normal"), 1);
    assert_eq!(sock.rec.counter("ws_events.kicked"), 0);
    assert_eq!(sock.rec.counter(names::CLOSE_WITHOUT_EVENT), 1);
    // The close frame still ends the kick clock: not missed, latency measured.
    assert_eq!(sock.board.settle(Duration::from_secs(1)).await.missed, 0);
    assert_eq!(sock.rec.samples("kick_latency"), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn socket_open_after_expiry_is_counted() {
    let server = mock(|c| {
        c.access_ttl = Duration::from_secs(1);
        c.flaws = vec![Flaw::WsStaysOpenAfterExpiry];
    })
    .await;
    let sock = open_socket(&server, 22).await;
    assert!(eventually(BOUND, || sock.rec.counter(names::WS_OPEN_AFTER_EXPIRY) == 1).await);
    assert!(sock.h.is_open());
    assert_eq!(sock.h.generation(), 1);
    assert_eq!(sock.rec.counter("ws_close.4401"), 0);
    close_stopped(sock.h).await;
    server.shutdown().await;
}

/// Sockets held at once in [`kickoff_fan_out_kicks_every_old_socket`] (override with
/// `AUTHBENCH_WS_TEST_SOCKETS` for a measurement run; 2 fds per socket in one process).
fn fan_out_size() -> u64 {
    std::env::var("AUTHBENCH_WS_TEST_SOCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kickoff_fan_out_kicks_every_old_socket() {
    let n = fan_out_size();
    let server = mock(|c| c.single_session = true).await;
    let http = http();
    let base = server.base_url();
    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let opts = Arc::new(ws_options(&server));
    let cancel = CancellationToken::new();

    let t0 = Instant::now();
    let mut sessions: Vec<(u64, Arc<TestTokens>, WsHandle, Arc<ws::KickClock>)> =
        futures::stream::iter(0..n)
            .map(|i| {
                let (http, base, rec, board, opts, cancel) = (
                    http.clone(),
                    base.clone(),
                    rec.clone(),
                    board.clone(),
                    opts.clone(),
                    cancel.clone(),
                );
                async move {
                    let tokens = TestTokens::login(&http, &base, 1000 + i).await;
                    let clock = board.clock(i as usize);
                    let h = ws::spawn(opts, tokens.clone(), rec, i as usize, clock.clone(), cancel);
                    assert!(tokio::time::timeout(BOUND, h.wait_open(1)).await.unwrap());
                    (i, tokens, h, clock)
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
    let opened = t0.elapsed();
    sessions.sort_by_key(|s| s.0);
    assert_eq!(
        rec.gauge("open_sockets"),
        n as i64,
        "{:?}",
        rec.snapshot().counters
    );

    let t1 = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (http, base, clock) = (http.clone(), base.clone(), sessions[i as usize].3.clone());
            async move {
                // The trigger is the moment the second login is sent: the server may kick the old
                // socket before its response is even read.
                let sent = Instant::now();
                assert!(login(&http, &base, 1000 + i).await.is_some());
                clock.arm_at(sent);
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
    let tally = board.settle(BOUND).await;
    let kicked = t1.elapsed();
    assert_eq!((tally.armed, tally.missed), (n, 0));
    for (_, tokens, h, _) in sessions {
        let out = tokio::time::timeout(BOUND, h.join()).await.unwrap();
        assert_eq!(out.end, WsEnd::SessionEnded(SessionEnd::Kicked));
        assert_eq!(*tokens.ended.lock(), vec![SessionEnd::Kicked]);
    }
    assert_eq!(rec.counter("ws_close.4409"), n);
    assert_eq!(rec.counter("ws_events.kicked"), n);
    assert_eq!(rec.counter(names::CLOSE_WITHOUT_EVENT), 0);
    assert_eq!(rec.counter(names::KICK_WITHOUT_CLOSE), 0);
    assert_eq!(rec.counter(names::KICKS_BEFORE_TRIGGER), 0);
    assert_eq!(rec.gauge("open_sockets"), 0);
    let snap = rec.snapshot();
    let h = &snap.histograms["kick_latency"];
    assert_eq!(h.len(), n);
    eprintln!(
        "{n} sockets: opened in {opened:?}; relogin + kicks in {kicked:?}; kick_latency p50 {} µs p99 {} µs max {} µs",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
    );
    server.shutdown().await;
}
