//! The session policy and the unified logout: `--max-sessions N` ends the oldest session beyond
//! the limit (refresh family revoked, sockets kicked with 4409); `POST /api/auth/logout-all`
//! ends every session of the caller's user and closes every socket with 4403; and the three flaws
//! that break them.

use authbench_mock::{Flaw, MockServer};
use reqwest::StatusCode;

use crate::support::*;

async fn logout_all(s: &MockServer, at: Option<&str>) -> Reply {
    let mut req = http().post(format!("{}/api/auth/logout-all", s.base_url()));
    if let Some(at) = at {
        req = req.bearer_auth(at);
    }
    send(req).await
}

async fn json_logout(s: &MockServer, rt: &str) -> Reply {
    send(
        http()
            .post(format!("{}/api/auth/logout", s.base_url()))
            .json(&serde_json::json!({ "refresh_token": rt })),
    )
    .await
}

async fn assert_live(s: &MockServer, tokens: &Reply) {
    assert_eq!(
        me(s, Some(tokens.str("access_token"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn max_sessions_kicks_the_oldest_beyond_the_limit() {
    let s = start_with(|c| c.max_sessions = 2).await;
    let (a, mut wa) = ws_welcomed(&s, 1).await;
    let b = login(&s, 1).await;
    assert_live(&s, &a).await;
    let c = login(&s, 1).await;
    let end = until_close(&mut wa, WAIT).await;
    assert_eq!(
        (end.types(), end.close_code),
        (vec!["kicked".to_string()], Some(4409))
    );
    assert_session_over(&s, &a).await;
    assert_live(&s, &b).await;
    assert_live(&s, &c).await;
    assert_eq!(s.stats().sessions_kicked, 1);
}

#[tokio::test]
async fn single_session_and_a_larger_limit_cannot_be_combined() {
    let mut c = cfg();
    c.single_session = true;
    c.max_sessions = 3;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("max_sessions"), "{e}");
    c.max_sessions = 1;
    c.validate().unwrap();
    c.single_session = false;
    c.max_sessions = 100_000;
    assert!(c.validate().is_err());
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_and_closes_every_socket() {
    let s = start(cfg()).await;
    let (a, mut wa) = ws_welcomed(&s, 1).await;
    let (b, mut wb) = ws_welcomed(&s, 1).await;
    let c = login(&s, 1).await;
    let other = login(&s, 2).await;
    let r = logout_all(&s, Some(c.str("access_token"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["sessions_revoked"], 3);
    for ws in [&mut wa, &mut wb] {
        let end = until_close(ws, WAIT).await;
        assert_eq!(
            (end.types(), end.close_code),
            (vec!["logout".to_string()], Some(4403))
        );
    }
    for t in [&a, &b, &c] {
        assert_session_over(&s, t).await;
    }
    assert_live(&s, &other).await;
    assert_eq!(s.stats().logouts_everywhere, 3);
    // The token of an ended session cannot log out anything; no token at all is a 401 too.
    assert_eq!(
        logout_all(&s, Some(a.str("access_token"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let none = logout_all(&s, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.header("www-authenticate").is_some());
}

#[tokio::test]
async fn session_limit_ignored_keeps_the_oldest_session() {
    let s = start_flawed(Flaw::SessionLimitIgnored, |c| c.max_sessions = 1).await;
    let a = login(&s, 1).await;
    let b = login(&s, 1).await;
    assert_live(&s, &a).await;
    assert_live(&s, &b).await;
    assert_eq!(s.stats().sessions_kicked, 0);
}

#[tokio::test]
async fn logout_everywhere_partial_ends_only_the_callers_session() {
    let s = start_flawed(Flaw::LogoutEverywherePartial, |_| {}).await;
    let a = login(&s, 1).await;
    let b = login(&s, 1).await;
    let r = logout_all(&s, Some(b.str("access_token"))).await;
    assert_eq!(r.body["sessions_revoked"], 1);
    assert_session_over(&s, &b).await;
    assert_live(&s, &a).await;
}

#[tokio::test]
async fn logout_ends_all_sessions_flaw_takes_the_others_along() {
    let correct = start(cfg()).await;
    let a = login(&correct, 1).await;
    let b = login(&correct, 1).await;
    json_logout(&correct, a.str("refresh_token")).await;
    assert_session_over(&correct, &a).await;
    assert_live(&correct, &b).await;

    let s = start_flawed(Flaw::LogoutEndsAllSessions, |_| {}).await;
    let a = login(&s, 1).await;
    let b = login(&s, 1).await;
    let other = login(&s, 2).await;
    json_logout(&s, a.str("refresh_token")).await;
    assert_session_over(&s, &a).await;
    assert_session_over(&s, &b).await;
    assert_live(&s, &other).await;
}
