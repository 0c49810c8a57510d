//! The WebSocket part of a target profile ([`WsProfile`]): where the socket is, how the access
//! token travels in the handshake ([`TokenTransport`]), how to recognise the server's
//! kicked / logout / session_expired events ([`WsEvents`]), and the close-code profile
//! ([`CloseProfile`]).
//!
//! ```yaml
//! ws:
//!   path: /ws                      # or url: wss://push.example.com/socket
//!   token: { query: access_token } # or: header   or: { subprotocol: "bearer." }
//!                                  # or: { first_message: ..., ack: ... } (see first_message)
//!   events: { type: /type, kicked: kicked, logout: logout, session_expired: session_expired }
//!   close_codes: authbench         # a preset, or { preset, codes, default }
//!   ping: { match: { prefix: "2" }, reply: "3" }   # the protocol's own pings (see ws_ping)
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::close_codes::CloseProfile;
use super::first_message::FirstMessage;
use super::matcher::Matcher;
use super::ws_ping::{WsPing, WsPingSpec};

/// How the access token travels in the WebSocket handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenTransport {
    /// `?param=<token>` on the URL.
    Query {
        /// The query parameter name (`access_token`).
        param: String,
    },
    /// `Authorization: Bearer <token>`.
    Header,
    /// `Sec-WebSocket-Protocol: <prefix><token>`; the server answers a token-free subprotocol.
    Subprotocol {
        /// The prefix (`bearer.`).
        prefix: String,
    },
    /// No credential in the handshake: the client's first message carries the token and the
    /// server acknowledges it (graphql-transport-ws, Centrifugo, Socket.IO).
    FirstMessage(Box<FirstMessage>),
}

impl Default for TokenTransport {
    fn default() -> Self {
        TokenTransport::Query {
            param: "access_token".into(),
        }
    }
}

impl TokenTransport {
    /// `url` as the handshake requests it with `token`: the query parameter added for
    /// [`TokenTransport::Query`], unchanged otherwise.
    pub fn url(&self, url: &url::Url, token: &str) -> url::Url {
        let mut u = url.clone();
        if let TokenTransport::Query { param } = self {
            u.query_pairs_mut().append_pair(param, token);
        }
        u
    }

    /// The first-message exchange, when the token travels that way.
    pub fn first_message(&self) -> Option<&FirstMessage> {
        match self {
            TokenTransport::FirstMessage(f) => Some(f),
            _ => None,
        }
    }

    /// The handshake header that carries `token`, if it travels in one: `Authorization: Bearer`,
    /// or the `Sec-WebSocket-Protocol` offer of [`subprotocol_offer`].
    pub fn header(&self, token: &str) -> Option<(http::HeaderName, String)> {
        match self {
            TokenTransport::Query { .. } | TokenTransport::FirstMessage(_) => None,
            TokenTransport::Header => {
                Some((http::header::AUTHORIZATION, format!("Bearer {token}")))
            }
            TokenTransport::Subprotocol { prefix } => Some((
                http::header::SEC_WEBSOCKET_PROTOCOL,
                subprotocol_offer(prefix, token),
            )),
        }
    }
}

/// The `Sec-WebSocket-Protocol` offer for a subprotocol transport with `prefix`: the prefix without
/// its trailing separator (`bearer.` → `bearer`, the protocol the reference mock answers), then
/// the token-carrying `<prefix><token>` (which a server never echoes).
pub fn subprotocol_offer(prefix: &str, token: &str) -> String {
    let accept = prefix.trim_end_matches(['.', '-', '_']);
    if accept.is_empty() {
        format!("{prefix}{token}")
    } else {
        format!("{accept}, {prefix}{token}")
    }
}

/// The file form of [`TokenTransport`]: `header`, `{ query: NAME }`, `{ subprotocol: PREFIX }` or
/// `{ first_message: MESSAGE, ack: MATCHER }`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum TokenSpec {
    /// `header`: `Authorization: Bearer <token>`.
    Word(String),
    /// One of the mapping forms.
    Map(Box<TokenMap>),
}

/// A word is read as a word and a mapping as [`TokenMap`], so that a mistake inside the mapping
/// is told as itself (`unknown field \`qurey\`, did you mean \`query\`?`), not as "matched no
/// variant".
impl<'de> Deserialize<'de> for TokenSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de;

        struct Form;

        impl<'de> de::Visitor<'de> for Form {
            type Value = TokenSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`header`, or a mapping with one of query, subprotocol, first_message")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<TokenSpec, E> {
                Ok(TokenSpec::Word(v.to_string()))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<TokenSpec, A::Error> {
                TokenMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| TokenSpec::Map(Box::new(m)))
            }
        }

        d.deserialize_any(Form)
    }
}

