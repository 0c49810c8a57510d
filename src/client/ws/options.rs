//! Everything a WebSocket channel needs to know, fixed for the whole run and shared by every
//! simulated client (`Arc<WsOptions>`): where to connect, how the token travels, which events mean
//! what, the close-code profile, size caps, timeouts and the reconnect backoff.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use crate::client::transport::ws::Upgrade;
use crate::profile::close_codes::CloseProfile;
use crate::profile::ws::{TokenTransport, WsEvents, WsProfile};
use crate::profile::ws_ping::WsPing;

/// Exponential backoff with jitter between reconnect attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay scale of the first attempt.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Failed attempts in a row before the client gives up (`ws_gave_up`).
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(10),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0-based): "equal jitter", uniformly in
    /// `[d/2, d]` with `d = min(max, base · 2^attempt)`, so clients that lost their sockets together
    /// do not come back together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let d = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max);
        let half = d / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::random_range(0..=nanos))
    }

    /// The delay before the next attempt of a failure streak (`streak` failures so far, counted
    /// up here), or `None` once the streak reached `max_attempts`: the channel gives up.
    pub fn next(&self, streak: &mut u32) -> Option<Duration> {
        if *streak >= self.max_attempts {
            return None;
        }
        let d = self.delay(*streak);
        *streak += 1;
        Some(d)
    }
}

/// Configuration of every WebSocket channel of a run.
#[derive(Debug, Clone)]
pub struct WsOptions {
    /// `ws://` or `wss://` URL, path included.
    pub url: url::Url,
    /// How the access token travels.
    pub token: TokenTransport,
    /// Extra handshake headers (e.g. `Origin`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Event names; `None` when the server sends no events (then `close_without_event` is not
    /// counted and every message counts as `ws_events.other`).
    pub events: Option<WsEvents>,
    /// Other event types counted under their own name in `ws_events.<type>` (default `welcome`,
    /// `tick`); any other type counts as `ws_events.other`, so a server cannot grow the counter
    /// map without bound.
    pub counted_events: Vec<String>,
    /// Sorts close codes into classes.
    pub close_codes: CloseProfile,
    /// One TLS configuration shared by every `wss` connection (never loaded per connect).
    /// Required for `wss` URLs.
    pub tls: Option<Arc<crate::client::transport::TlsClient>>,
    /// Largest incoming message (default 64 KiB).
    pub max_message_size: usize,
    /// Largest incoming frame (default 64 KiB).
    pub max_frame_size: usize,
    /// Bound on one handshake, TCP connect to 101 (default 10 s).
    pub connect_timeout: Duration,
    /// After a `kicked`/`logout` event the server must close within this (default 2 s); else
    /// `kick_without_close` is counted and the client closes itself.
    pub kick_close_grace: Duration,
    /// A socket still open this long after its access token's `exp` counts `ws_open_after_expiry`
    /// (default 2 s; only for JWT access tokens).
    pub expiry_grace: Duration,
    /// Bound on a client-side close: Close frame sent, then wait for the server's echo (default 1 s).
    pub close_timeout: Duration,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// The protocol's own pings and their answer (`ws.ping`), answered for the socket's whole
    /// life, the first-message exchange included.
    pub ping: Option<WsPing>,
}

impl WsOptions {
    /// Options for `url` with the authbench defaults: token in `?access_token=`, the default
    /// event names, the `authbench` close-code preset, no TLS configuration.
    pub fn new(url: url::Url) -> WsOptions {
        WsOptions {
            url,
            token: TokenTransport::default(),
            headers: Vec::new(),
            events: Some(WsEvents::default()),
            counted_events: vec!["welcome".into(), "tick".into()],
            close_codes: CloseProfile::default(),
            tls: None,
            max_message_size: 64 * 1024,
            max_frame_size: 64 * 1024,
            connect_timeout: Duration::from_secs(10),
            kick_close_grace: Duration::from_secs(2),
            expiry_grace: Duration::from_secs(2),
            close_timeout: Duration::from_secs(1),
            backoff: Backoff::default(),
            ping: None,
        }
    }

    /// Options for a target profile's `ws:` section; `tls` is the run's shared TLS client
    /// configuration (required when the URL is `wss://`).
    pub fn from_profile(
        ws: &WsProfile,
        tls: Option<Arc<crate::client::transport::TlsClient>>,
    ) -> Result<WsOptions, WsConfigError> {
        let mut o = WsOptions::new(ws.url.clone());
        o.token = ws.token.clone();
        o.events = Some(ws.events.clone());
        o.close_codes = ws.close_codes.clone();
        o.ping = ws.ping.clone();
        o.tls = tls;
        o.validate()?;
        Ok(o)
    }

    /// The handshake's part of these options.
    pub fn upgrade(&self) -> Upgrade<'_> {
        Upgrade {
            url: &self.url,
            token: &self.token,
            headers: &self.headers,
            tls: self.tls.as_ref(),
            max_message_size: self.max_message_size,
            max_frame_size: self.max_frame_size,
            timeout: self.connect_timeout,
            ping: self.ping.as_ref(),
        }
    }

    /// Checks what can be checked before the first connect.
    pub fn validate(&self) -> Result<(), WsConfigError> {
        match self.url.scheme() {
            "ws" => {}
            "wss" if self.tls.is_some() => {}
            "wss" => return Err(WsConfigError::TlsConfigMissing),
            other => return Err(WsConfigError::Scheme(other.to_string())),
        }
        if self.max_message_size == 0 || self.max_frame_size == 0 {
            return Err(WsConfigError::ZeroCap);
        }
        Ok(())
    }
}

/// A WebSocket configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsConfigError {
    /// The URL is not ws:// or wss://.
    #[error("WebSocket URL scheme must be ws or wss, not {0:?}")]
    Scheme(String),
    /// A wss URL without the shared TLS configuration.
    #[error("a wss:// URL needs the shared TLS client configuration (WsOptions::tls)")]
    TlsConfigMissing,
    /// A size cap of 0.
    #[error("WebSocket message and frame size caps must be above 0")]
    ZeroCap,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 5,
        };
        for _ in 0..50 {
            let d0 = b.delay(0);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&d0));
            let d3 = b.delay(3);
            assert!((Duration::from_millis(400)..=Duration::from_millis(800)).contains(&d3));
            assert!(b.delay(40) <= Duration::from_secs(1));
        }
    }

    #[test]
    fn validation() {
        let mut o = WsOptions::new("ws://127.0.0.1:1/ws".parse().unwrap());
        assert_eq!(o.validate(), Ok(()));
        o.url = "wss://example.com/ws".parse().unwrap();
        assert_eq!(o.validate(), Err(WsConfigError::TlsConfigMissing));
        o.url = "http://example.com/ws".parse().unwrap();
        assert!(matches!(o.validate(), Err(WsConfigError::Scheme(_))));
    }

    #[test]
    fn from_profile_copies_the_ws_section() {
        let ws = WsProfile {
            url: "ws://127.0.0.1:1/socket".parse().unwrap(),
            token: TokenTransport::Header,
            events: WsEvents::default(),
            close_codes: CloseProfile::preset("pusher").unwrap(),
            ping: None,
        };
        let o = WsOptions::from_profile(&ws, None).unwrap();
        assert_eq!(o.token, TokenTransport::Header);
        assert_eq!(o.close_codes.name(), "pusher");
        let wss = WsProfile {
            url: "wss://example.com/socket".parse().unwrap(),
            ..ws
        };
        assert_eq!(
            WsOptions::from_profile(&wss, None).unwrap_err(),
            WsConfigError::TlsConfigMissing
        );
    }
}
