//! IN-01: introspection answers `{"active": false}` — and nothing more — for revoked or unknown
//! tokens, and refuses callers that do not authenticate. A server that does not introspect
//! access tokens and says so with 400 `unsupported_token_type` gets a WARN for that answer (RFC
//! 7662 §2.3 answers such a query with `{"active":false}`, not an error), and its inactive cases
//! are judged with refresh tokens: the refusal is the server's answer, not an ERROR of the
//! profile. An endpoint that answers 404 or 405 does not exist at that path: a SKIP when the path
//! came from a preset or discovery (the server may have no introspection), an ERROR when the
//! profile declares it.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "IN-01",
        title: "Introspection: inactive tokens are {\"active\":false}; callers must authenticate",
        summary: "Introspect a live access token (active), a revoked one and a garbage one ({\"active\":false} only), and call without caller credentials (401; another refusal is a WARN, an answer a FAIL). A live access token refused with 400 unsupported_token_type is a WARN (RFC 7662 has no such error), and the revoked and garbage cases then use refresh tokens.",
        requirements: &["RFC7662-2.1", "RFC7662-2.2", "RFC7662-2.3"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::Introspection],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let mut f = Findings::new();
    if !p.profile().introspect_accepts(TokenKind::Access) {
        // Declared in the profile: the cases use refresh tokens, and nothing is judged about
        // access tokens.
        if !p.profile().introspect_accepts(TokenKind::Refresh) {
            return Err(Stop::skip(
                "the profile declares that the introspection endpoint accepts neither token type",
            ));
        }
        f.info(
            "RFC7662-2.1",
            "the profile declares that the introspection endpoint does not accept access tokens (token_types.introspect): the cases use refresh tokens",
        );
        if let Some((kind, token)) = live_refresh_token(&p, &mut f, &s).await? {
            caller_case(&p, &mut f, kind, &token).await?;
            inactive_cases(&p, &mut f, kind, &token).await?;
        }
        return Ok(f);
    }
    let Some(r) = p
        .introspect("introspect a live access token", s.at(), TokenKind::Access)
        .await
    else {
        return Err(Stop::skip(Need::Introspection.reason()));
    };
    let r = r?;
    if let Some(stop) = no_endpoint(&p, &r) {
        return Err(stop);
    }
    let judged = if active(&r) == Some(true) {
        f.pass("RFC7662-2.2", "a live access token is active");
        Some((TokenKind::Access, s.at().to_string()))
    } else if r.status == 400 && r.error_code().as_deref() == Some("unsupported_token_type") {
        // RFC 7662 lets a server introspect only some token types (§2.1: "all of its supported
        // token types") but defines no error for the others: a properly formed, authorized query
        // is answered with an introspection response, `{"active":false}` for a token the caller
        // may not know about (§2.3). `unsupported_token_type` is RFC 7009's revocation error: a
        // documented refusal of the server, not a fault of the profile — judged as a deviation
        // from the wording (WARN), and the inactive cases are tried with refresh tokens.
        f.warn(
            "RFC7662-2.3",
            format!(
                "a live access token is refused with {}: RFC 7662 defines no such error; a token the endpoint will not describe gets {{\"active\":false}} (§2.3). The inactive cases are tried with refresh tokens",
                r.brief()
            ),
        );
        live_refresh_token(&p, &mut f, &s).await?
    } else if r.status == 200
        && active(&r) == Some(false)
        && p.api("resource call with the same access token", s.at())
            .await?
            .ok()
    {
        // The resource accepts the token the introspection calls inactive: the server's verdict.
        f.fail(
            "RFC7662-2.2",
            format!(
                "a live access token (the resource accepts it) introspects as inactive ({})",
                r.brief()
            ),
        );
        return Ok(f);
    } else {
        return Err(Stop::error(format!(
            "a live access token does not introspect as active ({}); check the introspection request and its credentials",
            r.brief()
        )));
    };

    match judged {
        Some((kind, token)) => {
            // The caller case first, while the token is live: an endpoint open to anyone then
            // shows it by describing the token as active.
            caller_case(&p, &mut f, kind, &token).await?;
            inactive_cases(&p, &mut f, kind, &token).await?;
        }
        None => caller_case(&p, &mut f, TokenKind::Access, s.at()).await?,
    }
    Ok(f)
}

