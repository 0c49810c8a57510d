//! `GET /ws`: a WebSocket tied to one session.
//!
//! Handshake: the access token comes from `?access_token=`, `Authorization: Bearer`, or a
//! subprotocol `bearer.<token>` (clients offer `bearer` too; the 101 selects `bearer` and never
//! echoes the token). No valid token → the same 401 as `/api/me`, no upgrade.
//!
//! After the upgrade: `{"type":"welcome","session_id"}`, a `{"type":"tick","seq":n}` every
//! `--ws-tick`, and when the session ends an event followed by a close frame:
//! `session_expired` + 4401 (access token expired), `logout` + 4403 (logout, revocation, admin
//! logout, reuse detection), `kicked` + 4409 (replaced by a login elsewhere). Past a `capacity:ws`
//! fault the socket is closed with 1013 right after the upgrade; on server shutdown or an
//! outage (`POST /admin/outage`) with 1001.
//!
//! With `--ws-auth first-message` the handshake needs no credential: the token comes in the first
//! message, graphql-transport-ws style (`connection_init` with `payload.authorization: "Bearer
//! <token>"`, or `payload.access_token`/`payload.token`), answered by `connection_ack` before the
//! welcome; a refused token closes with 4403 Forbidden, any other first message with 4401
//! Unauthorized, no init within 3 s with 4408, and a second init (at any time) with 4429 — the
//! codes of the graphql-ws library. The subprotocol `graphql-transport-ws` is selected when offered.
//!
//! Each socket waits on its session's watch channel, so a revocation wakes exactly the sockets of
//! that session (thousands of kicks are thousands of independent wake-ups, no scan).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::time::{Instant, Interval};

use super::api::resource_rejection;
use super::{AppState, bearer, query_param};
use crate::auth::Principal;
use crate::config::{Op, WsAuth};
use crate::faults::{Permit, Refusal};
use crate::flaws::{Flaw, Flaws};
use crate::stats::Counters;
use crate::store::RevokeCause;
use crate::tokens::now_ms;

/// Largest accepted message from a client.
const MAX_MESSAGE: usize = 64 * 1024;
/// Largest accepted frame from a client.
const MAX_FRAME: usize = 16 * 1024;
/// Per-socket I/O buffer (the tungstenite default of 128 KiB would cost 2 GB for 15 000 sockets).
const BUFFER: usize = 4 * 1024;
/// How long to wait for the client's close reply.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Close codes and their events.
pub mod close {
    /// Access token expired: refresh, then reconnect.
    pub const SESSION_EXPIRED: u16 = 4401;
    /// Logged out / revoked: terminal.
    pub const LOGOUT: u16 = 4403;
    /// Replaced by a login elsewhere: terminal.
    pub const KICKED: u16 = 4409;
    /// Over capacity: back off and retry.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// Server shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// What the `wrong-close-code` flaw uses instead of the three above.
    pub const NORMAL: u16 = 1000;
    /// Never allowed on the wire (RFC 6455 §7.4.1): what the `illegal-close-code` flaw sends
    /// instead of [`LOGOUT`].
    pub const ABNORMAL: u16 = 1006;
    /// `--ws-auth first-message`: something other than `connection_init` came first.
    pub const UNAUTHORIZED: u16 = 4401;
    /// `--ws-auth first-message`: the token in `connection_init` was refused.
    pub const FORBIDDEN: u16 = 4403;
    /// `--ws-auth first-message`: no `connection_init` in time.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// `--ws-auth first-message`: a second `connection_init`.
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// How long a first-message socket waits for `connection_init` (graphql-ws's default).
const INIT_WAIT: Duration = Duration::from_secs(3);

/// The access token of a handshake, from the query, the Authorization header or a subprotocol.
fn handshake_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(t) = query_param(query, "access_token") {
        return Some(t);
    }
    if let Some(t) = bearer(headers) {
        return Some(t.to_string());
    }
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("bearer.").filter(|t| !t.is_empty()))
        .map(str::to_string)
}

