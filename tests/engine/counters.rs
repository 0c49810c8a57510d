//! Load-test counters that stay sound against a generic server (issue 11 §3): each counter is
//! driven into the case it must tell apart by a mock flaw or knob.
//!
//! - `status.refresh_race.*` holds only a race's simultaneous attempts, the check refresh after it
//!   is `status.refresh_race_check.*`;
//! - an expiry close (4401) during a kick phase is no kick: `missed_kicks`, no `kick_latency`;
//! - `never_recovered` beside `recovery`;
//! - `send_skew` (first request written) apart from `wake_skew` (woken);
//! - `refresh_forks`, `reuse_detected` by the server's answer (among `refreshes_refused`),
//!   `sessions_expired` apart from `spurious_logouts`.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{Ran, mock, plan, profile, run, settings, storm};
use authbench::client::{Connections, Strategy};
use authbench::profile::{Profile, profile_from_str};
use authbench::scenario::{Phase, Rate};
use authbench_mock::{Flaw, MockServer};

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
    // first requests queue for the connection, one after the other. The phase outlasts a stall of
    // the machine across the deadline: clients that wake after their phase's end send nothing (a
    // 400 ms phase recorded no send_skew at all after a 1.5 s stall).
    let server = mock(|c| c.faults = vec!["latency:api=300ms..300ms".parse().unwrap()]).await;
    let clients = 3;
    let mut p = plan(
        clients,
        settings(Strategy::SingleFlight, 1),
        storm(Duration::from_millis(2500)),
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
    // Sent later than woken: on average by a queued call (0, 300 and 600 ms). A send_skew taken
    // at the wake, or a wake_skew taken at the send, makes the two equal; a stall of the machine
    // delays both alike (every client musters before any sends), so it is compared with the wake
    // rather than bounded on its own.
    assert!(
        send.mean() >= wake.mean() + 200_000.0,
        "send_skew mean {} µs, wake_skew mean {} µs",
        send.mean(),
        wake.mean()
    );
    server.shutdown().await;
}

