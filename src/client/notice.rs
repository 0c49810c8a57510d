//! Session loss, noticed (issue 17 §1–§2): how long after the server ended a session its client
//! knows, by which path it learned it, which reason it could infer, and how much it did on the dead
//! session meanwhile.
//!
//! - [`EndCause`]: why the server ended the session — what the *scenario* knows (the engine
//!   registers an end it caused with [`NoticeBook::ends`]; an end the server announced, expiry,
//!   is found from the announcement itself).
//! - [`NoticePath`]: what told the client — a session event on its channel (a WebSocket message, an
//!   SSE event, a push message: one path per channel, see `client::channel_end`), a terminal close
//!   code, a 401 on its next call, a refresh rejected on its own (a socket's reconnect), its local
//!   `exp` timer.
//! - [`Reason`]: what the client could infer from the signals it got ([`Reason::infer`] reads an
//!   `error_description`, an error code or a close reason; a WebSocket event names it directly).
//! - [`NoticeBook`]: one login session's bookkeeping, kept in the session's state: the registered
//!   end, the ghost requests sent after it, whether it was noticed. [`Notice`] is what a notice
//!   resolved to, recorded by [`Notice::record`].
//!
//! Adding a cause is adding one [`EndCause`] variant (name and expected reason) and registering
//! it where the scenario causes it (`Session::session_ends`). Every metric is defined in the
//! README ("Session loss: notice latency, ghosts, reasons").

use std::sync::OnceLock;
use std::time::Instant;

use crate::metrics::{Recorder, names};

/// Why the server ended a session (what the scenario knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndCause {
    /// The end the server announced (`refresh_expires_in`, the refresh token's `exp`, the
    /// profile's `session.max`) passed.
    Expired,
    /// The profile's declared idle limit (`session.idle`) passed without a renewal; the `idle`
    /// phase registers it too.
    Idle,
    /// The `force_logout` phase: the admin endpoint (or hook) logged the user out.
    ForceLogout,
    /// The `relogin` phase: a login of the same user elsewhere replaced the session.
    Kicked,
    /// The `logout_everywhere` phase: another device of the user logged out everywhere.
    LogoutEverywhere,
    /// A revocation of the session's tokens by a third party.
    Revoked,
}

impl EndCause {
    /// Every cause, in table order.
    pub const ALL: &'static [EndCause] = &[
        EndCause::Expired,
        EndCause::Idle,
        EndCause::ForceLogout,
        EndCause::Kicked,
        EndCause::LogoutEverywhere,
        EndCause::Revoked,
    ];

    /// The `<cause>` of the metric names.
    pub fn name(self) -> &'static str {
        match self {
            EndCause::Expired => "expired",
            EndCause::Idle => "idle",
            EndCause::ForceLogout => "force_logout",
            EndCause::Kicked => "kicked",
            EndCause::LogoutEverywhere => "logout_everywhere",
            EndCause::Revoked => "revoked",
        }
    }

    /// The reason a client told of this end should infer.
    pub fn expected_reason(self) -> Reason {
        match self {
            EndCause::Expired | EndCause::Idle => Reason::Expired,
            EndCause::ForceLogout | EndCause::LogoutEverywhere => Reason::LoggedOut,
            EndCause::Kicked => Reason::Kicked,
            EndCause::Revoked => Reason::Revoked,
        }
    }
}

/// What told the client its session was over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticePath {
    /// A session event on its WebSocket (`kicked`, `logout`). The name `push` predates the other
    /// channels and is kept (scripts read `notice_latency.<cause>.push`).
    Push,
    /// A session event on its Server-Sent Events stream (`kicked`, `logout`).
    SseEvent,
    /// A push message for its device (`kicked`, `logout`) at authbench's push receiver.
    PushMessage,
    /// A terminal close code on its WebSocket without such an event.
    CloseCode,
    /// A resource call answered 401 whose renewal was refused.
    Api401,
    /// A refresh made for no resource call was refused (the WebSocket's refresh before a
    /// reconnect, a handshake refused after a refresh).
    RefreshRejected,
    /// The client's own timer: the proactive refresh at `exp - margin` was refused.
    ExpTimer,
}

