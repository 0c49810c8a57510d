//! Server-side counters (`GET /admin/stats`, [`crate::MockServer::stats`]).
//!
//! One relaxed atomic per counter; [`Stats`] is a plain snapshot. The list of counters lives in
//! one macro invocation so the atomics and the snapshot cannot drift apart.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// The live counters.
        #[derive(Debug, Default)]
        pub struct Counters {
            $(pub(crate) $name: AtomicU64,)*
            /// Sockets open right now.
            pub(crate) ws_open: AtomicI64,
        }

        /// A snapshot of the server's counters (the body of `GET /admin/stats`).
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct Stats {
            $($(#[doc = $doc])* pub $name: u64,)*
            /// WebSockets open right now.
            pub ws_open: i64,
            /// Sessions (refresh-token families) held in memory, live or recently revoked.
            pub sessions: u64,
            /// Arrivals after the sync point of `POST /admin/sync-point` (absent until one is set).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub arrivals: Option<crate::arrivals::ArrivalStats>,
            /// The cookie sessions of `--session-mode cookie` (absent in token mode).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub cookie_sessions: Option<crate::cookie_sessions::CookieStats>,
        }

        impl Stats {
            /// Every counter as (name, its doc line, value), in declaration order (`GET /metrics`).
            pub fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$((stringify!($name), concat!($($doc),*).trim_ascii(), self.$name),)*]
            }
        }

        impl Counters {
            /// A snapshot; `sessions` and `arrivals` are filled in by the caller.
            pub fn snapshot(&self) -> Stats {
                Stats {
                    $($name: self.$name.load(Relaxed),)*
                    ws_open: self.ws_open.load(Relaxed),
                    sessions: 0,
                    arrivals: None,
                    cookie_sessions: None,
                }
            }
        }
    };
}

counters! {
    /// Successful password logins.
    logins,
    /// Logins rejected (bad credentials or request).
    login_failures,
    /// Successful refreshes (including answers from the grace window).
    refreshes,
    /// Refreshes rejected (invalid, expired, revoked, reused).
    refresh_failures,
    /// Rotated-out refresh tokens presented again outside the grace window.
    reuse_detected,
    /// Refreshes answered from the grace window with the already-issued successor.
    grace_hits,
    /// Sessions (refresh-token families) revoked, for any reason.
    families_revoked,
    /// Older sessions revoked by a login beyond `--single-session` / `--max-sessions`.
    sessions_kicked,
    /// Logouts through /api/auth/logout or refresh-token revocation.
    logouts,
    /// Sessions revoked through POST /admin/users/{user}/logout.
    admin_logouts,
    /// Calls of POST /oauth/revoke.
    revocations,
    /// Calls of POST /oauth/introspect.
    introspections,
    /// Calls of GET /api/me.
    api_requests,
    /// GET /api/me answered 401/403.
    api_rejected,
    /// New-Access-Token headers sent (sliding window).
    renewals,
    /// WebSocket upgrades accepted.
    ws_total,
    /// WebSocket handshakes refused with 401.
    ws_rejected,
    /// Sockets closed because their session was replaced by a login elsewhere (4409).
    kicks,
    /// Sockets closed because their session was logged out or revoked (4403).
    ws_logout_closes,
    /// Sockets closed because their access token expired (4401).
    ws_expired_closes,
    /// Sockets closed with 1013 right after the upgrade (capacity fault).
    ws_over_capacity,
    /// Requests delayed by a latency fault.
    faults_latency,
    /// Requests failed with 500 by an error fault.
    faults_error,
    /// Requests refused with 503 by a capacity fault.
    faults_capacity,
    /// Requests refused with 429 by a rate fault.
    faults_rate,
    /// Event streams (`GET /events`) opened.
    sse_total,
    /// Event streams refused with 401.
    sse_rejected,
    /// Event streams opened with a `Last-Event-ID` of the same session (resumed).
    sse_resumes,
    /// Device tokens registered (`POST /push/register`).
    push_registrations,
    /// Push messages the push provider accepted (2xx).
    pushes_sent,
    /// Push messages the push provider did not accept after the retries.
    push_failures,
    /// Sessions revoked through POST /api/auth/logout-all (logout everywhere).
    logouts_everywhere,
}

impl Counters {
    /// Adds one to `c`.
    #[inline]
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }
}
