//! WS-02: a logout reaches the session's socket. When the user logs out, the socket of that
//! session gets the `logout` event and a terminal close code, instead of living on as a session
//! the user ended. SKIP when the logout leaves the access token valid (stateless access tokens:
//! the socket then lives as long as its token, which WS-03 judges).

use super::{ExpectedClose, close_wait, open_ready};
use crate::checks::catalog::prelude::*;
use crate::checks::wsprobe::WsEnd;
use crate::profile::{CloseClass, WsEvent};

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "WS-02",
        title: "A logout closes the session's socket",
        summary: "Hold a socket, log its session out with the profile's logout request: the socket gets a logout event and a terminal close code (4403) within 3 s. SKIP when the access token still works after the logout (the socket then lives as long as its token: WS-03).",
        requirements: &["ASVS5-7.4.1", "RFC6455-7.4.2"],
        level: Level::Should,
        destructive: false,
        needs: &[Need::WebSocket, Need::Logout],
    },
    run: |p| Box::pin(run(p)),
};

/// How long the logout's close may take (less when the access token expires sooner: its expiry
/// close must not be mistaken for the logout's).
const CLOSE_WAIT: Duration = Duration::from_secs(3);

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let mut conn = open_ready(&p, "socket of the session to log out", s.at()).await?;
    let wait = close_wait(CLOSE_WAIT, s.tokens.expires_at);
    let Some(logout) = p.logout("logout of the socket's session", &s.tokens).await else {
        return Err(Stop::skip(Need::Logout.reason()));
    };
    let logout = logout?;
    if !logout.ok() {
        return Err(Stop::error(format!(
            "the logout was answered {}; see the transcript",
            logout.status
        )));
    }
    let trigger = Instant::now();
    let (events, end) = conn.until_close(trigger + wait).await;
    let latency = trigger.elapsed();
    drop(conn);
    let mut f = Findings::new();
    match end {
        WsEnd::Timeout => {
            let api = p
                .api("resource call with the logged-out access token", s.at())
                .await?;
            if api.ok() {
                return Err(Stop::skip(format!(
                    "the access token still works after the logout (stateless access tokens): its socket lives as long as the token, which WS-03 judges; it stayed open {}",
                    secs(wait)
                )));
            }
            // What the socket was told decides the message, not the verdict: open is open.
            let told = if events.contains(&WsEvent::Logout) {
                "the logout event came, but no close frame"
            } else {
                "told nothing"
            };
            f.warn(
                "ASVS5-7.4.1",
                format!(
                    "the session was logged out (its access token gets {}) but its socket stayed open {} after the logout, {told}",
                    api.status,
                    secs(wait)
                ),
            );
        }
        WsEnd::Dropped(e) => {
            f.warn(
                "RFC6455-7.4.2",
                format!("the socket was dropped without a close frame: {e}"),
            );
        }
        WsEnd::Closed(close) => {
            f.info("", format!("closed {} after the logout", secs(latency)));
            let expected = ExpectedClose {
                event: WsEvent::Logout,
                event_name: "logout",
                without_event: ": the client cannot tell it was logged out",
                class: CloseClass::Terminal,
            };
            expected.judge(&p, &mut f, &events, &close);
        }
    }
    Ok(f)
}
