//! Starting and stopping the server: key generation, the listening socket (backlog 4096), the
//! axum service (served by [`crate::conn`]), the janitor that prunes ended sessions, graceful
//! shutdown, and the serving loop that goes away and comes back on the same address for an outage
//! ([`crate::outage`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::MockError;
use crate::auth::Auth;
use crate::config::MockConfig;
use crate::faults::Faults;
use crate::outage::Outage;
use crate::routes::{self, AppState};
use crate::stats::Stats;
use crate::tokens::{AccessTokens, Keys, now_ms, random_bytes};

/// Listen backlog (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: u32 = 4096;
/// How often ended sessions are dropped from memory.
const PRUNE_EVERY: Duration = Duration::from_secs(5);
/// How long shutdown waits for sockets to finish their close handshake.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long an outage waits for in-flight requests before it drops their connections.
const OUTAGE_GRACE: Duration = Duration::from_millis(500);
/// How long the server tries to listen again after an outage (the port may linger briefly).
const REBIND_FOR: Duration = Duration::from_secs(5);
/// The `aud` claim of every access token.
pub const AUDIENCE: &str = "authbench";

/// A running mock server. Dropping it stops it (without waiting); [`MockServer::shutdown`]
/// stops it gracefully.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    /// The CA of a generated TLS certificate (PEM).
    tls_ca: Option<String>,
    serve: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Starts the server: validates `cfg`, generates the signing key, binds, and returns at once
/// with the server running in the background.
pub async fn start(cfg: MockConfig) -> Result<MockServer, MockError> {
    cfg.validate()?;
    let signing = cfg.signing;
    let keys = tokio::task::spawn_blocking(move || Keys::generate(signing))
        .await
        .map_err(|e| MockError::Key {
            alg: signing.alg(),
            reason: e.to_string(),
        })??;
    let wanted = SocketAddr::new(cfg.bind, cfg.port);
    let bind_err = |source| MockError::Bind {
        addr: wanted,
        source,
    };
    let listener = bind(wanted).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let tls = match &cfg.tls {
        Some(t) => Some(t.server(cfg.bind)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{}", SocketAddr::new(host, addr.port()));
    let admin_key = cfg.admin_key.clone().unwrap_or_else(|| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<24>())
    });
    let access = AccessTokens::new(keys, base_url.clone(), AUDIENCE.to_string());
    let faults = Faults::new(&cfg.faults);
    let shutdown = CancellationToken::new();
    let push = cfg.push_url.clone().map(crate::push::Pusher::new);
    let cookies = (cfg.session_mode == crate::config::SessionMode::Cookie)
        .then(|| crate::cookie_sessions::CookieSessions::new(cfg.access_ttl, cfg.max_session));
    let state = Arc::new(AppState {
        auth: Auth::new(cfg, access),
        faults,
        admin_key,
        base_url,
        outage: Outage::new(&shutdown),
        shutdown,
        tracker: TaskTracker::new(),
        verdicts: Default::default(),
        arrivals: Default::default(),
        push,
        authorize: Default::default(),
        cookies,
    });

    tracing::info!(url = %state.base_url, "authbench-mock listening");
    let app = routes::router(state.clone());
    let tls_ca = tls.as_ref().and_then(|t| t.ca_pem.clone());
    let acceptor = tls.map(|t| t.acceptor);
    let serve = tokio::spawn(serve_loop(listener, addr, app, acceptor, state.clone()));
    let janitor_state = state.clone();
    state.tracker.spawn(async move {
        let stop = janitor_state.shutdown.clone();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(PRUNE_EVERY) => {
                    janitor_state.auth.store.prune(now_ms());
                    if let Some(c) = &janitor_state.cookies {
                        c.prune();
                    }
                }
            }
        }
    });
    Ok(MockServer {
        addr,
        state,
        tls_ca,
        serve: Some(serve),
    })
}

