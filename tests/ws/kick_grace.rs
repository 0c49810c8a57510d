//! A kick or logout event whose close frame is still due when the phase closes the socket: the
//! server keeps its grace, so a server that never closes is caught (`kick_without_close`) and one
//! that closes a moment later has its close code counted, not hidden behind `ws_closed_at_stop`.
//! And a socket the server closes for good right after its handshake, silent, was never held.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{BOUND, TestTokens, eventually, http, start};
use authbench::client::ws::{KickBoard, SessionEnd, WsEnd, WsOptions};
use authbench::metrics::Recorder;
use authbench::metrics::names;

/// A server that accepts one socket, sends `{"type":"kicked"}`, then closes with `close` after
/// `delay` (or never, with `None`), holding the socket open until the client goes.
async fn kicking_server(close: Option<(u16, Duration)>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::text(r#"{"type":"kicked"}"#))
            .await
            .unwrap();
        if let Some((code, delay)) = close {
            tokio::time::sleep(delay).await;
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: "replaced".into(),
            };
            let _ = ws.send(Message::Close(Some(frame))).await;
        }
        while let Some(Ok(_)) = ws.next().await {}
    });
    addr
}

async fn kicked_then_closed_by_the_phase(close: Option<(u16, Duration)>) -> (Recorder, WsEnd) {
    let addr = kicking_server(close).await;
    let mut opts = WsOptions::new(format!("ws://{addr}/ws").parse().unwrap());
    opts.kick_close_grace = Duration::from_millis(400);
    opts.close_timeout = Duration::from_millis(500);
    let http = http();
    let tokens = TestTokens::bogus(&http, &format!("http://{addr}"));
    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let (h, _clock) = start(opts, &tokens, &rec, &board);
    assert!(eventually(BOUND, || rec.counter("ws_events.kicked") == 1).await);
    // The kick phase is over (its clock resolved at the event): it closes the old socket.
    h.close();
    let out = tokio::time::timeout(BOUND, h.join()).await.unwrap();
    (rec, out.end)
}

#[tokio::test]
async fn a_kick_event_never_followed_by_a_close_is_counted_even_when_the_phase_closes_the_socket() {
    let (rec, end) = kicked_then_closed_by_the_phase(None).await;
    assert_eq!(rec.counter(names::KICK_WITHOUT_CLOSE), 1);
    assert_eq!(rec.counter(names::WS_CLOSED_AT_STOP), 0);
    assert_eq!(end, WsEnd::SessionEnded(SessionEnd::Kicked));
}

#[tokio::test]
async fn a_close_frame_due_after_a_kick_event_is_counted_when_the_phase_closes_the_socket() {
    let (rec, end) =
        kicked_then_closed_by_the_phase(Some((4409, Duration::from_millis(100)))).await;
    assert_eq!(rec.counter("ws_close.4409"), 1);
    assert_eq!(rec.counter(names::KICK_WITHOUT_CLOSE), 0);
    assert_eq!(rec.counter(names::WS_CLOSED_AT_STOP), 0);
    assert_eq!(end, WsEnd::SessionEnded(SessionEnd::Kicked));
}

/// A server that accepts every socket and closes it at once with `code`, before any message.
async fn dismissing_server(code: u16) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                };
                let _ = ws.send(Message::Close(Some(frame))).await;
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_socket_closed_for_good_right_after_its_handshake_was_never_held() {
    for (code, end) in [
        (1000, WsEnd::Normal(1000)),
        (1003, WsEnd::ProtocolError(1003)),
    ] {
        let addr = dismissing_server(code).await;
        let opts = WsOptions::new(format!("ws://{addr}/ws").parse().unwrap());
        let http = http();
        let tokens = TestTokens::bogus(&http, &format!("http://{addr}"));
        let rec = Recorder::new();
        let board = KickBoard::new(rec.clone());
        let (h, _clock) = start(opts, &tokens, &rec, &board);
        let out = tokio::time::timeout(BOUND, h.join()).await.unwrap();
        assert_eq!(out.end, end);
        assert_eq!(rec.counter(names::CHANNELS_NEVER_OPENED), 1, "{code}");
        assert_eq!(rec.counter(names::CHANNELS_TURNED_AWAY), 1, "{code}");
    }
}

/// An opaque access token (no JWT `exp`) whose expiry the session knows from `expires_in`.
struct Opaque {
    expires: std::time::SystemTime,
}

impl authbench::client::ws::WsTokens for Opaque {
    async fn access_token(&self) -> Option<String> {
        Some("opaque-access-token".into())
    }
    async fn refresh_for_reconnect(&self) -> Option<String> {
        None
    }
    fn session_ended(&self, _why: SessionEnd) {}
    fn expiry_of(&self, _token: &str) -> Option<std::time::SystemTime> {
        Some(self.expires)
    }
}

#[tokio::test]
async fn a_socket_open_past_an_opaque_tokens_announced_expiry_is_counted() {
    // A server that never closes a socket when its access token expires; the token is opaque, so
    // only the announced expiry (`expires_in`) says when that was.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::text(r#"{"type":"welcome"}"#))
            .await
            .unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    let mut opts = WsOptions::new(format!("ws://{addr}/ws").parse().unwrap());
    opts.expiry_grace = Duration::from_millis(100);
    let tokens = std::sync::Arc::new(Opaque {
        expires: std::time::SystemTime::now() + Duration::from_millis(300),
    });
    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let h = authbench::client::ws::spawn(
        std::sync::Arc::new(opts),
        tokens,
        rec.clone(),
        0,
        board.clock(0),
        tokio_util::sync::CancellationToken::new(),
    );
    assert!(eventually(BOUND, || rec.counter(names::WS_OPEN_AFTER_EXPIRY) == 1).await);
    h.close();
    tokio::time::timeout(BOUND, h.join()).await.unwrap();
}
