//! Application-level keep-alives a WebSocket server expects answered ([`WsPing`]): besides the
//! WebSocket protocol's own ping frames (answered by tungstenite), some protocols ping in their
//! own messages and drop a client that does not answer in time:
//!
//! - Engine.IO v4 (under Socket.IO v5): the server sends the text `2` every `pingInterval` and
//!   closes the connection when no `3` comes back within `pingTimeout`;
//! - Centrifugo's client protocol v2: the server sends an empty reply `{}` and the client answers
//!   with an empty command `{}` (when the connect result says `pong: true`).
//!
//! ```yaml
//! ws:
//!   ping: { match: { prefix: "2" }, reply: "3" }      # Socket.IO / Engine.IO
//!   ping: { match: { prefix: "{}" }, reply: {} }      # Centrifugo (a mapping is sent as JSON)
//! ```
//!
//! `match` is a matcher ([`Matcher`], as for `ws.token.ack`) on the server's text message; the
//! answer is sent at once, during the first-message exchange as well as for the socket's whole
//! life. A ping is no session event: it is not counted in `ws_events.*`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::matcher::Matcher;

/// `ws.ping` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WsPingSpec {
    /// The server's ping message (a matcher: `prefix` and `body` fields).
    #[serde(rename = "match")]
    pub matcher: Matcher,
    /// The answer: a string sent as it is, or a mapping sent as JSON.
    #[schemars(with = "serde_json::Value")]
    pub reply: serde_json::Value,
}

/// A resolved `ws.ping`: which server messages are pings and the text that answers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsPing {
    matcher: Matcher,
    reply: String,
    /// As written, for serialization.
    reply_value: serde_json::Value,
}

impl WsPingSpec {
    /// Checks the matcher and the reply; the error is `(key below ws.ping, message)`.
    pub fn resolve(&self) -> Result<WsPing, (String, String)> {
        self.matcher.validate().map_err(|p| {
            (
                format!("match.{}", p.key).trim_end_matches('.').to_string(),
                p.message,
            )
        })?;
        if self.matcher.rules().iter().any(|r| r.status.is_some()) {
            return Err((
                "match.status".into(),
                "a WebSocket message has no status: match `prefix` or `body` fields".into(),
            ));
        }
        let reply = match &self.reply {
            serde_json::Value::String(s) => s.clone(),
            v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_)) => v.to_string(),
            _ => {
                return Err((
                    "reply".into(),
                    "give the answer as a string (sent as it is, e.g. \"3\") or a mapping (sent as JSON, e.g. {})".into(),
                ));
            }
        };
        if reply.is_empty() {
            return Err((
                "reply".into(),
                "an empty reply: give the text the server expects, e.g. \"3\" for Engine.IO".into(),
            ));
        }
        Ok(WsPing {
            matcher: self.matcher.clone(),
            reply,
            reply_value: self.reply.clone(),
        })
    }
}

impl WsPing {
    /// The answer to the server's message `text`, when it is a ping.
    pub fn answer(&self, text: &str) -> Option<&str> {
        self.matcher
            .matches_message(text)
            .then_some(self.reply.as_str())
    }

    /// The file form.
    pub fn spec(&self) -> WsPingSpec {
        WsPingSpec {
            matcher: self.matcher.clone(),
            reply: self.reply_value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(yaml: &str) -> Result<WsPing, (String, String)> {
        serde_saphyr::from_str::<WsPingSpec>(yaml)
            .unwrap()
            .resolve()
    }

    #[test]
    fn engine_io_and_centrifugo_pings_are_answered() {
        let eio = ping("{ match: { prefix: \"2\" }, reply: \"3\" }").unwrap();
        assert_eq!(eio.answer("2"), Some("3"));
        assert_eq!(eio.answer(r#"42["kicked"]"#), None);
        assert_eq!(eio.answer(r#"40{"sid":"x"}"#), None);
        let centrifugo = ping("{ match: { prefix: \"{}\" }, reply: {} }").unwrap();
        assert_eq!(centrifugo.answer("{}"), Some("{}"));
        assert_eq!(centrifugo.answer(r#"{"id":1,"connect":{}}"#), None);
        assert_eq!(centrifugo.spec().reply, serde_json::json!({}));
    }

    #[test]
    fn bad_pings_name_the_key() {
        assert_eq!(
            ping("{ match: { status: 200 }, reply: \"3\" }")
                .unwrap_err()
                .0,
            "match.status"
        );
        assert_eq!(
            ping("{ match: { prefix: \"2\" }, reply: 3 }")
                .unwrap_err()
                .0,
            "reply"
        );
        assert_eq!(
            ping("{ match: { prefix: \"2\" }, reply: \"\" }")
                .unwrap_err()
                .0,
            "reply"
        );
        assert_eq!(ping("{ match: {}, reply: \"3\" }").unwrap_err().0, "match");
    }
}
