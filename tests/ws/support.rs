//! Shared helpers of the `tests/ws_*.rs` integration tests: an in-process mock on port 0, a
//! minimal [`WsTokens`] that logs in and refreshes with plain reqwest (so these tests do not depend
//! on the engine's session type), and WebSocket options with short test timeouts.
#![allow(dead_code)] // each test module uses a different subset

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use authbench::client::ws::{
    self, KickBoard, SessionEnd, WsEnd, WsHandle, WsOptions, WsOutcome, WsTokens,
};
use authbench::metrics::Recorder;
use authbench::profile::jwt_exp;
use authbench_mock::MockServer;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

#[path = "../common/mock.rs"]
mod common;
pub use common::{ADMIN_KEY, mock};
#[path = "../common/wait.rs"]
mod wait;
pub use wait::eventually;

/// Options for the mock's `/ws` with short timeouts suited to tests.
pub fn ws_options(server: &MockServer) -> WsOptions {
    let url = format!("ws://{}/ws", server.local_addr());
    let mut o = WsOptions::new(url.parse().expect("ws url"));
    o.connect_timeout = Duration::from_secs(5);
    o.kick_close_grace = Duration::from_millis(500);
    o.expiry_grace = Duration::from_millis(300);
    o.close_timeout = Duration::from_millis(500);
    o.backoff.base = Duration::from_millis(20);
    o.backoff.max = Duration::from_millis(200);
    o
}

/// One HTTP client for a whole test (cheap to clone).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client")
}

/// The token pair of a password login or a refresh.
#[derive(Debug, Clone)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
}

