//! The checks follow what a profile declares (issue 12 §1): `token_types` for the revocation and
//! introspection endpoints — a type the server does not accept is not tried, and the reason says
//! so; what is declared is still judged.

use std::sync::Arc;

use authbench::checks::{self, CheckOptions, Status};
use authbench::profile::Profile;
use authbench_mock::{Flaw, MockServer};

async fn mock(flaws: &[Flaw]) -> MockServer {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    authbench_mock::start(cfg).await.expect("mock starts")
}

fn profile(server: &MockServer, extra: &str) -> Arc<Profile> {
    let src = format!("preset: mock\nbase_url: {}\n{extra}", server.base_url());
    Arc::new(
        authbench::profile::profile_from_str(&src, None)
            .unwrap()
            .with_admin_key(server.admin_key()),
    )
}

fn only(ids: &[&str]) -> CheckOptions {
    CheckOptions {
        only: ids.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_token_types_decide_what_is_tried() {
    // A server that refuses access tokens at introspection by design.
    let server = mock(&[Flaw::IntrospectNoAccessTokens]).await;
    let undeclared = checks::run(profile(&server, ""), &only(&["IN-01"])).await;
    let r = undeclared.get("IN-01").unwrap();
    assert_eq!(
        r.status,
        Status::Warn,
        "refused without a declaration: {r:#?}"
    );
    let declared = checks::run(
        profile(&server, "token_types: { introspect: [refresh_token] }\n"),
        &only(&["IN-01"]),
    )
    .await;
    let r = declared.get("IN-01").unwrap();
    assert_eq!(
        r.status,
        Status::Pass,
        "declared: judged on refresh tokens: {r:#?}"
    );
    assert!(
        format!("{r:?}").contains("token_types.introspect"),
        "{r:#?}"
    );
    server.shutdown().await;

    let server = mock(&[]).await;
    let run = checks::run(
        profile(&server, "token_types: { revoke: [access_token] }\n"),
        &only(&["RV-01", "RV-02"]),
    )
    .await;
    let rv01 = run.get("RV-01").unwrap();
    assert_eq!(rv01.status, Status::Skip, "{rv01:#?}");
    assert!(format!("{rv01:?}").contains("does not accept refresh tokens"));
    let rv02 = run.get("RV-02").unwrap();
    assert_eq!(
        rv02.status,
        Status::Pass,
        "the access-token case is judged: {rv02:#?}"
    );
    assert!(format!("{rv02:?}").contains("not tried"), "{rv02:#?}");
    server.shutdown().await;

    // A broken revocation endpoint is not made to pass by a declaration.
    let server = mock(&[Flaw::RevokeUnknownError]).await;
    let run = checks::run(
        profile(&server, "token_types: { revoke: [refresh_token] }\n"),
        &only(&["RV-02"]),
    )
    .await;
    assert_eq!(run.get("RV-02").unwrap().status, Status::Fail);
    server.shutdown().await;
}

/// A logout that revokes the access token (RFC 7009) at the mock's revocation endpoint.
const LOGOUT_REVOKES_THE_ACCESS_TOKEN: &str = "logout:\n  path: /oauth/revoke\n  form: { token: \"{{access_token}}\", token_type_hint: access_token }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_endpoint_that_refuses_access_tokens_skips_instead_of_failing() {
    let refusing = {
        let mut cfg = checks::builtin_mock_config();
        cfg.revoke_refresh_only = true;
        authbench_mock::start(cfg).await.expect("mock starts")
    };
    let ids = ["AT-01", "IN-01"];
    // Declared: AT-01 is not tried (its logout is an access-token revocation), and IN-01 judges
    // everything but the revoked case.
    let declared =
        format!("token_types: {{ revoke: [refresh_token] }}\n{LOGOUT_REVOKES_THE_ACCESS_TOKEN}");
    let run = checks::run(profile(&refusing, &declared), &only(&ids)).await;
    let at01 = run.get("AT-01").unwrap();
    assert_eq!(at01.status, Status::Skip, "{at01:#?}");
    let why = format!("{at01:?}");
    assert!(
        why.contains("RFC 7009 §2.1") && why.contains("token_types.revoke"),
        "{why}"
    );
    let in01 = run.get("IN-01").unwrap();
    assert_eq!(in01.status, Status::Pass, "{in01:#?}");
    assert!(
        format!("{in01:?}").contains("revoked case is not tried"),
        "{in01:#?}"
    );

    // Undeclared: the server's refusal is its documented answer, not a fault of the token's
    // handling: AT-01 cannot be judged (SKIP naming unsupported_token_type), IN-01 does not call
    // an access token that was never revoked "revoked and active".
    let run = checks::run(
        profile(&refusing, LOGOUT_REVOKES_THE_ACCESS_TOKEN),
        &only(&ids),
    )
    .await;
    let at01 = run.get("AT-01").unwrap();
    assert_eq!(at01.status, Status::Skip, "{at01:#?}");
    assert!(
        format!("{at01:?}").contains("unsupported_token_type"),
        "{at01:#?}"
    );
    let in01 = run.get("IN-01").unwrap();
    assert_eq!(in01.status, Status::Pass, "{in01:#?}");
    assert!(
        format!("{in01:?}").contains("does not revoke access tokens"),
        "{in01:#?}"
    );
    refusing.shutdown().await;

    // A server that revokes access tokens: the same profile is judged, and passes.
    let correct = mock(&[]).await;
    let run = checks::run(
        profile(&correct, LOGOUT_REVOKES_THE_ACCESS_TOKEN),
        &only(&ids),
    )
    .await;
    for id in ids {
        let r = run.get(id).unwrap();
        assert_eq!(r.status, Status::Pass, "{r:#?}");
    }
    correct.shutdown().await;
}
