//! The server-side view of a burst: `POST /admin/sync-point`, the `arrivals` of `GET /admin/stats`,
//! and `GET /metrics`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use tokio::time::Instant;

use crate::support::*;

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

async fn sync_point(s: &authbench_mock::MockServer, body: serde_json::Value, key: &str) -> Reply {
    send(
        http()
            .post(format!("{}/admin/sync-point", s.base_url()))
            .bearer_auth(key)
            .json(&body),
    )
    .await
}

/// A known burst: 21 refreshes, the first at the sync point and one every 10 ms after it. The
/// mock must see them arrive from ~0 to ~200 ms after the sync point, and must not count the
/// resource calls sent in between (only `refresh` is watched), nor the second wave of refreshes
/// the same sessions send 400 ms later (repeats, not the storm).
///
/// A stall of the machine of 1-2 s must not break it: the sync point is 2.5 s ahead (the refresh
/// sent before it has time to arrive before it), and each arrival is bounded by when its request
/// was sent and when its answer came back, not by a fixed allowance after the send.
#[tokio::test]
async fn arrival_spread_matches_a_known_burst() {
    const N: u32 = 21;
    const GAP: Duration = Duration::from_millis(10);
    let s = start_with(|_| {}).await;
    let mut rts = Vec::new();
    for i in 0..N {
        rts.push(
            login(&s, u64::from(i))
                .await
                .str("refresh_token")
                .to_string(),
        );
    }
    // Warm connections first, so the burst measures arrivals, not TCP handshakes.
    let mut clients = Vec::new();
    for _ in 1..N {
        let c = http();
        c.get(format!("{}/healthz", s.base_url()))
            .send()
            .await
            .unwrap();
        clients.push(c);
    }
    let lead = Duration::from_millis(2500);
    let at = Instant::now() + lead;
    let at_wall = SystemTime::now() + lead;
    let r = sync_point(
        &s,
        serde_json::json!({ "at_unix_ms": unix_ms(at_wall), "op": "refresh" }),
        "admin-secret",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // One refresh before the sync point: counted apart, not in the offsets.
    assert_eq!(refresh(&s, &rts[0]).await.status, StatusCode::OK);

    let mut tasks = Vec::new();
    for (i, (rt, c)) in rts.iter().skip(1).zip(clients).enumerate() {
        let base = s.base_url();
        let rt = rt.clone();
        let when = at + GAP * i as u32;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(when).await;
            let sent = unix_us(SystemTime::now());
            let r = c
                .post(format!("{base}/oauth/token"))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
                .send()
                .await
                .unwrap();
            let answered = unix_us(SystemTime::now());
            assert_eq!(r.status(), StatusCode::OK);
            let next: serde_json::Value = r.json().await.unwrap();
            // Not watched: a resource call right after.
            c.get(format!("{base}/api/me")).send().await.unwrap();
            // A later wave of the same session: a repeat, outside the offsets.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let r = c
                .post(format!("{base}/oauth/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", next["refresh_token"].as_str().unwrap()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            (sent, answered)
        }));
    }
    let t0 = unix_ms(at_wall) * 1000;
    let (mut sent, mut answered) = (Vec::new(), Vec::new());
    for t in tasks {
        let (s, a) = t.await.unwrap();
        sent.push(s.saturating_sub(t0));
        answered.push(a.saturating_sub(t0));
    }
    let (first_sent, last_sent) = (*sent.iter().min().unwrap(), *sent.iter().max().unwrap());
    let (first_answered, last_answered) = (
        *answered.iter().min().unwrap(),
        *answered.iter().max().unwrap(),
    );
    // The burst as sent: ~190 ms wide when the pacing held; on a loaded machine the sends may
    // bunch, so the server's figures are compared with the send instants the test measured.
    assert!(last_sent > first_sent, "sent at {sent:?}");
    let a = s.stats().arrivals.expect("a sync point was set");
    assert_eq!(a.op, "refresh");
    assert_eq!(a.count, u64::from(N) - 1, "{a:?}");
    assert_eq!(a.before_sync_point, 1, "{a:?}");
    assert_eq!(a.repeats, u64::from(N) - 1, "{a:?}");
    // Each request arrives after it was sent and before its answer came back (1 ms for the
    // histogram's resolution), so the first arrival lies between the first send and the first
    // answer, the last between the last send and the last answer: a few ms apart unless the
    // machine stalled, and then the bounds widen with the stall. Offsets from another instant
    // than the sync point fall outside.
    let ms = 1_000;
    assert!(
        a.first_us + ms >= first_sent && a.first_us <= first_answered + ms,
        "first arrival vs first send {first_sent} µs and answer {first_answered} µs: {a:?}"
    );
    assert!(
        a.max_us + ms >= last_sent && a.max_us <= last_answered + ms,
        "last arrival vs last send {last_sent} µs and answer {last_answered} µs: {a:?}"
    );
    // 20 samples: p99 is the last one, so the spread is last - first, the burst's width.
    assert_eq!(a.p99_us, a.max_us, "{a:?}");
    let (narrowest, widest) = (
        last_sent.saturating_sub(first_answered),
        last_answered - first_sent,
    );
    assert!(
        a.spread_p99_us + 2 * ms >= narrowest && a.spread_p99_us <= widest + 2 * ms,
        "spread vs the burst as sent and answered ({narrowest}..={widest} µs): {a:?}"
    );

    // The same figures over HTTP and in OpenMetrics.
    let stats = send(http().get(format!("{}/admin/stats", s.base_url()))).await;
    assert_eq!(stats.body["arrivals"]["count"], u64::from(N) - 1);
    let text = http()
        .get(format!("{}/metrics", s.base_url()))
        .send()
        .await
        .unwrap();
    assert!(
        text.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = text.text().await.unwrap();
    let logins = format!("authbench_mock_logins_total {N}");
    let arrivals = format!("authbench_mock_arrivals_total {}", N - 1);
    for line in [logins.as_str(), arrivals.as_str(), "# EOF"] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
    assert!(
        text.contains("authbench_mock_arrival_offset_seconds{stat=\"spread_p99\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn sync_point_needs_the_admin_key_and_a_usable_body() {
    let s = start_with(|_| {}).await;
    let now = unix_ms(SystemTime::now());
    let r = sync_point(&s, serde_json::json!({ "at_unix_ms": now }), "wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = sync_point(
        &s,
        serde_json::json!({ "at_unix_ms": now, "op": "ws" }),
        "admin-secret",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.description().contains("login, refresh or api"),
        "{}",
        r.body
    );
    let r = sync_point(&s, serde_json::json!({ "at": now }), "admin-secret").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.description().contains("at_unix_ms"), "{}", r.body);
    let r = sync_point(&s, serde_json::json!({ "at_unix_ms": 5 }), "admin-secret").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(s.stats().arrivals.is_none(), "nothing was armed");
    // Without a sync point, /admin/stats has no `arrivals` and /metrics no arrival figures.
    let stats = send(http().get(format!("{}/admin/stats", s.base_url()))).await;
    assert!(stats.body.get("arrivals").is_none(), "{}", stats.body);
}
