//! How an exchange fails: the `errors.<kind>` kinds of DESIGN §3 and a message that never carries a
//! token (request URIs and header values are not part of any message).

/// The `errors.<kind>` classes of DESIGN §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// TCP/TLS connection could not be established.
    Connect,
    /// The exchange did not finish within the client timeout.
    Timeout,
    /// The TLS handshake was refused on certificate grounds (unknown CA, wrong name, a client
    /// certificate required): a `tls:` setting, not the network.
    Tls,
    /// The connection broke, the server spoke something that is not HTTP, or the request could
    /// not be made.
    Protocol,
    /// The response body could not be read or was over its limit.
    Body,
}

impl ErrorKind {
    /// The counter name, e.g. `errors.timeout`.
    pub fn counter(self) -> &'static str {
        match self {
            ErrorKind::Connect => crate::metrics::names::ERR_CONNECT,
            ErrorKind::Timeout => crate::metrics::names::ERR_TIMEOUT,
            ErrorKind::Tls => crate::metrics::names::ERR_TLS,
            ErrorKind::Protocol => crate::metrics::names::ERR_PROTOCOL,
            ErrorKind::Body => crate::metrics::names::ERR_BODY,
        }
    }

    /// A short phrase for people (`connection failed`, `timed out`...).
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connection failed",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Tls => "TLS handshake refused",
            ErrorKind::Protocol => "request failed",
            ErrorKind::Body => "reading the body failed",
        }
    }
}

/// A failed exchange: its kind and a message without secrets.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.describe())]
pub struct HttpError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
    /// What happened to connections before it failed (a request handed back unsent by a closed
    /// kept-alive connection may have gone out again on a fresh one, and failed there).
    pub conn: super::h1::ConnEvents,
    /// The status of an answer that arrived but could not be taken whole: its body was over the
    /// limit of its mode ([`super::BodyMode`]). The server answered, so such a failure is the
    /// answer's (`body`), not the transport's.
    pub oversized: Option<u16>,
}

impl HttpError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            conn: Default::default(),
            oversized: None,
        }
    }

    /// The same error, for an answer with `status` whose body was over its limit.
    pub(crate) fn oversized(self, status: u16) -> Self {
        Self {
            oversized: Some(status),
            ..self
        }
    }

    /// The same error with these connection events.
    pub(crate) fn with_conn(self, conn: super::h1::ConnEvents) -> Self {
        Self { conn, ..self }
    }
}

impl From<crate::profile::request::RequestError> for HttpError {
    /// A request that could not be rendered never left: a protocol error of the client side.
    fn from(e: crate::profile::request::RequestError) -> Self {
        HttpError::new(ErrorKind::Protocol, e.to_string())
    }
}

/// Setting up the transport failed (TLS configuration).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(pub(crate) String);

/// The errors under `e`, nearest first (its `source()`, that one's `source()`, ...).
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |c| c.source())
}

/// `e` and its causes, `: `-separated: hyper's own message alone is often just "connection
/// error"; the I/O error under it ("Connection reset by peer") is what a user needs.
pub(crate) fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    for c in causes(e) {
        text.push_str(": ");
        text.push_str(&c.to_string());
    }
    text
}
