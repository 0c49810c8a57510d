//! [`Lifetime`]: what one client knows about when its login session ends — the end the server
//! announced in its token responses (`refresh_expires_in`, the refresh token's JWT `exp`) and the
//! limits the target profile declares (`session.max` from the login, `session.idle` from the last
//! login or refresh).
//!
//! A refused refresh at or after that end (within [`END_TOLERANCE`]) is an end the server
//! announced: `sessions_expired`. Before it — or when nothing was announced at all — the session
//! should still have been valid, and a refused refresh that nothing ended on purpose is a
//! `spurious_logouts` (see `client::session`).

use std::time::{Duration, SystemTime};

use super::stamp::WallStamp;
use crate::profile::SessionLimits;

/// Slack for an announced end: `refresh_expires_in` and JWT `exp` are whole seconds, and the
/// client starts counting when the answer arrives, up to a round trip after the server did.
pub const END_TOLERANCE: Duration = Duration::from_secs(1);

/// The announced facts about one login session (see the module docs); 24 bytes, since every
/// client keeps one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifetime {
    /// When the session's login answered.
    login_at: Option<WallStamp>,
    /// When the last login or refresh answered.
    renewed_at: Option<WallStamp>,
    /// The refresh token's announced expiry (the latest token response that said one).
    refresh_expires_at: Option<WallStamp>,
}

impl Lifetime {
    /// A new login session answered at `now`.
    pub fn logged_in(&mut self, now: SystemTime, refresh_expires_at: Option<SystemTime>) {
        *self = Lifetime {
            login_at: Some(now.into()),
            renewed_at: Some(now.into()),
            refresh_expires_at: refresh_expires_at.map(WallStamp::new),
        };
    }

    /// A refresh answered at `now`; a response that announces nothing keeps the last announcement.
    pub fn renewed(&mut self, now: SystemTime, refresh_expires_at: Option<SystemTime>) {
        self.renewed_at = Some(now.into());
        if refresh_expires_at.is_some() {
            self.refresh_expires_at = refresh_expires_at.map(WallStamp::new);
        }
    }

    /// The earliest end known: the announced refresh expiry, login + `limits.max`, last renewal +
    /// `limits.idle`. `None`: nothing announced or declared.
    pub fn end(&self, limits: SessionLimits) -> Option<SystemTime> {
        // A declared limit past what a `SystemTime` can hold is no end.
        let max = self
            .login_at
            .zip(limits.max)
            .and_then(|(t, d)| t.get().checked_add(d));
        [self.announced_end(), max, self.idle_end(limits)]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the last login or refresh answered.
    pub fn renewed_at(&self) -> Option<SystemTime> {
        self.renewed_at.map(WallStamp::get)
    }

    /// The session end the server announced last (without the profile's declared limits).
    pub fn announced_end(&self) -> Option<SystemTime> {
        self.refresh_expires_at.map(WallStamp::get)
    }

    /// The end from the declared idle limit alone (last renewal + `limits.idle`), if declared.
    pub fn idle_end(&self, limits: SessionLimits) -> Option<SystemTime> {
        self.renewed_at()
            .zip(limits.idle)
            .and_then(|(t, d)| t.checked_add(d))
    }

    /// Whether a refusal at `now` comes at or after the known end (within [`END_TOLERANCE`]).
    pub fn ended_at(&self, limits: SessionLimits, now: SystemTime) -> bool {
        self.end(limits)
            .is_some_and(|end| now + END_TOLERANCE >= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn nothing_announced_means_no_end() {
        let mut l = Lifetime::default();
        let t0 = SystemTime::now();
        l.logged_in(t0, None);
        assert_eq!(l.end(SessionLimits::default()), None);
        assert!(!l.ended_at(SessionLimits::default(), t0 + secs(86_400)));
    }

    #[test]
    fn the_earliest_announced_or_declared_end_counts() {
        let t0 = SystemTime::now();
        let mut l = Lifetime::default();
        l.logged_in(t0, Some(t0 + secs(60)));
        let none = SessionLimits::default();
        assert_eq!(l.end(none), Some(t0 + secs(60)));
        assert!(!l.ended_at(none, t0 + secs(30)));
        assert!(l.ended_at(none, t0 + secs(59)), "within the tolerance");
        assert!(l.ended_at(none, t0 + secs(61)));
        // A refresh that announces a new expiry moves it; one that says nothing keeps it.
        l.renewed(t0 + secs(50), Some(t0 + secs(110)));
        assert_eq!(l.end(none), Some(t0 + secs(110)));
        l.renewed(t0 + secs(100), None);
        assert_eq!(l.end(none), Some(t0 + secs(110)));
        // Declared limits: max from the login, idle from the last renewal.
        let max = SessionLimits {
            max: Some(secs(90)),
            ..SessionLimits::default()
        };
        assert_eq!(l.end(max), Some(t0 + secs(90)));
        let idle = SessionLimits {
            idle: Some(secs(5)),
            ..SessionLimits::default()
        };
        assert_eq!(l.end(idle), Some(t0 + secs(105)));
        // A new login starts over.
        l.logged_in(t0 + secs(200), None);
        assert_eq!(l.end(max), Some(t0 + secs(290)));
    }
}
