//! How the mock holds its HTTP connections: the accept loop, HTTP/1.1 by hyper on every accepted
//! socket (with upgrades, for the WebSocket), graceful shutdown, and the two connection knobs
//! that imitate servers clients meet in the wild:
//!
//! - `--connection-close` ([`MockConfig::connection_close`]): every response carries
//!   `Connection: close` and hyper closes the connection once it is written, like gunicorn's sync
//!   workers and many PHP and Python servers. The `101 Switching Protocols` of a WebSocket
//!   upgrade is left alone (it must say `Connection: Upgrade`).
//! - `--keepalive-timeout D` ([`MockConfig::keepalive_timeout`]): a connection that has waited D
//!   for a request is closed, like Node's 5 s `keepAliveTimeout`. This is hyper's header read
//!   timeout, which starts when a connection begins waiting for the next request head (so a slow
//!   first request head is cut after D too).
//!
//! With TLS (`--tls-cert`, `--tls-self-signed`), each accepted socket's handshake runs in that
//! connection's own task, so a slow or failing handshake never holds up the accept loop.
//!
//! Dropping the [`serve`] future drops every connection it serves; upgraded WebSockets live in
//! their own tasks.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::MockConfig;

/// How long the accept loop pauses when the process is out of file descriptors, so that
/// connections can end and free some.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` with the connection knobs of `cfg` until `signal` completes; then
/// stops accepting, lets every connection finish its in-flight request and waits for them.
pub fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cfg: &MockConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let app = if cfg.connection_close {
        app.layer(axum::middleware::map_response(connection_close))
    } else {
        app
    };
    let mut builder = http1::Builder::new();
    if !cfg.keepalive_timeout.is_zero() {
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(cfg.keepalive_timeout);
    }
    // Unconstrained by tokio's cooperative budget: a storm of new connections (one per request
    // with `--connection-close`) is accepted in one turn of this task, instead of 128 per turn
    // with the whole run queue between turns.
    tokio::task::unconstrained(async move {
        let stop = CancellationToken::new();
        let mut conns = JoinSet::new();
        let mut signal = std::pin::pin!(signal);
        loop {
            let tcp = tokio::select! {
                _ = &mut signal => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => continue,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        accept_failed(e).await;
                        continue;
                    }
                },
            };
            let service = TowerToHyperService::new(app.clone());
            let stop = stop.clone();
            let builder = builder.clone();
            let tls = tls.clone();
            conns.spawn(async move {
                let ended = match tls {
                    None => serve_one(&builder, tcp, service, stop).await,
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => serve_one(&builder, stream, service, stop).await,
                        Err(e) => {
                            tracing::debug!("TLS handshake failed: {e}");
                            return;
                        }
                    },
                };
                if let Err(e) = ended {
                    tracing::trace!("connection ended: {e}");
                }
            });
        }
        drop(listener);
        stop.cancel();
        while conns.join_next().await.is_some() {}
    })
}

/// Serves one connection (plain or TLS) until it ends, or shuts it down gracefully on `stop`.
async fn serve_one<IO>(
    builder: &http1::Builder,
    io: IO,
    service: TowerToHyperService<Router>,
    stop: CancellationToken,
) -> Result<(), hyper::Error>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

/// Adds `Connection: close` to a response (not to a `101`), which makes hyper close the
/// connection after writing it.
async fn connection_close(mut resp: Response) -> Response {
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A failed `accept`: a connection that went away before it was accepted is skipped; anything
/// else (out of file descriptors) is logged and the loop pauses briefly.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("accept failed: {e}");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
