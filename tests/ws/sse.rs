//! The SSE channel (`client::sse`) against a scripted event-stream server on a real socket: the
//! EventSource rules (`Last-Event-ID` on the reconnect, the server's `retry:` delay), a kick that
//! arrives on the resumed stream, and a 200 that is not an event stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authbench::client::sse::{self, SseOptions};
use authbench::client::ws::{Backoff, KickBoard, SSE_KICKS, SessionEnd, WsEnd, WsTokens};
use authbench::metrics::Recorder;
use authbench::profile::{SseProfile, TokenTransport, WsEvents};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

/// Tokens that never change; remembers how the session ended.
#[derive(Default)]
struct Fixed(Mutex<Vec<SessionEnd>>);

impl WsTokens for Fixed {
    async fn access_token(&self) -> Option<String> {
        Some("at-1".into())
    }
    async fn refresh_for_reconnect(&self) -> Option<String> {
        Some("at-2".into())
    }
    fn session_ended(&self, why: SessionEnd) {
        self.0.lock().push(why);
    }
}

/// What the scripted server saw: per connection, its `Last-Event-ID` and when it came.
#[derive(Default)]
struct Seen {
    conns: AtomicUsize,
    requests: Mutex<Vec<(Option<String>, Instant)>>,
}

/// Serves `/events`: connection n gets `bodies[n]` (the last one again after that) with
/// `content_type`, then ends the response.
async fn server(bodies: Vec<&'static str>, content_type: &'static str) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new()
        .route(
            "/events",
            axum::routing::get(move |State(seen): State<Arc<Seen>>, headers: HeaderMap| {
                let bodies = bodies.clone();
                async move {
                    let n = seen.conns.fetch_add(1, Ordering::SeqCst);
                    let last = headers
                        .get("last-event-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    seen.requests.lock().push((last, Instant::now()));
                    let body = bodies[n.min(bodies.len() - 1)];
                    ([(header::CONTENT_TYPE, content_type)], body).into_response()
                }
            }),
        )
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, seen)
}

fn options(url: &str) -> Arc<SseOptions> {
    Arc::new(SseOptions {
        profile: SseProfile {
            url: url.parse().unwrap(),
            token: TokenTransport::default(),
            events: WsEvents::default(),
        },
        tls: None,
        connect_timeout: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
            max_attempts: 3,
        },
    })
}

#[tokio::test]
async fn a_resumed_stream_sends_last_event_id_after_the_retry_delay_and_carries_the_kick() {
    let (url, seen) = server(
        vec![
            // A welcome with an id and a 150 ms retry, then the server ends the stream.
            "retry: 150\nid: s.1\nevent: welcome\ndata: {\"type\":\"welcome\"}\n\n",
            // The resumed stream: a comment, a data-only event classified by its JSON, the kick.
            ": keep-alive\n\nid: s.2\ndata: {\"type\":\"tick\"}\n\nid: s.3\nevent: kicked\ndata: {}\n\n",
        ],
        "text/event-stream",
    )
    .await;
    let rec = Recorder::new();
    let board = KickBoard::with_names(rec.clone(), &SSE_KICKS);
    let clock = board.clock(0);
    clock.arm();
    let tokens = Arc::new(Fixed::default());
    let h = sse::spawn(
        options(&url),
        tokens.clone(),
        rec.clone(),
        0,
        clock,
        CancellationToken::new(),
    );
    let end = tokio::time::timeout(Duration::from_secs(10), h.join())
        .await
        .expect("the channel ends on the kick");
    assert_eq!(end, WsEnd::SessionEnded(SessionEnd::Kicked));
    assert_eq!(*tokens.0.lock(), vec![SessionEnd::Kicked]);
    let reqs = seen.requests.lock().clone();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].0.as_deref(), reqs[1].0.as_deref()),
        (None, Some("s.1"))
    );
    assert!(
        reqs[1].1 - reqs[0].1 >= Duration::from_millis(140),
        "the server's retry: delay is honoured: {:?}",
        reqs[1].1 - reqs[0].1
    );
    for (name, n) in [
        ("sse_connects", 2),
        ("sse_reconnects", 1),
        ("sse_resumes", 1),
        ("sse_end_without_event", 1),
        ("sse_events.welcome", 1),
        ("sse_events.tick", 1),
        ("sse_events.kicked", 1),
        ("sse_sessions_ended", 1),
    ] {
        assert_eq!(
            rec.counter(name),
            n,
            "{name}: {:?}",
            rec.snapshot().counters
        );
    }
    assert_eq!(rec.samples("sse_kick_latency"), 1);
    assert_eq!(board.settle(Duration::from_secs(1)).await.missed, 0);
}

#[tokio::test]
async fn a_200_that_is_not_an_event_stream_is_refused() {
    let (url, _) = server(vec!["{\"type\":\"kicked\"}"], "application/json").await;
    let rec = Recorder::new();
    let board = KickBoard::with_names(rec.clone(), &SSE_KICKS);
    let h = sse::spawn(
        options(&url),
        Arc::new(Fixed::default()),
        rec.clone(),
        0,
        board.clock(0),
        CancellationToken::new(),
    );
    let end = tokio::time::timeout(Duration::from_secs(10), h.join())
        .await
        .unwrap();
    assert_eq!(end, WsEnd::ProtocolError(0));
    assert_eq!(rec.counter("sse_connect_failed.content_type"), 1);
    assert_eq!(rec.counter("sse_connects"), 0);
}

#[tokio::test]
async fn a_server_that_ends_every_stream_at_once_is_given_up_on() {
    let (url, seen) = server(vec![""], "text/event-stream").await;
    let rec = Recorder::new();
    let board = KickBoard::with_names(rec.clone(), &SSE_KICKS);
    let h = sse::spawn(
        options(&url),
        Arc::new(Fixed::default()),
        rec.clone(),
        0,
        board.clock(0),
        CancellationToken::new(),
    );
    let end = tokio::time::timeout(Duration::from_secs(30), h.join())
        .await
        .unwrap();
    assert_eq!(end, WsEnd::GaveUp);
    assert_eq!(rec.counter("sse_gave_up"), 1);
    assert_eq!(
        seen.conns.load(Ordering::SeqCst),
        4,
        "the first try and 3 backoffs"
    );
    assert_eq!(rec.counter("sse_end_without_event"), 4);
}
