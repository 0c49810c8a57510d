//! RT-07: reuse detection. After R1 was rotated into R2, replaying R1 (outside any grace window)
//! is rejected and revokes the family: R2 stops working, and ideally R2's access token too.
//! The check reports the revocation scope it observed: nothing / the refresh tokens / the whole
//! family including access tokens. "R2 refused after the reuse" only counts once a control — a
//! rotated successor of another session that saw no reuse — refreshes (else SKIP), and the twin
//! ([`Twin`]: another user's session logged in and rotated with this one) refreshed next to R2
//! (else not judged: a server that ends sessions by their age would pass).

use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-07",
        title: "Reuse of a rotated-out refresh token revokes the family",
        summary: "Rotate R1 into R2, then replay R1 after any grace window: R1 gets invalid_grant, then R2 is rejected too; the scope observed (nothing / refresh tokens / also access tokens) is reported. A refusal counts only while a twin (another user's session, logged in and refreshed in the same instants) still refreshes next to it: refused too, not judged (SKIP).",
        requirements: &["RFC9700-4.14.2", "RFC6819-5.2.2.3"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

/// How long a grace window is waited out (the predecessor getting the same successor back).
pub const GRACE_BUDGET: Duration = Duration::from_secs(3);
const GRACE_POLL: Duration = Duration::from_millis(250);

async fn run(p: Arc<Probe>) -> Verdict {
    // The twin (user 2, [`Twin`]), logged in and rotated with the judged session and refreshed
    // with R2: a server that ends sessions by their age refuses it too, and R2's refusal is then
    // no proof of a family revocation.
    let (s, twin) = Twin::alongside(&p, 2, p.login(0)).await?;
    let r1 = s.rt()?;
    let ((reply, resp), twin) =
        Twin::judge_along(twin, &p, p.refresh_reply("rotate R1 into R2", &r1)).await?;
    let t2 = premise(reply, &resp, "the login's refresh token R1", "RT-01")?;
    let twin = twin.kept()?;
    let r2 = match t2.refresh_token.clone() {
        Some(r2) if r2 != r1 => r2,
        _ => {
            return Err(Stop::skip(
                "the server does not rotate refresh tokens (see RT-06)",
            ));
        }
    };
    let at2 = t2.access_token.clone();
    let mut f = Findings::new();

    // Replay R1 until it is rejected (waiting out a grace window that returns R2 again).
    let rotated = Instant::now();
    let mut in_grace = false;
    loop {
        let (reply, resp) = p.refresh_reply("replay R1 (rotated out)", &r1).await?;
        match reply {
            RefreshReply::Rejected { .. } => {
                let after = if in_grace {
                    format!(
                        " once the grace window closed ({} after rotation)",
                        secs(rotated.elapsed())
                    )
                } else {
                    String::new()
                };
                f.pass(
                    "RFC9700-4.14.2",
                    format!("replayed R1 rejected{after}: {}", resp.brief()),
                );
                break;
            }
            RefreshReply::Accepted(t) if t.refresh_token.as_deref() == Some(r2.as_str()) => {
                if !in_grace {
                    f.info(
                        "",
                        "inside a grace window the replayed R1 got the same successor R2 back",
                    );
                    in_grace = true;
                }
                if rotated.elapsed() > GRACE_BUDGET {
                    return Err(Stop::skip(format!(
                        "the grace window is longer than {}s: reuse outside it cannot be tested quickly",
                        GRACE_BUDGET.as_secs()
                    )));
                }
                tokio::time::sleep(GRACE_POLL).await;
            }
            RefreshReply::Accepted(_) => {
                f.warn(
                    "RFC9700-4.14.2",
                    "the rotated-out R1 was ACCEPTED again and a new chain was issued: reuse is not detected",
                );
                f.info("", "revocation scope observed: nothing");
                return Ok(f);
            }
            RefreshReply::ServerError | RefreshReply::Unexpected => {
                f.warn(
                    "RFC9700-4.14.2",
                    format!("unexpected answer to the replayed R1: {}", resp.brief()),
                );
                return Ok(f);
            }
        }
    }

    let ((reply, resp), twin) = Twin::judge_along(
        twin,
        &p,
        p.refresh_reply("refresh with R2 (the newest) after the reuse", &r2),
    )
    .await?;
    if reply.rejected()
        && let Some(why) = refresh_expired_before(&t2, SystemTime::now())
    {
        // A server that answers the replay slowly can let R2 run out first.
        return Err(Stop::skip(format!(
            "not judged whether the family was revoked: R2 was refused, but {why}"
        )));
    }
    match reply {
        RefreshReply::Accepted(_) => {
            f.warn(
                "RFC9700-4.14.2",
                format!(
                    "R2, the newest refresh token of the family, still works after the reuse of R1 ({}): the family was not revoked",
                    resp.status
                ),
            );
            f.info("", "revocation scope observed: only the replayed token");
            return Ok(f);
        }
        RefreshReply::ServerError | RefreshReply::Unexpected => {
            f.warn(
                "RFC9700-4.14.2",
                format!("unexpected answer to R2 after the reuse: {}", resp.brief()),
            );
            return Ok(f);
        }
        RefreshReply::Rejected { .. } => {}
    }
    // R2 is a rotated successor never used: one that went through no reuse must refresh, and the
    // twin, as old and rotated as often, must have refreshed next to it.
    twin.settle(&mut f, true)?;
    control(&p, &mut f, 1, 1, "RT-06").await?;
    f.pass(
        "RFC9700-4.14.2",
        format!("R2 revoked with the family: {}", resp.brief()),
    );
    let api = p
        .api("resource call with R2's access token after the reuse", &at2)
        .await?;
    if api.ok() {
        f.info(
            "",
            "revocation scope observed: the refresh tokens of the family; R2's access token is still accepted until it expires",
        );
    } else {
        f.info(
            "",
            format!(
                "revocation scope observed: the whole family including access tokens (R2's access token gets {})",
                api.status
            ),
        );
    }
    Ok(f)
}
