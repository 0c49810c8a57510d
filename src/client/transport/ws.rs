//! The WebSocket handshake, one implementation for the simulated clients (`client::ws`) and the
//! conformance probes (`checks::wsprobe`): the upgrade request with the token where the target wants
//! it (query, `Authorization` header or subprotocol, placed by [`TokenTransport`]), size caps, the
//! run's shared TLS configuration, a timeout, and errors sorted into kinds (never carrying the URL,
//! which may hold the token). The server's answer comes back too, for evidence. [`open`] connects
//! by itself over the transport's own streams ([`super::stream`]: the profile's `tls:` settings,
//! the `tls_handshake` time) (the simulated clients); [`open_on`] upgrades a connection the caller
//! opened (the probes, whose connection records the raw close code).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Error as WsError};

use super::error::ErrorKind;
use super::stream::{self, Stream};
use crate::profile::tls::TlsClient;
use crate::profile::ws::TokenTransport;
use crate::profile::ws_ping::WsPing;

/// Read buffer of one socket (tungstenite grows it for larger messages, up to the caps).
const SOCKET_BUFFER: usize = 4 * 1024;

/// An open client socket.
pub type Socket = WebSocketStream<Stream>;

/// The server's answer to the upgrade (its body only when it refused).
pub type UpgradeResponse = http::Response<Option<Vec<u8>>>;

/// Why a handshake failed. Display never includes the URL or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The server answered the upgrade with an HTTP status instead of 101.
    #[error("the server refused the WebSocket upgrade with HTTP {0}")]
    Status(u16),
    /// No 101 within the connect timeout.
    #[error("WebSocket handshake timed out")]
    Timeout,
    /// TCP connect or I/O failure.
    #[error("WebSocket connection failed: {0}")]
    Io(String),
    /// The TLS handshake was refused on certificate grounds (the message says which `tls:` key
    /// fixes it), or `wss` without a TLS configuration.
    #[error("WebSocket TLS handshake failed: {0}")]
    Tls(String),
    /// The 101 response was not a valid upgrade (bad accept key, unexpected subprotocol...).
    #[error("invalid WebSocket handshake response")]
    Protocol,
    /// Token in the first message: the server closed the socket instead of acknowledging it
    /// (graphql-ws 4403 Forbidden, 4401...).
    #[error("the server closed the socket with {0} instead of acknowledging the first message")]
    Closed(u16),
    /// Token in the first message: the server answered with a message the profile's
    /// `ws.token.reject` describes (Centrifugo's error reply, Socket.IO's CONNECT_ERROR).
    #[error("the server refused the first message in a message")]
    Rejected,
    /// Token in the first message: no acknowledgement within the connect timeout.
    #[error("no acknowledgement of the first message in time")]
    NoAck,
    /// The token cannot be carried in a header (characters not allowed in HTTP headers).
    #[error("the access token cannot be sent in an HTTP header")]
    BadToken,
    /// The URL could not be used.
    #[error("invalid WebSocket URL")]
    Url,
}

impl ConnectError {
    /// Last part of the `ws_connect_failed.<kind>` counter: the status code or a kind.
    pub fn counter_suffix(&self) -> String {
        match self {
            ConnectError::Status(s) => s.to_string(),
            ConnectError::Timeout => "timeout".into(),
            ConnectError::Io(_) => "io".into(),
            ConnectError::Tls(_) => "tls".into(),
            ConnectError::Closed(code) => code.to_string(),
            ConnectError::NoAck => "no_ack".into(),
            ConnectError::Rejected => "rejected".into(),
            ConnectError::Protocol => "protocol".into(),
            ConnectError::BadToken => "bad_token".into(),
            ConnectError::Url => "url".into(),
        }
    }

    /// Whether the token itself was refused (401/403): refresh before trying again.
    pub fn is_auth(&self) -> bool {
        matches!(self, ConnectError::Status(401 | 403))
    }
}

/// Everything one handshake needs (borrowed from the caller's options).
#[derive(Debug, Clone, Copy)]
pub struct Upgrade<'a> {
    /// `ws://` or `wss://` URL, path included.
    pub url: &'a url::Url,
    /// How the access token travels.
    pub token: &'a TokenTransport,
    /// Extra handshake headers (e.g. `Origin`).
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// The shared TLS configuration for `wss`.
    pub tls: Option<&'a Arc<TlsClient>>,
    /// Largest incoming message.
    pub max_message_size: usize,
    /// Largest incoming frame.
    pub max_frame_size: usize,
    /// Bound on the handshake, TCP connect to 101.
    pub timeout: Duration,
    /// The protocol's own pings, answered during the first-message exchange.
    pub ping: Option<&'a WsPing>,
}

