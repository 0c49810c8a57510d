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

/// One request to each endpoint authbench calls besides login, refresh, the resource and the
/// socket, named by the fault operation that covers it: `(op, method, path)`. The cookie-session
/// endpoints need `--session-mode cookie`; `/push/register` needs a push URL.
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("logout", "POST", "/oauth/revoke"),
    ("logout", "POST", "/api/auth/logout"),
    ("logout", "POST", "/session/logout"),
    ("logout", "POST", "/accounts/logout/"),
    ("logout_everywhere", "POST", "/api/auth/logout-all"),
    ("force_logout", "POST", "/admin/users/user1/logout"),
    ("force_logout", "POST", "/admin/users/by-id/id-1/logout"),
    ("force_logout", "GET", "/admin/users?username=user1"),
    ("csrf_page", "GET", "/session/csrf"),
    ("csrf_page", "GET", "/accounts/login/"),
    ("sse", "GET", "/events"),
    ("push", "POST", "/push/register"),
];

/// Sends the request of `ENDPOINTS` with a valid access token (and the admin key on the admin
/// routes), a form or JSON body as each wants; returns the status.
async fn call(s: &authbench_mock::MockServer, method: &str, path: &str, at: &str) -> StatusCode {
    let url = format!("{}{path}", s.base_url());
    let req = match method {
        "GET" => http().get(&url).query(&[("access_token", at)]),
        _ => http().post(&url),
    };
    let req = if path.starts_with("/admin/") {
        req.bearer_auth("admin-secret")
    } else {
        req.bearer_auth(at)
    };
    let req = match path {
        "/oauth/revoke" => req.form(&[("token", at)]),
        "/push/register" => req.json(&serde_json::json!({ "token": "device-1" })),
        "/api/auth/logout" => req.json(&serde_json::json!({})),
        _ => req,
    };
    // A stream (`/events`) answers its status at once; its body is not read.
    req.send().await.unwrap().status()
}

/// `error:OP=100%` answers 500 on every route of OP — the logouts, logout everywhere, the admin
/// logout, the CSRF page, the event stream and the push registration — and on no other route;
/// the same requests without the fault are answered by the handlers (none of them 500). A logout
/// that failed ended nothing.
#[tokio::test]
async fn every_endpoint_the_client_calls_has_an_operation_that_can_fail() {
    for faulty in [true, false] {
        let mut c = cfg();
        c.session_mode = authbench_mock::SessionMode::Cookie;
        c.push_url = Some("http://127.0.0.1:9/v1/projects/p/messages:send".into());
        if faulty {
            c.faults = ENDPOINTS
                .iter()
                .map(|(op, ..)| format!("error:{op}=100%").parse().unwrap())
                .collect();
        }
        let s = start(c).await;
        for (op, method, path) in ENDPOINTS {
            // A fresh session each time: a logout that works ends the one before.
            let l = login(&s, 1).await;
            let at = l.str("access_token");
            let status = call(&s, method, path, at).await;
            if faulty {
                assert_eq!(
                    status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error:{op}=100% on {method} {path}"
                );
                assert_live(&s, &l).await;
            } else {
                assert!(
                    status != StatusCode::INTERNAL_SERVER_ERROR,
                    "{method} {path} without a fault: {status}"
                );
            }
        }
        // Login (the form POST of the Django path too), refresh and the resource are other
        // operations: untouched.
        let l = login(&s, 2).await;
        assert_eq!(
            refresh(&s, l.str("refresh_token")).await.status,
            StatusCode::OK
        );
        let django_login = send(
            http()
                .post(format!("{}/accounts/login/", s.base_url()))
                .form(&[("username", "user3"), ("password", "pw-3")]),
        )
        .await;
        assert_eq!(django_login.status, StatusCode::OK, "faulty: {faulty}");
        let expected = if faulty { ENDPOINTS.len() as u64 } else { 0 };
        assert_eq!(s.stats().faults_error, expected);
        s.shutdown().await;
    }
}

/// `capacity:sse=N` counts open streams: past N a stream request gets 503 + `Retry-After: 1`;
/// `capacity:sse=0` refuses every stream. A stream that ends frees its place.
#[tokio::test]
async fn sse_capacity_refuses_streams_past_the_open_ones() {
    let none = start(with_faults(&["capacity:sse=0"])).await;
    let l = login(&none, 1).await;
    let r = send(
        http()
            .get(format!("{}/events", none.base_url()))
            .bearer_auth(l.str("access_token")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (r.header("retry-after"), r.error()),
        (Some("1"), "temporarily_unavailable")
    );
    assert_eq!(none.stats().faults_capacity, 1);

    let s = start(with_faults(&["capacity:sse=1"])).await;
    let l = login(&s, 1).await;
    let open = |at: String| {
        let url = format!("{}/events", s.base_url());
        async move {
            http()
                .get(url)
                .bearer_auth(at)
                .timeout(Duration::from_secs(3600))
                .send()
                .await
                .unwrap()
        }
    };
    let at = l.str("access_token").to_string();
    let first = open(at.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = open(at.clone()).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The stream ends with its session (logout): its place is free again.
    let mut body = first;
    send(
        http()
            .post(format!("{}/oauth/revoke", s.base_url()))
            .form(&[("token", l.str("refresh_token"))]),
    )
    .await;
    while body.chunk().await.unwrap().is_some() {}
    let l = login(&s, 1).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let third = open(l.str("access_token").to_string()).await;
        if third.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", third.status());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
