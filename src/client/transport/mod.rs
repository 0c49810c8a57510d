//! The one client transport: every byte authbench sends to a target goes through here — the
//! simulated clients' HTTP calls and WebSocket handshakes, the `authbench check` probes, OpenID
//! discovery. Target profiles render plain `http::Request<Bytes>`s; this module sends them.
//!
//! - [`Connector`] / [`Http`]: connection modes and one bounded exchange ([`Http::exchange`]): a
//!   deadline covering the whole exchange, failures sorted into the `errors.<kind>` kinds of
//!   DESIGN §3 ([`error`]).
//! - [`h1`]: HTTP/1.1 on hyper's connection-level client over kept-alive connections, driven by
//!   the task that uses them; connections retired by `Connection: close`, and the resend, on a
//!   fresh connection, of a request that a closed kept-alive connection handed back unsent, or of
//!   an idempotent one that a reused connection lost to the keep-alive race ([`ConnEvents`]).
//! - [`stream`]: TCP, and TLS for `https` with one shared rustls configuration per run.
//! - [`tls`]: what a refused handshake means, naming the `tls:` key that fixes it (the
//!   configuration, [`TlsClient`], is the profile's: platform roots or its `tls:` section).
//! - [`body`]: the body limits (keep-and-fail for token responses, truncate-and-drain for resource
//!   responses and evidence), defined once.
//! - [`events`]: a streamed response on a connection of its own (the SSE channel's event stream).
//! - [`ws`]: the WebSocket handshake with the token in the query, a header or a subprotocol.
//! - [`first_message`]: the token in the first message after the upgrade, and its acknowledgement.
//! - [`closetap`]: the server's close code as it was on the wire, before tungstenite validates it
//!   (the probes' WS-05).
//!
//! Two connection modes (scenario `client.connections`):
//! - [`Connections::PerClient`]: every simulated client keeps its own idle connections (at most
//!   `concurrency`), like a browser or a phone. Creating a client costs one small allocation; TLS
//!   connections are made from the run's one shared configuration (loading the platform verifier
//!   takes milliseconds, so it is never done per client).
//! - [`Connections::Pool`]`(n)`: one shared set of at most `n` idle connections and a semaphore of
//!   `n` permits gating the requests in flight, so 100 000 idle clients hold no socket.
//!
//! HTTP/1.1 only (ALPN offers `http/1.1`): one request per connection at a time is what makes the
//! connection counts of both modes mean what they say.

pub mod body;
pub mod closetap;
pub mod error;
pub mod events;
pub mod first_message;
pub mod h1;
pub mod stream;
pub mod tls;
pub mod ws;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::Semaphore;

pub use crate::profile::tls::{TlsClient, TlsOptions, TlsSetupError};
pub use body::{BODY_CAP, BodyMode, DRAIN_LIMIT};
pub use error::{BuildError, ErrorKind, HttpError};
pub use h1::ConnEvents;

/// How the simulated clients hold their HTTP connections (scenario `client.connections`; its
/// YAML form is defined with the scenario model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connections {
    /// Keep-alive connections of its own per simulated client.
    #[default]
    PerClient,
    /// One shared set with at most this many connections / requests in flight.
    Pool(u32),
}

/// A response read within the limits.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the request was handed to the connection (after waiting for a pool permit).
    pub sent_at: Instant,
    /// When the request was handed to a ready connection (connected, TLS done): its write.
    pub written_at: Instant,
    /// What happened to connections on the way (a resend of an unsent request, a retirement).
    pub conn: ConnEvents,
}

/// The TLS configuration of a run, made on first use unless given up front.
type TlsCell = Arc<OnceLock<Arc<TlsClient>>>;

/// Creates the per-session [`Http`] handles for one run.
#[derive(Clone)]
pub struct Connector {
    timeout: Duration,
    /// Pool mode: the shared handle and its permits.
    shared: Option<Http>,
    /// The one TLS configuration every connection is made from.
    tls: TlsCell,
    /// Idle connections kept by a per-client handle.
    per_client_idle: usize,
    /// Pool mode: the pool's size (requests in flight at most).
    pool: Option<usize>,
}

