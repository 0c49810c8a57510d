//! WebSocket channel, handshake side: each token transport against the mock, a refused handshake,
//! the generation counter dropping late messages of a replaced socket, and RFC 6455 close-code
//! legality (the last two against a tiny scripted server, so the timing is deterministic).

use std::sync::Arc;
use std::time::Duration;

use crate::support::{BOUND, TestTokens, close_stopped, http, mock, ws_options};
use authbench::client::ws::{self, KickBoard, SessionEnd, WsEnd, WsTokens};
use authbench::metrics::Recorder;
use authbench::metrics::names;
use authbench::profile::TokenTransport;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

async fn transport_opens_and_gets_welcome(token: TokenTransport) {
    let server = mock(|_| {}).await;
    let http = http();
    let tokens = TestTokens::login(&http, &server.base_url(), 1).await;
    let mut opts = ws_options(&server);
    opts.token = token;
    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let h = ws::spawn(
        Arc::new(opts),
        tokens.clone(),
        rec.clone(),
        0,
        board.clock(0),
        CancellationToken::new(),
    );
    assert!(tokio::time::timeout(BOUND, h.wait_open(1)).await.unwrap());
    assert!(h.is_open());
    assert_eq!(h.generation(), 1);
    assert_eq!(rec.gauge("open_sockets"), 1);
    let out = close_stopped(h).await;
    assert_eq!(out.connections, 1);
    assert_eq!(rec.samples("ws_connect"), 1);
    assert_eq!(rec.counter(names::WS_CONNECTS), 1);
    assert_eq!(rec.gauge("open_sockets"), 0, "the reader closed its socket");
    assert_eq!(rec.counter(names::ERR_WS_ABNORMAL), 0);
    assert_eq!(tokens.handed_out.lock().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn token_in_query() {
    transport_opens_and_gets_welcome(TokenTransport::Query {
        param: "access_token".into(),
    })
    .await;
}

#[tokio::test]
async fn token_in_authorization_header() {
    transport_opens_and_gets_welcome(TokenTransport::Header).await;
}

#[tokio::test]
async fn token_in_subprotocol() {
    transport_opens_and_gets_welcome(TokenTransport::Subprotocol {
        prefix: "bearer.".into(),
    })
    .await;
}

#[tokio::test]
async fn refused_handshake_refreshes_once_then_ends_the_session() {
    let server = mock(|_| {}).await;
    let http = http();
    let tokens = TestTokens::bogus(&http, &server.base_url());
    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let h = ws::spawn(
        Arc::new(ws_options(&server)),
        tokens.clone(),
        rec.clone(),
        0,
        board.clock(0),
        CancellationToken::new(),
    );
    let out = tokio::time::timeout(BOUND, h.join()).await.unwrap();
    // The bogus refresh token is refused too, so the channel has no token to retry with.
    assert_eq!(out.end, WsEnd::NoToken);
    assert_eq!(out.connections, 0);
    assert_eq!(rec.counter("ws_connect_failed.401"), 1);
    assert_eq!(
        tokens
            .reconnect_refreshes
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    server.shutdown().await;
}

/// Always the same token: the scripted servers below do not check it.
struct Fixed;

impl WsTokens for Fixed {
    async fn access_token(&self) -> Option<String> {
        Some("fixed-token-for-scripted-server".into())
    }
    async fn refresh_for_reconnect(&self) -> Option<String> {
        Some("fixed-token-for-scripted-server".into())
    }
    fn session_ended(&self, _why: SessionEnd) {}
}

fn scripted_options(addr: std::net::SocketAddr) -> ws::WsOptions {
    let mut o = ws::WsOptions::new(format!("ws://{addr}/ws").parse().unwrap());
    o.close_timeout = Duration::from_millis(500);
    o
}

fn tick(seq: u32) -> Message {
    Message::Text(format!(r#"{{"type":"tick","seq":{seq}}}"#).into())
}

#[tokio::test]
async fn late_messages_of_a_replaced_socket_are_dropped_and_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s1, _) = listener.accept().await.unwrap();
        let mut ws1 = tokio_tungstenite::accept_async(s1).await.unwrap();
        // The client opens its second socket (make-before-break). While it waits for the 101, the
        // old socket still delivers three messages: by the time they are read, they are stale.
        let (s2, _) = listener.accept().await.unwrap();
        for seq in 0..3 {
            ws1.send(tick(seq)).await.unwrap();
        }
        let mut ws2 = tokio_tungstenite::accept_async(s2).await.unwrap();
        ws2.send(Message::Text(r#"{"type":"welcome"}"#.into()))
            .await
            .unwrap();
        let old = tokio::spawn(async move { while let Some(Ok(_)) = ws1.next().await {} });
        while let Some(Ok(_)) = ws2.next().await {}
        old.await.unwrap();
    });

    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let h = ws::spawn(
        Arc::new(scripted_options(addr)),
        Arc::new(Fixed),
        rec.clone(),
        0,
        board.clock(0),
        CancellationToken::new(),
    );
    assert!(tokio::time::timeout(BOUND, h.wait_open(1)).await.unwrap());
    h.reconnect();
    assert!(tokio::time::timeout(BOUND, h.wait_open(2)).await.unwrap());
    let out = close_stopped(h).await;
    assert_eq!(out.connections, 2);
    assert_eq!(rec.counter(names::STALE_WS_MESSAGES), 3);
    assert_eq!(
        rec.counter("ws_events.tick"),
        0,
        "stale messages are not processed"
    );
    assert_eq!(rec.counter(names::WS_RECONNECTS), 1);
    tokio::time::timeout(BOUND, server).await.unwrap().unwrap();
}

/// A server that accepts one socket and closes it with `code`.
async fn close_with(code: u16) -> (WsEnd, Recorder) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
        ws.close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: "scripted".into(),
        }))
        .await
        .unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let mut opts = scripted_options(addr);
    opts.events = None;
    let h = ws::spawn(
        Arc::new(opts),
        Arc::new(Fixed),
        rec.clone(),
        0,
        board.clock(0),
        CancellationToken::new(),
    );
    let out = tokio::time::timeout(BOUND, h.join()).await.unwrap();
    tokio::time::timeout(BOUND, server).await.unwrap().unwrap();
    (out.end, rec)
}

#[tokio::test]
async fn close_codes_forbidden_on_the_wire_are_violations() {
    for code in [1006, 1005, 2000] {
        let (end, rec) = close_with(code).await;
        assert_eq!(end, WsEnd::ProtocolError(1002), "code {code}");
        assert_eq!(rec.counter(names::CLOSE_CODE_VIOLATIONS), 1, "code {code}");
        assert_eq!(rec.counter("ws_close.illegal"), 1, "code {code}");
        assert_eq!(rec.counter(&format!("ws_close.{code}")), 0);
    }
    let (end, rec) = close_with(4999).await;
    assert_eq!(
        end,
        WsEnd::ProtocolError(4999),
        "legal but unknown to the profile"
    );
    assert_eq!(rec.counter(names::CLOSE_CODE_VIOLATIONS), 0);
    assert_eq!(rec.counter("ws_close.4999"), 1);
    assert_eq!(rec.counter("ws_close_class.protocol_error"), 1);
}
