//! JW-05: `kid` injection — a header `kid` pointing at a predictable file or carrying SQL, with the
//! token HMAC-signed with the value such a lookup would return, is refused.

use serde_json::Value;

use super::forgeries_refused;
use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-05",
        title: "kid injection (path traversal, SQL) is refused",
        summary: "Re-sign the access token with HS256 and kid = ../../dev/null (empty secret), /dev/null, or an SQL UNION returning a known secret: refused, while the genuine token is still accepted right after.",
        requirements: &["RFC8725-3.10", "WSTG-SESS-10"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::JwtAccessTokens],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let cases: [(&str, &[u8]); 3] = [
        ("../../../../../../../dev/null", b""),
        ("/dev/null", b""),
        ("x' UNION SELECT 'authbench' -- ", b"authbench"),
    ];
    forgeries_refused(&p, "RFC8725-3.10", |jwt| {
        cases
            .iter()
            .filter_map(|(kid, secret)| {
                let t = jwt.resigned_hs256(secret, |h| {
                    h.insert("kid".into(), Value::String((*kid).to_string()));
                })?;
                Some((format!("kid {kid:?} (HS256)"), t))
            })
            .collect()
    })
    .await
}
