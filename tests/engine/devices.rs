//! `client.devices`: every user signed in on several devices (separate sessions, token stores
//! and sockets) — the unified logout (`logout_everywhere`: `logout_everywhere_latency`, kicks per
//! device, `zombie_sessions`) against the correct mock and the flaws that leave zombies behind,
//! and a `relogin` on one device with a kick clock per device.

use std::time::Duration;

use crate::support::{Ran, mock, plan, profile, run, settings};
use authbench::client::Strategy;
use authbench::engine::Plan;
use authbench::scenario::Phase;
use authbench_mock::Flaw;

fn zero() -> Duration {
    Duration::ZERO
}

/// `users` users on `devices` devices each, every device with a socket, then `phases`.
fn devices_plan(users: u32, devices: u32, phases: Vec<Phase>) -> Plan {
    let mut all = vec![
        Phase::Login {
            ramp: Duration::from_millis(300),
        },
        Phase::WsConnect { ramp: zero() },
    ];
    all.extend(phases);
    let mut p = plan(users, settings(Strategy::SingleFlight, 1), all);
    p.devices = devices;
    p.kick_timeout = Duration::from_secs(3);
    p
}

fn logout_everywhere(await_expiry: Duration) -> Phase {
    Phase::LogoutEverywhere {
        ramp: zero(),
        await_expiry,
    }
}

