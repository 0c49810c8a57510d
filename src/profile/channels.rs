//! The two session-event channels besides the WebSocket, as a target profile describes them:
//! `sse:` (a Server-Sent Events stream, [`SseProfile`]) and `push:` (how a client registers its
//! device token for mobile push, and how to read the event out of a pushed message,
//! [`PushProfile`]).
//!
//! ```yaml
//! sse:
//!   path: /events                  # or url: https://push.example.com/stream
//!   token: { query: access_token } # or: header
//!   events: { kicked: kicked, logout: logout, session_expired: session_expired }
//! push:
//!   register: { method: POST, path: /push/register,
//!               headers: { Authorization: "Bearer {{access_token}}" },
//!               json: { token: "{{push_token}}" } }
//!   events: { type: /message/data/type }   # a JSON pointer into the FCM v1 message
//! ```
//!
//! An SSE event's type is its `event:` field; an event without one (`message`) is classified by
//! its `data:` JSON with `events.type` (a JSON pointer, default `/type`). A pushed message is
//! classified by `events.type` over the whole FCM HTTP v1 body (default `/message/data/type`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::request::RequestSpec;
use super::ws::{TokenSpec, TokenTransport, WsEvent, WsEvents};

/// The resolved `sse:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SseProfile {
    /// The stream's `http(s)` URL, without the token.
    pub url: url::Url,
    /// How the token travels: a query parameter or `Authorization: Bearer`.
    pub token: TokenTransport,
    /// Event type names (and the data pointer for events without an `event:` field).
    pub events: WsEvents,
}

impl SseProfile {
    /// What an event with `event:` field `kind` (None: the default `message`) and `data` means.
    pub fn classify(&self, kind: Option<&str>, data: Option<&str>) -> Option<WsEvent> {
        match kind.filter(|k| !k.is_empty() && *k != "message") {
            Some(k) => Some(named(&self.events, k)),
            None => self.events.classify(data?),
        }
    }
}

fn named(events: &WsEvents, t: &str) -> WsEvent {
    if t == events.kicked {
        WsEvent::Kicked
    } else if t == events.logout {
        WsEvent::Logout
    } else if t == events.session_expired {
        WsEvent::SessionExpired
    } else {
        WsEvent::Other(t.to_string())
    }
}

/// The `sse:` section as written; every key optional (a preset fills the rest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SseSpec {
    /// Absolute `http://` / `https://` URL of the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Path below the base URL, default `/events`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Token transport: `header` or `{ query: access_token }` (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenSpec>,
    /// Event type names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<WsEvents>,
}

impl SseSpec {
    /// Resolves onto `base` (a preset's settings, if any) and the profile's base URL; an error is
    /// (sub-key, message).
    pub fn resolve(
        &self,
        base: Option<&SseProfile>,
        base_url: &url::Url,
    ) -> Result<SseProfile, (String, String)> {
        let url = super::ws::section_url(
            self.url.as_deref(),
            self.path.as_deref(),
            base.map(|b| &b.url),
            ["http", "https"],
            |p| url_below(base_url, p),
            "/events",
        )?;
        let token = match &self.token {
            Some(spec) => {
                let t = spec
                    .transport()
                    .map_err(|(k, m)| (join_key("token", &k), m))?;
                if !matches!(t, TokenTransport::Header | TokenTransport::Query { .. }) {
                    return Err((
                        "token".into(),
                        "an event stream is plain HTTP: the token goes in `header` or `{ query: NAME }`"
                            .into(),
                    ));
                }
                t
            }
            None => base.map(|b| b.token.clone()).unwrap_or_default(),
        };
        Ok(SseProfile {
            url,
            token,
            events: self
                .events
                .clone()
                .or_else(|| base.map(|b| b.events.clone()))
                .unwrap_or_default(),
        })
    }
}

/// `path` below an http(s) base URL.
pub fn url_below(base: &url::Url, path: &str) -> Result<url::Url, String> {
    let mut s = base.as_str().trim_end_matches('/').to_string();
    if !path.starts_with('/') {
        s.push('/');
    }
    s.push_str(path);
    url::Url::parse(&s).map_err(|e| format!("invalid URL {s:?}: {e}"))
}

/// The resolved `push:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PushProfile {
    /// The registration request; variables `access_token`, `push_token` (the device token).
    pub register: RequestSpec,
    /// How to read the event type out of a pushed FCM HTTP v1 message.
    pub events: WsEvents,
}

impl PushProfile {
    /// The default event pointer into an FCM HTTP v1 message.
    pub const TYPE_POINTER: &str = "/message/data/type";

    /// What a pushed message (the POST body) means.
    pub fn classify(&self, body: &serde_json::Value) -> Option<WsEvent> {
        let t = body.pointer(&self.events.type_pointer)?.as_str()?;
        Some(named(&self.events, t))
    }
}

