//! Load-test counters that stay sound against a generic server (issue 11 §3): each counter is
//! driven into the case it must tell apart by a mock flaw or knob.
//!
//! - `status.refresh_race.*` holds only a race's simultaneous attempts, the check refresh after it
//!   is `status.refresh_race_check.*`;
//! - an expiry close (4401) during a kick phase is no kick: `missed_kicks`, no `kick_latency`;
//! - `never_recovered` beside `recovery`;
//! - `send_skew` (first request written) apart from `wake_skew` (woken);
//! - `refresh_forks`, `reuse_detected` by the server's answer, `sessions_expired` apart from
//!   `spurious_logouts`.

use std::time::Duration;

use crate::support::{mock, plan, profile, run, settings, storm};
use authbench::client::{Connections, Strategy};
use authbench::scenario::Phase;

fn zero() -> Duration {
    Duration::ZERO
}

/// The sum of the `status.<op>.*` counters of `op`.
fn statuses(r: &crate::support::Ran, op: &str) -> u64 {
    let prefix = format!("status.{op}.");
    r.snap
        .counters
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_attempts_and_the_check_after_them_are_counted_apart() {
    // Atomic rotation with reuse detection: one winner per race, and the losers' reuse revokes
    // the family, so the check refresh with the winner's tokens is refused.
    let server = mock(|_| {}).await;
    let (clients, parallel) = (5u32, 4u32);
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            vec![
                Phase::Login { ramp: zero() },
                Phase::RefreshRace { parallel },
            ],
        ),
        profile(&server),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.counter("race.one_winner"), n, "{:?}", r.snap.counters);
    assert_eq!(statuses(&r, "refresh_race"), n * u64::from(parallel));
    assert_eq!(r.counter("status.refresh_race.200"), n);
    assert_eq!(r.counter("status.refresh_race.400"), n * 3);
    assert_eq!(statuses(&r, "refresh_race_check"), n);
    assert_eq!(r.counter("status.refresh_race_check.400"), n);
    assert_eq!(r.counter("race.winner_revoked"), n);
    // The new login after the revoked winner is a login.
    assert_eq!(r.counter("status.login.200"), 2 * n);
    assert_eq!(r.counter("refresh_forks"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_close_during_a_kick_phase_is_not_a_kick() {
    // No single session: the second login kicks nobody. The old sockets' 1 s tokens expire during
    // the kick wait; their 4401 closes must not pass for kicks.
    let server = mock(|c| c.access_ttl = Duration::from_secs(1)).await;
    let clients = 3;
    let mut p = plan(
        clients,
        settings(Strategy::SingleFlight, 1),
        vec![
            Phase::Login { ramp: zero() },
            Phase::WsConnect { ramp: zero() },
            Phase::Relogin { ramp: zero() },
        ],
    );
    p.kick_timeout = Duration::from_millis(2500);
    let r = run(p, profile(&server)).await;
    let n = u64::from(clients);
    assert!(r.counter("ws_close.4401") >= n, "{:?}", r.snap.counters);
    assert_eq!(r.samples("kick_latency"), 0, "{:?}", r.snap.counters);
    assert_eq!(r.counter("missed_kicks"), n);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_recover_from_the_storm_are_counted() {
    let healthy = mock(|_| {}).await;
    let broken = mock(|c| c.faults = vec!["error:refresh=100%".parse().unwrap()]).await;
    let clients = 4;
    let storm_plan = || {
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            storm(Duration::from_millis(600)),
        )
    };
    let (ok, bad) = tokio::join!(
        run(storm_plan(), profile(&healthy)),
        run(storm_plan(), profile(&broken))
    );
    let n = u64::from(clients);
    assert_eq!(ok.samples("recovery"), n, "{:?}", ok.snap.counters);
    assert_eq!(ok.snap.counters.get("never_recovered"), Some(&0));
    // Every refresh answered 500: no client made a successful call after the storm started.
    assert_eq!(bad.samples("recovery"), 0, "{:?}", bad.snap.counters);
    assert_eq!(bad.counter("never_recovered"), n);
    assert!(bad.counter("failures.refresh.5xx") >= n);
    healthy.shutdown().await;
    broken.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_skew_shows_requests_leaving_later_than_the_wake() {
    // One pooled connection and 300 ms per API call: after the synchronized wake the clients'
    // first requests queue for the connection, one after the other.
    let server = mock(|c| c.faults = vec!["latency:api=300ms..300ms".parse().unwrap()]).await;
    let clients = 3;
    let mut p = plan(
        clients,
        settings(Strategy::SingleFlight, 1),
        storm(Duration::from_millis(400)),
    );
    p.connections = Connections::Pool(1);
    let r = run(p, profile(&server)).await;
    let n = u64::from(clients);
    let (wake, send) = (
        &r.snap.histograms["wake_skew"],
        &r.snap.histograms["send_skew"],
    );
    assert_eq!((wake.len(), send.len()), (n, n), "{:?}", r.snap.counters);
    // The third client's first request waited for two 300 ms calls.
    assert!(send.max() >= 600_000, "send_skew max {} µs", send.max());
    assert!(
        send.value_at_quantile(0.5) >= 300_000,
        "send_skew p50 {} µs",
        send.value_at_quantile(0.5)
    );
    assert!(wake.max() < 200_000, "wake_skew max {} µs", wake.max());
    server.shutdown().await;
}