/// A 404 or 405 at the introspection endpoint: the server has no such endpoint at that path (or
/// not for that method), so nothing can be judged. When the path came from a preset or from
/// discovery, the server may simply have no introspection — not a fault of anyone (SKIP, naming
/// where the path came from and how to declare the real one); when the profile declares it, the
/// profile's path is wrong (ERROR naming the fix).
fn no_endpoint(p: &Probe, r: &Resp) -> Option<Stop> {
    let answer = match r.status {
        404 => "404 Not Found",
        405 => "405 Method Not Allowed",
        _ => return None,
    };
    let at = p
        .profile()
        .introspect_request("authbench-probe", TokenKind::Access)
        .and_then(Result::ok)
        .map(|req| format!("{} {}", req.method(), req.uri().path()))
        .unwrap_or_else(|| "the introspection path".into());
    Some(match p.profile().introspect_origin() {
        Some(origin) => Stop::skip(format!(
            "the server has no introspection endpoint at {at} ({answer}); that path comes from {origin}, not from the profile: if the server introspects tokens (RFC 7662), declare its endpoint with `introspect: {{ path: ..., form: {{ token: \"{{{{token}}}}\" }} }}` in the profile; if it has none, nothing is judged (`--skip IN-01` hides this)"
        )),
        None => Stop::error(format!(
            "the server has no introspection endpoint at {at} ({answer}), the path the profile's `introspect:` declares: correct its path and method, or remove `introspect:` if the server has no introspection endpoint"
        )),
    })
}

/// Introspects the live `token` without the caller's credentials (the profile's `Authorization`
/// header removed) and judges the answer; a profile that authenticates the caller otherwise
/// leaves the case untried (INFO).
async fn caller_case(
    p: &Probe,
    f: &mut Findings,
    kind: TokenKind,
    token: &str,
) -> Result<(), Stop> {
    let mut had_credentials = false;
    let r = p
        .introspect_edited(
            "introspect without caller credentials",
            token,
            kind,
            |req| {
                had_credentials = req
                    .headers_mut()
                    .remove(http::header::AUTHORIZATION)
                    .is_some();
            },
        )
        .await;
    match r {
        Some(r) if had_credentials => judge_unauthenticated(f, &r?),
        _ => f.info(
            "",
            "the profile does not authenticate introspection with an Authorization header: the unauthenticated case is not tried",
        ),
    }
    Ok(())
}

/// The answer to a live token's introspection without the caller's credentials. RFC 7662
/// §2.1: the endpoint MUST require the caller's authorization ("to prevent token scanning
/// attacks"); §2.3 answers an unauthenticated caller with 401 as RFC 6749 §5.2 does
/// (`invalid_client`). A 401 passes. A token described to anyone (`active: true`) fails: that is
/// the scanning the rule forbids, as is any other 200 that is not a plain `{"active":false}`, and
/// an answer that is not a refusal at all (5xx, 3xx). Another refusal (400 `invalid_request`, a
/// bare 403, a 200 `{"active":false}` that says nothing about the live token) keeps the token to
/// itself but not in the form the RFCs give: a WARN.
fn judge_unauthenticated(f: &mut Findings, r: &Resp) {
    const NOT_401: &str =
        "an unauthenticated caller gets 401 (RFC 7662 §2.3, RFC 6749 §5.2 invalid_client)";
    let what = format!("introspection without caller credentials: {}", r.brief());
    // `{"active":false}` and nothing else: no word about the live token.
    let says_nothing = active(r) == Some(false)
        && r.json()
            .is_some_and(|v| v.as_object().is_some_and(|o| o.len() == 1));
    match r.status {
        401 => f.pass("RFC7662-2.1", what),
        200 if says_nothing => f.warn(
            "RFC7662-2.3",
            format!("{what}: the live token was not described, but {NOT_401}, not an answer"),
        ),
        200 => f.fail(
            "RFC7662-2.1",
            format!(
                "{what}: the endpoint answers callers that did not authenticate, so anyone can test tokens (token scanning)"
            ),
        ),
        400..=499 => f.warn("RFC7662-2.3", format!("{what}: refused, but {NOT_401}")),
        _ => f.fail(
            "RFC7662-2.1",
            format!("{what}: not a refusal of the unauthenticated caller (401)"),
        ),
    }
}

/// The `active` member of an introspection response.
fn active(r: &Resp) -> Option<bool> {
    if r.status != 200 {
        return None;
    }
    r.json().and_then(|v| v.get("active")?.as_bool())
}

