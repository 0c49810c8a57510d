//! The connection knobs on raw sockets: `--connection-close` answers every request with
//! `Connection: close` and closes after it (the WebSocket upgrade still works);
//! `--keepalive-timeout` closes a connection that waited that long for a request, and only then;
//! by default a connection stays open for the next request.

use std::time::{Duration, Instant};

use authbench_mock::MockServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{WAIT, client_close, login, next_event, start_with, ws_open};

/// Bound of every read in these tests (a hang fails the test, not CI).
const BOUND: Duration = Duration::from_secs(5);

async fn connect(s: &MockServer) -> TcpStream {
    TcpStream::connect(s.local_addr()).await.unwrap()
}

/// Sends `GET /healthz` on `tcp` and reads one response (head in lower case, Content-Length body).
async fn healthz(tcp: &mut TcpStream) -> String {
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: mock\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .expect("content-length");
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
        let n = tokio::time::timeout(BOUND, tcp.read(&mut chunk))
            .await
            .expect("a response within the bound")
            .unwrap();
        assert!(n > 0, "closed before a whole response: {text}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits for the server to close `tcp` (a read of 0 bytes) and says when that happened.
async fn closed(tcp: &mut TcpStream) -> Instant {
    let mut chunk = [0u8; 64];
    let n = tokio::time::timeout(BOUND, tcp.read(&mut chunk))
        .await
        .expect("the server closed the connection within the bound")
        .unwrap_or(0);
    assert_eq!(n, 0, "no more bytes, only the end of the stream");
    Instant::now()
}

#[tokio::test]
async fn connection_close_answers_and_closes_every_connection() {
    let s = start_with(|c| c.connection_close = true).await;
    for _ in 0..2 {
        let mut tcp = connect(&s).await;
        let head = healthz(&mut tcp).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        closed(&mut tcp).await;
    }
    // The upgrade is untouched: the 101 says `Connection: upgrade` and the socket works.
    let l = login(&s, 1).await;
    let mut ws = ws_open(&s, l.str("access_token")).await;
    assert_eq!(next_event(&mut ws, WAIT).await.unwrap()["type"], "welcome");
    client_close(ws).await;
    s.shutdown().await;
}

#[tokio::test]
async fn keepalive_timeout_closes_idle_connections_only() {
    // 1 s, not 300 ms: the requests within it and the close after it keep to their side of the
    // timeout through a stall of the machine of up to 3 s (with 300 ms, a 1.5 s stall in the idle
    // wait made the close come after 1.5 s, over the 4× bound).
    let timeout = Duration::from_secs(1);
    let s = start_with(|c| c.keepalive_timeout = timeout).await;
    let mut tcp = connect(&s).await;
    // Requests within the timeout keep the connection.
    for _ in 0..3 {
        let head = healthz(&mut tcp).await;
        assert!(head.contains("200 ok"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
    }
    let idle_since = Instant::now();
    let at = closed(&mut tcp).await;
    let idle = at - idle_since;
    assert!(
        idle >= timeout - Duration::from_millis(20) && idle < timeout * 4,
        "closed after {idle:?} idle"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn by_default_a_connection_outlives_a_response() {
    let s = start_with(|_| {}).await;
    let mut tcp = connect(&s).await;
    let head = healthz(&mut tcp).await;
    assert!(!head.contains("connection: close"), "{head}");
    // Still open: a second request on the same socket is answered.
    let head = healthz(&mut tcp).await;
    assert!(head.contains("200 ok"), "{head}");
    s.shutdown().await;
}
