//! The WebSocket: handshake auth per transport, events, and each close code.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn every_token_transport_is_accepted() {
    let s = start(cfg()).await;
    let l = login(&s, 1).await;
    let at = l.str("access_token");
    for t in [
        Transport::Query(at),
        Transport::Header(at),
        Transport::Subprotocol(at),
    ] {
        let is_sub = matches!(t, Transport::Subprotocol(_));
        let (mut ws, resp) = ws_connect(&s, t).await.expect("upgrade");
        let proto = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_string());
        if is_sub {
            assert_eq!(
                proto.as_deref(),
                Some("bearer"),
                "selects bearer, never echoes the token"
            );
        } else {
            assert_eq!(proto, None);
        }
        let welcome = next_event(&mut ws, WAIT).await.unwrap();
        assert_eq!(welcome["type"], "welcome");
        assert_eq!(welcome["session_id"], l.body["session_id"]);
        client_close(ws).await;
    }
    assert_eq!(s.stats().ws_total, 3);
}

#[tokio::test]
async fn handshake_without_a_valid_token_is_401() {
    let s = start(cfg()).await;
    assert_eq!(ws_connect(&s, Transport::None).await.err(), Some(401));
    assert_eq!(
        ws_connect(&s, Transport::Query("garbage")).await.err(),
        Some(401)
    );
    let l = login(&s, 1).await;
    assert_eq!(
        ws_connect(&s, Transport::Header(l.str("refresh_token")))
            .await
            .err(),
        Some(401),
        "a refresh token is not an access token"
    );
    // the plain HTTP view of the same refusal carries the RFC 6750 challenge
    let r = http()
        .get(ws_url(&s).replacen("ws", "http", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"authbench\""
    );
    assert_eq!(s.stats().ws_rejected, 4);
}

#[tokio::test]
async fn ticks_count_up() {
    let s = start_with(|c| c.ws_tick = Duration::from_millis(100)).await;
    let (_, mut ws) = ws_welcomed(&s, 1).await;
    for n in 1..=3 {
        let t = next_event(&mut ws, WAIT).await.unwrap();
        assert_eq!(
            (t["type"].as_str(), t["seq"].as_u64()),
            (Some("tick"), Some(n))
        );
    }
    client_close(ws).await;
}

#[tokio::test]
async fn expiry_closes_with_4401_and_session_expired() {
    let s = start_with(|c| c.access_ttl = Duration::from_secs(1)).await;
    let l = login(&s, 1).await;
    let mut ws = ws_open(&s, l.str("access_token")).await;
    let end = until_close(&mut ws, WAIT).await;
    assert_eq!(end.types(), ["welcome", "session_expired"]);
    assert_eq!(end.close_code, Some(4401));
    assert_eq!(s.stats().ws_expired_closes, 1);
}

#[tokio::test]
async fn single_session_login_kicks_with_4409() {
    let s = start_with(|c| c.single_session = true).await;
    let (_, mut ws) = ws_welcomed(&s, 1).await;
    login(&s, 1).await;
    let end = until_close(&mut ws, WAIT).await;
    assert_eq!(end.types(), ["kicked"]);
    assert_eq!(end.close_code, Some(4409));
    assert_eq!(s.stats().kicks, 1);
}

#[tokio::test]
async fn admin_logout_closes_with_4403() {
    let s = start(cfg()).await;
    let (_, mut ws) = ws_welcomed(&s, 1).await;
    admin_logout(&s, "user1", "admin-secret").await;
    let end = until_close(&mut ws, WAIT).await;
    assert_eq!(
        (end.types(), end.close_code),
        (vec!["logout".to_string()], Some(4403))
    );
}

#[tokio::test]
async fn logout_and_reuse_detection_close_with_4403() {
    let s = start(cfg()).await;
    // logout through the JSON API
    let (a, mut wa) = ws_welcomed(&s, 1).await;
    http()
        .post(format!("{}/api/auth/logout", s.base_url()))
        .json(&serde_json::json!({"refresh_token": a.str("refresh_token")}))
        .send()
        .await
        .unwrap();
    let end = until_close(&mut wa, WAIT).await;
    assert_eq!(
        (end.types(), end.close_code),
        (vec!["logout".to_string()], Some(4403))
    );
    // refresh-token reuse revokes the family and its sockets
    let (b, mut wb) = ws_welcomed(&s, 2).await;
    refresh(&s, b.str("refresh_token")).await;
    refresh(&s, b.str("refresh_token")).await;
    let end = until_close(&mut wb, WAIT).await;
    assert_eq!(
        (end.types(), end.close_code),
        (vec!["logout".to_string()], Some(4403))
    );
}

#[tokio::test]
async fn revoked_session_cannot_open_a_socket() {
    let s = start(cfg()).await;
    let l = login(&s, 1).await;
    admin_logout(&s, "user1", "admin-secret").await;
    assert_eq!(
        ws_connect(&s, Transport::Query(l.str("access_token")))
            .await
            .err(),
        Some(401)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_revocation_closes_hundreds_of_sockets() {
    let s = start(cfg()).await;
    let l = login(&s, 1).await;
    let at = l.str("access_token").to_string();
    let mut sockets = Vec::new();
    for _ in 0..300 {
        let mut ws = ws_open(&s, &at).await;
        next_event(&mut ws, WAIT).await.unwrap();
        sockets.push(ws);
    }
    assert_eq!(s.stats().ws_open, 300);
    admin_logout(&s, "user1", "admin-secret").await;
    let ends = futures::future::join_all(sockets.iter_mut().map(|ws| until_close(ws, WAIT))).await;
    assert!(
        ends.iter()
            .all(|e| e.close_code == Some(4403) && e.types() == ["logout"])
    );
    drop(sockets);
    // every socket task has finished
    for _ in 0..100 {
        if s.stats().ws_open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.stats().ws_open, 0);
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let s = start(cfg()).await;
    let (_, mut ws) = ws_welcomed(&s, 1).await;
    let (end, ()) = tokio::join!(until_close(&mut ws, WAIT), s.shutdown());
    assert_eq!(end.close_code, Some(1001));
}

#[tokio::test]
async fn oversized_client_messages_end_the_socket() {
    let s = start(cfg()).await;
    let (l, mut ws) = ws_welcomed(&s, 1).await;
    send_text(&mut ws, "x".repeat(200 * 1024)).await;
    // the server refuses the frame and ends the connection
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))
                | None
                | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "socket still open after an oversized message"
    );
    // the server is fine
    assert_eq!(
        me(&s, Some(l.str("access_token"))).await.status,
        StatusCode::OK
    );
}
