//! A WebSocket probe for the `WS-*` checks: open a socket through the client transport's one
//! handshake (token in the query, the `Authorization` header or a subprotocol, exactly as the
//! simulated clients send it), then read server messages one by one with a deadline, classifying
//! events with the profile's event names. This module only records: the handshake and a transcript
//! of everything received land in the check's evidence when the probe is dropped.
//!
//! When the profile sends the token in the first message, that exchange follows the upgrade (the
//! "no token" cases send it with an empty token), and a close instead of the acknowledgement is
//! [`WsOpen::RefusedByClose`].
//!
//! Frames and messages are capped like the clients' (64 KiB); pings are answered by tungstenite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::evidence::{self, Exchange, Header};
use super::probe::Probe;
use crate::client::transport::closetap::{CloseTap, RawClose};
use crate::client::transport::ws::{self as handshake, ConnectError, Refused};
use crate::client::transport::{first_message, stream};
use crate::client::ws::WsOptions;
use crate::profile::{WsEvent, WsProfile};
use bytes::Bytes;

/// Deadline of the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most transcript lines kept.
const MAX_LINES: usize = 40;

/// The probe's socket: the server's bytes pass a [`CloseTap`], so a close code is judged as it
/// was on the wire, not as tungstenite reports it (it reports an illegal code as 1002).
type Stream = tokio_tungstenite::WebSocketStream<CloseTap<stream::Stream>>;

/// How the handshake went.
pub enum WsOpen {
    /// 101: the socket is open.
    Open(Box<WsConn>),
    /// The server answered the upgrade with this HTTP status (never 429 or 503: those are
    /// [`WsOpen::Failed`], no answer about the token).
    Refused(u16),
    /// The token travels in the first message (`ws.token.first_message`) and the server closed
    /// the socket with this code instead of acknowledging it.
    RefusedByClose(u16),
    /// The token travels in the first message and the server answered it with a message the
    /// profile's `ws.token.reject` describes (a refusal, the socket may stay open).
    RefusedByMessage,
    /// The handshake failed otherwise (connection, timeout, protocol, a 429 or 503).
    Failed(String),
}

/// A close frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The code as the server put it on the wire (`None`: an empty close frame, which reads as
    /// 1005 locally).
    pub code: Option<u16>,
    /// The reason text (as tungstenite reports it: "Protocol violation" when it replaced an
    /// illegal code).
    pub reason: String,
    /// The code tungstenite reported, when it differs from the one on the wire (it reports an
    /// illegal code as 1002).
    pub reported_as: Option<u16>,
}

/// What the next read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMsg {
    /// A text or binary message, classified with the profile's event names.
    Event(Option<WsEvent>),
    /// The server's close frame.
    Closed(Close),
    /// The connection ended without a close frame (abnormal closure, 1006 locally).
    Dropped(String),
    /// Nothing arrived before the deadline.
    Timeout,
}

/// How a socket ended (or did not) while waiting for its close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEnd {
    /// The server's close frame.
    Closed(Close),
    /// The connection ended without a close frame.
    Dropped(String),
    /// Still open at the deadline.
    Timeout,
}

/// An open socket (see the module docs).
pub struct WsConn {
    stream: Option<Stream>,
    probe: Arc<Probe>,
    ws: WsProfile,
    exchange: Exchange,
    lines: Vec<String>,
    started: Instant,
    /// How the socket ended, for the transcript's label.
    end: Option<String>,
}

