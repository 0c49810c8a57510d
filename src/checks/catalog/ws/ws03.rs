//! WS-03: a socket does not outlive its access token: at expiry the server sends its
//! `session_expired` event and closes with a code the profile classifies as "refresh, then
//! reconnect" (4401 for the authbench profile).

use super::{ExpectedClose, open_ready};
use crate::checks::catalog::prelude::*;
use crate::checks::wsprobe::WsEnd;
use crate::profile::{CloseClass, WsEvent};

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "WS-03",
        title: "A socket is closed when its access token expires",
        summary: "Hold a socket past its access token's exp: a session_expired event, then a close code of class refresh_then_reconnect (4401), within 3 s; never silent continuation.",
        requirements: &["ASVS5-7.4.1", "RFC6455-7.4.2"],
        level: Level::Should,
        destructive: false,
        needs: &[Need::WebSocket, Need::ShortAccessTokens],
    },
    run: |p| Box::pin(run(p)),
};

/// How long past `exp` the close may take.
pub const GRACE: Duration = Duration::from_secs(3);

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let exp = short_expiry(&s.tokens)?;
    // The server may keep the token alive for its declared leeway (`expiry_leeway`).
    let leeway = waitable_leeway(&p)?;
    let mut conn = open_ready(&p, "socket held past the access token's expiry", s.at()).await?;
    let deadline = Instant::now() + until(exp) + leeway + GRACE;
    let (events, end) = conn.until_close(deadline).await;
    let mut f = Findings::new();
    match end {
        WsEnd::Closed(close) => {
            let after = elapsed_since(exp);
            f.info("", format!("closed {} after exp", secs(after)));
            let expected = ExpectedClose {
                event: WsEvent::SessionExpired,
                event_name: "session_expired",
                without_event: "",
                class: CloseClass::RefreshThenReconnect,
            };
            expected.judge(&p, &mut f, &events, &close);
        }
        WsEnd::Timeout => {
            f.warn(
                "ASVS5-7.4.1",
                format!(
                    "the socket stayed open {}s past its access token's {}",
                    GRACE.as_secs(),
                    past_exp(leeway)
                ),
            );
        }
        WsEnd::Dropped(e) => {
            f.warn(
                "RFC6455-7.4.2",
                format!("the connection was dropped without a close frame: {e}"),
            );
        }
    }
    Ok(f)
}
