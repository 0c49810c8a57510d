//! RS-03: a valid access token that lacks the scope of a resource gets 403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope"` (RFC 6750 §3.1), not 401 — a 401 tells
//! clients their token is dead, and clients that log out on it lose a valid session.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RS-03",
        title: "Missing scope: 403 with error=\"insufficient_scope\", not 401",
        summary: "Call the profile's scoped_resource with a valid token that lacks its scope: refused with a Bearer challenge (MUST), with 403 and error=\"insufficient_scope\" (SHOULD: a 401 or another error is a WARN); the challenge's scope attribute is reported (MAY).",
        requirements: &["RFC6750-3", "RFC6750-3.1"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::ScopedResource],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let scope = match p.profile().scoped_resource() {
        Some(s) => s.scope.clone(),
        None => return Err(Stop::skip(Need::ScopedResource.reason())),
    };
    let s = p.login(0).await?;
    let r = p
        .api("resource call with the fresh access token", s.at())
        .await?;
    if !r.ok() && refuses_the_token(&r).is_some() {
        // The server's documented verdict on a token it just issued: not this check's premise
        // failing through the profile (RT-01 judges a refused new access token).
        return Err(Stop::skip(format!(
            "not judged: the resource refuses the fresh access token ({}), so a missing scope cannot be told from a refused token (see RT-01)",
            r.brief()
        )));
    }
    if !r.ok() {
        return Err(Stop::error(format!(
            "the fresh access token is refused by the plain resource ({}); cannot tell a missing scope from a bad token",
            r.brief()
        )));
    }
    let r = p
        .scoped_api(
            &format!("scoped resource call (needs scope {scope}) with the same token"),
            s.at(),
        )
        .await?;
    let mut f = Findings::new();
    judge(&mut f, &scope, &r);
    Ok(f)
}

/// The levels follow RFC 6750's wording: a refused request MUST carry a `WWW-Authenticate`
/// challenge (§3); for a token that lacks privileges the server SHOULD answer 403 (§3.1) and
/// SHOULD name the error, `insufficient_scope` (§3, §3.1), and MAY say the scope it needs (§3.1).
fn judge(f: &mut Findings, scope: &str, r: &Resp) {
    if r.ok() {
        f.fail(
            "RFC6750-3.1",
            format!(
                "a token without scope {scope} was ACCEPTED ({}): the resource is not restricted to that scope (or the profile's scoped_resource names the wrong one)",
                r.status
            ),
        );
        return;
    }
    f.expect(
        r.status == 403,
        Status::Warn,
        "RFC6750-3.1",
        format!(
            "status {}{}",
            r.status,
            match r.status {
                403 => "",
                401 => {
                    " instead of 403: clients take a 401 for a dead token, refresh and may log a valid session out"
                }
                _ => " instead of 403",
            }
        ),
    );
    let Some(c) = bearer_challenge(f, r, "no WWW-Authenticate header") else {
        return;
    };
    f.expect(
        c.error.as_deref() == Some("insufficient_scope"),
        Status::Warn,
        "RFC6750-3.1",
        format!(
            "WWW-Authenticate error={}",
            c.error.as_deref().unwrap_or("(none)")
        ),
    );
    match c.scope {
        Some(s) => f.info("RFC6750-3.1", format!("the challenge names scope={s:?}")),
        None => f.info("RFC6750-3.1", "the challenge names no scope (MAY)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, www: Option<&str>) -> Resp {
        crate::checks::probe::test_resp(status, www, "")
    }

    fn worst(r: &Resp) -> Status {
        let mut f = Findings::new();
        judge(&mut f, "admin", r);
        f.status()
    }

    #[test]
    fn levels_follow_the_rfc_wording() {
        let good = "Bearer error=\"insufficient_scope\", scope=\"admin\"";
        assert_eq!(worst(&resp(403, Some(good))), Status::Pass);
        assert_eq!(
            worst(&resp(401, Some("Bearer error=\"invalid_token\""))),
            Status::Warn
        );
        assert_eq!(worst(&resp(403, Some("Bearer realm=\"x\""))), Status::Warn);
        assert_eq!(worst(&resp(403, None)), Status::Fail);
        assert_eq!(worst(&resp(200, None)), Status::Fail);
    }
}
