//! JW-03: RS256/HS256 key confusion — the access token re-signed with HS256 using the server's RSA
//! public key (from its JWKS) as the HMAC secret is refused (CVE-2016-10555).

use super::forgeries_refused;
use crate::checks::catalog::prelude::*;
use crate::checks::jwt::{b64url, rsa_public_key_secrets};
use crate::checks::probe::JwksMissing;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-03",
        title: "RS256 → HS256 key confusion is refused",
        summary: "Re-sign the access token with HS256 using the JWKS's RSA public key (PEM/DER, SPKI/PKCS#1) as the secret: refused, while the genuine token is still accepted right after. SKIP when the JWKS has no RSA key.",
        requirements: &["RFC8725-2.1", "RFC8725-3.1"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::JwtAccessTokens, Need::RsaJwk],
    },
    run: |p| Box::pin(run(p)),
};

/// RSA keys of the JWKS tried (each in every encoding).
const MAX_KEYS: usize = 2;

async fn run(p: Arc<Probe>) -> Verdict {
    // The JWKS first: the access token is used right after the login.
    let jwks = p.jwks().await.map_err(|why| match why {
        JwksMissing::NotPublished => {
            Stop::skip("no JWKS found (OpenID discovery jwks_uri, /.well-known/jwks.json)")
        }
        JwksMissing::Unavailable(what) => Stop::error(format!(
            "the signing keys could not be read, the server failed: {what}"
        )),
    })?;
    let keys: Vec<(Option<String>, Vec<u8>, Vec<u8>)> = jwks
        .get("keys")
        .and_then(|k| k.as_array())
        .map(|keys| {
            keys.iter()
                .filter(|k| k.get("kty").and_then(|v| v.as_str()) == Some("RSA"))
                .filter_map(|k| {
                    let n = b64url(k.get("n")?.as_str()?)?;
                    let e = b64url(k.get("e")?.as_str()?)?;
                    let kid = k.get("kid").and_then(|v| v.as_str()).map(str::to_string);
                    Some((kid, n, e))
                })
                .take(MAX_KEYS)
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() {
        return Err(Stop::skip(Need::RsaJwk.reason()));
    }
    forgeries_refused(&p, "RFC8725-2.1", |jwt| {
        let mut forged = Vec::new();
        for (kid, n, e) in &keys {
            for (form, secret) in rsa_public_key_secrets(n, e) {
                if let Some(t) = jwt.resigned_hs256(&secret, |_| {}) {
                    let key = kid.as_deref().unwrap_or("the RSA key");
                    forged.push((format!("HS256 signed with {key} as {form}"), t));
                }
            }
        }
        forged
    })
    .await
}
