//! RT-08: a grace window (if any) tolerates only the immediate predecessor of the newest refresh
//! token, never an older ancestor (django-oauth-toolkit #1617 accepted any ancestor).

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-08",
        title: "A grace window tolerates only the immediate predecessor",
        summary: "Rotate R0 → R1 → R2, then at once replay R1 (predecessor) and R0 (grandparent): if R1 is tolerated, R0 must still be rejected. No grace window observed: INFO.",
        requirements: &["RFC9700-4.14.2"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let r0 = s.rt()?;
    let r1 = rotate(&p, "rotate R0 into R1", &r0).await?;
    let r2 = rotate(&p, "rotate R1 into R2", &r1).await?;
    let mut f = Findings::new();
    let (reply, resp) = p
        .refresh_reply("replay R1 (the predecessor) at once", &r1)
        .await?;
    match reply {
        RefreshReply::Accepted(t) => {
            let same = t.refresh_token.as_deref() == Some(r2.as_str());
            f.info(
                "",
                if same {
                    "grace window observed: the predecessor R1 got the same successor R2 back"
                } else {
                    "the predecessor R1 was accepted again (with a new successor)"
                },
            );
        }
        RefreshReply::Rejected { .. } => {
            f.info(
                "",
                format!(
                    "no grace window: the predecessor R1 was rejected at once ({}), the strictest conforming behaviour",
                    resp.brief()
                ),
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

async fn rotate(p: &Probe, label: &str, rt: &str) -> Result<String, Stop> {
    let (reply, resp) = p.refresh_reply(label, rt).await?;
    match reply {
        RefreshReply::Accepted(t) => match t.refresh_token {
            Some(next) if next != rt => Ok(next),
            _ => Err(Stop::skip(
                "the server does not rotate refresh tokens (see RT-06)",
            )),
        },
        _ => Err(Stop::error(format!(
            "a valid refresh token was not accepted ({}); see RT-01",
            resp.brief()
        ))),
    }
}
