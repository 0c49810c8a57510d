//! RS-03 both ways against the in-process mock: the correct mock answers a token without scope
//! `admin` with 403 `insufficient_scope` (PASS), the `scope-401` flaw with 401 `invalid_token`
//! (WARN: RFC 6750 §3.1 says SHOULD), and a profile that declares no `scoped_resource` is a SKIP
//! that says what to configure.

use std::sync::Arc;

use authbench::checks::{self, CheckOptions, Status};
use authbench_mock::Flaw;

async fn rs03(flaws: &[Flaw], declare: bool) -> (Status, String) {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let profile = if declare {
        authbench::profile::preset("mock", &server.base_url()).expect("preset")
    } else {
        // The oauth2 preset pointed at the mock's endpoints declares no scoped resource.
        authbench::profile::profile_from_str(
            &format!(
                "preset: oauth2\nbase_url: {}\nresource: {{ path: /api/me, headers: {{ Authorization: \"Bearer {{{{access_token}}}}\" }} }}\n",
                server.base_url()
            ),
            None,
        )
        .expect("profile")
    };
    let opts = CheckOptions {
        only: vec!["RS-03".into()],
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    server.shutdown().await;
    let r = run.get("RS-03").expect("RS-03 ran");
    (r.status, r.message.clone())
}

#[tokio::test]
async fn rs03_passes_on_403_warns_on_401_and_skips_without_a_scoped_resource() {
    let (good, flawed, undeclared) = tokio::join!(
        rs03(&[], true),
        rs03(&[Flaw::Scope401], true),
        rs03(&[], false)
    );
    assert_eq!(good.0, Status::Pass, "{}", good.1);
    assert_eq!(flawed.0, Status::Warn, "{}", flawed.1);
    assert!(flawed.1.contains("401 instead of 403"), "{}", flawed.1);
    assert_eq!(undeclared.0, Status::Skip, "{}", undeclared.1);
    assert!(undeclared.1.contains("scoped_resource"), "{}", undeclared.1);
}
