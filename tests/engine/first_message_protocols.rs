//! First-message WebSocket authentication for the two other protocol families the profile
//! format claims (issue 12 §1), each against a small in-test server that speaks the protocol's
//! framing and checks the token (logins go to the mock; the socket goes to the in-test server):
//!
//! - Centrifugo's JSON client protocol v2: `{"id":1,"connect":{"token":...}}` answered by
//!   `{"id":1,"connect":{...,"pong":true}}`; a refused token is an error reply
//!   `{"id":1,"error":{"code":109,...}}` (the socket stays open) or a disconnect close 3500
//!   "invalid token"; the server pings with `{}` and drops a client that does not answer `{}`.
//! - Socket.IO v5 over Engine.IO v4 (WebSocket transport only): the server speaks first
//!   (`0{"sid",...,"pingInterval"}`), the client sends `40{"token":...}` and gets `40{"sid":...}`
//!   or CONNECT_ERROR `44{"message":...}`; the server pings with `2` and drops a client that does
//!   not answer `3` within its ping timeout.
//!
//! Each server counts the pongs it got and the clients it dropped for a missing one, so the tests
//! prove the pings were answered, not merely that nothing happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::support::{mock, plan, run, settings};
use authbench::client::Strategy;
use authbench::profile::{Profile, profile_from_str};
use authbench::scenario::Phase;
use authbench_mock::MockServer;

/// How often the in-test servers ping, and how long they wait for the answer: long enough for a
/// stall of the machine of 1-2 s (the server's next tick comes right after it; with 400 ms it
/// dropped a client whose pong was on its way).
const PING_EVERY: Duration = Duration::from_millis(40);
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// What an in-test server saw.
#[derive(Default)]
struct Seen {
    accepted: AtomicU64,
    refused: AtomicU64,
    pongs: AtomicU64,
    dropped_for_no_pong: AtomicU64,
}

impl Seen {
    fn get(&self, c: &AtomicU64) -> u64 {
        c.load(Ordering::SeqCst)
    }
}

/// The token the in-test servers accept: one the mock issued (a JWT, `eyJ...` with two dots);
/// the profiles of the refusal cases put a letter in front of it.
fn genuine(token: &str) -> bool {
    token.starts_with("eyJ") && token.matches('.').count() == 2
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Serves every connection on a port-0 listener with `conn`; returns the port.
async fn serve(seen: Arc<Seen>, conn: Conn) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                    conn(ws, seen).await;
                }
            });
        }
    });
    port
}

