//! Issue 17 §4, 403 is not session loss: clients send a quarter of their calls to the mock's
//! scope-restricted `GET /api/admin` (403 `insufficient_scope`). A client that logs out on a 403
//! (`logout_on_403`, the seed interceptors' bug) loses its valid session each time
//! (`false_logouts`, new logins); one that treats only 401 as session loss keeps it, and its
//! 403s are expected answers, not failures.

use std::time::Duration;

use crate::support::{mock, plan, profile, run, settings};
use authbench::client::Strategy;
use authbench::scenario::Phase;

async fn scoped_traffic(logout_on_403: bool) -> crate::support::Ran {
    let server = mock(|_| {}).await;
    let mut client = settings(Strategy::SingleFlight, 1);
    client.think_time = Duration::from_millis(50);
    client.scoped_share = 0.25;
    client.logout_on_403 = logout_on_403;
    let r = run(
        plan(
            4,
            client,
            vec![
                Phase::Login {
                    ramp: Duration::ZERO,
                },
                Phase::Traffic {
                    duration: Duration::from_millis(1500),
                    rate: None,
                },
            ],
        ),
        profile(&server),
    )
    .await;
    server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_on_403_costs_sessions_and_treating_only_401_as_loss_does_not() {
    let (buggy, correct) = tokio::join!(scoped_traffic(true), scoped_traffic(false));
    for (what, r) in [("logout_on_403", &buggy), ("401 only", &correct)] {
        let forbidden = r.counter("status.api.403");
        assert!(forbidden >= 4, "{what}: scoped calls made: {forbidden}");
        assert_eq!(
            r.counter("failures.api.4xx"),
            0,
            "{what}: a scoped 403 is expected"
        );
        assert_eq!(r.counter("spurious_logouts"), 0, "{what}");
    }
    let forbidden = buggy.counter("status.api.403");
    assert_eq!(
        buggy.counter("false_logouts"),
        forbidden,
        "one logout per 403"
    );
    assert_eq!(buggy.counter("logouts"), forbidden);
    // Each false logout logs in again at the client's next call (the last one of a client may
    // come after the traffic ended).
    let logins = buggy.counter("logins");
    assert!(
        (forbidden..=4 + forbidden).contains(&logins),
        "{logins} logins for {forbidden} false logouts"
    );
    assert_eq!(correct.counter("false_logouts"), 0);
    assert_eq!(correct.counter("logouts"), 0);
    assert_eq!(
        correct.counter("logins"),
        4,
        "the sessions survive their 403s"
    );
}

#[tokio::test]
async fn scoped_calls_need_a_scoped_resource_in_the_profile() {
    let server = mock(|_| {}).await;
    let bare = authbench::profile::profile_from_str(
        &format!(
            "preset: oauth2\nbase_url: {}\nresource: {{ path: /api/me }}\n",
            server.base_url()
        ),
        None,
    )
    .expect("profile");
    let mut client = settings(Strategy::SingleFlight, 1);
    client.scoped_share = 0.5;
    let err = authbench::engine::run(
        plan(
            1,
            client,
            vec![Phase::Login {
                ramp: Duration::ZERO,
            }],
        ),
        std::sync::Arc::new(bare),
        authbench::metrics::Recorder::new(),
        tokio_util::sync::CancellationToken::new(),
        authbench::engine::Progress::new(),
    )
    .await
    .expect_err("no scoped resource");
    assert!(err.to_string().contains("scoped_resource: { path"), "{err}");
    server.shutdown().await;
}
