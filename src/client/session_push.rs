//! The push side of a [`Session`]: registering the client's device token with the server, using
//! the session's access token (renewed first when it is about to expire).

use std::time::SystemTime;

use super::session::Session;
use super::transport::{BodyMode, prebuilt};
use super::ws::WsTokens;

impl Session {
    /// Registers `device_token` through the profile's `push.register` request. Returns the
    /// status, or `None` when the session has no token, the profile no push registration, or the
    /// request could not be sent.
    pub(crate) async fn register_push(&self, device_token: &str) -> Option<u16> {
        let access = match self.expires_at() {
            Some(exp) if exp <= SystemTime::now() => WsTokens::access_token(self).await?,
            _ => self.held()?.access().to_string(),
        };
        let req = self
            .env()
            .profile
            .push_register_request(&access, device_token)?;
        let reply = self
            .http()
            .exchange_with(prebuilt(req), BodyMode::Keep)
            .await
            .ok()?;
        Some(reply.status)
    }
}