impl Connector {
    /// `https` says whether the target needs TLS (then the platform verifier is loaded now, so a
    /// broken TLS setup fails the run before it starts; otherwise on the first `https` request);
    /// `concurrency` bounds the idle connections a per-client handle keeps.
    pub fn new(
        mode: Connections,
        timeout: Duration,
        https: bool,
        concurrency: u32,
    ) -> Result<Self, BuildError> {
        let tls = TlsCell::default();
        if https {
            let _ = tls.set(Arc::new(
                TlsClient::platform().map_err(|e| BuildError(e.to_string()))?,
            ));
        }
        let mut c = Connector {
            timeout,
            shared: None,
            tls,
            per_client_idle: concurrency.max(1) as usize,
            pool: None,
        };
        if let Connections::Pool(n) = mode {
            let n = n.max(1) as usize;
            c.pool = Some(n);
            c.shared = Some(c.handle(n, Some(Arc::new(Semaphore::new(n)))));
        }
        Ok(c)
    }

    /// Pool mode: how many requests the pool lets through at once; per-client mode: `None`.
    pub fn pool_size(&self) -> Option<usize> {
        self.pool
    }

    /// Uses `tls` for every `https` and `wss` connection instead of the platform's roots (a
    /// profile's `tls:` section, a private CA, tests with a self-signed certificate). Call before
    /// handing out handles.
    pub fn with_tls(self, tls: impl Into<TlsClient>) -> Self {
        let cell = TlsCell::default();
        let _ = cell.set(Arc::new(tls.into()));
        let mut c = Connector { tls: cell, ..self };
        if let Some(shared) = &mut c.shared {
            // Before any handle was handed out: the shared one is made anew with the new TLS.
            let old = &shared.0;
            *shared = Http(Arc::new(HttpState {
                gate: old.gate.clone(),
                timeout: old.timeout,
                idle: h1::IdleConns::new(old.idle.cap()),
                tls: c.tls.clone(),
            }));
        }
        c
    }

    /// [`Connector::with_tls`] when a profile has a `tls:` section; unchanged otherwise.
    pub fn with_profile_tls(self, tls: Option<&TlsClient>) -> Self {
        match tls {
            Some(tls) => self.with_tls(tls.clone()),
            None => self,
        }
    }

    fn handle(&self, idle: usize, gate: Option<Arc<Semaphore>>) -> Http {
        Http(Arc::new(HttpState {
            gate,
            timeout: self.timeout,
            idle: h1::IdleConns::new(idle),
            tls: self.tls.clone(),
        }))
    }

    /// An [`Http`] handle for one simulated client: a clone of the shared one in pool mode, its
    /// own idle connections in per-client mode.
    pub fn client(&self) -> Http {
        match &self.shared {
            Some(shared) => shared.clone(),
            None => self.handle(self.per_client_idle, None),
        }
    }
}

/// A request rendered before the exchange, as [`Http::exchange_with`] takes it: the first call
/// hands it over; a second one (a replay, see `h1::exchange`) a copy, which is kept only of an
/// idempotent request (the only kind replayed).
pub fn prebuilt<E: Into<HttpError>>(
    req: Result<http::Request<Bytes>, E>,
) -> impl FnMut() -> Result<http::Request<Bytes>, HttpError> {
    let copy = match &req {
        Ok(r) if h1::idempotent(r.method()) => Some(r.clone()),
        _ => None,
    };
    let mut first = Some(req);
    move || match first.take() {
        Some(req) => req.map_err(Into::into),
        None => copy
            .clone()
            .ok_or_else(|| HttpError::new(ErrorKind::Protocol, "the request was sent once")),
    }
}

/// One simulated client's way to the server (cheap to clone: one `Arc`; in pool mode every
/// client holds a clone of the same one, so a million clients pay 8 bytes each for it).
#[derive(Clone)]
pub struct Http(Arc<HttpState>);

