//! JW-01: an access token re-signed with `alg: none` (four casings) and an empty signature is
//! refused (CVE-2015-2951).

use super::forgeries_refused;
use crate::checks::catalog::prelude::*;
use crate::checks::jwt::NONE_CASINGS;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-01",
        title: "alg \"none\" is refused in every casing",
        summary: "Present the access token with its header's alg set to none / None / NONE / nOnE and no signature: refused, while the genuine token is still accepted right after.",
        requirements: &["RFC8725-3.1", "RFC8725-3.2", "RFC9068-4"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::JwtAccessTokens],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    forgeries_refused(&p, "RFC8725-3.1", |jwt| {
        NONE_CASINGS
            .iter()
            .map(|alg| (format!("alg {alg:?} and no signature"), jwt.alg_none(alg)))
            .collect()
    })
    .await
}
