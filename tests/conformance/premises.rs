//! A server's documented answer is a verdict, never an ERROR blaming the profile: IN-01 against
//! an introspection endpoint that refuses access tokens with 400 `unsupported_token_type` (RFC
//! 7009's code; RFC 7662 defines no error for a token type) warns about that answer and still
//! judges the inactive cases, with refresh tokens.

use std::sync::Arc;

use authbench::checks::{self, CheckOptions, Status};
use authbench_mock::Flaw;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in01_judges_a_server_that_does_not_introspect_access_tokens() {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.push(Flaw::IntrospectNoAccessTokens);
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
    let r = run.get("IN-01").expect("IN-01 ran");
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
