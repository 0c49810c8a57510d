//! SS-04 both ways against the in-process mock: the correct mock tells every kind of session end
//! apart (PASS); the `generic-session-end` flaw answers a logout, an admin logout and a kick alike
//! (WARN, naming the pair and the signals); a server that refuses every refresh still tells them
//! apart by its 401s and sockets, and cannot make a kind of end that did not happen count.

use std::sync::Arc;

use authbench::checks::{self, CheckOptions, Status};
use authbench_mock::Flaw;

async fn ss04(flaws: &[Flaw]) -> (Status, String) {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let profile = authbench::profile::preset("mock", &server.base_url())
        .expect("preset")
        .with_admin_key(server.admin_key())
        .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config()));
    let opts = CheckOptions {
        only: vec!["SS-04".into()],
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    server.shutdown().await;
    let r = run.get("SS-04").expect("SS-04 ran");
    (r.status, r.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss04_passes_on_distinct_signals_and_warns_on_one_generic_signal() {
    let (good, generic, no_kick) = tokio::join!(
        ss04(&[]),
        ss04(&[Flaw::GenericSessionEnd]),
        ss04(&[Flaw::NoKick])
    );
    assert_eq!(good.0, Status::Pass, "{}", good.1);
    assert_eq!(generic.0, Status::Warn, "{}", generic.1);
    assert!(
        generic
            .1
            .contains("logout and login elsewhere produce the same signals"),
        "{}",
        generic.1
    );
    assert!(generic.1.contains("the session has ended"), "{}", generic.1);
    // Without a kick on the socket the 401 and the refresh refusal still say "replaced".
    assert_eq!(no_kick.0, Status::Pass, "{}", no_kick.1);
}
