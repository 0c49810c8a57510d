//! WS-05: close codes on the wire are legal (RFC 6455 §7.4): never 1005/1006/1015, 0–999,
//! reserved or unassigned codes; the server answers a client's Close with a Close and then sends
//! no more data; it ends connections with a Close frame, not by dropping them.

use super::{code_text, open_ready};
use crate::checks::catalog::prelude::*;
use crate::checks::wsprobe::{Close, WsEnd};
use crate::profile::close_codes::is_legal_on_wire;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "WS-05",
        title: "Close codes on the wire are legal and the close handshake is honoured",
        summary: "Close a socket from the client (the server must answer Close and send nothing after), and have the server close one (logout): every close code is legal on the wire (no 1005/1006/1015, 0–999, 1016–2999).",
        requirements: &["RFC6455-7.4.1", "RFC6455-7.4.2", "RFC6455-5.5.1"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::WebSocket],
    },
    run: |p| Box::pin(run(p)),
};

const CLOSE_WAIT: Duration = Duration::from_secs(3);

async fn run(p: Arc<Probe>) -> Verdict {
    let mut f = Findings::new();

    // Client-initiated close.
    let s = p.login(0).await?;
    let mut conn = open_ready(&p, "socket closed by the client", s.at()).await?;
    let (answer, data_after) = conn.close(1000, CLOSE_WAIT).await;
    drop(conn);
    match answer {
        WsEnd::Closed(c) => legal(&mut f, "the answer to the client's Close", &c),
        // The server ended the connection instead of answering (RFC 6455 §5.5.1: it MUST answer).
        WsEnd::Dropped(e) => f.fail(
            "RFC6455-5.5.1",
            format!("no Close frame answered the client's Close: the connection was dropped ({e})"),
        ),
        WsEnd::Timeout => f.fail(
            "RFC6455-5.5.1",
            format!(
                "no Close frame answered the client's Close within {}s (the connection stayed open)",
                CLOSE_WAIT.as_secs()
            ),
        ),
    }
    f.expect(
        !data_after,
        Status::Fail,
        "RFC6455-5.5.1",
        if data_after {
            "data frames arrived after the client's Close"
        } else {
            "no data after the client's Close"
        },
    );

    // Server-initiated close: logout (or the admin logout) of a socket's session.
    let s = p.login(1).await?;
    let mut conn = open_ready(&p, "socket closed by the server (logout)", s.at()).await?;
    let triggered = match p.logout("logout of the socket's session", &s.tokens).await {
        Some(r) => Some(r?),
        None => match p
            .admin_logout("admin logout of the socket's user", &s.user)
            .await
        {
            Some(r) => Some(r?),
            None => None,
        },
    };
    if triggered.is_none() {
        f.info(
            "",
            "no logout or admin logout configured: no server-initiated close observed",
        );
        return Ok(f);
    }
    let (_, end) = conn.until_close(Instant::now() + CLOSE_WAIT).await;
    drop(conn);
    match end {
        WsEnd::Closed(c) => legal(&mut f, "the server's close after logout", &c),
        WsEnd::Dropped(e) => f.warn(
            "RFC6455-7.4.1",
            format!("after logout the connection was dropped without a Close frame ({e})"),
        ),
        WsEnd::Timeout => f.info(
            "",
            "the socket stayed open after logout: no server-initiated close to judge (see WS-04)",
        ),
    }
    Ok(f)
}

/// Judges the code as it was on the wire (the probe reads it before tungstenite, which reports an
/// illegal code as 1002): a server's own 1002 is legal, a 1006 is not.
fn legal(f: &mut Findings, what: &str, c: &Close) {
    let ok = c.code.is_none_or(is_legal_on_wire);
    let reported = c
        .reported_as
        .map(|r| format!(" (the client library reported it as {r})"))
        .unwrap_or_default();
    f.expect(
        ok,
        Status::Fail,
        "RFC6455-7.4.1",
        format!(
            "{what}: close code {}{}{reported}",
            code_text(c.code),
            if ok {
                " (legal)"
            } else {
                " is not allowed on the wire"
            }
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(code: u16, reported_as: Option<u16>) -> Status {
        let mut f = Findings::new();
        let close = Close {
            code: Some(code),
            reason: "Protocol violation".into(),
            reported_as,
        };
        legal(&mut f, "the server's close", &close);
        f.status()
    }

    #[test]
    fn the_code_on_the_wire_is_judged_not_the_one_tungstenite_reports() {
        // Both read as 1002 "Protocol violation" through tungstenite (see wsprobe's tests).
        assert_eq!(judged(1002, None), Status::Pass);
        assert_eq!(judged(1006, Some(1002)), Status::Fail);
        assert_eq!(judged(4403, None), Status::Pass);
    }
}
