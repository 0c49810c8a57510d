//! The WebSocket side of a [`Session`]: the socket task asks the session for tokens
//! ([`WsTokens`]) and tells it when the server ended the session.
//!
//! A renewal that fails for a passing reason (a transport error, a 5xx or 429: the session keeps
//! its tokens) does not end the socket: it is tried again after the client's backoff
//! ([`super::retry`]: 200 ms doubling up to 5 s, or longer when the server sent `Retry-After`), counted `ws_refresh_retries`, for as long as
//! the channel runs — its stop (the end of the run) cancels the wait. Only a session that is over
//! (logged out, or its refresh rejected and the new login failed) has no token.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::retry::Retry;
use super::session::Session;
use super::ws::{SessionEnd, WsTokens};
use crate::metrics::names;

/// An access token this close to its expiry is refreshed before it is used for a handshake.
const HANDSHAKE_MARGIN: Duration = Duration::from_millis(500);

impl Session {
    /// Renews the token of `generation` for a socket, trying again while the failure is a passing
    /// one (see the module docs). `None`: the session is over.
    async fn renew_for_socket(&self, mut generation: u64) -> Option<Arc<str>> {
        let mut retry = Retry::default();
        loop {
            if let Some(at) = self.shared_renew(generation).await {
                return Some(at);
            }
            let held = self.held()?;
            self.env()
                .recorder
                .count(self.id() as usize, names::WS_REFRESH_RETRIES, 1);
            let mut until = tokio::time::Instant::now() + retry.next_delay();
            if let Some(t) = self.retry_at() {
                until = until.max(t);
            }
            tokio::time::sleep_until(until).await;
            generation = held.generation;
        }
    }
}

impl WsTokens for Session {
    /// The held access token, refreshed first when it is about to expire. A session without
    /// tokens (logged out) has none: the socket must not log the user back in.
    async fn access_token(&self) -> Option<String> {
        let held = self.held()?;
        let fresh = match self.expires_at() {
            Some(exp) => exp > SystemTime::now() + HANDSHAKE_MARGIN,
            None => true,
        };
        let at: Arc<str> = if fresh {
            held.access
        } else {
            self.renew_for_socket(held.generation).await?
        };
        Some(at.to_string())
    }

    async fn refresh_for_reconnect(&self) -> Option<String> {
        let held = self.held()?;
        self.renew_for_socket(held.generation)
            .await
            .map(|at| at.to_string())
    }

    fn session_ended(&self, _why: SessionEnd) {
        self.expect_end();
    }
}
