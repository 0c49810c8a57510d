//! A session-ending event on a channel, and what it tells the session.
//!
//! Owns one rule for every channel (WebSocket, SSE, push): a `kicked` or `logout` event — a
//! WebSocket message, an SSE event, a push message, classified by the target profile's event
//! names — means the server ended the session. The session is told at once
//! ([`WsTokens::session_end_noticed`]), with the reason the event names and the notice path of the
//! channel it came on, so `notice_latency.<cause>.<path>` says which channel told it:
//!
//! | channel | path |
//! |---|---|
//! | WebSocket | `push` (the name predates the other channels and is kept) |
//! | SSE stream | `sse_event` |
//! | push registration | `push_message` |
//!
//! Only what the server sent counts: a stream that ends, or a message whose type the profile does
//! not name as `kicked`/`logout`, tells nothing (the session then learns at its next call, or
//! never: `unnoticed.<cause>`). The channels call [`tell`] *before* they signal their kick clock,
//! so whoever waits on the clock (the end of a kick phase, which then counts the ends never
//! noticed) finds the end already noticed.

use super::channel::Channel;
use super::notice::{NoticePath, Reason};
use super::ws::{SessionEnd, WsTokens};
use crate::profile::WsEvent;

/// A session event that ends the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `kicked`: replaced by a login elsewhere.
    Kicked,
    /// `logout`: logout, password change, admin revoke.
    LoggedOut,
}

impl Ending {
    /// The ending an event announces; `None` for every other event (`session_expired` asks for a
    /// refresh, not an end).
    pub fn of(event: &WsEvent) -> Option<Ending> {
        match event {
            WsEvent::Kicked => Some(Ending::Kicked),
            WsEvent::Logout => Some(Ending::LoggedOut),
            WsEvent::SessionExpired | WsEvent::Other(_) => None,
        }
    }

    /// The reason the event names (`end_reason.<reason>`).
    pub fn reason(self) -> Reason {
        match self {
            Ending::Kicked => Reason::Kicked,
            Ending::LoggedOut => Reason::LoggedOut,
        }
    }

    /// How the channel that got it ends ([`SessionEnd`]).
    pub fn session_end(self) -> SessionEnd {
        match self {
            Ending::Kicked => SessionEnd::Kicked,
            Ending::LoggedOut => SessionEnd::LoggedOut,
        }
    }
}

/// The notice path of a session event on `channel` (see the module docs).
pub fn path(channel: Channel) -> NoticePath {
    match channel {
        Channel::Ws => NoticePath::Push,
        Channel::Sse => NoticePath::SseEvent,
        Channel::Push => NoticePath::PushMessage,
    }
}

/// `ending` arrived on `channel`: tells the session now (notice path, reason) and returns how the
/// channel ends. Call it before signalling the kick clock (see the module docs).
pub fn tell<T: WsTokens>(tokens: &T, channel: Channel, ending: Ending) -> SessionEnd {
    tokens.session_end_noticed(path(channel), ending.reason());
    ending.session_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kicked_and_logout_end_a_session() {
        assert_eq!(Ending::of(&WsEvent::Kicked), Some(Ending::Kicked));
        assert_eq!(Ending::of(&WsEvent::Logout), Some(Ending::LoggedOut));
        assert_eq!(Ending::of(&WsEvent::SessionExpired), None);
        assert_eq!(Ending::of(&WsEvent::Other("welcome".into())), None);
        assert_eq!(Ending::Kicked.reason(), Reason::Kicked);
        assert_eq!(Ending::LoggedOut.session_end(), SessionEnd::LoggedOut);
    }

    #[test]
    fn each_channel_has_its_own_path() {
        let names: Vec<_> = [Channel::Ws, Channel::Sse, Channel::Push]
            .map(|c| path(c).name())
            .into();
        assert_eq!(names, ["push", "sse_event", "push_message"]);
    }
}
