//! WebSocket authentication in the first message ([`FirstMessage`]), as protocols do it besides the
//! query, a header or a subprotocol: the handshake carries no credential; the client's first
//! message does, and the server answers with an acknowledgement (or closes the socket).
//!
//! - graphql-transport-ws (the `graphql-ws` library): `{"type":"connection_init","payload":{...}}`,
//!   answered by `{"type":"connection_ack"}`; refusals are close codes 4401/4403, a missing init
//!   4408, a second init 4429 (close-code preset `graphql-ws`).
//! - Centrifugo: `{"id":1,"connect":{"token":"..."}}`, answered by `{"id":1,"connect":{...}}`.
//! - Socket.IO v5 (over the bare Engine.IO socket): the text `40{"token":"..."}` (a CONNECT packet
//!   with an auth payload), answered by `40{"sid":"..."}`; the ack is matched on the JSON after the
//!   packet-type digits.
//!
//! ```yaml
//! ws:
//!   token:
//!     first_message:                      # a mapping is sent as JSON; a string as it is
//!       type: connection_init
//!       payload: { authorization: "Bearer {{access_token}}" }
//!     ack: { body: { type: connection_ack } }   # a matcher: body fields of the answer
//!     protocol: graphql-transport-ws      # the subprotocol offered in the handshake (optional)
//!   close_codes: graphql-ws
//! ```
//!
//! Every string in the message is a template (`{{access_token}}`, `{{env.NAME}}`). The ack is a
//! matcher ([`Matcher`], as for rejections) whose `body` fields are read from the server's JSON
//! message (after its `prefix`, or after leading packet-type digits). Messages before the ack that
//! do not match (the Engine.IO open packet, pings, keep-alives) are skipped; pings the profile
//! declares (`ws.ping`, [`super::ws_ping`]) are answered meanwhile.
//!
//! A server that refuses the token in a message rather than by closing the socket (Centrifugo's
//! `{"id":1,"error":{"code":109,...}}`, Socket.IO's CONNECT_ERROR `44{"message":"..."}`) is
//! described by `reject`, a matcher like `ack`: such an answer is a refused token, counted
//! `ws_connect_failed.rejected`, as a refusing close code would be.
//!
//! ```yaml
//! ws:                                     # Centrifugo (client protocol v2, JSON)
//!   path: /connection/websocket
//!   token:
//!     first_message: { id: 1, connect: { token: "{{access_token}}" } }
//!     ack: { body: { id: "1", connect: "*" } }
//!     reject: { body: { id: "1", error: "*" } }
//!   ping: { match: { prefix: "{}" }, reply: {} }
//!   close_codes: centrifugo
//! ws:                                     # Socket.IO v5 over Engine.IO v4, WebSocket only
//!   path: /socket.io/?EIO=4&transport=websocket
//!   token:
//!     first_message: '40{"token":"{{access_token}}"}'
//!     ack: { prefix: "40", body: { sid: "*" } }
//!     reject: { prefix: "44" }
//!   ping: { match: { prefix: "2" }, reply: "3" }
//! ```

use super::matcher::Matcher;
use super::template::{Template, Vars};

/// What a server message means during the first-message exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The acknowledgement: the socket is authenticated.
    Ack,
    /// The profile's `reject`: the token is refused.
    Rejected,
    /// Anything else (skipped).
    Other,
}

/// How the first message and its acknowledgement look (resolved from the profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstMessage {
    /// As written: a JSON value whose strings are templates (sent as JSON), or a string template
    /// (sent as it is).
    message: serde_json::Value,
    /// What the acknowledgement looks like.
    ack: Matcher,
    /// What a refusal in a message looks like (none: the server refuses by closing).
    reject: Option<Matcher>,
    /// The subprotocol offered in the handshake (`graphql-transport-ws`; the graphql-ws library
    /// closes with 4406 without it).
    protocol: Option<String>,
}