/// Opens a socket to the profile's WebSocket with `token` (`None`: no credential at all).
pub async fn connect(probe: &Arc<Probe>, label: &str, token: Option<&str>) -> WsOpen {
    let Some(ws) = probe.profile().ws().cloned() else {
        return WsOpen::Failed("the profile has no WebSocket".into());
    };
    let tls = match ws.url.scheme() {
        "wss" => match probe.http().tls_config() {
            Ok(tls) => Some(tls),
            Err(e) => return WsOpen::Failed(e.to_string()),
        },
        _ => None,
    };
    let mut opts = match WsOptions::from_profile(&ws, tls) {
        Ok(o) => o,
        Err(e) => return WsOpen::Failed(e.to_string()),
    };
    opts.connect_timeout = HANDSHAKE_TIMEOUT;
    let req = match handshake::request(&opts.upgrade(), token) {
        Ok(r) => r,
        Err(e) => return WsOpen::Failed(e.to_string()),
    };
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let request_headers: Vec<Header> = req
        .headers()
        .iter()
        .filter(|(n, _)| matches!(n.as_str(), "authorization" | "sec-websocket-protocol"))
        .map(|(n, v)| Header {
            name: n.as_str().to_string(),
            value: evidence::header_value(n.as_str(), &String::from_utf8_lossy(v.as_bytes()), &[]),
        })
        .collect();
    let mut exchange = Exchange {
        request_headers,
        ..Exchange::new(label, probe.scrub(&format!("GET {target}")))
    };
    let started = Instant::now();
    let up = opts.upgrade();
    let (Some(host), Some(port)) = (ws.url.host_str(), ws.url.port_or_known_default()) else {
        return WsOpen::Failed("the WebSocket URL has no host".into());
    };
    let attempt = match stream::open(host, port, up.tls.map(|t| &**t), up.timeout).await {
        Ok(conn) => handshake::open_on(up, req, CloseTap::new(conn.stream)).await,
        Err(e) => {
            let msg = format!("handshake failed: {e}");
            exchange.elapsed_ms = started.elapsed().as_millis() as u64;
            exchange.error = Some(probe.scrub(&msg));
            probe.record(exchange);
            return WsOpen::Failed(msg);
        }
    };
    exchange.elapsed_ms = started.elapsed().as_millis() as u64;
    match attempt {
        Ok((mut socket, response)) => {
            exchange.status = Some(response.status().as_u16());
            if let Some(first) = ws.token.first_message() {
                let left = up.timeout.saturating_sub(started.elapsed());
                match first_message::authenticate(&mut socket, first, ws.ping.as_ref(), token, left)
                    .await
                {
                    Ok(()) => {}
                    Err(e) => {
                        exchange.elapsed_ms = started.elapsed().as_millis() as u64;
                        exchange.error = Some(probe.scrub(&format!("first message: {e}")));
                        probe.record(exchange);
                        return match e {
                            ConnectError::Closed(code) => WsOpen::RefusedByClose(code),
                            ConnectError::Rejected => WsOpen::RefusedByMessage,
                            other => WsOpen::Failed(format!("first message: {other}")),
                        };
                    }
                }
            }
            exchange.response_headers = response
                .headers()
                .iter()
                .filter(|(n, _)| n.as_str() == "sec-websocket-protocol")
                .map(|(n, v)| Header {
                    name: n.as_str().to_string(),
                    value: probe.scrub(&String::from_utf8_lossy(v.as_bytes())),
                })
                .collect();
            // The handshake now (in order with the other exchanges), the transcript when the
            // socket is dropped.
            probe.record(exchange.clone());
            WsOpen::Open(Box::new(WsConn {
                stream: Some(socket),
                probe: probe.clone(),
                ws,
                exchange,
                lines: Vec::new(),
                started,
                end: None,
            }))
        }
        Err(Refused {
            error: ConnectError::Status(status),
            response,
        }) => {
            exchange.status = Some(status);
            // A 429 or 503 is no refusal of the token: the handshake failed (no verdict).
            let declined = super::probe::Resp {
                status,
                headers: response
                    .as_ref()
                    .map(|r| r.headers().clone())
                    .unwrap_or_default(),
                body: Bytes::new(),
                elapsed: Duration::ZERO,
            }
            .declined();
            if let Some(resp) = response {
                exchange.response_headers = resp
                    .headers()
                    .iter()
                    .filter(|(n, _)| evidence::keep_response_header(n.as_str(), None))
                    .map(|(n, v)| Header {
                        name: n.as_str().to_string(),
                        value: probe.scrub(&String::from_utf8_lossy(v.as_bytes())),
                    })
                    .collect();
                exchange.response_body = resp
                    .body()
                    .as_deref()
                    .and_then(|b| evidence::body_excerpt(b, &[]));
            }
            probe.record(exchange);
            match declined {
                Some(why) => WsOpen::Failed(why),
                None => WsOpen::Refused(status),
            }
        }
        Err(Refused { error, .. }) => {
            let msg = format!("handshake failed: {error}");
            exchange.error = Some(probe.scrub(&msg));
            probe.record(exchange);
            WsOpen::Failed(msg)
        }
    }
}

fn push_line(lines: &mut Vec<String>, started: Instant, text: String) {
    let at = started.elapsed().as_millis();
    if lines.len() < MAX_LINES {
        lines.push(format!("+{at}ms {text}"));
    } else if lines.len() == MAX_LINES {
        lines.push("… (more messages)".into());
    }
}

