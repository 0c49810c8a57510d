//! How a push registration ends, counted like every other channel's end.
//!
//! Owns [`PushEnd`] — the end of one device's registration, counted `ended.<reason>` with the
//! reasons a WebSocket's or an SSE stream's end uses (`client::ws::WsEnd::reason`) —,
//! [`RegisterError`], why a registration failed, and [`EndOnce`], which counts a registration's
//! end exactly once however it goes:
//!
//! | end | `ended.<reason>` | when |
//! |---|---|---|
//! | [`PushEnd::SessionEnded`] | `session_ended` | a `kicked`/`logout` push message for the device arrived, and the run then closed the registration |
//! | [`PushEnd::Stopped`] | `stopped` | the run closed (or dropped) the registration and no such message had arrived |
//! | [`PushEnd::NoToken`] | `no_token` | the registration could not be sent: the session had no access token (it was over) |
//! | [`PushEnd::Refused`] | `refused` | the server refused the registration (a non-2xx answer), it failed on the way, or the profile has no registration request |
//!
//! A registration has no connection for the server to close: its end is what the server
//! announced to it (a push message) or what the client did (close it), never a guess.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::transport::ErrorKind;
use super::ws::SessionEnd;
use crate::metrics::{Recorder, names};

/// Why a device registration failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The session held no access token to register with (it was over).
    #[error("the session has no access token to register the device with")]
    NoToken,
    /// The target profile has no `push.register` request.
    #[error("the target profile has no push registration request")]
    NoRequest,
    /// The request failed on the way (connect, timeout, TLS, protocol, body).
    #[error("the registration request failed ({})", .0.counter())]
    Transport(ErrorKind),
    /// The server answered with a status outside 2xx.
    #[error("the server refused the registration with status {0}")]
    Status(u16),
}

/// How a push registration ended (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushEnd {
    /// Closed by the run (or dropped) without a session-ending message.
    Stopped,
    /// A `kicked`/`logout` message for the device said the server ended the session.
    SessionEnded(SessionEnd),
    /// Never registered: the session had no access token.
    NoToken,
    /// Never registered: refused or failed.
    Refused(RegisterError),
}

impl PushEnd {
    /// The `<reason>` of `ended.<reason>`, the same words as a WebSocket's or a stream's end.
    pub fn reason(&self) -> &'static str {
        match self {
            PushEnd::Stopped => "stopped",
            PushEnd::SessionEnded(_) => "session_ended",
            PushEnd::NoToken => "no_token",
            PushEnd::Refused(_) => "refused",
        }
    }
}

impl From<RegisterError> for PushEnd {
    fn from(e: RegisterError) -> PushEnd {
        match e {
            RegisterError::NoToken => PushEnd::NoToken,
            other => PushEnd::Refused(other),
        }
    }
}

/// One registration's end: what a push message told it, and whether its end was counted.
#[derive(Debug, Default)]
pub struct EndOnce {
    told: OnceLock<SessionEnd>,
    counted: AtomicBool,
}

impl EndOnce {
    /// A push message said the server ended the session (the first one counts).
    pub fn session_ended(&self, why: SessionEnd) {
        let _ = self.told.set(why);
    }

    /// How the registration ends when it is closed now.
    pub fn on_close(&self) -> PushEnd {
        self.told
            .get()
            .map_or(PushEnd::Stopped, |why| PushEnd::SessionEnded(*why))
    }

    /// Counts `ended.<reason>` of `end` into `rec`, unless this registration's end was counted
    /// already; returns whether it counted.
    pub fn count(&self, rec: &Recorder, shard: usize, end: PushEnd) -> bool {
        if self.counted.swap(true, Ordering::AcqRel) {
            return false;
        }
        rec.count(shard, &names::ended(end.reason()), 1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_is_counted_once_with_what_the_server_said() {
        let rec = Recorder::new();
        let life = EndOnce::default();
        assert_eq!(life.on_close(), PushEnd::Stopped);
        life.session_ended(SessionEnd::Kicked);
        life.session_ended(SessionEnd::LoggedOut);
        assert_eq!(life.on_close(), PushEnd::SessionEnded(SessionEnd::Kicked));
        assert!(life.count(&rec, 0, life.on_close()));
        assert!(!life.count(&rec, 0, PushEnd::Stopped), "counted once");
        assert_eq!(rec.counter("ended.session_ended"), 1);
        assert_eq!(rec.counter("ended.stopped"), 0);
    }

    #[test]
    fn a_failed_registration_names_why() {
        assert_eq!(PushEnd::from(RegisterError::NoToken).reason(), "no_token");
        assert_eq!(
            PushEnd::from(RegisterError::Status(501)).reason(),
            "refused"
        );
        assert_eq!(
            PushEnd::from(RegisterError::Transport(ErrorKind::Timeout)).reason(),
            "refused"
        );
        assert_eq!(
            RegisterError::Status(501).to_string(),
            "the server refused the registration with status 501"
        );
        assert_eq!(
            RegisterError::Transport(ErrorKind::Connect).to_string(),
            "the registration request failed (errors.connect)"
        );
    }
}
