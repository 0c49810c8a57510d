//! HTTP plumbing of the simulated clients: connection modes, one bounded exchange, error kinds.
//!
//! Two connection modes (scenario `client.connections`):
//! - [`Connections::PerClient`]: every simulated client has its own `reqwest::Client` and so its own
//!   keep-alive connections, like a browser or a phone. The clients are built from one shared rustls
//!   configuration, so creating one costs microseconds instead of loading the platform verifier each
//!   time (crate-stack.md); plain `http://` targets need no TLS at all.
//! - [`Connections::Pool`]`(n)`: one shared `reqwest::Client` keeping at most `n` idle connections and a
//!   semaphore of `n` permits gating the requests in flight, so 100 000 idle clients hold no socket.
//!
//! [`Http::exchange`] sends one request with a deadline covering the whole exchange and reads the body
//! up to a cap; failures are sorted into the `errors.<kind>` kinds of DESIGN §3.
//!
//! Plain `http://` requests take the lean HTTP/1.1 path of [`super::h1`] (the same modes: idle
//! connections per client, or one shared set of at most `n`); the `reqwest::Client` then only builds
//! requests and one is shared by every client. `https://` requests go through reqwest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use tokio::sync::Semaphore;

use super::h1;

/// Bodies kept from a response (token responses, error JSON). Larger token responses are an error.
pub const BODY_CAP: usize = 64 * 1024;
/// Bytes drained (and discarded) past the cap of a resource response before giving up on it.
pub(crate) const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// How the simulated clients hold their HTTP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// One `reqwest::Client` (keep-alive connections, cookie-free) per simulated client.
    PerClient,
    /// One shared client with at most this many connections / requests in flight.
    Pool(u32),
}

/// The `errors.<kind>` classes of DESIGN §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// TCP/TLS connection could not be established.
    Connect,
    /// The exchange did not finish within `client.timeout`.
    Timeout,
    /// The connection broke or the server spoke something that is not HTTP.
    Protocol,
    /// The response body could not be read, was over the cap, or did not parse.
    Body,
}

impl ErrorKind {
    /// The counter name, e.g. `errors.timeout`.
    pub fn counter(self) -> &'static str {
        match self {
            ErrorKind::Connect => crate::metrics::names::ERR_CONNECT,
            ErrorKind::Timeout => crate::metrics::names::ERR_TIMEOUT,
            ErrorKind::Protocol => crate::metrics::names::ERR_PROTOCOL,
            ErrorKind::Body => crate::metrics::names::ERR_BODY,
        }
    }

    fn of(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            ErrorKind::Timeout
        } else if e.is_connect() {
            ErrorKind::Connect
        } else if e.is_body() || e.is_decode() {
            ErrorKind::Body
        } else {
            ErrorKind::Protocol
        }
    }
}

/// A failed exchange: its kind and a message without secrets (reqwest errors carry the URL, which
/// has no token since tokens never travel in request URLs of the HTTP API).
#[derive(Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct HttpError {
    pub kind: ErrorKind,
    pub message: String,
}

impl HttpError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// Building the HTTP clients failed (TLS configuration, resolver...).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(String);

/// What to do with a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// Keep it; a body over [`BODY_CAP`] is an [`ErrorKind::Body`] error (token responses).
    Keep,
    /// Keep at most [`BODY_CAP`] bytes and drain the rest (resource responses).
    Truncate,
}

/// A response read within the limits.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the request was handed to the connection (after waiting for a pool permit).
    pub sent_at: Instant,
}

/// Creates the per-session [`Http`] handles for one run.
#[derive(Clone)]
pub struct Connector {
    mode: Connections,
    timeout: Duration,
    /// Pool mode: the shared client and its permits.
    shared: Option<Http>,
    /// The one TLS configuration every client is built from.
    tls: Arc<rustls::ClientConfig>,
    /// Idle connections kept per host by a per-client `reqwest::Client`.
    per_client_idle: usize,
    /// Plain-http targets: the one `reqwest::Client` every client builds its requests with.
    factory: Option<reqwest::Client>,
}

