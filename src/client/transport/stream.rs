//! Byte streams under HTTP: a TCP connection (no Nagle), with TLS on top for `https` (tokio-rustls,
//! the run's one shared [`rustls::ClientConfig`]), established within a deadline.

use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::{BuildError, ErrorKind, HttpError};

/// One connection's bytes: plain TCP or TLS over TCP.
pub(crate) enum Stream {
    /// `http`.
    Plain(TcpStream),
    /// `https` (boxed: the TLS state is large and plain connections should not pay for it).
    Tls(Box<TlsStream<TcpStream>>),
}

/// The TLS client configuration every connection of a run shares (HTTP and WebSocket handshakes,
/// both HTTP/1.1): platform roots, the ALPN offer `http/1.1`, and no session resumption (every
/// simulated client pays its own handshake, like independent devices).
pub fn tls_client_config() -> Result<rustls::ClientConfig, BuildError> {
    use rustls_platform_verifier::ConfigVerifierExt;
    let mut cfg =
        rustls::ClientConfig::with_platform_verifier().map_err(|e| BuildError(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(cfg)
}

/// The host of a URI without IPv6 brackets.
pub(crate) fn bare_host(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Connects to `host:port` (and runs the TLS handshake when `tls` is given) within `timeout`.
pub(crate) async fn open(
    host: &str,
    port: u16,
    tls: Option<&Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<Stream, HttpError> {
    let host = bare_host(host);
    let connect = async {
        let tcp = match host.parse::<IpAddr>() {
            Ok(ip) => TcpStream::connect(SocketAddr::from((ip, port))).await,
            Err(_) => TcpStream::connect((host, port)).await,
        }
        .map_err(|e| {
            HttpError::new(
                ErrorKind::Connect,
                format!("cannot connect to {host}:{port}: {e}"),
            )
        })?;
        tcp.set_nodelay(true)
            .map_err(|e| HttpError::new(ErrorKind::Connect, format!("{host}:{port}: {e}")))?;
        let Some(tls) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            HttpError::new(
                ErrorKind::Connect,
                format!("{host:?} is not a valid TLS server name"),
            )
        })?;
        let stream = TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| {
                HttpError::new(
                    ErrorKind::Connect,
                    format!("TLS handshake with {host}:{port} failed: {e}"),
                )
            })?;
        Ok(Stream::Tls(Box::new(stream)))
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(done) => done,
        Err(_) => Err(HttpError::new(
            ErrorKind::Connect,
            format!("no connection to {host}:{port} within {timeout:?}"),
        )),
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
