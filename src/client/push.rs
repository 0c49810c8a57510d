//! The push channel (`client.channel: push`): mobile push as a webhook, measured.
//!
//! A phone app does not hold a socket to learn that its session ended: the server sends a push
//! message through a provider (FCM, APNs) to the device. authbench plays the provider and the
//! devices:
//!
//! - [`PushReceiver`]: an HTTP server on loopback (port 0 unless `client.push_listen` says
//!   otherwise) that accepts what a server sends to FCM, `POST /v1/projects/{project}/messages:send`
//!   with `{"message": {"token": "<device token>", "data": {...}}}`, and answers as FCM does: 200
//!   `{"name": "projects/{project}/messages/{n}"}`; 401 `UNAUTHENTICATED` without a bearer
//!   credential; 400 `INVALID_ARGUMENT` for a body without `message.token`; 404 `UNREGISTERED`
//!   for a token no client registered (`pushes_unrouted`). With the builtin target the mock gets
//!   `--push-url` [`PushReceiver::send_url`] automatically; a real server is pointed at it by
//!   configuring its FCM endpoint.
//! - [`register`]: each client (device) makes up a device token, routes it to its session's kick
//!   clock at the receiver, then registers it with the server through the profile's
//!   `push.register` request (`push_registrations`, `push_register_failed`).
//!
//! A pushed message is classified by the profile's `push.events` (default: `data.type` of the
//! FCM message) and counted `push_events.<type>`. `kicked`/`logout` end the session as the same
//! event on a WebSocket does ([`channel_end`]): the session notices at once
//! (`notice_latency.<cause>.push_message`, the reason the message names), then the session's kick
//! clock is signalled, giving `push_latency` (trigger → message received) and, for armed clocks no
//! message reached, `missed_pushes`. Every registration's end is counted `ended.<reason>`
//! ([`push_end`]): `session_ended` when such a message had arrived before the run closed it,
//! `stopped` when none had, `refused` or `no_token` when it never registered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Channel;
use super::channel_end::{self, Ending};
use super::push_end::{EndOnce, PushEnd};
use super::session::Session;
use super::ws::{KickClock, WsTokens};
use crate::metrics::Recorder;
use crate::metrics::names::{
    self, PUSH_REGISTER_FAILED, PUSH_REGISTRATIONS, PUSHES_RECEIVED, PUSHES_UNROUTED,
};
use crate::profile::{PushProfile, WsEvent};

/// The FCM project name in the receiver's URL.
pub const PROJECT: &str = "authbench";
/// Largest accepted message body (FCM's own limit is 4 KiB of payload).
const MAX_BODY: usize = 64 * 1024;

/// Where a device token's messages go.
struct Route {
    kick: Arc<KickClock>,
    shard: usize,
    session: Arc<Session>,
    /// The registration's end, shared with its [`PushHandle`].
    life: Arc<EndOnce>,
}

/// What the receiver's handler shares.
struct Inner {
    routes: Mutex<HashMap<String, Route>>,
    recorder: Recorder,
    /// The profile's push settings (event names), set when the run starts.
    profile: OnceLock<PushProfile>,
    next_message: AtomicU64,
    next_token: AtomicU64,
    /// Distinguishes this run's device tokens from another run's.
    nonce: u64,
}

/// authbench's push receiver (see the module docs). Dropping it stops it.
pub struct PushReceiver {
    addr: SocketAddr,
    inner: Arc<Inner>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for PushReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushReceiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl PushReceiver {
    /// Binds `addr` (`127.0.0.1:0` for a free port) and starts serving, recording into
    /// `recorder`.
    pub async fn start(addr: SocketAddr, recorder: Recorder) -> std::io::Result<PushReceiver> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            routes: Mutex::new(HashMap::new()),
            recorder,
            profile: OnceLock::new(),
            next_message: AtomicU64::new(1),
            next_token: AtomicU64::new(1),
            nonce: rand::random(),
        });
        let app = axum::Router::new()
            .route(
                "/v1/projects/{project}/messages:send",
                axum::routing::post(receive),
            )
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(inner.clone());
        let stop = CancellationToken::new();
        let until = stop.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await;
        });
        Ok(PushReceiver {
            addr,
            inner,
            stop,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a server sends its push messages to (its FCM endpoint, the mock's `--push-url`).
    pub fn send_url(&self) -> String {
        format!("http://{}/v1/projects/{PROJECT}/messages:send", self.addr)
    }

    /// Uses the target profile's push settings to read messages (call once, before registering).
    pub fn use_profile(&self, push: &PushProfile) {
        let _ = self.inner.profile.set(push.clone());
    }

    /// Device tokens currently routed.
    pub fn routes(&self) -> usize {
        self.inner.routes.lock().len()
    }

    /// Stops serving and waits (bounded) for the server task.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
    }
}

impl Drop for PushReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// One client's registration: its device token stays routed until [`PushHandle::close`] (or the
/// handle is dropped), which counts how it ended (`ended.<reason>`, [`push_end`]).
#[derive(Debug)]
pub struct PushHandle {
    token: String,
    registered: bool,
    shard: usize,
    life: Arc<EndOnce>,
    inner: Arc<Inner>,
}

impl PushHandle {
    /// Whether the server accepted the registration and the route is still there.
    pub fn is_open(&self) -> bool {
        self.registered && self.inner.routes.lock().contains_key(&self.token)
    }

    /// Stops routing this device's messages (later ones count as `pushes_unrouted`) and counts
    /// how the registration ended, once: `session_ended` when a `kicked`/`logout` message had
    /// arrived for it, else `stopped` (a refused registration was counted when it was refused).
    pub fn close(&self) {
        self.inner.routes.lock().remove(&self.token);
        self.life
            .count(&self.inner.recorder, self.shard, self.life.on_close());
    }
}

impl Drop for PushHandle {
    /// A registration dropped without [`PushHandle::close`] ends the same way: every
    /// registration's end is counted.
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushReceiver")
    }
}

