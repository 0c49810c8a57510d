//! The WebSocket side of a [`Session`]: the socket task asks the session for tokens
//! ([`WsTokens`]) and tells it when the server ended the session.
//!
//! A renewal that fails for a passing reason (a transport error, a 5xx or 429: the session keeps
//! its tokens) does not end the socket: it is tried again after the client's backoff
//! ([`super::retry`]: 200 ms doubling up to 5 s, or longer when the server sent `Retry-After`), counted `ws_refresh_retries`, for as long as
//! the channel runs — its stop (the end of the run) cancels the wait. So is the new login after a
//! rejected refresh when it failed for a passing reason (the server went away in between). Only a
//! session that is over (logged out, or its refresh rejected and the new login refused) has no
//! token.

use std::time::{Duration, SystemTime};

use super::notice::{NoticePath, Reason};
use super::retry::Retry;
use super::session::Session;
use super::token_set::TokenSet;
use super::ws::{SessionEnd, WsTokens};
use crate::metrics::names;

/// An access token this close to its expiry is refreshed before it is used for a handshake.
const HANDSHAKE_MARGIN: Duration = Duration::from_millis(500);

impl Session {
    /// Renews the token of `generation` for a socket, trying again while the failure is a passing
    /// one (see the module docs). `None`: the session is over.
    async fn renew_for_socket(&self, mut generation: u64) -> Option<TokenSet> {
        let mut retry = Retry::default();
        loop {
            let renewed = if self.is_logged_in() {
                self.shared_renew(generation).await
            } else if self.login_interrupted() {
                self.ensure_logged_in().await.map(|h| h.tokens)
            } else {
                return None;
            };
            if let Some(at) = renewed {
                return Some(at);
            }
            if !self.is_logged_in() && !self.login_interrupted() {
                return None;
            }
            self.env()
                .recorder
                .count(self.id() as usize, names::WS_REFRESH_RETRIES, 1);
            let mut until = tokio::time::Instant::now() + retry.next_delay();
            if let Some(t) = self.retry_at() {
                until = until.max(t);
            }
            tokio::time::sleep_until(until).await;
            generation = self.generation();
        }
    }
}

impl Session {
    /// A socket of a session without tokens: log in again (with the backoff) only when the last
    /// login was interrupted by a passing failure; otherwise the session is over.
    async fn resume_login(&self) -> Option<String> {
        if !self.login_interrupted() {
            return None;
        }
        self.renew_for_socket(self.generation())
            .await
            .map(|t| t.access().to_string())
    }
}

impl WsTokens for Session {
    /// The held access token, refreshed first when it is about to expire. A session without
    /// tokens (logged out) has none: the socket must not log the user back in — unless the new
    /// login after a rejected refresh was only interrupted ([`Session::login_interrupted`]).
    async fn access_token(&self) -> Option<String> {
        let Some(held) = self.held() else {
            return self.resume_login().await;
        };
        let fresh = match self.expires_at() {
            Some(exp) => exp > SystemTime::now() + HANDSHAKE_MARGIN,
            None => true,
        };
        let tokens = if fresh {
            held.tokens
        } else {
            self.renew_for_socket(held.generation).await?
        };
        Some(tokens.access().to_string())
    }

    async fn refresh_for_reconnect(&self) -> Option<String> {
        let Some(held) = self.held() else {
            return self.resume_login().await;
        };
        self.renew_for_socket(held.generation)
            .await
            .map(|t| t.access().to_string())
    }

    fn session_ended(&self, _why: SessionEnd) {
        self.expect_end();
    }

    fn session_end_noticed(&self, path: NoticePath, reason: Reason) {
        self.expect_end();
        self.noticed(path, reason, false);
    }

    /// The held token's announced expiry (its `exp`, or now + `expires_in` for an opaque token);
    /// another token's JWT `exp`.
    fn expiry_of(&self, token: &str) -> Option<SystemTime> {
        match self.held() {
            Some(h) if h.access() == token => h.expires_at.map(|e| e.get()),
            _ => crate::profile::jwt_exp(token),
        }
    }
}
