//! `POST /admin/outage`: the mock answers, stops listening and closes every connection (sockets
//! with 1001), and listens again on the same port after the duration, its sessions intact — in
//! process and as the `authbench-mock` binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::net::TcpStream;

use crate::support::*;

async fn outage(base: &str, key: &str, query: &str) -> Reply {
    send(
        http()
            .post(format!("{base}/admin/outage{query}"))
            .bearer_auth(key),
    )
    .await
}

/// Waits (bounded) until connecting to `addr` gives `refused == true` (refused) or `false` (accepted).
async fn until_connect(addr: SocketAddr, refused: bool, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        let r = TcpStream::connect(addr).await;
        if r.is_err() == refused {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{addr} still {} after {within:?}",
            if refused { "accepting" } else { "refusing" }
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_outage_closes_everything_and_comes_back_on_the_same_port_with_its_sessions() {
    let s = start(cfg()).await;
    let addr = s.local_addr();
    let (tokens, mut ws) = ws_welcomed(&s, 1).await;

    let asked = Instant::now();
    let r = outage(&s.base_url(), "admin-secret", "?duration_ms=1500").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["outage_ms"], 1500);

    // The open socket is told the server is going away.
    let end = until_close(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(end.close_code, Some(1001));
    // Nothing listens any more...
    until_connect(addr, true, Duration::from_secs(2)).await;
    // ...until the duration has passed, on the same port.
    let back = until_connect(addr, false, Duration::from_secs(10)).await;
    let away = back - asked;
    assert!(away >= Duration::from_millis(1400), "back after {away:?}");
    assert!(away < Duration::from_secs(5), "back after {away:?}");

    // The state survived: the session's refresh token still works.
    let renewed = refresh(&s, tokens.str("refresh_token")).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    // And a second outage can follow the first.
    let again = outage(&s.base_url(), "admin-secret", "?duration_ms=200").await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    until_connect(addr, false, Duration::from_secs(10)).await;
    s.shutdown().await;
}

#[tokio::test]
async fn an_outage_needs_the_admin_key_and_a_sane_duration() {
    let s = start(cfg()).await;
    let base = s.base_url();
    assert_eq!(
        outage(&base, "wrong", "?duration_ms=100").await.status,
        StatusCode::UNAUTHORIZED
    );
    for (query, what) in [
        ("", "duration_ms=N"),
        ("?duration_ms=3s", "whole number"),
        ("?duration_ms=0", "above 0"),
        ("?duration_ms=86400000", "at most 600s"),
    ] {
        let r = outage(&base, "admin-secret", query).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(r.description().contains(what), "{query}: {}", r.body);
    }
    // None of them stopped the server.
    assert_eq!(me(&s, None).await.status, StatusCode::UNAUTHORIZED);
    s.shutdown().await;
}

#[tokio::test]
async fn the_binary_goes_away_and_comes_back_too() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authbench-mock"))
        .args(["--port", "0", "--admin-key", "bin-admin"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kept open to the end: the mock prints more lines, and a closed pipe would kill it.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("authbench-mock listening on ")
        .expect("address line")
        .to_string();
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();

    let r = outage(&base, "bin-admin", "?duration_ms=800").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    until_connect(addr, true, Duration::from_secs(2)).await;
    until_connect(addr, false, Duration::from_secs(10)).await;
    let health = http().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    child.kill().unwrap();
    let _ = child.wait();
    drop(out);
}
