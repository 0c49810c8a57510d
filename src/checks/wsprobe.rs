//! A WebSocket probe for the `WS-*` checks: open a socket the way the profile says (token in the
//! query, the `Authorization` header or a subprotocol), then read server messages one by one with a
//! deadline, classifying events with the profile's event names. The handshake and a transcript of
//! everything received land in the check's evidence when the probe is dropped.
//!
//! Frames and messages are capped (64 KiB); pings are answered by tungstenite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::evidence::{self, Exchange, Header};
use super::probe::Probe;
use crate::profile::{WsEvent, WsProfile};

/// Deadline of the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest message or frame accepted.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most transcript lines kept.
const MAX_LINES: usize = 40;

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

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
    let url = match token {
        Some(t) => ws.connect_url(t),
        None => ws.url.clone(),
    };
    let mut req = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => return WsOpen::Failed(format!("invalid WebSocket URL: {e}")),
    };
    if let Some(t) = token {
        if let Some(h) = ws.auth_header(t)
            && let Ok(v) = h.parse()
        {
            req.headers_mut().insert(http::header::AUTHORIZATION, v);
        }
        if let Some(p) = ws.subprotocol(t) {
            // Offer the token-free name too, so a server that answers it (as it should) is accepted.
            let bare = match &ws.token {
                crate::profile::TokenTransport::Subprotocol { prefix } => {
                    prefix.trim_end_matches('.').to_string()
                }
                _ => String::new(),
            };
            let offer = if bare.is_empty() {
                p
            } else {
                format!("{bare}, {p}")
            };
            if let Ok(v) = offer.parse() {
                req.headers_mut()
                    .insert(http::header::SEC_WEBSOCKET_PROTOCOL, v);
            }
        }
    }
    let secrets_req = probe.scrub(&format!("GET {}", path_and_query(&url)));
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
        label: label.to_string(),
        request: secrets_req,
        request_headers,
        request_body: None,
        status: None,
        response_headers: vec![],
        response_body: None,
        error: None,
        elapsed_ms: 0,
    };
    let started = Instant::now();
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let attempt = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(req, Some(config), true),
    )
    .await;
    match attempt {
        Ok(Ok((stream, resp))) => {
            exchange.status = Some(resp.status().as_u16());
            exchange.elapsed_ms = started.elapsed().as_millis() as u64;
            exchange.response_headers = resp
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
                stream: Some(stream),
                probe: probe.clone(),
                ws,
                exchange,
                lines: Vec::new(),
                started,
                end: None,
            }))
        }
        Ok(Err(tungstenite::Error::Http(resp))) => {
            let status = resp.status().as_u16();
            exchange.status = Some(status);
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
            exchange.elapsed_ms = started.elapsed().as_millis() as u64;
            probe.record(exchange);
            WsOpen::Refused(status)
        }
        Ok(Err(e)) => {
            let msg = format!("handshake failed: {e}");
            exchange.error = Some(probe.scrub(&msg));
            exchange.elapsed_ms = started.elapsed().as_millis() as u64;
            probe.record(exchange);
            WsOpen::Failed(msg)
        }
        Err(_) => {
            let msg = format!("handshake timed out after {HANDSHAKE_TIMEOUT:?}");
            exchange.error = Some(msg.clone());
            exchange.elapsed_ms = started.elapsed().as_millis() as u64;
            probe.record(exchange);
            WsOpen::Failed(msg)
        }
    }
}

fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
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
                    let code = close
                        .code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "(no code)".into());
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