/// The mapping forms of `ws.token` (exactly one of `query`, `subprotocol`, `first_message`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TokenMap {
    /// Query parameter name (`access_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Subprotocol prefix (`bearer.`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subprotocol: Option<String>,
    /// The first message after the upgrade, carrying the token: a mapping (sent as JSON) or a
    /// string (sent as it is); every string in it is a template (`{{access_token}}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "serde_json::Value")]
    pub first_message: Option<serde_json::Value>,
    /// With `first_message`: the server's acknowledgement, a matcher on its JSON body fields
    /// (e.g. `{ body: { type: connection_ack } }`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<Matcher>,
    /// With `first_message`: the subprotocol offered in the handshake (`graphql-transport-ws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// With `first_message`: a server message that refuses the token, a matcher like `ack`
    /// (Centrifugo's `{ body: { id: "1", error: "*" } }`, Socket.IO's `{ prefix: "44" }`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<Matcher>,
}

impl TokenSpec {
    /// The transport; the error is `(key below ws.token, message)`.
    pub fn transport(&self) -> Result<TokenTransport, (String, String)> {
        let forms = "`header`, `{ query: NAME }`, `{ subprotocol: PREFIX }` or `{ first_message: ..., ack: ... }`";
        match self {
            TokenSpec::Word(w) if w.trim() == "header" => Ok(TokenTransport::Header),
            TokenSpec::Word(w) => Err((
                String::new(),
                format!("unknown token transport {w:?}: write {forms}"),
            )),
            TokenSpec::Map(m) if m.protocol.is_some() && m.first_message.is_none() => Err((
                "protocol".into(),
                "`protocol` goes with `first_message` (for the other forms the token transport decides the subprotocol)".into(),
            )),
            TokenSpec::Map(m) if m.reject.is_some() && m.first_message.is_none() => Err((
                "reject".into(),
                "`reject` goes with `first_message` (a refused handshake is its HTTP status)".into(),
            )),
            TokenSpec::Map(m) => match (&m.query, &m.subprotocol, &m.first_message, &m.ack) {
                (Some(param), None, None, None) => Ok(TokenTransport::Query {
                    param: param.clone(),
                }),
                (None, Some(prefix), None, None) => Ok(TokenTransport::Subprotocol {
                    prefix: prefix.clone(),
                }),
                (None, None, Some(message), Some(ack)) => {
                    let mut first =
                        FirstMessage::new(message.clone(), ack.clone(), m.protocol.clone())?;
                    if let Some(reject) = &m.reject {
                        first = first.with_reject(reject.clone())?;
                    }
                    Ok(TokenTransport::FirstMessage(Box::new(first)))
                }
                (None, None, Some(_), None) => Err((
                    "ack".into(),
                    "`first_message` needs `ack`: what the server answers when it accepts the token, e.g. `ack: { body: { type: connection_ack } }`".into(),
                )),
                (None, None, None, Some(_)) => Err((
                    "first_message".into(),
                    "`ack` without `first_message`".into(),
                )),
                _ => Err((String::new(), format!("give exactly one of {forms}"))),
            },
        }
    }
}

impl From<&TokenTransport> for TokenSpec {
    fn from(t: &TokenTransport) -> Self {
        match t {
            TokenTransport::Header => TokenSpec::Word("header".into()),
            TokenTransport::Query { param } => TokenSpec::Map(Box::new(TokenMap {
                query: Some(param.clone()),
                ..TokenMap::default()
            })),
            TokenTransport::Subprotocol { prefix } => TokenSpec::Map(Box::new(TokenMap {
                subprotocol: Some(prefix.clone()),
                ..TokenMap::default()
            })),
            TokenTransport::FirstMessage(f) => TokenSpec::Map(Box::new(TokenMap {
                first_message: Some(f.message().clone()),
                ack: Some(f.ack().clone()),
                protocol: f.protocol().map(str::to_string),
                reject: f.reject().cloned(),
                ..TokenMap::default()
            })),
        }
    }
}

/// The server's session events: a JSON message whose type field (a JSON pointer) has one of
/// these values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WsEvents {
    /// JSON pointer to the event type (default `/type`).
    #[serde(rename = "type")]
    pub type_pointer: String,
    /// Type of "replaced by a login elsewhere" (default `kicked`).
    pub kicked: String,
    /// Type of "logged out / revoked" (default `logout`).
    pub logout: String,
    /// Type of "access token expired" (default `session_expired`).
    pub session_expired: String,
}

impl Default for WsEvents {
    fn default() -> Self {
        WsEvents {
            type_pointer: "/type".into(),
            kicked: "kicked".into(),
            logout: "logout".into(),
            session_expired: "session_expired".into(),
        }
    }
}

