//! Each configuration knob changes exactly what it says.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn no_rotation_returns_the_same_refresh_token() {
    let s = start_with(|c| c.rotation = false).await;
    let l = login(&s, 1).await;
    let rt = l.str("refresh_token");
    for _ in 0..3 {
        let r = refresh(&s, rt).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.str("refresh_token"), rt);
        assert_ne!(r.str("access_token"), l.str("access_token"));
    }
    assert_eq!(s.stats().reuse_detected, 0);
}

#[tokio::test]
async fn without_reuse_detection_a_dead_token_just_fails() {
    let s = start_with(|c| c.reuse_detection = false).await;
    let l = login(&s, 1).await;
    let r1 = refresh(&s, l.str("refresh_token")).await;
    let reuse = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(
        (reuse.status, reuse.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    // the family lives on
    assert_eq!(
        refresh(&s, r1.str("refresh_token")).await.status,
        StatusCode::OK
    );
    assert_eq!(s.stats().reuse_detected, 0);
}

#[tokio::test]
async fn refresh_ttl_expires_refresh_tokens() {
    let s = start_with(|c| c.refresh_ttl = Duration::from_millis(600)).await;
    let l = login(&s, 1).await;
    assert_eq!(
        l.body["refresh_expires_in"], 0,
        "whole seconds, rounded down"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.description().contains("expired"), "{}", r.body);
}

#[tokio::test]
async fn max_session_is_absolute_and_never_extended_by_rotation() {
    let s = start_with(|c| {
        c.max_session = Duration::from_millis(1500);
        c.refresh_ttl = Duration::from_secs(3600);
    })
    .await;
    let l = login(&s, 1).await;
    assert_eq!(
        l.body["refresh_expires_in"], 1,
        "capped by the session deadline"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let r = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["refresh_expires_in"], 0,
        "rotation keeps the original deadline"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let late = refresh(&s, r.str("refresh_token")).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.description().contains("maximum lifetime"));
}

#[tokio::test]
async fn idle_timeout_ends_unused_sessions_and_refreshes_extend_it_up_to_max_session() {
    // Timing: each refresh must come within 3 s of the previous activity and by 5 s after the
    // login, and the sleeps are 1.6 s: a delay of up to 1.4 s at either step (1.8 s in all)
    // still passes (2 s / 3.5 s with 1.2 s sleeps left 0.8 s / 1.1 s).
    let s = start_with(|c| {
        c.idle_timeout = Duration::from_secs(3);
        c.max_session = Duration::from_secs(5);
    })
    .await;
    let (active, idle) = (login(&s, 1).await, login(&s, 2).await);
    assert_eq!(
        active.body["refresh_expires_in"], 3,
        "announces the idle end"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = refresh(&s, active.str("refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK);
    // Whole seconds, rounded down: 3 (2 after a delay over 0.4 s; the cap is 3.4 s away). The
    // login's idle end, not extended, would be at most 1.4 s away: 1 or 0.
    let first = r.body["refresh_expires_in"]
        .as_u64()
        .expect("refresh_expires_in");
    assert!(first >= 2, "activity extends the idle end: {}", r.body);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    // ≥ 3.2 s after the login: past the first idle end, within the extended one.
    let r = refresh(&s, r.str("refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The cap is at most 1.8 s away: 1 (0 after a delay over 0.8 s); uncapped it would be 3.
    let second = r.body["refresh_expires_in"]
        .as_u64()
        .expect("refresh_expires_in");
    assert!(
        second <= 1,
        "never past --max-session (5 s after the login): {}",
        r.body
    );
    // The session nobody used ended at its announced idle end.
    let late = refresh(&s, idle.str("refresh_token")).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert_eq!(late.error(), "invalid_grant");
    assert!(late.description().contains("idle timeout"), "{}", late.body);
}

#[tokio::test]
async fn without_rotation_a_refresh_extends_the_idle_end_too() {
    let s = start_with(|c| {
        c.idle_timeout = Duration::from_secs(1);
        c.rotation = false;
    })
    .await;
    let l = login(&s, 1).await;
    let rt = l.str("refresh_token");
    for _ in 0..3 {
        // 0.6 s apart: 1.8 s after the login, past its idle end, the session still lives.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let r = refresh(&s, rt).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.str("refresh_token"), rt);
        assert_eq!(r.body["refresh_expires_in"], 1, "the idle end, again");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let late = refresh(&s, rt).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.description().contains("idle timeout"), "{}", late.body);
}

#[tokio::test]
async fn a_grace_replay_announces_what_is_left_and_cannot_revive_an_idle_session() {
    let s = start_with(|c| {
        c.idle_timeout = Duration::from_secs(2);
        c.reuse_grace = Duration::from_secs(10);
    })
    .await;
    let l = login(&s, 1).await;
    let r1 = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(r1.body["refresh_expires_in"], 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The replay gets the same successor, its lifetime counted from now (a replay is activity).
    let again = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.str("refresh_token"), r1.str("refresh_token"));
    assert_eq!(again.body["refresh_expires_in"], 2);
    // Left alone past the idle end, not even the grace window brings the session back.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let late = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.description().contains("idle timeout"), "{}", late.body);
    let late = refresh(&s, r1.str("refresh_token")).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sliding_window_renews_access_tokens() {
    let s = start_with(|c| c.sliding_window = Duration::from_secs(60)).await;
    let l = login(&s, 1).await;
    let m = me(&s, Some(l.str("access_token"))).await;
    let fresh = m
        .header("new-access-token")
        .expect("renewal header")
        .to_string();
    assert_ne!(fresh, l.str("access_token"));
    assert_eq!(claims(&fresh)["sid"], l.body["session_id"]);
    assert_eq!(me(&s, Some(&fresh)).await.status, StatusCode::OK);
    // a window smaller than what is left: no header
    let quiet = start_with(|c| c.sliding_window = Duration::from_secs(5)).await;
    let l = login(&quiet, 1).await;
    assert!(
        me(&quiet, Some(l.str("access_token")))
            .await
            .header("new-access-token")
            .is_none()
    );
    assert_eq!(
        s.stats().renewals,
        2,
        "the fresh token is inside the window too"
    );
}

#[tokio::test]
async fn refresh_cookie_is_set_and_accepted() {
    let s = start_with(|c| c.refresh_cookie = true).await;
    let l = login(&s, 1).await;
    let cookie = l.header("set-cookie").expect("cookie");
    assert!(cookie.starts_with(&format!("refresh_token={}", l.str("refresh_token"))));
    assert!(cookie.contains("HttpOnly"));
    // refresh with only the cookie, on both APIs
    let r = send(
        http()
            .post(format!("{}/oauth/token", s.base_url()))
            .header(
                "cookie",
                format!("refresh_token={}", l.str("refresh_token")),
            )
            .form(&[("grant_type", "refresh_token")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r2 = send(
        http()
            .post(format!("{}/api/auth/refresh", s.base_url()))
            .header(
                "cookie",
                format!("refresh_token={}", r.str("refresh_token")),
            ),
    )
    .await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.body);
    // without the knob there is no cookie
    let plain = start(cfg()).await;
    assert!(login(&plain, 1).await.header("set-cookie").is_none());
}

#[tokio::test]
async fn single_session_revokes_older_sessions() {
    let s = start_with(|c| c.single_session = true).await;
    let first = login(&s, 1).await;
    let other_user = login(&s, 2).await;
    let second = login(&s, 1).await;
    assert_eq!(
        me(&s, Some(first.str("access_token"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&s, first.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        me(&s, Some(second.str("access_token"))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        me(&s, Some(other_user.str("access_token"))).await.status,
        StatusCode::OK
    );
    assert_eq!(s.stats().sessions_kicked, 1);
    // without the knob both sessions live
    let multi = start(cfg()).await;
    let a = login(&multi, 1).await;
    login(&multi, 1).await;
    assert_eq!(
        me(&multi, Some(a.str("access_token"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn users_bound_and_admin_key() {
    let s = start_with(|c| {
        c.users = 3;
        c.admin_key = Some("k2".into());
    })
    .await;
    login(&s, 2).await;
    let r = token(
        &s,
        &[
            ("grant_type", "password"),
            ("username", "user3"),
            ("password", "pw-3"),
        ],
    )
    .await;
    assert_eq!(r.error(), "invalid_grant");
    assert_eq!(s.admin_key(), "k2");
    assert_eq!(admin_logout(&s, "user2", "k2").await.status, StatusCode::OK);
    assert_eq!(
        admin_logout(&s, "user2", "admin-secret").await.status,
        StatusCode::UNAUTHORIZED
    );
    // a random admin key when none is given
    let r = start_with(|c| c.admin_key = None).await;
    assert!(r.admin_key().len() >= 32);
}

#[tokio::test]
async fn revoke_refresh_only_refuses_access_tokens_and_still_revokes_refresh_tokens() {
    let s = start_with(|c| c.revoke_refresh_only = true).await;
    let revoke = |token: String| {
        let url = format!("{}/oauth/revoke", s.base_url());
        async move { send(http().post(url).form(&[("token", token.as_str())])).await }
    };
    let l = login(&s, 1).await;
    let r = revoke(l.str("access_token").to_string()).await;
    assert_eq!(
        (r.status, r.error()),
        (StatusCode::BAD_REQUEST, "unsupported_token_type")
    );
    // Unknown tokens are still 200 (RFC 7009 §2.2), and refresh tokens are revoked.
    assert_eq!(revoke("garbage".into()).await.status, StatusCode::OK);
    let r = revoke(l.str("refresh_token").to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        refresh(&s, l.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn refusal_delay_answers_a_refused_refresh_late_with_its_revocation_in_force() {
    let delay = Duration::from_millis(800);
    let s = start_with(|c| c.refusal_delay = delay).await;
    let l = login(&s, 1).await;
    let rotated = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(rotated.status, StatusCode::OK);
    // An accepted refresh is not delayed.
    let at = rotated.str("access_token").to_owned();
    assert_eq!(me(&s, Some(&at)).await.status, StatusCode::OK);

    // The replay of the rotated-out token: reuse detection revokes the family at once, and the
    // refusal reaches the client `delay` later.
    let replay = refresh_in_background(&s, l.str("refresh_token"));
    // Until the revocation is in force (bounded), the new access token still works.
    tokio::time::timeout(delay, async {
        while me(&s, Some(&at)).await.status == StatusCode::OK {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the family was revoked before the refusal was answered");
    assert!(!replay.is_finished(), "the refusal came before the delay");
    let (r, took) = replay.await.unwrap();
    assert_eq!(
        (r.status, r.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert!(took >= delay, "answered after {took:?}");
    assert_eq!(s.stats().reuse_detected, 1);
}

#[tokio::test]
async fn access_ends_with_session_refuses_the_access_tokens_of_an_ended_session() {
    for ends in [false, true] {
        let s = start_with(|c| {
            c.access_ttl = Duration::from_secs(30);
            c.max_session = Duration::from_millis(600);
            c.access_ends_with_session = ends;
        })
        .await;
        let l = login(&s, 1).await;
        let at = l.str("access_token");
        assert_eq!(me(&s, Some(at)).await.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(700)).await;
        // The session is over either way; its access token only with the knob.
        assert_eq!(
            refresh(&s, l.str("refresh_token")).await.status,
            StatusCode::BAD_REQUEST
        );
        let expected = if ends {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(me(&s, Some(at)).await.status, expected, "ends={ends}");
    }
}

#[tokio::test]
async fn refresh_revokes_access_ends_the_older_access_tokens_and_renewal_delay_answers_late() {
    let delay = Duration::from_millis(800);
    for revokes in [false, true] {
        let s = start_with(|c| {
            c.refresh_revokes_access = revokes;
            c.renewal_delay = delay;
        })
        .await;
        let l = login(&s, 1).await;
        let old = l.str("access_token").to_owned();
        let renewal = refresh_in_background(&s, l.str("refresh_token"));
        if revokes {
            // The old token is refused while the accepted refresh's answer is still on its way.
            tokio::time::timeout(delay, async {
                while me(&s, Some(&old)).await.status == StatusCode::OK {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("the old access token was refused before the renewal was answered");
            assert!(!renewal.is_finished(), "the renewal came before the delay");
        }
        let (r, took) = renewal.await.unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert!(took >= delay, "answered after {took:?}");
        let expected = if revokes {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(
            me(&s, Some(&old)).await.status,
            expected,
            "revokes={revokes}"
        );
        assert_eq!(
            me(&s, Some(r.str("access_token"))).await.status,
            StatusCode::OK
        );
    }
}

/// Sends a refresh of `refresh_token` from a task of its own; the task answers with the reply and
/// how long it took from now.
fn refresh_in_background(
    s: &authbench_mock::MockServer,
    refresh_token: &str,
) -> tokio::task::JoinHandle<(Reply, Duration)> {
    let sent = std::time::Instant::now();
    let base = s.base_url();
    let rt = refresh_token.to_owned();
    tokio::spawn(async move {
        let r = send(
            http()
                .post(format!("{base}/oauth/token"))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &rt)]),
        )
        .await;
        (r, sent.elapsed())
    })
}
