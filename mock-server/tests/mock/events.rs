//! `GET /events` (Server-Sent Events) and push (`--push-url`, `POST /push/register`): the same
//! session events as `/ws`, on real sockets.

use std::time::Duration;

use authbench_mock::{Flaw, MockServer};
use axum::extract::State;
use axum::http::HeaderMap;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;

use super::support::*;

const WAIT: Duration = Duration::from_secs(10);

/// An open event stream, read as text.
struct Events {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buf: String,
}

impl Events {
    async fn open(s: &MockServer, at: &str, last_id: Option<&str>) -> Result<Events, StatusCode> {
        let mut req = http()
            .get(format!("{}/events", s.base_url()))
            .query(&[("access_token", at)])
            .timeout(Duration::from_secs(3600));
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.unwrap();
        if resp.status() != StatusCode::OK {
            return Err(resp.status());
        }
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Ok(Events {
            body: Box::pin(resp.bytes_stream()),
            buf: String::new(),
        })
    }

    /// The next event block as (event, id, data), or None when the stream ended.
    async fn next(&mut self) -> Option<(String, String, Value)> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim_start().to_string())
                };
                let Some(event) = field("event:") else {
                    continue; // a keep-alive comment
                };
                let data = serde_json::from_str(&field("data:").unwrap_or_default()).unwrap();
                return Some((event, field("id:").unwrap_or_default(), data));
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("an event within 10 s")?
                .ok()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test]
async fn events_stream_welcomes_then_ends_with_kicked_on_a_login_elsewhere() {
    let s = start_with(|c| c.single_session = true).await;
    let first = login(&s, 1).await;
    let mut ev = Events::open(&s, first.str("access_token"), None)
        .await
        .unwrap();
    let (kind, id, data) = ev.next().await.unwrap();
    assert_eq!(kind, "welcome");
    assert_eq!(data["session_id"], first.str("session_id"));
    assert_eq!(id, format!("{}.1", first.str("session_id")));
    assert!(ev.buf.is_empty() || !ev.buf.contains("event: kicked"));
    login(&s, 1).await;
    let (kind, id, data) = ev.next().await.unwrap();
    assert_eq!(
        (kind.as_str(), data["type"].as_str()),
        ("kicked", Some("kicked"))
    );
    assert_eq!(id, format!("{}.2", first.str("session_id")));
    assert!(ev.next().await.is_none(), "the server ends the stream");
    let stats = s.stats();
    assert_eq!((stats.sse_total, stats.sse_resumes), (1, 0));
}

/// `no-kick` keeps the kick from a stream: no notification, and no replay when the stream resumes
/// (a resume is refused like any revoked session's request); the stream lives on until its token
/// expires. (The check when a stream starts ignores the kick too: a login elsewhere can land
/// between the stream's authentication and that check, a race this test cannot time; the engine's
/// `channels::a_server_that_never_kicks_misses_every_sse_kick` met it under load.)
#[tokio::test]
async fn no_kick_tells_no_stream_of_the_kick_not_even_one_that_starts_or_resumes_after_it() {
    for flawed in [false, true] {
        let s = start_with(|c| {
            c.single_session = true;
            c.access_ttl = Duration::from_secs(1);
            if flawed {
                c.flaws = vec![Flaw::NoKick];
            }
        })
        .await;
        let first = login(&s, 5).await;
        let (at, sid) = (first.str("access_token"), first.str("session_id"));
        let mut ev = Events::open(&s, at, None).await.unwrap();
        assert_eq!(ev.next().await.unwrap().0, "welcome");
        login(&s, 5).await;
        let end = ev.next().await.unwrap().0;
        let expected = if flawed { "session_expired" } else { "kicked" };
        assert_eq!(end, expected, "no-kick: {flawed}");
        let resumed = Events::open(&s, at, Some(&format!("{sid}.1"))).await;
        match flawed {
            true => assert_eq!(resumed.err(), Some(StatusCode::UNAUTHORIZED)),
            false => assert_eq!(resumed.unwrap().next().await.unwrap().0, "kicked"),
        }
        s.shutdown().await;
    }
}

