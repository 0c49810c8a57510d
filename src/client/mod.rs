//! ONE simulated client: a token manager with its refresh strategy, its HTTP connections and cookie
//! jar, and (in `ws`) its WebSocket channel.
//!
//! - [`strategy`]: the four renewal strategies and the per-client knobs.
//! - [`http`]: connection modes (per-client or pooled), one bounded exchange, error kinds.
//! - [`h1`]: the lean HTTP/1.1 path for plain-http targets (used by [`http`]).
//! - [`cookies`]: the per-session cookie jar (refresh token in an HttpOnly cookie).
//! - [`single_flight`]: at most one refresh per session in flight.
//! - [`timers`]: one timer task for all proactive refreshes.
//! - [`live`]: live counters for the progress display.
//! - [`session`]: the token manager itself ([`Session`]).
//! - [`race`]: the refresh race (N refreshes of one refresh token at once), classified.
//! - [`ws`]: the WebSocket channel (helper WS); `session_ws` lets it ask a [`Session`] for tokens.

pub mod cookies;
pub mod h1;
pub mod http;
pub mod live;
pub mod race;
pub mod session;
mod session_ws;
pub mod single_flight;
pub mod strategy;
pub mod timers;
pub mod ws;

pub use http::{Connections, Connector, ErrorKind};
pub use live::Live;
pub use race::{RaceClass, RaceReport};
pub use session::{ApiOutcome, Session, SessionEnv};
pub use strategy::{ClientSettings, Strategy};