/// An open socket and the server's 101 answer.
pub struct Opened {
    /// The socket.
    pub socket: Socket,
    /// The 101 response (its headers: the chosen subprotocol...).
    pub response: UpgradeResponse,
    /// TCP connect → TLS handshake complete, for `wss`.
    pub tls_handshake: Option<Duration>,
}

/// A failed handshake; `response` is the server's answer when it refused with an HTTP status.
#[derive(Debug)]
pub struct Refused {
    /// What went wrong.
    pub error: ConnectError,
    /// The refusal as received (status, headers, body).
    pub response: Option<Box<UpgradeResponse>>,
}

impl From<ConnectError> for Refused {
    fn from(error: ConnectError) -> Self {
        Refused {
            error,
            response: None,
        }
    }
}

fn refused(e: WsError) -> Refused {
    let error = match &e {
        WsError::Http(resp) => ConnectError::Status(resp.status().as_u16()),
        WsError::Io(io) => ConnectError::Io(io.kind().to_string()),
        WsError::Tls(e) => ConnectError::Tls(e.to_string()),
        WsError::Url(_) => ConnectError::Url,
        _ => ConnectError::Protocol,
    };
    let response = match e {
        WsError::Http(resp) => Some(resp),
        _ => None,
    };
    Refused { error, response }
}

/// The handshake request: with `Some(token)`, the token where `up.token` says; with `None`, no
/// credential at all (what the "no token" checks send).
pub fn request(
    up: &Upgrade<'_>,
    token: Option<&str>,
) -> Result<tungstenite::handshake::client::Request, ConnectError> {
    let url = match token {
        Some(t) => up.token.url(up.url, t),
        None => up.url.clone(),
    };
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|_| ConnectError::Url)?;
    let headers = req.headers_mut();
    for (name, value) in up.headers {
        headers.insert(name.clone(), value.clone());
    }
    if let Some(p) = up.token.first_message().and_then(|f| f.protocol()) {
        let v = HeaderValue::from_str(p).map_err(|_| ConnectError::Url)?;
        headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    let carried = token.and_then(|t| up.token.header(t));
    if let Some((name, value)) = carried {
        let mut v = HeaderValue::from_str(&value).map_err(|_| ConnectError::BadToken)?;
        v.set_sensitive(true);
        headers.insert(name, v);
    }
    Ok(req)
}

/// Connects (TCP, TLS for `wss` with the run's [`TlsClient`]) and runs the handshake of `req`
/// (made by [`request`]), the whole bounded by `up.timeout`.
pub async fn open(
    up: Upgrade<'_>,
    req: tungstenite::handshake::client::Request,
) -> Result<Opened, Refused> {
    let tls = match (up.tls, up.url.scheme()) {
        (Some(tls), "wss") => Some(&**tls),
        (None, "wss") => {
            return Err(ConnectError::Tls("no TLS configuration for a wss:// URL".into()).into());
        }
        _ => None,
    };
    let (Some(host), Some(port)) = (up.url.host_str(), up.url.port_or_known_default()) else {
        return Err(ConnectError::Url.into());
    };
    let attempt = async {
        let connected = stream::open(host, port, tls, up.timeout)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::Tls => ConnectError::Tls(e.message),
                ErrorKind::Timeout => ConnectError::Timeout,
                _ => ConnectError::Io(e.message),
            })?;
        let (socket, response) =
            tokio_tungstenite::client_async_with_config(req, connected.stream, Some(config(&up)))
                .await
                .map_err(refused)?;
        Ok(Opened {
            socket,
            response,
            tls_handshake: connected.tls_handshake,
        })
    };
    match tokio::time::timeout(up.timeout, attempt).await {
        Ok(done) => done,
        Err(_) => Err(ConnectError::Timeout.into()),
    }
}

/// The socket's limits and buffers. Small per-socket buffers: tungstenite's 128 KiB read buffer
/// is allocated eagerly and would cost ~2 GB for 15 000 sockets. A client only ever writes Close
/// frames, so it writes through.
fn config(up: &Upgrade<'_>) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(up.max_frame_size + SOCKET_BUFFER)
        .max_message_size(Some(up.max_message_size))
        .max_frame_size(Some(up.max_frame_size))
}

