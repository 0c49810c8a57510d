//! The metric names authbench records, in one place.
//!
//! Recording sites use these constants so a typo is a compile error, and the threshold parser
//! (`config::threshold`, given [`VOCABULARY`]) uses the lists to refuse a threshold on a metric
//! that can never exist (`spurious_logout == 0` would otherwise silently compare an absent
//! counter, i.e. 0).

use crate::config::threshold::Vocabulary;

/// Login latency (credentials → tokens), µs.
pub const LOGIN: &str = "login";
/// Refresh latency (refresh grant round trip), µs.
pub const REFRESH: &str = "refresh";
/// Resource (`GET /api/me`-style) latency, µs. In the open model it is measured from the intended
/// send time, i.e. corrected for coordinated omission.
pub const API: &str = "api";
/// Open model only: resource latency measured from the actual send time (not corrected).
pub const API_UNCORRECTED: &str = "api_uncorrected";
/// Logout latency, µs.
pub const LOGOUT: &str = "logout";
/// WebSocket handshake latency (connect → 101), µs.
pub const WS_CONNECT: &str = "ws_connect";
/// Trigger (second login, logout, admin revoke) → kick event or close frame on the old socket, µs.
pub const KICK_LATENCY: &str = "kick_latency";
/// Storm start → the client's first successful call afterwards, µs.
pub const RECOVERY: &str = "recovery";
/// Scheduled wake time → actual wake time of a synchronized client, µs.
pub const WAKE_SKEW: &str = "wake_skew";
/// Expiry close → socket open again with a fresh token, µs.
pub const RECONNECT: &str = "reconnect";

/// Every histogram name. A threshold on another name is refused at parse time.
pub const HISTOGRAMS: &[&str] = &[
    LOGIN,
    REFRESH,
    API,
    API_UNCORRECTED,
    LOGOUT,
    WS_CONNECT,
    KICK_LATENCY,
    RECOVERY,
    WAKE_SKEW,
    RECONNECT,
];

/// Fixed counter names (DESIGN §3 and the WebSocket issue). Dynamic families are in
/// [`COUNTER_PREFIXES`].
pub const COUNTERS: &[&str] = &[
    "requests",
    "logins",
    "logouts",
    "refresh_calls",
    "refreshes_needed",
    "relogins",
    "spurious_logouts",
    "reuse_detected",
    "dropped",
    "stale_ws_messages",
    "missed_kicks",
    "kick_without_close",
    "close_without_event",
    "close_code_violations",
    "ws_connects",
    "ws_reconnects",
    "ws_open_after_expiry",
    "ws_gave_up",
    "ws_sessions_ended",
    "kicks_before_trigger",
    "kick_target_gone",
    "renewals",
    "retries",
];

/// Counter families with a dynamic last part: `status.<op>.<code>`, `errors.<kind>`,
/// `ws_close.<code>`, `ws_close_class.<class>`, `ws_events.<type>`, `ws_connect_failed.<why>`,
/// `race.<outcome>` (refresh_race phase).
pub const COUNTER_PREFIXES: &[&str] = &[
    "status.",
    "errors.",
    "ws_close.",
    "ws_close_class.",
    "ws_events.",
    "ws_connect_failed.",
    "race.",
];

/// Per-second timeline series (counts per second).
pub const SERIES_REQUESTS: &str = "requests";
/// Refresh calls per second.
pub const SERIES_REFRESHES: &str = "refreshes";
/// Errors per second.
pub const SERIES_ERRORS: &str = "errors";
/// Relogins (refresh rejected → new login) per second.
pub const SERIES_RELOGINS: &str = "relogins";
/// Logins per second.
pub const SERIES_LOGINS: &str = "logins";

/// Gauge: WebSockets currently open (sampled into the timeline once per second).
pub const GAUGE_OPEN_SOCKETS: &str = "open_sockets";
/// Gauge: clients currently logged in.
pub const GAUGE_ACTIVE_CLIENTS: &str = "active_clients";

/// Derived values computed by the report from counters and histograms.
pub const DERIVED: &[&str] = &["refresh_amplification", "error_rate", "errors"];

/// The derived values that are ratios (a threshold on them may use `%`).
pub const RATIOS: &[&str] = &["refresh_amplification", "error_rate"];

/// Every name a threshold (`expect:`) may use.
pub const VOCABULARY: Vocabulary = Vocabulary {
    histograms: HISTOGRAMS,
    counters: COUNTERS,
    counter_prefixes: COUNTER_PREFIXES,
    derived: DERIVED,
    ratios: RATIOS,
};
