//! AT-01: an access token stops working after logout — at once, or at the latest at its own
//! expiry. Self-contained JWTs usually live until `exp`; that window is measured and reported
//! (INFO). Accepting the token past its own lifetime is a WARN: logout then ends nothing. A
//! refusal at once counts only when a twin's access token ([`Twin`]: another user's, issued and
//! used in the same instants, never logged out) is accepted next to it.

use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "AT-01",
        title: "After logout an access token works at most until its expiry (window measured)",
        summary: "Log out, then call the resource with the access token every 100 ms until refused (at most 5 s, or until 1 s past its expiry): PASS when refused at once (answered within 0.5 s of the logout), INFO with the window when it works on until its expiry, WARN when accepted more than 1 s past its expiry. A refusal counts once a fresh login's token is accepted right after it, and a twin's token (another user's, issued and used in the same instants) is accepted next to it.",
        requirements: &["ASVS5-7.4.1", "RFC7009-2.1"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::Logout],
    },
    run: |p| Box::pin(run(p)),
};

const POLL: Duration = Duration::from_millis(100);
const BUDGET: Duration = Duration::from_secs(5);
/// A refusal answered within this of the logout's answer came "immediately".
const AT_ONCE: Duration = Duration::from_millis(500);
/// Acceptance this long past `exp` is not clock skew any more.
const PAST_EXP: Duration = Duration::from_secs(1);

async fn run(p: Arc<Probe>) -> Verdict {
    // The twin (user 2, [`Twin`]): logged in with the judged session, its access token used at
    // the resource in the same instants. A resource that refuses tokens by their age refuses it
    // too, and the refusal after the logout is then not the logout's.
    let (s, twin) = Twin::alongside(&p, 2, p.login(0)).await?;
    genuine_works(&p, s.at()).await?;
    // The twin's token right after (a resource that answers by the calls' order sees the judged
    // token first); a twin the resource does not take is no control.
    let twin = match twin {
        Some(t) if t.call(&p).await?.ok() => Some(t),
        _ => None,
    };
    if let Some(why) = logout_refused_by_declaration(&p, &s.tokens) {
        return Err(Stop::skip(why));
    }
    let Some(r) = p.logout("logout", &s.tokens).await else {
        return Err(Stop::skip(Need::Logout.reason()));
    };
    let r = r?;
    if !r.ok() {
        // The server's documented answer about the token is its verdict on logout (RT-12 judges
        // it); anything else points at the profile's logout request.
        if let Some(code) = refuses_the_token(&r) {
            // RFC 7009 §2.2.1: the server does not revoke this token type — a profile whose
            // logout revokes the access token should declare it (`token_types.revoke`).
            let hint = if code == "unsupported_token_type" {
                "; the server does not revoke this token type (RFC 7009 §2.1, §2.2.1): declare token_types.revoke, or make logout revoke the refresh token"
            } else {
                " (see RT-12)"
            };
            return Err(Stop::skip(format!(
                "not judged: the logout of a fresh session was refused ({}), so there is no logout to measure the access token after{hint}",
                r.brief()
            )));
        }
        return Err(Stop::error(format!(
            "logout failed: {}; the logout request of the profile may be wrong",
            r.brief()
        )));
    }
    let t0 = Instant::now();
    // The token's end at the server: its `exp` plus the declared leeway (`expiry_leeway`).
    let leeway = p.profile().expiry_leeway().min(MAX_LEEWAY_WAITED);
    let exp = s.tokens.expires_at.map(|e| e + leeway);
    let mut f = Findings::new();
    let mut n = 0;
    loop {
        n += 1;
        let label = format!("resource call #{n} after logout");
        let judged = p.api(&label, s.at());
        let (r, twin_call) = if n == 1 {
            Twin::call_along(twin.as_ref(), &p, judged).await?
        } else {
            (judged.await?, None)
        };
        let waited = t0.elapsed();
        if refused(&r, &label)? {
            let refused_at = Instant::now();
            // A refusal that arrived past the token's own end may be the expiry's.
            let expired_by_then = exp.is_some_and(|e| SystemTime::now() >= e);
            // Another session's token must still be accepted, or the refusal proves nothing.
            let control = fresh_login_control(&p, 1).await?;
            if n == 1 && expired_by_then {
                f.info(
                    "ASVS5-7.4.1",
                    format!(
                        "refused at the first call after logout ({}), but the token's own {} had passed by then: not judged whether the logout ended it",
                        r.status,
                        past_exp(leeway)
                    ),
                );
            } else if n == 1
                && waited <= AT_ONCE
                && let Some((user, twin_r)) = twin_call.filter(|(_, r)| !r.ok())
            {
                return Err(Stop::skip(format!(
                    "not judged: the resource refused {user}'s access token too ({}), as old as the judged one and never logged out: tokens here end by their age, so the refusal may not be the logout's",
                    twin_r.brief()
                )));
            } else if n == 1 && waited <= AT_ONCE {
                f.pass(
                    "ASVS5-7.4.1",
                    format!(
                        "refused immediately after logout ({}, answered {} after it)",
                        r.status,
                        secs(waited)
                    ),
                );
                // The refusal must last: a revocation a cache or denylist forgets is no logout.
                until_lasting(refused_at).await;
                let again = p
                    .api("resource call after logout, once more", s.at())
                    .await?;
                if again.ok() && exp.is_none_or(|e| SystemTime::now() < e) {
                    f.warn(
                        "ASVS5-7.4.1",
                        format!(
                            "the refusal after logout did not last: the token was accepted again {} later ({})",
                            secs(refused_at.elapsed()),
                            again.status
                        ),
                    );
                }
            } else if n == 1 {
                // The server judged the token only when it answered: a shorter window after the
                // logout was not tried.
                f.info(
                    "ASVS5-7.4.1",
                    format!(
                        "refused at the first call after logout ({}), answered {} after it (a stalled client or a slow answer): any window is shorter than that, a shorter one was not tried",
                        r.status,
                        secs(waited)
                    ),
                );
            } else {
                let expired = exp.is_some_and(|e| SystemTime::now() >= e);
                f.info(
                    "ASVS5-7.4.1",
                    if expired {
                        format!("accepted until it expired: {} after logout", secs(waited))
                    } else {
                        format!(
                            "accepted for {} after logout, then refused ({})",
                            secs(waited),
                            r.status
                        )
                    },
                );
            }
            f.info("", control);
            return Ok(f);
        }
        let past_end = exp.and_then(|e| SystemTime::now().duration_since(e).ok());
        if let Some(past) = past_end.filter(|p| *p > PAST_EXP) {
            f.warn(
                "ASVS5-7.4.1",
                format!(
                    "still ACCEPTED {} after logout, {} past its own {}",
                    secs(waited),
                    secs(past),
                    past_exp(leeway)
                ),
            );
            return Ok(f);
        }
        // Past the budget only while the token has not expired: one that did is followed until
        // it is refused or 1 s past its expiry, whichever comes first.
        if waited >= BUDGET && past_end.is_none() {
            let left = exp
                .map(until)
                .map(secs)
                .unwrap_or_else(|| "an unknown time".into());
            f.info(
                "ASVS5-7.4.1",
                format!(
                    "still accepted {} after logout; it expires in {left} (the window is at most its lifetime)",
                    secs(waited)
                ),
            );
            return Ok(f);
        }
        tokio::time::sleep(POLL).await;
    }
}
