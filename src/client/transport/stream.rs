//! Byte streams under HTTP: a TCP connection (no Nagle), with TLS on top for `https` (tokio-rustls,
//! the run's one shared [`TlsClient`]), established within a deadline; how long the TLS set-up
//! took (TCP connect → handshake complete) comes back with the stream (`tls_handshake`).

use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::{ErrorKind, HttpError};
use super::tls::handshake_failure;
use crate::profile::tls::TlsClient;

/// One connection's bytes: plain TCP or TLS over TCP.
pub enum Stream {
    /// `http`.
    Plain(TcpStream),
    /// `https` (boxed: the TLS state is large and plain connections should not pay for it).
    Tls(Box<TlsStream<TcpStream>>),
}

/// An established connection and, for TLS, how long it took from the TCP connect to the end of
/// the handshake.
pub struct Connected {
    /// The bytes.
    pub stream: Stream,
    /// TCP connect → TLS handshake complete (`None` for plain TCP).
    pub tls_handshake: Option<Duration>,
}

/// The host of a URI without IPv6 brackets.
pub(crate) fn bare_host(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Connects to `host:port` (and runs the TLS handshake when `tls` is given) within `timeout`. A
/// handshake the certificate checks refused is an [`ErrorKind::Tls`] error saying which `tls:` key
/// fixes it.
pub(crate) async fn open(
    host: &str,
    port: u16,
    tls: Option<&TlsClient>,
    timeout: Duration,
) -> Result<Connected, HttpError> {
    let host = bare_host(host);
    let connect = async {
        let started = Instant::now();
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
            return Ok(Connected {
                stream: Stream::Plain(tcp),
                tls_handshake: None,
            });
        };
        let name = tls.server_name(host).ok_or_else(|| {
            HttpError::new(
                ErrorKind::Tls,
                format!("{host:?} is not a valid TLS server name: set `tls.server_name`"),
            )
        })?;
        let stream = TlsConnector::from(tls.config().clone())
            .connect(name, tcp)
            .await
            .map_err(|e| match handshake_failure(&e, host) {
                Some(why) => HttpError::new(
                    ErrorKind::Tls,
                    format!("TLS handshake with {host}:{port} failed: {why}"),
                ),
                None => HttpError::new(
                    ErrorKind::Connect,
                    format!("TLS handshake with {host}:{port} failed: {e}"),
                ),
            })?;
        Ok(Connected {
            stream: Stream::Tls(Box::new(stream)),
            tls_handshake: Some(started.elapsed()),
        })
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
