//! The HTTP/1.1 path of every exchange: hyper's connection-level client
//! (`hyper::client::conn::http1`) over keep-alive connections that the simulated clients own
//! (plain TCP for `http`, TLS for `https`, see [`super::stream`]), without a general-purpose
//! client's per-request layers (URL re-parsing in cookie and redirect handling, a tower stack, a
//! pool's bookkeeping).
//!
//! - [`IdleConns`]: idle keep-alive connections (per simulated client, or one shared pool), at most
//!   `cap`, most recently used first.
//! - [`exchange`]: one request and its response within the body limits of [`BodyMode`].
//!
//! HTTP framing (Content-Length, chunked, close-delimited, 1xx, HEAD/204/304, keep-alive) is
//! hyper's. hyper's connection state machine gets no task of its own: the task that uses a
//! connection polls it together with its request ([`Link::driven`]), so a response wakes the
//! simulated client directly, instead of waking a connection task that then wakes the client
//! through a channel (two task switches per request).
//!
//! Connection closes, which servers do all the time (`Connection: close` on every response from
//! gunicorn sync workers and many PHP set-ups, idle keep-alive connections closed after a few
//! seconds by Node and most others), are not errors:
//! - a response that ends its connection (`Connection: close`, or HTTP/1.0 without
//!   `keep-alive`, RFC 9112 §9.3) retires it: it is dropped, not kept idle
//!   ([`ConnEvents::retired`]);
//! - a kept-alive connection the server closed while it was idle is seen by hyper before the
//!   request is written (the end of stream is read first): hyper hands the request back unsent
//!   (`TrySendError::take_message`, or `ready()` failing on the closed connection), and only then
//!   does the request go out again, once, on a fresh connection, whatever its method
//!   ([`ConnEvents::resent_unsent`]);
//! - a request that hyper may have written is sent again only when RFC 9110 §9.2.2 allows it: an
//!   idempotent method (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) on a *reused* connection that ended
//!   or was reset before any response head arrived (the server closed the idle connection at the
//!   moment the request was written; with the request already unread in its socket, the close is
//!   a reset) goes out once more on a fresh connection, as browsers and Go's net/http do
//!   ([`ConnEvents::resent_idempotent`]). The caller makes the request again for it
//!   (`again`: [`super::Http::exchange_with`] renders it once more), so no exchange keeps a copy
//!   of its request in case;
//! - any other request that hyper may have written is never sent twice: a rotating
//!   `POST /token` must not reach the server twice. It fails as [`ErrorKind::Protocol`].

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONNECTION, HOST};
use http::uri::Scheme;
use http::{HeaderMap, HeaderValue, Version};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;

use super::body::{BodyMode, Capped};
use super::error::{ErrorKind, HttpError, causes, with_causes};
use super::stream::{self, Stream};
use crate::profile::tls::TlsClient;

/// hyper's side of one connection: reads, writes and framing, polled by its user.
type Driver = Pin<Box<http1::Connection<TokioIo<Stream>, Full<Bytes>>>>;

/// Where a connection goes: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    pub(crate) host: Box<str>,
    pub(crate) port: u16,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URI.
    pub(crate) fn of(uri: &http::Uri) -> Result<Origin, HttpError> {
        Dest::of(uri).map(|d| d.origin())
    }

    fn is(&self, dest: Dest<'_>) -> bool {
        self.https == dest.https && self.port == dest.port && *self.host == *dest.host
    }
}

/// Where a request goes, borrowed from its URI: the idle connections are searched by it without
/// an allocation; what a new connection needs is made from it only when one is opened.
#[derive(Debug, Clone, Copy)]
struct Dest<'a> {
    https: bool,
    host: &'a str,
    port: u16,
    /// Whether the URI names the port (then `Host` names it too).
    explicit_port: bool,
}

