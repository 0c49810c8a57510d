//! Rotation atomicity and the reuse-grace window.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::sync::Barrier;

use crate::support::*;

/// Fires `n` refreshes of one refresh token at once; returns the successful responses' refresh
/// tokens and the number of failures.
async fn race(s: &authbench_mock::MockServer, rt: &str, n: usize) -> (Vec<String>, usize) {
    let client = http();
    let barrier = Arc::new(Barrier::new(n));
    let url = format!("{}/oauth/token", s.base_url());
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, barrier, url, rt) =
                (client.clone(), barrier.clone(), url.clone(), rt.to_string());
            tokio::spawn(async move {
                barrier.wait().await;
                let r = client
                    .post(url)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: serde_json::Value = r.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        if status == StatusCode::OK {
            winners.push(body["refresh_token"].as_str().unwrap().to_string());
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(body["error"], "invalid_grant");
            losers += 1;
        }
    }
    (winners, losers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let s = start(cfg()).await;
    for round in 0..5 {
        let l = login(&s, round).await;
        let (winners, losers) = race(&s, l.str("refresh_token"), 1000).await;
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        assert_eq!(losers, 999);
    }
    let st = s.stats();
    assert_eq!(st.refreshes, 5);
    assert_eq!(st.refresh_failures, 5 * 999);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_the_grace_window_concurrent_refreshes_share_one_successor() {
    let s = start_with(|c| c.reuse_grace = Duration::from_secs(10)).await;
    let l = login(&s, 1).await;
    let (winners, losers) = race(&s, l.str("refresh_token"), 50).await;
    assert_eq!(losers, 0);
    assert_eq!(winners.len(), 50);
    assert!(
        winners.iter().all(|w| *w == winners[0]),
        "every caller gets the same successor"
    );
    assert_eq!(s.stats().grace_hits, 49);
}

#[tokio::test]
async fn grace_tolerates_only_the_immediate_predecessor() {
    let s = start_with(|c| c.reuse_grace = Duration::from_secs(10)).await;
    let l = login(&s, 1).await;
    let rt0 = l.str("refresh_token").to_string();
    let p1 = refresh(&s, &rt0).await;
    assert_eq!(p1.status, StatusCode::OK);
    // the predecessor again: the very same pair
    let again = refresh(&s, &rt0).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.str("refresh_token"), p1.str("refresh_token"));
    assert_eq!(again.str("access_token"), p1.str("access_token"));
    // rotate once more; now rt0 is the grandparent: reuse, the family is revoked
    let p2 = refresh(&s, p1.str("refresh_token")).await;
    assert_eq!(p2.status, StatusCode::OK);
    let grandparent = refresh(&s, &rt0).await;
    assert_eq!(
        (grandparent.status, grandparent.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_session_over(&s, &p2).await;
    assert_eq!(s.stats().reuse_detected, 1);
}

#[tokio::test]
async fn after_the_grace_window_the_predecessor_is_reuse() {
    let s = start_with(|c| c.reuse_grace = Duration::from_millis(200)).await;
    let l = login(&s, 1).await;
    let p1 = refresh(&s, l.str("refresh_token")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        refresh(&s, l.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refresh(&s, p1.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn reuse_of_a_token_many_generations_old_is_still_detected() {
    let s = start(cfg()).await;
    let l = login(&s, 1).await;
    let mut rt = l.str("refresh_token").to_string();
    for _ in 0..20 {
        rt = refresh(&s, &rt).await.str("refresh_token").to_string();
    }
    assert_eq!(
        refresh(&s, l.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refresh(&s, &rt).await.status,
        StatusCode::BAD_REQUEST,
        "family revoked"
    );
    assert_eq!(s.stats().reuse_detected, 1);
}