#[tokio::test]
async fn events_end_with_session_expired_when_the_access_token_expires() {
    let s = start_with(|c| c.access_ttl = Duration::from_secs(1)).await;
    let r = login(&s, 2).await;
    let mut ev = Events::open(&s, r.str("access_token"), None).await.unwrap();
    assert_eq!(ev.next().await.unwrap().0, "welcome");
    assert_eq!(ev.next().await.unwrap().0, "session_expired");
    assert!(ev.next().await.is_none());
}

#[tokio::test]
async fn a_resume_continues_the_numbering_and_replays_a_missed_kick() {
    let s = start_with(|c| c.single_session = true).await;
    let r = login(&s, 3).await;
    let (at, sid) = (r.str("access_token"), r.str("session_id"));
    let mut ev = Events::open(&s, at, Some(&format!("{sid}.4")))
        .await
        .unwrap();
    assert_eq!(
        ev.next().await.unwrap().1,
        format!("{sid}.5"),
        "resumed after 4"
    );
    drop(ev);
    // Kicked while no stream is open.
    login(&s, 3).await;
    assert_eq!(
        Events::open(&s, at, None).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        Events::open(&s, at, Some("0123.9")).await.err(),
        Some(StatusCode::UNAUTHORIZED),
        "a Last-Event-ID of another session replays nothing"
    );
    let mut ev = Events::open(&s, at, Some(&format!("{sid}.5")))
        .await
        .unwrap();
    let (kind, id, _) = ev.next().await.unwrap();
    assert_eq!((kind.as_str(), id), ("kicked", format!("{sid}.6")));
    assert!(ev.next().await.is_none());
    let stats = s.stats();
    assert_eq!((stats.sse_resumes, stats.sse_rejected), (2, 2));
}

#[tokio::test]
async fn events_refuse_a_missing_token_like_the_resource_server() {
    let s = start(cfg()).await;
    let r = send(http().get(format!("{}/events", s.base_url()))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"authbench\"")
    );
}

/// A push provider on 127.0.0.1:0 speaking the FCM HTTP v1 send API: every accepted message
/// (its Authorization header and JSON body) goes to the returned channel.
async fn provider() -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn send(
        State(tx): State<mpsc::UnboundedSender<(String, Value)>>,
        headers: HeaderMap,
        body: axum::Json<Value>,
    ) -> axum::Json<Value> {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let _ = tx.send((auth, body.0));
        axum::Json(serde_json::json!({ "name": "projects/test/messages/1" }))
    }
    let app = axum::Router::new()
        .route("/v1/projects/test/messages:send", axum::routing::post(send))
        .with_state(tx);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/projects/test/messages:send",
        l.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, rx)
}