/// When access tokens are not introspected: the session's refresh token, if it introspects as
/// active (then the inactive cases use refresh tokens), else `None` (they are not tried).
async fn live_refresh_token(
    p: &Probe,
    f: &mut Findings,
    s: &Session,
) -> Result<Option<(TokenKind, String)>, Stop> {
    let Some(rt) = s.tokens.refresh_token.clone() else {
        f.info(
            "",
            "no refresh token to introspect instead: the revoked and unknown cases are not tried",
        );
        return Ok(None);
    };
    let Some(r) = p
        .introspect("introspect a live refresh token", &rt, TokenKind::Refresh)
        .await
    else {
        f.info(
            "",
            "the profile cannot introspect refresh tokens: the revoked and unknown cases are not tried",
        );
        return Ok(None);
    };
    let r = r?;
    if let Some(stop) = no_endpoint(p, &r) {
        return Err(stop);
    }
    if active(&r) == Some(true) {
        f.pass("RFC7662-2.2", "a live refresh token is active");
        return Ok(Some((TokenKind::Refresh, rt)));
    }
    f.info(
        "",
        format!(
            "a live refresh token gets {} too: the revoked and unknown cases are not tried",
            r.brief()
        ),
    );
    Ok(None)
}

/// A revoked token (when the profile can revoke) and an unknown one of `kind` introspect as
/// `{"active":false}` and nothing more.
async fn inactive_cases(
    p: &Probe,
    f: &mut Findings,
    kind: TokenKind,
    token: &str,
) -> Result<(), Stop> {
    let name = match kind {
        TokenKind::Access => "access token",
        TokenKind::Refresh => "refresh token",
    };
    let revoked = if p.profile().revoke_accepts(kind) {
        p.revoke(&format!("revoke the {name}"), token, kind).await
    } else {
        f.info(
            "RFC7009-2.1",
            format!("the revoked case is not tried: the profile declares that the revocation endpoint does not accept {name}s (token_types.revoke; RFC 7009 §2.1 lets a server refuse a token type with unsupported_token_type)"),
        );
        None
    };
    match revoked {
        Some(rv) => {
            let rv = rv?;
            if rv.ok() {
                if let Some(r) = p
                    .introspect(&format!("introspect the revoked {name}"), token, kind)
                    .await
                {
                    let r = r?;
                    let inactive_at = std::time::Instant::now();
                    inactive(f, &format!("the revoked {name}"), &r);
                    // The verdict must last: a revocation a cache forgets is no revocation.
                    if active(&r) == Some(false) {
                        until_lasting(inactive_at).await;
                        if let Some(again) = p
                            .introspect(
                                &format!("introspect the revoked {name}, once more"),
                                token,
                                kind,
                            )
                            .await
                            && active(&again?) == Some(true)
                        {
                            f.fail(
                                "RFC7662-2.2",
                                format!(
                                    "the revoked {name} introspects as active again {} after it was inactive",
                                    secs(inactive_at.elapsed())
                                ),
                            );
                        }
                    }
                }
            } else if rv.error_code().as_deref() == Some("unsupported_token_type") {
                // Not revoked, so not judged as revoked: the server's documented refusal.
                f.info(
                    "RFC7009-2.1",
                    format!("the revocation endpoint does not revoke {name}s ({}; RFC 7009 §2.1, §2.2.1): the revoked case is not tried — declare token_types.revoke", rv.brief()),
                );
            } else {
                f.info(
                    "",
                    format!("revoking the {name} answered {}, not 200: the revoked case is not judged (RV-01 and RV-02 judge the revocation endpoint)", rv.brief()),
                );
            }
        }
        None if p.profile().has_revoke() => {}
        None => f.info("", "no revocation endpoint: the revoked case is not tried"),
    }
    let garbage = unknown_token("introspect");
    if let Some(r) = p
        .introspect(&format!("introspect a garbage {name}"), &garbage, kind)
        .await
    {
        inactive(f, &format!("a garbage {name}"), &r?);
    }
    Ok(())
}

fn inactive(f: &mut Findings, what: &str, r: &Resp) {
    let json = r.json();
    let active = json.as_ref().and_then(|v| v.get("active")?.as_bool());
    if r.status != 200 || active.is_none() {
        f.fail(
            "RFC7662-2.2",
            format!("{what}: {} (expected 200 {{\"active\":false}})", r.brief()),
        );
        return;
    }
    if active == Some(true) {
        f.fail("RFC7662-2.2", format!("{what} introspects as ACTIVE"));
        return;
    }
    let extra: Vec<String> = json
        .as_ref()
        .and_then(|v| v.as_object())
        .map(|o| o.keys().filter(|k| *k != "active").cloned().collect())
        .unwrap_or_default();
    f.expect(
        extra.is_empty(),
        Status::Warn,
        "RFC7662-2.2",
        if extra.is_empty() {
            format!("{what}: {{\"active\":false}}")
        } else {
            format!(
                "{what}: inactive, but the answer also discloses {}",
                extra.join(", ")
            )
        },
    );
}
