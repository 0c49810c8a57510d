//! Run lifecycle: Ctrl-C (the cancel token) ends a run within about a second with what was recorded;
//! a target that dies mid-run is counted as errors and the run still ends on time; shards partition
//! the users and start together at a wall-clock instant; preflight fails fast when nothing listens.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::support::{mock, plan, profile, run, run_with, settings};
use authbench::client::Strategy;
use authbench::engine::{self, PreflightError, Shard, Users};
use authbench::scenario::Phase;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

fn login_traffic(secs: u64) -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Traffic {
            duration: Duration::from_secs(secs),
            rate: None,
        },
        Phase::Wait {
            duration: Duration::from_secs(secs),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_returns_partial_metrics_quickly() {
    let server = mock(|_| {}).await;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        stop.cancel();
    });
    let r = run_with(
        plan(10, settings(Strategy::SingleFlight, 2), login_traffic(30)),
        profile(&server),
        cancel,
    )
    .await;
    assert!(r.outcome.interrupted);
    assert_eq!(r.outcome.phases_completed, 1, "login done, traffic cut");
    assert!(
        r.took < Duration::from_millis(800 + 1000),
        "took {:?}",
        r.took
    );
    assert!(r.counter("status.api.200") > 0, "partial data kept");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_sync_expiry_records_no_wake_and_no_storm() {
    let server = mock(|_| {}).await;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let clients = 20u64;
    // Tokens live 2 s: the wake is ~2.1 s away when Ctrl-C comes at 600 ms.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        stop.cancel();
    });
    let r = run_with(
        plan(
            clients as u32,
            settings(Strategy::SingleFlight, 2),
            crate::support::storm(Duration::from_secs(5)),
        ),
        profile(&server),
        cancel,
    )
    .await;
    assert!(r.outcome.interrupted);
    assert!(r.took < Duration::from_millis(1800), "took {:?}", r.took);
    // Nobody woke at the deadline: no wake skew (it used to be one 0 µs sample per client), no
    // recovery, and no `traffic` mark for a storm that never happened.
    assert_eq!(r.samples("wake_skew"), 0, "{:?}", r.snap.histograms.keys());
    assert_eq!(r.samples("recovery"), 0);
    assert_eq!(r.counter("never_recovered"), 0, "{:?}", r.snap.counters);
    assert_eq!(r.samples("send_skew"), 0);
    assert_eq!(r.counter("status.api.200"), 0, "{:?}", r.snap.counters);
    let marks: Vec<(&str, bool)> = r
        .snap
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.interrupted))
        .collect();
    assert_eq!(marks, [("login", false), ("sync_expiry", true)]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_dying_mid_run_counts_errors_and_the_run_ends() {
    let server = mock(|_| {}).await;
    let p = profile(&server);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        server.shutdown().await;
    });
    let mut steps = login_traffic(2);
    steps.pop();
    let r = run(plan(10, settings(Strategy::SingleFlight, 2), steps), p).await;
    assert!(!r.outcome.interrupted);
    assert_eq!(r.outcome.phases_completed, 2);
    assert!(r.errors() > 0, "{:?}", r.snap.counters);
    assert!(r.counter("status.api.200") > 0);
    // The traffic phase ends on its deadline (plus the end-of-phase grace at most).
    assert!(r.took < Duration::from_secs(5), "took {:?}", r.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_partition_the_users_and_start_together() {
    let server = mock(|_| {}).await;
    let p = profile(&server);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let start_at = SystemTime::now() + Duration::from_millis(400);
    let shard = |i| {
        let seen = seen.clone();
        let users = Users::new(move |n| {
            seen.lock().push(n);
            (format!("user{n}"), format!("pw-{n}"))
        });
        let mut pl = plan(
            10,
            settings(Strategy::SingleFlight, 1),
            vec![Phase::Login {
                ramp: Duration::ZERO,
            }],
        );
        pl.users = users;
        pl.with_shard(Some(Shard::new(i, 3).unwrap()))
            .with_start_at(Some(start_at))
    };
    let (a, b, c) = tokio::join!(
        run(shard(0), p.clone()),
        run(shard(1), p.clone()),
        run(shard(2), p.clone())
    );
    let mut users = seen.lock().clone();
    users.sort_unstable();
    assert_eq!(
        users,
        (0..10).collect::<Vec<u64>>(),
        "every user exactly once"
    );
    assert_eq!(
        [a.outcome.clients, b.outcome.clients, c.outcome.clients],
        [4, 3, 3]
    );
    assert_eq!(
        a.counter("logins") + b.counter("logins") + c.counter("logins"),
        10
    );
    assert_eq!(server.stats().logins, 10);
    for r in [&a, &b, &c] {
        assert!(
            r.took >= Duration::from_millis(350),
            "started early: {:?}",
            r.took
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn preflight_fails_fast_when_nothing_listens() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let p = authbench::profile::preset("mock", &format!("http://{addr}")).unwrap();
    let t = std::time::Instant::now();
    let err = engine::preflight(&p, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, PreflightError::Unreachable { .. }), "{err}");
    assert!(t.elapsed() < Duration::from_secs(1));
}