impl<'a> Dest<'a> {
    fn of(uri: &'a http::Uri) -> Result<Dest<'a>, HttpError> {
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => {
                return Err(HttpError::new(
                    ErrorKind::Protocol,
                    "the request URL is not an absolute http(s) URL",
                ));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| HttpError::new(ErrorKind::Protocol, "the request URL has no host"))?;
        let explicit = uri.port_u16();
        Ok(Dest {
            https,
            host,
            port: explicit.unwrap_or(if https { 443 } else { 80 }),
            explicit_port: explicit.is_some(),
        })
    }

    fn origin(self) -> Origin {
        Origin {
            https: self.https,
            host: self.host.into(),
            port: self.port,
        }
    }

    /// `Host` of requests to it: `host`, or `host:port` when the URI names a port.
    fn authority(self) -> String {
        match self.explicit_port {
            true => format!("{}:{}", self.host, self.port),
            false => self.host.to_string(),
        }
    }
}

/// One keep-alive connection to one origin.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    link: Link,
    origin: Origin,
    /// `Host` of requests on this connection (`host` or `host:port`).
    host_header: HeaderValue,
}

/// hyper's side of a connection; `None` once it has ended (and been dropped).
struct Link {
    driver: Option<Driver>,
}

impl Link {
    /// Whether the connection has ended.
    fn is_closed(&self) -> bool {
        self.driver.is_none()
    }

    /// Polls `fut` to completion while driving the connection it depends on. When the connection
    /// ends, its state machine is dropped, which fails whatever is still pending on it (an unsent
    /// request comes back in the error), so `fut` always completes.
    async fn driven<F: Future>(&mut self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        std::future::poll_fn(|cx| {
            loop {
                if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                    return Poll::Ready(out);
                }
                let Some(driver) = self.driver.as_mut() else {
                    // Ended: what was pending on it has been failed (and woken).
                    return Poll::Pending;
                };
                match driver.as_mut().poll(cx) {
                    Poll::Ready(_) => self.driver = None,
                    // The driver may just have completed what `fut` waits for.
                    Poll::Pending => return fut.as_mut().poll(cx),
                }
            }
        })
        .await
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

    /// How many idle connections this set keeps at most.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Idle connections held now.
    pub fn len(&self) -> usize {
        self.conns.lock().len()
    }

    /// Whether no connection is idle.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most recently used idle connection to this destination's origin, if any.
    fn take(&self, dest: Dest<'_>) -> Option<Conn> {
        let mut conns = self.conns.lock();
        let i = conns.iter().rposition(|c| c.origin.is(dest))?;
        Some(conns.swap_remove(i))
    }

    /// How many more connections this set keeps idle.
    pub(crate) fn room(&self) -> usize {
        self.cap.saturating_sub(self.len())
    }

    fn put(&self, conn: Conn) {
        if conn.link.is_closed() {
            return;
        }
        let mut conns = self.conns.lock();
        if conns.len() >= self.cap {
            conns.remove(0);
        }
        conns.push(conn);
    }
}

/// What happened to connections during one exchange; the session counts it as `resent_unsent`
/// and `connections_retired`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnEvents {
    /// A kept-alive connection that the server had closed while it was idle handed the request
    /// back unsent, and the request went out again on a fresh connection.
    pub resent_unsent: bool,
    /// An idempotent request written to a reused connection that ended (or was reset) before
    /// any response head arrived went out again on a fresh connection (RFC 9110 §9.2.2).
    pub resent_idempotent: bool,
    /// The response ended its connection (`Connection: close`): it was dropped, not kept.
    pub retired: bool,
    /// A new TLS connection was made for it: TCP connect → handshake complete
    /// (`tls_handshake`).
    pub tls_handshake: Option<Duration>,
}

/// A response read within the limits.
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the request was handed to the ready connection (hyper writes it on that same poll).
    pub written_at: std::time::Instant,
    /// What happened to connections on the way.
    pub conn: ConnEvents,
}