/// Event names for push with the FCM pointer as the default type field.
fn push_events_default() -> WsEvents {
    WsEvents {
        type_pointer: PushProfile::TYPE_POINTER.into(),
        ..WsEvents::default()
    }
}

/// The `push:` section as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PushSpec {
    /// How a client registers its device token (variables `access_token`, `push_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<RequestSpec>,
    /// Event names; `type` is a JSON pointer into the pushed message (default
    /// `/message/data/type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<WsEvents>,
}

impl PushSpec {
    /// Resolves onto `base` (a preset's settings, if any).
    pub fn resolve(&self, base: Option<&PushProfile>) -> Result<PushProfile, (String, String)> {
        let register = match (&self.register, base) {
            (Some(r), _) => {
                r.check().map_err(|(k, m)| (format!("register.{k}"), m))?;
                r.clone()
            }
            (None, Some(b)) => b.register.clone(),
            (None, None) => {
                return Err((
                    "register".into(),
                    "the push section needs a `register` request".into(),
                ));
            }
        };
        let events = match &self.events {
            // A section that names types but no pointer reads them where FCM puts data.
            Some(e) if e.type_pointer == WsEvents::default().type_pointer => WsEvents {
                type_pointer: PushProfile::TYPE_POINTER.into(),
                ..e.clone()
            },
            Some(e) => e.clone(),
            None => base
                .map(|b| b.events.clone())
                .unwrap_or_else(push_events_default),
        };
        Ok(PushProfile { register, events })
    }
}

/// The mock's `sse:` and `push:` settings below `base_url` (the `mock` presets).
pub fn mock_channels(base_url: &url::Url) -> (Option<SseProfile>, Option<PushProfile>) {
    let sse = url_below(base_url, "/events").ok().map(|url| SseProfile {
        url,
        token: TokenTransport::default(),
        events: WsEvents::default(),
    });
    let push = PushProfile {
        register: RequestSpec::new("POST", "/push/register")
            .header("Authorization", "Bearer {{access_token}}")
            .json_body(serde_json::json!({ "token": "{{push_token}}" })),
        events: push_events_default(),
    };
    (sse, Some(push))
}

/// `token` + `.sub` (or `token` alone when `sub` is empty).
fn join_key(key: &str, sub: &str) -> String {
    if sub.is_empty() {
        key.to_string()
    } else {
        format!("{key}.{sub}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_sections_resolve_and_classify() {
        let base = url::Url::parse("https://api.example.com/v1/").unwrap();
        let spec: SseSpec = serde_saphyr::from_str("path: /stream\ntoken: header\n").unwrap();
        let sse = spec.resolve(None, &base).unwrap();
        assert_eq!(sse.url.as_str(), "https://api.example.com/v1/stream");
        assert_eq!(sse.token, TokenTransport::Header);
        assert_eq!(sse.classify(Some("kicked"), None), Some(WsEvent::Kicked));
        assert_eq!(
            sse.classify(None, Some(r#"{"type":"logout"}"#)),
            Some(WsEvent::Logout)
        );
        assert_eq!(
            sse.classify(Some("message"), Some(r#"{"type":"session_expired"}"#)),
            Some(WsEvent::SessionExpired)
        );
        assert_eq!(
            sse.classify(Some("tick"), None),
            Some(WsEvent::Other("tick".into()))
        );
        let bad: SseSpec = serde_saphyr::from_str("token: { subprotocol: x }\n").unwrap();
        assert_eq!(bad.resolve(None, &base).unwrap_err().0, "token");
        let bad: SseSpec = serde_saphyr::from_str("url: ws://h/e\n").unwrap();
        assert_eq!(bad.resolve(None, &base).unwrap_err().0, "url");
    }

    #[test]
    fn push_sections_resolve_and_classify() {
        assert_eq!(PushSpec::default().resolve(None).unwrap_err().0, "register");
        let (_, mock) = mock_channels(&url::Url::parse("http://h:1").unwrap());
        let p = PushSpec::default().resolve(mock.as_ref()).unwrap();
        let msg = serde_json::json!({"message": {"token": "t", "data": {"type": "kicked"}}});
        assert_eq!(p.classify(&msg), Some(WsEvent::Kicked));
        let spec: PushSpec = serde_saphyr::from_str(
            "register: { path: /devices, json: { fcm: \"{{push_token}}\" } }\nevents: { kicked: replaced }\n",
        )
        .unwrap();
        let p = spec.resolve(None).unwrap();
        let msg = serde_json::json!({"message": {"data": {"type": "replaced"}}});
        assert_eq!(p.classify(&msg), Some(WsEvent::Kicked));
    }
}