/// After a successful connect: pings (`ping`) every [`PING_EVERY`], counts the answers
/// (`pong`), and closes with `drop_code` when one is missing for [`PING_TIMEOUT`].
async fn keep_alive(mut ws: Ws, seen: &Seen, ping: &str, pong: &str, drop_code: u16) {
    let mut tick = tokio::time::interval(PING_EVERY);
    let mut last_pong = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if last_pong.elapsed() > PING_TIMEOUT {
                    seen.dropped_for_no_pong.fetch_add(1, Ordering::SeqCst);
                    let frame = CloseFrame { code: drop_code.into(), reason: "no pong".into() };
                    let _ = ws.send(Message::Close(Some(frame))).await;
                    return;
                }
                if ws.send(Message::text(ping)).await.is_err() {
                    return;
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str() == pong => {
                    seen.pongs.fetch_add(1, Ordering::SeqCst);
                    last_pong = tokio::time::Instant::now();
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// Centrifugo's connect command and its answers (client protocol v2, JSON): a genuine token is
/// connected; `x<token>` gets the error reply 109 "token expired" on an open socket; `y<token>`
/// the disconnect close 3500 "invalid token".
async fn centrifugo(mut ws: Ws, seen: Arc<Seen>) {
    let Some(Ok(Message::Text(first))) = ws.next().await else {
        return;
    };
    let cmd: serde_json::Value = serde_json::from_str(first.as_str()).unwrap_or_default();
    let id = cmd["id"].as_u64().unwrap_or(0);
    let token = cmd["connect"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if id == 0 {
        return;
    }
    if genuine(&token) {
        seen.accepted.fetch_add(1, Ordering::SeqCst);
        let reply = serde_json::json!({ "id": id, "connect": {
            "client": "c1", "version": "0.0.0-test", "ping": 1, "pong": true } });
        if ws.send(Message::text(reply.to_string())).await.is_ok() {
            keep_alive(ws, &seen, "{}", "{}", 3012).await;
        }
        return;
    }
    seen.refused.fetch_add(1, Ordering::SeqCst);
    if token.starts_with('y') {
        let frame = CloseFrame {
            code: 3500.into(),
            reason: "invalid token".into(),
        };
        let _ = ws.send(Message::Close(Some(frame))).await;
        let _ = ws.next().await;
        return;
    }
    let reply =
        serde_json::json!({ "id": id, "error": { "code": 109, "message": "token expired" } });
    let _ = ws.send(Message::text(reply.to_string())).await;
    // The socket stays open until the client goes.
    while let Some(Ok(m)) = ws.next().await {
        if m.is_close() {
            break;
        }
    }
}

/// Engine.IO's open packet first, and a ping before the client has connected to the namespace
/// (it must be answered too); then `40{"token":...}` is answered with `40{"sid":...}` or
/// CONNECT_ERROR `44{"message":...}` (the socket stays open, as the Socket.IO server keeps it
/// until its connect timeout).
async fn socket_io(mut ws: Ws, seen: Arc<Seen>) {
    let open = format!(
        r#"0{{"sid":"e1","upgrades":[],"pingInterval":{},"pingTimeout":{},"maxPayload":1000000}}"#,
        PING_EVERY.as_millis(),
        PING_TIMEOUT.as_millis()
    );
    if ws.send(Message::text(open)).await.is_err() || ws.send(Message::text("2")).await.is_err() {
        return;
    }
    let mut ponged = false;
    let connect = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str() == "3" => {
                seen.pongs.fetch_add(1, Ordering::SeqCst);
                ponged = true;
            }
            Some(Ok(Message::Text(t))) if t.as_str().starts_with("40") => {
                break t.as_str()[2..].to_string();
            }
            Some(Ok(Message::Text(_))) => {}
            _ => return,
        }
    };
    let auth: serde_json::Value = serde_json::from_str(&connect).unwrap_or_default();
    let token = auth["token"].as_str().unwrap_or_default();
    if !genuine(token) {
        seen.refused.fetch_add(1, Ordering::SeqCst);
        let _ = ws
            .send(Message::text(r#"44{"message":"unauthorized"}"#))
            .await;
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
        return;
    }
    if !ponged {
        // The early ping may be answered after the CONNECT; a client that never answers it is
        // dropped (the Engine.IO server closes a transport whose ping goes unanswered).
        match tokio::time::timeout(PING_TIMEOUT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "3" => {
                seen.pongs.fetch_add(1, Ordering::SeqCst);
            }
            _ => {
                seen.dropped_for_no_pong.fetch_add(1, Ordering::SeqCst);
                let _ = ws.send(Message::Close(None)).await;
                return;
            }
        }
    }
    seen.accepted.fetch_add(1, Ordering::SeqCst);
    if ws.send(Message::text(r#"40{"sid":"s1"}"#)).await.is_ok() {
        keep_alive(ws, &seen, "2", "3", 1000).await;
    }
}

const CENTRIFUGO_WS: &str = r#"  path_unused: x
  token:
    first_message: { id: 1, connect: { token: "TOKEN" } }
    ack: { body: { id: "1", connect: "*" } }
    reject: { body: { id: "1", error: "*" } }
  ping: { match: { prefix: "{}" }, reply: {} }
  close_codes: centrifugo
"#;

const SOCKET_IO_WS: &str = r#"  path_unused: x
  token:
    first_message: '40{"token":"TOKEN"}'
    ack: { prefix: "40", body: { sid: "*" } }
    reject: { prefix: "44" }
  ping: { match: { prefix: "2" }, reply: "3" }
"#;

/// The mock for logins, the socket at `url`; `ws` is one of the blocks above with `TOKEN` for
/// the token template.
fn profile(server: &MockServer, url: &str, ws: &str, token: &str) -> Arc<Profile> {
    let ws = ws
        .replace("  path_unused: x\n", &format!("  url: \"{url}\"\n"))
        .replace("TOKEN", token);
    let src = format!("preset: mock\nbase_url: {}\nws:\n{ws}", server.base_url());
    let p = profile_from_str(&src, None).unwrap_or_else(|e| panic!("{e}\n{src}"));
    assert!(p.ws().unwrap().ping.is_some());
    Arc::new(p.with_admin_key(server.admin_key()))
}

/// login, ws_connect, then `hold` the sockets open.
fn connect_then_hold(hold: Option<Duration>) -> Vec<Phase> {
    let mut phases = vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::WsConnect {
            ramp: Duration::ZERO,
        },
    ];
    phases.extend(hold.map(|duration| Phase::Wait { duration }));
    phases
}

/// Sockets that authenticate and stay up, answering every ping (none dropped, none reopened,
/// and the pings are no session events).
async fn accepted_and_kept_alive(ws: &str, url_path: &str, conn: Conn) {
    let server = mock(|_| {}).await;
    let seen = Arc::new(Seen::default());
    let port = serve(seen.clone(), conn).await;
    let url = format!("ws://127.0.0.1:{port}{url_path}");
    let clients = 3;
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            connect_then_hold(Some(Duration::from_millis(2500))),
        ),
        profile(&server, &url, ws, "{{access_token}}"),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.counter("ws_connects"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("ws_reconnects"), 0, "{:?}", r.snap.counters);
    assert_eq!(
        r.counter("ws_events.other"),
        0,
        "pings are no events: {:?}",
        r.snap.counters
    );
    assert_eq!(seen.get(&seen.accepted), n);
    assert_eq!(seen.get(&seen.dropped_for_no_pong), 0);
    // 2.5 s of 40 ms pings: dozens per socket; at least two each even after a stall of 2 s.
    assert!(
        seen.get(&seen.pongs) >= 2 * n,
        "pongs: {}",
        seen.get(&seen.pongs)
    );
    server.shutdown().await;
}

/// A refused token: refused, refreshed once and refused again, then the session is over — each
/// refusal counted under `ws_connect_failed.<why>`, no socket counted open.
async fn refused(ws: &str, url_path: &str, conn: Conn, token: &str, why: &str) {
    let server = mock(|_| {}).await;
    let seen = Arc::new(Seen::default());
    let port = serve(seen.clone(), conn).await;
    let url = format!("ws://127.0.0.1:{port}{url_path}");
    let clients = 2;
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            connect_then_hold(None),
        ),
        profile(&server, &url, ws, token),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.counter("ws_connects"), 0, "{:?}", r.snap.counters);
    assert_eq!(
        r.counter(&format!("ws_connect_failed.{why}")),
        2 * n,
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.counter("ws_connect_failed.no_ack"), 0);
    assert_eq!(seen.get(&seen.refused), 2 * n);
    assert_eq!(seen.get(&seen.accepted), 0);
    server.shutdown().await;
}

/// One connection of an in-test server.
type Served = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
type Conn = fn(Ws, Arc<Seen>) -> Served;

fn centrifugo_conn(ws: Ws, seen: Arc<Seen>) -> Served {
    Box::pin(centrifugo(ws, seen))
}

fn socket_io_conn(ws: Ws, seen: Arc<Seen>) -> Served {
    Box::pin(socket_io(ws, seen))
}

const CENTRIFUGO_PATH: &str = "/connection/websocket";
const SOCKET_IO_PATH: &str = "/socket.io/?EIO=4&transport=websocket";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn centrifugo_connect_command_opens_sockets_that_answer_pings() {
    accepted_and_kept_alive(CENTRIFUGO_WS, CENTRIFUGO_PATH, centrifugo_conn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn centrifugo_refusals_are_its_error_reply_and_its_close_code() {
    refused(
        CENTRIFUGO_WS,
        CENTRIFUGO_PATH,
        centrifugo_conn,
        "x{{access_token}}",
        "rejected",
    )
    .await;
    // 3500 "invalid token" is terminal in the centrifugo close-code preset.
    refused(
        CENTRIFUGO_WS,
        CENTRIFUGO_PATH,
        centrifugo_conn,
        "y{{access_token}}",
        "3500",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_auth_payload_opens_sockets_that_answer_pings() {
    accepted_and_kept_alive(SOCKET_IO_WS, SOCKET_IO_PATH, socket_io_conn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_connect_error_is_a_refusal() {
    refused(
        SOCKET_IO_WS,
        SOCKET_IO_PATH,
        socket_io_conn,
        "x{{access_token}}",
        "rejected",
    )
    .await;
}
