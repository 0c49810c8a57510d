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
    expect_refused(p, requirement, forge(&jwt)).await
}

/// Presents each forged token to the resource; every one must be refused.
pub async fn expect_refused(
    p: &Probe,
    requirement: &'static str,
    forged: Vec<(String, String)>,
) -> Verdict {
    let mut f = Findings::new();
    for (what, token) in forged {
        p.secret(&token);
        let r = p.api(&format!("resource call with {what}"), &token).await?;
        f.expect(
            !r.ok(),
            Status::Fail,
            requirement,
            if r.ok() {
                format!("{what} was ACCEPTED ({})", r.status)
            } else {
                format!("{what}: refused ({})", r.status)
            },
        );
    }
    Ok(f)
}
