//! JW-06: an access token is refused once its `exp` has passed (waits for the real expiry of a
//! short-lived token; SKIP when the token lives too long to wait for).

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-06",
        title: "Expired access tokens are refused",
        summary: "Wait until the access token's exp has passed, then use it: refused (one retry 1.5 s later allows for a small leeway).",
        requirements: &["RFC7519-4.1.4", "RFC9068-4"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::ShortAccessTokens],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let exp = short_expiry(&s.tokens)?;
    genuine_works(&p, s.at()).await?;
    let mut f = Findings::new();
    sleep_until(exp + Duration::from_millis(300)).await;
    let r = p.api("resource call just after exp", s.at()).await?;
    if !r.ok() {
        f.pass(
            "RFC7519-4.1.4",
            format!("refused just after exp ({})", r.status),
        );
        return Ok(f);
    }
    sleep_until(exp + Duration::from_millis(1800)).await;
    let r = p.api("resource call 1.8 s after exp", s.at()).await?;
    f.expect(
        !r.ok(),
        Status::Fail,
        "RFC7519-4.1.4",
        if r.ok() {
            format!(
                "the expired access token is still ACCEPTED 1.8 s after exp ({})",
                r.status
            )
        } else {
            format!(
                "refused 1.8 s after exp ({}); accepted just after it (a leeway)",
                r.status
            )
        },
    );
    Ok(f)
}