/// `GET /ws`.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let first_message = state.auth.cfg.ws_auth == WsAuth::FirstMessage;
    let token = handshake_token(&headers, uri.query());
    let principal = match state.auth.authenticate(token.as_deref()) {
        _ if first_message => Principal::anonymous(),
        Ok(p) => p,
        Err(_) if state.auth.flaws.has(Flaw::WsNoHandshakeAuth) => Principal::anonymous(),
        Err(e) => {
            Counters::inc(&state.auth.stats.ws_rejected);
            return resource_rejection(&state, e);
        }
    };
    let admitted = match state.faults.admit(Op::Ws, &state.auth.stats).await {
        Ok(permit) => Some(permit),
        Err(Refusal::OverCapacity) => None,
        Err(r) => return r.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(r) => return r.into_response(),
    };
    let tracker = state.tracker.clone();
    ws.read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_FRAME)
        .protocols(["bearer", "graphql-transport-ws"])
        .on_upgrade(move |mut socket| {
            tracker.track_future(async move {
                let principal = if first_message && admitted.is_some() {
                    match connection_init(&mut socket, &state).await {
                        Some(p) => p,
                        None => return,
                    }
                } else {
                    principal
                };
                run(socket, state, principal, admitted).await
            })
        })
}

/// `--ws-auth first-message`: waits for `connection_init`, authenticates its token and answers
/// `connection_ack`; `None` when the socket was closed instead (see the module docs).
async fn connection_init(socket: &mut WebSocket, state: &AppState) -> Option<Principal> {
    let first = tokio::time::timeout(INIT_WAIT, async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(t))) => return Some(t.to_string()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => return None,
            }
        }
    })
    .await;
    let text = match first {
        Err(_) => {
            close_socket(
                socket,
                close::INIT_TIMEOUT,
                "Connection initialisation timeout",
            )
            .await;
            return None;
        }
        Ok(None) => return None,
        Ok(Some(t)) => t,
    };
    let msg: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if msg.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        close_socket(socket, close::UNAUTHORIZED, "Unauthorized").await;
        return None;
    }
    let payload = &msg["payload"];
    let token = payload["authorization"]
        .as_str()
        .map(|a| a.strip_prefix("Bearer ").unwrap_or(a))
        .or_else(|| payload["access_token"].as_str())
        .or_else(|| payload["token"].as_str());
    match state.auth.authenticate(token) {
        Ok(p) => send_json(socket, serde_json::json!({ "type": "connection_ack" }))
            .await
            .then_some(p),
        Err(_) => {
            Counters::inc(&state.auth.stats.ws_rejected);
            close_socket(socket, close::FORBIDDEN, "Forbidden").await;
            None
        }
    }
}

/// Whether a client message is a `connection_init` (a second one closes a first-message socket
/// with 4429).
fn is_init(msg: &Message) -> bool {
    let Message::Text(t) = msg else { return false };
    serde_json::from_str::<serde_json::Value>(t.as_str())
        .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("connection_init"))
}

/// Why the server closes a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Expired,
    Logout,
    Kicked,
    Shutdown,
}

/// Keeps `ws_open` right however the socket task ends.
struct OpenSocket(Arc<AppState>);