/// Sends `req` (an absolute `http`/`https` URI) over an idle connection from `idle` or a new one
/// (established, TLS handshake included, within `connect_timeout`; `tls` is required for `https`)
/// and reads the response. The caller bounds the whole exchange with its own timeout. `again`
/// makes the same request once more, for the one case where it must go out again after it was
/// written (an idempotent request on a reused connection that ended unanswered); `None` when it
/// cannot. Asked only then, so the common exchange copies nothing.
pub async fn exchange(
    idle: &IdleConns,
    req: http::Request<Bytes>,
    again: impl FnOnce() -> Option<http::Request<Bytes>>,
    mode: BodyMode,
    connect_timeout: Duration,
    tls: Option<&TlsClient>,
) -> Result<Response, HttpError> {
    // A clone shares the URI's bytes; the request's own URI moves into hyper's request below.
    let uri = req.uri().clone();
    let dest = Dest::of(&uri)?;
    let reused = idle.take(dest);
    // Only an idempotent request on a reused connection may have to go out again after it was
    // written.
    let replayable = reused.is_some() && idempotent(req.method());
    let mut message = to_hyper(req);
    // The most recently used kept-alive connection first. One that the server closed while it
    // was idle hands the request back unsent; then a fresh connection carries it (the older idle
    // connections have been idle longer still).
    let mut events = ConnEvents::default();
    if let Some(mut conn) = reused {
        match round_trip(&mut conn, message, mode).await {
            Ok(resp) => return Ok(keep_or_retire(idle, conn, resp)),
            Err(Failure::NotSent(m)) => {
                message = *m;
                events.resent_unsent = true;
            }
            Err(Failure::Unanswered(e)) => match replayable.then(again).flatten() {
                Some(again) => {
                    message = to_hyper(again);
                    events.resent_idempotent = true;
                }
                None => return Err(e),
            },
            Err(Failure::Other(e)) => return Err(e),
        }
    }
    let tls = match (dest.https, tls) {
        (false, _) => None,
        (true, Some(tls)) => Some(tls),
        (true, None) => {
            return Err(HttpError::new(
                ErrorKind::Connect,
                "an https URL but no TLS configuration",
            ));
        }
    };
    let (mut conn, tls_handshake) =
        connect(dest.origin(), &dest.authority(), tls, connect_timeout).await?;
    events.tls_handshake = tls_handshake;
    match round_trip(&mut conn, message, mode).await {
        Ok(mut resp) => {
            resp.conn.resent_unsent = events.resent_unsent;
            resp.conn.resent_idempotent = events.resent_idempotent;
            resp.conn.tls_handshake = events.tls_handshake;
            Ok(keep_or_retire(idle, conn, resp))
        }
        Err(Failure::NotSent(_)) => Err(HttpError::new(
            ErrorKind::Protocol,
            "the connection closed before the request was sent",
        )
        .with_conn(events)),
        Err(Failure::Unanswered(e) | Failure::Other(e)) => Err(e.with_conn(events)),
    }
}

/// Opens one connection to the origin of `uri` (an absolute `http`/`https` URI; `tls` required
/// for `https`) and keeps it idle in `idle`, ready for a request that then only writes.
pub(crate) async fn open_idle(
    idle: &IdleConns,
    uri: &http::Uri,
    tls: Option<&TlsClient>,
    timeout: Duration,
) -> Result<(), HttpError> {
    let dest = Dest::of(uri)?;
    let tls = if dest.https { tls } else { None };
    // A handshake made before the storm is not the storm's: it is not recorded.
    let (conn, _handshake) = connect(dest.origin(), &dest.authority(), tls, timeout).await?;
    idle.put(conn);
    Ok(())
}

/// Whether RFC 9110 §9.2.2 calls `method` idempotent (its effect on the server is the same
/// whether it is sent once or several times).
pub(crate) fn idempotent(method: &http::Method) -> bool {
    use http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

/// Puts `conn` back into `idle` unless `resp` ended it (then it is dropped: retired).
fn keep_or_retire(idle: &IdleConns, conn: Conn, resp: Response) -> Response {
    if !resp.conn.retired {
        idle.put(conn);
    }
    resp
}

/// Whether a connection carries more requests after a response of this version with these
/// headers (RFC 9112 §9.3): not when its `Connection` header has the `close` option; an HTTP/1.0
/// response only with `keep-alive`.
fn persists(version: Version, headers: &HeaderMap) -> bool {
    let option = |name: &str| {
        headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|o| o.trim().eq_ignore_ascii_case(name))
    };
    if option("close") {
        return false;
    }
    version >= Version::HTTP_11 || option("keep-alive")
}

