//! RS-01: a resource request without any credential gets 401 with a Bearer challenge and no
//! error code.

use crate::checks::catalog::prelude::*;
use crate::profile::Rendered;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RS-01",
        title: "No credentials: 401 with a Bearer challenge, no error code",
        summary: "Call the resource without any token: 401 with WWW-Authenticate: Bearer (realm…) and no error parameter.",
        requirements: &["RFC6750-3", "RFC6750-3.1"],
        level: Level::Must,
        destructive: false,
        needs: &[],
    },
    run: |p| Box::pin(run(p)),
};

/// A stand-in token, removed from the request wherever the profile put it.
const PLACEHOLDER: &str = "authbench-placeholder-token";

async fn run(p: Arc<Probe>) -> Verdict {
    let r = p
        .api_edited(
            "resource call without credentials",
            PLACEHOLDER,
            strip_token,
        )
        .await?;
    answered(&r, "the resource call without credentials")?;
    let mut f = Findings::new();
    if r.ok() {
        f.fail(
            "RFC6750-3",
            format!(
                "the resource was served without any credential ({})",
                r.status
            ),
        );
        return Ok(f);
    }
    // RFC 6750 §3 makes the challenge a MUST, not the status: 401 is what clients expect.
    f.expect(
        r.status == 401,
        Status::Warn,
        "RFC6750-3",
        if r.status == 401 {
            "status 401".to_string()
        } else {
            format!("status {} instead of 401", answer(&r))
        },
    );
    let missing = format!("no WWW-Authenticate header on the {}", answer(&r));
    if let Some(c) = bearer_challenge(&mut f, &r, &missing) {
        f.expect(
            c.error.is_none(),
            Status::Warn,
            "RFC6750-3.1",
            match &c.error {
                None => "no error code for a request without credentials".to_string(),
                Some(e) => format!("error={e:?} on a request that carried no credentials"),
            },
        );
    }
    Ok(f)
}

/// The answer as the messages name it: its status, and where a redirect leads (a login page
/// instead of a challenge), e.g. `302 redirect to /login`.
fn answer(r: &Resp) -> String {
    match r.header("location") {
        Some(to) if (300..400).contains(&r.status) => {
            let to: String = to.chars().take(80).collect();
            format!("{} redirect to {to}", r.status)
        }
        _ => r.status.to_string(),
    }
}

/// Removes every header and query parameter that carries the placeholder token.
pub fn strip_token(req: &mut Rendered) {
    let names: Vec<_> = req
        .headers()
        .iter()
        .filter(|(_, v)| v.to_str().is_ok_and(|v| v.contains(PLACEHOLDER)))
        .map(|(n, _)| n.clone())
        .collect();
    for n in names {
        req.headers_mut().remove(n);
    }
    if req.uri().query().is_some_and(|q| q.contains(PLACEHOLDER)) {
        edit_url(req, |u| {
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(_, v)| !v.contains(PLACEHOLDER))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            u.set_query(None);
            if !kept.is_empty() {
                u.query_pairs_mut().extend_pairs(kept);
            }
        });
    }
}
