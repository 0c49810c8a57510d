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
    // 3 s tokens (an `exp` in whole seconds: 3-4 s from the login), a 2.5 s margin: the timer
    // fires 0.5-1.5 s after the login, and a refresh 2.5 s early leaves room for a stall of the
    // machine before the token runs out; 4.5 s of traffic hold the first refresh of every client
    // even when such a stall delays it, and outlast every login's token, so that a client that
    // refreshes only on a 401 gets one.
    let server = mock(|c| c.access_ttl = Duration::from_secs(3)).await;
    let clients = 8;
    let mut client = settings(Strategy::Proactive, 2);
    client.proactive_margin = Duration::from_millis(2500);
    let r = run(
        plan(
            clients,
            client,
            login_then(Phase::Traffic {
                duration: Duration::from_millis(4500),
                rate: None,
            }),
        ),
        profile(&server),
    )
    .await;
    // Every client refreshed at least once during the traffic...
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
    // 4 s tokens; the timer fires at exp - 1.95 s, with jitter at exp - 1.95 s ± 2 s (never past
    // exp): without jitter every refresh of a wave falls in one 100 ms interval, with it they
    // spread over 4 s. So wide a spread, counted in intervals, outlasts a stall of the machine
    // of 1-2 s, which crowds the refreshes due during it into one interval (with ±1 s and the
    // peak per second, one such stall left the peak at 30 of 40).
    let server = mock(|c| c.access_ttl = Duration::from_secs(4)).await;
    let p = profile(&server);
    let clients = 40;
    // Long enough for every client's first refresh at the latest jittered instant (`exp` is a
    // whole second, so a token may live up to 1 s longer than the 4 s TTL from the login), also
    // 2 s late.
    let idle = login_then(Phase::Wait {
        duration: Duration::from_millis(7000),
    });
    let mut flat = settings(Strategy::Proactive, 1);
    // Fire at exp - 1.95 s: 50 ms into a 100 ms interval, since `exp` is a whole second and the
    // timeline's intervals are aligned to the wall clock.
    flat.proactive_margin = Duration::from_millis(1950);
    let mut spread = flat.clone();
    spread.jitter = Duration::from_secs(2);
    // Start just after a wall-clock second begins, so that the burst of logins cannot straddle a
    // second by chance (tokens of two `exp` seconds: the flat waves split in two) — a wait for a
    // wall-clock instant, not for an event.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    let into_second = Duration::from_nanos(u64::from(now.subsec_nanos()));
    tokio::time::sleep(Duration::from_millis(1020) - into_second).await;
    let (flat, spread) = tokio::join!(
        run(plan(clients, flat, idle.clone()), p.clone()),
        run(plan(clients, spread, idle), p.clone())
    );
    // The 100 ms intervals with at least one refresh.
    let intervals = |r: &crate::support::Ran| {
        r.snap.timeline.series["refreshes"]
            .iter()
            .filter(|n| **n > 0)
            .count()
    };
    assert!(flat.counter("refresh_calls") >= u64::from(clients));
    assert!(
        spread.counter("refresh_calls") >= u64::from(clients),
        "{} refreshes: {:?} {:?}",
        spread.counter("refresh_calls"),
        spread.snap.timeline.series,
        spread.snap.counters
    );
    assert_eq!(flat.snap.timeline.bucket_ms, 100);
    // Without jitter a wave of 40 refreshes is one interval, and the run holds two waves (four
    // intervals if the logins straddled a second after all). With ±2 s ~35 intervals, and at
    // least ~16 when a stall of 2 s crowds part of them together.
    assert!(intervals(&flat) <= 4, "{:?}", flat.snap.timeline.series);
    assert!(
        intervals(&spread) >= 10,
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

/// A run that ends by its plan lets the proactive refreshes on the wire get their answers (the
/// traffic phase's grace): a correct server whose refreshes take a while must not fail by
/// `failures.refresh.unfinished` (a user's sweep: 1 of 24 refreshes cut, `failure_rate(*)` 4 %).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refreshes_on_the_wire_when_the_run_ends_get_their_answers() {
    // 3 s tokens (`exp` 3-4 s after the login), a 2.5 s margin: every timer fires 0.5-1.5 s
    // after the login; each refresh is answered 1.5 s later, so every refresh sent before the
    // traffic ends (1.6 s) is still on the wire then, and answered within the 2 s grace.
    let server = mock(|c| {
        c.access_ttl = Duration::from_secs(3);
        c.faults = vec!["latency:refresh=1500ms".parse().unwrap()];
    })
    .await;
    let mut client = settings(Strategy::Proactive, 1);
    client.proactive_margin = Duration::from_millis(2500);
    let r = run(
        plan(
            6,
            client,
            login_then(Phase::Traffic {
                duration: Duration::from_millis(1600),
                rate: None,
            }),
        ),
        profile(&server),
    )
    .await;
    let sent = r.counter("requests.refresh");
    assert!(
        sent >= 1,
        "a refresh was on the wire: {:?}",
        r.snap.counters
    );
    assert_eq!(
        r.counter("failures.refresh.unfinished"),
        0,
        "{:?}",
        r.snap.counters
    );
    assert_eq!(
        r.counter("status.refresh.200"),
        sent,
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.counter("gave_up.refresh"), 0, "{:?}", r.snap.counters);
    server.shutdown().await;
}
