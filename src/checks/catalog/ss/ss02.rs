//! SS-02: logout everywhere. One request (the profile's `logout_everywhere`) ends every session
//! of the user: each session's refresh token is refused afterwards and each session's socket is
//! closed. Two sessions are tested unless the declared policy allows only one. A control — a
//! fresh login of another test user refreshes — keeps a server that refuses every refresh from
//! passing, and a twin (another user's session as old as session 1, [`Twin`]) one that ends
//! sessions by their age.

use super::{SocketEnd, close_wait, socket_end, socket_for};
use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;
use crate::profile::MaxSessions;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "SS-02",
        title: "Logout everywhere ends every session and closes every socket",
        summary: "Log the same user in twice (each with a socket), send the profile's `logout_everywhere` request with one session's tokens: both sessions' refresh tokens are refused and both sockets close within 3 s. SKIP without a `logout_everywhere` request. A refusal counts only while a twin (another user's session, logged in and refreshed in the same instants) still refreshes next to it: refused too, not judged (SKIP).",
        requirements: &["ASVS5-7.5.2", "ASVS5-7.4.1"],
        level: Level::Must,
        destructive: true,
        needs: &[Need::LogoutEverywhere],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let count = match p.profile().max_sessions() {
        Some(MaxSessions::Limit(1)) => 1,
        _ => 2,
    };
    let mut sessions = Vec::new();
    // The twin (user 1) is as old as session 1: a server that ends sessions by their age
    // refuses it too, and session 1's refusal is then no proof of the logout.
    let (first, mut twin) = Twin::alongside(&p, 1, p.login(0)).await?;
    first.rt()?;
    sessions.push(first);
    for _ in 2..=count {
        let s = p.login(0).await?;
        s.rt()?;
        sessions.push(s);
    }
    // Access tokens may be short: with sockets, every session gets a fresh one right before the
    // sockets open together and the logout follows.
    if p.profile().ws().is_some() {
        for (i, s) in sessions.iter_mut().enumerate() {
            let label = format!(
                "refresh session {} (a fresh access token for its socket)",
                i + 1
            );
            let rt = s.rt()?;
            let refreshed = p.refresh_reply(&label, &rt);
            let ((reply, resp), end) = if i == 0 {
                let (r, end) = Twin::judge_along(twin.take(), &p, refreshed).await?;
                (r, Some(end))
            } else {
                (refreshed.await?, None)
            };
            let mut tokens = premise(reply, &resp, "a refresh before the logout", "RT-01")?;
            if let Some(end) = end {
                twin = end.kept()?;
            }
            if tokens.refresh_token.is_none() {
                tokens.refresh_token = s.tokens.refresh_token.clone();
            }
            s.tokens = tokens;
            s.at = Instant::now();
        }
    }
    let labels: Vec<String> = (1..=count)
        .map(|i| format!("socket of session {i}"))
        .collect();
    let opened = futures::future::join_all(
        sessions
            .iter()
            .zip(&labels)
            .map(|(s, label)| socket_for(&p, label, s)),
    )
    .await;
    let mut sockets = Vec::new();
    for o in opened {
        sockets.push(o?);
    }
    let caller = sessions.last().expect("count >= 1");
    let wait = close_wait(&sessions[0]);
    let req = p
        .profile()
        .logout_everywhere_request(&caller.user, &caller.tokens)
        .ok_or_else(|| Stop::skip(Need::LogoutEverywhere.reason()))?;
    let resp = p.send("logout everywhere", req).await?;
    let trigger = Instant::now();
    if !resp.ok() {
        return Err(Stop::error(format!(
            "the logout-everywhere request got {}; check the profile's `logout_everywhere` request",
            resp.brief()
        )));
    }
    let mut f = Findings::new();
    for (i, (s, conn)) in sessions.iter().zip(sockets.iter_mut()).enumerate() {
        let n = i + 1;
        let label = format!("refresh with session {n}'s refresh token");
        let rt = s.rt()?;
        let refreshed = p.refresh_reply(&label, &rt);
        let (reply, r) = if i == 0 {
            let (r, end) = Twin::judge_along(twin.take(), &p, refreshed).await?;
            end.settle(&mut f, matches!(r.0, RefreshReply::Rejected { .. }))?;
            r
        } else {
            refreshed.await?
        };
        match reply {
            RefreshReply::Accepted(_) => f.fail(
                "ASVS5-7.5.2",
                format!(
                    "session {n} of {count} still refreshes after logout everywhere ({})",
                    r.status
                ),
            ),
            RefreshReply::Rejected { .. } => f.pass(
                "ASVS5-7.5.2",
                format!("session {n}'s refresh token is refused ({})", r.brief()),
            ),
            RefreshReply::ServerError | RefreshReply::Unexpected => {
                return Err(Stop::error(format!(
                    "session {n}'s refresh got {}, outside the refresh contract",
                    r.brief()
                )));
            }
        }
        let Some(conn) = conn.as_mut() else { continue };
        match socket_end(&p, conn, trigger, wait).await {
            SocketEnd::Closed(took) => f.pass(
                "ASVS5-7.4.1",
                format!("session {n}'s socket closed {} after the logout", secs(took)),
            ),
            SocketEnd::Expired(_, took) if took >= super::NOT_CLOSED_AFTER => f.warn(
                "ASVS5-7.4.1",
                format!(
                    "session {n}'s socket stayed open until its access token expired {} after logout everywhere",
                    secs(took)
                ),
            ),
            SocketEnd::Expired(..) => f.info(
                "",
                format!("session {n}'s socket is not judged: it closed at its access token's expiry, before the logout"),
            ),
            SocketEnd::Open => f.warn(
                "ASVS5-7.4.1",
                format!("session {n}'s socket stayed open {} after logout everywhere", secs(wait)),
            ),
        }
    }
    if p.profile().ws().is_none() {
        f.info(
            "",
            "the profile has no WebSocket: socket closes are not checked",
        );
    }
    if let Some(notes) = control_unless_found(&p, &mut f, 1, 0, "RT-01").await? {
        f.append(notes);
    }
    Ok(f)
}