impl NoticePath {
    /// Every path, in table order.
    pub const ALL: &'static [NoticePath] = &[
        NoticePath::Push,
        NoticePath::SseEvent,
        NoticePath::PushMessage,
        NoticePath::CloseCode,
        NoticePath::Api401,
        NoticePath::RefreshRejected,
        NoticePath::ExpTimer,
    ];

    /// The `<path>` of the metric names.
    pub fn name(self) -> &'static str {
        match self {
            NoticePath::Push => "push",
            NoticePath::SseEvent => "sse_event",
            NoticePath::PushMessage => "push_message",
            NoticePath::CloseCode => "close_code",
            NoticePath::Api401 => "api_401",
            NoticePath::RefreshRejected => "refresh_rejected",
            NoticePath::ExpTimer => "exp_timer",
        }
    }
}

/// The reason a client could infer from the signals it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Expired,
    Kicked,
    LoggedOut,
    Revoked,
    Unknown,
}

/// Words that name a reason, tried in this order (the first reason with a match wins): a
/// description such as "revoked by an administrator" is a logout, "replaced by a newer login" a
/// kick, "revoked after refresh token reuse" a revocation.
const WORDS: &[(Reason, &[&str])] = &[
    (
        Reason::Kicked,
        &[
            "kick",
            "replaced",
            "newer login",
            "new login",
            "another device",
            "elsewhere",
            "superseded",
            "signed in on another",
            "logged in on another",
        ],
    ),
    (
        Reason::LoggedOut,
        &[
            "logged out",
            "logout",
            "log out",
            "signed out",
            "sign out",
            "signout",
            "administrator",
            "password",
        ],
    ),
    (Reason::Revoked, &["revoked", "revocation", "reuse"]),
    (
        Reason::Expired,
        &[
            "expired",
            "expiry",
            "expiration",
            "maximum lifetime",
            "idle",
            "inactiv",
            "timed out",
            "timeout",
        ],
    ),
];

/// Most bytes of a signal read by [`Reason::infer`].
const INFER_CAP: usize = 1024;

impl Reason {
    /// Every reason, in table order.
    pub const ALL: &'static [Reason] = &[
        Reason::Expired,
        Reason::Kicked,
        Reason::LoggedOut,
        Reason::Revoked,
        Reason::Unknown,
    ];

    /// The `<reason>` of `end_reason.<reason>`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Expired => "expired",
            Reason::Kicked => "kicked",
            Reason::LoggedOut => "logged_out",
            Reason::Revoked => "revoked",
            Reason::Unknown => "unknown",
        }
    }

    /// The reason a signal's text names (an error body, an `error_description`, a
    /// `WWW-Authenticate` value, a close reason), by the words in [`WORDS`], case-insensitive;
    /// [`Reason::Unknown`] when none appears. Only the first [`INFER_CAP`] bytes are read.
    pub fn infer(text: &str) -> Reason {
        Reason::infer_bytes(text.as_bytes())
    }

    /// [`Reason::infer`] of raw bytes (a body need not be UTF-8; the words are ASCII). Lowered
    /// in a buffer on the stack: every 401 of a storm is read this way.
    fn infer_bytes(text: &[u8]) -> Reason {
        let mut buf = [0u8; INFER_CAP];
        let lower = &mut buf[..text.len().min(INFER_CAP)];
        lower.copy_from_slice(&text[..lower.len()]);
        lower.make_ascii_lowercase();
        let lower = &*lower;
        // Text (what every JSON body and header is) is searched as a `str`; bytes that are not
        // UTF-8 (or a character cut at the cap) fall back to comparing at every position.
        let text = std::str::from_utf8(lower).ok();
        let has = |w: &str| match text {
            Some(t) => t.contains(w),
            None => lower.windows(w.len()).any(|win| win == w.as_bytes()),
        };
        WORDS
            .iter()
            .find(|(_, words)| words.iter().any(|w| has(w)))
            .map_or(Reason::Unknown, |(r, _)| *r)
    }

    /// The reason of an HTTP answer: its `WWW-Authenticate` challenge, else its body.
    pub fn of_answer(www_authenticate: Option<&str>, body: &[u8]) -> Reason {
        let from_header = www_authenticate.map_or(Reason::Unknown, Reason::infer);
        match from_header {
            Reason::Unknown => Reason::infer_bytes(body),
            known => known,
        }
    }

    /// `self` unless it is unknown, then `other`.
    pub fn or(self, other: Reason) -> Reason {
        if self == Reason::Unknown { other } else { self }
    }
}