/// Makes up a device token for `session`, routes it to `kick`, and registers it with the server.
/// A failed registration counts `push_register_failed`; the device then never gets a push, so if
/// the scenario ends its session, that is a missed push: a server that refuses registrations
/// cannot pass on `missed_pushes`.
pub async fn register(
    receiver: &PushReceiver,
    session: &Arc<Session>,
    kick: Arc<KickClock>,
) -> PushHandle {
    let inner = &receiver.inner;
    let shard = session.id() as usize;
    let n = inner.next_token.fetch_add(1, Ordering::Relaxed);
    let token = format!("authbench-{:016x}-{}-{n}", inner.nonce, session.id());
    let life = Arc::new(EndOnce::default());
    inner.routes.lock().insert(
        token.clone(),
        Route {
            kick: kick.clone(),
            shard,
            session: session.clone(),
            life: life.clone(),
        },
    );
    let registered = match session.register_push(&token).await {
        Ok(()) => {
            inner.recorder.count(shard, PUSH_REGISTRATIONS, 1);
            true
        }
        Err(why) => {
            tracing::debug!(client = session.id(), "push registration failed: {why}");
            inner
                .recorder
                .count_channel_failure(shard, PUSH_REGISTER_FAILED);
            inner.recorder.count(shard, names::CHANNELS_NEVER_OPENED, 1);
            inner.routes.lock().remove(&token);
            life.count(&inner.recorder, shard, PushEnd::from(why));
            false
        }
    };
    PushHandle {
        token,
        registered,
        shard,
        life,
        inner: inner.clone(),
    }
}

/// An FCM-style error body.
fn fcm_error(status: StatusCode, fcm_status: &str, message: &str, code: Option<&str>) -> Response {
    let mut body = serde_json::json!({
        "error": { "code": status.as_u16(), "message": message, "status": fcm_status }
    });
    if let Some(code) = code {
        body["error"]["details"] = serde_json::json!([{
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": code,
        }]);
    }
    (status, axum::Json(body)).into_response()
}

/// `POST /v1/projects/{project}/messages:send`.
async fn receive(
    State(inner): State<Arc<Inner>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let at = Instant::now();
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, cred)| scheme.eq_ignore_ascii_case("bearer") && !cred.is_empty());
    if !authorized {
        return fcm_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request is missing required authentication credential.",
            None,
        );
    }
    let msg: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return fcm_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "The request body is not JSON.",
                Some("INVALID_ARGUMENT"),
            );
        }
    };
    let Some(token) = msg.pointer("/message/token").and_then(|t| t.as_str()) else {
        return fcm_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "The message has no token (only device-token targets are routed).",
            Some("INVALID_ARGUMENT"),
        );
    };
    let route = inner
        .routes
        .lock()
        .get(token)
        .map(|r| (r.kick.clone(), r.shard, r.session.clone(), r.life.clone()));
    let Some((kick, shard, session, life)) = route else {
        inner.recorder.count(0, PUSHES_UNROUTED, 1);
        return fcm_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
            Some("UNREGISTERED"),
        );
    };
    let rec = &inner.recorder;
    rec.count(shard, PUSHES_RECEIVED, 1);
    let event = match inner.profile.get() {
        Some(p) => p.classify(&msg),
        None => msg
            .pointer(PushProfile::TYPE_POINTER)
            .and_then(|t| t.as_str())
            .map(|t| WsEvent::Other(t.to_string())),
    };
    let label = match &event {
        Some(WsEvent::Kicked) => "kicked",
        Some(WsEvent::Logout) => "logout",
        Some(WsEvent::SessionExpired) => "session_expired",
        _ => "other",
    };
    rec.count(shard, &names::push_event(label), 1);
    if let Some(ending) = event.as_ref().and_then(Ending::of) {
        // The session is told first, the kick clock second (see `client::channel_end`).
        let end = channel_end::tell(&*session, Channel::Push, ending);
        life.session_ended(end);
        kick.signal(at);
        WsTokens::session_ended(&*session, end);
    }
    let n = inner.next_message.fetch_add(1, Ordering::Relaxed);
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "name": format!("projects/{project}/messages/{n}") })),
    )
        .into_response()
}
