//! A WebSocket probe for the `WS-*` checks: open a socket through the client transport's one
//! handshake (token in the query, the `Authorization` header or a subprotocol, exactly as the
//! simulated clients send it), then read server messages one by one with a deadline, classifying
//! events with the profile's event names. This module only records: the handshake and a transcript
//! of everything received land in the check's evidence when the probe is dropped.
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
use crate::client::transport::ws::{self as handshake, ConnectError, Refused, Socket};
use crate::client::ws::WsOptions;
use crate::profile::{WsEvent, WsProfile};

/// Deadline of the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most transcript lines kept.
const MAX_LINES: usize = 40;

type Stream = Socket;

/// How the handshake went.
pub enum WsOpen {
    /// 101: the socket is open.
    Open(Box<WsConn>),
    /// The server answered the upgrade with this HTTP status.
    Refused(u16),
    /// The handshake failed otherwise (connection, timeout, protocol).
    Failed(String),
}

/// A close frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The code (`None`: an empty close frame, which reads as 1005 locally).
    pub code: Option<u16>,
    /// The reason text.
    pub reason: String,
    /// tungstenite replaced an illegal code by 1002 "Protocol violation".
    pub replaced_illegal: bool,
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
    let attempt = handshake::open(opts.upgrade(), req).await;
    exchange.elapsed_ms = started.elapsed().as_millis() as u64;
    match attempt {
        Ok(opened) => {
            exchange.status = Some(opened.response.status().as_u16());
            exchange.response_headers = opened
                .response
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
                stream: Some(opened.socket),
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
            WsOpen::Refused(status)
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

impl WsConn {
    fn line(&mut self, text: String) {
        push_line(&mut self.lines, self.started, text);
    }

    /// Milliseconds since the handshake started.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }

    /// Reads until the next message, close or deadline (pings and pongs are skipped).
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
                    let close = match frame {
                        Some(CloseFrame { code, reason }) => {
                            let code = u16::from(code);
                            Close {
                                code: Some(code),
                                replaced_illegal: code == 1002
                                    && reason.as_str() == "Protocol violation",
                                reason: reason.as_str().to_string(),
                            }
                        }
                        None => Close {
                            code: None,
                            reason: String::new(),
                            replaced_illegal: false,
                        },
                    };
                    let code = match close.code {
                        _ if close.replaced_illegal => {
                            "an illegal code (reported as 1002 by tungstenite)".into()
                        }
                        Some(c) => c.to_string(),
                        None => "(no code)".into(),
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
    /// Returns the server's close (if any) and whether any data frame arrived after ours.
    pub async fn close(&mut self, code: u16, timeout: Duration) -> (Option<Close>, bool) {
        push_line(&mut self.lines, self.started, format!("→ close {code}"));
        let Some(stream) = self.stream.as_mut() else {
            return (None, false);
        };
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        if stream.send(Message::Close(Some(frame))).await.is_err() {
            self.stream = None;
            return (None, false);
        }
        let deadline = Instant::now() + timeout;
        let mut data_after = false;
        loop {
            match self.next(deadline).await {
                WsMsg::Event(_) => data_after = true,
                WsMsg::Closed(c) => return (Some(c), data_after),
                WsMsg::Dropped(_) | WsMsg::Timeout => return (None, data_after),
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
