//! `WS-*`: WebSocket handshake authentication, the close at access-token expiry, kick-off by a
//! login elsewhere, and the legality of close codes (RFC 6455 §7.4).

pub mod ws01;
pub mod ws03;
pub mod ws04;
pub mod ws05;

use crate::checks::catalog::prelude::*;
use crate::checks::wsprobe::{self, WsConn, WsOpen};

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
        WsOpen::Failed(e) => Err(Stop::error(format!("the WebSocket handshake failed: {e}"))),
    }
}

/// The close code as text (`1000`, or `no code`).
pub fn code_text(code: Option<u16>) -> String {
    code.map(|c| c.to_string())
        .unwrap_or_else(|| "no code".into())
}
