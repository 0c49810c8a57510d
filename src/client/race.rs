//! `refresh_race`: one client presents the same refresh token N times at once and we look at what
//! the server did with it. This tests the server, not a client strategy, so it bypasses the
//! strategy and its counters (`refresh_calls`, `refreshes_needed`). The N simultaneous attempts are
//! counted as `status.refresh_race.<code>`, the one check refresh afterwards as
//! `status.refresh_race_check.<code>` (a new login, if needed, as `status.login.<code>`), and the
//! outcome as `race.<class>`; a forked race is also one of the run's `refresh_forks`.
//!
//! Classes, first match wins:
//! - `forked`: several *distinct* successors accepted — the token chain forked (a rotation bug);
//! - `5xx`: a server error answered part of the race;
//! - `same_successor`: several successes, all with the same successor (a reuse grace window, or no
//!   rotation);
//! - `one_winner`: exactly one success, the rest rejected (atomic rotation);
//! - `family_revoked`: every attempt rejected;
//! - `error`: no success and transport errors.
//!
//! Afterwards the client keeps a working session: it adopts the winner's tokens and checks them with
//! one more refresh (`race.winner_revoked` when reuse detection had revoked the whole family,
//! RFC 9700 §4.14.2), and logs in anew when it has nothing usable.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use http::header::SET_COOKIE;

use super::session::{FailClass, Op, Session};
use super::transport::{BodyMode, prebuilt};
use crate::metrics::names;

/// How one race ended (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaceClass {
    OneWinner,
    SameSuccessor,
    Forked,
    FamilyRevoked,
    ServerError,
    Error,
    /// The client had no session (login failed) or no refresh token: no race happened.
    NoSession,
}

impl RaceClass {
    /// The `race.<class>` counter.
    pub fn counter(self) -> &'static str {
        match self {
            RaceClass::OneWinner => names::RACE_ONE_WINNER,
            RaceClass::SameSuccessor => names::RACE_SAME_SUCCESSOR,
            RaceClass::Forked => names::RACE_FORKED,
            RaceClass::FamilyRevoked => names::RACE_FAMILY_REVOKED,
            RaceClass::ServerError => names::RACE_SERVER_ERROR,
            RaceClass::Error => names::RACE_ERROR,
            RaceClass::NoSession => names::RACE_NO_SESSION,
        }
    }
}

/// The outcome of one attempt of a race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Accepted; the successor is identified by a hash of the new refresh token (or cookie).
    Accepted { successor: u64 },
    /// Rejected (`Profile::refresh_rejected`).
    Rejected,
    /// 5xx.
    ServerError,
    /// Another status (429, unexpected 3xx...).
    Other,
    /// Transport error.
    Transport,
}

/// Sorts a race's attempts into a class (pure; see the module docs).
pub fn classify(attempts: &[Attempt]) -> RaceClass {
    let mut successors: Vec<u64> = attempts
        .iter()
        .filter_map(|a| match a {
            Attempt::Accepted { successor } => Some(*successor),
            _ => None,
        })
        .collect();
    let accepted = successors.len();
    successors.sort_unstable();
    successors.dedup();
    let has = |x: Attempt| attempts.contains(&x);
    if successors.len() >= 2 {
        RaceClass::Forked
    } else if has(Attempt::ServerError) {
        RaceClass::ServerError
    } else if accepted >= 2 {
        RaceClass::SameSuccessor
    } else if accepted == 1 {
        RaceClass::OneWinner
    } else if !attempts.is_empty() && attempts.iter().all(|a| *a == Attempt::Rejected) {
        RaceClass::FamilyRevoked
    } else {
        RaceClass::Error
    }
}

/// What [`race`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceReport {
    pub class: RaceClass,
    pub attempts: Vec<Attempt>,
    /// Whether the winner's successor still refreshed afterwards (`None` without a winner).
    pub winner_kept: Option<bool>,
    /// Whether the client holds a working session at the end.
    pub logged_in: bool,
}

