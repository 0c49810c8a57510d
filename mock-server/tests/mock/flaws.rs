//! Each flaw: the same probe against a correct server and a server with the flaw shows exactly
//! the deviation the flaw is named for.

use std::time::Duration;

use authbench_mock::{Flaw, MockConfig, MockServer};
use reqwest::StatusCode;

use crate::support::*;

/// A correct server and one with `flaw`, both configured by `f`.
async fn pair(flaw: Flaw, f: impl Fn(&mut MockConfig)) -> (MockServer, MockServer) {
    (start_with(&f).await, start_flawed(flaw, &f).await)
}

#[test]
fn every_flaw_has_a_test_here() {
    let src = include_str!("flaws.rs");
    for f in Flaw::ALL {
        let variant = format!("{f:?}");
        assert!(
            src.contains(&format!("Flaw::{variant},")),
            "no test for {f}"
        );
    }
}

#[tokio::test]
async fn accept_alg_none() {
    let (good, bad) = pair(Flaw::AcceptAlgNone, |_| {}).await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(
            me(s, Some(&alg_none(l.str("access_token")))).await.status,
            want
        );
    }
}

/// With access tokens of `ttl`, what `/me` answers a token of its own past `exp`: the correct
/// server's status, the flawed server's status, and the flawed server.
async fn me_after_expiry(flaw: Flaw, ttl: Duration) -> ((StatusCode, StatusCode), MockServer) {
    let (good, bad) = pair(flaw, |c| c.access_ttl = ttl).await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    until_expired(lb.str("access_token")).await;
    until_expired(lg.str("access_token")).await;
    let statuses = (
        me(&good, Some(lg.str("access_token"))).await.status,
        me(&bad, Some(lb.str("access_token"))).await.status,
    );
    (statuses, bad)
}

#[tokio::test]
async fn accept_expired() {
    let (statuses, _) = me_after_expiry(Flaw::AcceptExpired, Duration::from_secs(1)).await;
    assert_eq!(statuses, (StatusCode::UNAUTHORIZED, StatusCode::OK));
}

