//! AT-02: an access token works until shortly before the expiry the server announced for it
//! (`expires_in`, a JWT `exp`). A client renews by that announcement; a token that dies earlier
//! meets every such client with refusals it cannot explain (a load run counts them as
//! `refused_before_expiry`). Judged once, 1 s before the announced expiry (clock difference,
//! whole-second rounding), plus the login's latency when the expiry was read from `expires_in` on
//! the answer's arrival (later than the server's by that latency).

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "AT-02",
        title: "An access token works until shortly before its announced expiry",
        summary: "Log in and call the resource at once (control), then again 1 s (plus the login's latency) before the access token's announced expiry (expires_in or the JWT exp): PASS when accepted and a made-up token is refused right after it, WARN when refused, saying how long before the announced expiry; a refusal counts once a fresh login's token is accepted right after it. SKIP when the login announces no expiry, or one more than 2 minutes away.",
        requirements: &["RFC6749-5.1"],
        level: Level::Should,
        destructive: false,
        needs: &[],
    },
    run: |p| Box::pin(run(p)),
};

/// How long before the announced expiry the token is tried (plus the login's latency).
const SLACK: Duration = Duration::from_secs(1);
/// The longest wait for the judged instant: a token that lives longer is not judged.
const MAX_WAIT: Duration = Duration::from_secs(120);

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let Some(exp) = s.tokens.expires_at else {
        return Err(Stop::skip(
            "the login announces no access-token expiry (no expires_in, no JWT exp): nothing to hold the token to",
        ));
    };
    let lifetime = exp.duration_since(SystemTime::now()).unwrap_or_default();
    if lifetime > MAX_WAIT {
        return Err(Stop::skip(format!(
            "the access token lives {} by its announcement; this check waits at most {} (give the test client short-lived tokens to judge it)",
            secs(lifetime),
            secs(MAX_WAIT)
        )));
    }
    // A JWT's exp is the server's own; an expiry from expires_in was read when the answer
    // arrived, later than the server's by the answer's latency.
    let before = if crate::profile::jwt_exp(s.at()).is_some() {
        SLACK
    } else {
        SLACK + s.resp.elapsed
    };
    let Some(wait) = lifetime.checked_sub(before) else {
        return Err(Stop::skip(format!(
            "the access token lives {} by its announcement, less than the {} of slack this check leaves before it",
            secs(lifetime),
            secs(before)
        )));
    };
    genuine_works(&p, s.at()).await?;
    tokio::time::sleep(wait).await;
    let left = exp.duration_since(SystemTime::now()).unwrap_or_default();
    let r = p
        .api("resource call shortly before the announced expiry", s.at())
        .await?;
    let mut f = Findings::new();
    if r.ok() {
        // A resource that takes any token would pass: a made-up one must be refused.
        let control = refusing_control(&p).await?;
        f.pass(
            "RFC6749-5.1",
            format!(
                "accepted {} before the expiry announced {} earlier",
                secs(left),
                secs(lifetime)
            ),
        );
        f.info("", control);
        return Ok(f);
    }
    // A 5xx, 404 or 429 is no verdict on the token (ERROR).
    refused(&r, "the resource call shortly before the announced expiry")?;
    // The resource must still take tokens, or the refusal says nothing about this one.
    fresh_login_control(&p, 1).await?;
    f.warn(
        "RFC6749-5.1",
        format!(
            "the access token was refused ({}) {} before the expiry the server announced {} earlier: clients that renew by the announcement meet refusals (a load run counts refused_before_expiry)",
            r.status,
            secs(left),
            secs(lifetime)
        ),
    );
    Ok(f)
}
