//! A server's documented answer is a verdict, never an ERROR blaming the profile: IN-01 against
//! an introspection endpoint that refuses access tokens with 400 `unsupported_token_type` (RFC
//! 7009's code; RFC 7662 defines no error for a token type) warns about that answer and still
//! judges the inactive cases, with refresh tokens. Its call without caller credentials is judged
//! by what the answer gives away: a refusal other than 401 warns, an answer fails.

use std::sync::Arc;

use authbench::checks::{self, CheckOptions, Status};
use authbench_mock::Flaw;

/// IN-01 against the builtin mock with `flaws`.
async fn in01_against(flaws: &[Flaw]) -> checks::CheckOutcome {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let profile = authbench::profile::preset("mock", &server.base_url())
        .expect("preset")
        .with_admin_key(server.admin_key())
        .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config()));
    let opts = CheckOptions {
        only: vec!["IN-01".into()],
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    server.shutdown().await;
    run.get("IN-01").expect("IN-01 ran").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in01_judges_the_unauthenticated_caller_by_what_the_answer_gives_away() {
    let verdict = |r: &checks::CheckOutcome| {
        r.assertions
            .iter()
            .find(|a| {
                a.message
                    .starts_with("introspection without caller credentials")
            })
            .map(|a| (a.status, a.message.clone()))
            .unwrap_or_else(|| panic!("no caller assertion: {r:#?}"))
    };
    let correct = in01_against(&[]).await;
    assert_eq!(correct.status, Status::Pass, "{correct:#?}");
    assert_eq!(verdict(&correct).0, Status::Pass);

    let refused = in01_against(&[Flaw::IntrospectUnauthenticated400]).await;
    assert_eq!(refused.status, Status::Warn, "{refused:#?}");
    let (status, message) = verdict(&refused);
    assert_eq!(status, Status::Warn);
    assert!(
        message.contains("400 invalid_request") && message.contains("gets 401"),
        "{message}"
    );

    let open = in01_against(&[Flaw::IntrospectOpen]).await;
    assert_eq!(open.status, Status::Fail, "{open:#?}");
    let (status, message) = verdict(&open);
    assert_eq!(status, Status::Fail);
    assert!(
        message.contains("200") && message.contains("token scanning"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in01_judges_a_server_that_does_not_introspect_access_tokens() {
    let r = in01_against(&[Flaw::IntrospectNoAccessTokens]).await;
    assert_eq!(r.status, Status::Warn, "{r:#?}");
    assert!(
        r.message.contains("400 unsupported_token_type"),
        "{}",
        r.message
    );
    let said = |status: Status, text: &str| {
        r.assertions
            .iter()
            .any(|a| a.status == status && a.message.contains(text))
    };
    // The inactive cases ran with refresh tokens, and so did the caller check.
    for text in [
        "a live refresh token is active",
        "the revoked refresh token: {\"active\":false}",
        "a garbage refresh token: {\"active\":false}",
        "introspection without caller credentials: 401",
    ] {
        assert!(said(Status::Pass, text), "no PASS {text:?}: {r:#?}");
    }
}
