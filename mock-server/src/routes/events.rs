//! The session events of `/ws` on two more channels: `GET /events` (Server-Sent Events) and
//! `POST /push/register` (a device token for mobile push, delivered by [`crate::push`]).
//!
//! `GET /events`: the access token comes from `?access_token=` or `Authorization: Bearer`; no
//! valid token → the same 401 as `/api/me`. The stream (`text/event-stream`) carries, with
//! `event:` naming the type and `data:` the same JSON as on the WebSocket:
//! `welcome` (first, with `retry: 1000`), `tick` every `--ws-tick`, and when the session ends one of
//! `session_expired` (the stream's access token expired: refresh, reconnect), `logout` (logout,
//! revocation, admin logout, reuse detection) or `kicked` (a login elsewhere with
//! `--single-session`), after which the server ends the stream. On shutdown or an outage the
//! stream ends without an event (the client reconnects). Each stream waits on its session's watch
//! channel, like a socket, so the revocation that kicks sockets ends streams too.
//!
//! Event ids are `<session_id>.<n>`, numbered per session across reconnects: a reconnect that
//! sends `Last-Event-ID` of the same session continues the numbering (`sse_resumes`). A client
//! whose stream was down when its session was revoked learns why on resume: its (now refused)
//! access token plus a `Last-Event-ID` of that session gets the missed `kicked`/`logout` event
//! instead of the 401; without `Last-Event-ID` it gets the 401. With the `no-kick` flaw no stream
//! learns of a kick: not through a notification, not when it starts, not on resume.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

use super::api::resource_rejection;
use super::guard::Payload;
use super::ws::{End, session_end};
use super::{AppState, bearer, json, json_error, query_param};
use crate::auth::{AuthError, Principal};
use crate::config::Op;
use crate::flaws::Flaw;
use crate::push::MAX_DEVICE_TOKEN;
use crate::stats::Counters;
use crate::store::RevokeCause;
use crate::tokens::{VerifyPolicy, id_string, now_ms};

/// The reconnection delay the stream announces (`retry:`), in milliseconds.
pub const RETRY_MS: u64 = 1000;
/// Events buffered per stream between its task and the connection.
const DEPTH: usize = 8;

/// `Last-Event-ID` split into the session id and the event number.
fn last_event_id(headers: &HeaderMap) -> Option<(String, u64)> {
    let v = headers.get("last-event-id")?.to_str().ok()?;
    let (sid, n) = v.trim().rsplit_once('.')?;
    Some((sid.to_string(), n.parse().ok()?))
}

/// One event: `event: <kind>`, `id: <sid>.<n>`, `data: {"type": kind, ...}`.
fn event(kind: &str, sid: &str, n: u64, mut data: serde_json::Value) -> Event {
    data["type"] = kind.into();
    Event::default()
        .event(kind)
        .id(format!("{sid}.{n}"))
        .data(data.to_string())
}

/// The response of a stream fed by a channel (a keep-alive comment every 15 s while idle).
fn stream_of(rx: mpsc::Receiver<Event>) -> Response {
    let mut rx = rx;
    let s =
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok::<_, Infallible>)));
    Sse::new(s).keep_alive(KeepAlive::default()).into_response()
}