/// Microseconds since a process-wide epoch, never 0 (0 means "unset"), for lock-free instants.
pub fn micros(at: Instant) -> u64 {
    super::stamp::MonoStamp::new(at).micros()
}

/// A registered end not yet noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    cause: EndCause,
    at: Instant,
    ghosts: u64,
}

/// One login session's notice bookkeeping (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoticeBook {
    /// An end the scenario caused, not noticed yet.
    pending: Option<Pending>,
    /// Resource requests sent after the announced end (an expiry not registered by anyone).
    expiry_ghosts: u64,
    /// The end of this login session was noticed: no second notice until a new login.
    noticed: bool,
}

/// What one notice resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub path: NoticePath,
    pub reason: Reason,
    /// The true cause and its end instant, when the scenario (or the announcement) knows them.
    pub cause: Option<(EndCause, Instant)>,
    /// Resource requests sent after the end and before the notice.
    pub ghosts: u64,
    pub at: Instant,
}

impl NoticeBook {
    /// The scenario ended the session at `at` for `cause`. An earlier registered end, or one already
    /// noticed, stays.
    pub fn ends(&mut self, cause: EndCause, at: Instant) -> bool {
        if self.noticed || self.pending.is_some() {
            return false;
        }
        self.pending = Some(Pending {
            cause,
            at,
            ghosts: 0,
        });
        true
    }

    /// The end registered with [`Self::ends`] did not happen (the trigger failed).
    pub fn void(&mut self) {
        self.pending = None;
    }

    /// The registered end not yet noticed, if any.
    pub fn pending_end(&self) -> Option<(EndCause, Instant)> {
        self.pending.map(|p| (p.cause, p.at))
    }

    /// A resource request was sent at `sent` while the ghost watch was on: counted for the pending
    /// end when after it, else for the announced end (`after_announced`).
    pub fn ghost(&mut self, sent: Instant, after_announced: bool) {
        if self.noticed {
            return;
        }
        match &mut self.pending {
            Some(p) if sent >= p.at => p.ghosts += 1,
            Some(_) => {}
            None if after_announced => self.expiry_ghosts += 1,
            None => {}
        }
    }

    /// The client learned at `at`, through `path`, that its session is over, and inferred
    /// `reason`. `announced`: the announced end (and its cause) when the refusal came at or after
    /// it. `None` when this login session's end was already noticed.
    pub fn notice(
        &mut self,
        path: NoticePath,
        reason: Reason,
        at: Instant,
        announced: Option<(EndCause, Instant)>,
    ) -> Option<Notice> {
        if self.noticed {
            return None;
        }
        self.noticed = true;
        let (cause, ghosts) = match self.pending.take() {
            Some(p) => (Some((p.cause, p.at)), p.ghosts),
            None => match announced {
                Some(c) => (Some(c), self.expiry_ghosts),
                None => (None, 0),
            },
        };
        Some(Notice {
            path,
            reason,
            cause,
            ghosts,
            at,
        })
    }

    /// A new login session starts: a pending end never noticed is returned (to be counted
    /// unnoticed), and the book starts over.
    pub fn restart(&mut self) -> Option<(EndCause, u64)> {
        let left = self.take_unnoticed();
        *self = NoticeBook::default();
        left
    }

    /// The registered end that was never noticed, with its ghost requests (the session is gone,
    /// or the run ended); the book keeps nothing of it.
    pub fn take_unnoticed(&mut self) -> Option<(EndCause, u64)> {
        self.pending.take().map(|p| (p.cause, p.ghosts))
    }

