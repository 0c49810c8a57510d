//! RT-06: refresh-token rotation — a refresh returns a new refresh token, the new one works, and
//! its own refresh rotates again (a server that rotates only a login's token fails). Whether the
//! old one is dead is RT-07's business, outside any grace window.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-06",
        title: "Refresh tokens are rotated on use",
        summary: "Refresh with R1: the response carries a new refresh token R2 ≠ R1 (public clients without sender-constrained tokens), R2 refreshes, and that refresh carries a new R3 in turn (rotation on every refresh, not only the first).",
        requirements: &["RFC9700-4.14.2", "RFC9700-2.2.2"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let r1 = s.rt()?;
    let (reply, resp) = p.refresh_reply("refresh with R1", &r1).await?;
    let t = premise(reply, &resp, "the login's refresh token R1", "RT-01")?;
    let mut f = Findings::new();
    let Some(r2) = t.refresh_token else {
        f.fail(
            "RFC9700-4.14.2",
            "the refresh response carries no new refresh token: R1 stays in use (no rotation)",
        );
        return Ok(f);
    };
    if r2 == r1 {
        f.fail(
            "RFC9700-4.14.2",
            format!(
                "the same refresh token came back ({}): no rotation",
                p.show(&r1)
            ),
        );
        return Ok(f);
    }
    f.pass(
        "RFC9700-4.14.2",
        format!("rotated: R1 {} → R2 {}", p.show(&r1), p.show(&r2)),
    );
    let (reply, resp) = p.refresh_reply("refresh with R2", &r2).await?;
    f.expect(
        reply.accepted(),
        Status::Fail,
        "RFC9700-4.14.2",
        format!("the rotated refresh token R2 refreshes: {}", resp.brief()),
    );
    // Rotation is for every refresh, not the first one only: a server that rotates a login's
    // token but hands a rotated one back unchanged has a reusable token from the second refresh on.
    if let RefreshReply::Accepted(t) = reply {
        match t.refresh_token {
            Some(r3) if r3 != r2 && r3 != r1 => f.pass(
                "RFC9700-4.14.2",
                format!("rotated again: R2 → R3 {}", p.show(&r3)),
            ),
            Some(r3) => f.fail(
                "RFC9700-4.14.2",
                format!(
                    "rotation stopped after the first refresh: R2's refresh returned {} again",
                    if r3 == r2 { "R2" } else { "R1" }
                ),
            ),
            None => f.fail(
                "RFC9700-4.14.2",
                "rotation stopped after the first refresh: R2's refresh carries no new refresh token, so R2 stays in use",
            ),
        }
    }
    Ok(f)
}
