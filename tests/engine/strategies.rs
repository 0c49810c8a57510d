//! The proactive and sliding strategies against the mock: proactive refreshes before expiry (no
//! 401 at all) and jitter spreads those refreshes over time; sliding adopts the server's
//! `New-Access-Token` and never needs a refresh call.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{mock, plan, profile, run, settings};
use authbench::client::Strategy;
use authbench::scenario::Phase;

fn login_then(phase: Phase) -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        phase,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proactive_refreshes_before_expiry() {
    let server = mock(|_| {}).await;
    let clients = 8;
    let r = run(
        plan(
            clients,
            settings(Strategy::Proactive, 2),
            login_then(Phase::Traffic {
                duration: Duration::from_millis(2600),
                rate: None,
            }),
        ),
        profile(&server),
    )
    .await;
    // 2 s tokens, 0.8 s margin: every client refreshed at least once during 2.6 s of traffic...
    assert!(
        r.counter("refresh_calls") >= u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    // ... before its token expired: no request ever saw a 401.
    assert_eq!(r.counter("status.api.401"), 0, "{:?}", r.snap.counters);
    assert_eq!(r.amplification(), 1.0);
    assert_eq!(r.counter("relogins"), 0);
    assert!(r.counter("status.api.200") > u64::from(clients) * 4);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proactive_jitter_spreads_the_refreshes() {
    let server = mock(|c| c.access_ttl = Duration::from_secs(3)).await;
    let p = profile(&server);
    let clients = 40;
    // Long enough for every client's first refresh even at the latest jittered instant (`exp` is a
    // whole second, so a token may live up to 1 s longer than the 3 s TTL from the login).
    let idle = login_then(Phase::Wait {
        duration: Duration::from_millis(4000),
    });
    let mut flat = settings(Strategy::Proactive, 1);
    // Fire at exp - 1.5 s: mid-second, since `exp` is a whole second.
    flat.proactive_margin = Duration::from_millis(1500);
    let mut spread = flat.clone();
    spread.jitter = Duration::from_secs(1);
    // The peaks are counted per whole wall-clock second: start just after one begins, so that the burst
    // of logins (and the flat burst of refreshes after it) cannot straddle a bucket boundary by
    // chance — a wait for a wall-clock instant, not for an event.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    let into_second = Duration::from_nanos(u64::from(now.subsec_nanos()));
    tokio::time::sleep(Duration::from_millis(1020) - into_second).await;
    let (flat, spread) = tokio::join!(
        run(plan(clients, flat, idle.clone()), p.clone()),
        run(plan(clients, spread, idle), p.clone())
    );
    let peak = |r: &crate::support::Ran| {
        let mut t = r.snap.timeline.clone();
        t.coarsen_to(1000);
        t.peak("refreshes").map_or(0, |(_, n)| n)
    };
    assert!(flat.counter("refresh_calls") >= u64::from(clients));
    assert!(
        spread.counter("refresh_calls") >= u64::from(clients),
        "{} refreshes: {:?} {:?}",
        spread.counter("refresh_calls"),
        spread.snap.timeline.series,
        spread.snap.counters
    );
    // Without jitter every client refreshes in the same second; with ±1 s the peak is about halved.
    assert_eq!(
        peak(&flat),
        u64::from(clients),
        "{:?}",
        flat.snap.timeline.series
    );
    assert!(
        peak(&spread) * 10 < u64::from(clients) * 8,
        "{:?}",
        spread.snap.timeline.series
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_adopts_the_renewal_header() {
    let server = mock(|c| c.sliding_window = Duration::from_millis(1500)).await;
    let clients = 6;
    let r = run(
        plan(
            clients,
            settings(Strategy::Sliding, 1),
            login_then(Phase::Traffic {
                duration: Duration::from_millis(2800),
                rate: None,
            }),
        ),
        profile(&server),
    )
    .await;
    assert!(
        r.counter("renewals") >= u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.counter("refresh_calls"), 0, "{:?}", r.snap.counters);
    assert_eq!(r.counter("status.api.401"), 0);
    assert!(r.counter("status.api.200") > u64::from(clients) * 5);
    server.shutdown().await;
}
