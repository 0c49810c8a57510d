//! `SS-*`: sessions per user — the declared session policy (`session.max_sessions`) is enforced,
//! logout everywhere ends every session and closes every socket, and a logout ends only its own
//! session under a multi-session policy; and whether a client can tell why its session ended
//! (SS-04).

pub mod ss01;
pub mod ss02;
pub mod ss03;
pub mod ss04;

use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;
use crate::checks::wsprobe::{Close, WsConn, WsEnd};
use crate::profile::{CloseClass, MaxSessions};

/// How long a socket may take to close after the event that ends its session.
pub const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// A socket that closed at its token's expiry at least this long after the event that should
/// have closed it was left open by that event (a loopback kick takes milliseconds).
pub const NOT_CLOSED_AFTER: Duration = Duration::from_millis(500);

/// The declared session policy, or a SKIP naming the key to declare.
pub fn declared_policy(p: &Probe) -> Result<MaxSessions, Stop> {
    p.profile()
        .max_sessions()
        .ok_or_else(|| Stop::skip(Need::SessionPolicy.reason()))
}

/// How long to wait for a socket of `session` to close: [`CLOSE_WAIT`], less when its access
/// token expires sooner (the expiry close must not be taken for the close under test).
pub fn close_wait(session: &Session) -> Duration {
    match session.tokens.expires_at {
        Some(exp) => CLOSE_WAIT
            .min(until(exp).saturating_sub(Duration::from_millis(200)))
            .max(Duration::from_millis(300)),
        None => CLOSE_WAIT,
    }
}

/// Opens a socket for `session` when the profile has a WebSocket (`None` without one).
pub async fn socket_for(
    p: &Arc<Probe>,
    label: &str,
    session: &Session,
) -> Result<Option<Box<WsConn>>, Stop> {
    if p.profile().ws().is_none() {
        return Ok(None);
    }
    super::ws::open_ready(p, label, session.at())
        .await
        .map(Some)
}

/// The user's oldest session with the user at its session `limit`: logs in the oldest, then
/// `limit - 1` more sessions (none is ended yet), then — when there were more — refreshes the
/// oldest so that its access token is fresh for the socket that watches the next login (access
/// tokens may be short). The next login of user 0 is the one beyond the limit.
pub async fn oldest_at_the_limit(p: &Probe, limit: u32, judged_by: &str) -> Result<Session, Stop> {
    oldest_with_twin(p, limit, judged_by, None)
        .await
        .map(|(oldest, _)| oldest)
}

/// [`oldest_at_the_limit`] with a [`Twin`] of user `twin` (when given), logged in and refreshed
/// in the same instants as the oldest session.
pub async fn oldest_with_twin(
    p: &Probe,
    limit: u32,
    judged_by: &str,
    twin: Option<u64>,
) -> Result<(Session, Option<Twin>), Stop> {
    let (oldest, twin) = match twin {
        Some(k) => Twin::alongside(p, k, p.login(0)).await?,
        None => (p.login(0).await?, None),
    };
    if limit <= 1 {
        return Ok((oldest, twin));
    }
    for _ in 1..limit {
        p.login(0).await?;
    }
    let old_rt = oldest.rt()?;
    let ((reply, resp), twin) = Twin::judge_along(
        twin,
        p,
        p.refresh_reply(
            "refresh the oldest session (a fresh access token for its socket)",
            &old_rt,
        ),
    )
    .await?;
    let mut tokens = premise(
        reply,
        &resp,
        "the oldest session's refresh within the limit",
        judged_by,
    )?;
    let twin = twin.kept()?;
    if tokens.refresh_token.is_none() {
        tokens.refresh_token = oldest.tokens.refresh_token.clone();
    }
    Ok((
        Session {
            tokens,
            resp,
            at: Instant::now(),
            ..oldest
        },
        twin,
    ))
}

/// How a socket ended after the event under test.
pub enum SocketEnd {
    /// The server closed it (close frame, or the connection ended) — not by an expiry close.
    Closed(Duration),
    /// It closed with a refresh-then-reconnect code (its token expired), this long after the
    /// trigger: not by the event.
    Expired(Close, Duration),
    /// Still open at the deadline.
    Open,
}

/// Waits until `conn` ends or `wait` passes after `trigger`.
pub async fn socket_end(
    p: &Probe,
    conn: &mut WsConn,
    trigger: Instant,
    wait: Duration,
) -> SocketEnd {
    let (_, end) = conn.until_close(trigger + wait).await;
    let took = trigger.elapsed();
    match end {
        WsEnd::Timeout => SocketEnd::Open,
        WsEnd::Dropped(_) => SocketEnd::Closed(took),
        WsEnd::Closed(close) => {
            let class = close
                .code
                .and_then(|c| p.profile().ws().map(|w| w.close_codes.classify(c)));
            if class == Some(CloseClass::RefreshThenReconnect) {
                SocketEnd::Expired(close, took)
            } else {
                SocketEnd::Closed(took)
            }
        }
    }
}

/// Whether `session` has reached the end its login announced (`refresh_expires_in`): a refused
/// refresh then proves nothing about the event under test (a slow run on a target with short
/// sessions).
pub fn ended_as_announced(session: &Session) -> bool {
    json_number(&session.resp, "refresh_expires_in")
        .filter(|s| *s > 0.0)
        .is_some_and(|s| session.at.elapsed().as_secs_f64() >= s)
}
