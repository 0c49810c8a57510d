//! A lean HTTP/1.1 path for plain `http://` targets, the hot path of load generation: hyper's
//! connection-level client (`hyper::client::conn::http1`) over keep-alive connections that the
//! simulated clients own, without reqwest's per-request layers (URL re-parsing in its cookie and
//! redirect handling, the tower stack, the pool's bookkeeping). Requests are still built by
//! reqwest, so target profiles keep one request model; TLS (`https://`) and streaming bodies stay
//! on reqwest (see `super::http`).
//!
//! - [`IdleConns`]: idle keep-alive connections (per simulated client, or one shared pool), at most
//!   `cap`, most recently used first.
//! - [`exchange`]: one request and its response within the body limits of [`BodyMode`].
//!
//! HTTP framing (Content-Length, chunked, close-delimited, 1xx, HEAD/204/304, keep-alive) is
//! hyper's. A connection goes back to the idle set only when hyper says it is ready for another
//! request; an idempotent request whose reused connection turns out closed before the request
//! went out is sent once more on a fresh connection; a `POST` is never sent twice.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, HOST};
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpStream;

use super::http::{BODY_CAP, BodyMode, DRAIN_LIMIT, ErrorKind, HttpError};

/// One keep-alive connection to one origin; hyper's connection task runs beside it.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: Box<str>,
    port: u16,
}

impl Conn {
    fn is_for(&self, host: &str, port: u16) -> bool {
        self.port == port && &*self.host == host
    }
}

/// Idle keep-alive connections; see the module docs. When full, the least recently used goes.
pub struct IdleConns {
    conns: Mutex<Vec<Conn>>,
    cap: usize,
}

impl IdleConns {
    /// An empty set keeping at most `cap` idle connections.
    pub fn new(cap: usize) -> IdleConns {
        IdleConns {
            conns: Mutex::new(Vec::new()),
            cap: cap.max(1),
        }
    }

    /// Idle connections held now.
    pub fn len(&self) -> usize {
        self.conns.lock().len()
    }

    /// Whether no connection is idle.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most recently used open idle connection to this origin, if any (closed ones are dropped).
    fn take(&self, host: &str, port: u16) -> Option<Conn> {
        let mut conns = self.conns.lock();
        while let Some(i) = conns.iter().rposition(|c| c.is_for(host, port)) {
            let conn = conns.swap_remove(i);
            if !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    fn put(&self, conn: Conn) {
        let mut conns = self.conns.lock();
        if conns.len() >= self.cap {
            conns.remove(0);
        }
        conns.push(conn);
    }
}

/// A response read within the limits.
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Whether `req` can take this path: plain http with a body known up front.
pub fn supports(req: &reqwest::Request) -> bool {
    req.url().scheme() == "http"
        && req.url().host_str().is_some()
        && req.body().is_none_or(|b| b.as_bytes().is_some())
}

/// Sends `req` (which must pass [`supports`]) over an idle connection from `idle` or a new one
/// (established within `connect_timeout`) and reads the response. The caller bounds the whole
/// exchange with its own timeout.
pub async fn exchange(
    idle: &IdleConns,
    req: &reqwest::Request,
    mode: BodyMode,
    connect_timeout: Duration,
) -> Result<Response, HttpError> {
    let url = req.url();
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let idempotent = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    );
    if let Some(mut conn) = idle.take(host, port) {
        match round_trip(&mut conn, req, mode).await {
            Ok(resp) => {
                idle.put(conn);
                return Ok(resp);
            }
            // The kept-alive connection was closed by the server before the request went out.
            Err(Failure::NotSent) if idempotent => {}
            Err(f) => return Err(f.into_error()),
        }
    }
    let mut conn = connect(url, host, port, connect_timeout).await?;
    let resp = round_trip(&mut conn, req, mode)
        .await
        .map_err(Failure::into_error)?;
    idle.put(conn);
    Ok(resp)
}

async fn connect(
    url: &url::Url,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Conn, HttpError> {
    let connect = async {
        let stream = match url.host() {
            Some(url::Host::Ipv4(ip)) => TcpStream::connect(SocketAddr::from((ip, port))).await?,
            Some(url::Host::Ipv6(ip)) => TcpStream::connect(SocketAddr::from((ip, port))).await?,
            _ => TcpStream::connect((host, port)).await?,
        };
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(stream)
    };
    let stream = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(HttpError::new(
                ErrorKind::Connect,
                format!("cannot connect to {host}:{port}: {e}"),
            ));
        }
        Err(_) => {
            return Err(HttpError::new(
                ErrorKind::Connect,
                format!("no connection to {host}:{port} within {timeout:?}"),
            ));
        }
    };
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| {
        HttpError::new(
            ErrorKind::Connect,
            format!("HTTP/1.1 handshake with {host}:{port}: {e}"),
        )
    })?;
    // hyper drives the connection in its own task; it ends when the connection closes or every
    // sender is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Conn {
        sender,
        host: host.into(),
        port,
    })
}

/// Why an exchange on one connection failed.
enum Failure {
    /// The connection was closed before the request was written: safe to send again.
    NotSent,
    /// Anything else, with its error kind.
    Other(HttpError),
}

impl Failure {
    fn into_error(self) -> HttpError {
        match self {
            Failure::NotSent => HttpError::new(
                ErrorKind::Protocol,
                "connection closed before the request was sent",
            ),
            Failure::Other(e) => e,
        }
    }
}

/// Sends the request on `conn` and reads the response body within the limits of `mode`.
async fn round_trip(
    conn: &mut Conn,
    req: &reqwest::Request,
    mode: BodyMode,
) -> Result<Response, Failure> {
    if conn.sender.ready().await.is_err() {
        return Err(Failure::NotSent);
    }
    let resp = conn.sender.send_request(to_hyper(req)).await.map_err(|e| {
        if e.is_canceled() || e.is_closed() && !e.is_incomplete_message() {
            Failure::NotSent
        } else {
            Failure::Other(HttpError::new(
                ErrorKind::Protocol,
                format!("HTTP exchange failed: {e}"),
            ))
        }
    })?;
    let (parts, mut body) = resp.into_parts();
    let limit = match mode {
        BodyMode::Keep => BODY_CAP,
        BodyMode::Truncate => DRAIN_LIMIT,
    };
    let mut kept = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Failure::Other(HttpError::new(
                ErrorKind::Body,
                format!("reading the body: {e}"),
            ))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        if total > limit {
            return Err(Failure::Other(HttpError::new(
                ErrorKind::Body,
                format!("response body over {limit} bytes"),
            )));
        }
        let room = BODY_CAP.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
    }
    Ok(Response {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: kept.freeze(),
    })
}

/// The request as hyper sends it: origin-form target, `Host` and `Accept` as reqwest would add.
fn to_hyper(req: &reqwest::Request) -> http::Request<Full<Bytes>> {
    let url = req.url();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let body = req
        .body()
        .and_then(|b| b.as_bytes())
        .map(Bytes::copy_from_slice)
        .unwrap_or_default();
    let mut out = http::Request::new(Full::new(body));
    *out.method_mut() = req.method().clone();
    *out.uri_mut() = target
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    *out.headers_mut() = req.headers().clone();
    let headers = out.headers_mut();
    if !headers.contains_key(HOST) {
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&host) {
            headers.insert(HOST, v);
        }
    }
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    }
    out
}