/// What a server message means for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// Replaced by a login elsewhere.
    Kicked,
    /// Logged out, revoked, password changed.
    Logout,
    /// The access token expired.
    SessionExpired,
    /// Any other event type (e.g. `welcome`, `tick`).
    Other(String),
}

impl WsEvents {
    /// Classifies a text message; `None` if it is not JSON or has no type. JSON after leading
    /// packet-type digits counts too: a Socket.IO event `42["kicked",{...}]` has type `kicked`
    /// under `type: /0`.
    pub fn classify(&self, text: &str) -> Option<WsEvent> {
        let v: serde_json::Value = serde_json::from_str(text).ok().or_else(|| {
            let json = text.trim_start_matches(|c: char| c.is_ascii_digit());
            (json.len() < text.len())
                .then(|| serde_json::from_str(json).ok())
                .flatten()
        })?;
        let t = v.pointer(&self.type_pointer)?.as_str()?;
        Some(if t == self.kicked {
            WsEvent::Kicked
        } else if t == self.logout {
            WsEvent::Logout
        } else if t == self.session_expired {
            WsEvent::SessionExpired
        } else {
            WsEvent::Other(t.to_string())
        })
    }
}

/// The resolved WebSocket settings of a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct WsProfile {
    /// The socket URL (`ws://` or `wss://`), without the token.
    pub url: url::Url,
    /// How the token travels.
    pub token: TokenTransport,
    /// Event type names.
    pub events: WsEvents,
    /// How close codes are classified.
    pub close_codes: CloseProfile,
    /// The protocol's own keep-alive messages and their answer (`ws.ping`), if it has them.
    pub ping: Option<WsPing>,
}

impl WsProfile {
    /// The URL to connect to with `access_token` (adds the query parameter for
    /// [`TokenTransport::Query`]).
    pub fn connect_url(&self, access_token: &str) -> url::Url {
        self.token.url(&self.url, access_token)
    }
}

/// The `ws:` section as written; every key optional (a preset fills the rest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WsSpec {
    /// Absolute `ws://` / `wss://` URL of the socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Path below the base URL (scheme http→ws, https→wss), default `/ws`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Token transport: `header`, `{ query: access_token }` (default), `{ subprotocol: "bearer." }`
    /// or `{ first_message: ..., ack: ... }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenSpec>,
    /// Event type names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<WsEvents>,
    /// Close-code profile: a preset name or `{ preset, codes, default }` (default `authbench`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_codes: Option<CloseProfile>,
    /// The server's own ping messages and the answer it expects, e.g. Engine.IO's
    /// `{ match: { prefix: "2" }, reply: "3" }` (see `ws_ping`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping: Option<WsPingSpec>,
}

/// The `ws` URL for `path` below an http(s) base URL.
pub fn ws_url_below(base: &url::Url, path: &str) -> Result<url::Url, String> {
    let scheme = match base.scheme() {
        "https" | "wss" => "wss",
        _ => "ws",
    };
    let mut s = base.as_str().trim_end_matches('/').to_string();
    if let Some(i) = s.find("://") {
        s.replace_range(..i, scheme);
    }
    if !path.starts_with('/') {
        s.push('/');
    }
    s.push_str(path);
    url::Url::parse(&s).map_err(|e| format!("invalid WebSocket URL {s:?}: {e}"))
}

/// The endpoint of a channel section (`ws:`, `sse:`): its `url` (one of `schemes`), or its `path`
/// made absolute by `below`, or the preset's `inherited` URL, or `default_path` made absolute. An
/// error is (sub-key, message).
pub(crate) fn section_url(
    url: Option<&str>,
    path: Option<&str>,
    inherited: Option<&url::Url>,
    schemes: [&str; 2],
    below: impl Fn(&str) -> Result<url::Url, String>,
    default_path: &str,
) -> Result<url::Url, (String, String)> {
    match (url, path) {
        (Some(_), Some(_)) => Err(("url".into(), "give either `url` or `path`, not both".into())),
        (Some(u), None) => {
            let parsed = url::Url::parse(u)
                .map_err(|e| ("url".into(), format!("invalid URL {u:?}: {e}")))?;
            if !schemes.contains(&parsed.scheme()) {
                return Err((
                    "url".into(),
                    format!(
                        "{u:?} must start with {}:// or {}://",
                        schemes[0], schemes[1]
                    ),
                ));
            }
            Ok(parsed)
        }
        (None, Some(p)) => below(p).map_err(|e| ("path".to_string(), e)),
        (None, None) => match inherited {
            Some(u) => Ok(u.clone()),
            None => below(default_path).map_err(|e| ("path".to_string(), e)),
        },
    }
}