/// The naive and the single-flight storm (4 calls per client) against `server`, at once.
async fn naive_and_single(server: &MockServer, clients: u32) -> (Ran, Ran) {
    let p = profile(server);
    let [naive, single] = [Strategy::Naive, Strategy::SingleFlight].map(|strategy| {
        plan(
            clients,
            settings(strategy, 4),
            storm(Duration::from_millis(500)),
        )
    });
    tokio::join!(run(naive, p.clone()), run(single, p))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_accepted_twice_with_different_successors_is_a_fork() {
    // racy-rotation: concurrent refreshes of one token all succeed, each with its own successor.
    let server = mock(|c| c.flaws = vec![Flaw::RacyRotation]).await;
    let clients = 4;
    let (naive, single) = naive_and_single(&server, clients).await;
    // Each naive client presented its refresh token 4 times at once: one fork per client.
    assert_eq!(
        naive.counter("refresh_forks"),
        u64::from(clients),
        "{:?}",
        naive.snap.counters
    );
    assert_eq!(naive.counter("reuse_detected"), 0);
    // Single-flight clients never present a token twice.
    assert_eq!(
        single.counter("refresh_forks"),
        0,
        "{:?}",
        single.snap.counters
    );
    server.shutdown().await;

    // The race phase: a forked race is one forked refresh token.
    let server = mock(|c| c.flaws = vec![Flaw::RacyRotation]).await;
    let r = run(
        plan(
            3,
            settings(Strategy::SingleFlight, 1),
            vec![
                Phase::Login { ramp: zero() },
                Phase::RefreshRace { parallel: 3 },
            ],
        ),
        profile(&server),
    )
    .await;
    assert!(r.counter("race.forked") >= 1, "{:?}", r.snap.counters);
    assert_eq!(r.counter("refresh_forks"), r.counter("race.forked"));
    server.shutdown().await;
}

/// The `mock` preset for `server` with `extra` YAML appended (a target file's keys).
fn profile_with(server: &MockServer, extra: &str) -> Arc<Profile> {
    let yaml = format!("preset: mock\nbase_url: {}\n{extra}", server.base_url());
    Arc::new(
        profile_from_str(&yaml, None)
            .expect("profile")
            .with_admin_key(server.admin_key()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_is_what_the_server_answer_says() {
    // Rotation with reuse detection: the naive race presents rotated-out tokens.
    let server = mock(|_| {}).await;
    let clients = 6;
    let storm_plan = || {
        plan(
            clients,
            settings(Strategy::Naive, 4),
            storm(Duration::from_millis(500)),
        )
    };
    let by_default = run(storm_plan(), profile(&server)).await;
    let answered = server.stats().reuse_detected;
    assert!(answered > 0);
    // Every "reuse detected" answer is counted, and nothing else: a token of a family revoked
    // for reuse ("revoked after refresh token reuse") is a rejection, not a reuse.
    assert_eq!(
        by_default.counter("reuse_detected"),
        answered,
        "{:?}",
        by_default.snap.counters
    );
    assert!(by_default.counter("relogins") > 0);
    // Every refusal is counted, the reuse answers among them.
    assert!(
        by_default.counter("refreshes_refused") >= answered,
        "{:?}",
        by_default.snap.counters
    );
    // The server revoked the sessions long before the end it announced (24 h): spurious.
    assert_eq!(
        by_default.counter("spurious_logouts"),
        by_default.counter("relogins")
    );
    assert_eq!(by_default.counter("sessions_expired"), 0);
    server.shutdown().await;

    // A matcher that this server's answers do not satisfy: the rejections stay rejections.
    let server = mock(|_| {}).await;
    let custom = profile_with(
        &server,
        "reuse_rejected: { status: 400, body: { error: invalid_grant, error_description: \"~token replayed\" } }\n",
    );
    let r = run(storm_plan(), custom).await;
    assert!(server.stats().reuse_detected > 0);
    assert!(r.counter("relogins") > 0, "{:?}", r.snap.counters);
    assert_eq!(r.counter("reuse_detected"), 0);
    // The refusals are still counted: the summary can say that none of them told why.
    assert!(
        r.counter("refreshes_refused") >= r.counter("relogins"),
        "{:?}",
        r.snap.counters
    );
    server.shutdown().await;
}

/// `clients` naive clients (2 calls each) in traffic for `duration` after their login.
fn traffic_plan(clients: u32, duration: Duration) -> authbench::engine::Plan {
    let mut s = settings(Strategy::Naive, 2);
    s.think_time = Duration::from_millis(100);
    plan(
        clients,
        s,
        vec![
            Phase::Login { ramp: zero() },
            Phase::Traffic {
                duration,
                rate: None,
            },
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_session_ends_are_expiries_not_spurious_logouts() {
    // A 3 s maximum session, announced through refresh_expires_in; 1 s access tokens, no
    // rotation (the naive clients' parallel refreshes all work until the session ends).
    let knobs = |c: &mut authbench_mock::MockConfig| {
        c.access_ttl = Duration::from_secs(1);
        c.max_session = Duration::from_secs(3);
        c.rotation = false;
    };
    let (a, b, c) = (mock(knobs).await, mock(knobs).await, mock(knobs).await);
    let clients = 3;
    let n = u64::from(clients);
    // The first end is noticed at the first 401 after 3 s: up to one token life (1 s) and a
    // think time later, more under load; 5.5 s leaves ~1.4 s for that. A second end (not before
    // 6 s after the first login: relogin ≥ 3 s, plus 3 s) fits only in a run stretched by load,
    // so the counts below are bounded by the run's length rather than fixed at one end each.
    let run_for = Duration::from_millis(5500);
    // The profile does not read refresh_expires_in: nothing is announced.
    let unannounced = "extract: { refresh_expires_in: \"json:/not_there\" }\n";
    let declared = "extract: { refresh_expires_in: \"json:/not_there\" }\nsession: { max: 3s }\n";
    let (announced, silent, declared) = tokio::join!(
        run(traffic_plan(clients, run_for), profile(&a)),
        run(
            traffic_plan(clients, run_for),
            profile_with(&b, unannounced)
        ),
        run(traffic_plan(clients, run_for), profile_with(&c, declared)),
    );
    for r in [&announced, &silent, &declared] {
        // Each session ended (at 3 s), both calls' refreshes were refused, one new login per end.
        // Every client noticed its first end; a session lives 3 s from its login and a relogin
        // follows its end, so a client sees at most one end per whole 3 s of the run: exactly n
        // in a run under 6 s (two logins per end fail there), up to 2n only if load stretched it.
        let ends = n * (r.took.as_secs_f64() / 3.0).floor() as u64;
        let relogins = r.counter("relogins");
        assert!(
            (n..=ends).contains(&relogins),
            "relogins {relogins}, n {n}, run {:?}: {:?}",
            r.took,
            r.snap.counters
        );
        // Refused twice with the same token, but the answer is "maximum lifetime", not reuse.
        assert_eq!(r.counter("reuse_detected"), 0, "{:?}", r.snap.counters);
    }
    // Every end (however many fit in the run) is an expiry, none a spurious logout.
    assert_eq!(
        announced.counter("sessions_expired"),
        announced.counter("relogins"),
        "{:?}",
        announced.snap.counters
    );
    assert_eq!(announced.counter("spurious_logouts"), 0);
    // The same end, announced by nobody: the client could not know, it was logged out for nothing.
    assert_eq!(
        silent.counter("sessions_expired"),
        0,
        "{:?}",
        silent.snap.counters
    );
    assert_eq!(
        silent.counter("spurious_logouts"),
        silent.counter("relogins"),
        "{:?}",
        silent.snap.counters
    );
    // Declared in the profile: an expected end again.
    assert_eq!(
        declared.counter("sessions_expired"),
        declared.counter("relogins"),
        "{:?}",
        declared.snap.counters
    );
    assert_eq!(declared.counter("spurious_logouts"), 0);
    for m in [a, b, c] {
        m.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_model_storm_measures_each_clients_first_arrival() {
    // 4 clients, 40 arrivals/s for 0.5 s after the synchronized wake: every client gets arrivals.
    let server = mock(|_| {}).await;
    let clients = 4;
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 2),
            vec![
                Phase::Login { ramp: zero() },
                Phase::SyncExpiry {
                    offset: Duration::from_millis(100),
                },
                Phase::Traffic {
                    duration: Duration::from_millis(500),
                    rate: Some(Rate { per_second: 40.0 }),
                },
            ],
        ),
        profile(&server),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.samples("send_skew"), n, "{:?}", r.snap.counters);
    assert_eq!(r.samples("recovery"), n);
    assert_eq!(r.snap.counters.get("never_recovered"), Some(&0));
    // Measured from each client's intended first arrival (the 4th is due 75 ms after the wake),
    // which is at or after the deadline, to the request's send, which is before its client's
    // first success: no client's send_skew exceeds its recovery (the deadline to that success).
    // A skew from an earlier instant (the login, the phase before) does. Compared with recovery
    // rather than a fixed bound: a stall of the machine in the phase lengthens both.
    let (send, recovery) = (
        &r.snap.histograms["send_skew"],
        &r.snap.histograms["recovery"],
    );
    assert!(
        send.max() <= recovery.max(),
        "send_skew max {} µs, recovery max {} µs",
        send.max(),
        recovery.max()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_end_the_server_announced_is_a_session_expiry() {
    // Issue 17 §3: the mock ends sessions unused for 3 s and announces it in refresh_expires_in.
    // Clients that log in, stay idle past it and then call refresh in vain: the refusal comes at
    // the announced end, so it is `sessions_expired`, never `spurious_logouts`.
    // Timing: every client must call in the 1.5 s traffic phase (first call after a random offset
    // in [0, 50 ms): ~1.45 s for a descheduled client), and the new session must not idle out in
    // it too. Its 1 s token (exp rounded up: < 2 s) is refreshed at the first 401, which extends
    // the idle end; only a refresh reaching the mock 3 s after the relogin is refused, i.e. a
    // call started before the phase end (< 1.5 s) stalled for another 1.5 s. (With a 2 s idle
    // timeout a stall of 0.5 s would do.)
    let server = mock(|c| {
        c.access_ttl = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(3);
    })
    .await;
    let clients = 3;
    let mut client = settings(Strategy::SingleFlight, 1);
    client.think_time = Duration::from_millis(50);
    let r = run(
        plan(
            clients,
            client,
            vec![
                Phase::Login { ramp: zero() },
                Phase::Wait {
                    duration: Duration::from_millis(3500),
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
    let n = u64::from(clients);
    assert_eq!(r.counter("status.refresh.400"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("relogins"), n);
    assert_eq!(r.counter("sessions_expired"), n);
    assert_eq!(r.counter("spurious_logouts"), 0);
    server.shutdown().await;
}
