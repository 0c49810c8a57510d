//! `WS-*`: WebSocket handshake authentication, the close at logout and at access-token expiry,
//! kick-off by a login elsewhere, and the legality of close codes (RFC 6455 §7.4).

pub mod ws01;
pub mod ws02;
pub mod ws03;
pub mod ws04;
pub mod ws05;

use crate::checks::catalog::prelude::*;
use crate::checks::wsprobe::{self, Close, WsConn, WsOpen};
use crate::profile::{CloseClass, WsEvent};

/// How long a socket may take to produce its first message (the welcome).
pub const READY: Duration = Duration::from_secs(3);

/// Opens a socket with a valid token and waits for its first message; any failure stops the
/// check with an error (the handshake itself is WS-01's business).
pub async fn open_ready(p: &Arc<Probe>, label: &str, token: &str) -> Result<Box<WsConn>, Stop> {
    match wsprobe::connect(p, label, Some(token)).await {
        WsOpen::Open(mut c) => {
            if !c.ready(READY).await && !c.is_open() {
                return Err(Stop::error(
                    "the socket closed right after the handshake; see the transcript",
                ));
            }
            Ok(c)
        }
        WsOpen::Refused(status) => Err(Stop::error(format!(
            "the WebSocket handshake with a valid access token was refused ({status})"
        ))),
        WsOpen::RefusedByClose(code) => Err(Stop::error(format!(
            "the first message with a valid access token was answered by close {code}"
        ))),
        WsOpen::RefusedByMessage => Err(Stop::error(
            "the first message with a valid access token was refused (the profile's ws.token.reject matched the answer)",
        )),
        WsOpen::Failed(e) => Err(Stop::error(format!("the WebSocket handshake failed: {e}"))),
    }
}

/// How long to wait for a close the server starts (a logout's, a kick's): `limit`, but less when
/// the access token expiring at `expires_at` runs out sooner — its expiry close must not be taken
/// for the awaited one — and at least 300 ms.
pub fn close_wait(limit: Duration, expires_at: Option<SystemTime>) -> Duration {
    match expires_at {
        Some(exp) => limit
            .min(until(exp).saturating_sub(Duration::from_millis(200)))
            .max(Duration::from_millis(300)),
        None => limit,
    }
}

/// The close code as text (`1000`, or `no code`).
pub fn code_text(code: Option<u16>) -> String {
    code.map(|c| c.to_string())
        .unwrap_or_else(|| "no code".into())
}

/// What a check expects of the close frame that ends a socket: `event` (named `event_name` in the
/// findings) before it, and a code the target's close-code profile classifies as `class`.
pub struct ExpectedClose {
    pub event: WsEvent,
    pub event_name: &'static str,
    /// Appended to "no {event_name} event before the close".
    pub without_event: &'static str,
    pub class: CloseClass,
}

impl ExpectedClose {
    /// Records whether `events` (what came before `close`) and `close` are as expected.
    pub fn judge(&self, p: &Probe, f: &mut Findings, events: &[WsEvent], close: &Close) {
        let name = self.event_name;
        let seen = events.contains(&self.event);
        f.expect(
            seen,
            Status::Warn,
            "ASVS5-7.4.1",
            if seen {
                format!("a {name} event preceded the close")
            } else {
                format!("no {name} event before the close{}", self.without_event)
            },
        );
        let profile = p
            .profile()
            .ws()
            .map(|w| w.close_codes.clone())
            .unwrap_or_default();
        let class = close.code.map(|c| profile.classify(c));
        f.expect(
            class == Some(self.class),
            Status::Warn,
            "RFC6455-7.4.2",
            format!(
                "close code {} is classified {} by the {} close-code profile (expected {})",
                code_text(close.code),
                class.map(|c| c.name()).unwrap_or("(none)"),
                profile.name(),
                self.class.name()
            ),
        );
    }
}