    /// The client ended the session itself (its own logout): it knows; a registered end still
    /// pending is handed back as never noticed.
    pub fn ended_by_client(&mut self) -> Option<(EndCause, u64)> {
        let left = self.take_unnoticed();
        self.noticed = true;
        left
    }

    /// Whether a registered end waits for its notice.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some() && !self.noticed
    }
}

impl Notice {
    /// Records this notice into `rec`: `end_reason.<reason>`; with a known cause also
    /// `notice_latency`, `notice_latency.<cause>.<path>`, `ghost_requests`, `ghost_time` (when at
    /// least one ghost request was sent) and `reason_unclear` (the inferred reason is not the
    /// cause's). A notice before its registered end counts as 0 µs.
    pub fn record(&self, rec: &Recorder, shard: usize) {
        rec.count(shard, &names::end_reason(self.reason.name()), 1);
        let Some((cause, end)) = self.cause else {
            return;
        };
        let latency = self.at.saturating_duration_since(end);
        rec.record_duration(shard, names::NOTICE_LATENCY, latency);
        rec.record_duration(shard, latency_name(cause, self.path), latency);
        // Counted even at 0, so a report says "none" rather than nothing.
        rec.count(shard, names::GHOST_REQUESTS, self.ghosts);
        if self.ghosts > 0 {
            rec.record_duration(shard, names::GHOST_TIME, latency);
        }
        let unclear = self.reason != cause.expected_reason();
        rec.count(shard, names::REASON_UNCLEAR, u64::from(unclear));
    }
}

/// `notice_latency.<cause>.<path>`, one static name per pair (the recorder keys histograms by
/// `&'static str`).
pub fn latency_name(cause: EndCause, path: NoticePath) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let all = NAMES.get_or_init(|| {
        EndCause::ALL
            .iter()
            .flat_map(|c| {
                NoticePath::ALL
                    .iter()
                    .map(move |p| names::notice_latency(c.name(), p.name()))
            })
            .collect()
    });
    let c = EndCause::ALL.iter().position(|x| *x == cause).unwrap_or(0);
    let p = NoticePath::ALL.iter().position(|x| *x == path).unwrap_or(0);
    &all[c * NoticePath::ALL.len() + p]
}

