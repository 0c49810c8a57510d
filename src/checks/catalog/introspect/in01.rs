//! IN-01: introspection answers `{"active": false}` — and nothing more — for revoked or unknown
//! tokens, and refuses callers that do not authenticate.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "IN-01",
        title: "Introspection: inactive tokens are {\"active\":false}; callers must authenticate",
        summary: "Introspect a live access token (active), a revoked one and a garbage one ({\"active\":false} only), and call without caller credentials (401).",
        requirements: &["RFC7662-2.1", "RFC7662-2.2", "RFC7662-2.3"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::Introspection],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let Some(r) = p
        .introspect("introspect a live access token", s.at(), TokenKind::Access)
        .await
    else {
        return Err(Stop::skip(Need::Introspection.reason()));
    };
    let r = r?;
    let mut f = Findings::new();
    let active = r.json().and_then(|v| v.get("active")?.as_bool());
    if !(r.status == 200 && active == Some(true)) {
        return Err(Stop::error(format!(
            "a live access token does not introspect as active ({}); check the introspection request and its credentials",
            r.brief()
        )));
    }
    f.pass("RFC7662-2.2", "a live access token is active");

    match p
        .revoke("revoke the access token", s.at(), TokenKind::Access)
        .await
    {
        Some(rv) => {
            rv?;
            if let Some(r) = p
                .introspect(
                    "introspect the revoked access token",
                    s.at(),
                    TokenKind::Access,
                )
                .await
            {
                inactive(&mut f, "the revoked access token", &r?);
            }
        }
        None => f.info("", "no revocation endpoint: the revoked case is not tried"),
    }
    let garbage = unknown_token("introspect");
    if let Some(r) = p
        .introspect("introspect a garbage token", &garbage, TokenKind::Access)
        .await
    {
        inactive(&mut f, "a garbage token", &r?);
    }

    let mut had_credentials = false;
    let r = p
        .introspect_edited("introspect without caller credentials", s.at(), |req| {
            had_credentials = req
                .headers_mut()
                .remove(http::header::AUTHORIZATION)
                .is_some();
        })
        .await;
    match r {
        Some(r) if had_credentials => {
            let r = r?;
            f.expect(
                r.status == 401,
                Status::Fail,
                "RFC7662-2.1",
                format!("introspection without caller credentials: {}", r.brief()),
            );
        }
        _ => f.info(
            "",
            "the profile does not authenticate introspection with an Authorization header: the unauthenticated case is not tried",
        ),
    }
    Ok(f)
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
