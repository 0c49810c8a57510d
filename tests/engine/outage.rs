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
    let p = sockets_plan(
        clients,
        vec![Phase::Wait {
            duration: Duration::from_secs(8),
        }],
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
    // Sockets closed by the outage (1001) had been held: no channel counts as never opened.
    assert_eq!(r.counter(names::CHANNELS_NEVER_OPENED), 0, "{c:?}");
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

/// `clients` log in and open their sockets, then go through `then`.
fn sockets_plan(clients: u64, then: Vec<Phase>) -> authbench::engine::Plan {
    let mut phases = vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::WsConnect {
            ramp: Duration::ZERO,
        },
    ];
    phases.extend(then);
    plan(clients as u32, settings(Strategy::SingleFlight, 1), phases)
}

/// [`sockets_plan`] with an `outage` phase of `outage` and `traffic` of `traffic` (the traffic
/// runs through the outage).
fn outage_plan(clients: u64, outage: Duration, traffic: Duration) -> authbench::engine::Plan {
    sockets_plan(
        clients,
        vec![
            Phase::Outage { duration: outage },
            Phase::Traffic {
                duration: traffic,
                rate: None,
            },
        ],
    )
}

/// The marks `outage` and `outage_end`, in ms since the run's start.
fn outage_marks(r: &crate::support::Ran) -> (u64, u64) {
    let at = |name: &str| {
        r.snap
            .phases
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no `{name}` mark in {:?}", r.snap.phases))
            .offset_ms
    };
    (at("outage"), at("outage_end"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_phase_stops_the_mock_and_every_client_comes_back() {
    let server = mock(|_| {}).await;
    let clients = 5u64;
    let p = outage_plan(clients, Duration::from_millis(1500), Duration::from_secs(6));
    let r = run(p, profile(&server)).await;
    let c = &r.snap.counters;

    // The report shows the outage: its start, and its end when the mock listened again.
    let (start, end) = outage_marks(&r);
    let marks = r.snap.phases.iter().filter(|p| p.name == "outage").count();
    assert_eq!(marks, 1, "{:?}", r.snap.phases);
    assert!(end - start >= 1400, "outage {start}..{end} ms");
    assert!(end - start < 4000, "outage {start}..{end} ms");
    // The clients saw it...
    assert!(r.counter("errors.connect") > 0, "{c:?}");
    assert!(r.counter("ws_close.1001") >= clients, "{c:?}");
    // ...and all came back: nobody gave up, every socket was open again at the end.
    let gave_up: u64 = c
        .iter()
        .filter(|(k, _)| k.starts_with(names::PREFIX_GAVE_UP))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(gave_up, 0, "{c:?}");
    assert_eq!(r.counter(names::WS_NOT_OPEN_AT_END), 0, "{c:?}");
    assert_eq!(r.counter(names::WS_GAVE_UP), 0, "{c:?}");
    assert!(r.counter(names::WS_RECONNECTS) >= clients, "{c:?}");
    assert_eq!(r.counter(&names::ended("stopped")), clients, "{c:?}");
    // The state survived the outage: no session was lost.
    assert_eq!(r.counter(names::RELOGINS), 0, "{c:?}");
    assert!(r.counter("status.api.200") > 0, "{c:?}");
    // Every failure was the outage's own: no answer while the target was away on the run's
    // request. They are counted, and left out of the rates, so the defaults pass.
    let failures: u64 = sum_prefix(c, names::PREFIX_FAILURES);
    assert!(failures > 0, "{c:?}");
    assert_eq!(
        sum_prefix(c, names::PREFIX_FAILURES_IN_OUTAGE),
        failures,
        "{c:?}"
    );
    assert!(r.counter(names::CHANNEL_FAILURES_IN_OUTAGE) > 0, "{c:?}");
    let report = judged(&r, clients);
    assert_eq!(report.derived.failure_rate, Some(0.0));
    assert_eq!(report.derived.channel_failure_rate, Some(0.0));
    assert!(report.passed(), "{:?}", report.thresholds);
    server.shutdown().await;
}

/// A server that fails calls besides the outage is not excused by it: the failures with an
/// answer (500) and those after the target came back count, and the defaults fail the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_excuses_only_its_own_failures() {
    let server = mock(|c| c.faults = vec!["error:api=20%".parse().unwrap()]).await;
    let clients = 5u64;
    let p = outage_plan(clients, Duration::from_millis(1000), Duration::from_secs(4));
    let r = run(p, profile(&server)).await;
    let c = &r.snap.counters;
    let api_5xx = r.counter(&names::failure("api", "5xx"));
    assert!(api_5xx > 0, "{c:?}");
    assert!(
        r.counter(&names::in_outage("api")) <= r.counter(&names::failure("api", "transport")),
        "{c:?}"
    );
    let report = judged(&r, clients);
    let each = report
        .thresholds
        .iter()
        .find(|t| t.expr == "failure_rate(*) < 1%")
        .expect("the per-operation default");
    assert!(!each.passed, "{}", each.message);
    assert!(each.message.contains("(api: "), "{}", each.message);
    server.shutdown().await;
}

fn sum_prefix(c: &std::collections::BTreeMap<String, u64>, prefix: &str) -> u64 {
    c.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

/// The report of `r` judged by the default thresholds alone.
fn judged(r: &crate::support::Ran, clients: u64) -> authbench::report::Report {
    let meta = authbench::report::RunMeta {
        name: "outage".into(),
        clients: clients as u32,
        ..Default::default()
    };
    authbench::report::Report::from_run(meta, r.snap.clone(), &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_still_failing_when_the_run_ends_are_counted_as_given_up() {
    let server = mock(|_| {}).await;
    let clients = 4u64;
    // The outage is longer than the rest of the run: the mock does not come back in time.
    let p = outage_plan(clients, Duration::from_secs(30), Duration::from_secs(3));
    let r = run(p, profile(&server)).await;
    let c = &r.snap.counters;
    assert!(
        r.snap.phases.iter().any(|p| p.name == "outage"),
        "{:?}",
        r.snap.phases
    );
    assert!(
        !r.snap.phases.iter().any(|p| p.name == "outage_end"),
        "{:?}",
        r.snap.phases
    );
    // Every client's last call failed (an API call, or the refresh its expired token needed):
    // each gave up on that operation, and no socket was open.
    let gave_up = r.counter(&names::gave_up("api")) + r.counter(&names::gave_up("refresh"));
    assert_eq!(gave_up, clients, "{c:?}");
    assert_eq!(r.counter(names::WS_NOT_OPEN_AT_END), clients, "{c:?}");
    // The failing clients backed off instead of spinning: 200 ms doubling, so a handful of
    // calls each in 3 s, not hundreds.
    let api_failures = r.counter(&names::failure("api", "transport"));
    assert!(api_failures >= clients, "{c:?}");
    assert!(api_failures <= clients * 8, "{c:?}");
    // The summary lists them among the counters that matter.
    let meta = authbench::report::RunMeta {
        name: "outage".into(),
        clients: clients as u32,
        ..Default::default()
    };
    let report = authbench::report::Report::from_run(meta, r.snap.clone(), &[]);
    let text = authbench::report::terminal_summary(&report, false);
    assert!(text.contains("gave_up."), "{text}");
    assert!(text.contains("ws_not_open_at_end"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_outage_phase_needs_a_target_that_can_cause_one() {
    let server = mock(|_| {}).await;
    let oauth2 = std::sync::Arc::new(
        authbench::profile::preset("oauth2", &server.base_url()).expect("oauth2 preset"),
    );
    let p = plan(
        1,
        settings(Strategy::SingleFlight, 1),
        vec![Phase::Outage {
            duration: Duration::from_secs(1),
        }],
    );
    let err = authbench::engine::run(
        p,
        oauth2,
        authbench::metrics::Recorder::new(),
        tokio_util::sync::CancellationToken::new(),
        authbench::engine::Progress::new(),
    )
    .await
    .expect_err("no admin_outage request");
    let msg = err.to_string();
    assert!(msg.contains("admin_outage"), "{msg}");
    assert!(msg.contains("`oauth2`"), "{msg}");
    // Nothing was sent: the mock is still serving.
    assert_eq!(server.stats().logins, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_whose_new_login_failed_for_a_passing_reason_logs_in_again() {
    // Refresh tokens die before the 2 s access tokens: at the 4401 close every socket's refresh
    // is rejected and its client logs in again — and half of those logins get a 500.
    let server = mock(|c| {
        c.refresh_ttl = Duration::from_secs(1);
        c.faults = vec!["error:login=50%".parse().unwrap()];
    })
    .await;
    let p = sockets_plan(
        12,
        vec![Phase::Wait {
            duration: Duration::from_secs(5),
        }],
    );
    let r = run(p, profile(&server)).await;
    let c = &r.snap.counters;
    let channels = r.counter(names::WS_CONNECTS) - r.counter(names::WS_RECONNECTS);
    assert!(channels > 0, "{c:?}");
    assert!(r.counter("failures.login.5xx") > 0, "{c:?}");
    assert!(r.counter(names::RELOGINS) > 0, "{c:?}");
    // No socket ended because one login attempt failed: each logged in again and reconnected.
    assert_eq!(r.counter(&names::ended("no_token")), 0, "{c:?}");
    // (Whether each was open again at the very end depends on the coin: half the logins fail, and
    // a client that lost a few in a row waits seconds before its next try.)
    assert_eq!(r.counter(&names::ended("stopped")), channels, "{c:?}");
    assert!(r.counter(names::WS_REFRESH_RETRIES) > 0, "{c:?}");
    server.shutdown().await;
}
