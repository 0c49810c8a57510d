//! The metric names authbench records, in one place.
//!
//! Recording sites use these constants so a typo is a compile error, and the threshold parser
//! (`config::threshold`, given [`VOCABULARY`]) uses the lists to refuse a threshold on a metric
//! that can never exist (`spurious_logout == 0` would otherwise silently compare an absent
//! counter, i.e. 0).

use crate::config::threshold::{Family, Part, Vocabulary};

/// Declares name constants, each with its doc comment, and `$table`: each name with its doc's
/// lines, from which [`help`] makes the one-line description the live metrics show (`# HELP`).
/// A doc here is written for the people reading the metric: no paths into the code.
macro_rules! documented {
    ($table:ident; $( $(#[doc = $doc:literal])+ pub const $name:ident: &str = $value:literal; )+) => {
        $( $(#[doc = $doc])+ pub const $name: &str = $value; )+
        const $table: &[(&str, &[&str])] = &[ $( ($value, &[$($doc),+]) ),+ ];
    };
}

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
/// Scheduled instant of a synchronized phase → the moment the client's first request of that
/// phase was handed to a ready connection (written), µs.
pub const SEND_SKEW: &str = "send_skew";
/// Expiry close → socket open again with a fresh token, µs.
pub const RECONNECT: &str = "reconnect";
/// Failed logins (an answer outside the expected statuses), µs: kept apart so a fast error
/// cannot make `login` look good.
pub const LOGIN_FAILED: &str = "login_failed";
/// Failed refreshes (5xx, 429, an unexpected status or an unusable 2xx), µs.
pub const REFRESH_FAILED: &str = "refresh_failed";
/// Logical API calls that did not end in a 2xx, µs.
pub const API_FAILED: &str = "api_failed";
/// Failed logouts, µs.
pub const LOGOUT_FAILED: &str = "logout_failed";
/// Logout everywhere: the request sent → every device of the user has its socket closed and its
/// refresh refused, µs (one sample per user whose devices all got there).
pub const LOGOUT_EVERYWHERE_LATENCY: &str = "logout_everywhere_latency";
/// Tabs: a logout in one tab → every other tab of that user knows (one sample per user), µs.
pub const TAB_LOGOUT_SYNC: &str = "tab_logout_sync";
/// TLS connection set-up (TCP connect → TLS handshake complete) of every new `https`/`wss`
/// connection, µs: a storm whose clients lost their connections shows the handshake cost here.
pub const TLS_HANDSHAKE: &str = "tls_handshake";

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
    SEND_SKEW,
    RECONNECT,
    LOGIN_FAILED,
    REFRESH_FAILED,
    API_FAILED,
    LOGOUT_FAILED,
    SSE_CONNECT,
    SSE_KICK_LATENCY,
    SSE_RECONNECT,
    PUSH_LATENCY,
    LOGOUT_EVERYWHERE_LATENCY,
    NOTICE_LATENCY,
    GHOST_TIME,
    TAB_LOGOUT_SYNC,
    TLS_HANDSHAKE,
];

/// SSE channel: request sent → `200 text/event-stream` response head, µs.
pub const SSE_CONNECT: &str = "sse_connect";
/// SSE channel: trigger → `kicked`/`logout` event on the old session's stream, µs (the
/// WebSocket's `kick_latency`, measured on the event stream).
pub const SSE_KICK_LATENCY: &str = "sse_kick_latency";
/// SSE channel: `session_expired` event → the stream open again with a fresh token, µs.
pub const SSE_RECONNECT: &str = "sse_reconnect";
/// Push channel: trigger → the push message for the old session received by authbench's push
/// receiver, µs.
pub const PUSH_LATENCY: &str = "push_latency";

/// Server-side end of a session → the moment its client knows (every cause and path; per pair in
/// `notice_latency.<cause>.<path>`), µs. See the README, "Session loss".
pub const NOTICE_LATENCY: &str = "notice_latency";
/// For the ends a client kept sending resource requests after: end → notice, µs (the ghost
/// session: what a user could lose as unsaved work).
pub const GHOST_TIME: &str = "ghost_time";

documented! {
    COUNTER_DOCS;
    /// HTTP exchanges, answered or failed (every operation).
    pub const REQUESTS: &str = "requests";
    /// Successful logins.
    pub const LOGINS: &str = "logins";
    /// Successful logouts.
    pub const LOGOUTS: &str = "logouts";
    /// Refresh requests sent.
    pub const REFRESH_CALLS: &str = "refresh_calls";
    /// Moments a client needed a fresh access token (one per expiry, however many callers).
    pub const REFRESHES_NEEDED: &str = "refreshes_needed";
    /// Refreshes the server refused (the profile's `refresh_rejected`), whatever it said the reason
    /// was: the denominator `reuse_detected` is read against.
    pub const REFRESHES_REFUSED: &str = "refreshes_refused";
    /// Refresh rejected → new login.
    pub const RELOGINS: &str = "relogins";
    /// Sessions lost although their refresh token should have been valid (a lost rotation race).
    pub const SPURIOUS_LOGOUTS: &str = "spurious_logouts";
    /// The `spurious_logouts` of sessions for which nothing announced or declared an end (no
    /// `refresh_expires_in`, no refresh-token `exp`, no `session.max` / `session.idle`) and that did
    /// not present a refresh token twice (a race that reuse detection ended): a server that ends
    /// sessions on purpose without saying when shows here.
    pub const SPURIOUS_UNANNOUNCED: &str = "spurious_unannounced";
    /// Refreshes the server rejected as reuse of a rotated-out token.
    pub const REUSE_DETECTED: &str = "reuse_detected";
    /// Rejected refreshes at or after the end the server (or the profile) announced for the session.
    pub const SESSIONS_EXPIRED: &str = "sessions_expired";
    /// Refresh tokens the server accepted more than once with different successors (a forked chain).
    pub const REFRESH_FORKS: &str = "refresh_forks";
    /// Clients of a storm (`sync_expiry` then `traffic`) without a successful call by its end.
    pub const NEVER_RECOVERED: &str = "never_recovered";
    /// Resource calls refused (401) with the session's current access token well before the expiry
    /// the server announced for it, with no end of the session the client knows of: the server's
    /// tokens die earlier than it says. (How well before: README, Failures and default
    /// thresholds.)
    pub const REFUSED_BEFORE_EXPIRY: &str = "refused_before_expiry";
    /// Resource calls answered 2xx although their access token had expired when they were sent, by
    /// the expiry the server announced: the server accepts expired tokens (or allows a clock leeway),
    /// and nothing made the client renew them.
    pub const ACCEPTED_AFTER_EXPIRY: &str = "accepted_after_expiry";
    /// Open model: arrivals that could not start (no idle client).
    pub const DROPPED: &str = "dropped";
    /// WebSocket: data messages of an older socket generation, dropped.
    pub const STALE_WS_MESSAGES: &str = "stale_ws_messages";
    /// Armed kick clocks not resolved when the run settled.
    pub const MISSED_KICKS: &str = "missed_kicks";
    /// A `kicked`/`logout` event not followed by a close frame within the grace period.
    pub const KICK_WITHOUT_CLOSE: &str = "kick_without_close";
    /// A server close (other than backoff/reconnect classes) with no preceding session event.
    pub const CLOSE_WITHOUT_EVENT: &str = "close_without_event";
    /// A close code RFC 6455 §7.4 forbids on the wire.
    pub const CLOSE_CODE_VIOLATIONS: &str = "close_code_violations";
    /// Sockets opened (every generation).
    pub const WS_CONNECTS: &str = "ws_connects";
    /// Sockets opened after the first one of a client.
    pub const WS_RECONNECTS: &str = "ws_reconnects";
    /// Sockets still open when the run stopped their channel: authbench closed them (Close 1000, the
    /// channel then ends `ended.stopped`), neither the server nor a reconnect. At most one per channel.
    pub const WS_CLOSED_AT_STOP: &str = "ws_closed_at_stop";
    /// A socket still open `expiry_grace` after its access token's `exp`.
    pub const WS_OPEN_AFTER_EXPIRY: &str = "ws_open_after_expiry";
    /// A client stopped reconnecting after `backoff.max_attempts` failures in a row.
    pub const WS_GAVE_UP: &str = "ws_gave_up";
    /// The server ended a session (terminal close, kick or logout event).
    pub const WS_SESSIONS_ENDED: &str = "ws_sessions_ended";
    /// Kicks that arrived before the trigger was armed (recorded as 0 µs).
    pub const KICKS_BEFORE_TRIGGER: &str = "kicks_before_trigger";
    /// Armed kick clocks whose socket had already ended without a kick signal.
    pub const KICK_TARGET_GONE: &str = "kick_target_gone";
    /// Access tokens renewed by a sliding-window response header.
    pub const RENEWALS: &str = "renewals";
    /// Resource requests sent again after a 401 and a renewal.
    pub const RETRIES: &str = "retries";
    /// A socket's token renewal failed for a passing reason (transport error, 5xx, 429) and was tried
    /// again after a backoff.
    pub const WS_REFRESH_RETRIES: &str = "ws_refresh_retries";
    /// Requests that a kept-alive connection handed back unsent (the server had closed it while it
    /// was idle) and that went out again on a fresh connection; never a request that may have been
    /// written.
    pub const RESENT_UNSENT: &str = "resent_unsent";
    /// Idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) written to a reused connection
    /// that ended or was reset before any response head arrived, sent again once on a fresh connection
    /// (RFC 9110 §9.2.2).
    pub const RESENT_IDEMPOTENT: &str = "resent_idempotent";
    /// Connections closed after a response that said `Connection: close` (not kept for reuse).
    pub const CONNECTIONS_RETIRED: &str = "connections_retired";
    /// Logouts a client performed on a 403 although its session was valid (`client.logout_on_403`;
    /// RFC 6750 §3.1: a 403 is a missing privilege, not a dead token).
    pub const FALSE_LOGOUTS: &str = "false_logouts";
    /// Clients of this run whose session held tokens at least once.
    pub const CLIENTS_LOGGED_IN: &str = "clients_logged_in";
    /// Clients of this run that never got a session (every login failed or none was tried).
    pub const NEVER_LOGGED_IN: &str = "never_logged_in";
    /// Clients whose WebSocket channel was not open when the run ended (it had ended, or was still
    /// waiting to reconnect).
    pub const WS_NOT_OPEN_AT_END: &str = "ws_not_open_at_end";
    /// Channels (WebSockets, SSE streams, push registrations) that never opened: every handshake,
    /// stream request or registration of one failed, or the server turned its sockets or streams
    /// away (closed within a second with nothing delivered), until the channel ended or the run
    /// did. Recorded (0 included) in every run that opens channels, which holds such a run to its
    /// default threshold `channels_never_opened == 0`.
    pub const CHANNELS_NEVER_OPENED: &str = "channels_never_opened";
    /// Sockets and streams the server turned away: closed to be retried (a backoff or reconnect
    /// close such as 1013, or a drop; an SSE stream's end) within a second of opening, having
    /// delivered nothing. Each one is a failed channel attempt (`channel_failures`).
    pub const CHANNELS_TURNED_AWAY: &str = "channels_turned_away";
    /// Devices still usable after a logout everywhere: their refresh token still refreshed, or their
    /// access token was still accepted after its `exp` (each device once).
    pub const ZOMBIE_SESSIONS: &str = "zombie_sessions";
    /// Devices whose refresh token still refreshed right after a logout everywhere.
    pub const ZOMBIE_REFRESH: &str = "zombie_refresh";
    /// Devices whose access token (as held before a logout everywhere) was still accepted after its
    /// `exp`.
    pub const ZOMBIE_ACCESS: &str = "zombie_access";
    /// Devices whose access token expires later than the phase's `await_expiry`: not checked.
    pub const ZOMBIE_UNCHECKED: &str = "zombie_unchecked";
    /// Users whose logout-everywhere request was not answered with a 2xx (nothing measured).
    pub const LOGOUT_EVERYWHERE_FAILED: &str = "logout_everywhere_failed";
    /// Tabs: calls a tab sent with tokens its store had already dropped (another tab logged out).
    pub const STALE_TAB_REQUESTS: &str = "stale_tab_requests";
    /// Tabs: tabs that still did not know of another tab's logout when the `logout` phase's wait ended.
    pub const TAB_LOGOUT_MISSED: &str = "tab_logout_missed";
    /// Tabs: tokens a tab took from the store or a broadcast instead of renewing them itself.
    pub const TAB_ADOPTIONS: &str = "tab_adoptions";
}

/// Every fixed counter name (DESIGN §3 and the WebSocket issue). Dynamic families are in
/// [`COUNTER_PREFIXES`].
pub const COUNTERS: &[&str] = &[
    REQUESTS,
    LOGINS,
    LOGOUTS,
    REFRESH_CALLS,
    REFRESHES_NEEDED,
    REFRESHES_REFUSED,
    RELOGINS,
    SPURIOUS_LOGOUTS,
    SPURIOUS_UNANNOUNCED,
    REUSE_DETECTED,
    SESSIONS_EXPIRED,
    REFRESH_FORKS,
    NEVER_RECOVERED,
    REFUSED_BEFORE_EXPIRY,
    ACCEPTED_AFTER_EXPIRY,
    DROPPED,
    STALE_WS_MESSAGES,
    MISSED_KICKS,
    KICK_WITHOUT_CLOSE,
    CLOSE_WITHOUT_EVENT,
    CLOSE_CODE_VIOLATIONS,
    WS_CONNECTS,
    WS_RECONNECTS,
    WS_CLOSED_AT_STOP,
    WS_OPEN_AFTER_EXPIRY,
    WS_GAVE_UP,
    WS_SESSIONS_ENDED,
    KICKS_BEFORE_TRIGGER,
    KICK_TARGET_GONE,
    RENEWALS,
    RETRIES,
    CLIENTS_LOGGED_IN,
    NEVER_LOGGED_IN,
    WS_REFRESH_RETRIES,
    WS_NOT_OPEN_AT_END,
    CHANNELS_NEVER_OPENED,
    CHANNELS_TURNED_AWAY,
    CHANNEL_FAILURES_IN_OUTAGE,
    RESENT_UNSENT,
    RESENT_IDEMPOTENT,
    CONNECTIONS_RETIRED,
    FALSE_LOGOUTS,
    SSE_MISSED_KICKS,
    SSE_KICKS_BEFORE_TRIGGER,
    SSE_KICK_TARGET_GONE,
    SSE_CONNECTS,
    SSE_RECONNECTS,
    SSE_RESUMES,
    SSE_END_WITHOUT_EVENT,
    SSE_GAVE_UP,
    SSE_SESSIONS_ENDED,
    MISSED_PUSHES,
    PUSHES_BEFORE_TRIGGER,
    PUSHES_RECEIVED,
    PUSHES_UNROUTED,
    PUSH_REGISTRATIONS,
    PUSH_REGISTER_FAILED,
    ZOMBIE_SESSIONS,
    ZOMBIE_REFRESH,
    ZOMBIE_ACCESS,
    ZOMBIE_UNCHECKED,
    LOGOUT_EVERYWHERE_FAILED,
    GHOST_REQUESTS,
    REASON_UNCLEAR,
    STALE_TAB_REQUESTS,
    TAB_LOGOUT_MISSED,
    TAB_ADOPTIONS,
];

/// The description of a fixed counter or a gauge, on one line, from its doc: what the live
/// metrics (`run --metrics-listen`) say of it in `# HELP`. `None` for any other name.
pub fn help(name: &str) -> Option<String> {
    let (_, lines) = [
        COUNTER_DOCS,
        CHANNEL_COUNTER_DOCS,
        OUTAGE_COUNTER_DOCS,
        GAUGE_DOCS,
    ]
    .into_iter()
    .flatten()
    .find(|(n, _)| *n == name)?;
    let text = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    // Intra-doc links read as plain code.
    Some(text.replace("[`", "`").replace("`]", "`"))
}

documented! {
    CHANNEL_COUNTER_DOCS;
    /// SSE channel: armed kick clocks whose stream got no `kicked`/`logout` event.
    pub const SSE_MISSED_KICKS: &str = "sse_missed_kicks";
    /// SSE channel: kick events that arrived before the trigger was armed (recorded as 0 µs).
    pub const SSE_KICKS_BEFORE_TRIGGER: &str = "sse_kicks_before_trigger";
    /// SSE channel: armed kick clocks whose stream had already ended without a kick event.
    pub const SSE_KICK_TARGET_GONE: &str = "sse_kick_target_gone";
    /// SSE channel: streams opened (every generation).
    pub const SSE_CONNECTS: &str = "sse_connects";
    /// SSE channel: streams opened after a client's first one.
    pub const SSE_RECONNECTS: &str = "sse_reconnects";
    /// SSE channel: reconnects that sent `Last-Event-ID`.
    pub const SSE_RESUMES: &str = "sse_resumes";
    /// SSE channel: streams the server ended without a session event (the client reconnects).
    pub const SSE_END_WITHOUT_EVENT: &str = "sse_end_without_event";
    /// SSE channel: a client stopped reconnecting after `backoff.max_attempts` failures in a row.
    pub const SSE_GAVE_UP: &str = "sse_gave_up";
    /// SSE channel: the server ended a session (a `kicked`/`logout` event, or a refused reconnect).
    pub const SSE_SESSIONS_ENDED: &str = "sse_sessions_ended";
    /// Push channel: armed kick clocks (a registered device whose session the scenario ended) that
    /// no push message reached.
    pub const MISSED_PUSHES: &str = "missed_pushes";
    /// Push channel: `kicked`/`logout` pushes that arrived before the trigger was armed (0 µs).
    pub const PUSHES_BEFORE_TRIGGER: &str = "pushes_before_trigger";
    /// Push channel: messages the receiver accepted for a registered device.
    pub const PUSHES_RECEIVED: &str = "pushes_received";
    /// Push channel: messages for a device token no client registered (answered 404 UNREGISTERED).
    pub const PUSHES_UNROUTED: &str = "pushes_unrouted";
    /// Push channel: device tokens registered with the server (2xx).
    pub const PUSH_REGISTRATIONS: &str = "push_registrations";
    /// Push channel: registrations the server refused or that failed.
    pub const PUSH_REGISTER_FAILED: &str = "push_register_failed";

    /// Resource requests a client sent after its session ended and before it noticed.
    pub const GHOST_REQUESTS: &str = "ghost_requests";
    /// Noticed ends whose true cause the scenario knows and whose inferred reason is another one.
    pub const REASON_UNCLEAR: &str = "reason_unclear";
}

/// Prefix: `status.<op>.<code>`, responses by operation and status (see [`status`]).
pub const PREFIX_STATUS: &str = "status.";
/// Prefix: `errors.<kind>`, transport and protocol errors.
pub const PREFIX_ERRORS: &str = "errors.";
/// Prefix: `ws_close.<code>`, server close frames by code (`ws_close.illegal` for violations).
pub const PREFIX_WS_CLOSE: &str = "ws_close.";
/// Prefix: `ws_close_class.<class>`, server closes by class.
pub const PREFIX_WS_CLOSE_CLASS: &str = "ws_close_class.";
/// Prefix: `ws_events.<type>`, session events by type (`ws_events.kicked`, `.tick`, `.other`).
pub const PREFIX_WS_EVENTS: &str = "ws_events.";
/// Prefix: `ws_connect_failed.<why>`, refused handshakes by HTTP status or kind.
pub const PREFIX_WS_CONNECT_FAILED: &str = "ws_connect_failed.";
/// Prefix: `race.<outcome>`, refresh_race phase outcomes (one per race).
pub const PREFIX_RACE: &str = "race.";
/// Prefix: `failures.<op>.<class>`, operations that failed (see [`failure`]).
pub const PREFIX_FAILURES: &str = "failures.";
/// Prefix: `ended.<reason>`, channels by how they ended: WebSockets, SSE streams and push
/// registrations, one count each (see [`ended`]).
pub const PREFIX_ENDED: &str = "ended.";
/// Prefix: `retry_after.<op>`, 429/503 answers whose `Retry-After` the client waited for.
pub const PREFIX_RETRY_AFTER: &str = "retry_after.";
/// Prefix: `gave_up.<op>`, clients whose last attempt at an operation failed (see [`gave_up`]).
pub const PREFIX_GAVE_UP: &str = "gave_up.";
/// Prefix: `requests.<op>`, requests by operation, counted with `requests` (see [`requests_of`]).
pub const PREFIX_REQUESTS: &str = "requests.";
/// Prefix: `failures_in_outage.<op>`, the failures without an answer (`transport`, `unfinished`)
/// that happened while the run's own `outage` phase had the target away (see [`in_outage`]).
pub const PREFIX_FAILURES_IN_OUTAGE: &str = "failures_in_outage.";
documented! {
    OUTAGE_COUNTER_DOCS;
    /// Channel handshakes, streams and registrations that failed while the run's own `outage` phase
    /// had the target away.
    pub const CHANNEL_FAILURES_IN_OUTAGE: &str = "channel_failures_in_outage";
}

/// Counter families with a dynamic last part. A name in one of them is made by the constructor
/// functions below (or is one of the `ERR_*`/`RACE_*` constants).
pub const COUNTER_PREFIXES: &[&str] = &[
    PREFIX_STATUS,
    PREFIX_ERRORS,
    PREFIX_WS_CLOSE,
    PREFIX_WS_CLOSE_CLASS,
    PREFIX_WS_EVENTS,
    PREFIX_WS_CONNECT_FAILED,
    PREFIX_RACE,
    PREFIX_FAILURES,
    PREFIX_RETRY_AFTER,
    PREFIX_ENDED,
    PREFIX_GAVE_UP,
    PREFIX_REQUESTS,
    PREFIX_FAILURES_IN_OUTAGE,
    PREFIX_SSE_EVENTS,
    PREFIX_SSE_CONNECT_FAILED,
    PREFIX_PUSH_EVENTS,
    PREFIX_END_REASON,
    PREFIX_UNNOTICED,
    PREFIX_SESSION_ENDS,
];

/// Prefix: `sse_events.<type>`, SSE session events by type (`kicked`, `welcome`, `tick`, `other`).
pub const PREFIX_SSE_EVENTS: &str = "sse_events.";
/// Prefix: `sse_connect_failed.<why>`, refused streams by HTTP status or kind.
pub const PREFIX_SSE_CONNECT_FAILED: &str = "sse_connect_failed.";
/// Prefix: `push_events.<type>`, pushed messages by event type.
pub const PREFIX_PUSH_EVENTS: &str = "push_events.";

/// `sse_events.<type>`.
pub fn sse_event(kind: &str) -> String {
    format!("{PREFIX_SSE_EVENTS}{kind}")
}

/// `sse_connect_failed.<why>`.
pub fn sse_connect_failed(why: impl std::fmt::Display) -> String {
    format!("{PREFIX_SSE_CONNECT_FAILED}{why}")
}

/// `push_events.<type>`.
pub fn push_event(kind: &str) -> String {
    format!("{PREFIX_PUSH_EVENTS}{kind}")
}

/// Prefix: `end_reason.<reason>`, noticed session ends by the reason the client inferred
/// (`expired`, `kicked`, `logged_out`, `revoked`, `unknown`).
pub const PREFIX_END_REASON: &str = "end_reason.";
/// Prefix: `unnoticed.<cause>`, session ends the scenario caused that their client had not noticed
/// when the run (or the session) ended.
pub const PREFIX_UNNOTICED: &str = "unnoticed.";
/// Prefix: `session_ends.<cause>`, session ends the scenario caused (registered by the phase that
/// caused them) or the server announced (counted when noticed).
pub const PREFIX_SESSION_ENDS: &str = "session_ends.";
/// Prefix: `notice_latency.<cause>.<path>` (histograms).
pub const PREFIX_NOTICE_LATENCY: &str = "notice_latency.";

/// `end_reason.<reason>`.
pub fn end_reason(reason: &str) -> String {
    format!("{PREFIX_END_REASON}{reason}")
}

/// `unnoticed.<cause>`.
pub fn unnoticed(cause: &str) -> String {
    format!("{PREFIX_UNNOTICED}{cause}")
}

/// `session_ends.<cause>`.
pub fn session_ends(cause: &str) -> String {
    format!("{PREFIX_SESSION_ENDS}{cause}")
}

/// `notice_latency.<cause>.<path>`.
pub fn notice_latency(cause: &str, path: &str) -> String {
    format!("{PREFIX_NOTICE_LATENCY}{cause}.{path}")
}

/// Connection refused, reset or failed (DNS, TCP, TLS).
pub const ERR_CONNECT: &str = "errors.connect";
/// No response within the timeout.
pub const ERR_TIMEOUT: &str = "errors.timeout";
/// A malformed HTTP response.
pub const ERR_PROTOCOL: &str = "errors.protocol";
/// A response body that could not be read or understood.
pub const ERR_BODY: &str = "errors.body";
/// A socket ended without a close frame (reported locally as 1006).
pub const ERR_WS_ABNORMAL: &str = "errors.ws_abnormal";
/// A WebSocket frame or message above the size caps.
pub const ERR_WS_TOO_BIG: &str = "errors.ws_too_big";
/// A malformed WebSocket frame from the server.
pub const ERR_WS_PROTOCOL: &str = "errors.ws_protocol";
/// A TLS handshake refused on certificate grounds (unknown CA, wrong name, client certificate
/// required): a `tls:` setting to fix.
pub const ERR_TLS: &str = "errors.tls";

/// An SSE stream that failed while being read (a reset, a malformed event, past the stream cap).
pub const ERR_SSE_STREAM: &str = "errors.sse_stream";

/// Race outcome: exactly one success, the rest rejected (atomic rotation).
pub const RACE_ONE_WINNER: &str = "race.one_winner";
/// Race outcome: several successes, all with the same successor (grace window, no rotation).
pub const RACE_SAME_SUCCESSOR: &str = "race.same_successor";
/// Race outcome: several distinct successors accepted (the token chain forked).
pub const RACE_FORKED: &str = "race.forked";
/// Race outcome: every attempt rejected.
pub const RACE_FAMILY_REVOKED: &str = "race.family_revoked";
/// Race outcome: a server error answered part of the race.
pub const RACE_SERVER_ERROR: &str = "race.5xx";
/// Race outcome: no success and transport errors.
pub const RACE_ERROR: &str = "race.error";
/// Race outcome: the client had no session to race with.
pub const RACE_NO_SESSION: &str = "race.no_session";
/// After a race: the winner's tokens were rejected by one more refresh (family revoked).
pub const RACE_WINNER_REVOKED: &str = "race.winner_revoked";

/// `status.<op>.<code>`.
pub fn status(op: &str, code: u16) -> String {
    format!("{PREFIX_STATUS}{op}.{code}")
}

/// `failures.<op>.<class>` (`class`: `5xx`, `429`, `4xx`, `transport`, `body`).
/// The `<class>` of `failures.<op>.<class>` for a request that never got an outcome: still waiting
/// for a pooled connection or an answer when its phase was cut off (phase end + grace).
pub const CLASS_UNFINISHED: &str = "unfinished";

/// `failures.<op>.<class>` (`class`: `5xx`, `429`, `4xx`, `transport`, `tls`, `body`).
pub fn failure(op: &str, class: &str) -> String {
    format!("{PREFIX_FAILURES}{op}.{class}")
}

/// `requests.<op>`.
pub fn requests_of(op: &str) -> String {
    format!("{PREFIX_REQUESTS}{op}")
}

/// `failures_in_outage.<op>`.
pub fn in_outage(op: &str) -> String {
    format!("{PREFIX_FAILURES_IN_OUTAGE}{op}")
}

/// `ended.<reason>` (`stopped`, `session_ended`, `no_token`, `normal`, `protocol_error`,
/// `gave_up`, `refused`, `aborted`): a WebSocket's or SSE stream's end (`client::ws::WsEnd`), a
/// push registration's (`client::push_end::PushEnd`: `stopped`, `session_ended`, `no_token`,
/// `refused`).
pub fn ended(reason: &str) -> String {
    format!("{PREFIX_ENDED}{reason}")
}

/// `gave_up.<op>`: a client whose last attempt at `<op>` (`login`, `refresh`, `api`, ...) failed
/// and was not followed by a success before the run ended.
pub fn gave_up(op: &str) -> String {
    format!("{PREFIX_GAVE_UP}{op}")
}

/// `retry_after.<op>`.
pub fn retry_after(op: &str) -> String {
    format!("{PREFIX_RETRY_AFTER}{op}")
}

/// `ws_close.<code>` (`code` is a close code, or `illegal`).
pub fn ws_close(code: impl std::fmt::Display) -> String {
    format!("{PREFIX_WS_CLOSE}{code}")
}

/// `ws_close_class.<class>`.
pub fn ws_close_class(class: &str) -> String {
    format!("{PREFIX_WS_CLOSE_CLASS}{class}")
}

/// `ws_events.<type>`.
pub fn ws_event(kind: &str) -> String {
    format!("{PREFIX_WS_EVENTS}{kind}")
}

/// `ws_connect_failed.<why>` (an HTTP status or a failure kind).
pub fn ws_connect_failed(why: impl std::fmt::Display) -> String {
    format!("{PREFIX_WS_CONNECT_FAILED}{why}")
}

/// Timeline series (counts per interval, drawn as per second): requests answered or failed.
pub const SERIES_REQUESTS: &str = "requests";
/// Refresh calls per second.
pub const SERIES_REFRESHES: &str = "refreshes";
/// Errors per second.
pub const SERIES_ERRORS: &str = "errors";
/// Failures (`failures.*`) per second.
pub const SERIES_FAILURES: &str = "failures";
/// Relogins (refresh rejected → new login) per second.
pub const SERIES_RELOGINS: &str = "relogins";
/// Logins per second.
pub const SERIES_LOGINS: &str = "logins";
/// Requests that left a client (waiting for a pooled connection counts), per interval.
pub const SERIES_SENT: &str = "sent";
/// Requests that ended (answered, failed or abandoned), per interval: `sent - done` summed so far
/// is the number of requests in flight.
pub const SERIES_DONE: &str = "done";
/// Clients whose first call after a synchronized start succeeded (the `recovery` samples), per
/// interval.
pub const SERIES_RECOVERED: &str = "recovered";

/// Histograms whose latency is also kept per timeline interval (p50/p99 over time).
pub const TIMELINE_LATENCIES: &[&str] = &[LOGIN, REFRESH, API];

documented! {
    GAUGE_DOCS;
    /// Gauge: WebSockets currently open (sampled into the timeline at the end of each interval).
    pub const GAUGE_OPEN_SOCKETS: &str = "open_sockets";
    /// Gauge: SSE streams currently open.
    pub const GAUGE_OPEN_STREAMS: &str = "open_streams";
    /// Gauge: clients currently logged in.
    pub const GAUGE_ACTIVE_CLIENTS: &str = "active_clients";
}

/// Derived: refresh calls per refresh needed.
pub const DERIVED_REFRESH_AMPLIFICATION: &str = "refresh_amplification";
/// Derived: failed exchanges per request.
pub const DERIVED_ERROR_RATE: &str = "error_rate";
/// Derived: the sum of every `errors.<kind>` counter.
pub const DERIVED_ERRORS: &str = "errors";
/// Derived: the sum of every `failures.<op>.<class>` counter.
pub const DERIVED_FAILURES: &str = "failures";
/// Derived: failures per request, those of the run's own outage excepted.
pub const DERIVED_FAILURE_RATE: &str = "failure_rate";
/// Derived: channel handshakes, streams and registrations that failed for a reason that is never
/// a verdict on the client's token (see `report::model::is_channel_failure`).
pub const DERIVED_CHANNEL_FAILURES: &str = "channel_failures";
/// Derived: channel failures per channel attempt, those of the run's own outage excepted.
pub const DERIVED_CHANNEL_FAILURE_RATE: &str = "channel_failure_rate";
/// The argument of `failure_rate(*)`: every operation, each held to the limit on its own.
pub const EVERY_OP: &str = "*";

/// Derived values computed by the report from counters and histograms.
pub const DERIVED: &[&str] = &[
    DERIVED_REFRESH_AMPLIFICATION,
    DERIVED_ERROR_RATE,
    DERIVED_ERRORS,
    DERIVED_FAILURES,
    DERIVED_FAILURE_RATE,
    DERIVED_CHANNEL_FAILURES,
    DERIVED_CHANNEL_FAILURE_RATE,
];

/// The derived values that are ratios (a threshold on them may use `%`).
pub const RATIOS: &[&str] = &[
    DERIVED_REFRESH_AMPLIFICATION,
    DERIVED_ERROR_RATE,
    DERIVED_FAILURE_RATE,
    DERIVED_CHANNEL_FAILURE_RATE,
];

/// The `<op>` of every operation that sends requests (`requests.<op>`, `failures.<op>.<class>`,
/// `failure_rate(<op>)`).
pub const OPS: &[&str] = &[
    "login",
    "refresh",
    "api",
    "logout",
    "force_logout",
    "refresh_race",
    "refresh_race_check",
    "logout_everywhere",
    "logout_everywhere_check",
    "csrf_page",
    "authorize",
    "outage",
];

/// The `<cause>` of `session_ends.<cause>` and `unnoticed.<cause>` (`client::notice::EndCause`).
pub const END_CAUSES: &[&str] = &[
    "expired",
    "idle",
    "force_logout",
    "kicked",
    "logout_everywhere",
    "revoked",
];
/// The `<reason>` of `end_reason.<reason>` (`client::notice::Reason`).
pub const END_REASONS: &[&str] = &["expired", "kicked", "logged_out", "revoked", "unknown"];
/// The `<reason>` of `ended.<reason>` (`client::ws::WsEnd`, `client::push_end::PushEnd`).
pub const CHANNEL_ENDS: &[&str] = &[
    "stopped",
    "session_ended",
    "no_token",
    "normal",
    "protocol_error",
    "gave_up",
    "refused",
    "aborted",
];

/// The `<class>` of `failures.<op>.<class>` (`client::session::FailClass`).
pub const FAIL_CLASSES: &[&str] = &[
    "5xx",
    "429",
    "4xx",
    "transport",
    "tls",
    "body",
    "unfinished",
];
/// The `<kind>` of `errors.<kind>` (the `ERR_*` names).
pub const ERROR_KINDS: &[&str] = &[
    "connect",
    "timeout",
    "protocol",
    "body",
    "tls",
    "ws_abnormal",
    "ws_too_big",
    "ws_protocol",
    "sse_stream",
];
/// The `<outcome>` of `race.<outcome>` (the `RACE_*` names).
pub const RACE_OUTCOMES: &[&str] = &[
    "one_winner",
    "same_successor",
    "forked",
    "family_revoked",
    "5xx",
    "error",
    "no_session",
    "winner_revoked",
];
/// The `<class>` of `ws_close_class.<class>` (`profile::CloseClass`).
pub const CLOSE_CLASSES: &[&str] = &[
    "refresh_then_reconnect",
    "reconnect",
    "terminal",
    "backoff",
    "protocol_error",
    "normal",
];
/// The named kinds of `ws_connect_failed.<kind>` (beside an HTTP status or a close code).
pub const WS_CONNECT_KINDS: &[&str] = &[
    "timeout",
    "io",
    "tls",
    "no_ack",
    "rejected",
    "protocol",
    "bad_token",
    "url",
];
/// The named kinds of `sse_connect_failed.<kind>` (beside an HTTP status): the transport's error
/// kinds and a stream that is not `text/event-stream`.
pub const SSE_CONNECT_KINDS: &[&str] = &[
    "connect",
    "timeout",
    "protocol",
    "body",
    "tls",
    "content_type",
];

/// Counter families whose name parts come from fixed sets: a threshold on a name of the family
/// that is not one of them (`unnoticed.kiked`, `failures.login.5x`, `status.api.2000`,
/// `requests.api.x`) can never see a count, and is refused. The event families
/// (`ws_events.<type>`, `sse_events.<type>`, `push_events.<type>`) take the server's own event
/// types, so they stay open.
pub const CLOSED_FAMILIES: &[Family] = &[
    Family {
        prefix: PREFIX_REQUESTS,
        parts: &[Part::Names(OPS)],
    },
    Family {
        prefix: PREFIX_FAILURES,
        parts: &[Part::Names(OPS), Part::Names(FAIL_CLASSES)],
    },
    Family {
        prefix: PREFIX_STATUS,
        parts: &[Part::Names(OPS), Part::Number(100, 599)],
    },
    Family {
        prefix: PREFIX_FAILURES_IN_OUTAGE,
        parts: &[Part::Names(OPS)],
    },
    Family {
        prefix: PREFIX_GAVE_UP,
        parts: &[Part::Names(OPS)],
    },
    Family {
        prefix: PREFIX_RETRY_AFTER,
        parts: &[Part::Names(OPS)],
    },
    Family {
        prefix: PREFIX_SESSION_ENDS,
        parts: &[Part::Names(END_CAUSES)],
    },
    Family {
        prefix: PREFIX_UNNOTICED,
        parts: &[Part::Names(END_CAUSES)],
    },
    Family {
        prefix: PREFIX_END_REASON,
        parts: &[Part::Names(END_REASONS)],
    },
    Family {
        prefix: PREFIX_ENDED,
        parts: &[Part::Names(CHANNEL_ENDS)],
    },
    Family {
        prefix: PREFIX_ERRORS,
        parts: &[Part::Names(ERROR_KINDS)],
    },
    Family {
        prefix: PREFIX_RACE,
        parts: &[Part::Names(RACE_OUTCOMES)],
    },
    Family {
        prefix: PREFIX_WS_CLOSE,
        parts: &[Part::NumberOr(1000, 4999, &["illegal"])],
    },
    Family {
        prefix: PREFIX_WS_CLOSE_CLASS,
        parts: &[Part::Names(CLOSE_CLASSES)],
    },
    Family {
        prefix: PREFIX_WS_CONNECT_FAILED,
        parts: &[Part::NumberOr(100, 4999, WS_CONNECT_KINDS)],
    },
    Family {
        prefix: PREFIX_SSE_CONNECT_FAILED,
        parts: &[Part::NumberOr(100, 599, SSE_CONNECT_KINDS)],
    },
];

/// Every name a threshold (`expect:`) may use.
pub const VOCABULARY: Vocabulary = Vocabulary {
    histograms: HISTOGRAMS,
    counters: COUNTERS,
    counter_prefixes: COUNTER_PREFIXES,
    derived: DERIVED,
    ratios: RATIOS,
    ops: OPS,
    closed_families: CLOSED_FAMILIES,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_member_is_a_counter() {
        for name in [
            ERR_CONNECT,
            ERR_TIMEOUT,
            ERR_PROTOCOL,
            ERR_BODY,
            ERR_WS_ABNORMAL,
            ERR_WS_TOO_BIG,
            ERR_WS_PROTOCOL,
            ERR_TLS,
            RACE_ONE_WINNER,
            RACE_SAME_SUCCESSOR,
            RACE_FORKED,
            RACE_FAMILY_REVOKED,
            RACE_SERVER_ERROR,
            RACE_ERROR,
            RACE_NO_SESSION,
            RACE_WINNER_REVOKED,
        ] {
            assert!(VOCABULARY.is_counter(name), "{name}");
        }
        assert_eq!(status("api", 200), "status.api.200");
        assert_eq!(failure("login", "5xx"), "failures.login.5xx");
        assert!(VOCABULARY.is_counter(&failure("login", "5xx")));
        assert!(VOCABULARY.is_counter(&retry_after("refresh")));
        assert_eq!(gave_up("api"), "gave_up.api");
        assert!(VOCABULARY.is_counter(&gave_up("login")));
        assert_eq!(ws_close(4409), "ws_close.4409");
        assert_eq!(ws_close("illegal"), "ws_close.illegal");
        assert_eq!(ws_close_class("terminal"), "ws_close_class.terminal");
        assert_eq!(ws_event("kicked"), "ws_events.kicked");
        assert_eq!(ws_connect_failed(401), "ws_connect_failed.401");
        assert!(
            !VOCABULARY.is_counter(PREFIX_STATUS),
            "a bare prefix is not a counter"
        );
    }

    /// A threshold on a counter of a closed family that cannot exist is refused — a misspelt
    /// class or kind passed as 0 before (`errors.timout == 0` could never fail) — and every name
    /// the run counts is accepted.
    #[test]
    fn closed_families_refuse_what_can_never_be_counted() {
        use crate::config::Threshold;
        let parse = |e: &str| Threshold::parse(e, &VOCABULARY);
        let err = |e: &str| parse(e).unwrap_err().to_string();
        for (expr, says) in [
            ("errors.timout == 0", "did you mean `errors.timeout`?"),
            (
                "failures.login.5x == 0",
                "did you mean `failures.login.5xx`?",
            ),
            (
                "failures.logn.5x == 0",
                "did you mean `failures.login.5xx`?",
            ),
            (
                "status.api.2000 == 0",
                "`2000` is not a number from 100 to 599",
            ),
            (
                "status.api.20x == 0",
                "`20x` is not a number from 100 to 599",
            ),
            (
                "ws_close.44099 == 0",
                "`44099` is not a number from 1000 to 4999 or one of illegal",
            ),
            (
                "requests.api.x == 0",
                "`requests.api.x` has 2 part(s) after `requests.`, the family has 1",
            ),
            (
                "failures.login == 0",
                "has 1 part(s) after `failures.`, the family has 2",
            ),
            ("race.forkd == 0", "did you mean `race.forked`?"),
            (
                "ws_close_class.terminl == 0",
                "did you mean `ws_close_class.terminal`?",
            ),
            (
                "ws_connect_failed.timout == 0",
                "did you mean `ws_connect_failed.timeout`?",
            ),
            (
                "sse_connect_failed.99 == 0",
                "`99` is not a number from 100 to 599",
            ),
        ] {
            let m = err(expr);
            assert!(m.contains(says), "{expr}: {m}");
        }
        let fix = parse("status.api.2000 == 0").unwrap_err().fix();
        assert!(fix.contains("correct `status.api.2000`"), "{fix}");
        // Everything the run counts.
        let counted = [
            ERR_CONNECT.to_string(),
            ERR_TIMEOUT.into(),
            ERR_PROTOCOL.into(),
            ERR_BODY.into(),
            ERR_TLS.into(),
            ERR_WS_ABNORMAL.into(),
            ERR_WS_TOO_BIG.into(),
            ERR_WS_PROTOCOL.into(),
            ERR_SSE_STREAM.into(),
            RACE_ONE_WINNER.into(),
            RACE_SAME_SUCCESSOR.into(),
            RACE_FORKED.into(),
            RACE_FAMILY_REVOKED.into(),
            RACE_SERVER_ERROR.into(),
            RACE_ERROR.into(),
            RACE_NO_SESSION.into(),
            RACE_WINNER_REVOKED.into(),
            ws_close(1006),
            ws_close(4409),
            ws_close("illegal"),
            ws_connect_failed(401),
            ws_connect_failed(4403),
            sse_connect_failed(503),
            status("api", 200),
            in_outage("refresh"),
            requests_of("authorize"),
            // Open: the server's own event types.
            ws_event("kiked"),
            sse_event("anything"),
            push_event("whatever"),
        ];
        for name in counted {
            assert!(parse(&format!("{name} == 0")).is_ok(), "{name}");
        }
        for kind in WS_CONNECT_KINDS {
            assert!(
                parse(&format!("ws_connect_failed.{kind} == 0")).is_ok(),
                "{kind}"
            );
        }
    }
}
