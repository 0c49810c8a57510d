//! Server-side sessions behind a cookie (`--session-mode cookie`), the way most web frameworks
//! authenticate their own pages and JSON APIs (Django's `SessionMiddleware`, Rails' cookie
//! store with `reset_session`, express-session, Spring Session).
//!
//! A login creates a session: a random id the client holds in the `sessionid` cookie, the user,
//! and an expiry `access_ttl` ahead. Every request that presents a live session slides the expiry
//! another `access_ttl` ahead (Django's `SESSION_SAVE_EVERY_REQUEST`), never past `max_session`
//! after the login; the route re-sets the cookie with the new `Max-Age`. Logout and the admin
//! logout delete sessions; an expired session is refused (and dropped). The CSRF token is not
//! session state: like Django's default (`CSRF_USE_SESSIONS = False`), the `csrftoken` cookie
//! holds it and an unsafe request must echo it in `X-CSRFToken` (see [`crate::routes::cookie`]).
//!
//! Sessions live in 64 mutex-guarded shards keyed by id; each user's session ids sit in a second
//! sharded index (admin logout). Expired sessions are dropped when met or by [`CookieSessions::prune`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::tokens::{id_string, random_u128};

const SHARDS: usize = 64;

/// One live session.
#[derive(Debug, Clone, Copy)]
struct Entry {
    user: u64,
    /// Slides with every request.
    expires: Instant,
    /// `login + max_session`: the expiry never passes it.
    deadline: Instant,
}

/// Why a presented session id is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No cookie was sent.
    Missing,
    /// The id names no session (never issued, logged out, revoked by an admin).
    Unknown,
    /// The session ran out (idle past its `Max-Age`, or past `max_session`).
    Expired,
}

impl Refused {
    /// The `error` code of the 401 answer.
    pub fn code(self) -> &'static str {
        match self {
            Refused::Missing => "not_authenticated",
            Refused::Unknown => "session_invalid",
            Refused::Expired => "session_expired",
        }
    }

    /// The `error_description` of the 401 answer.
    pub fn describe(self) -> &'static str {
        match self {
            Refused::Missing => "no session cookie was sent",
            Refused::Unknown => "the session does not exist (logged out or revoked)",
            Refused::Expired => "the session expired",
        }
    }
}

/// A live session after a request slid it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// The user number (`user{n}`).
    pub user: u64,
    /// What is left until the (slid) expiry: the cookie's new `Max-Age`.
    pub left: Duration,
}

/// Counters of the cookie mode (in `GET /admin/stats` under `cookie_sessions`).
#[derive(Debug, Default)]
pub struct CookieCounters {
    pub logins: AtomicU64,
    pub login_failures: AtomicU64,
    pub requests: AtomicU64,
    pub slid: AtomicU64,
    pub refused: AtomicU64,
    pub csrf_rejected: AtomicU64,
    pub origin_rejected: AtomicU64,
    pub logouts: AtomicU64,
    pub admin_logouts: AtomicU64,
}

/// A snapshot of [`CookieCounters`] and the live session count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CookieStats {
    pub logins: u64,
    pub login_failures: u64,
    pub requests: u64,
    pub slid: u64,
    pub refused: u64,
    pub csrf_rejected: u64,
    pub origin_rejected: u64,
    pub logouts: u64,
    pub admin_logouts: u64,
    pub live: u64,
}

/// Every cookie session of the server.
pub struct CookieSessions {
    ttl: Duration,
    max: Duration,
    shards: Vec<Mutex<HashMap<u128, Entry>>>,
    by_user: Vec<Mutex<HashMap<u64, Vec<u128>>>>,
    /// The counters.
    pub counters: CookieCounters,
}

fn shard_of(x: u64) -> usize {
    (x as usize) % SHARDS
}

impl CookieSessions {
    /// Sessions that idle out after `ttl` and never outlive `max` from their login.
    pub fn new(ttl: Duration, max: Duration) -> CookieSessions {
        CookieSessions {
            ttl,
            max,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            by_user: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            counters: CookieCounters::default(),
        }
    }

    /// The idle lifetime (the cookie's `Max-Age` at login).
    pub fn ttl(&self) -> Duration {
        self.ttl.min(self.max)
    }

    fn shard(&self, id: u128) -> &Mutex<HashMap<u128, Entry>> {
        &self.shards[shard_of(id as u64)]
    }

    /// A new session for user `n`: its id (the cookie value).
    pub fn create(&self, user: u64) -> String {
        let id = random_u128();
        let now = Instant::now();
        let entry = Entry {
            user,
            expires: now + self.ttl(),
            deadline: now + self.max,
        };
        self.shard(id).lock().insert(id, entry);
        self.by_user[shard_of(user)]
            .lock()
            .entry(user)
            .or_default()
            .push(id);
        self.counters.logins.fetch_add(1, Ordering::Relaxed);
        id_string(id)
    }