async fn connect(
    origin: Origin,
    authority: &str,
    tls: Option<&TlsClient>,
    timeout: Duration,
) -> Result<(Conn, Option<Duration>), HttpError> {
    let (host, port) = (&*origin.host, origin.port);
    let connected = stream::open(host, port, tls, timeout).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(connected.stream))
        .await
        .map_err(|e| {
            HttpError::new(
                ErrorKind::Connect,
                format!("HTTP/1.1 handshake with {host}:{port}: {}", with_causes(&e)),
            )
        })?;
    let host_header = HeaderValue::from_str(authority)
        .map_err(|_| HttpError::new(ErrorKind::Protocol, "the host is not a valid Host header"))?;
    let conn = Conn {
        sender,
        link: Link {
            driver: Some(Box::pin(connection)),
        },
        origin,
        host_header,
    };
    Ok((conn, connected.tls_handshake))
}

/// Why an exchange on one connection failed.
enum Failure {
    /// The connection was closed before the request was written; here it is back, unsent.
    NotSent(Box<http::Request<Full<Bytes>>>),
    /// The request may have been written, and the connection ended before a response head
    /// arrived (hyper: an incomplete message), or the peer reset it ([`ended_by_peer`]).
    Unanswered(HttpError),
    /// Anything else, with its error kind.
    Other(HttpError),
}

/// Sends the request on `conn` and reads the response body within the limits of `mode`.
async fn round_trip(
    conn: &mut Conn,
    mut message: http::Request<Full<Bytes>>,
    mode: BodyMode,
) -> Result<Response, Failure> {
    if conn.link.driven(conn.sender.ready()).await.is_err() {
        return Err(Failure::NotSent(Box::new(message)));
    }
    if !message.headers().contains_key(HOST) {
        message.headers_mut().insert(HOST, conn.host_header.clone());
    }
    let written_at = std::time::Instant::now();
    let resp = match conn
        .link
        .driven(conn.sender.try_send_request(message))
        .await
    {
        Ok(resp) => resp,
        Err(mut e) => {
            return Err(match e.take_message() {
                Some(m) => Failure::NotSent(Box::new(m)),
                None => {
                    let e = e.into_error();
                    let unanswered = e.is_incomplete_message() || ended_by_peer(&e);
                    let e = HttpError::new(
                        ErrorKind::Protocol,
                        format!("HTTP exchange failed: {}", with_causes(&e)),
                    );
                    if unanswered {
                        Failure::Unanswered(e)
                    } else {
                        Failure::Other(e)
                    }
                }
            });
        }
    };
    let (parts, mut body) = resp.into_parts();
    let mut kept = Capped::new(mode);
    while let Some(frame) = conn.link.driven(body.frame()).await {
        let frame = frame.map_err(|e| {
            Failure::Other(HttpError::new(
                ErrorKind::Body,
                format!("reading the body: {}", with_causes(&e)),
            ))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        kept.push(&data)
            .map_err(|e| Failure::Other(e.oversized(parts.status.as_u16())))?;
    }
    let retired = !persists(parts.version, &parts.headers);
    Ok(Response {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: kept.finish(),
        written_at,
        conn: ConnEvents {
            retired,
            ..ConnEvents::default()
        },
    })
}

/// Whether the I/O error underneath `e` says the peer ended the connection abruptly: reset
/// (RST), aborted, closed under a write, or (TLS) closed without `close_notify`. In the keep-alive
/// race a server that closes an idle socket with the new request already unread in it resets the
/// connection instead of ending it, and over TLS rustls reads a close without `close_notify`
/// (which many servers skip) as an unexpected end of file: the request is as unanswered as after
/// a plain close (Go's net/http and browsers retry all of these alike).
fn ended_by_peer(e: &hyper::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    causes(e)
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            )
        })
}