/// Runs the handshake of `req` (made by [`request`]) over `stream`, a connection the caller
/// opened (TLS already done for `wss`), bounded by `up.timeout`: the conformance probes' form,
/// whose stream records the raw close code ([`super::closetap::CloseTap`]).
pub async fn open_on<S>(
    up: Upgrade<'_>,
    req: tungstenite::handshake::client::Request,
    stream: S,
) -> Result<(WebSocketStream<S>, UpgradeResponse), Refused>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let fut = tokio_tungstenite::client_async_with_config(req, stream, Some(config(&up)));
    match tokio::time::timeout(up.timeout, fut).await {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(e)) => Err(refused(e)),
        Err(_) => Err(ConnectError::Timeout.into()),
    }
}

/// Opens one socket with `token`: [`request`] then [`open`], then, when the token travels in the
/// first message, that exchange ([`super::first_message`]) — the simulated clients' form.
pub async fn connect(up: Upgrade<'_>, token: &str) -> Result<Opened, ConnectError> {
    let req = request(&up, Some(token))?;
    let started = std::time::Instant::now();
    let mut opened = open(up, req).await.map_err(|r| r.error)?;
    if let Some(first) = up.token.first_message() {
        let left = up.timeout.saturating_sub(started.elapsed());
        super::first_message::authenticate(&mut opened.socket, first, up.ping, Some(token), left)
            .await?;
    }
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};

    use super::*;

    fn request_for(
        token: TokenTransport,
        t: Option<&str>,
    ) -> tungstenite::handshake::client::Request {
        try_request(token, t).unwrap()
    }

    fn try_request(
        token: TokenTransport,
        t: Option<&str>,
    ) -> Result<tungstenite::handshake::client::Request, ConnectError> {
        let url: url::Url = "ws://127.0.0.1:9/ws?x=1".parse().unwrap();
        let origin = [(
            http::header::ORIGIN,
            HeaderValue::from_static("http://app.example"),
        )];
        let up = Upgrade {
            url: &url,
            token: &token,
            headers: &origin,
            tls: None,
            max_message_size: 1024,
            max_frame_size: 1024,
            timeout: Duration::from_secs(1),
            ping: None,
        };
        request(&up, t)
    }

    #[test]
    fn token_goes_where_the_profile_says() {
        let query = TokenTransport::Query {
            param: "access_token".into(),
        };
        let q = request_for(query.clone(), Some("a.b.c"));
        assert_eq!(q.uri().query(), Some("x=1&access_token=a.b.c"));
        assert!(q.headers().get(AUTHORIZATION).is_none());
        assert_eq!(q.headers()[http::header::ORIGIN], "http://app.example");

        let h = request_for(TokenTransport::Header, Some("a.b.c"));
        assert_eq!(h.headers()[AUTHORIZATION], "Bearer a.b.c");
        assert_eq!(h.uri().query(), Some("x=1"));

        let sub = TokenTransport::Subprotocol {
            prefix: "bearer.".into(),
        };
        let s = request_for(sub.clone(), Some("a.b.c"));
        assert_eq!(s.headers()[SEC_WEBSOCKET_PROTOCOL], "bearer, bearer.a.b.c");

        // No token: no credential anywhere, whatever the transport.
        for t in [query, TokenTransport::Header, sub] {
            let n = request_for(t, None);
            assert_eq!(n.uri().query(), Some("x=1"));
            assert!(n.headers().get(AUTHORIZATION).is_none());
            assert!(n.headers().get(SEC_WEBSOCKET_PROTOCOL).is_none());
        }
    }

    #[test]
    fn a_token_with_a_newline_is_refused_not_sent() {
        assert_eq!(
            try_request(TokenTransport::Header, Some("a\nb")).unwrap_err(),
            ConnectError::BadToken
        );
    }

    #[tokio::test]
    async fn wss_without_a_tls_configuration_is_a_tls_error() {
        let url: url::Url = "wss://127.0.0.1:9/ws".parse().unwrap();
        let up = Upgrade {
            url: &url,
            token: &TokenTransport::Header,
            headers: &[],
            tls: None,
            max_message_size: 1024,
            max_frame_size: 1024,
            timeout: Duration::from_secs(1),
            ping: None,
        };
        let e = connect(up, "t").await.err().unwrap();
        assert!(matches!(e, ConnectError::Tls(_)), "{e}");
    }
}