/// The close as judged: the code on the wire (`raw`, from the [`CloseTap`]), the reason and
/// code as tungstenite reported them (`frame`). tungstenite refuses a close frame with a one-byte
/// payload before it reports one, and reports none it did not read: without a raw code its
/// report stands.
fn received(frame: Option<CloseFrame>, raw: Option<RawClose>) -> Close {
    let (reported, reason) = match frame {
        Some(CloseFrame { code, reason }) => (Some(u16::from(code)), reason.as_str().to_string()),
        None => (None, String::new()),
    };
    let code = match raw {
        Some(RawClose::Code(c)) => Some(c),
        Some(RawClose::Empty) => None,
        Some(RawClose::Malformed) | None => reported,
    };
    Close {
        code,
        reason,
        reported_as: reported.filter(|r| Some(*r) != code),
    }
}

impl WsConn {
    fn line(&mut self, text: String) {
        push_line(&mut self.lines, self.started, text);
    }

    /// Milliseconds since the handshake started.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }

    /// Reads until the next message, close or deadline (pings and pongs are skipped; the
    /// protocol's own pings, `ws.ping`, are answered).
    pub async fn next(&mut self, deadline: Instant) -> WsMsg {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return WsMsg::Dropped("the socket is already closed".into());
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let item = match tokio::time::timeout(remaining, stream.next()).await {
                Err(_) => return WsMsg::Timeout,
                Ok(item) => item,
            };
            match item {
                Some(Ok(Message::Text(t))) => {
                    let text = t.as_str().to_string();
                    // The protocol's own ping (`ws.ping`): answered, no event.
                    if let Some(reply) = self.ws.ping.as_ref().and_then(|p| p.answer(&text)) {
                        let reply = reply.to_string();
                        self.line(format!("← {} (ping) → {reply}", evidence::cut(&text, 40)));
                        if let Some(stream) = self.stream.as_mut() {
                            let _ = stream.send(Message::text(reply)).await;
                        }
                        continue;
                    }
                    let ev = self.ws.events.classify(&text);
                    let shown = self.probe.scrub(&evidence::cut(&text, 200));
                    self.line(format!("← {shown}"));
                    return WsMsg::Event(ev);
                }
                Some(Ok(Message::Binary(b))) => {
                    self.line(format!("← binary ({} bytes)", b.len()));
                    return WsMsg::Event(None);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    let close = received(frame, stream.get_ref().close());
                    let code = match (close.code, close.reported_as) {
                        (Some(c), Some(r)) => format!("{c} (reported as {r} by tungstenite)"),
                        (Some(c), None) => c.to_string(),
                        (None, _) => "(no code)".into(),
                    };
                    let reason = self.probe.scrub(&close.reason);
                    push_line(
                        &mut self.lines,
                        self.started,
                        format!("← close {code} {reason:?}"),
                    );
                    self.end = Some(format!("closed by the server with {code}"));
                    // Let tungstenite finish the closing handshake (it answers the close).
                    let _ = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
                    self.stream = None;
                    return WsMsg::Closed(close);
                }
                Some(Err(e)) => {
                    let msg = e.to_string();
                    self.line(format!("× connection ended without a close frame: {msg}"));
                    self.end = Some("dropped without a close frame".into());
                    self.stream = None;
                    return WsMsg::Dropped(msg);
                }
                None => {
                    self.line("× connection ended without a close frame".into());
                    self.end = Some("dropped without a close frame".into());
                    self.stream = None;
                    return WsMsg::Dropped("end of stream".into());
                }
            }
        }
    }

    /// Reads until the socket closes or the deadline passes; returns the session events seen
    /// (in order, `welcome`/`tick` left out) and how it ended.
    pub async fn until_close(&mut self, deadline: Instant) -> (Vec<WsEvent>, WsEnd) {
        let mut events = Vec::new();
        loop {
            match self.next(deadline).await {
                WsMsg::Event(Some(WsEvent::Other(_)) | None) => {}
                WsMsg::Event(Some(ev)) => events.push(ev),
                WsMsg::Closed(c) => return (events, WsEnd::Closed(c)),
                WsMsg::Dropped(e) => return (events, WsEnd::Dropped(e)),
                WsMsg::Timeout => return (events, WsEnd::Timeout),
            }
        }
    }

    /// Waits for the first message (e.g. a welcome), up to `timeout`; `false` when the socket
    /// closed or nothing came.
    pub async fn ready(&mut self, timeout: Duration) -> bool {
        matches!(self.next(Instant::now() + timeout).await, WsMsg::Event(_))
    }

    /// Sends a close frame with `code` and waits up to `timeout` for the server's answer.
    /// Returns how the socket ended — the server's close, a drop (also when the connection was
    /// gone before the client's Close went out), or still open at the deadline — and whether any
    /// data frame arrived after the client's Close.
    pub async fn close(&mut self, code: u16, timeout: Duration) -> (WsEnd, bool) {
        push_line(&mut self.lines, self.started, format!("→ close {code}"));
        let Some(stream) = self.stream.as_mut() else {
            return (
                WsEnd::Dropped("the socket was already closed".into()),
                false,
            );
        };
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        if let Err(e) = stream.send(Message::Close(Some(frame))).await {
            let msg = format!("the connection ended before the client's Close went out: {e}");
            self.line(format!("× {msg}"));
            self.end = Some("dropped without a close frame".into());
            self.stream = None;
            return (WsEnd::Dropped(msg), false);
        }
        let deadline = Instant::now() + timeout;
        let mut data_after = false;
        loop {
            match self.next(deadline).await {
                WsMsg::Event(_) => data_after = true,
                WsMsg::Closed(c) => return (WsEnd::Closed(c), data_after),
                WsMsg::Dropped(e) => return (WsEnd::Dropped(e), data_after),
                WsMsg::Timeout => return (WsEnd::Timeout, data_after),
            }
        }
    }

    /// Whether the socket is still open.
    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }
}