/// Runs one race of `parallel` refreshes for `session` and records `race.<class>`.
pub async fn race(session: &Arc<Session>, parallel: u32) -> RaceReport {
    let rec = session.env().recorder.clone();
    let shard = session.id() as usize;
    let Some(held) = session.ensure_logged_in().await else {
        rec.count(shard, RaceClass::NoSession.counter(), 1);
        return RaceReport {
            class: RaceClass::NoSession,
            attempts: Vec::new(),
            winner_kept: None,
            logged_in: false,
        };
    };
    let cookie = session.cookie_header();
    if held.refresh().is_none() && cookie.is_none() {
        rec.count(shard, RaceClass::NoSession.counter(), 1);
        return RaceReport {
            class: RaceClass::NoSession,
            attempts: Vec::new(),
            winner_kept: None,
            logged_in: true,
        };
    }
    let n = parallel.max(1) as usize;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let runs = (0..n).map(|_| {
        let barrier = barrier.clone();
        let (held, cookie) = (held.clone(), cookie.clone());
        async move {
            let req = session.refresh_request(held.refresh(), cookie.as_deref());
            barrier.wait().await;
            let flight = session
                .env()
                .recorder
                .begin_request(session.id() as usize, Op::Race.name());
            let res = session
                .http()
                .exchange_with(prebuilt(req), BodyMode::Keep)
                .await;
            flight.finish();
            res
        }
    });
    let results = futures::future::join_all(runs).await;

    let mut attempts = Vec::with_capacity(n);
    let mut winner = None;
    for res in results {
        session.count_exchange(Op::Race, &res);
        let attempt = match &res {
            Err(_) => Attempt::Transport,
            Ok(r) if (200..300).contains(&r.status) => {
                match session
                    .env()
                    .profile
                    .parse_refresh_tokens(r.status, &r.headers, &r.body)
                {
                    Ok(tokens) => {
                        let successor = successor_key(tokens.refresh_token.as_deref(), &r.headers);
                        if winner.is_none() {
                            winner = Some((tokens, r.headers.clone()));
                        }
                        Attempt::Accepted { successor }
                    }
                    Err(_) => Attempt::Other,
                }
            }
            Ok(r) if r.status >= 500 => Attempt::ServerError,
            Ok(r) if session.env().profile.refresh_rejected(r.status, &r.body) => Attempt::Rejected,
            Ok(_) => Attempt::Other,
        };
        // A refused reused token is what a race expects; anything else is a failure.
        let failure = match (&attempt, &res) {
            (Attempt::Transport, _) => Some(FailClass::Transport),
            (Attempt::ServerError | Attempt::Other, Ok(r)) if (200..300).contains(&r.status) => {
                Some(FailClass::Body)
            }
            (Attempt::ServerError | Attempt::Other, Ok(r)) => Some(FailClass::of_status(r.status)),
            _ => None,
        };
        if let Some(class) = failure {
            session.count_failure(Op::Race, class, &res);
        }
        attempts.push(attempt);
    }
    let class = classify(&attempts);
    rec.count(shard, class.counter(), 1);
    if class == RaceClass::Forked {
        // One refresh token accepted with several successors.
        rec.count(shard, names::REFRESH_FORKS, 1);
    }

    let winner_kept = match winner {
        Some((tokens, headers)) => {
            session.absorb_cookies(&headers);
            session.install_tokens(tokens, false);
            let kept = session.probe_refresh(Op::RaceCheck).await;
            if kept == Some(false) {
                rec.count(shard, names::RACE_WINNER_REVOKED, 1);
            }
            kept
        }
        None => None,
    };
    let logged_in = if winner_kept == Some(true) {
        true
    } else {
        session.login().await
    };
    RaceReport {
        class,
        attempts,
        winner_kept,
        logged_in,
    }
}

/// Identifies a successor by its refresh token, else by the cookies the response set: each
/// cookie's `name=value`, not its attributes (an `Expires` computed from the clock differs between
/// two answers that hand out the same cookie, which is no fork).
pub(crate) fn successor_key(refresh: Option<&str>, headers: &http::HeaderMap) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match refresh {
        Some(rt) => rt.hash(&mut h),
        None => {
            for v in headers.get_all(SET_COOKIE) {
                let bytes = v.as_bytes();
                let pair = bytes.split(|b| *b == b';').next().unwrap_or(bytes);
                pair.trim_ascii().hash(&mut h);
            }
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Attempt::*;

    #[test]
    fn classes() {
        let a = |s| Accepted { successor: s };
        assert_eq!(classify(&[a(1), Rejected, Rejected]), RaceClass::OneWinner);
        assert_eq!(classify(&[a(1), a(1), Rejected]), RaceClass::SameSuccessor);
        assert_eq!(classify(&[a(1), a(2)]), RaceClass::Forked);
        assert_eq!(classify(&[a(1), a(2), ServerError]), RaceClass::Forked);
        assert_eq!(classify(&[a(1), ServerError]), RaceClass::ServerError);
        assert_eq!(classify(&[Rejected, Rejected]), RaceClass::FamilyRevoked);
        assert_eq!(classify(&[Rejected, Transport]), RaceClass::Error);
        assert_eq!(classify(&[Other]), RaceClass::Error);
        assert_eq!(classify(&[]), RaceClass::Error);
    }

    #[test]
    fn successor_keys() {
        let empty = http::HeaderMap::new();
        assert_eq!(
            successor_key(Some("rt-a"), &empty),
            successor_key(Some("rt-a"), &empty)
        );
        assert_ne!(
            successor_key(Some("rt-a"), &empty),
            successor_key(Some("rt-b"), &empty)
        );
        let mut h = http::HeaderMap::new();
        h.insert(SET_COOKIE, "refresh_token=x".parse().unwrap());
        assert_ne!(successor_key(None, &h), successor_key(None, &empty));
        let cookie = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(SET_COOKIE, v.parse().unwrap());
            successor_key(None, &h)
        };
        assert_eq!(
            cookie("rt=x; Path=/; Expires=Sat, 05 Dec 2026 19:00:00 GMT; HttpOnly"),
            cookie("rt=x; Path=/; Expires=Sat, 05 Dec 2026 19:00:01 GMT; HttpOnly"),
            "the same cookie set a second later is the same successor"
        );
        assert_ne!(cookie("rt=x; Path=/"), cookie("rt=y; Path=/"));
    }
}
