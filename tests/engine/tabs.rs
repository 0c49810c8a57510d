//! Tabs (`client.tabs`, issue 13 §1) against the mock: N tabs per user share one token store; each
//! `tab_sync` mode met by the storm (every tab's token expired at once) and by a logout in one tab.
//! The mock rotates refresh tokens with reuse detection (the test defaults).

use std::time::Duration;

use crate::support::{mock, plan, profile, run, settings, storm};
use authbench::client::{ClientSettings, Strategy, TabSettings, TabSync};
use authbench::scenario::Phase;

const USERS: u32 = 6;
const TABS: u32 = 3;

fn tabs(sync: TabSync, delay: Duration) -> ClientSettings {
    ClientSettings {
        tabs: TabSettings {
            tabs: TABS,
            sync,
            delay,
        },
        ..settings(Strategy::SingleFlight, 1)
    }
}

/// The storm with tabs: login (tabs 1.. take tab 0's tokens), every token expired, 1.5 s of traffic
/// (shorter than the 2 s token life, so one wave of refreshes).
async fn storm_with(sync: TabSync) -> crate::support::Ran {
    let server = mock(|_| {}).await;
    let r = run(
        plan(
            USERS,
            tabs(sync, Duration::from_millis(5)),
            storm(Duration::from_millis(1500)),
        ),
        profile(&server),
    )
    .await;
    server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_share_one_login() {
    let r = storm_with(TabSync::Lock).await;
    let (users, tabs) = (u64::from(USERS), u64::from(TABS));
    // One login per user; the other tabs opened on the store's tokens.
    assert_eq!(r.counter("logins"), users, "{:?}", r.snap.counters);
    assert_eq!(r.counter("clients_logged_in"), users * tabs);
    assert!(r.counter("tab_adoptions") >= users * (tabs - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_races_the_tabs_into_reuse_detection() {
    let r = storm_with(TabSync::None).await;
    let (users, tabs) = (u64::from(USERS), u64::from(TABS));
    let c = &r.snap.counters;
    // Every tab refreshed its own copy of the same refresh token: one need per user, one call per
    // tab. (The winner's next refresh, with the successor, is refused too — the family is revoked
    // — which makes a second need and call per user.)
    let (calls, needed) = (r.counter("refresh_calls"), r.counter("refreshes_needed"));
    assert!(calls >= users * tabs, "{c:?}");
    assert!((users..=2 * users).contains(&needed), "{c:?}");
    assert!(calls as f64 / needed as f64 >= 2.0, "{c:?}");
    // One wins, the next is reuse: the session is revoked and the user's tabs are thrown out.
    assert!(r.counter("reuse_detected") >= users, "{c:?}");
    assert!(r.counter("spurious_logouts") >= users, "{c:?}");
    assert_eq!(
        r.counter("tab_adoptions"),
        users * (tabs - 1),
        "only at open: {c:?}"
    );
}

/// The tabs' race revokes the family, the winning tab's fresh access token with it. When the
/// refusal of the losing tab's refresh comes back late (`refusal_delay`; oidc-provider under
/// `tabs.yaml --clients 40` counted 39 `failures.api.4xx` and 40 `refused_before_expiry`), the
/// winner's 401 is the user's own doing: no failure of its retry, no token dying early. Nor are
/// the logouts that follow blamed on a session end nobody announced (`spurious_unannounced`; the
/// profile ignores the mock's announcement, as DOT and oidc-provider make none: tabs.yaml against
/// DOT counted 26 of 120 there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tabs_own_reuse_explains_the_refusals_that_follow() {
    let server = mock(|c| {
        c.access_ttl = Duration::from_secs(4);
        c.refusal_delay = Duration::from_millis(700);
    })
    .await;
    let r = run(
        plan(
            USERS,
            tabs(TabSync::None, Duration::from_millis(5)),
            storm(Duration::from_millis(1500)),
        ),
        {
            let yaml = format!(
                "preset: mock\nbase_url: {}\nextract: {{ refresh_expires_in: json:/none }}\n",
                server.base_url()
            );
            std::sync::Arc::new(authbench::profile::profile_from_str(&yaml, None).expect("profile"))
        },
    )
    .await;
    server.shutdown().await;
    let c = &r.snap.counters;
    assert!(r.counter("reuse_detected") >= u64::from(USERS), "{c:?}");
    assert_eq!(r.counter("failures.api.4xx"), 0, "{c:?}");
    assert_eq!(r.counter("refused_before_expiry"), 0, "{c:?}");
    assert!(r.counter("spurious_logouts") > 0, "{c:?}");
    assert_eq!(r.counter("spurious_unannounced"), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_refreshes_once_per_user() {
    let r = storm_with(TabSync::Lock).await;
    let (users, tabs) = (u64::from(USERS), u64::from(TABS));
    let c = &r.snap.counters;
    assert_eq!(r.counter("refresh_calls"), users, "{c:?}");
    assert_eq!(r.counter("refreshes_needed"), users, "{c:?}");
    assert_eq!(r.counter("reuse_detected"), 0, "{c:?}");
    assert_eq!(r.counter("spurious_logouts"), 0, "{c:?}");
    assert_eq!(r.counter("relogins"), 0, "{c:?}");
    // The waiting tabs took the winner's token from the store (plus the adoptions at open).
    assert_eq!(r.counter("tab_adoptions"), 2 * users * (tabs - 1), "{c:?}");
    assert_eq!(r.counter("never_recovered"), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_refreshes_for_every_tab() {
    let r = storm_with(TabSync::Leader).await;
    let users = u64::from(USERS);
    let c = &r.snap.counters;
    assert_eq!(r.counter("refresh_calls"), users, "{c:?}");
    assert_eq!(r.counter("reuse_detected"), 0, "{c:?}");
    assert_eq!(r.counter("spurious_logouts"), 0, "{c:?}");
    assert_eq!(r.counter("never_recovered"), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_event_alone_does_not_stop_the_storm_race() {
    // Every tab wakes in the same millisecond: each refreshes before any storage event can arrive.
    let r = storm_with(TabSync::StorageEvent).await;
    let users = u64::from(USERS);
    assert!(
        r.counter("reuse_detected") >= users,
        "{:?}",
        r.snap.counters
    );
}

/// login, 1 s of traffic (no expiry), logout in tab 0 of every user.
async fn logout_with(
    sync: TabSync,
    delay: Duration,
    think: Duration,
    tweak: impl FnOnce(&mut authbench_mock::MockConfig),
) -> crate::support::Ran {
    let server = mock(|c| {
        c.access_ttl = Duration::from_secs(30);
        tweak(c);
    })
    .await;
    let mut client = tabs(sync, delay);
    client.think_time = think;
    let r = run(
        plan(
            USERS,
            client,
            vec![
                Phase::Login {
                    ramp: Duration::ZERO,
                },
                Phase::Traffic {
                    duration: Duration::from_millis(500),
                    rate: None,
                },
                Phase::Logout {
                    ramp: Duration::ZERO,
                },
            ],
        ),
        profile(&server),
    )
    .await;
    server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_tabs_learn_a_logout_at_their_next_401() {
    let r = logout_with(
        TabSync::None,
        Duration::from_millis(5),
        Duration::from_millis(300),
        |_| {},
    )
    .await;
    let (users, tabs) = (u64::from(USERS), u64::from(TABS));
    let c = &r.snap.counters;
    assert_eq!(r.counter("logouts"), users, "{c:?}");
    // Every other tab sent at least the call that got the 401 with the dropped tokens.
    assert!(
        r.counter("stale_tab_requests") >= users * (tabs - 1),
        "{c:?}"
    );
    assert_eq!(r.samples("tab_logout_sync"), users, "{c:?}");
    assert_eq!(r.counter("tab_logout_missed"), 0, "{c:?}");
    // Learning of a logout is no logout for nothing.
    assert_eq!(r.counter("spurious_logouts"), 0, "{c:?}");
    assert_eq!(r.counter("relogins"), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_tabs_learn_a_logout_from_the_store_without_refreshing() {
    let r = logout_with(
        TabSync::Lock,
        Duration::from_millis(5),
        Duration::from_millis(300),
        |_| {},
    )
    .await;
    let (users, tabs) = (u64::from(USERS), u64::from(TABS));
    let c = &r.snap.counters;
    assert_eq!(r.samples("tab_logout_sync"), users, "{c:?}");
    assert_eq!(r.counter("tab_logout_missed"), 0, "{c:?}");
    assert!(
        r.counter("stale_tab_requests") >= users * (tabs - 1),
        "{c:?}"
    );
    // The 401 sent them to the lock, and the store said "logged out": no refresh was sent.
    assert_eq!(r.counter("refresh_calls"), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_event_and_leader_tabs_learn_a_logout_by_the_channel() {
    // Think time 5 s: the tabs would not call for seconds; the channel tells them within the delay.
    for sync in [TabSync::StorageEvent, TabSync::Leader] {
        let r = logout_with(
            sync,
            Duration::from_millis(20),
            Duration::from_secs(5),
            |_| {},
        )
        .await;
        let c = &r.snap.counters;
        assert_eq!(
            r.samples("tab_logout_sync"),
            u64::from(USERS),
            "{sync}: {c:?}"
        );
        assert_eq!(r.counter("tab_logout_missed"), 0, "{sync}: {c:?}");
        let sync_max = r.snap.histograms["tab_logout_sync"].max();
        assert!(
            sync_max >= 20_000,
            "{sync}: no tab can know before the delay: {sync_max} µs"
        );
        assert!(
            sync_max < 2_500_000,
            "{sync}: by the channel, not by a call: {sync_max} µs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_that_outlives_its_logout_keeps_tabs_unaware() {
    // A server whose logout leaves the refresh token usable (flaw `logout-keeps-refresh`): the
    // first other tab's 401 leads to a refresh that works, so that tab never learns of the logout,
    // and the user's timing never completes.
    let r = logout_with(
        TabSync::None,
        Duration::from_millis(5),
        Duration::from_millis(200),
        |c| c.flaws.push("logout-keeps-refresh".parse().expect("flaw")),
    )
    .await;
    let users = u64::from(USERS);
    let c = &r.snap.counters;
    assert!(r.counter("tab_logout_missed") >= users, "{c:?}");
    assert_eq!(r.samples("tab_logout_sync"), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tab_holds_its_own_socket_and_each_is_kicked_by_the_logout() {
    let server = mock(|c| c.access_ttl = Duration::from_secs(30)).await;
    let mut p = plan(
        USERS,
        tabs(TabSync::Lock, Duration::from_millis(5)),
        vec![
            Phase::Login {
                ramp: Duration::ZERO,
            },
            Phase::Logout {
                ramp: Duration::ZERO,
            },
        ],
    );
    p.websocket = true;
    let r = run(p, profile(&server)).await;
    let n = u64::from(USERS * TABS);
    let c = &r.snap.counters;
    // One socket per tab, on the user's one session: the logout in tab 0 ends all of them.
    assert_eq!(r.counter("ws_connects"), n, "{c:?}");
    assert_eq!(r.counter("logins"), u64::from(USERS), "{c:?}");
    assert_eq!(r.samples("kick_latency"), n, "{c:?}");
    assert_eq!(r.counter("missed_kicks"), 0, "{c:?}");
    assert_eq!(r.samples("tab_logout_sync"), u64::from(USERS), "{c:?}");
    server.shutdown().await;
}
