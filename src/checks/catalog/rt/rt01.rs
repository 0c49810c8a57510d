//! RT-01: a valid refresh returns new tokens in the RFC 6749 §5.1 form, not cacheable, and the new
//! access token works. A JWT access token's `exp` (of the login's and the refresh's response)
//! agrees with the response's `expires_in` ([`exp_agrees_with_expires_in`]): an `exp` in
//! milliseconds is a FAIL, a lifetime that disagrees beyond clock skew a WARN.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-01",
        title: "A valid refresh returns usable tokens in the standard form",
        summary: "Refresh with a fresh refresh token: 200 JSON with access_token, token_type, expires_in and Cache-Control: no-store; the new access token works. A JWT access token's exp (login and refresh) agrees with expires_in within 60 s + 10 % (a WARN beyond; an exp over 100 years ahead is not in seconds: FAIL).",
        requirements: &["RFC6749-5.1", "RFC6749-6", "RFC7519-4.1.4"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let logged_in = SystemTime::now()
        .checked_sub(s.at.elapsed())
        .unwrap_or_else(SystemTime::now);
    let rt = s.rt()?;
    let resp = p
        .refresh("refresh with the login's refresh token", &rt)
        .await?;
    let refreshed = SystemTime::now();
    let mut f = Findings::new();
    exp_agrees_with_expires_in(&mut f, "login", &s.resp, s.at(), logged_in);
    let tokens = match p.classify_refresh(&resp) {
        RefreshReply::Accepted(t) => t,
        _ => {
            f.fail(
                "RFC6749-6",
                format!("a valid refresh token was not accepted: {}", resp.brief()),
            );
            return Ok(f);
        }
    };
    f.pass("RFC6749-6", format!("refresh accepted ({})", resp.status));
    exp_agrees_with_expires_in(&mut f, "refresh", &resp, &tokens.access_token, refreshed);
    if p.oauth_refresh() {
        let json = resp.json().unwrap_or_default();
        let token_type = json.get("token_type").and_then(|v| v.as_str());
        f.expect(
            token_type.is_some_and(|t| !t.is_empty()),
            Status::Fail,
            "RFC6749-5.1",
            match token_type {
                Some(t) => format!("token_type is {t:?}"),
                None => "the response has no token_type".into(),
            },
        );
        let expires_in = json_number(&resp, "expires_in");
        f.expect(
            expires_in.is_some(),
            Status::Warn,
            "RFC6749-5.1",
            match expires_in {
                Some(e) => format!("expires_in is {e}"),
                None => "the response has no expires_in (RECOMMENDED)".into(),
            },
        );
        let cache = resp.header("cache-control").unwrap_or("");
        f.expect(
            cache.to_ascii_lowercase().contains("no-store"),
            Status::Fail,
            "RFC6749-5.1",
            if cache.is_empty() {
                "no Cache-Control header: the token response may be cached".to_string()
            } else {
                format!("Cache-Control: {cache}")
            },
        );
    }
    let api = p
        .api(
            "resource call with the new access token",
            &tokens.access_token,
        )
        .await?;
    f.expect(
        api.ok(),
        Status::Fail,
        "RFC6749-6",
        format!("the new access token gets {} from the resource", api.status),
    );
    Ok(f)
}
