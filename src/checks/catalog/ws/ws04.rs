//! WS-04: kick-off. When the same user logs in elsewhere and the target ends the older session
//! (single-session policy), the old socket gets the `kicked` event and a terminal close code, and
//! the old credential no longer opens a socket. SKIP when the target keeps concurrent sessions.

use super::{ExpectedClose, close_wait, open_ready};
use crate::checks::catalog::prelude::*;
use crate::checks::wsprobe::{self, WsEnd, WsOpen};
use crate::profile::{CloseClass, WsEvent};

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "WS-04",
        title: "A login elsewhere kicks the old socket",
        summary: "Hold a socket, log the same user in again (N times with `session.max_sessions: N` declared): the old socket gets a kicked event and a terminal close code (4409) within 3 s, and reconnecting with the old token is refused (401/403). SKIP without a single-session policy.",
        requirements: &["RFC6455-7.4.2", "ASVS5-7.4.1"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::WebSocket, Need::SingleSession],
    },
    run: |p| Box::pin(run(p)),
};

/// How long the kick may take (less when the old access token expires sooner: its expiry close
/// must not be mistaken for a kick).
pub const KICK_WAIT: Duration = Duration::from_secs(3);

async fn run(p: Arc<Probe>) -> Verdict {
    // A declared limit of N sessions (`session.max_sessions`) ends the oldest at the N-th login
    // after it; undeclared, one more login is the single-session kick.
    let limit = match p.profile().max_sessions().and_then(|m| m.limit()) {
        Some(n) => n.clamp(1, crate::checks::catalog::ss::ss01::MAX_TESTED_LIMIT),
        None => 1,
    };
    let old = crate::checks::catalog::ss::oldest_at_the_limit(&p, limit, "RT-01").await?;
    let mut conn = open_ready(&p, "socket of the first session", old.at()).await?;
    let wait = close_wait(KICK_WAIT, old.tokens.expires_at);
    let _new = p.login(0).await?;
    let trigger = Instant::now();
    let (events, end) = conn.until_close(trigger + wait).await;
    let latency = trigger.elapsed();
    drop(conn);
    let old_api = p
        .api(
            "resource call with the first session's access token",
            old.at(),
        )
        .await?;
    let mut f = Findings::new();
    match end {
        WsEnd::Timeout if old_api.ok() => {
            return Err(Stop::skip(format!(
                "{}: after a second login the first session's access token still works and its socket stays open",
                Need::SingleSession.reason()
            )));
        }
        WsEnd::Timeout => {
            let told = if events.contains(&WsEvent::Kicked) {
                "the kicked event came, but no close frame"
            } else {
                "no kick"
            };
            f.warn(
                "ASVS5-7.4.1",
                format!(
                    "the first session was ended (its access token gets {}) but its socket stayed open {} after the second login: {told}",
                    old_api.status,
                    secs(wait)
                ),
            );
        }
        WsEnd::Dropped(e) => {
            f.warn(
                "RFC6455-7.4.2",
                format!("the old socket was dropped without a close frame: {e}"),
            );
        }
        WsEnd::Closed(close) => {
            f.info(
                "",
                format!("kicked {} after the second login", secs(latency)),
            );
            let expected = ExpectedClose {
                event: WsEvent::Kicked,
                event_name: "kicked",
                without_event: ": the client cannot tell why it was closed",
                class: CloseClass::Terminal,
            };
            expected.judge(&p, &mut f, &events, &close);
            f.expect(
                close.reason.len() <= 123,
                Status::Warn,
                "RFC6455-5.5",
                format!("close reason of {} bytes", close.reason.len()),
            );
        }
    }
    match wsprobe::connect(
        &p,
        "reconnect with the first session's access token",
        Some(old.at()),
    )
    .await
    {
        WsOpen::Open(c) => {
            drop(c);
            f.warn(
                "ASVS5-7.4.1",
                "the first session's access token still opens a socket after the kick",
            );
        }
        WsOpen::Refused(status) => {
            f.expect(
                matches!(status, 401 | 403),
                Status::Warn,
                "ASVS5-7.4.1",
                format!("reconnecting with the old access token is refused ({status})"),
            );
        }
        WsOpen::RefusedByClose(code) => {
            let class = p
                .profile()
                .ws()
                .map(|w| w.close_codes.classify(code))
                .unwrap_or(CloseClass::ProtocolError);
            f.expect(
                matches!(
                    class,
                    CloseClass::Terminal | CloseClass::RefreshThenReconnect
                ),
                Status::Warn,
                "ASVS5-7.4.1",
                format!(
                    "reconnecting with the old access token is answered by close {code} ({})",
                    class.name()
                ),
            );
        }
        WsOpen::RefusedByMessage => f.pass(
            "ASVS5-7.4.1",
            "reconnecting with the old access token is refused in a message (ws.token.reject)",
        ),
        WsOpen::Failed(e) => return Err(Stop::error(format!("reconnect failed: {e}"))),
    }
    Ok(f)
}