#[tokio::test]
async fn forbidden_on_expired() {
    let (statuses, bad) = me_after_expiry(Flaw::ForbiddenOnExpired, Duration::from_secs(1)).await;
    assert_eq!(statuses, (StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN));
    // only expiry changes: a garbage token is still 401
    assert_eq!(
        me(&bad, Some("garbage")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn no_www_authenticate() {
    let (good, bad) = pair(Flaw::NoWwwAuthenticate, |_| {}).await;
    for token in [None, Some("garbage")] {
        let (g, b) = (me(&good, token).await, me(&bad, token).await);
        assert_eq!(
            (g.status, b.status),
            (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
        );
        assert!(g.header("www-authenticate").is_some());
        assert!(b.header("www-authenticate").is_none());
    }
}

#[tokio::test]
async fn no_rotation() {
    let (good, bad) = pair(Flaw::NoRotation, |_| {}).await;
    let lg = login(&good, 1).await;
    assert_ne!(
        refresh(&good, lg.str("refresh_token"))
            .await
            .str("refresh_token"),
        lg.str("refresh_token")
    );
    let lb = login(&bad, 1).await;
    assert_eq!(
        refresh(&bad, lb.str("refresh_token"))
            .await
            .str("refresh_token"),
        lb.str("refresh_token")
    );
}

#[tokio::test]
async fn reuse_allowed() {
    let (good, bad) = pair(Flaw::ReuseAllowed, |_| {}).await;
    for (s, want) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(
            refresh(s, l.str("refresh_token")).await.status,
            StatusCode::OK
        );
        assert_eq!(refresh(s, l.str("refresh_token")).await.status, want);
    }
    assert_eq!(bad.stats().reuse_detected, 0);
}

#[tokio::test]
async fn no_family_revocation() {
    let (good, bad) = pair(Flaw::NoFamilyRevocation, |_| {}).await;
    for (s, successor_after_reuse) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        assert_eq!(
            refresh(s, l.str("refresh_token")).await.status,
            StatusCode::BAD_REQUEST,
            "reuse is rejected"
        );
        assert_eq!(
            refresh(s, r1.str("refresh_token")).await.status,
            successor_after_reuse
        );
        assert_eq!(s.stats().reuse_detected, 1);
    }
}

async fn concurrent_refreshes(s: &MockServer, rt: &str, n: usize) -> Vec<String> {
    let client = http();
    let url = format!("{}/oauth/token", s.base_url());
    let calls = (0..n).map(|_| {
        let req = client
            .post(&url)
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)]);
        async move {
            let r = send(req).await;
            (r.status == StatusCode::OK).then(|| r.str("refresh_token").to_string())
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racy_rotation() {
    let (good, bad) = pair(Flaw::RacyRotation, |_| {}).await;
    let lg = login(&good, 1).await;
    assert_eq!(
        concurrent_refreshes(&good, lg.str("refresh_token"), 20)
            .await
            .len(),
        1
    );
    let lb = login(&bad, 1).await;
    let mut winners = concurrent_refreshes(&bad, lb.str("refresh_token"), 20).await;
    assert!(winners.len() > 1, "{} winners", winners.len());
    winners.sort();
    winners.dedup();
    assert!(winners.len() > 1, "each winner got its own successor");
}

#[tokio::test]
async fn refresh_as_access() {
    let (good, bad) = pair(Flaw::RefreshAsAccess, |_| {}).await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(me(s, Some(l.str("refresh_token"))).await.status, want);
    }
}

#[tokio::test]
async fn access_as_refresh() {
    let (good, bad) = pair(Flaw::AccessAsRefresh, |_| {}).await;
    for (s, want) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(refresh(s, l.str("access_token")).await.status, want);
    }
}

#[tokio::test]
async fn logout_keeps_refresh() {
    let (good, bad) = pair(Flaw::LogoutKeepsRefresh, |_| {}).await;
    for (s, want) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        http()
            .post(format!("{}/oauth/revoke", s.base_url()))
            .form(&[("token", l.str("refresh_token"))])
            .send()
            .await
            .unwrap();
        // the access token dies either way; only the refresh token differs
        assert_eq!(
            me(s, Some(l.str("access_token"))).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(refresh(s, l.str("refresh_token")).await.status, want);
    }
}

#[tokio::test]
async fn session_extends() {
    let (good, bad) = pair(Flaw::SessionExtends, |c| {
        c.max_session = Duration::from_millis(1200)
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (rg, rb) = (
        refresh(&good, lg.str("refresh_token")).await,
        refresh(&bad, lb.str("refresh_token")).await,
    );
    assert_eq!((rg.status, rb.status), (StatusCode::OK, StatusCode::OK));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        refresh(&good, rg.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refresh(&bad, rb.str("refresh_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ws_no_handshake_auth() {
    let (good, bad) = pair(Flaw::WsNoHandshakeAuth, |_| {}).await;
    assert_eq!(ws_connect(&good, Transport::None).await.err(), Some(401));
    let (mut ws, _) = ws_connect(&bad, Transport::None)
        .await
        .expect("anonymous upgrade");
    let welcome = next_event(&mut ws, WAIT).await.unwrap();
    assert_eq!(welcome["type"], "welcome");
    assert!(welcome["session_id"].is_null());
    client_close(ws).await;
}

#[tokio::test]
async fn ws_stays_open_after_expiry() {
    let (good, bad) = pair(Flaw::WsStaysOpenAfterExpiry, |c| {
        c.access_ttl = Duration::from_secs(1);
        c.ws_tick = Duration::from_millis(100);
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    let mut wg = ws_open(&good, lg.str("access_token")).await;
    let mut wb = ws_open(&bad, lb.str("access_token")).await;
    let end = until_close(&mut wg, WAIT).await;
    assert_eq!(end.close_code, Some(4401));
    // the flawed socket keeps ticking: tick 25 comes 2.5 s after the upgrade, past any 1 s token's exp
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = next_event(&mut wb, deadline - tokio::time::Instant::now())
            .await
            .expect("the socket stays open");
        if ev["type"] == "tick" && ev["seq"].as_u64().unwrap() >= 25 {
            break;
        }
        assert!(ev["type"] == "tick" || ev["type"] == "welcome", "{ev}");
    }
    client_close(wb).await;
}

#[tokio::test]
async fn no_kick() {
    let (good, bad) = pair(Flaw::NoKick, |c| {
        c.single_session = true;
        c.ws_tick = Duration::from_millis(100);
    })
    .await;
    for s in [&good, &bad] {
        let (l, mut ws) = ws_welcomed(s, 1).await;
        login(s, 1).await;
        // the old session is revoked either way
        assert_eq!(
            me(s, Some(l.str("access_token"))).await.status,
            StatusCode::UNAUTHORIZED
        );
        if std::ptr::eq(s, &good) {
            let end = until_close(&mut ws, WAIT).await;
            assert_eq!(
                (end.types(), end.close_code),
                (vec!["kicked".to_string()], Some(4409))
            );
        } else {
            // no event, the socket stays open and keeps ticking
            for _ in 0..3 {
                assert_eq!(next_event(&mut ws, WAIT).await.unwrap()["type"], "tick");
            }
            client_close(ws).await;
        }
    }
}

#[tokio::test]
async fn wrong_close_code() {
    let (good, bad) = pair(Flaw::WrongCloseCode, |_| {}).await;
    for (s, want_types, want_code) in [(&good, vec!["logout"], 4403), (&bad, vec![], 1000)] {
        let (_, mut ws) = ws_welcomed(s, 1).await;
        admin_logout(s, "user1", "admin-secret").await;
        let end = until_close(&mut ws, WAIT).await;
        assert_eq!(end.types(), want_types);
        assert_eq!(end.close_code, Some(want_code));
    }
}

#[tokio::test]
async fn reject_all_refresh() {
    let (good, bad) = pair(Flaw::RejectAllRefresh, |_| {}).await;
    for (s, want) in [(&good, StatusCode::OK), (&bad, StatusCode::BAD_REQUEST)] {
        let l = login(s, 1).await;
        let r = refresh(s, l.str("refresh_token")).await;
        assert_eq!(r.status, want, "{}", r.body);
    }
    // only refresh changes: the login's access token works
    let l = login(&bad, 2).await;
    assert_eq!(
        me(&bad, Some(l.str("access_token"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_shot_rotation() {
    let (good, bad) = pair(Flaw::OneShotRotation, |_| {}).await;
    for (s, want) in [(&good, StatusCode::OK), (&bad, StatusCode::BAD_REQUEST)] {
        let l = login(s, 1).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        assert_eq!(r1.status, StatusCode::OK, "the login's token refreshes");
        assert_eq!(refresh(s, r1.str("refresh_token")).await.status, want);
    }
}

#[tokio::test]
async fn session_ends_early() {
    let (good, bad) = pair(Flaw::SessionEndsEarly, |c| {
        c.max_session = Duration::from_millis(2000)
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    // both announce the full session
    assert_eq!(lb.body["refresh_expires_in"], lg.body["refresh_expires_in"]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (rg, rb) = (
        refresh(&good, lg.str("refresh_token")).await,
        refresh(&bad, lb.str("refresh_token")).await,
    );
    assert_eq!(
        (rg.status, rb.status),
        (StatusCode::OK, StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn grace_new_successor() {
    let (good, bad) = pair(Flaw::GraceNewSuccessor, |c| {
        c.reuse_grace = Duration::from_secs(5)
    })
    .await;
    for (s, forked) in [(&good, false), (&bad, true)] {
        let l = login(s, 1).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        let again = refresh(s, l.str("refresh_token")).await;
        assert_eq!(again.status, StatusCode::OK, "inside the grace window");
        assert_eq!(
            again.str("refresh_token") != r1.str("refresh_token"),
            forked
        );
        // with the flaw both successors are live chains
        let other = refresh(s, r1.str("refresh_token")).await.status;
        assert_eq!(other, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_one_in_four() {
    let (good, bad) = pair(Flaw::ForkOneInFour, |_| {}).await;
    let lg = login(&good, 1).await;
    assert_eq!(
        concurrent_refreshes(&good, lg.str("refresh_token"), 8)
            .await
            .len(),
        1
    );
    let mut forked = Vec::new();
    for round in 1..=8 {
        let l = login(&bad, 1).await;
        let mut winners = concurrent_refreshes(&bad, l.str("refresh_token"), 8).await;
        winners.sort();
        winners.dedup();
        if winners.len() > 1 {
            forked.push(round);
        }
    }
    assert_eq!(forked, vec![4, 8], "the 4th and 8th login of the user fork");
}

#[tokio::test]
async fn bare_bearer_challenge() {
    let (good, bad) = pair(Flaw::BareBearerChallenge, |_| {}).await;
    let g = me(&good, Some("garbage")).await;
    let b = me(&bad, Some("garbage")).await;
    assert_eq!(
        (g.status, b.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert!(
        g.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        b.header("www-authenticate"),
        Some("Bearer realm=\"authbench\"")
    );
}
