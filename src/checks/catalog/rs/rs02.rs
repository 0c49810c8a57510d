//! RS-02: an invalid access token — garbage, revoked, expired — gets 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"`, the signal clients refresh on.

use crate::checks::catalog::prelude::*;
use crate::checks::probe::challenge;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RS-02",
        title: "Invalid access tokens: 401 with error=\"invalid_token\"",
        summary: "Call the resource with a garbage, a logged-out and an expired access token: each is refused with a Bearer challenge (MUST), with 401 and error=\"invalid_token\" (SHOULD: a 403 or a bare challenge is a WARN; clients refresh on 401 invalid_token).",
        requirements: &["RFC6750-3", "RFC6750-3.1"],
        level: Level::Must,
        destructive: false,
        needs: &[],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let mut f = Findings::new();
    let garbage = unknown_token("at");
    let r = p
        .api("resource call with a garbage access token", &garbage)
        .await?;
    judge(&mut f, "a garbage token", &r)?;

    // Logged out: only judged when the server does refuse it (else AT-01 reports the window).
    let s = p.login(0).await?;
    if let Some(why) = logout_refused_by_declaration(&p, &s.tokens) {
        f.info("", format!("logged-out token not tried: {why}"));
    } else if let Some(r) = p.logout("logout", &s.tokens).await {
        r?;
        let r = p
            .api("resource call with a logged-out access token", s.at())
            .await?;
        if r.ok() {
            f.info(
                "",
                "a logged-out access token is still accepted (see AT-01); not judged here",
            );
        } else {
            judge(&mut f, "a logged-out token", &r)?;
        }
    }

    // Expired: waited for when the token is short-lived; judged only while its session lives.
    match expired_refusal(&p).await {
        Ok(Expired::Accepted(r)) | Ok(Expired::Refused(r)) => {
            judge(&mut f, "an expired token", &r)?
        }
        Ok(Expired::NotJudged(why)) => f.info("", format!("expired token not judged: {why}")),
        Err(Stop::Skip(why)) => f.info("", format!("expired token not tried: {why}")),
        Err(e) => return Err(e),
    }
    Ok(f)
}

/// What became of an expired access token.
enum Expired {
    /// Accepted after its `exp` (a FAIL in [`judge`]).
    Accepted(Resp),
    /// Refused while its session lives ([`expiry_control`]): the refusal to judge.
    Refused(Resp),
    /// Refused twice by a session that had ended too: no refusal of an expired token to judge.
    NotJudged(String),
}

/// Waits out a fresh session's access token and calls the resource with it. A refusal whose
/// session had ended too (its refresh refused) is not the expiry's: a second session is tried.
async fn expired_refusal(p: &Probe) -> Result<Expired, Stop> {
    const SESSIONS: [u64; 2] = [1, 3];
    const CONTROL_USER: u64 = 2;
    let mut ended = Vec::new();
    // Past the server's declared leeway (`expiry_leeway`): within it the token is not expired yet.
    let leeway = waitable_leeway(p)?;
    for k in SESSIONS {
        let s = p.login(k).await?;
        let exp = surely_expired_at(&s.tokens, short_expiry(&s.tokens)?);
        sleep_until(exp + leeway + Duration::from_millis(300)).await;
        let r = p
            .api("resource call with an expired access token", s.at())
            .await?;
        if r.ok() {
            return Ok(Expired::Accepted(r));
        }
        match expiry_control(p, &s, CONTROL_USER).await? {
            ExpiryControl::Live(_) => return Ok(Expired::Refused(r)),
            ExpiryControl::Ended(why) => ended.push(why),
        }
    }
    Ok(Expired::NotJudged(format!(
        "twice its session had ended by the time it expired ({}), so the refusal is not the expiry's",
        ended.join("; ")
    )))
}

/// The levels follow RFC 6750's wording: the resource server MUST refuse the token and MUST send
/// a `WWW-Authenticate` challenge (§3); it SHOULD say `error="invalid_token"` (§3) and SHOULD
/// answer 401 for it (§3.1).
fn judge(f: &mut Findings, what: &str, r: &Resp) -> Result<(), Stop> {
    answered(r, &format!("the resource call with {what}"))?;
    if r.ok() {
        f.fail("RFC6750-3.1", format!("{what} was ACCEPTED ({})", r.status));
        return Ok(());
    }
    f.expect(
        r.status == 401,
        Status::Warn,
        "RFC6750-3.1",
        format!(
            "{what}: status {}{}",
            r.status,
            if r.status == 401 {
                ""
            } else {
                " instead of 401 (clients refresh on 401 only)"
            }
        ),
    );
    match challenge(r) {
        None => {
            f.fail("RFC6750-3", format!("{what}: no WWW-Authenticate header"));
        }
        Some(c) => {
            f.expect(
                c.scheme.eq_ignore_ascii_case("bearer"),
                Status::Fail,
                "RFC6750-3",
                format!("{what}: challenge scheme {:?}", c.scheme),
            );
            f.expect(
                c.error.as_deref() == Some("invalid_token"),
                Status::Warn,
                "RFC6750-3",
                format!(
                    "{what}: WWW-Authenticate error={}",
                    c.error.as_deref().unwrap_or("(none)")
                ),
            );
        }
    }
    Ok(())
}