impl Connector {
    /// `https` says whether the target needs TLS; `concurrency` bounds the idle connections a
    /// per-client `reqwest::Client` keeps.
    pub fn new(
        mode: Connections,
        timeout: Duration,
        https: bool,
        concurrency: u32,
    ) -> Result<Self, BuildError> {
        let tls = Arc::new(if https {
            tls_client_config(true)?
        } else {
            plain_tls_config()
        });
        let mut c = Connector {
            mode,
            timeout,
            shared: None,
            tls,
            per_client_idle: concurrency.max(1) as usize,
            factory: None,
        };
        if !https {
            c.factory = Some(c.build(c.per_client_idle)?);
        }
        if let Connections::Pool(n) = mode {
            let n = n.max(1) as usize;
            let client = match &c.factory {
                Some(f) => f.clone(),
                None => c.build(n)?,
            };
            c.shared = Some(Http {
                client,
                gate: Some(Arc::new(Semaphore::new(n))),
                timeout,
                lean: c.factory.is_some().then(|| Arc::new(h1::IdleConns::new(n))),
            });
        }
        Ok(c)
    }

    fn build(&self, idle: usize) -> Result<reqwest::Client, BuildError> {
        self.builder(idle)
            .build()
            .map_err(|e| BuildError(e.to_string()))
    }

    /// The connection mode.
    pub fn mode(&self) -> Connections {
        self.mode
    }

    /// An [`Http`] handle for one simulated client: a clone of the shared one in pool mode; in
    /// per-client mode its own idle connections (plain http) or its own `reqwest::Client` (built in
    /// microseconds; https).
    pub fn client(&self) -> Result<Http, BuildError> {
        if let Some(shared) = &self.shared {
            return Ok(shared.clone());
        }
        let (client, lean) = match &self.factory {
            Some(f) => (
                f.clone(),
                Some(Arc::new(h1::IdleConns::new(self.per_client_idle))),
            ),
            None => (self.build(self.per_client_idle)?, None),
        };
        Ok(Http {
            client,
            gate: None,
            timeout: self.timeout,
            lean,
        })
    }

    fn builder(&self, idle: usize) -> reqwest::ClientBuilder {
        let b = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .connect_timeout(self.timeout)
            .pool_max_idle_per_host(idle);
        // Without a preconfigured backend, every build() would load the platform verifier (~4 ms).
        b.tls_backend_preconfigured((*self.tls).clone())
    }
}

/// A TLS client configuration to share by every client of a run: platform roots, no session
/// resumption (every simulated client pays its own handshake, like independent devices), and with
/// `http_alpn` the ALPN offer `h2, http/1.1` (HTTP clients; WebSockets offer none).
pub fn tls_client_config(http_alpn: bool) -> Result<rustls::ClientConfig, BuildError> {
    use rustls_platform_verifier::ConfigVerifierExt;
    let mut cfg =
        rustls::ClientConfig::with_platform_verifier().map_err(|e| BuildError(e.to_string()))?;
    if http_alpn {
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    }
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(cfg)
}

/// A configuration for `http://` targets: never used for a handshake, only there so that building a
/// client does not load the platform verifier.
fn plain_tls_config() -> rustls::ClientConfig {
    rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// One simulated client's way to the server (cheap to clone: a few `Arc`s).
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    gate: Option<Arc<Semaphore>>,
    timeout: Duration,
    /// Plain-http targets: the idle connections of the lean path.
    lean: Option<Arc<h1::IdleConns>>,
}