struct HttpState {
    gate: Option<Arc<Semaphore>>,
    timeout: Duration,
    idle: h1::IdleConns,
    tls: TlsCell,
}

impl Http {
    /// Sends `req` (waiting for a pool permit first in pool mode) and reads the response within
    /// the client timeout, the permit held until the body is read.
    pub async fn exchange(
        &self,
        req: http::Request<Bytes>,
        mode: BodyMode,
    ) -> Result<Reply, HttpError> {
        self.exchange_with(prebuilt(Ok::<_, HttpError>(req)), mode)
            .await
    }

    /// Like [`Http::exchange`], but the request is rendered by `build` only once a pool permit is
    /// held, so a client waiting for a connection holds a few bytes of state, not a request. A
    /// request that cannot be rendered is an [`ErrorKind::Protocol`] error. `build` is called
    /// again in the rare case that the request must go out a second time (see `h1::exchange`),
    /// so no copy of it is kept in case.
    pub async fn exchange_with<E: Into<HttpError>>(
        &self,
        mut build: impl FnMut() -> Result<http::Request<Bytes>, E>,
        mode: BodyMode,
    ) -> Result<Reply, HttpError> {
        let _permit = match &self.0.gate {
            Some(gate) => Some(
                gate.acquire()
                    .await
                    .map_err(|_| HttpError::new(ErrorKind::Protocol, "connection pool closed"))?,
            ),
            None => None,
        };
        let sent_at = Instant::now();
        // Boxed: the in-flight state (~1 KiB) exists only while a request is on the wire, not in
        // every waiting or thinking client's future. The request and the TLS handle are made in
        // this block and moved into the box, so they take no room in this future either (a local
        // borrowed before an await keeps its room across it).
        let exchange = {
            let req = build().map_err(Into::into)?;
            let tls = if req.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
                Some(self.tls_config()?)
            } else {
                None
            };
            let again = || build().ok();
            Box::pin(tokio::time::timeout(self.0.timeout, async move {
                let tls = tls.as_deref();
                h1::exchange(&self.0.idle, req, again, mode, self.0.timeout, tls).await
            }))
        };
        match exchange.await {
            Ok(Ok(resp)) => Ok(Reply {
                status: resp.status,
                headers: resp.headers,
                body: resp.body,
                sent_at,
                written_at: resp.written_at,
                conn: resp.conn,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(HttpError::new(
                ErrorKind::Timeout,
                format!("no complete response within {:?}", self.0.timeout),
            )),
        }
    }

    /// The run's TLS configuration (for `wss` handshakes too), loaded from the platform on first
    /// use.
    pub fn tls_config(&self) -> Result<Arc<TlsClient>, HttpError> {
        if let Some(tls) = self.0.tls.get() {
            return Ok(tls.clone());
        }
        let made =
            TlsClient::platform().map_err(|e| HttpError::new(ErrorKind::Connect, e.to_string()))?;
        Ok(self.0.tls.get_or_init(|| Arc::new(made)).clone())
    }

    /// Opens connections to the origin of `uri` (`parallel` handshakes at a time) until this
    /// handle holds `want` idle ones, or as many as it keeps; returns how many it opened. Done
    /// before a synchronized start, so the burst finds its connections ready and only writes.
    /// Stops at the first failure, with that error.
    pub async fn warm(
        &self,
        uri: &http::Uri,
        want: usize,
        parallel: usize,
    ) -> Result<usize, HttpError> {
        use futures::StreamExt;
        let missing = want
            .saturating_sub(self.0.idle.len())
            .min(self.0.idle.room());
        let tls = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
            Some(self.tls_config()?)
        } else {
            None
        };
        let mut opening = futures::stream::iter(0..missing)
            .map(|_| h1::open_idle(&self.0.idle, uri, tls.as_deref(), self.0.timeout))
            .buffer_unordered(parallel.max(1));
        let mut opened = 0;
        while let Some(res) = opening.next().await {
            res?;
            opened += 1;
        }
        Ok(opened)
    }