    /// Authenticates the session `cookie` names and slides its expiry.
    pub fn touch(&self, cookie: Option<&str>) -> Result<Live, Refused> {
        let cookie = cookie.ok_or(Refused::Missing)?;
        let id = crate::tokens::parse_id(cookie).ok_or(Refused::Unknown)?;
        let now = Instant::now();
        let mut shard = self.shard(id).lock();
        let entry = shard.get_mut(&id).ok_or(Refused::Unknown)?;
        if now >= entry.expires {
            let user = entry.user;
            shard.remove(&id);
            drop(shard);
            self.unindex(user, id);
            return Err(Refused::Expired);
        }
        entry.expires = (now + self.ttl).min(entry.deadline);
        self.counters.slid.fetch_add(1, Ordering::Relaxed);
        Ok(Live {
            user: entry.user,
            left: entry.expires - now,
        })
    }

    /// Ends the session `cookie` names; `true` when there was one.
    pub fn logout(&self, cookie: Option<&str>) -> bool {
        let Some(id) = cookie.and_then(crate::tokens::parse_id) else {
            return false;
        };
        let removed = self.shard(id).lock().remove(&id);
        match removed {
            Some(e) => {
                self.unindex(e.user, id);
                self.counters.logouts.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Ends every session of user `n`; how many there were.
    pub fn logout_user(&self, user: u64) -> usize {
        let ids = self.by_user[shard_of(user)]
            .lock()
            .remove(&user)
            .unwrap_or_default();
        let mut n = 0;
        for id in ids {
            if self.shard(id).lock().remove(&id).is_some() {
                n += 1;
            }
        }
        self.counters
            .admin_logouts
            .fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    fn unindex(&self, user: u64, id: u128) {
        let mut idx = self.by_user[shard_of(user)].lock();
        if let Some(list) = idx.get_mut(&user) {
            list.retain(|x| *x != id);
            if list.is_empty() {
                idx.remove(&user);
            }
        }
    }

    /// Drops every expired session (run periodically).
    pub fn prune(&self) {
        let now = Instant::now();
        for shard in &self.shards {
            let gone: Vec<(u128, u64)> = {
                let mut s = shard.lock();
                let gone: Vec<(u128, u64)> = s
                    .iter()
                    .filter(|(_, e)| now >= e.expires)
                    .map(|(id, e)| (*id, e.user))
                    .collect();
                for (id, _) in &gone {
                    s.remove(id);
                }
                gone
            };
            for (id, user) in gone {
                self.unindex(user, id);
            }
        }
    }

    /// Live sessions (expired ones not yet pruned included).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters now.
    pub fn stats(&self) -> CookieStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CookieStats {
            logins: get(&c.logins),
            login_failures: get(&c.login_failures),
            requests: get(&c.requests),
            slid: get(&c.slid),
            refused: get(&c.refused),
            csrf_rejected: get(&c.csrf_rejected),
            origin_rejected: get(&c.origin_rejected),
            logouts: get(&c.logouts),
            admin_logouts: get(&c.admin_logouts),
            live: self.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slides_and_expires() {
        let s = CookieSessions::new(Duration::from_millis(60), Duration::from_secs(60));
        let id = s.create(7);
        assert_eq!(s.touch(Some(&id)).unwrap().user, 7);
        std::thread::sleep(Duration::from_millis(40));
        // Touched 40 ms in: slid another 60 ms.
        assert!(s.touch(Some(&id)).is_ok());
        std::thread::sleep(Duration::from_millis(40));
        assert!(s.touch(Some(&id)).is_ok(), "the slide kept it alive");
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(s.touch(Some(&id)), Err(Refused::Expired));
        assert_eq!(s.touch(Some(&id)), Err(Refused::Unknown));
        assert_eq!(s.touch(None), Err(Refused::Missing));
        assert_eq!(s.touch(Some("garbage")), Err(Refused::Unknown));
    }

    #[test]
    fn never_slides_past_the_maximum() {
        let s = CookieSessions::new(Duration::from_secs(60), Duration::from_millis(50));
        let id = s.create(1);
        let left = s.touch(Some(&id)).unwrap().left;
        assert!(left <= Duration::from_millis(50), "{left:?}");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(s.touch(Some(&id)), Err(Refused::Expired));
    }

    #[test]
    fn logout_and_admin_logout_end_sessions() {
        let s = CookieSessions::new(Duration::from_secs(60), Duration::from_secs(60));
        let a = s.create(1);
        let b = s.create(1);
        let c = s.create(2);
        assert!(s.logout(Some(&a)));
        assert!(!s.logout(Some(&a)));
        assert_eq!(s.touch(Some(&a)), Err(Refused::Unknown));
        assert_eq!(s.logout_user(1), 1);
        assert_eq!(s.touch(Some(&b)), Err(Refused::Unknown));
        assert!(s.touch(Some(&c)).is_ok());
        assert_eq!(s.len(), 1);
        let st = s.stats();
        assert_eq!((st.logins, st.logouts, st.admin_logouts), (3, 1, 1));
    }
}
