//! `JW-*`: JWT access-token validation attacks (the jwt_tool playbook): `alg: none`, stripped and
//! tampered signatures, RS/HS key confusion, `kid` injection, expiry, token-type confusion.

pub mod jw01;
pub mod jw02;
pub mod jw03;
pub mod jw05;
pub mod jw06;
pub mod jw07;

use crate::checks::catalog::prelude::*;
use crate::checks::jwt::Jwt;

/// Logs in, makes sure the genuine access token works, then presents every forgery `forge` makes
/// of it (what it is, the token): each must be refused.
pub async fn forgeries_refused(
    p: &Probe,
    requirement: &'static str,
    forge: impl FnOnce(&Jwt) -> Vec<(String, String)>,
) -> Verdict {
    let s = p.login(0).await?;
    let jwt = p.jwt(s.at())?;
    genuine_works(p, s.at()).await?;
    expect_refused(p, requirement, s.at(), forge(&jwt)).await
}

/// Presents each forged token to the resource; every one must be refused. A refusal counts only
/// when the `genuine` access token is still accepted afterwards ([`accepted_control`]): a
/// resource that refuses everything cannot pass.
pub async fn expect_refused(
    p: &Probe,
    requirement: &'static str,
    genuine: &str,
    forged: Vec<(String, String)>,
) -> Verdict {
    let mut f = Findings::new();
    let mut any_refused = false;
    for (what, token) in forged {
        p.secret(&token);
        let label = format!("resource call with {what}");
        let r = p.api(&label, &token).await?;
        let refused = refused(&r, &label)?;
        any_refused |= refused;
        f.expect(
            refused,
            Status::Fail,
            requirement,
            if refused {
                format!("{what}: refused ({})", r.status)
            } else {
                format!("{what} was ACCEPTED ({})", r.status)
            },
        );
    }
    if any_refused {
        // A FAIL for an accepted forgery stands whatever the control finds.
        match accepted_control(p, "the genuine access token, again", genuine).await {
            Ok(control) => f.info("", control),
            Err(Stop::Skip(why)) if f.has_findings() => f.info("", why),
            Err(e) => return Err(e),
        }
    }
    Ok(f)
}