/// Records an end never noticed: `unnoticed.<cause>`, and its ghost requests.
pub fn record_unnoticed(rec: &Recorder, shard: usize, cause: EndCause, ghosts: u64) {
    rec.count(shard, &names::unnoticed(cause.name()), 1);
    if ghosts > 0 {
        rec.count(shard, names::GHOST_REQUESTS, ghosts);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn reasons_are_read_from_the_words_servers_use() {
        for (text, want) in [
            (
                r#"{"error":"invalid_grant","error_description":"the session was replaced by a newer login"}"#,
                Reason::Kicked,
            ),
            (
                "the session was revoked by an administrator",
                Reason::LoggedOut,
            ),
            ("the session was logged out", Reason::LoggedOut),
            (
                "refresh token reuse detected; the session has been revoked",
                Reason::Revoked,
            ),
            ("the refresh token has expired", Reason::Expired),
            (
                "the session has reached its maximum lifetime",
                Reason::Expired,
            ),
            (
                r#"Bearer realm="x", error="invalid_token", error_description="The access token expired""#,
                Reason::Expired,
            ),
            ("Session not active", Reason::Unknown),
            ("", Reason::Unknown),
        ] {
            assert_eq!(Reason::infer(text), want, "{text}");
        }
        assert_eq!(
            Reason::of_answer(
                Some("Bearer error=\"invalid_token\""),
                b"{\"error\":\"x\",\"error_description\":\"logged out\"}"
            ),
            Reason::LoggedOut
        );
        // A long body is cut on a character boundary.
        let long = "é".repeat(INFER_CAP);
        assert_eq!(Reason::infer(&long), Reason::Unknown);
    }

    #[test]
    fn a_registered_end_collects_its_ghosts_and_resolves_once() {
        let t0 = Instant::now();
        let mut b = NoticeBook::default();
        b.ghost(t0, true);
        assert!(b.ends(EndCause::ForceLogout, t0 + Duration::from_millis(10)));
        assert!(!b.ends(EndCause::Kicked, t0), "the first end stays");
        b.ghost(t0 + Duration::from_millis(5), false); // before the end: not a ghost
        b.ghost(t0 + Duration::from_millis(20), false);
        b.ghost(t0 + Duration::from_millis(30), false);
        let n = b
            .notice(
                NoticePath::Api401,
                Reason::LoggedOut,
                t0 + Duration::from_millis(40),
                None,
            )
            .expect("first notice");
        assert_eq!(n.ghosts, 2);
        assert_eq!(
            n.cause,
            Some((EndCause::ForceLogout, t0 + Duration::from_millis(10)))
        );
        assert!(
            b.notice(NoticePath::Push, Reason::Unknown, t0, None)
                .is_none()
        );
        assert_eq!(b.restart(), None);
    }

    #[test]
    fn an_announced_end_is_the_cause_when_nothing_was_registered() {
        let t0 = Instant::now();
        let mut b = NoticeBook::default();
        b.ghost(t0, true);
        b.ghost(t0, false);
        let n = b
            .notice(
                NoticePath::ExpTimer,
                Reason::Expired,
                t0,
                Some((EndCause::Expired, t0)),
            )
            .unwrap();
        assert_eq!(
            (n.ghosts, n.cause.map(|c| c.0)),
            (1, Some(EndCause::Expired))
        );
        let mut b = NoticeBook::default();
        let n = b
            .notice(NoticePath::Push, Reason::Kicked, t0, None)
            .unwrap();
        assert_eq!(n.cause, None, "no cause known: only the reason is counted");
    }

    #[test]
    fn an_unnoticed_end_is_handed_back_once() {
        let t0 = Instant::now();
        let mut b = NoticeBook::default();
        b.ends(EndCause::Kicked, t0);
        b.ghost(t0, false);
        assert!(b.is_pending());
        assert_eq!(b.restart(), Some((EndCause::Kicked, 1)));
        assert_eq!(b.take_unnoticed(), None);
        b.ends(EndCause::ForceLogout, t0);
        b.void();
        assert_eq!(b.take_unnoticed(), None);
    }

    #[test]
    fn recording_a_notice_fills_the_metrics() {
        let rec = Recorder::new();
        let t0 = Instant::now();
        let n = Notice {
            path: NoticePath::Push,
            reason: Reason::Unknown,
            cause: Some((EndCause::Kicked, t0)),
            ghosts: 3,
            at: t0 + Duration::from_millis(7),
        };
        n.record(&rec, 0);
        assert_eq!(rec.samples(names::NOTICE_LATENCY), 1);
        assert_eq!(rec.samples("notice_latency.kicked.push"), 1);
        assert_eq!(rec.samples(names::GHOST_TIME), 1);
        assert_eq!(rec.counter(names::GHOST_REQUESTS), 3);
        assert_eq!(rec.counter(names::REASON_UNCLEAR), 1);
        assert_eq!(rec.counter("end_reason.unknown"), 1);
        record_unnoticed(&rec, 0, EndCause::ForceLogout, 2);
        assert_eq!(rec.counter("unnoticed.force_logout"), 1);
        assert_eq!(rec.counter(names::GHOST_REQUESTS), 5);
    }

    #[test]
    fn the_threshold_vocabulary_knows_every_cause_and_reason() {
        let causes: Vec<&str> = EndCause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(causes, names::END_CAUSES);
        let reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(reasons, names::END_REASONS);
    }

    #[test]
    fn every_channel_event_has_its_own_path_name() {
        assert_eq!(
            latency_name(EndCause::Kicked, NoticePath::SseEvent),
            "notice_latency.kicked.sse_event"
        );
        assert_eq!(
            latency_name(EndCause::ForceLogout, NoticePath::PushMessage),
            "notice_latency.force_logout.push_message"
        );
        // The WebSocket's keeps its name.
        assert_eq!(
            latency_name(EndCause::Kicked, NoticePath::Push),
            "notice_latency.kicked.push"
        );
        assert_eq!(
            latency_name(EndCause::Revoked, NoticePath::ExpTimer),
            "notice_latency.revoked.exp_timer"
        );
    }
}
