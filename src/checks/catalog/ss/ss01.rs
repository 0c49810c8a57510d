//! SS-01: the declared session limit is enforced. With `session.max_sessions: N` (1 = the
//! single-session policy), N more logins of the same user end its oldest session: that session's
//! refresh token is refused and its socket is kicked. A control — the newest session's refresh
//! token refreshes — keeps a server that refuses every refresh from passing, and a twin (another
//! user's session as old as the oldest, [`Twin`]) one that ends sessions by their age.

use super::{
    NOT_CLOSED_AFTER, SocketEnd, close_wait, declared_policy, ended_as_announced, oldest_with_twin,
    socket_end, socket_for,
};
use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;
use crate::profile::MaxSessions;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "SS-01",
        title: "A login beyond the session limit ends the oldest session",
        summary: "With `session.max_sessions: N` declared (1 = single session), log the same user in N more times: the oldest session's refresh token is refused and its socket is closed (kicked) within 3 s, while the newest session refreshes. SKIP without a declared limit. A refusal counts only while a twin (another user's session, logged in and refreshed in the same instants) still refreshes next to it: refused too, not judged (SKIP).",
        requirements: &["ASVS5-7.1.2", "ASVS5-7.4.1"],
        level: Level::Must,
        destructive: true,
        needs: &[Need::SessionPolicy],
    },
    run: |p| Box::pin(run(p)),
};

/// Declared limits above this are not tested (each session is a login of the test user).
pub const MAX_TESTED_LIMIT: u32 = 3;

async fn run(p: Arc<Probe>) -> Verdict {
    let limit = match declared_policy(&p)? {
        MaxSessions::Limit(n) if n <= MAX_TESTED_LIMIT => n,
        MaxSessions::Limit(n) => {
            return Err(Stop::skip(format!(
                "the declared limit of {n} sessions per user is above {MAX_TESTED_LIMIT}, the most this check logs in"
            )));
        }
        MaxSessions::Unlimited => {
            return Err(Stop::skip(
                "the profile declares `session.max_sessions: unlimited`: there is no limit to enforce",
            ));
        }
    };
    // The twin (user 1), as old as the oldest session: a server that ends sessions by their age
    // refuses it too, and the oldest's refusal is then no proof of the limit.
    let (oldest, twin) = oldest_with_twin(&p, limit, "RT-01", Some(1)).await?;
    let old_rt = oldest.rt()?;
    let mut conn = socket_for(&p, "socket of the oldest session", &oldest).await?;
    let wait = close_wait(&oldest);
    let newest = p.login(0).await?;
    let trigger = Instant::now();
    let end = match conn.as_mut() {
        Some(c) => Some(socket_end(&p, c, trigger, wait).await),
        None => None,
    };
    drop(conn);
    let mut f = Findings::new();
    // The control first: a server that refuses every refresh proves nothing below.
    let (reply, resp) = p
        .refresh_reply(
            "control: refresh with the newest session's refresh token",
            &newest.rt()?,
        )
        .await?;
    if reply.rejected() && ended_as_announced(&newest) {
        return Err(Stop::skip(
            "not judged: the sessions reached the end their login announced (refresh_expires_in) before the check could refresh",
        ));
    }
    premise(
        reply,
        &resp,
        "the newest session's refresh (the control)",
        "RT-01",
    )?;
    f.info(
        "",
        format!("control: the newest session refreshes ({})", resp.status),
    );
    let ((reply, resp), twin) = Twin::judge_along(
        twin,
        &p,
        p.refresh_reply("refresh with the oldest session's refresh token", &old_rt),
    )
    .await?;
    twin.settle(&mut f, matches!(reply, RefreshReply::Rejected { .. }))?;
    let sessions = if limit == 1 {
        "a second login".to_string()
    } else {
        format!("{limit} more logins")
    };
    match reply {
        RefreshReply::Accepted(_) => f.fail(
            "ASVS5-7.1.2",
            format!(
                "after {sessions} (declared limit {limit}) the oldest session still refreshes ({}): the session limit is not enforced",
                resp.status
            ),
        ),
        RefreshReply::Rejected { .. } => f.pass(
            "ASVS5-7.1.2",
            format!("after {sessions} the oldest session's refresh token is refused ({})", resp.brief()),
        ),
        RefreshReply::ServerError | RefreshReply::Unexpected => {
            return Err(Stop::error(format!(
                "the oldest session's refresh got {}, outside the refresh contract",
                resp.brief()
            )));
        }
    }
    match end {
        None => f.info("", "the profile has no WebSocket: the kick is not checked"),
        Some(SocketEnd::Closed(took)) => f.pass(
            "ASVS5-7.4.1",
            format!("the oldest session's socket was closed {} after the last login", secs(took)),
        ),
        Some(SocketEnd::Expired(close, took)) if took >= NOT_CLOSED_AFTER => f.warn(
            "ASVS5-7.4.1",
            format!(
                "the oldest session's socket was not kicked: it stayed open until its access token expired {} after {sessions} ({})",
                secs(took),
                super::super::ws::code_text(close.code)
            ),
        ),
        Some(SocketEnd::Expired(close, _)) => f.info(
            "",
            format!(
                "the kick is not judged: the oldest session's socket closed at its access token's expiry ({}) right after {sessions}",
                super::super::ws::code_text(close.code)
            ),
        ),
        Some(SocketEnd::Open) => f.warn(
            "ASVS5-7.4.1",
            format!(
                "the oldest session's socket stayed open {} after {sessions}: no kick",
                secs(wait)
            ),
        ),
    }
    Ok(f)
}