impl Drop for WsConn {
    fn drop(&mut self) {
        let mut ex = self.exchange.clone();
        ex.elapsed_ms = self.started.elapsed().as_millis() as u64;
        if self.stream.is_some() {
            self.lines.push("(still open: the probe hung up)".into());
        }
        let end = match (&self.end, self.stream.is_some()) {
            (Some(e), _) => e.clone(),
            (None, true) => "still open when the probe hung up".into(),
            (None, false) => "closed".into(),
        };
        ex.label = format!("{}, transcript: {end}", ex.label);
        ex.response_body = Some(self.lines.join("\n"));
        self.probe.record(ex);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ws::TokenTransport;

    /// A server that upgrades one connection and closes it with `code` and `reason`; the probe's
    /// stream reads the close.
    async fn close_from_server(code: u16, reason: &'static str) -> Close {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = l.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            ws.send(Message::Close(Some(frame))).await.unwrap();
            // The client's answer.
            let _ = ws.next().await;
        });
        let url: url::Url = format!("ws://127.0.0.1:{port}/ws").parse().unwrap();
        let up = handshake::Upgrade {
            url: &url,
            token: &TokenTransport::Header,
            headers: &[],
            tls: None,
            max_message_size: 1024,
            max_frame_size: 1024,
            timeout: Duration::from_secs(5),
            ping: None,
        };
        let req = handshake::request(&up, None).unwrap();
        let conn = stream::open("127.0.0.1", port, None, up.timeout)
            .await
            .unwrap()
            .stream;
        let (mut socket, _) = handshake::open_on(up, req, CloseTap::new(conn))
            .await
            .unwrap();
        let msg = tokio::time::timeout(up.timeout, socket.next())
            .await
            .expect("a message within 5 s");
        let Some(Ok(Message::Close(frame))) = msg else {
            panic!("expected a close, got {msg:?}");
        };
        received(frame, socket.get_ref().close())
    }

    #[tokio::test]
    async fn a_legal_1002_is_not_taken_for_an_illegal_code_that_tungstenite_reports_as_1002() {
        // A server's own 1002, even with tungstenite's wording.
        let legal = close_from_server(1002, "Protocol violation").await;
        assert_eq!(
            legal,
            Close {
                code: Some(1002),
                reason: "Protocol violation".into(),
                reported_as: None,
            }
        );
        // 1006 on the wire: tungstenite reports 1002 "Protocol violation", the wire says 1006.
        let illegal = close_from_server(1006, "").await;
        assert_eq!(
            illegal,
            Close {
                code: Some(1006),
                reason: "Protocol violation".into(),
                reported_as: Some(1002),
            }
        );
        let normal = close_from_server(4403, "logout").await;
        assert_eq!((normal.code, normal.reported_as), (Some(4403), None));
    }
}
