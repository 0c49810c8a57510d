//! WebSocket channel against the mock, one test per close class: 4401 refresh-then-reconnect,
//! 4409 and 4403 terminal (with kick latency), 1013 backoff (recovering, and giving up).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::{
    BOUND, TestTokens, admin_logout, close_stopped, eventually, http, mock, open_socket, start,
    ws_options,
};
use authbench::client::ws::{KickBoard, SessionEnd, WsEnd};
use authbench::metrics::Recorder;
use authbench::metrics::names;
use authbench_mock::Fault;

#[tokio::test]
async fn expiry_close_4401_refreshes_then_reconnects_with_the_new_token() {
    let server = mock(|c| c.access_ttl = Duration::from_secs(1)).await;
    let sock = open_socket(&server, 10).await;
    assert!(
        tokio::time::timeout(BOUND, sock.h.wait_open(2))
            .await
            .unwrap()
    );
    close_stopped(sock.h).await;
    assert!(sock.rec.counter("ws_close.4401") >= 1);
    assert!(sock.rec.counter("ws_events.session_expired") >= 1);
    assert!(sock.rec.counter("ws_close_class.refresh_then_reconnect") >= 1);
    assert!(
        sock.rec.samples("reconnect") >= 1,
        "expiry close → open again"
    );
    assert!(sock.tokens.reconnect_refreshes.load(Ordering::SeqCst) >= 1);
    let handed = sock.tokens.handed_out.lock().clone();
    assert!(handed.len() >= 2);
    assert_ne!(
        handed[0], handed[1],
        "the new socket uses the refreshed token"
    );
    assert_eq!(sock.rec.counter(names::CLOSE_WITHOUT_EVENT), 0);
    assert_eq!(sock.rec.counter("ws_connect_failed.401"), 0);
    assert_eq!(sock.rec.counter(names::WS_OPEN_AFTER_EXPIRY), 0);
    assert!(sock.tokens.ended.lock().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn kick_4409_is_terminal_and_its_latency_measured() {
    let server = mock(|c| c.single_session = true).await;
    let sock = open_socket(&server, 11).await;
    sock.login_elsewhere().await;
    let out = tokio::time::timeout(BOUND, sock.h.join()).await.unwrap();
    assert_eq!(out.end, WsEnd::SessionEnded(SessionEnd::Kicked));
    assert_eq!(*sock.tokens.ended.lock(), vec![SessionEnd::Kicked]);
    assert_eq!(sock.rec.counter("ws_close.4409"), 1);
    assert_eq!(sock.rec.counter("ws_events.kicked"), 1);
    assert_eq!(sock.rec.samples("kick_latency"), 1);
    assert_eq!(sock.board.settle(Duration::from_secs(1)).await.missed, 0);
    assert_eq!(sock.rec.counter(names::MISSED_KICKS), 0);
    assert_eq!(sock.rec.counter(names::KICK_WITHOUT_CLOSE), 0);
    assert_eq!(sock.rec.counter(names::CLOSE_WITHOUT_EVENT), 0);
    assert_eq!(sock.rec.gauge("open_sockets"), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn admin_logout_4403_is_terminal() {
    let server = mock(|_| {}).await;
    let sock = open_socket(&server, 12).await;
    let sent = std::time::Instant::now();
    assert!(admin_logout(&sock.http, &sock.base, 12).await);
    sock.clock.arm_at(sent);
    let out = tokio::time::timeout(BOUND, sock.h.join()).await.unwrap();
    assert_eq!(out.end, WsEnd::SessionEnded(SessionEnd::LoggedOut));
    assert_eq!(sock.rec.counter("ws_close.4403"), 1);
    assert_eq!(sock.rec.counter("ws_events.logout"), 1);
    assert_eq!(sock.rec.counter("ws_close_class.terminal"), 1);
    assert_eq!(sock.rec.samples("kick_latency"), 1);
    assert_eq!(out.connections, 1, "a terminal close never reconnects");
    server.shutdown().await;
}

#[tokio::test]
async fn over_capacity_1013_backs_off_and_recovers_or_gives_up() {
    let server = mock(|c| c.faults = vec!["capacity:ws=1".parse::<Fault>().unwrap()]).await;
    let http = http();
    let base = server.base_url();
    let rec_a = Recorder::new();
    let board = KickBoard::new(rec_a.clone());
    let a_tokens = TestTokens::login(&http, &base, 13).await;
    let (a, _) = start(ws_options(&server), &a_tokens, &rec_a, &board);
    assert!(tokio::time::timeout(BOUND, a.wait_open(1)).await.unwrap());

    // C gives up after 2 backoffs: three 1013 closes in a row.
    let rec_c = Recorder::new();
    let c_tokens = TestTokens::login(&http, &base, 15).await;
    let mut c_opts = ws_options(&server);
    c_opts.backoff.max_attempts = 2;
    let (c, _) = start(c_opts, &c_tokens, &rec_c, &board);
    let out = tokio::time::timeout(BOUND, c.join()).await.unwrap();
    assert_eq!(out.end, WsEnd::GaveUp);
    assert_eq!(rec_c.counter("ws_close.1013"), 3);
    assert_eq!(rec_c.counter("ws_close_class.backoff"), 3);
    assert_eq!(rec_c.counter(names::WS_GAVE_UP), 1);
    assert_eq!(
        rec_c.counter(names::CLOSE_WITHOUT_EVENT),
        0,
        "1013 carries no event"
    );

    // B keeps backing off while A holds the only slot, then gets in once A leaves.
    let rec_b = Recorder::new();
    let b_tokens = TestTokens::login(&http, &base, 14).await;
    let mut b_opts = ws_options(&server);
    b_opts.backoff.max_attempts = 100;
    let (b, _) = start(b_opts, &b_tokens, &rec_b, &board);
    assert!(eventually(BOUND, || rec_b.counter("ws_close.1013") >= 2).await);
    close_stopped(a).await;
    assert!(eventually(BOUND, || rec_b.counter("ws_events.welcome") >= 1).await);
    assert!(b.is_open());
    assert!(b.generation() >= 3, "every 1013 came after an upgrade");
    close_stopped(b).await;
    server.shutdown().await;
}
