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