fn counters(r: &Ran) -> String {
    format!("{:?}", r.snap.counters)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_closes_every_device_and_leaves_no_zombie() {
    let server = mock(|_| {}).await;
    let (users, devices) = (4u64, 3u64);
    let r = run(
        devices_plan(
            users as u32,
            devices as u32,
            vec![logout_everywhere(Duration::from_secs(5))],
        ),
        profile(&server),
    )
    .await;
    let c = counters(&r);
    assert_eq!(r.counter("logins"), users * devices, "{c}");
    assert_eq!(r.counter("ws_connects"), users * devices, "{c}");
    // One request per user, every session of the user ended by it.
    assert_eq!(r.counter("status.logout_everywhere.200"), users, "{c}");
    assert_eq!(server.stats().logouts_everywhere, users * devices);
    // Every device: its socket kicked, its refresh refused; one latency sample per user.
    assert_eq!(r.samples("kick_latency"), users * devices, "{c}");
    assert_eq!(r.counter("missed_kicks"), 0, "{c}");
    assert_eq!(
        r.counter("status.logout_everywhere_check.400"),
        users * devices,
        "{c}"
    );
    assert_eq!(r.samples("logout_everywhere_latency"), users, "{c}");
    assert_eq!(r.counter("zombie_sessions"), 0, "{c}");
    assert_eq!(r.counter("zombie_refresh"), 0, "{c}");
    // Session loss: every device's end is registered with the request, and each is noticed
    // (by its socket's logout event) or counted unnoticed — none is lost.
    assert_eq!(
        r.counter("session_ends.logout_everywhere"),
        users * devices,
        "{c}"
    );
    let noticed = r.samples("notice_latency");
    assert_eq!(
        noticed + r.counter("unnoticed.logout_everywhere"),
        users * devices,
        "{c}"
    );
    assert!(noticed > 0, "{c}");
    // The 2 s access tokens expired within await_expiry: each was checked, and refused.
    assert_eq!(r.counter("zombie_access"), 0, "{c}");
    assert_eq!(r.counter("zombie_unchecked"), 0, "{c}");
    assert_eq!(r.counter("ws_close.4403"), users * devices, "{c}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_logout_everywhere_leaves_zombies_and_open_sockets() {
    let server = mock(|c| c.flaws = vec![Flaw::LogoutEverywherePartial]).await;
    let (users, devices) = (3u64, 3u64);
    let mut p = devices_plan(
        users as u32,
        devices as u32,
        vec![logout_everywhere(zero())],
    );
    p.kick_timeout = Duration::from_millis(600);
    let r = run(p, profile(&server)).await;
    let c = counters(&r);
    assert_eq!(r.counter("status.logout_everywhere.200"), users, "{c}");
    // Only the caller's session ended: the other devices still refresh and were never kicked.
    let others = users * (devices - 1);
    assert_eq!(r.counter("zombie_refresh"), others, "{c}");
    assert_eq!(r.counter("zombie_sessions"), others, "{c}");
    assert_eq!(r.counter("missed_kicks"), others, "{c}");
    assert_eq!(r.samples("kick_latency"), users, "{c}");
    assert_eq!(r.samples("logout_everywhere_latency"), 0, "{c}");
    // await_expiry 0s: no access token was checked.
    assert_eq!(r.counter("zombie_unchecked"), users * devices, "{c}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_told_but_never_closed_gives_no_logout_everywhere_latency() {
    // `no-close-after-event`: every socket gets its logout event, none is closed by the server.
    // The client closes each after the 2 s grace (`kick_without_close`); that close is not the
    // server's, so no user is done (it used to give every user a ~2 s sample).
    let server = mock(|c| c.flaws = vec![Flaw::NoCloseAfterEvent]).await;
    let (users, devices) = (2u64, 2u64);
    let r = run(
        devices_plan(
            users as u32,
            devices as u32,
            vec![logout_everywhere(zero())],
        ),
        profile(&server),
    )
    .await;
    let c = counters(&r);
    assert_eq!(r.counter("status.logout_everywhere.200"), users, "{c}");
    assert_eq!(r.samples("kick_latency"), users * devices, "{c}");
    assert_eq!(r.counter("kick_without_close"), users * devices, "{c}");
    assert_eq!(r.counter("zombie_sessions"), 0, "{c}");
    assert_eq!(r.samples("logout_everywhere_latency"), 0, "{c}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_everywhere_no_socket_hears_of_is_missed_not_spurious() {
    // `silent-logout`: every session ends, no socket is told. Each socket's next word is its
    // access token's expiry close; the refresh it then asks for is refused — the logout's doing,
    // not a spurious logout (there were 60 in `devices.yaml --clients 20` before).
    let server = mock(|c| c.flaws = vec![Flaw::SilentLogout]).await;
    let (users, devices) = (2u64, 3u64);
    let mut p = devices_plan(
        users as u32,
        devices as u32,
        vec![logout_everywhere(Duration::from_secs(5))],
    );
    p.kick_timeout = Duration::from_millis(600);
    let r = run(p, profile(&server)).await;
    let c = counters(&r);
    assert_eq!(r.counter("status.logout_everywhere.200"), users, "{c}");
    assert_eq!(r.counter("missed_kicks"), users * devices, "{c}");
    assert_eq!(r.samples("kick_latency"), 0, "{c}");
    // The sessions did end: no zombie, and the sockets' refreshes after their expiry closes
    // were refused.
    assert_eq!(r.counter("zombie_sessions"), 0, "{c}");
    assert!(r.counter("ws_close.4401") > 0, "{c}");
    assert_eq!(r.counter("spurious_logouts"), 0, "{c}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_accepted_after_its_expiry_is_a_zombie() {
    // cached-verdicts: the resource server keeps accepting a token it accepted once. Tokens of
    // 6 s: no device renews its token between the traffic (which gets it cached) and the logout.
    let server = mock(|c| {
        c.flaws = vec![Flaw::CachedVerdicts];
        c.access_ttl = Duration::from_secs(6);
    })
    .await;
    let (users, devices) = (2u64, 2u64);
    let p = devices_plan(
        users as u32,
        devices as u32,
        vec![
            Phase::Traffic {
                duration: Duration::from_secs(1),
                rate: None,
            },
            logout_everywhere(Duration::from_secs(10)),
        ],
    );
    let r = run(p, profile(&server)).await;
    let c = counters(&r);
    // Refreshes are refused (no refresh zombie), every socket closed...
    assert_eq!(r.counter("zombie_refresh"), 0, "{c}");
    assert_eq!(r.samples("logout_everywhere_latency"), users, "{c}");
    // ...but every device's cached access token still works after its exp.
    assert_eq!(r.counter("zombie_access"), users * devices, "{c}");
    assert_eq!(r.counter("zombie_sessions"), users * devices, "{c}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relogin_on_one_device_arms_a_kick_clock_per_device() {
    // Three sessions per user are allowed: the first device's new login ends only the oldest
    // session (its own), so the other devices' clocks are missed kicks — what a single-session
    // expectation sees against a multi-session server.
    let server = mock(|c| c.max_sessions = 3).await;
    let (users, devices) = (3u64, 3u64);
    let r = run(
        devices_plan(
            users as u32,
            devices as u32,
            vec![Phase::Relogin { ramp: zero() }],
        ),
        profile(&server),
    )
    .await;
    let c = counters(&r);
    assert_eq!(r.counter("logins"), users * devices + users, "{c}");
    assert_eq!(r.samples("kick_latency"), users, "{c}");
    assert_eq!(r.counter("missed_kicks"), users * (devices - 1), "{c}");
    assert_eq!(server.stats().sessions_kicked, users);

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_logout_is_one_admin_call_per_user_and_kicks_every_device() {
    let server = mock(|_| {}).await;
    let (users, devices) = (3u64, 2u64);
    let r = run(
        devices_plan(
            users as u32,
            devices as u32,
            vec![Phase::ForceLogout { ramp: zero() }],
        ),
        profile(&server),
    )
    .await;
    let c = counters(&r);
    assert_eq!(r.counter("status.force_logout.200"), users, "{c}");
    assert_eq!(r.samples("kick_latency"), users * devices, "{c}");
    assert_eq!(r.counter("missed_kicks"), 0, "{c}");
    server.shutdown().await;
}