impl OpenSocket {
    fn new(state: Arc<AppState>) -> Self {
        Counters::inc(&state.auth.stats.ws_total);
        state
            .auth
            .stats
            .ws_open
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        OpenSocket(state)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0
            .auth
            .stats
            .ws_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether the socket's session (or its access token) has ended, as the server tells its channels:
/// an end the server does not tell ([`RevokeCause::told`]: a kick under `no-kick`, a logout under
/// `silent-logout`) is never told, neither through the revocation's notification (there is none)
/// nor when a channel opens or looks again later.
pub(crate) fn session_end(p: &Principal, flaws: &Flaws) -> Option<End> {
    let family = p.family.as_ref()?;
    match family.revoked() {
        Some(cause) if !cause.told(*flaws) => None,
        Some(RevokeCause::Kicked) => Some(End::Kicked),
        Some(_) => Some(End::Logout),
        None => p
            .access
            .filter(|(seq, jti)| family.access_revoked(*seq, *jti))
            .map(|_| End::Logout),
    }
}

async fn changed(rx: &mut Option<watch::Receiver<()>>) -> bool {
    match rx {
        Some(rx) => rx.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn send_json(socket: &mut WebSocket, value: serde_json::Value) -> bool {
    socket.send(Message::text(value.to_string())).await.is_ok()
}

async fn run(
    mut socket: WebSocket,
    state: Arc<AppState>,
    principal: Principal,
    permit: Option<Permit>,
) {
    let _open = OpenSocket::new(state.clone());
    // Ends with this listening period: on shutdown or an outage the socket closes with 1001.
    let up = state.outage.up();
    let Some(_permit) = permit else {
        Counters::inc(&state.auth.stats.ws_over_capacity);
        close_socket(&mut socket, close::TRY_AGAIN_LATER, "over capacity").await;
        return;
    };
    let cfg = &state.auth.cfg;
    // Subscribe, then check the state once: a revocation after this check shows only through its
    // notification, also one that lands while the welcome is being sent (`no-kick`: a kick shows
    // through neither).
    let mut events = principal.family.as_ref().map(|f| f.subscribe());
    let mut end = session_end(&principal, &state.auth.flaws);
    let session_id = principal.family.as_ref().map(|f| f.sid_str.to_string());
    if !send_json(
        &mut socket,
        serde_json::json!({ "type": "welcome", "session_id": session_id }),
    )
    .await
    {
        return;
    }
    let expiry = if state.auth.flaws.has(Flaw::WsStaysOpenAfterExpiry) {
        None
    } else {
        // A far-future exp (only possible through a flaw) means no timer rather than an overflow.
        principal.expires_ms.and_then(|exp| {
            Instant::now().checked_add(Duration::from_millis(exp.saturating_sub(now_ms())))
        })
    };
    let mut ticker = (!cfg.ws_tick.is_zero()).then(|| {
        let mut i = tokio::time::interval_at(Instant::now() + cfg.ws_tick, cfg.ws_tick);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let mut seq: u64 = 0;
    while end.is_none() {
        // Biased: when a revocation and the token's expiry are both ready (a busy server), the
        // revocation is the cause the socket reports.
        tokio::select! {
            biased;
            _ = up.cancelled() => end = Some(End::Shutdown),
            alive = changed(&mut events) => {
                if alive {
                    end = session_end(&principal, &state.auth.flaws);
                } else {
                    events = None;
                }
            }
            _ = sleep_until(expiry) => end = Some(End::Expired),
            _ = tick(&mut ticker) => {
                seq += 1;
                if !send_json(&mut socket, serde_json::json!({ "type": "tick", "seq": seq })).await {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) => return,
                Some(Ok(Message::Close(_))) => {
                    drain(&mut socket).await;
                    return;
                }
                Some(Ok(m)) if cfg.ws_auth == WsAuth::FirstMessage && is_init(&m) => {
                    close_socket(&mut socket, close::TOO_MANY_INITS, "Too many initialisation requests").await;
                    return;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    if let Some(end) = end {
        if matches!(end, End::Logout | End::Kicked) && state.auth.flaws.has(Flaw::NoCloseAfterEvent)
        {
            let kind = if end == End::Kicked {
                "kicked"
            } else {
                "logout"
            };
            if send_json(&mut socket, serde_json::json!({ "type": kind })).await {
                // Told, never closed: the socket stays until the client goes (or the server does).
                tokio::select! {
                    _ = up.cancelled() => {
                        close_socket(&mut socket, close::GOING_AWAY, "server shutting down").await;
                    }
                    _ = async { while let Some(Ok(_)) = socket.recv().await {} } => {}
                }
            }
            return;
        }
        finish(&mut socket, &state, end).await;
    }
}

/// Sends the end-of-session event and the close frame, then completes the close handshake.
async fn finish(socket: &mut WebSocket, state: &AppState, end: End) {
    let stats = &state.auth.stats;
    let (code, event, reason) = match end {
        End::Expired => {
            Counters::inc(&stats.ws_expired_closes);
            (
                close::SESSION_EXPIRED,
                Some("session_expired"),
                "session expired",
            )
        }
        End::Logout => {
            Counters::inc(&stats.ws_logout_closes);
            (close::LOGOUT, Some("logout"), "logged out")
        }
        End::Kicked => {
            Counters::inc(&stats.kicks);
            (close::KICKED, Some("kicked"), "replaced by a newer login")
        }
        End::Shutdown => (close::GOING_AWAY, None, "server shutting down"),
    };
    let (code, event) = if end != End::Shutdown && state.auth.flaws.has(Flaw::WrongCloseCode) {
        (close::NORMAL, None)
    } else {
        (code, event)
    };
    let (code, event, reason) = if matches!(end, End::Logout | End::Kicked)
        && state.auth.flaws.has(Flaw::GenericSessionEnd)
    {
        (close::LOGOUT, None, "session ended")
    } else {
        (code, event, reason)
    };
    let code = if end == End::Logout && state.auth.flaws.has(Flaw::IllegalCloseCode) {
        close::ABNORMAL
    } else {
        code
    };
    if let Some(kind) = event
        && !send_json(socket, serde_json::json!({ "type": kind })).await
    {
        return;
    }
    close_socket(socket, code, reason).await;
}

async fn close_socket(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        drain(socket).await;
    }
}

/// Reads until the connection is done, so the close handshake completes before the TCP
/// connection is dropped (returning early resets the connection).
async fn drain(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}