impl FirstMessage {
    /// Checks the message's templates and the ack matcher; the error is `(key below
    /// ws.token, message)`.
    pub fn new(
        message: serde_json::Value,
        ack: Matcher,
        protocol: Option<String>,
    ) -> Result<FirstMessage, (String, String)> {
        if let Some(p) = &protocol
            && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        {
            return Err((
                "protocol".into(),
                format!("{p:?} is not a subprotocol name (a token such as graphql-transport-ws)"),
            ));
        }
        check_templates(&message).map_err(|m| ("first_message".to_string(), m))?;
        if !has_access_token(&message) {
            return Err((
                "first_message".into(),
                "the first message never sends the access token: put {{access_token}} where the server expects it".into(),
            ));
        }
        ack.validate().map_err(|p| {
            (
                format!("ack.{}", p.key).trim_end_matches('.').to_string(),
                p.message,
            )
        })?;
        if ack.rules().iter().any(|r| r.status.is_some()) {
            return Err((
                "ack.status".into(),
                "a WebSocket message has no status: match `body` fields only".into(),
            ));
        }
        Ok(FirstMessage {
            message,
            ack,
            reject: None,
            protocol,
        })
    }

    /// With `reject`: a server message matching it refuses the token (checked before `ack`);
    /// the error is `(key below ws.token, message)`.
    pub fn with_reject(mut self, reject: Matcher) -> Result<FirstMessage, (String, String)> {
        reject.validate().map_err(|p| {
            (
                format!("reject.{}", p.key)
                    .trim_end_matches('.')
                    .to_string(),
                p.message,
            )
        })?;
        if reject.rules().iter().any(|r| r.status.is_some()) {
            return Err((
                "reject.status".into(),
                "a WebSocket message has no status: match `prefix` or `body` fields".into(),
            ));
        }
        self.reject = Some(reject);
        Ok(self)
    }

    /// The graphql-transport-ws form: subprotocol `graphql-transport-ws`, `connection_init` with
    /// `payload: { <field>: "Bearer <token>" }` answered by `connection_ack`.
    pub fn graphql_ws(field: &str) -> FirstMessage {
        let message = serde_json::json!({
            "type": "connection_init",
            "payload": { field: "Bearer {{access_token}}" },
        });
        let ack: Matcher = serde_json::from_value(serde_json::json!({
            "body": { "type": "connection_ack" }
        }))
        .expect("a valid matcher");
        FirstMessage {
            message,
            ack,
            reject: None,
            protocol: Some("graphql-transport-ws".into()),
        }
    }

    /// The subprotocol to offer in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The text to send with `token` (`None`: every `{{access_token}}` left empty, the probes'
    /// "no credential" form).
    pub fn render(&self, token: Option<&str>) -> String {
        let vars = Vars {
            access_token: token,
            ..Vars::default()
        };
        match &self.message {
            serde_json::Value::String(s) => render_str(s, &vars),
            other => render_value(other, &vars).to_string(),
        }
    }

    /// Whether the server's text message `text` is the acknowledgement (JSON, or JSON after
    /// the rule's `prefix` or the message's packet-type digits).
    pub fn acknowledges(&self, text: &str) -> bool {
        self.answer(text) == Answer::Ack
    }

    /// What the server's text message `text` says about the first message (a refusal is
    /// checked first).
    pub fn answer(&self, text: &str) -> Answer {
        if self
            .reject
            .as_ref()
            .is_some_and(|r| r.matches_message(text))
        {
            Answer::Rejected
        } else if self.ack.matches_message(text) {
            Answer::Ack
        } else {
            Answer::Other
        }
    }

    /// The refusal matcher, if any.
    pub fn reject(&self) -> Option<&Matcher> {
        self.reject.as_ref()
    }

    /// The message as written (for serialization).
    pub fn message(&self) -> &serde_json::Value {
        &self.message
    }

    /// The ack matcher.
    pub fn ack(&self) -> &Matcher {
        &self.ack
    }
}

fn render_str(s: &str, vars: &Vars<'_>) -> String {
    // Checked at load time ([`FirstMessage::new`]).
    Template::parse(s).map_or_else(|_| s.to_string(), |t| t.render(vars))
}

fn render_value(v: &serde_json::Value, vars: &Vars<'_>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(render_str(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|v| render_value(v, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), render_value(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn check_templates(v: &serde_json::Value) -> Result<(), String> {
    let mut all = Vec::new();
    strings(v, &mut all);
    for s in all {
        Template::parse(&s)?;
    }
    Ok(())
}

