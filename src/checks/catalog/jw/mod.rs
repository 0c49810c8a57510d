//! `JW-*`: JWT access-token validation attacks (the jwt_tool playbook): `alg: none`, stripped and
//! tampered signatures, RS/HS key confusion, `kid` injection, expiry, token-type confusion.

pub mod jw01;
pub mod jw02;
pub mod jw03;
pub mod jw05;
pub mod jw06;
pub mod jw07;

use crate::checks::catalog::prelude::*;

/// Presents each forged token to the resource; every one must be refused.
pub async fn expect_refused(
    p: &Probe,
    f: &mut Findings,
    requirement: &'static str,
    forged: Vec<(String, String)>,
) -> Result<(), Stop> {
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
    Ok(())
}
