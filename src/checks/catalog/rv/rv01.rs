//! RV-01: a refresh token revoked through RFC 7009 no longer refreshes, and the access tokens of
//! the same grant should stop working too. The refusal only counts once a control — a login's
//! refresh token of another session, never revoked — refreshes (else SKIP), and when a twin
//! (another user's session as old, [`Twin`]) still refreshes next to it (else not judged).

use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RV-01",
        title: "A revoked refresh token no longer refreshes",
        summary: "Revoke the refresh token (token_type_hint=refresh_token): 200; then refreshing with it is rejected (MUST) and its access token should be refused (SHOULD; judged once a fresh login's token is accepted right after). A refusal counts only while a twin (another user's session, logged in and refreshed in the same instants) still refreshes next to it: refused too, not judged (SKIP).",
        requirements: &["RFC7009-2.1", "RFC7009-2.2"],
        level: Level::Must,
        destructive: true,
        needs: &[Need::Revocation, Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    if !p.profile().revoke_accepts(TokenKind::Refresh) {
        return Err(Stop::skip(
            "the profile declares that the revocation endpoint does not accept refresh tokens (token_types.revoke)",
        ));
    }
    // The twin (user 3, [`Twin`]): a server that ends sessions by their age refuses it too, and
    // the refusal after the revocation is then not judged.
    let (s, twin) = Twin::alongside(&p, 3, p.login(0)).await?;
    let rt = s.rt()?;
    let Some(r) = p
        .revoke("revoke the refresh token", &rt, TokenKind::Refresh)
        .await
    else {
        return Err(Stop::skip(Need::Revocation.reason()));
    };
    let r = r?;
    let mut f = Findings::new();
    f.expect(
        r.status == 200,
        Status::Fail,
        "RFC7009-2.2",
        format!("revocation answered {}", r.brief()),
    );
    let ((reply, resp), twin) = Twin::judge_along(
        twin,
        &p,
        p.refresh_reply("refresh with the revoked refresh token", &rt),
    )
    .await?;
    let refused_at = std::time::Instant::now();
    if !reply.accepted() && !reply.rejected() {
        // A 5xx or an answer outside the refresh contract neither refuses nor accepts the token.
        let msg = format!(
            "refresh with the revoked token got {}, outside the refresh contract: not judged",
            resp.brief()
        );
        if !f.has_findings() {
            return Err(Stop::error(msg));
        }
        f.info("", msg);
        return Ok(f);
    }
    // A refusal after the token's announced end may be the expiry's; one the twin got too may be
    // the session's age.
    let not_judged = if reply.rejected() {
        match refresh_expired_before(&s.tokens, SystemTime::now()) {
            Some(why) => Some(format!("refresh with the revoked token not judged: {why}")),
            None => twin
                .note(&mut f)
                .map(|why| format!("refresh with the revoked token {why}")),
        }
    } else {
        None
    };
    if let Some(msg) = not_judged {
        if !f.has_findings() {
            return Err(Stop::skip(msg));
        }
        f.info("", msg);
        return Ok(f);
    }
    f.expect(
        reply.rejected(),
        Status::Fail,
        "RFC7009-2.1",
        if reply.accepted() {
            format!(
                "the revoked refresh token still refreshes ({})",
                resp.status
            )
        } else {
            format!("refresh with the revoked token: {}", resp.brief())
        },
    );
    if reply.rejected() {
        // The revoked token was a login's, never used: one of another session must refresh.
        if let Some(notes) = control_unless_found(&p, &mut f, 1, 0, "RT-01").await? {
            f.append(notes);
        }
    }
    judge_access(&p, &mut f, &s).await?;
    if reply.rejected()
        && let Some(lapsed) = refresh_refusal_lapsed(&p, &rt, "the revocation", refused_at).await?
    {
        f.fail("RFC7009-2.1", lapsed);
    }
    Ok(f)
}

/// The SHOULD part: the access token of the revoked grant is refused, judged once a fresh login's
/// token is accepted right after.
async fn judge_access(p: &Arc<Probe>, f: &mut Findings, s: &Session) -> Result<(), Stop> {
    const API: &str = "resource call with the access token of the revoked grant";
    let api = p.api(API, s.at()).await?;
    let api_refused = match refused(&api, API) {
        Ok(refused) => refused,
        Err(Stop::Error(why)) if f.has_findings() => {
            f.info("", why);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if !api_refused {
        f.warn(
            "RFC7009-2.1",
            "the access token of the revoked grant is still accepted",
        );
        return Ok(());
    }
    // Another session's token must still be accepted, or the refusal proves nothing.
    match fresh_login_control(p, 2).await {
        Ok(control) => {
            f.pass(
                "RFC7009-2.1",
                format!(
                    "the access token of the revoked grant is refused ({})",
                    api.status
                ),
            );
            f.info("", control);
        }
        Err(Stop::Skip(why)) => f.info(
            "",
            format!(
                "the access token of the revoked grant is refused ({}), {why}",
                api.status
            ),
        ),
        Err(e) => return Err(e),
    }
    Ok(())
}
