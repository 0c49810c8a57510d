//! Clients never die quietly (issue 15 §2): the mock stops mid-run and starts again on the same
//! port; every WebSocket comes back, and the counters say how each channel ended.

use std::time::Duration;

use crate::support::{mock, plan, profile, run, settings};
use authbench::client::Strategy;
use authbench::metrics::names;
use authbench::scenario::Phase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_come_back_after_a_server_outage() {
    let server = mock(|_| {}).await;
    let port = server.local_addr().port();
    let mut cfg = server.config().clone();
    cfg.port = port;
    let clients = 5u64;
    let p = plan(
        clients as u32,
        settings(Strategy::SingleFlight, 1),
        vec![
            Phase::Login {
                ramp: Duration::ZERO,
            },
            Phase::WsConnect {
                ramp: Duration::ZERO,
            },
            Phase::Wait {
                duration: Duration::from_secs(8),
            },
        ],
    );
    let target = profile(&server);
    // The outage is the stimulus: the server is down from 1 s to 3 s into the run, long enough
    // for the 2 s access tokens to expire while it is away.
    let outage = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.shutdown().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        authbench_mock::start(cfg)
            .await
            .expect("the mock starts again on the same port")
    });
    let r = run(p, target).await;
    let server = outage.await.expect("outage task");

    let c = &r.snap.counters;
    assert_eq!(r.counter(&names::ended("no_token")), 0, "{c:?}");
    assert_eq!(r.counter(&names::ended("gave_up")), 0, "{c:?}");
    // Every channel ran until the run closed it...
    assert_eq!(r.counter(&names::ended("stopped")), clients, "{c:?}");
    // ...with a socket open again before the end: the gauge was back at `clients`.
    let open = &r.snap.timeline.gauges[names::GAUGE_OPEN_SOCKETS];
    // The last 4 s of the run (intervals are 100 ms).
    let late = &open[open.len().saturating_sub(40)..];
    assert!(
        late.contains(&(clients as i64)),
        "open sockets {open:?}; {c:?}"
    );
    assert!(r.counter(names::WS_RECONNECTS) >= clients, "{c:?}");
    // The restarted server knew none of the old sessions: the clients logged in again.
    assert!(r.counter(names::RELOGINS) >= clients, "{c:?}");
    server.shutdown().await;
}