impl Http {
    /// The `reqwest::Client` request builders are made from.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The per-exchange deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `req` (waiting for a pool permit first in pool mode) and reads the response within
    /// the client timeout, the permit held until the body is read.
    pub async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        mode: BodyMode,
    ) -> Result<Reply, HttpError> {
        self.exchange_with(move |_| req, mode).await
    }

    /// Like [`Http::exchange`], but the request is built by `build` only once a pool permit is
    /// held, so a client waiting for a connection holds a few bytes of state, not a request.
    pub async fn exchange_with(
        &self,
        build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
        mode: BodyMode,
    ) -> Result<Reply, HttpError> {
        let _permit = match &self.gate {
            Some(gate) => Some(
                gate.acquire()
                    .await
                    .map_err(|_| HttpError::new(ErrorKind::Protocol, "connection pool closed"))?,
            ),
            None => None,
        };
        let sent_at = Instant::now();
        let req = build(&self.client);
        let done = match &self.lean {
            Some(idle) => {
                let req = req.build().map_err(|e| {
                    HttpError::new(ErrorKind::Protocol, e.without_url().to_string())
                })?;
                if h1::supports(&req) {
                    // Boxed like the reqwest path below, for the same reason.
                    let lean = lean_exchange(idle, req, mode, sent_at, self.timeout);
                    Box::pin(tokio::time::timeout(self.timeout, lean)).await
                } else {
                    let req = reqwest::RequestBuilder::from_parts(self.client.clone(), req);
                    self.send_boxed(req, mode, sent_at).await
                }
            }
            None => self.send_boxed(req, mode, sent_at).await,
        };
        done.unwrap_or_else(|_| {
            Err(HttpError::new(
                ErrorKind::Timeout,
                format!("no complete response within {:?}", self.timeout),
            ))
        })
    }

    /// The reqwest path under the client timeout.
    async fn send_boxed(
        &self,
        req: reqwest::RequestBuilder,
        mode: BodyMode,
        sent_at: Instant,
    ) -> Result<Result<Reply, HttpError>, tokio::time::error::Elapsed> {
        // Boxed: the in-flight state (~1 KiB) exists only while a request is on the wire, not in
        // every waiting or thinking client's future.
        Box::pin(tokio::time::timeout(
            self.timeout,
            send_and_read(req, mode, sent_at),
        ))
        .await
    }

    /// Idle connections of the lean path held by this handle (0 on the reqwest path).
    pub fn idle_connections(&self) -> usize {
        self.lean.as_ref().map_or(0, |i| i.len())
    }
}

/// The lean HTTP/1.1 path (plain http).
async fn lean_exchange(
    idle: &h1::IdleConns,
    req: reqwest::Request,
    mode: BodyMode,
    sent_at: Instant,
    connect_timeout: Duration,
) -> Result<Reply, HttpError> {
    let resp = h1::exchange(idle, req, mode, connect_timeout).await?;
    Ok(Reply {
        status: resp.status,
        headers: resp.headers,
        body: resp.body,
        sent_at,
    })
}

async fn send_and_read(
    req: reqwest::RequestBuilder,
    mode: BodyMode,
    sent_at: Instant,
) -> Result<Reply, HttpError> {
    let mut resp = req.send().await.map_err(|e| {
        let kind = ErrorKind::of(&e);
        HttpError::new(kind, e.without_url().to_string())
    })?;
    let status = resp.status().as_u16();
    let headers = std::mem::take(resp.headers_mut());
    let body = read_capped(&mut resp, mode).await?;
    Ok(Reply {
        status,
        headers,
        body,
        sent_at,
    })
}

async fn read_capped(resp: &mut reqwest::Response, mode: BodyMode) -> Result<Bytes, HttpError> {
    let mut body = BytesMut::new();
    let mut seen = 0usize;
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| HttpError::new(ErrorKind::Body, e.without_url().to_string()))?;
        let Some(chunk) = chunk else { break };
        seen += chunk.len();
        let room = BODY_CAP.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let limit = match mode {
            BodyMode::Keep => BODY_CAP,
            BodyMode::Truncate => DRAIN_LIMIT,
        };
        if seen > limit {
            return Err(HttpError::new(
                ErrorKind::Body,
                format!("response body larger than {limit} bytes"),
            ));
        }
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn per_client_build_is_cheap_and_pool_shares() {
        let c = Connector::new(Connections::PerClient, Duration::from_secs(1), true, 4).unwrap();
        let t = Instant::now();
        for _ in 0..200 {
            c.client().unwrap();
        }
        // ~6 µs each with a shared config, ~4 ms each without: 200 builds well under 200 × 4 ms.
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );

        let p = Connector::new(Connections::Pool(3), Duration::from_secs(1), false, 4).unwrap();
        let a = p.client().unwrap();
        let b = p.client().unwrap();
        assert!(Arc::ptr_eq(
            a.gate.as_ref().unwrap(),
            b.gate.as_ref().unwrap()
        ));
        assert_eq!(a.gate.as_ref().unwrap().available_permits(), 3);
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let c = Connector::new(Connections::PerClient, Duration::from_secs(2), false, 1).unwrap();
        let http = c.client().unwrap();
        let err = http
            .exchange(http.client().get(format!("http://{addr}/")), BodyMode::Keep)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Connect);
    }
}
