//! WS-01: the WebSocket handshake needs a valid credential: without one (or with a garbage or
//! forged one) the server answers HTTP 401/403 and never 101.

use crate::checks::catalog::prelude::*;
use crate::checks::wsprobe::{self, WsOpen};
use crate::profile::CloseClass;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "WS-01",
        title: "The WebSocket handshake requires a valid credential",
        summary: "Open the socket with no token, a garbage token and a token with a tampered signature: HTTP 401/403, no 101 upgrade.",
        requirements: &["RFC6455-4.2.2", "RFC6750-3.1"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::WebSocket],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let mut cases: Vec<(String, Option<String>)> = vec![
        ("no token".into(), None),
        ("a garbage token".into(), Some(unknown_token("ws"))),
    ];
    let s = p.login(0).await?;
    if let Some(j) = crate::checks::jwt::parse(s.at()) {
        let forged = j.tampered_signature();
        p.secret(&forged);
        cases.push(("a token with a tampered signature".into(), Some(forged)));
    }
    let mut f = Findings::new();
    for (what, token) in cases {
        let label = format!("WebSocket handshake with {what}");
        match wsprobe::connect(&p, &label, token.as_deref()).await {
            WsOpen::Open(conn) => {
                drop(conn);
                f.fail(
                    "RFC6455-4.2.2",
                    format!("{what}: upgraded (101): an unauthenticated socket"),
                );
            }
            WsOpen::Refused(status) if matches!(status, 401 | 403) => {
                f.pass("RFC6455-4.2.2", format!("{what}: refused with {status}"));
            }
            WsOpen::Refused(status) => {
                f.warn(
                    "RFC6455-4.2.2",
                    format!("{what}: refused with {status} instead of 401/403"),
                );
            }
            // Token in the first message: the refusal is a close the profile calls a refusal.
            WsOpen::RefusedByClose(code) => {
                let class = p
                    .profile()
                    .ws()
                    .map(|w| w.close_codes.classify(code))
                    .unwrap_or(CloseClass::ProtocolError);
                if matches!(
                    class,
                    CloseClass::Terminal | CloseClass::RefreshThenReconnect
                ) {
                    f.pass(
                        "RFC6455-4.2.2",
                        format!("{what}: refused with close {code}"),
                    );
                } else {
                    f.warn(
                        "RFC6455-4.2.2",
                        format!(
                            "{what}: closed with {code} ({}), not a refusal",
                            class.name()
                        ),
                    );
                }
            }
            // Refused in a message the profile describes (`ws.token.reject`).
            WsOpen::RefusedByMessage => {
                f.pass(
                    "RFC6455-4.2.2",
                    format!("{what}: refused in a message (ws.token.reject)"),
                );
            }
            WsOpen::Failed(e) => {
                return Err(Stop::error(format!("{label}: {e}")));
            }
        }
    }
    Ok(f)
}
