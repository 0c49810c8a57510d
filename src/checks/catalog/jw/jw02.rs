//! JW-02: stripped or tampered signatures are refused (CVE-2020-28042).

use super::forgeries_refused;
use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-02",
        title: "Stripped or tampered signatures are refused",
        summary: "Present the access token without its signature, with one signature bit flipped, and with a changed sub under the original signature: refused, while the genuine token is still accepted right after.",
        requirements: &["RFC7515-5.2", "RFC8725-3.1"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::JwtAccessTokens],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    forgeries_refused(&p, "RFC7515-5.2", |jwt| {
        vec![
            ("the signature stripped".to_string(), jwt.stripped()),
            (
                "one signature bit flipped".to_string(),
                jwt.tampered_signature(),
            ),
            (
                "a changed sub under the original signature".to_string(),
                jwt.tampered_payload(),
            ),
        ]
    })
    .await
}
