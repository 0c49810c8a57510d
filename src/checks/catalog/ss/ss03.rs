//! SS-03: under a multi-session policy a logout ends only its own session. Log the same user in
//! twice, log one session out: the other session's refresh token still refreshes. Premises: the logged-out session is really over (else RT-12's
//! business), and a control refresh works (a server that refuses every refresh proves nothing).

use super::{declared_policy, ended_as_announced};
use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "SS-03",
        title: "A logout leaves the user's other sessions alone",
        summary: "With a multi-session policy declared (`session.max_sessions` of 2 or more, or `unlimited`), log the same user in twice and log one session out: the other session's refresh token still refreshes. SKIP under a single-session policy.",
        requirements: &["ASVS5-7.1.2"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::SessionPolicy, Need::Logout],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let policy = declared_policy(&p)?;
    if !policy.allows_concurrent() {
        return Err(Stop::skip(format!(
            "the profile declares `session.max_sessions: {policy}`: one session per user, there are no other sessions to leave alone"
        )));
    }
    let mut f = Findings::new();
    control(&p, &mut f, 1, 0, "RT-01").await?;
    let ended = p.login(0).await?;
    let ended_rt = ended.rt()?;
    let other = p.login(0).await?;
    let other_rt = other.rt()?;
    let resp = p
        .logout("logout of the first session", &ended.tokens)
        .await
        .ok_or_else(|| Stop::skip(Need::Logout.reason()))??;
    if !(200..300).contains(&resp.status) {
        return Err(Stop::error(format!("the logout got {}", resp.brief())));
    }
    let (reply, r) = p
        .refresh_reply(
            "refresh with the logged-out session's refresh token",
            &ended_rt,
        )
        .await?;
    if reply.accepted() {
        return Err(Stop::skip(format!(
            "not judged: the logout did not end its own session (its refresh token still refreshes, {}; see RT-12)",
            r.status
        )));
    }
    let (reply, r) = p
        .refresh_reply("refresh with the other session's refresh token", &other_rt)
        .await?;
    match reply {
        RefreshReply::Accepted(_) => f.pass(
            "ASVS5-7.1.2",
            format!("the other session still refreshes ({})", r.status),
        ),
        RefreshReply::Rejected { .. } if ended_as_announced(&other) => {
            return Err(Stop::skip(
                "not judged: the other session reached the end its login announced (refresh_expires_in) before the check could refresh",
            ));
        }
        RefreshReply::Rejected { .. } => f.warn(
            "ASVS5-7.1.2",
            format!(
                "logging out one session ended the user's other session too: its refresh token is refused ({})",
                r.brief()
            ),
        ),
        RefreshReply::ServerError | RefreshReply::Unexpected => {
            return Err(Stop::error(format!(
                "the other session's refresh got {}, outside the refresh contract",
                r.brief()
            )));
        }
    }
    Ok(f)
}
