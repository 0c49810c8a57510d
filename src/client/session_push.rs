//! The push side of a [`Session`]: registering the client's device token with the server, using
//! the session's access token (renewed first when it is about to expire).

use std::time::SystemTime;

use super::push_end::RegisterError;
use super::session::Session;
use super::transport::{BodyMode, prebuilt};
use super::ws::WsTokens;

impl Session {
    /// Registers `device_token` through the profile's `push.register` request: `Ok` on a 2xx
    /// answer, else why not ([`RegisterError`]: no token, no registration request in the profile,
    /// the request failed, or the server's status).
    pub(crate) async fn register_push(&self, device_token: &str) -> Result<(), RegisterError> {
        let access = match self.expires_at() {
            Some(exp) if exp <= SystemTime::now() => WsTokens::access_token(self)
                .await
                .ok_or(RegisterError::NoToken)?,
            _ => self
                .held()
                .ok_or(RegisterError::NoToken)?
                .access()
                .to_string(),
        };
        let req = self
            .env()
            .profile
            .push_register_request(&access, device_token)
            .ok_or(RegisterError::NoRequest)?;
        let reply = self
            .http()
            .exchange_with(prebuilt(req), BodyMode::Keep)
            .await
            .map_err(|e| RegisterError::Transport(e.kind))?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(RegisterError::Status(reply.status))
        }
    }
}
