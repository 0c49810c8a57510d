//! `refresh_race`: each client releases N refreshes of the same refresh token at once. Against the
//! mock (atomic rotation, reuse detection) exactly one wins and reuse detection then revokes the
//! family; against the `racy-rotation` flaw the chain forks.

use std::time::Duration;

use crate::support::{Ran, mock, plan, profile, run, settings};
use authbench::client::Strategy;
use authbench::scenario::Phase;
use authbench_mock::{Flaw, MockServer};

fn race_then_traffic(parallel: u32) -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::RefreshRace { parallel },
        Phase::Traffic {
            duration: Duration::from_millis(300),
            rate: None,
        },
    ]
}

/// `clients` single-flight clients each race `parallel` refreshes, then make traffic.
async fn race(server: &MockServer, clients: u32, parallel: u32) -> Ran {
    let client = settings(Strategy::SingleFlight, 1);
    run(
        plan(clients, client, race_then_traffic(parallel)),
        profile(server),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_rotation_has_one_winner() {
    let server = mock(|_| {}).await;
    let clients = 8;
    let r = race(&server, clients, 4).await;
    let n = u64::from(clients);
    assert_eq!(r.counter("race.one_winner"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("race.forked"), 0);
    // Reuse detection revoked each family, winner included: the client logged in anew.
    assert_eq!(r.counter("race.winner_revoked"), n);
    assert_eq!(r.counter("logins"), 2 * n);
    // The race bypasses the strategy's counters.
    assert_eq!(r.counter("refresh_calls"), 0);
    // Afterwards every client works again.
    assert!(r.counter("status.api.200") >= n);
    assert_eq!(r.counter("status.api.401"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racy_rotation_forks_the_chain() {
    let server = mock(|c| c.flaws = vec![Flaw::RacyRotation]).await;
    let clients = 6;
    let r = race(&server, clients, 3).await;
    assert!(r.counter("race.forked") >= 1, "{:?}", r.snap.counters);
    assert!(r.counter("status.api.200") >= u64::from(clients));
    server.shutdown().await;
}
