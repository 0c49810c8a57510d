//! JW-07: token-type confusion — a refresh token (or an ID token) presented as an access token is
//! refused.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-07",
        title: "Refresh and ID tokens are not accepted as access tokens",
        summary: "Call the resource with the refresh token (and the ID token, if the login returned one) as bearer token: refused, while the genuine token is still accepted right after.",
        requirements: &["RFC9068-4", "RFC8725-3.11"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let rt = s.rt()?;
    genuine_works(&p, s.at()).await?;
    let mut cases = vec![("the refresh token".to_string(), rt)];
    if let Some(id) = s
        .resp
        .json()
        .and_then(|v| v.get("id_token")?.as_str().map(str::to_string))
    {
        cases.push(("the ID token".into(), id));
    }
    super::expect_refused(&p, "RFC9068-4", s.at(), cases).await
}