/// Waits (bounded) until the mock counted `n` accepted pushes (it counts after the provider's
/// answer, which may come after the provider saw the message).
async fn sent_reaches(s: &MockServer, n: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while s.stats().pushes_sent < n {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", s.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.stats().pushes_sent, n);
}

async fn register(s: &MockServer, at: &str, device: &str) -> Reply {
    send(
        http()
            .post(format!("{}/push/register", s.base_url()))
            .bearer_auth(at)
            .json(&serde_json::json!({ "token": device })),
    )
    .await
}

#[tokio::test]
async fn a_kick_is_pushed_to_the_registered_device_in_the_fcm_v1_shape() {
    let (url, mut pushes) = provider().await;
    let s = start_with(|c| {
        c.single_session = true;
        c.push_url = Some(url);
    })
    .await;
    let r = login(&s, 4).await;
    let ok = register(&s, r.str("access_token"), "device-4a").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["session_id"], r.str("session_id"));
    login(&s, 4).await;
    let (auth, msg) = tokio::time::timeout(WAIT, pushes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth, "Bearer authbench-mock-push");
    let m = &msg["message"];
    assert_eq!(m["token"], "device-4a");
    assert_eq!(m["data"]["type"], "kicked");
    assert_eq!(m["data"]["session_id"], r.str("session_id"));
    assert!(
        m["data"]["sent_at_ms"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(m["android"]["priority"], "high");
    sent_reaches(&s, 1).await;

    // Logout of a registered session: `logout`.
    let r = login(&s, 5).await;
    register(&s, r.str("access_token"), "device-5").await;
    let out = send(
        http()
            .post(format!("{}/oauth/revoke", s.base_url()))
            .form(&[("token", r.str("refresh_token"))]),
    )
    .await;
    assert_eq!(out.status, StatusCode::OK);
    let (_, msg) = tokio::time::timeout(WAIT, pushes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            msg["message"]["token"].as_str(),
            msg["message"]["data"]["type"].as_str()
        ),
        (Some("device-5"), Some("logout"))
    );
    sent_reaches(&s, 2).await;
    let stats = s.stats();
    assert_eq!((stats.push_registrations, stats.push_failures), (2, 0));
}

#[tokio::test]
async fn the_no_kick_flaw_silences_push_too() {
    let (url, mut pushes) = provider().await;
    let s = start_flawed(Flaw::NoKick, |c| {
        c.single_session = true;
        c.push_url = Some(url);
    })
    .await;
    let r = login(&s, 6).await;
    register(&s, r.str("access_token"), "device-6").await;
    login(&s, 6).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), pushes.recv())
            .await
            .is_err(),
        "no push for a kick the server keeps quiet about"
    );
}

/// `silent-logout`: an admin logout revokes the session, and neither its stream nor its device
/// hears of it — no `logout` event (the stream lives until its access token expires), no replay on
/// a resume, no push. The correct server tells all three.
#[tokio::test]
async fn the_silent_logout_flaw_tells_no_stream_and_pushes_nothing() {
    for flawed in [false, true] {
        let (url, mut pushes) = provider().await;
        let s = start_with(|c| {
            c.access_ttl = Duration::from_secs(3);
            c.push_url = Some(url);
            if flawed {
                c.flaws = vec![Flaw::SilentLogout];
            }
        })
        .await;
        let r = login(&s, 8).await;
        let (at, sid) = (r.str("access_token"), r.str("session_id"));
        let mut ev = Events::open(&s, at, None).await.unwrap();
        assert_eq!(ev.next().await.unwrap().0, "welcome");
        assert_eq!(register(&s, at, "device-8").await.status, StatusCode::OK);
        assert_eq!(
            admin_logout(&s, "user8", "admin-secret").await.status,
            StatusCode::OK
        );
        // A resume of the revoked session: the missed `logout`, or (flawed) the plain 401.
        let resumed = Events::open(&s, at, Some(&format!("{sid}.1"))).await;
        let pushed = tokio::time::timeout(Duration::from_millis(500), pushes.recv()).await;
        let end = ev.next().await.unwrap().0;
        if flawed {
            assert_eq!(end, "session_expired", "no logout event, only the expiry");
            assert_eq!(resumed.err(), Some(StatusCode::UNAUTHORIZED));
            assert!(
                pushed.is_err(),
                "no push for a logout the server keeps quiet about"
            );
        } else {
            assert_eq!(end, "logout");
            assert_eq!(resumed.unwrap().next().await.unwrap().0, "logout");
            let (_, msg) = pushed.expect("a push").unwrap();
            assert_eq!(msg["message"]["data"]["type"], "logout");
        }
    }
}

#[tokio::test]
async fn registration_needs_a_valid_token_a_device_token_and_push_on() {
    let s = start(cfg()).await;
    let r = login(&s, 7).await;
    let off = register(&s, r.str("access_token"), "d").await;
    assert_eq!(
        (off.status, off.error()),
        (StatusCode::NOT_IMPLEMENTED, "push_disabled")
    );
    let (url, _pushes) = provider().await;
    let s = start_with(|c| c.push_url = Some(url)).await;
    let r = login(&s, 7).await;
    assert_eq!(
        register(&s, "garbage", "d").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        register(&s, r.str("access_token"), "").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        register(&s, r.str("access_token"), "d").await.status,
        StatusCode::OK
    );
}
