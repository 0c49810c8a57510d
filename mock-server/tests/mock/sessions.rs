//! The session policy and the unified logout: `--max-sessions N` ends the oldest session beyond
//! the limit (refresh family revoked, sockets kicked with 4409); `POST /api/auth/logout-all`
//! ends every session of the caller's user and closes every socket with 4403. The flaws that break
//! them are tested in `flaws.rs`.

use reqwest::StatusCode;

use crate::support::*;

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
