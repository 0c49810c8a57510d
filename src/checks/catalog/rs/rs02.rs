//! RS-02: an invalid access token — garbage, revoked, expired — gets 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"`, the signal clients refresh on.

use crate::checks::catalog::prelude::*;
use crate::checks::probe::challenge;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RS-02",
        title: "Invalid access tokens: 401 with error=\"invalid_token\"",
        summary: "Call the resource with a garbage, a logged-out and an expired access token: each gets 401 and WWW-Authenticate: Bearer error=\"invalid_token\" (403 would stop clients from refreshing).",
        requirements: &["RFC6750-3.1"],
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
    judge(&mut f, "a garbage token", &r);

    // Logged out: only judged when the server does refuse it (else AT-01 reports the window).
    let s = p.login(0).await?;
    if let Some(r) = p.logout("logout", &s.tokens).await {
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
            judge(&mut f, "a logged-out token", &r);
        }
    }

    // Expired: waited for when the token is short-lived.
    let s = p.login(1).await?;
    match short_expiry(&s.tokens) {
        Ok(exp) => {
            sleep_until(exp + Duration::from_millis(300)).await;
            let r = p
                .api("resource call with an expired access token", s.at())
                .await?;
            judge(&mut f, "an expired token", &r);
        }
        Err(Stop::Skip(why)) => f.info("", format!("expired token not tried: {why}")),
        Err(e) => return Err(e),
    }
    Ok(f)
}

fn judge(f: &mut Findings, what: &str, r: &Resp) {
    if r.ok() {
        f.fail("RFC6750-3.1", format!("{what} was ACCEPTED ({})", r.status));
        return;
    }
    f.expect(
        r.status == 401,
        Status::Fail,
        "RFC6750-3.1",
        format!("{what}: status {}", r.status),
    );
    match challenge(r) {
        None => {
            f.fail("RFC6750-3.1", format!("{what}: no WWW-Authenticate header"));
        }
        Some(c) => {
            let ok = c.scheme.eq_ignore_ascii_case("bearer")
                && c.error.as_deref() == Some("invalid_token");
            f.expect(
                ok,
                Status::Fail,
                "RFC6750-3.1",
                format!(
                    "{what}: WWW-Authenticate {} error={}",
                    c.scheme,
                    c.error.as_deref().unwrap_or("(none)")
                ),
            );
        }
    }
}
