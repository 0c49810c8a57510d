//! One WebSocket handshake: the upgrade request with the token where the target wants it, size caps,
//! the shared TLS configuration, a timeout, and errors sorted into kinds (never carrying the URL,
//! which may hold the token).

use http::HeaderValue;
use http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Error as WsError};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::options::{WsOptions, subprotocol_offer};
use crate::profile::ws::TokenTransport;

/// Read buffer of one socket (tungstenite grows it for larger messages, up to the caps).
const SOCKET_BUFFER: usize = 4 * 1024;

/// An open client socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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
    Io(std::io::ErrorKind),
    /// TLS failure.
    #[error("WebSocket TLS handshake failed")]
    Tls,
    /// The 101 response was not a valid upgrade (bad accept key, unexpected subprotocol...).
    #[error("invalid WebSocket handshake response")]
    Protocol,
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
            ConnectError::Tls => "tls".into(),
            ConnectError::Protocol => "protocol".into(),
            ConnectError::BadToken => "bad_token".into(),
            ConnectError::Url => "url".into(),
        }
    }

    /// Whether the token itself was refused (401/403): refresh before trying again.
    pub fn is_auth(&self) -> bool {
        matches!(self, ConnectError::Status(401 | 403))
    }

    fn from_tungstenite(e: WsError) -> ConnectError {
        match e {
            WsError::Http(resp) => ConnectError::Status(resp.status().as_u16()),
            WsError::Io(io) => ConnectError::Io(io.kind()),
            WsError::Tls(_) => ConnectError::Tls,
            WsError::Url(_) => ConnectError::Url,
            _ => ConnectError::Protocol,
        }
    }
}

/// The handshake request for `token`.
pub fn request(
    opts: &WsOptions,
    token: &str,
) -> Result<tungstenite::handshake::client::Request, ConnectError> {
    let mut url = opts.url.clone();
    if let TokenTransport::Query { param } = &opts.token {
        url.query_pairs_mut().append_pair(param, token);
    }
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|_| ConnectError::Url)?;
    let headers = req.headers_mut();
    for (name, value) in &opts.headers {
        headers.insert(name.clone(), value.clone());
    }
    match &opts.token {
        TokenTransport::Query { .. } => {}
        TokenTransport::Header => {
            let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| ConnectError::BadToken)?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        TokenTransport::Subprotocol { prefix } => {
            let offer = subprotocol_offer(prefix, token);
            let mut v = HeaderValue::from_str(&offer).map_err(|_| ConnectError::BadToken)?;
            v.set_sensitive(true);
            headers.insert(SEC_WEBSOCKET_PROTOCOL, v);
        }
    }
    Ok(req)
}

/// Opens one socket with `token`, bounded by `opts.connect_timeout`.
pub async fn connect(opts: &WsOptions, token: &str) -> Result<Socket, ConnectError> {
    let req = request(opts, token)?;
    // Small per-socket buffers: tungstenite's 128 KiB read buffer is allocated eagerly and would
    // cost ~2 GB for 15 000 sockets. A client only ever writes Close frames, so it writes through.
    let config = WebSocketConfig::default()
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(opts.max_frame_size + SOCKET_BUFFER)
        .max_message_size(Some(opts.max_message_size))
        .max_frame_size(Some(opts.max_frame_size));
    let connector = match (&opts.tls, opts.url.scheme()) {
        (Some(tls), "wss") => Some(Connector::Rustls(tls.clone())),
        _ => Some(Connector::Plain),
    };
    let fut = tokio_tungstenite::connect_async_tls_with_config(req, Some(config), true, connector);
    match tokio::time::timeout(opts.connect_timeout, fut).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(e)) => Err(ConnectError::from_tungstenite(e)),
        Err(_) => Err(ConnectError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(token: TokenTransport) -> WsOptions {
        let mut o = WsOptions::new("ws://127.0.0.1:9/ws?x=1".parse().unwrap());
        o.token = token;
        o
    }

    #[test]
    fn token_goes_where_the_profile_says() {
        let q = request(
            &opts(TokenTransport::Query {
                param: "access_token".into(),
            }),
            "a.b.c",
        )
        .unwrap();
        assert_eq!(q.uri().query(), Some("x=1&access_token=a.b.c"));
        assert!(q.headers().get(AUTHORIZATION).is_none());

        let h = request(&opts(TokenTransport::Header), "a.b.c").unwrap();
        assert_eq!(h.headers()[AUTHORIZATION], "Bearer a.b.c");
        assert_eq!(h.uri().query(), Some("x=1"));

        let s = request(
            &opts(TokenTransport::Subprotocol {
                prefix: "bearer.".into(),
            }),
            "a.b.c",
        )
        .unwrap();
        assert_eq!(s.headers()[SEC_WEBSOCKET_PROTOCOL], "bearer, bearer.a.b.c");
    }

    #[test]
    fn a_token_with_a_newline_is_refused_not_sent() {
        assert_eq!(
            request(&opts(TokenTransport::Header), "a\nb").unwrap_err(),
            ConnectError::BadToken
        );
    }
}