    /// Idle connections held by this handle.
    pub fn idle_connections(&self) -> usize {
        self.0.idle.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_prebuilt_request_is_handed_over_then_copied_only_when_idempotent() {
        let get = http::Request::get("http://127.0.0.1:9/api/me")
            .header("authorization", "Bearer t")
            .body(Bytes::new())
            .unwrap();
        let mut build = prebuilt(Ok::<_, HttpError>(get));
        let first = build().unwrap();
        let again = build().unwrap();
        assert_eq!(again.uri(), first.uri());
        assert_eq!(again.headers(), first.headers());

        let post = http::Request::post("http://127.0.0.1:9/token")
            .body(Bytes::from_static(b"grant_type=refresh_token"))
            .unwrap();
        let mut build = prebuilt(Ok::<_, HttpError>(post));
        assert!(build().is_ok());
        assert_eq!(
            build().unwrap_err().kind,
            ErrorKind::Protocol,
            "a POST is sent once"
        );
    }

    #[tokio::test]
    async fn per_client_build_is_cheap_and_pool_shares() {
        let c = Connector::new(Connections::PerClient, Duration::from_secs(1), true, 4).unwrap();
        let t = Instant::now();
        for _ in 0..200 {
            c.client();
        }
        // ~6 µs each with a shared config, ~4 ms each without: 200 builds well under 200 × 4 ms.
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );

        let p = Connector::new(Connections::Pool(3), Duration::from_secs(1), false, 4).unwrap();
        let a = p.client();
        let b = p.client();
        assert!(Arc::ptr_eq(
            a.0.gate.as_ref().unwrap(),
            b.0.gate.as_ref().unwrap()
        ));
        assert_eq!(a.0.gate.as_ref().unwrap().available_permits(), 3);
    }

