//! ONE simulated client: a token manager with its refresh strategy, its HTTP connections and cookie
//! jar, and (in `ws`) its WebSocket channel — plus the one transport that `checks` uses too.
//!
//! - [`strategy`]: the four renewal strategies and the per-client knobs.
//! - [`transport`]: the one way to the server — HTTP/1.1 over TCP or TLS, connection modes
//!   (per-client or pooled), body limits, error kinds, the WebSocket handshake.
//! - [`discover`]: a bare-URL target: the `oauth2` preset plus OpenID discovery, fetched through
//!   [`transport`].
//! - [`cookies`]: the per-session cookie jar (a refresh token in an HttpOnly cookie, a cookie
//!   session's credential; `Max-Age`/`Expires` honoured). The cookie-session strategy itself is
//!   `session`'s child module `cookie`.
//! - [`single_flight`]: at most one refresh per session in flight.
//! - [`stamp`]: instants in 8 bytes for the state every client keeps.
//! - [`timers`]: one timer task for all proactive refreshes.
//! - [`token_set`]: the tokens a session holds, in one allocation.
//! - [`live`]: live counters for the progress display.
//! - [`retry`]: the backoff after a failure for a passing reason (transport, 5xx, 429).
//! - [`session`]: the token manager itself ([`Session`]).
//! - [`idle`]: the `idle` phase's switch: no request leaves an idle client.
//! - [`lifetime`]: when a session's end was announced (`sessions_expired` vs `spurious_logouts`).
//! - [`notice`]: session loss, noticed — end causes, notice paths, inferred reasons, ghosts.
//! - [`race`]: the refresh race (N refreshes of one refresh token at once), classified.
//! - [`tabs`]: one user's N tabs sharing one token store (`client.tabs`, `client.tab_sync`).
//! - [`ws`]: the WebSocket channel (helper WS); `session_ws` lets it ask a [`Session`] for tokens.
//! - [`channel_end`]: a `kicked`/`logout` event on any channel ends the session at once, noticed
//!   through that channel's path.
//! - [`sse`]: the Server-Sent Events channel (`client.channel: sse`), same tokens, same kick clock.
//! - [`push`]: the push channel (`client.channel: push`): the loopback push receiver and each
//!   client's device registration (`session_push`); [`push_end`]: how a registration ends
//!   (`ended.<reason>`).

pub mod admin_logout;
pub mod authorize;
pub mod channel;
pub mod channel_end;
pub mod cookies;
pub mod credentials;
pub mod discover;
pub mod idle;
pub mod lifetime;
pub mod live;
pub mod notice;
pub mod push;
pub mod push_end;
pub mod race;
pub mod retry;
pub mod session;
mod session_push;
mod session_ws;
pub mod single_flight;
pub mod sse;
pub mod stamp;
pub mod strategy;
pub mod tabs;
pub mod timers;
pub mod token_set;
pub mod transport;
pub mod ws;

pub use channel::Channel;
pub use discover::discover;
pub use live::Live;
pub use race::{RaceClass, RaceReport};
pub use session::{ApiOutcome, FailClass, Session, SessionEnv};
pub use strategy::{ClientSettings, Strategy};
pub use tabs::{TabSettings, TabSync};
pub use transport::{Connections, Connector, ErrorKind, Http};
