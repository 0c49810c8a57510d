//! A long-lived response on the one transport: the request of an event stream (the SSE channel)
//! on a connection of its own, and the response body handed over as it arrives instead of read
//! to the end.
//!
//! [`open`] connects (TCP, TLS for `https` with the run's one configuration, within the
//! deadline), sends the request and waits, within the same deadline, for the response head. The
//! connection's hyper state machine runs in a task of its own while the body is read, and is
//! aborted when the [`Streaming`] response is dropped, which closes the connection: stopping a
//! stream is dropping it. The body is capped ([`STREAM_CAP`] in all): past it the stream fails as
//! [`ErrorKind::Body`] and the caller reconnects, so a server that never stops sending cannot
//! grow a client's memory.

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::header::HOST;
use http::{HeaderMap, HeaderValue};
use http_body_util::{BodyDataStream, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::task::AbortHandle;

use super::error::{ErrorKind, HttpError, with_causes};
use super::h1::Origin;
use super::stream;

/// Bytes one streamed response may carry before it is cut (then the client reconnects).
pub const STREAM_CAP: usize = 1024 * 1024;

/// A response whose body is still arriving.
pub struct Streaming {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body's bytes as they arrive; ends with the response (or fails past [`STREAM_CAP`]).
    pub body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
    _driver: Driver,
}

/// The connection's task; aborted (closing the connection) when dropped.
struct Driver(AbortHandle);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `req` (an absolute `http`/`https` URI, no body) on a new connection and returns the
/// response as soon as its head arrived; see the module docs.
pub async fn open(
    req: http::Request<()>,
    tls: Option<&super::TlsClient>,
    timeout: Duration,
) -> Result<Streaming, HttpError> {
    let origin = Origin::of(req.uri())?;
    let tls = match (origin.https, tls) {
        (false, _) => None,
        (true, Some(tls)) => Some(tls),
        (true, None) => {
            return Err(HttpError::new(
                ErrorKind::Connect,
                "an https URL but no TLS configuration",
            ));
        }
    };
    let authority = match req.uri().port_u16() {
        Some(p) => format!("{}:{p}", origin.host),
        None => origin.host.to_string(),
    };
    let exchange = async {
        let io = stream::open(&origin.host, origin.port, tls, timeout)
            .await?
            .stream;
        let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io))
            .await
            .map_err(|e| {
                HttpError::new(
                    ErrorKind::Connect,
                    format!("HTTP/1.1 handshake: {}", with_causes(&e)),
                )
            })?;
        let driver = Driver(
            tokio::spawn(async move {
                let _ = conn.await;
            })
            .abort_handle(),
        );
        let (mut parts, ()) = req.into_parts();
        parts.uri = parts
            .uri
            .path_and_query()
            .map(|pq| http::Uri::from(pq.clone()))
            .unwrap_or_else(|| http::Uri::from_static("/"));
        let host = HeaderValue::from_str(&authority).map_err(|_| {
            HttpError::new(ErrorKind::Protocol, "the host is not a valid Host header")
        })?;
        parts.headers.entry(HOST).or_insert(host);
        let sent = sender
            .send_request(http::Request::from_parts(parts, Empty::new()))
            .await;
        match sent {
            Ok(resp) => Ok((resp, driver)),
            Err(e) => {
                drop(driver);
                Err(HttpError::new(
                    ErrorKind::Protocol,
                    format!("HTTP exchange failed: {}", with_causes(&e)),
                ))
            }
        }
    };
    let (resp, driver) = match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(HttpError::new(
                ErrorKind::Timeout,
                format!("no response head within {timeout:?}"),
            ));
        }
    };
    let (parts, body) = resp.into_parts();
    let mut seen = 0usize;
    let body = BodyDataStream::new(body).map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len();
        if seen > STREAM_CAP {
            return Err(std::io::Error::other(format!(
                "the stream went past {STREAM_CAP} bytes"
            )));
        }
        Ok(chunk)
    });
    Ok(Streaming {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: Box::pin(body),
        _driver: driver,
    })
}
