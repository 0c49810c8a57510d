//! Injected faults: latency, errors, capacity (503 / 1013) and rate limits (429).

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::*;

fn with_faults(specs: &[&str]) -> authbench_mock::MockConfig {
    let mut c = cfg();
    c.faults = specs.iter().map(|s| s.parse().unwrap()).collect();
    c
}

#[tokio::test]
async fn latency_delays_only_its_operation() {
    let s = start(with_faults(&["latency:refresh=300ms"])).await;
    let l = login(&s, 1).await;
    assert_eq!(s.stats().faults_latency, 0, "login is not delayed");
    let t = Instant::now();
    assert_eq!(
        refresh(&s, l.str("refresh_token")).await.status,
        StatusCode::OK
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(s.stats().faults_latency, 1);
}

#[tokio::test]
async fn error_fault_answers_500_json() {
    let s = start(with_faults(&["error:api=100%"])).await;
    let l = login(&s, 1).await;
    let r = me(&s, Some(l.str("access_token"))).await;
    assert_eq!(
        (r.status, r.error()),
        (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
    );
    let none = start(with_faults(&["error:api=0%"])).await;
    let l = login(&none, 1).await;
    assert_eq!(
        me(&none, Some(l.str("access_token"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn capacity_fault_answers_503_past_the_limit() {
    let s = start(with_faults(&["capacity:login=1", "latency:login=400ms"])).await;
    let form = [
        ("grant_type", "password"),
        ("username", "user1"),
        ("password", "pw-1"),
    ];
    let (a, b) = tokio::join!(token(&s, &form), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token(&s, &form).await
    });
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(b.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(b.header("retry-after"), Some("1"));
    assert_eq!(b.error(), "temporarily_unavailable");
    // once the first is done there is room again
    assert_eq!(token(&s, &form).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_fault_answers_429_past_the_rate() {
    let s = start(with_faults(&["rate:api=3/s"])).await;
    let l = login(&s, 1).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = me(&s, Some(l.str("access_token"))).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.header("retry-after").is_some());
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    assert!(s.stats().faults_rate >= 1);
}

#[tokio::test]
async fn ws_capacity_closes_with_1013_after_the_upgrade() {
    let s = start(with_faults(&["capacity:ws=1"])).await;
    let l = login(&s, 1).await;
    let at = l.str("access_token");
    let mut first = ws_open(&s, at).await;
    assert_eq!(
        next_event(&mut first, Duration::from_secs(2))
            .await
            .unwrap()["type"],
        "welcome"
    );
    let mut second = ws_open(&s, at).await;
    let end = until_close(&mut second, Duration::from_secs(3)).await;
    assert_eq!(end.close_code, Some(1013));
    assert!(
        end.events.is_empty(),
        "no welcome past capacity: {:?}",
        end.events
    );
    client_close(first).await;
    assert_eq!(s.stats().ws_over_capacity, 1);
}
