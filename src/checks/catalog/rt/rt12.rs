//! RT-12: logout, and an admin "log this user out everywhere" (the password-change case), end the
//! refresh token. A refusal only counts once a control — a login's refresh token of another
//! session, never logged out — refreshes (else SKIP: the server refuses every refresh), and when
//! a twin (another user's session as old, [`Twin`]) still refreshes next to it (else not judged:
//! a server that ends sessions by their age would pass).

use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-12",
        title: "Logout and admin logout end the refresh token",
        summary: "Log out (profile logout request), then refresh: rejected. Same after the admin logout of the user (password change). SKIP when neither is configured. A refusal counts only while a twin (another user's session, logged in and refreshed in the same instants) still refreshes next to it: refused too, not judged (SKIP).",
        requirements: &["RFC9700-4.14.2", "ASVS5-7.4.1", "ASVS5-7.4.3"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let has_logout = p.profile().has_logout();
    let has_admin = p.profile().has_admin_logout();
    if !has_logout && !has_admin {
        return Err(Stop::skip(format!(
            "{}, and {}",
            Need::Logout.reason(),
            Need::AdminLogout.reason()
        )));
    }
    let mut f = Findings::new();
    // The refusals to try again once they should have lasted: token, event, rule, when.
    let mut refusals = Vec::new();
    // Why a refusal was not judged (the first such).
    let mut not_judged = None;
    // Each event's session has a twin (user 3, [`Twin`]): a server that ends sessions by their
    // age refuses it too, and the refusal after the event is then not judged.
    if has_logout {
        let (s, twin) = Twin::alongside(&p, 3, p.login(0)).await?;
        let rt = s.rt()?;
        if let Some(r) = p.logout("logout", &s.tokens).await {
            let r = r?;
            f.expect(
                r.ok(),
                Status::Warn,
                "ASVS5-7.4.1",
                format!("logout answered {}", r.brief()),
            );
        }
        match expect_refresh_refused(&p, &mut f, (&rt, &s.tokens, twin), "logout", "ASVS5-7.4.1")
            .await?
        {
            After::Refused(at) => refusals.push((rt, "logout", "ASVS5-7.4.1", at)),
            After::NotJudged(why) => not_judged = not_judged.or(Some(why)),
            After::Accepted => {}
        }
    } else {
        f.info("", Need::Logout.reason());
    }
    if has_admin {
        let (s, twin) = Twin::alongside(&p, 3, p.login(1)).await?;
        let rt = s.rt()?;
        if let Some(r) = p.admin_logout("admin logout of the user", &s.user).await {
            let r = r?;
            if !r.ok() {
                return Err(Stop::error(format!(
                    "the admin logout failed: {}",
                    r.brief()
                )));
            }
        }
        match expect_refresh_refused(
            &p,
            &mut f,
            (&rt, &s.tokens, twin),
            "the admin logout",
            "ASVS5-7.4.3",
        )
        .await?
        {
            After::Refused(at) => refusals.push((rt, "the admin logout", "ASVS5-7.4.3", at)),
            After::NotJudged(why) => not_judged = not_judged.or(Some(why)),
            After::Accepted => {}
        }
    } else {
        f.info("", Need::AdminLogout.reason());
    }
    // No refusal stands and nothing was found, but a refusal was not judged: the check is not
    // judged (SKIP), whatever the logout's own answer passed.
    if refusals.is_empty()
        && !f.has_findings()
        && let Some(why) = not_judged
    {
        return Err(Stop::skip(why));
    }
    if !refusals.is_empty() {
        // The refused tokens were a login's, never used: one of another session must refresh.
        if let Some(notes) = control_unless_found(&p, &mut f, 2, 0, "RT-01").await? {
            f.append(notes);
        }
        for (rt, event, requirement, at) in refusals {
            if let Some(lapsed) = refresh_refusal_lapsed(&p, &rt, event, at).await? {
                f.warn(requirement, lapsed);
            }
        }
    }
    Ok(f)
}

/// What the refresh after an event found.
enum After {
    /// The refresh token still works (a WARN is recorded).
    Accepted,
    /// Refused, at this instant (a PASS is recorded).
    Refused(std::time::Instant),
    /// Refused, but not judged: why (an INFO is recorded).
    NotJudged(String),
}

/// After `event` ("logout", "the admin logout") the refresh token `rt` of `tokens` must be
/// refused. A 5xx, 429 or an answer outside the refresh contract is no refusal (ERROR), nor is a
/// refusal after the token's announced end, or one that the session's twin got too (not judged).
async fn expect_refresh_refused(
    p: &Probe,
    f: &mut Findings,
    (rt, tokens, twin): (&str, &Tokens, Option<Twin>),
    event: &str,
    requirement: &'static str,
) -> Result<After, Stop> {
    let label = format!("refresh after {event}");
    let ((reply, resp), twin) = Twin::judge_along(twin, p, p.refresh_reply(&label, rt)).await?;
    match reply {
        RefreshReply::Accepted(_) => {
            f.warn(
                requirement,
                format!(
                    "the refresh token still works after {event} ({})",
                    resp.status
                ),
            );
            Ok(After::Accepted)
        }
        RefreshReply::Rejected { .. } => {
            let not_judged = match refresh_expired_before(tokens, SystemTime::now()) {
                Some(why) => Some(format!("refresh after {event} not judged: {why}")),
                None => twin
                    .note(f)
                    .map(|why| format!("refresh after {event} {why}")),
            };
            if let Some(why) = not_judged {
                f.info("", why.clone());
                return Ok(After::NotJudged(why));
            }
            f.pass(
                requirement,
                format!("refresh after {event}: {}", resp.brief()),
            );
            Ok(After::Refused(std::time::Instant::now()))
        }
        RefreshReply::ServerError | RefreshReply::Unexpected => Err(Stop::error(format!(
            "the refresh after {event} got {}: neither accepted nor refused, so it says nothing about the token",
            resp.brief()
        ))),
    }
}