fn has_access_token(v: &serde_json::Value) -> bool {
    let mut all = Vec::new();
    strings(v, &mut all);
    all.iter()
        .any(|s| Template::parse(s).is_ok_and(|t| t.uses(&super::template::Var::AccessToken)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(yaml: &str) -> Matcher {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn json_and_text_messages_render_the_token() {
        let g = FirstMessage::graphql_ws("authorization");
        let sent: serde_json::Value = serde_json::from_str(&g.render(Some("a.b.c"))).unwrap();
        assert_eq!(sent["type"], "connection_init");
        assert_eq!(sent["payload"]["authorization"], "Bearer a.b.c");
        assert!(g.acknowledges(r#"{"type":"connection_ack"}"#));
        assert!(!g.acknowledges(r#"{"type":"ping"}"#));
        assert!(!g.acknowledges("not json"));

        // Socket.IO: a text packet, not JSON; the ack's JSON follows the packet type.
        let sio = FirstMessage::new(
            serde_json::Value::String(r#"40{"token":"{{access_token}}"}"#.into()),
            matcher("body: { sid: \"~a\" }"),
            None,
        )
        .unwrap();
        assert_eq!(sio.render(Some("t")), r#"40{"token":"t"}"#);
        assert_eq!(sio.render(None), r#"40{"token":""}"#);
        assert!(sio.acknowledges(r#"40{"sid":"abc"}"#));
        assert!(!sio.acknowledges(r#"44{"message":"unauthorized"}"#));

        // With a prefix the Engine.IO open packet is no ack, and CONNECT_ERROR is a refusal.
        let sio = FirstMessage::new(
            serde_json::Value::String(r#"40{"token":"{{access_token}}"}"#.into()),
            matcher("{ prefix: \"40\", body: { sid: \"*\" } }"),
            None,
        )
        .unwrap()
        .with_reject(matcher("prefix: \"44\""))
        .unwrap();
        assert_eq!(
            sio.answer(r#"0{"sid":"e","pingInterval":25}"#),
            Answer::Other
        );
        assert_eq!(sio.answer(r#"40{"sid":"abc"}"#), Answer::Ack);
        assert_eq!(sio.answer(r#"44{"message":"no"}"#), Answer::Rejected);
        // Centrifugo: the error reply to the connect command.
        let cf = FirstMessage::new(
            serde_json::json!({ "id": 1, "connect": { "token": "{{access_token}}" } }),
            matcher("body: { id: \"1\", connect: \"*\" }"),
            None,
        )
        .unwrap()
        .with_reject(matcher("body: { id: \"1\", error: \"*\" }"))
        .unwrap();
        assert_eq!(cf.render(Some("t")), r#"{"connect":{"token":"t"},"id":1}"#);
        assert_eq!(
            cf.answer(r#"{"id":1,"connect":{"client":"c"}}"#),
            Answer::Ack
        );
        assert_eq!(
            cf.answer(r#"{"id":1,"error":{"code":109,"message":"token expired"}}"#),
            Answer::Rejected
        );
        assert_eq!(cf.answer("{}"), Answer::Other);
    }

    #[test]
    fn bad_first_messages_are_refused_with_their_key() {
        let no_token = FirstMessage::new(
            serde_json::json!({ "type": "connection_init" }),
            matcher("body: { type: connection_ack }"),
            None,
        )
        .unwrap_err();
        assert_eq!(no_token.0, "first_message");
        let unclosed = FirstMessage::new(
            serde_json::json!({ "token": "{{access_token" }),
            matcher("body: { type: connection_ack }"),
            None,
        )
        .unwrap_err();
        assert_eq!(unclosed.0, "first_message");
        let status = FirstMessage::new(
            serde_json::json!({ "token": "{{access_token}}" }),
            matcher("{ status: 200, body: { type: connection_ack } }"),
            None,
        )
        .unwrap_err();
        assert_eq!(status.0, "ack.status");
        let protocol = FirstMessage::new(
            serde_json::json!({ "token": "{{access_token}}" }),
            matcher("body: { type: connection_ack }"),
            Some("a, b".into()),
        )
        .unwrap_err();
        assert_eq!(protocol.0, "protocol");
        let reject = FirstMessage::new(
            serde_json::json!({ "token": "{{access_token}}" }),
            matcher("body: { type: connection_ack }"),
            None,
        )
        .unwrap()
        .with_reject(matcher("{ status: 401 }"))
        .unwrap_err();
        assert_eq!(reject.0, "reject.status");
    }
}
