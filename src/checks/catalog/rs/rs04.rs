//! RS-04: an access token in the URL query is not accepted (it leaks into logs and referrers).

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RS-04",
        title: "Access tokens in the query string are not accepted",
        summary: "Call the resource with ?access_token=<valid token> and no Authorization header: not accepted (it would leak into logs, history and Referer); the same token in the header is accepted right after.",
        requirements: &["RFC6750-2.3", "RFC6750-5.3"],
        level: Level::Should,
        destructive: false,
        needs: &[],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    genuine_works(&p, s.at()).await?;
    let at = s.at().to_string();
    let r = p
        .api_edited("resource call with the token in the query", s.at(), |req| {
            req.headers_mut().remove(http::header::AUTHORIZATION);
            edit_url(req, |u| {
                u.query_pairs_mut().append_pair("access_token", &at);
            });
        })
        .await?;
    let refused = refused(&r, "resource call with the token in the query")?;
    let mut f = Findings::new();
    f.expect(
        refused,
        Status::Warn,
        "RFC6750-2.3",
        if refused {
            format!("a token in ?access_token= is refused ({})", r.status)
        } else {
            format!("a token in ?access_token= was ACCEPTED ({})", r.status)
        },
    );
    if refused {
        // The same token in the header must still be accepted, or the refusal proves nothing.
        f.info(
            "",
            accepted_control(&p, "the same token in the header, again", s.at()).await?,
        );
    }
    Ok(f)
}