/// Serves `listener` until shutdown; after an outage ends a listening period, waits its duration
/// and listens on `addr` again.
async fn serve_loop(
    mut listener: tokio::net::TcpListener,
    addr: SocketAddr,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
) {
    loop {
        let up = state.outage.up();
        let stop = up.clone();
        // Served here (not spawned), so that dropping this loop — or the future — drops every
        // connection.
        let mut server = Box::pin(crate::conn::serve(
            listener,
            app.clone(),
            tls.clone(),
            &state.auth.cfg,
            stop.cancelled_owned(),
        ));
        tokio::select! {
            _ = &mut server => return,
            _ = up.cancelled() => {}
        }
        let Some(down_for) = state.outage.down_for() else {
            // Shutdown: the graceful end is awaited (and bounded) by `MockServer::shutdown`.
            server.await;
            return;
        };
        tracing::warn!(?down_for, "outage: not listening");
        // In-flight requests (the admin call among them) get a moment to finish; then every
        // connection is dropped.
        let _ = tokio::time::timeout(OUTAGE_GRACE, &mut server).await;
        drop(server);
        tokio::select! {
            _ = tokio::time::sleep(down_for) => {}
            _ = state.shutdown.cancelled() => return,
        }
        listener = match rebind(addr, &state.shutdown).await {
            Some(l) => l,
            None => return,
        };
        state.outage.back_up();
        tracing::warn!("outage over: listening again");
    }
}

/// Binds `addr` again, retrying briefly while the port is still held; `None` on shutdown or when it
/// stays unavailable.
async fn rebind(addr: SocketAddr, shutdown: &CancellationToken) -> Option<tokio::net::TcpListener> {
    let until = tokio::time::Instant::now() + REBIND_FOR;
    loop {
        match bind(addr) {
            Ok(l) => return Some(l),
            Err(e) if tokio::time::Instant::now() >= until => {
                tracing::error!("outage: cannot listen on {addr} again: {e}");
                return None;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = shutdown.cancelled() => return None,
        }
    }
}

impl MockServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS; the issuer of every token).
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The CA that issued the generated TLS certificate (`--tls-self-signed`), PEM.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.tls_ca.as_deref()
    }

    /// The admin bearer key (given or generated).
    pub fn admin_key(&self) -> &str {
        &self.state.admin_key
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &MockConfig {
        &self.state.auth.cfg
    }

    /// The counters (same as `GET /admin/stats`).
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The arrival recorder of `POST /admin/sync-point`, to arm and read in-process.
    pub fn arrivals(&self) -> Arc<crate::arrivals::Arrivals> {
        self.state.arrivals.clone()
    }

    /// Stops accepting connections, closes every WebSocket with 1001 and waits (a few seconds at
    /// most) for in-flight requests and close handshakes to finish.
    pub async fn shutdown(mut self) {
        self.state.shutdown.cancel();
        self.state.tracker.close();
        let Some(mut serve) = self.serve.take() else {
            return;
        };
        let tracker = self.state.tracker.clone();
        let wait = async {
            let _ = (&mut serve).await;
            tracker.wait().await;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, wait).await.is_err() {
            serve.abort();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

/// Runs a server the way the `authbench-mock` binary and `authbench mock` do: starts it, prints
/// `authbench-mock listening on http://HOST:PORT` and `admin key: KEY` on stdout (scripts read
/// these lines), serves until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(cfg: MockConfig) -> Result<(), MockError> {
    for warning in cfg.ineffective() {
        crate::stderrln!("warning: {warning}");
    }
    let server = start(cfg).await?;
    let stop = shutdown_signal();
    crate::stdoutln!("authbench-mock listening on {}", server.base_url());
    crate::stdoutln!("admin key: {}", server.admin_key());
    stop.await;
    crate::stderrln!("authbench-mock: shutting down");
    server.shutdown().await;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed by this call, not at the
/// future's first poll: a signal sent as soon as the address lines are out (a script that starts
/// the mock, reads its address and stops it) is caught, instead of killing the process with the
/// signal's default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            return futures::future::Either::Left(async move {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
        }
    }
    futures::future::Either::Right(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
