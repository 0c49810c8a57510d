//! Helpers shared by the mock server's integration tests: start a server on 127.0.0.1:0, call its
//! endpoints, open WebSockets and read their events and close codes.

#![allow(dead_code)]

use std::time::Duration;

use authbench_mock::{Flaw, MockConfig, MockServer};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A test configuration: port 0, known admin key, everything else default.
pub fn cfg() -> MockConfig {
    MockConfig {
        port: 0,
        users: 1000,
        admin_key: Some("admin-secret".into()),
        ..MockConfig::default()
    }
}

pub async fn start(cfg: MockConfig) -> MockServer {
    authbench_mock::start(cfg).await.expect("mock starts")
}

pub async fn start_with(f: impl FnOnce(&mut MockConfig)) -> MockServer {
    let mut c = cfg();
    f(&mut c);
    start(c).await
}

pub async fn start_flawed(flaw: Flaw, f: impl FnOnce(&mut MockConfig)) -> MockServer {
    let mut c = cfg();
    f(&mut c);
    c.flaws = vec![flaw];
    start(c).await
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The decoded JSON of a response plus its status and headers.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn str(&self, key: &str) -> &str {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in {}", self.body))
    }
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
    pub fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or("")
    }
}

/// Sends `req` and reads its reply.
pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn token(s: &MockServer, form: &[(&str, &str)]) -> Reply {
    send(
        http()
            .post(format!("{}/oauth/token", s.base_url()))
            .form(form),
    )
    .await
}

pub async fn login(s: &MockServer, n: u64) -> Reply {
    let user = format!("user{n}");
    let pw = format!("pw-{n}");
    let r = token(
        s,
        &[
            ("grant_type", "password"),
            ("username", &user),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "login: {}", r.body);
    r
}

pub async fn refresh(s: &MockServer, rt: &str) -> Reply {
    token(s, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

pub async fn me(s: &MockServer, at: Option<&str>) -> Reply {
    let mut req = http().get(format!("{}/api/me", s.base_url()));
    if let Some(at) = at {
        req = req.bearer_auth(at);
    }
    send(req).await
}

/// The session behind `tokens` (a login or refresh reply) is over: its refresh token is refused
/// (400) and its access token too (401).
pub async fn assert_session_over(s: &MockServer, tokens: &Reply) {
    assert_eq!(
        refresh(s, tokens.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        me(s, Some(tokens.str("access_token"))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

pub async fn admin_logout(s: &MockServer, user: &str, key: &str) -> Reply {
    send(
        http()
            .post(format!("{}/admin/users/{user}/logout", s.base_url()))
            .bearer_auth(key),
    )
    .await
}

/// The decoded payload (claims) of a JWT, without verification.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The decoded header of a JWT.
pub fn jwt_header(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The same claims re-packed as an unsigned `alg: none` token.
pub fn alg_none(jwt: &str) -> String {
    let payload = jwt.split('.').nth(1).unwrap();
    let header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    format!("{header}.{payload}.")
}

/// Sleeps until the access token `jwt` has expired (its `exp` has passed).
pub async fn until_expired(jwt: &str) {
    let exp_ms = claims(jwt)["exp"].as_u64().unwrap() * 1000;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(exp_ms.saturating_sub(now_ms) + 50)).await;
}

/// How long a test waits for one WebSocket event.
pub const WAIT: Duration = Duration::from_secs(5);

/// Logs `user{n}` in, opens its socket and reads the first event, the welcome.
pub async fn ws_welcomed(s: &MockServer, n: u64) -> (Reply, Ws) {
    let l = login(s, n).await;
    let mut ws = ws_open(s, l.str("access_token")).await;
    assert_eq!(next_event(&mut ws, WAIT).await.unwrap()["type"], "welcome");
    (l, ws)
}

pub enum Transport<'a> {
    Query(&'a str),
    Header(&'a str),
    Subprotocol(&'a str),
    None,
}

pub fn ws_url(s: &MockServer) -> String {
    format!("{}/ws", s.base_url().replacen("http", "ws", 1))
}

/// Opens `/ws`; `Err(status)` if the handshake was refused with an HTTP status.
pub async fn ws_connect(
    s: &MockServer,
    t: Transport<'_>,
) -> Result<
    (
        Ws,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    u16,
> {
    let url = match &t {
        Transport::Query(tok) => format!("{}?access_token={tok}", ws_url(s)),
        _ => ws_url(s),
    };
    let mut req = url.into_client_request().unwrap();
    match t {
        Transport::Header(tok) => {
            req.headers_mut()
                .insert("authorization", format!("Bearer {tok}").parse().unwrap());
        }
        Transport::Subprotocol(tok) => {
            req.headers_mut().insert(
                "sec-websocket-protocol",
                format!("bearer, bearer.{tok}").parse().unwrap(),
            );
        }
        _ => {}
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok(pair) => Ok(pair),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("ws connect failed: {e}"),
    }
}

pub async fn ws_open(s: &MockServer, at: &str) -> Ws {
    ws_connect(s, Transport::Query(at))
        .await
        .expect("ws upgrade")
        .0
}

/// What a socket saw until it closed.
#[derive(Debug, Default)]
pub struct Ending {
    pub events: Vec<Value>,
    pub close_code: Option<u16>,
}

impl Ending {
    pub fn types(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// The next JSON text message (skipping pings), or `None` when the socket closed/ended first.
pub async fn next_event(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Reads every message until the server closes (within `within`), completing the close
/// handshake; ticks are not recorded.
pub async fn until_close(ws: &mut Ws, within: Duration) -> Ending {
    let mut out = Ending::default();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "tick" {
                    out.events.push(v);
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                out.close_code = frame.map(|f| u16::from(f.code));
                // drain so the close handshake completes
                while let Ok(Some(Ok(_))) =
                    tokio::time::timeout(Duration::from_secs(2), ws.next()).await
                {}
                return out;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("socket error before close: {e}"),
            Ok(None) => return out,
            Err(_) => panic!("no close within {within:?}; saw {:?}", out.events),
        }
    }
}

/// Sends a close from the client side and drains.
pub async fn client_close(mut ws: Ws) {
    let _ = ws.close(None).await;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await {}
}

pub async fn send_text(ws: &mut Ws, text: String) -> bool {
    ws.send(Message::text(text)).await.is_ok()
}

/// `POST /api/auth/logout-all` with `at` as bearer token (none: no header).
pub async fn logout_all(s: &MockServer, at: Option<&str>) -> Reply {
    let mut req = http().post(format!("{}/api/auth/logout-all", s.base_url()));
    if let Some(at) = at {
        req = req.bearer_auth(at);
    }
    send(req).await
}

/// `POST /api/auth/logout` with the refresh token in the JSON body.
pub async fn json_logout(s: &MockServer, rt: &str) -> Reply {
    send(
        http()
            .post(format!("{}/api/auth/logout", s.base_url()))
            .json(&serde_json::json!({ "refresh_token": rt })),
    )
    .await
}

/// The session behind `tokens` is live: its access token is accepted.
pub async fn assert_live(s: &MockServer, tokens: &Reply) {
    assert_eq!(
        me(s, Some(tokens.str("access_token"))).await.status,
        StatusCode::OK
    );
}
