//! RV-02: revoking a token the server does not know is not an error (RFC 7009 §2.2).

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RV-02",
        title: "Revoking an unknown token answers 200",
        summary: "Revoke a garbage token with each token_type_hint: 200 every time (invalid tokens do not cause an error response); 400 unsupported_token_type for the access-token hint means the server does not revoke access tokens (INFO).",
        requirements: &["RFC7009-2.2"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::Revocation],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let mut f = Findings::new();
    for kind in [TokenKind::Refresh, TokenKind::Access] {
        let token = unknown_token("revoke");
        let label = format!("revoke an unknown token ({})", kind.hint());
        if !p.profile().revoke_accepts(kind) {
            f.info(
                "RFC7009-2.2",
                format!("{label}: not tried, the profile declares that the revocation endpoint does not accept {}s (token_types.revoke)", kind.hint()),
            );
            continue;
        }
        let Some(r) = p.revoke(&label, &token, kind).await else {
            return Err(Stop::skip(Need::Revocation.reason()));
        };
        let r = r?;
        // RFC 7009 §2: a server MUST revoke refresh tokens but only SHOULD revoke access
        // tokens, and says it does not with 400 `unsupported_token_type` (§2.2.1): the server's
        // documented answer about the token type, not an error for an unknown token.
        if kind == TokenKind::Access
            && r.status == 400
            && r.error_code().as_deref() == Some("unsupported_token_type")
        {
            f.info(
                "RFC7009-2.2",
                format!("{label}: {}: the server does not revoke access tokens, so this case does not apply", r.brief()),
            );
            continue;
        }
        // RFC 7009 §2.2.1 allows a 503 (the client retries later): no verdict either way.
        answered(&r, &label)?;
        f.expect(
            r.status == 200,
            Status::Fail,
            "RFC7009-2.2",
            format!("{label}: {}", r.brief()),
        );
    }
    Ok(f)
}
