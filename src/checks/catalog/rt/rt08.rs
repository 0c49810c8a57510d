//! RT-08: a grace window (if any) tolerates only the immediate predecessor of the newest refresh
//! token, never an older ancestor (django-oauth-toolkit #1617 accepted any ancestor). Tolerating
//! means answering with the same successor (or none): a predecessor accepted with a *different*
//! successor forks the chain (WARN).

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-08",
        title: "A grace window tolerates only the immediate predecessor",
        summary: "Rotate R0 → R1 → R2, then at once replay R1 (predecessor) and R0 (grandparent): if R1 is tolerated, it gets R2 (or no refresh token) back, never a different successor (a fork), and R0 must still be rejected. No grace window observed: INFO.",
        requirements: &["RFC9700-4.14.2"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

/// A replay judged within this of the rotation it follows came "at once": a grace window is
/// seconds long (the mock's `--reuse-grace 1s`, Auth0's and Okta's leeways of 0–60 s).
const AT_ONCE: Duration = Duration::from_millis(300);

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let r0 = s.rt()?;
    let r1 = rotate(&p, "rotate R0 into R1", &r0, "RT-01").await?;
    let r2 = rotate(&p, "rotate R1 into R2", &r1, "RT-06").await?;
    let issued = Instant::now();
    let mut f = Findings::new();
    let (reply, resp) = p
        .refresh_reply("replay R1 (the predecessor) at once", &r1)
        .await?;
    // How long after R2 was issued the server judged the replay (at most).
    let replayed = issued.elapsed();
    match reply {
        RefreshReply::Accepted(t) => match t.refresh_token.as_deref() {
            Some(r) if r == r2 => f.info(
                "",
                "grace window observed: the predecessor R1 got the same successor R2 back",
            ),
            None => f.info(
                "",
                "grace window observed: the predecessor R1 was accepted without a new refresh token (R2 stays the newest)",
            ),
            Some(other) => f.warn(
                "RFC9700-4.14.2",
                format!(
                    "forked chain: the predecessor R1 was accepted again with a DIFFERENT successor {} (R2 is {}): two live chains",
                    p.show(other),
                    p.show(&r2)
                ),
            ),
        },
        RefreshReply::Rejected { .. } => {
            f.info(
                "",
                if replayed <= AT_ONCE {
                    format!(
                        "no grace window: the predecessor R1 was rejected at once ({}, within {} of R2), the strictest conforming behaviour",
                        resp.brief(),
                        secs(replayed)
                    )
                } else {
                    format!(
                        "the predecessor R1 was rejected ({}) {} after R2 was issued: the replay came late (a stalled client, slow answers), so a shorter grace window was not tried",
                        resp.brief(),
                        secs(replayed)
                    )
                },
            );
            return Ok(f);
        }
        RefreshReply::ServerError | RefreshReply::Unexpected => {
            f.warn(
                "RFC9700-4.14.2",
                format!(
                    "unexpected answer to the replayed predecessor: {}",
                    resp.brief()
                ),
            );
            return Ok(f);
        }
    }
    let (reply, resp) = p.refresh_reply("replay R0 (the grandparent)", &r0).await?;
    match reply {
        RefreshReply::Rejected { .. } => f.pass(
            "RFC9700-4.14.2",
            format!("the grandparent R0 is rejected: {}", resp.brief()),
        ),
        RefreshReply::Accepted(_) => f.warn(
            "RFC9700-4.14.2",
            "the grandparent R0 was ACCEPTED: the grace window tolerates more than the immediate predecessor",
        ),
        RefreshReply::ServerError | RefreshReply::Unexpected => f.warn(
            "RFC9700-4.14.2",
            format!("unexpected answer to the replayed grandparent: {}", resp.brief()),
        ),
    }
    Ok(f)
}

/// Rotates `rt`; a refusal is judged by `judged_by` (SKIP here), no new token by RT-06.
async fn rotate(p: &Probe, label: &str, rt: &str, judged_by: &str) -> Result<String, Stop> {
    let (reply, resp) = p.refresh_reply(label, rt).await?;
    let t = premise(reply, &resp, &format!("{label}: the refresh"), judged_by)?;
    match t.refresh_token {
        Some(next) if next != rt => Ok(next),
        _ => Err(Stop::skip(
            "the server does not rotate refresh tokens (see RT-06)",
        )),
    }
}