    #[tokio::test]
    async fn warm_opens_idle_connections_up_to_the_wanted_number_and_the_cap() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: http::Uri = format!("http://{}/", l.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(s);
            }
        });
        let pool = Connector::new(Connections::Pool(3), Duration::from_secs(5), false, 1).unwrap();
        let http = pool.client();
        assert_eq!(http.warm(&uri, 2, 4).await.unwrap(), 2);
        assert_eq!(http.idle_connections(), 2);
        // Already there: nothing more; more than the pool keeps: up to its cap.
        assert_eq!(http.warm(&uri, 2, 4).await.unwrap(), 0);
        assert_eq!(http.warm(&uri, 10, 4).await.unwrap(), 1);
        assert_eq!(pool.client().idle_connections(), 3, "shared by the pool");
        let deadline = Instant::now() + Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);

        // Nothing listening: the error, not a silent zero.
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead: http::Uri = format!("http://{}/", gone.local_addr().unwrap())
            .parse()
            .unwrap();
        drop(gone);
        let own = Connector::new(Connections::PerClient, Duration::from_secs(2), false, 1)
            .unwrap()
            .client();
        assert_eq!(
            own.warm(&dead, 1, 1).await.unwrap_err().kind,
            ErrorKind::Connect
        );
    }

    #[tokio::test]
    async fn answers_larger_than_one_read_arrive_whole_on_a_kept_connection() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Headers and body larger than one 8 KiB read, twice on one connection. (hyper's
        // `read_buf_exact_size`, tried to shrink the storm's read buffers, caps the response head
        // at that size: this answer then failed with "message head is too large".)
        let (big_header, body) = ("h".repeat(10_000), vec![b'b'; 48 * 1024]);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        let answer = [
            format!(
                "HTTP/1.1 200 OK\r\nx-big: {big_header}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes(),
            body.clone(),
        ]
        .concat();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while let Ok(n @ 1..) = s.read(&mut chunk).await {
                        seen.extend_from_slice(&chunk[..n]);
                        while let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..i + 4);
                            if s.write_all(&answer).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        let http = Connector::new(Connections::PerClient, Duration::from_secs(5), false, 1)
            .unwrap()
            .client();
        for _ in 0..2 {
            let req = http::Request::get(format!("http://{addr}/"))
                .body(Bytes::new())
                .unwrap();
            let reply = http.exchange(req, BodyMode::Keep).await.unwrap();
            assert_eq!(reply.status, 200);
            assert_eq!(reply.headers["x-big"].len(), big_header.len());
            assert_eq!(reply.body.len(), body.len());
            assert!(reply.body.iter().all(|&b| b == b'b'));
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "the connection was kept"
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let c = Connector::new(Connections::PerClient, Duration::from_secs(2), false, 1).unwrap();
        let http = c.client();
        let req = http::Request::get(format!("http://{addr}/"))
            .body(Bytes::new())
            .unwrap();
        let err = http.exchange(req, BodyMode::Keep).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Connect);
    }

    /// A TLS server with a fresh self-signed certificate for `localhost` that answers every
    /// request on a connection with `200 secure`, and the client configuration that trusts it.
    /// With `drop_at: Some(n)`, the first connection reads its n-th request (from 0) and then ends
    /// without an answer and without TLS `close_notify`, as many servers end idle connections.
    async fn tls_server(
        drop_at: Option<usize>,
    ) -> (std::net::SocketAddr, rustls::ClientConfig, Arc<AtomicUsize>) {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = key.cert.der().clone();
        let private =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
        let mut server = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], private)
            .unwrap();
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();

        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let counted = conns.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                let ci = counted.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = Vec::new();
                    let mut ri = 0;
                    loop {
                        let mut chunk = [0u8; 1024];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            if ci == 0 && drop_at == Some(ri) {
                                // Dropped without `shutdown`: a TCP FIN and no `close_notify`.
                                return;
                            }
                            ri += 1;
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecure";
                            if s.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, client, conns)
    }

    #[tokio::test]
    async fn https_round_trips_on_kept_alive_tls_connections() {
        let (addr, trusted, conns) = tls_server(None).await;
        let url = format!("https://localhost:{}/api/me", addr.port());
        let get = || http::Request::get(&url).body(Bytes::new()).unwrap();

        let c = Connector::new(Connections::PerClient, Duration::from_secs(5), false, 2)
            .unwrap()
            .with_tls(trusted);
        let http = c.client();
        for _ in 0..3 {
            let r = http.exchange(get(), BodyMode::Keep).await.unwrap();
            assert_eq!((r.status, &r.body[..]), (200, &b"secure"[..]));
        }
        assert_eq!(
            conns.load(Ordering::SeqCst),
            1,
            "one kept-alive TLS connection"
        );
        assert_eq!(http.idle_connections(), 1);

        // The platform's roots do not trust a self-signed certificate: a TLS error that names
        // the key that fixes it.
        let untrusting = Connector::new(Connections::PerClient, Duration::from_secs(5), true, 1)
            .unwrap()
            .client();
        let e = untrusting
            .exchange(get(), BodyMode::Keep)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls, "{e}");
        assert!(e.message.contains("tls.ca_file"), "{e}");
    }

    #[tokio::test]
    async fn a_get_on_a_reused_tls_connection_ended_without_close_notify_goes_out_again() {
        // The keep-alive race over TLS: the server ends the reused connection after reading the
        // request, without `close_notify` (rustls reads that as an unexpected end of file, not
        // as hyper's incomplete message). The GET goes out again on a fresh connection.
        let (addr, trusted, conns) = tls_server(Some(1)).await;
        let url = format!("https://localhost:{}/api/me", addr.port());
        let get = || http::Request::get(&url).body(Bytes::new()).unwrap();
        let c = Connector::new(Connections::PerClient, Duration::from_secs(5), false, 1)
            .unwrap()
            .with_tls(trusted);
        let http = c.client();
        http.exchange(get(), BodyMode::Keep).await.unwrap();
        let r = http.exchange(get(), BodyMode::Keep).await.unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"secure"[..]));
        assert!(r.conn.resent_idempotent, "{:?}", r.conn);
        assert_eq!(conns.load(Ordering::SeqCst), 2);
    }
}
