//! authbench-mock: the reference auth server of authbench (DESIGN §5).
//!
//! It speaks OAuth 2.0 (password and refresh_token grants, RFC 7009 revocation, RFC 7662
//! introspection), a seed-style JSON API, a resource endpoint with RFC 6750 errors and sliding
//! renewal, and a WebSocket with session events and close codes. Refresh tokens rotate, reuse of
//! a rotated-out token revokes the family, rotation is atomic, and faults and deliberate flaws can
//! be switched on so load tests and conformance checks have something to find.
//!
//! Components, from the outside in:
//! - [`server`]: [`start`] binds and runs the server, [`MockServer`] stops it; [`conn`]: how
//!   connections are served (`--connection-close`, `--keepalive-timeout`).
//! - [`routes`]: HTTP endpoints (`oauth`, `api`, `admin`, `ws`), thin translations to and from
//!   the core.
//! - [`auth`]: the core both APIs share (login, refresh/rotation/reuse, logout, revocation,
//!   introspection, resource authentication); every token-semantics flaw is consulted here.
//! - [`store`]: sessions (refresh-token families), users, revocation state.
//! - [`cookie_sessions`]: server-side sessions behind a cookie (`--session-mode cookie`).
//! - [`tokens`]: signing keys, JWT access tokens, opaque refresh tokens, JWKS.
//! - [`faults`]: latency, error, capacity and rate faults; [`flaws`]: the flaw table;
//!   [`outage`]: the server going away and coming back on demand (`POST /admin/outage`).
//! - [`config`]: [`MockConfig`] and the command-line flags ([`MockArgs`]); [`stats`]: counters;
//!   [`arrivals`]: request arrival offsets after a sync point (the server-side view of a storm).
//! - [`push`]: session events as FCM HTTP v1 shaped push messages (`--push-url`).
//! - [`tls`]: serving `https`/`wss` (`--tls-cert`/`--tls-key`, `--tls-self-signed`).
//! - [`heap`]: the allocator's set-up for bursts, which both binaries make first.
//! - [`suggest`]: "did you mean" for a mistyped name (the mock's flags, and authbench's files).
//! - [`console`]: printing to stdout and stderr that does not panic when the reader has gone.
//! - [`logging`]: the log set-up ([`LogArgs`]: `-v`, `--log-format`, `RUST_LOG`) that
//!   `authbench-mock` and `authbench` share; [`runtime`]: the async runtime they run on
//!   ([`RuntimeArgs`]: `--threads`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), authbench_mock::MockError> {
//! let server = authbench_mock::start(authbench_mock::MockConfig { port: 0, ..Default::default() }).await?;
//! println!("{} (admin key {})", server.base_url(), server.admin_key());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod arrivals;
pub mod auth;
pub mod config;
pub mod conn;
pub mod console;
pub mod cookie_sessions;
pub mod faults;
pub mod flaws;
pub mod heap;
pub mod logging;
pub mod outage;
pub mod push;
pub mod routes;
pub mod runtime;
pub mod server;
pub mod stats;
pub mod store;
pub mod suggest;
pub mod tls;
pub mod tokens;

pub use config::{
    ConfigError, Fault, FaultKind, MockArgs, MockConfig, Op, SessionMode, Signing, WsAuth,
};
pub use flaws::{Flaw, Flaws};
pub use logging::{LogArgs, LogFormat};
pub use routes::ws::close as close_codes;
pub use runtime::RuntimeArgs;
pub use server::{MockServer, run, shutdown_signal, start};
pub use stats::Stats;
pub use tls::MockTls;

/// Why the mock server could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listening socket could not be set up (port in use, no permission...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// Key generation failed (should not happen).
    #[error("cannot generate the {alg} signing key: {reason}")]
    Key { alg: &'static str, reason: String },
    /// TLS could not be set up (a certificate or key file, or generating one).
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// A token shortened for logs and messages: at most its first 8 characters and "…".
pub fn redact(token: &str) -> String {
    match token.char_indices().nth(8) {
        Some((i, _)) => format!("{}…", &token[..i]),
        None => token.to_string(),
    }
}
