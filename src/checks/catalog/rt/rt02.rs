//! RT-02: an unknown, malformed or wrong-type refresh token is rejected with 400 `invalid_grant`.
//!
//! A rejection with 401/403 is a WARN (a FAIL with `--strict`): clients written for RFC 6749
//! treat only 400 `invalid_grant` as "log in again". For refresh endpoints that are not OAuth
//! token endpoints (a JSON API), the profile's own rejection contract is the standard.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-02",
        title: "An invalid refresh token is rejected with 400 invalid_grant",
        summary: "Refresh with an unknown token, a malformed token and an access token: each gets 400 {\"error\":\"invalid_grant\"} (401/403 is a WARN, a FAIL with --strict).",
        requirements: &["RFC6749-5.2"],
        level: Level::Must,
        destructive: false,
        needs: &[],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    // The access token first, while it is surely still valid.
    let cases = [
        ("the access token as refresh token", s.at().to_string()),
        ("an unknown refresh token", unknown_token("rt")),
        ("a malformed refresh token", "!!not-a-token!!".to_string()),
    ];
    let mut f = Findings::new();
    for (what, token) in cases {
        let (reply, resp) = p
            .refresh_reply(&format!("refresh with {what}"), &token)
            .await?;
        judge(&p, &mut f, what, &reply, &resp);
    }
    Ok(f)
}

fn judge(p: &Probe, f: &mut Findings, what: &str, reply: &RefreshReply, resp: &Resp) {
    match reply {
        RefreshReply::Rejected { rfc: true } => {
            f.pass(
                "RFC6749-5.2",
                format!("{what}: rejected ({})", resp.brief()),
            );
        }
        RefreshReply::Rejected { rfc: false } => {
            let status = if p.strict() {
                Status::Fail
            } else {
                Status::Warn
            };
            f.add(
                status,
                "RFC6749-5.2",
                format!(
                    "{what}: rejected with {} instead of 400 invalid_grant",
                    resp.brief()
                ),
            );
        }
        RefreshReply::Accepted(_) => {
            f.fail(
                "RFC6749-5.2",
                format!("{what}: ACCEPTED ({}), new tokens issued", resp.status),
            );
        }
        RefreshReply::ServerError => {
            f.fail(
                "RFC6749-5.2",
                format!("{what}: server error {}", resp.status),
            );
        }
        RefreshReply::Unexpected => {
            f.fail(
                "RFC6749-5.2",
                format!("{what}: unexpected answer {}", resp.brief()),
            );
        }
    }
}