/// The request as hyper sends it: origin-form target, the request's own headers (moved, not
/// copied), `Accept: */*` unless set; `Host` comes from the connection.
fn to_hyper(req: http::Request<Bytes>) -> http::Request<Full<Bytes>> {
    let (mut parts, body) = req.into_parts();
    parts.uri = parts
        .uri
        .path_and_query()
        .map(|pq| http::Uri::from(pq.clone()))
        .unwrap_or_else(|| http::Uri::from_static("/"));
    if !parts.headers.contains_key(ACCEPT) {
        parts
            .headers
            .insert(ACCEPT, HeaderValue::from_static("*/*"));
    }
    http::Request::from_parts(parts, Full::new(body))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Notify;

    use super::super::body::BODY_CAP;
    use super::*;

    /// What the scripted server does with one request.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Act {
        /// Answer and keep the connection.
        Send(&'static [u8]),
        /// Answer, then close the connection.
        SendClose(&'static [u8]),
        /// Answer, then close the connection when the test says so.
        SendCloseLater(&'static [u8]),
        /// Close without answering.
        Close,
        /// Abort the connection without answering (RST), as a server does when it closes a
        /// socket with a request still unread in it.
        Reset,
    }

    /// What the scripted server reports and listens to.
    struct Seen {
        /// Connections accepted.
        conns: Arc<AtomicUsize>,
        /// Requests read.
        requests: Arc<AtomicUsize>,
        /// Notified after a connection was closed by `SendCloseLater`.
        closed: Arc<Notify>,
        /// Tells `SendCloseLater` to close.
        close_now: Arc<Notify>,
    }

    fn head_end(buf: &[u8]) -> Option<usize> {
        buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
    }

    /// Connection 0 answers its first request and, on reading the second, ends as `end` says
    /// (`Close` or `Reset`) without a response byte: the keep-alive race, the server's idle timer
    /// closing the connection as the request arrives (with the request unread in the socket, the
    /// close is a reset). Every other request is answered.
    fn first_connection_ends_on_its_second_request(
        end: Act,
    ) -> impl Fn(usize, usize, &str) -> Act + Send + Sync + 'static {
        move |ci, ri, _| {
            if ci == 0 && ri > 0 {
                end
            } else {
                Act::Send(EMPTY_200)
            }
        }
    }

    /// A scripted server: the n-th request read on connection c gets `act(c, n, request head)`
    /// (the head in lower case).
    async fn server(
        act: impl Fn(usize, usize, &str) -> Act + Send + Sync + 'static,
    ) -> (SocketAddr, Seen) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let seen = Seen {
            conns: Arc::new(AtomicUsize::new(0)),
            requests: Arc::new(AtomicUsize::new(0)),
            closed: Arc::new(Notify::new()),
            close_now: Arc::new(Notify::new()),
        };
        let act = Arc::new(act);
        let (conns, requests) = (seen.conns.clone(), seen.requests.clone());
        let (closed, close_now) = (seen.closed.clone(), seen.close_now.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let ci = conns.fetch_add(1, Ordering::SeqCst);
                let (act, requests) = (act.clone(), requests.clone());
                let (closed, close_now) = (closed.clone(), close_now.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    for ri in 0.. {
                        let end = loop {
                            if let Some(i) = head_end(&buf) {
                                break i;
                            }
                            let mut chunk = [0u8; 4096];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        while buf.len() < end + len {
                            let mut chunk = [0u8; 4096];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..end + len);
                        requests.fetch_add(1, Ordering::SeqCst);
                        match act(ci, ri, &head) {
                            Act::Send(bytes) => {
                                if s.write_all(bytes).await.is_err() {
                                    return;
                                }
                            }
                            Act::SendClose(bytes) => {
                                let _ = s.write_all(bytes).await;
                                return;
                            }
                            Act::SendCloseLater(bytes) => {
                                let _ = s.write_all(bytes).await;
                                close_now.notified().await;
                                drop(s);
                                closed.notify_one();
                                return;
                            }
                            Act::Close => return,
                            Act::Reset => {
                                let _ = s.set_zero_linger();
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    fn n(a: &AtomicUsize) -> usize {
        a.load(Ordering::SeqCst)
    }

    fn get(addr: SocketAddr, path: &str) -> http::Request<Bytes> {
        http::Request::get(format!("http://{addr}{path}"))
            .body(Bytes::new())
            .unwrap()
    }

    fn post(addr: SocketAddr) -> http::Request<Bytes> {
        http::Request::post(format!("http://{addr}/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"grant_type=refresh_token"))
            .unwrap()
    }

    /// One exchange, bounded like the callers bound it (a hang fails the test, not CI).
    async fn ex(
        idle: &IdleConns,
        req: http::Request<Bytes>,
        mode: BodyMode,
    ) -> Result<Response, HttpError> {
        let t = Duration::from_secs(5);
        let copy = req.clone();
        tokio::time::timeout(t, exchange(idle, req, || Some(copy), mode, t, None))
            .await
            .expect("the exchange finished")
    }

    const EMPTY_200: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

    #[tokio::test]
    async fn one_kept_alive_connection_carries_every_framing() {
        let (addr, seen) = server(|_, _, head| {
            Act::Send(match head.split(' ').nth(1).unwrap_or_default() {
                "/len" => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-k: v\r\n\r\nhello",
                "/chunked" => b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                "/interim" => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
                _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            })
        })
        .await;
        let idle = IdleConns::new(2);
        let r = ex(&idle, get(addr, "/len"), BodyMode::Keep).await.unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
        assert_eq!(r.headers["x-k"], "v");
        let r = ex(&idle, get(addr, "/chunked"), BodyMode::Keep)
            .await
            .unwrap();
        assert_eq!((r.status, &r.body[..]), (201, &b"abcde"[..]));
        let r = ex(&idle, get(addr, "/interim"), BodyMode::Keep)
            .await
            .unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = ex(&idle, get(addr, "/x"), BodyMode::Keep).await.unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(
            n(&seen.conns),
            1,
            "every request on one keep-alive connection"
        );
        assert_eq!(idle.len(), 1);
    }

    #[tokio::test]
    async fn response_headers_arrive_whole_and_in_order_repeated_ones_too() {
        // Every value reaches the caller: a repeated name's values in their order (two
        // `Set-Cookie`), custom names, bytes outside ASCII.
        let (addr, _seen) = server(|_, _, _| {
            Act::Send(
                b"HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nx-Custom-Name: v\xe9\r\n\
                  set-cookie: b=2; HttpOnly\r\nwww-authenticate: Bearer error=\"invalid_token\"\r\n\
                  content-length: 0\r\n\r\n",
            )
        })
        .await;
        let r = ex(&IdleConns::new(1), get(addr, "/"), BodyMode::Keep)
            .await
            .unwrap();
        let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2; HttpOnly"]);
        assert_eq!(r.headers["x-custom-name"].as_bytes(), b"v\xe9");
        assert_eq!(
            r.headers["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        assert_eq!(r.headers.len(), 5);
    }

    #[tokio::test]
    async fn requests_carry_host_accept_and_the_form() {
        let (addr, _seen) = server(|_, _, head| {
            let ok = head.starts_with("post /oauth/token http/1.1\r\n")
                && head.contains("\r\nhost: 127.0.0.1:")
                && head.contains("\r\naccept: */*\r\n")
                && head.contains("\r\ncontent-type: application/x-www-form-urlencoded\r\n")
                && head.contains("\r\ncontent-length: 24\r\n");
            Act::Send(if ok {
                EMPTY_200
            } else {
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
            })
        })
        .await;
        let r = ex(&IdleConns::new(1), post(addr), BodyMode::Keep)
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn closed_connections_are_not_reused() {
        let (addr, seen) = server(|_, _, head| {
            if head.starts_with("get /until-close") {
                Act::SendClose(b"HTTP/1.1 200 OK\r\n\r\nall of it")
            } else {
                Act::SendClose(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
                )
            }
        })
        .await;
        let idle = IdleConns::new(4);
        let r = ex(&idle, get(addr, "/until-close"), BodyMode::Keep)
            .await
            .unwrap();
        assert_eq!(&r.body[..], b"all of it");
        for _ in 0..2 {
            let r = ex(&idle, get(addr, "/close"), BodyMode::Keep)
                .await
                .unwrap();
            assert_eq!(&r.body[..], b"ok");
            assert_eq!(
                r.conn,
                ConnEvents {
                    retired: true,
                    ..ConnEvents::default()
                }
            );
        }
        assert_eq!(n(&seen.conns), 3);
        assert!(idle.is_empty());
    }

    #[tokio::test]
    async fn a_response_that_ends_its_connection_retires_it_even_if_the_server_keeps_it_open() {
        // The server says the connection ends but leaves it open: the client must not reuse it
        // (had it kept it, hyper would hand the next request back unsent: a resend, not this).
        let (addr, seen) = server(|_, ri, head| {
            Act::Send(match (head.split(' ').nth(1).unwrap_or_default(), ri) {
                ("/http10", _) => b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
                ("/http10-ka", 0) => {
                    b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok"
                }
                _ => b"HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Close\r\ncontent-length: 2\r\n\r\nok",
            })
        })
        .await;
        let idle = IdleConns::new(4);
        for path in ["/close", "/close", "/http10"] {
            let r = ex(&idle, get(addr, path), BodyMode::Keep).await.unwrap();
            assert_eq!(&r.body[..], b"ok");
            assert!(r.conn.retired && !r.conn.resent_unsent, "{path}");
            assert!(idle.is_empty(), "{path}");
        }
        assert_eq!(n(&seen.conns), 3);
        // HTTP/1.0 with `keep-alive` persists.
        let r = ex(&idle, get(addr, "/http10-ka"), BodyMode::Keep)
            .await
            .unwrap();
        assert_eq!(r.conn, ConnEvents::default());
        assert_eq!(idle.len(), 1);
    }

    #[tokio::test]
    async fn body_limits_follow_the_mode() {
        static BIG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let big = BIG.get_or_init(|| {
            let n = BODY_CAP + 10;
            let mut r = format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n").into_bytes();
            r.resize(r.len() + n, b'x');
            r
        });
        let (addr, _seen) = server(move |_, _, _| Act::Send(big)).await;
        let idle = IdleConns::new(1);
        let e = ex(&idle, get(addr, "/"), BodyMode::Keep)
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Body);
        let r = ex(&idle, get(addr, "/"), BodyMode::Truncate).await.unwrap();
        assert_eq!(r.body.len(), BODY_CAP);
    }

    #[tokio::test]
    async fn an_unsent_request_on_a_connection_closed_while_idle_goes_out_on_a_new_one() {
        // The server closes the idle connection without having said so; the client notices only
        // when it reuses it, and the POST goes out once, on a new connection.
        let (addr, seen) = server(|_, _, _| Act::SendCloseLater(EMPTY_200)).await;
        let idle = IdleConns::new(1);
        ex(&idle, post(addr), BodyMode::Keep).await.unwrap();
        assert_eq!(idle.len(), 1, "kept: nothing said it would close");
        seen.close_now.notify_one();
        seen.closed.notified().await;
        let r = ex(&idle, post(addr), BodyMode::Keep).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.conn,
            ConnEvents {
                resent_unsent: true,
                ..ConnEvents::default()
            }
        );
        assert_eq!((n(&seen.conns), n(&seen.requests)), (2, 2));
        assert_eq!(idle.len(), 1, "the fresh connection is kept");
    }

    #[tokio::test]
    async fn a_request_that_was_written_is_never_sent_again() {
        for end in [Act::Close, Act::Reset] {
            let (addr, seen) = server(first_connection_ends_on_its_second_request(end)).await;
            let idle = IdleConns::new(1);
            ex(&idle, post(addr), BodyMode::Keep).await.unwrap();
            let e = ex(&idle, post(addr), BodyMode::Keep).await.err().unwrap();
            assert_eq!(e.kind, ErrorKind::Protocol, "{end:?}");
            assert_eq!(e.conn, ConnEvents::default(), "{end:?}: {e}");
            if end == Act::Reset {
                assert!(
                    e.message.contains("reset"),
                    "the message names the cause: {e}"
                );
            }
            assert_eq!(
                (n(&seen.conns), n(&seen.requests)),
                (1, 2),
                "{end:?}: the refresh was not sent twice"
            );
        }
    }

    #[tokio::test]
    async fn an_idempotent_request_written_as_a_reused_connection_ended_goes_out_again_once() {
        // The keep-alive race, ended by a close or by a reset: the GET goes out again on a new
        // connection.
        for end in [Act::Close, Act::Reset] {
            let (addr, seen) = server(first_connection_ends_on_its_second_request(end)).await;
            let idle = IdleConns::new(1);
            ex(&idle, get(addr, "/api/me"), BodyMode::Keep)
                .await
                .unwrap();
            let r = ex(&idle, get(addr, "/api/me"), BodyMode::Keep)
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{end:?}");
            assert_eq!(
                r.conn,
                ConnEvents {
                    resent_idempotent: true,
                    ..ConnEvents::default()
                },
                "{end:?}"
            );
            assert_eq!((n(&seen.conns), n(&seen.requests)), (2, 3), "{end:?}");
            assert_eq!(idle.len(), 1, "{end:?}: the fresh connection is kept");
        }
    }

    #[tokio::test]
    async fn the_request_is_made_again_only_for_a_replay() {
        // `again` is asked once, for the replay of the keep-alive race, and never for an
        // exchange that needs none: no exchange copies its request in case.
        let (addr, _) = server(first_connection_ends_on_its_second_request(Act::Close)).await;
        let idle = IdleConns::new(1);
        let t = Duration::from_secs(5);
        let asked = AtomicUsize::new(0);
        let again = || {
            asked.fetch_add(1, Ordering::SeqCst);
            Some(get(addr, "/api/me"))
        };
        let first = exchange(&idle, get(addr, "/api/me"), again, BodyMode::Keep, t, None);
        assert_eq!(first.await.unwrap().status, 200);
        assert_eq!(asked.load(Ordering::SeqCst), 0, "asked without a replay");
        let second = exchange(&idle, get(addr, "/api/me"), again, BodyMode::Keep, t, None);
        let r = second.await.unwrap();
        assert!(r.conn.resent_idempotent);
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_fresh_connection_that_ends_unanswered_is_not_retried() {
        // Only a reused connection can lose the keep-alive race: a new connection that ends
        // without an answer is the server's failure, and the GET is not sent twice.
        let (addr, seen) = server(|_, _, _| Act::Close).await;
        let e = ex(&IdleConns::new(1), get(addr, "/api/me"), BodyMode::Keep)
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert_eq!(e.conn, ConnEvents::default());
        assert_eq!((n(&seen.conns), n(&seen.requests)), (1, 1));
    }

    #[tokio::test]
    async fn garbage_and_early_close_are_protocol_and_body_errors() {
        let (addr, _seen) = server(|_, _, head| {
            if head.starts_with("get /garbage") {
                Act::Send(b"SSH-2.0-nope\r\n\r\n")
            } else {
                Act::SendClose(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort")
            }
        })
        .await;
        let idle = IdleConns::new(1);
        let e = ex(&idle, get(addr, "/garbage"), BodyMode::Keep)
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol);
        let e = ex(&idle, get(addr, "/short"), BodyMode::Keep)
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Body);
        assert!(idle.is_empty());
    }
}
