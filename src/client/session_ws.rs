//! The WebSocket side of a [`Session`]: the socket task asks the session for tokens
//! ([`WsTokens`]) and tells it when the server ended the session.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::session::Session;
use super::ws::{SessionEnd, WsTokens};

/// An access token this close to its expiry is refreshed before it is used for a handshake.
const HANDSHAKE_MARGIN: Duration = Duration::from_millis(500);

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
            self.shared_renew(held.generation).await?
        };
        Some(at.to_string())
    }

    async fn refresh_for_reconnect(&self) -> Option<String> {
        let held = self.held()?;
        self.shared_renew(held.generation)
            .await
            .map(|at| at.to_string())
    }

    fn session_ended(&self, _why: SessionEnd) {
        self.expect_end();
    }
}