async fn token_call(http: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> Option<Pair> {
    let resp = http
        .post(format!("{base}/oauth/token"))
        .form(form)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let v: serde_json::Value = resp.json().await.ok()?;
    Some(Pair {
        access: v["access_token"].as_str()?.to_string(),
        refresh: v["refresh_token"].as_str()?.to_string(),
    })
}

/// A password login of `user{n}` (None when refused).
pub async fn login(http: &reqwest::Client, base: &str, n: u64) -> Option<Pair> {
    let (user, pw) = (format!("user{n}"), format!("pw-{n}"));
    token_call(
        http,
        base,
        &[
            ("grant_type", "password"),
            ("username", &user),
            ("password", &pw),
        ],
    )
    .await
}

/// `POST /admin/users/{user}/logout` (the password-change case); true on 2xx.
pub async fn admin_logout(http: &reqwest::Client, base: &str, n: u64) -> bool {
    http.post(format!("{base}/admin/users/user{n}/logout"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false)
}

/// A minimal token manager for one session of the mock.
pub struct TestTokens {
    http: reqwest::Client,
    base: String,
    pair: Mutex<Option<Pair>>,
    /// Every access token handed to the WebSocket channel, in order.
    pub handed_out: Mutex<Vec<String>>,
    /// Calls of `refresh_for_reconnect`.
    pub reconnect_refreshes: AtomicU32,
    /// `session_ended` calls.
    pub ended: Mutex<Vec<SessionEnd>>,
}

impl TestTokens {
    /// Logs `user{n}` in.
    pub async fn login(http: &reqwest::Client, base: &str, n: u64) -> Arc<TestTokens> {
        let pair = login(http, base, n).await.expect("login succeeds");
        Arc::new(Self::with_pair(http, base, Some(pair)))
    }

    /// Tokens that are not valid for the server at all (a garbage access token, no refresh).
    pub fn bogus(http: &reqwest::Client, base: &str) -> Arc<TestTokens> {
        Arc::new(Self::with_pair(
            http,
            base,
            Some(Pair {
                access: "not-a-valid-token-at-all".into(),
                refresh: "not-a-refresh-token".into(),
            }),
        ))
    }

    fn with_pair(http: &reqwest::Client, base: &str, pair: Option<Pair>) -> TestTokens {
        TestTokens {
            http: http.clone(),
            base: base.to_string(),
            pair: Mutex::new(pair),
            handed_out: Mutex::new(Vec::new()),
            reconnect_refreshes: AtomicU32::new(0),
            ended: Mutex::new(Vec::new()),
        }
    }

    async fn refresh(&self) -> Option<String> {
        let rt = self.pair.lock().as_ref()?.refresh.clone();
        let next = token_call(
            &self.http,
            &self.base,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
        let at = next.as_ref().map(|p| p.access.clone());
        *self.pair.lock() = next;
        at
    }

    fn hand_out(&self, at: Option<String>) -> Option<String> {
        if let Some(t) = &at {
            self.handed_out.lock().push(t.clone());
        }
        at
    }
}

impl WsTokens for TestTokens {
    async fn access_token(&self) -> Option<String> {
        let current = self.pair.lock().as_ref().map(|p| p.access.clone());
        let valid = current.as_deref().map(|t| match jwt_exp(t) {
            Some(exp) => exp > SystemTime::now(),
            None => true,
        });
        let at = match valid {
            Some(true) => current,
            Some(false) => self.refresh().await,
            None => None,
        };
        self.hand_out(at)
    }

    async fn refresh_for_reconnect(&self) -> Option<String> {
        self.reconnect_refreshes.fetch_add(1, Ordering::SeqCst);
        let at = self.refresh().await;
        self.hand_out(at)
    }

    fn session_ended(&self, why: SessionEnd) {
        self.ended.lock().push(why);
    }
}

/// Spawns one socket for `tokens` with client index 0; returns its handle and kick clock.
pub fn start(
    opts: WsOptions,
    tokens: &Arc<TestTokens>,
    rec: &Recorder,
    board: &Arc<KickBoard>,
) -> (WsHandle, Arc<ws::KickClock>) {
    let clock = board.clock(0);
    let h = ws::spawn(
        Arc::new(opts),
        tokens.clone(),
        rec.clone(),
        0,
        clock.clone(),
        CancellationToken::new(),
    );
    (h, clock)
}

/// How long a test waits for any one event.
pub const BOUND: Duration = Duration::from_secs(10);

/// Closes `h` from the client side and waits for its task, which must end `Stopped`.
pub async fn close_stopped(h: WsHandle) -> WsOutcome {
    h.close();
    let out = tokio::time::timeout(BOUND, h.join()).await.unwrap();
    assert_eq!(out.end, WsEnd::Stopped);
    out
}

/// A socket of `user{n}`, open, with everything a test inspects afterwards.
pub struct OpenSocket {
    pub n: u64,
    pub http: reqwest::Client,
    pub base: String,
    pub tokens: Arc<TestTokens>,
    pub rec: Recorder,
    pub board: Arc<KickBoard>,
    pub h: WsHandle,
    pub clock: Arc<ws::KickClock>,
}

/// Logs `user{n}` in to `server` and opens its socket (client index 0); returns once it is open.
pub async fn open_socket(server: &MockServer, n: u64) -> OpenSocket {
    let http = http();
    let base = server.base_url();
    let tokens = TestTokens::login(&http, &base, n).await;
    let rec = Recorder::new();
    let board = KickBoard::new(rec.clone());
    let (h, clock) = start(ws_options(server), &tokens, &rec, &board);
    assert!(tokio::time::timeout(BOUND, h.wait_open(1)).await.unwrap());
    OpenSocket {
        n,
        http,
        base,
        tokens,
        rec,
        board,
        h,
        clock,
    }
}

impl OpenSocket {
    /// The same user logs in again (a login elsewhere, the kick trigger); the kick clock is armed.
    pub async fn login_elsewhere(&self) {
        // Armed with the send instant: a kick that beats the login's response is still its kick.
        let sent = std::time::Instant::now();
        assert!(
            login(&self.http, &self.base, self.n).await.is_some(),
            "second login"
        );
        self.clock.arm_at(sent);
    }
}
