//! Run lifecycle: Ctrl-C (the cancel token) ends a run within about a second with what was recorded;
//! a target that dies mid-run is counted as errors and the run still ends on time; shards partition
//! the users and start together at a wall-clock instant; preflight fails fast when nothing listens.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::support::{Ran, eventually, mock, plan, profile, run, run_watched, settings};
use authbench::client::Strategy;
use authbench::engine::{self, Plan, PreflightError, Progress, ProgressTick, Shard, Users};
use authbench::profile::Profile;
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

/// Runs `plan` against `profile` and cancels it (Ctrl-C) as soon as `when` holds for its progress
/// (checked every 5 ms): cancelling on an event rather than after a sleep, so that a stall of the
/// machine cannot move the cancel to another part of the run. Returns the run and how long it
/// took to end after the cancel.
async fn cancelled_when(
    plan: Plan,
    profile: Arc<Profile>,
    mut when: impl FnMut(&ProgressTick) -> bool,
) -> (Ran, Duration) {
    let cancel = CancellationToken::new();
    let progress = Progress::new();
    let stop = async {
        let seen = eventually(Duration::from_secs(10), || when(&progress.tick())).await;
        assert!(
            seen,
            "the moment to cancel never came: {:?}",
            progress.tick()
        );
        cancel.cancel();
        Instant::now()
    };
    let (r, cancelled) = tokio::join!(
        run_watched(plan, profile, cancel.clone(), progress.clone()),
        stop
    );
    (r, cancelled.elapsed())
}

/// How long a run may take to end after Ctrl-C: every grace of the engine (the end of a phase, the
/// settling of requests in flight, closing sockets) is 2 s, and Ctrl-C waits for none of them.
const AFTER_CANCEL: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_returns_partial_metrics_quickly() {
    let server = mock(|_| {}).await;
    // Cancelled in the traffic phase once the mock saw more API calls than the clients have loops
    // (10 × 2): some loop sent its second call, so its first was answered and recorded.
    let (r, after_cancel) = cancelled_when(
        plan(10, settings(Strategy::SingleFlight, 2), login_traffic(30)),
        profile(&server),
        |_| server.stats().api_requests > 20,
    )
    .await;
    assert!(r.outcome.interrupted);
    assert_eq!(r.outcome.phases_completed, 1, "login done, traffic cut");
    assert!(
        after_cancel < AFTER_CANCEL,
        "ended {after_cancel:?} after the cancel"
    );
    assert!(r.counter("status.api.200") > 0, "partial data kept");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_sync_expiry_records_no_wake_and_no_storm() {
    // Tokens live 5 s: Ctrl-C as soon as sync_expiry begins is ~5 s before the wake.
    let server = mock(|c| c.access_ttl = Duration::from_secs(5)).await;
    let clients = 20u64;
    let (r, after_cancel) = cancelled_when(
        plan(
            clients as u32,
            settings(Strategy::SingleFlight, 2),
            crate::support::storm(Duration::from_secs(5)),
        ),
        profile(&server),
        |tick| tick.phase_index >= 2,
    )
    .await;
    assert!(r.outcome.interrupted);
    assert!(
        after_cancel < AFTER_CANCEL,
        "ended {after_cancel:?} after the cancel"
    );
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
    // The target dies once it answered more API calls than the clients have loops (10 × 2), so
    // some were recorded; 3 s of traffic leave time for calls to fail after it, also when a stall
    // of the machine delays the shutdown by 1-2 s.
    tokio::spawn(async move {
        let answered =
            eventually(Duration::from_secs(10), || server.stats().api_requests > 20).await;
        assert!(answered, "no API calls: {:?}", server.stats());
        server.shutdown().await;
    });
    let traffic = 3;
    let mut steps = login_traffic(traffic);
    steps.pop();
    let r = run(plan(10, settings(Strategy::SingleFlight, 2), steps), p).await;
    assert!(!r.outcome.interrupted);
    assert_eq!(r.outcome.phases_completed, 2);
    assert!(r.errors() > 0, "{:?}", r.snap.counters);
    assert!(r.counter("status.api.200") > 0);
    // The traffic phase ends on its deadline (plus the end-of-phase grace at most).
    let bound = Duration::from_secs(traffic + 3);
    assert!(r.took < bound, "took {:?}", r.took);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_line_still_counts_the_logged_in_clients_when_the_run_is_done() {
    // The run ends with every client logged in. The live line read after the end (its last line,
    // `phase done`) and the timeline's last `active_clients` said 0: the fleet was dropped at the
    // end, and each dropped session counted as one that lost its tokens.
    let server = mock(|_| {}).await;
    let clients = 12u32;
    let progress = Progress::new();
    let phases = vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Traffic {
            duration: Duration::from_millis(500),
            rate: None,
        },
    ];
    let r = run_watched(
        plan(clients, settings(Strategy::SingleFlight, 1), phases),
        profile(&server),
        CancellationToken::new(),
        progress.clone(),
    )
    .await;
    assert_eq!(r.counter("clients_logged_in"), u64::from(clients));
    let tick = progress.tick();
    assert_eq!(tick.phase, "done");
    assert_eq!(tick.logged_in, i64::from(clients), "{tick:?}");
    let active = &r.snap.timeline.gauges["active_clients"];
    assert_eq!(
        active.last().copied(),
        Some(i64::from(clients)),
        "{active:?}"
    );
    server.shutdown().await;
}