impl WsSpec {
    /// Resolves onto `base` (a preset's ws settings, if any) and the profile's base URL.
    pub fn resolve(
        &self,
        base: Option<&WsProfile>,
        base_url: &url::Url,
    ) -> Result<WsProfile, (String, String)> {
        let url = section_url(
            self.url.as_deref(),
            self.path.as_deref(),
            base.map(|b| &b.url),
            ["ws", "wss"],
            |p| ws_url_below(base_url, p),
            "/ws",
        )?;
        let token = match &self.token {
            Some(t) => t
                .transport()
                .map_err(|(k, m)| (format!("token.{k}").trim_end_matches('.').to_string(), m))?,
            None => base.map(|b| b.token.clone()).unwrap_or_default(),
        };
        Ok(WsProfile {
            url,
            token,
            events: self
                .events
                .clone()
                .or_else(|| base.map(|b| b.events.clone()))
                .unwrap_or_default(),
            close_codes: self
                .close_codes
                .clone()
                .or_else(|| base.map(|b| b.close_codes.clone()))
                .unwrap_or_default(),
            ping: match &self.ping {
                Some(p) => Some(p.resolve().map_err(|(k, m)| (format!("ping.{k}"), m))?),
                None => base.and_then(|b| b.ping.clone()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subprotocol_offer_is_derived_from_the_prefix() {
        assert_eq!(subprotocol_offer("bearer.", "t"), "bearer, bearer.t");
        assert_eq!(subprotocol_offer("bearer-", "t"), "bearer, bearer-t");
        assert_eq!(subprotocol_offer(".", "t"), ".t");
    }

    #[test]
    fn urls_and_transports() {
        let base = url::Url::parse("https://api.example.com/v1/").unwrap();
        let spec: WsSpec =
            serde_saphyr::from_str("path: /socket\ntoken: { subprotocol: \"bearer.\" }\n").unwrap();
        let ws = spec.resolve(None, &base).unwrap();
        assert_eq!(ws.url.as_str(), "wss://api.example.com/v1/socket");
        assert_eq!(
            ws.token.header("t"),
            Some((
                http::header::SEC_WEBSOCKET_PROTOCOL,
                "bearer, bearer.t".to_string()
            ))
        );
        assert_eq!(
            ws.connect_url("t").as_str(),
            "wss://api.example.com/v1/socket"
        );

        let spec: WsSpec = serde_saphyr::from_str("token: header\n").unwrap();
        let ws = spec
            .resolve(None, &url::Url::parse("http://127.0.0.1:80").unwrap())
            .unwrap();
        assert_eq!(ws.url.as_str(), "ws://127.0.0.1/ws");
        assert_eq!(
            ws.token.header("t"),
            Some((http::header::AUTHORIZATION, "Bearer t".to_string()))
        );

        let ws = WsSpec::default()
            .resolve(None, &url::Url::parse("http://h:1").unwrap())
            .unwrap();
        assert_eq!(
            ws.connect_url("a b").as_str(),
            "ws://h:1/ws?access_token=a+b"
        );
    }

    #[test]
    fn url_checks() {
        let base = url::Url::parse("http://h").unwrap();
        let spec: WsSpec = serde_saphyr::from_str("url: http://h/ws\n").unwrap();
        assert_eq!(spec.resolve(None, &base).unwrap_err().0, "url");
        let spec: WsSpec = serde_saphyr::from_str("url: ws://h/ws\npath: /ws\n").unwrap();
        assert!(spec.resolve(None, &base).is_err());
    }

    #[test]
    fn events_classify() {
        let ev: WsEvents = serde_saphyr::from_str("type: /event/name\nkicked: replaced\n").unwrap();
        assert_eq!(
            ev.classify(r#"{"event":{"name":"replaced"}}"#),
            Some(WsEvent::Kicked)
        );
        assert_eq!(
            ev.classify(r#"{"event":{"name":"logout"}}"#),
            Some(WsEvent::Logout)
        );
        assert_eq!(
            ev.classify(r#"{"event":{"name":"tick"}}"#),
            Some(WsEvent::Other("tick".into()))
        );
        assert_eq!(ev.classify("not json"), None);
        let sio: WsEvents = serde_saphyr::from_str("type: /0\n").unwrap();
        assert_eq!(
            sio.classify(r#"42["kicked",{"by":"login"}]"#),
            Some(WsEvent::Kicked)
        );
        assert_eq!(sio.classify("2"), None);
        let d = WsEvents::default();
        assert_eq!(
            d.classify(r#"{"type":"session_expired"}"#),
            Some(WsEvent::SessionExpired)
        );
    }
}