/// `GET /events`. The faults of `sse` apply before anything else, as on the routes admitted by
/// the guard; a `capacity:sse=N` permit is held by the stream as long as it is open (past N open
/// streams a request gets 503), as a socket holds its `capacity:ws` permit.
pub async fn events(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Response {
    let permit = match state.faults.admit(Op::Sse, &state.auth.stats).await {
        Ok(permit) => permit,
        Err(refusal) => return refusal.into_response(),
    };
    let token =
        query_param(uri.query(), "access_token").or_else(|| bearer(&headers).map(str::to_string));
    let resume = last_event_id(&headers);
    let principal = match state.auth.authenticate(token.as_deref()) {
        Ok(p) => p,
        Err(AuthError::SessionRevoked(cause)) => {
            if let Some(replay) = replay(&state, token.as_deref(), resume.as_ref(), cause) {
                Counters::inc(&state.auth.stats.sse_resumes);
                return replay;
            }
            Counters::inc(&state.auth.stats.sse_rejected);
            return resource_rejection(&state, AuthError::SessionRevoked(cause));
        }
        Err(e) => {
            Counters::inc(&state.auth.stats.sse_rejected);
            return resource_rejection(&state, e);
        }
    };
    let Some(family) = principal.family.as_ref() else {
        return json_error(StatusCode::UNAUTHORIZED, "invalid_token", "no session");
    };
    let sid = family.sid_str.to_string();
    let first = match resume {
        Some((s, n)) if s == sid => {
            Counters::inc(&state.auth.stats.sse_resumes);
            n.saturating_add(1)
        }
        _ => 1,
    };
    Counters::inc(&state.auth.stats.sse_total);
    let (tx, rx) = mpsc::channel(DEPTH);
    let task_state = state.clone();
    state.tracker.spawn(async move {
        let _permit = permit;
        run(tx, task_state, principal, sid, first).await
    });
    stream_of(rx)
}

/// The missed end of a revoked session, for a resume of that session (see the module docs).
fn replay(
    state: &AppState,
    token: Option<&str>,
    resume: Option<&(String, u64)>,
    cause: RevokeCause,
) -> Option<Response> {
    let (sid, n) = resume?;
    let claims = state
        .auth
        .access
        .verify(token?, VerifyPolicy::default())
        .ok()?;
    if id_string(claims.sid) != *sid {
        return None;
    }
    let kind = match cause {
        // `no-kick`, `silent-logout`: an end the server never told is not told on resume either.
        c if !c.told(state.auth.flaws) => return None,
        RevokeCause::Kicked => "kicked",
        _ => "logout",
    };
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.try_send(event(kind, sid, n.saturating_add(1), serde_json::json!({})));
    Some(stream_of(rx))
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// One stream: welcome, ticks, then the session's end (see the module docs).
async fn run(
    tx: mpsc::Sender<Event>,
    state: Arc<AppState>,
    principal: Principal,
    sid: String,
    mut n: u64,
) {
    let up = state.outage.up();
    let Some(family) = principal.family.as_ref() else {
        return;
    };
    // Subscribe, then check the state once: a revocation after this check shows only through its
    // notification, also one that lands while the welcome is being sent (`no-kick`: a kick shows
    // through neither).
    let mut events = family.subscribe();
    let mut end = session_end(&principal, &state.auth.flaws);
    let welcome = event(
        "welcome",
        &sid,
        n,
        serde_json::json!({ "session_id": &sid }),
    )
    .retry(Duration::from_millis(RETRY_MS));
    if tx.send(welcome).await.is_err() {
        return;
    }
    let expiry = if state.auth.flaws.has(Flaw::WsStaysOpenAfterExpiry) {
        None
    } else {
        principal.expires_ms.and_then(|exp| {
            Instant::now().checked_add(Duration::from_millis(exp.saturating_sub(now_ms())))
        })
    };
    let every = state.auth.cfg.ws_tick;
    let mut ticker = (!every.is_zero()).then(|| {
        let mut i = tokio::time::interval_at(Instant::now() + every, every);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let mut seq: u64 = 0;
    while end.is_none() {
        tokio::select! {
            _ = up.cancelled() => return,
            _ = tx.closed() => return,
            changed = events.changed() => {
                if changed.is_err() {
                    return;
                }
                end = session_end(&principal, &state.auth.flaws);
            }
            _ = sleep_until(expiry) => end = Some(End::Expired),
            _ = tick(&mut ticker) => {
                seq += 1;
                n += 1;
                if tx.send(event("tick", &sid, n, serde_json::json!({ "seq": seq }))).await.is_err() {
                    return;
                }
            }
        }
    }
    let kind = match end {
        Some(End::Expired) => "session_expired",
        Some(End::Kicked) => "kicked",
        Some(End::Logout) => "logout",
        Some(End::Shutdown) | None => return,
    };
    // wrong-close-code: the stream just ends, as the socket closes with 1000 and no event.
    if !state.auth.flaws.has(Flaw::WrongCloseCode) {
        let _ = tx
            .send(event(kind, &sid, n + 1, serde_json::json!({})))
            .await;
    }
}

/// The body of `POST /push/register`.
#[derive(serde::Deserialize)]
struct Register {
    token: String,
}

/// `POST /push/register` `{"token": "<device token>"}` with `Authorization: Bearer <AT>`.
pub async fn register(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Payload(body): Payload,
) -> Response {
    let principal = match state.auth.authenticate(bearer(&headers)) {
        Ok(p) => p,
        Err(e) => return resource_rejection(&state, e),
    };
    let Some(pusher) = state.push.as_ref() else {
        return json_error(
            StatusCode::NOT_IMPLEMENTED,
            "push_disabled",
            "push is off: start the mock with --push-url",
        );
    };
    let token = match serde_json::from_slice::<Register>(&body) {
        Ok(r) => r.token,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("expected {{\"token\": \"<device token>\"}}: {e}"),
            );
        }
    };
    if token.is_empty()
        || token.len() > MAX_DEVICE_TOKEN
        || token.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the device token must be 1 to 4096 characters without spaces",
        );
    }
    let Some(family) = principal.family.clone() else {
        return json_error(StatusCode::UNAUTHORIZED, "invalid_token", "no session");
    };
    let sid = family.sid_str.to_string();
    pusher.register(&state, family, token);
    json(
        StatusCode::OK,
        &serde_json::json!({ "registered": true, "session_id": sid }),
    )
}
