//! In-memory state: users, sessions (= refresh-token families) and their revocation.
//!
//! - Users `user{n}` / `pw-{n}` exist for n < `--users` and cost nothing until they log in.
//! - A [`Family`] is one login session: its current refresh-token generation, absolute deadline,
//!   revocation status, revoked access tokens and the watch channel its WebSockets listen on.
//!   The rotation state sits behind a per-family mutex, so rotation is atomic per family while
//!   different families never contend.
//! - Families live in a lock-free map (papaya) keyed by session id; each user's list of sessions
//!   (for `--single-session` and admin logout) lives in one of 64 mutex-guarded shards, touched
//!   only at login and logout.
//! - [`Store::prune`] (run periodically) drops sessions whose tokens have all expired and revoked
//!   sessions after a minute, so memory stays proportional to live sessions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::flaws::{Flaw, Flaws};
use crate::tokens::{id_string, random_u128};

/// Why a session was revoked. Decides the event and close code its sockets get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RevokeCause {
    /// Logout or revocation of its refresh token.
    Logout = 1,
    /// Replaced by a newer login of the same user (`--single-session`).
    Kicked = 2,
    /// A rotated-out refresh token of the family was reused.
    Reuse = 3,
    /// Admin logout of the user (the password-change case).
    Admin = 4,
    /// The user exceeded [`MAX_SESSIONS_PER_USER`]; the oldest session was ended.
    SessionLimit = 5,
}

impl RevokeCause {
    fn from_u8(v: u8) -> Option<RevokeCause> {
        Some(match v {
            1 => RevokeCause::Logout,
            2 => RevokeCause::Kicked,
            3 => RevokeCause::Reuse,
            4 => RevokeCause::Admin,
            5 => RevokeCause::SessionLimit,
            _ => return None,
        })
    }

    /// Whether the server tells the session's channels of this end — the event and close on its
    /// sockets and streams, the push to its device — when it happens and whenever a channel looks
    /// again. Not a kick under the `no-kick` flaw; not a logout or an admin logout under
    /// `silent-logout`.
    pub fn told(self, flaws: Flaws) -> bool {
        match self {
            RevokeCause::Kicked => !flaws.has(Flaw::NoKick),
            RevokeCause::Logout | RevokeCause::Admin => !flaws.has(Flaw::SilentLogout),
            RevokeCause::Reuse | RevokeCause::SessionLimit => true,
        }
    }

    /// The `error_description` text for tokens of a session revoked for this reason.
    pub fn describe(self) -> &'static str {
        match self {
            RevokeCause::Logout => "the session was logged out",
            RevokeCause::Kicked => "the session was replaced by a newer login",
            RevokeCause::Reuse => "the session was revoked after refresh token reuse",
            RevokeCause::Admin => "the session was revoked by an administrator",
            RevokeCause::SessionLimit => "the session was ended by the per-user session limit",
        }
    }
}

/// Live sessions one user may hold; a login beyond this ends the user's oldest session.
pub const MAX_SESSIONS_PER_USER: usize = 256;

/// How long a revoked session is remembered (for precise error messages) before it is dropped.
const REVOKED_RETENTION_MS: u64 = 60_000;

/// Revoked access-token ids remembered per session before the whole session's ATs are cut off.
const MAX_REVOKED_JTIS: usize = 64;

/// The rotation state of a family (behind its mutex).
#[derive(Debug)]
pub struct FamilyState {
    /// Generation of the current refresh token (0 = the one from login).
    pub generation: u64,
    /// When the current refresh token expires (ms since epoch); never after `deadline_ms`.
    pub rt_expires_ms: u64,
    /// Absolute end of the session (`--max-session` after login).
    pub deadline_ms: u64,
    /// End of the session without activity (`--idle-timeout` after the last login or refresh,
    /// never after `deadline_ms`; `u64::MAX` without an idle timeout).
    pub idle_until_ms: u64,
    /// The last rotation, kept while `--reuse-grace` is on.
    pub grace: Option<GraceEntry>,
}

impl FamilyState {
    /// The end a token response announces (`refresh_expires_in`): the refresh token's expiry or
    /// the idle end, whichever comes first (when the SSE and push channels send `session_expired`).
    pub fn announced_end_ms(&self) -> u64 {
        self.rt_expires_ms.min(self.idle_until_ms)
    }
}

/// The last rotation of a family: its predecessor may get the same answer again for a while.
#[derive(Debug)]
pub struct GraceEntry {
    /// Generation of the rotated-out token.
    pub generation: u64,
    /// When it was rotated out (ms since epoch).
    pub rotated_ms: u64,
    /// The response it got.
    pub issued: Arc<Issued>,
}

/// A token response (both APIs use the same fields).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub session_id: String,
}

/// One login session = one refresh-token family.
#[derive(Debug)]
pub struct Family {
    /// Session id (also the `sid` claim and the `session_id` field).
    pub sid: u128,
    /// `sid` as sent to clients.
    pub sid_str: Box<str>,
    /// The user number n of `user{n}`.
    pub user: u64,
    /// 0 = live, otherwise a [`RevokeCause`].
    status: AtomicU8,
    /// Sequence number of the next access token.
    at_seq: AtomicU32,
    /// Access tokens with a lower sequence number are revoked.
    at_floor: AtomicU32,
    has_revoked_jtis: AtomicBool,
    revoked_jtis: Mutex<Vec<(u128, u64)>>,
    /// Notifies this session's sockets; created by the first socket.
    events: OnceLock<watch::Sender<()>>,
    /// Drop from memory after this instant (ms since epoch).
    prune_after_ms: AtomicU64,
    /// Rotation state.
    pub state: Mutex<FamilyState>,
}

impl Family {
    /// Why the session was revoked, or `None` while it is live.
    pub fn revoked(&self) -> Option<RevokeCause> {
        RevokeCause::from_u8(self.status.load(Ordering::Acquire))
    }

    /// The `revocation-lapses` flaw: the session is live again, as if never revoked.
    pub fn forget_revocation(&self) {
        self.status.store(0, Ordering::Release);
    }

    /// Whether the session is live.
    #[inline]
    pub fn is_live(&self) -> bool {
        self.status.load(Ordering::Acquire) == 0
    }

    /// `user{n}`.
    pub fn subject(&self) -> String {
        format!("user{}", self.user)
    }

    /// Allocates the sequence number of a new access token and notes its expiry.
    pub fn next_access(&self, exp_ms: u64) -> u32 {
        self.prune_after_ms.fetch_max(exp_ms, Ordering::Relaxed);
        self.at_seq.fetch_add(1, Ordering::AcqRel)
    }

    /// Notes a refresh-token expiry (the session is kept in memory at least that long).
    pub fn note_refresh_expiry(&self, rt_expires_ms: u64) {
        self.prune_after_ms
            .fetch_max(rt_expires_ms, Ordering::Relaxed);
    }

    /// Whether the access token with this sequence number and id has been revoked.
    #[inline]
    pub fn access_revoked(&self, seq: u32, jti: u128) -> bool {
        if seq < self.at_floor.load(Ordering::Acquire) {
            return true;
        }
        self.has_revoked_jtis.load(Ordering::Acquire)
            && self.revoked_jtis.lock().iter().any(|(j, _)| *j == jti)
    }

    /// Revokes every access token issued so far (the session itself stays live).
    pub fn revoke_issued_access(&self) {
        let next = self.at_seq.load(Ordering::Acquire);
        self.at_floor.fetch_max(next, Ordering::AcqRel);
    }

    /// The `revocation-lapses` flaw: the access token `jti` is no longer revoked.
    pub fn forget_jti(&self, jti: u128) {
        self.revoked_jtis.lock().retain(|(j, _)| *j != jti);
    }

    /// Revokes one access token by id (RFC 7009 on an access token).
    pub fn revoke_jti(&self, jti: u128, exp_ms: u64, now_ms: u64) {
        let mut list = self.revoked_jtis.lock();
        list.retain(|(_, exp)| *exp > now_ms);
        if !list.iter().any(|(j, _)| *j == jti) {
            list.push((jti, exp_ms));
        }
        if list.len() > MAX_REVOKED_JTIS {
            // Too many to remember one by one: cut off every access token issued so far.
            list.clear();
            drop(list);
            self.revoke_issued_access();
            return;
        }
        self.has_revoked_jtis.store(true, Ordering::Release);
    }

    /// A receiver that wakes whenever something happens to this session (revocation, logout).
    /// Subscribe first, then check [`Family::revoked`], so no event can be missed.
    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.events.get_or_init(|| watch::channel(()).0).subscribe()
    }

    /// Wakes this session's sockets (they re-read the session state).
    pub fn notify(&self) {
        if let Some(tx) = self.events.get() {
            tx.send_replace(());
        }
    }
}

/// Parses `user{n}` with n < `users` (canonical decimal: no sign, no leading zeros).
pub fn parse_user(name: &str, users: u64) -> Option<u64> {
    name.strip_prefix("user")
        .and_then(parse_canonical)
        .filter(|n| *n < users)
}

/// Checks `pw-{n}` for user n.
pub fn password_ok(n: u64, password: &str) -> bool {
    password.strip_prefix("pw-").and_then(parse_canonical) == Some(n)
}

fn parse_canonical(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

const USER_SHARDS: usize = 64;

/// Sessions started by one login, and what the login displaced.
pub struct Opened {
    /// The new session.
    pub family: Arc<Family>,
    /// Older live sessions of the user ended by the session policy (`--single-session`,
    /// `--max-sessions`): the oldest ones beyond the limit.
    pub replaced: Vec<Arc<Family>>,
    /// Sessions ended by the per-user session limit.
    pub evicted: Vec<Arc<Family>>,
}

/// Every session and user of one server run.
pub struct Store {
    families: papaya::HashMap<u128, Arc<Family>>,
    users: Box<[UserShard]>,
}

/// Sessions per user number, for the users whose number falls into this shard.
type UserShard = Mutex<HashMap<u64, Vec<Arc<Family>>>>;

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store {
            families: papaya::HashMap::new(),
            users: (0..USER_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    fn user_shard(&self, user: u64) -> &UserShard {
        &self.users[(user % USER_SHARDS as u64) as usize]
    }

    /// Starts a session for `user`. With a session `limit` (`--single-session` = 1,
    /// `--max-sessions N`), the user's oldest live sessions beyond the limit are taken out of its
    /// list and returned in `replaced` (the caller revokes them).
    pub fn open(
        &self,
        user: u64,
        now_ms: u64,
        rt_expires_ms: u64,
        deadline_ms: u64,
        idle_until_ms: u64,
        limit: Option<usize>,
    ) -> Opened {
        let sid = random_u128();
        let family = Arc::new(Family {
            sid,
            sid_str: id_string(sid).into_boxed_str(),
            user,
            status: AtomicU8::new(0),
            at_seq: AtomicU32::new(0),
            at_floor: AtomicU32::new(0),
            has_revoked_jtis: AtomicBool::new(false),
            revoked_jtis: Mutex::new(Vec::new()),
            events: OnceLock::new(),
            prune_after_ms: AtomicU64::new(rt_expires_ms.min(idle_until_ms)),
            state: Mutex::new(FamilyState {
                generation: 0,
                rt_expires_ms,
                deadline_ms,
                idle_until_ms,
                grace: None,
            }),
        });
        self.families.pin().insert(sid, family.clone());
        let (replaced, evicted) = {
            let mut shard = self.user_shard(user).lock();
            let list = shard.entry(user).or_default();
            list.retain(|f| f.is_live() && f.state.lock().rt_expires_ms > now_ms);
            let replaced = match limit {
                Some(n) if list.len() >= n.max(1) => {
                    let excess = list.len() + 1 - n.max(1);
                    list.drain(..excess).collect()
                }
                _ => Vec::new(),
            };
            let evicted = if list.len() >= MAX_SESSIONS_PER_USER {
                let excess = list.len() + 1 - MAX_SESSIONS_PER_USER;
                list.drain(..excess).collect()
            } else {
                Vec::new()
            };
            list.push(family.clone());
            (replaced, evicted)
        };
        Opened {
            family,
            replaced,
            evicted,
        }
    }

    /// The session with this id, if it is still in memory.
    #[inline]
    pub fn get(&self, sid: u128) -> Option<Arc<Family>> {
        self.families.pin().get(&sid).cloned()
    }

    /// Takes every session of `user` out of its list (the caller revokes them).
    pub fn take_sessions(&self, user: u64) -> Vec<Arc<Family>> {
        self.user_shard(user)
            .lock()
            .remove(&user)
            .unwrap_or_default()
    }

    /// Marks the session revoked (if it was live), wakes its sockets when `notify`, and returns
    /// whether this call revoked it.
    pub fn revoke(&self, family: &Family, cause: RevokeCause, now_ms: u64, notify: bool) -> bool {
        let won = family
            .status
            .compare_exchange(0, cause as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if won {
            family
                .prune_after_ms
                .store(now_ms + REVOKED_RETENTION_MS, Ordering::Relaxed);
            if notify {
                family.notify();
            }
        }
        won
    }

    /// Sessions held in memory.
    pub fn len(&self) -> usize {
        self.families.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Drops sessions whose tokens have all expired and sessions revoked more than a minute ago.
    pub fn prune(&self, now_ms: u64) {
        self.families
            .pin()
            .retain(|_, f| f.prune_after_ms.load(Ordering::Relaxed) > now_ms);
        for shard in self.users.iter() {
            let mut shard = shard.lock();
            shard.retain(|_, list| {
                list.retain(|f| f.prune_after_ms.load(Ordering::Relaxed) > now_ms);
                !list.is_empty()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_passwords() {
        assert_eq!(parse_user("user0", 10), Some(0));
        assert_eq!(parse_user("user9", 10), Some(9));
        assert_eq!(parse_user("user10", 10), None);
        assert_eq!(parse_user("user01", 10), None);
        assert_eq!(parse_user("user", 10), None);
        assert_eq!(parse_user("user+1", 10), None);
        assert!(password_ok(7, "pw-7"));
        assert!(!password_ok(7, "pw-07"));
        assert!(!password_ok(7, "pw-8"));
    }

    #[test]
    fn single_session_replaces_and_revoke_is_once() {
        let s = Store::new();
        let a = s.open(1, 0, 1000, 1000, u64::MAX, None).family;
        let b = s.open(1, 0, 1000, 1000, u64::MAX, Some(1));
        assert_eq!(b.replaced.len(), 1);
        assert_eq!(b.replaced[0].sid, a.sid);
        assert!(s.revoke(&a, RevokeCause::Kicked, 0, true));
        assert!(!s.revoke(&a, RevokeCause::Logout, 0, true));
        assert_eq!(a.revoked(), Some(RevokeCause::Kicked));
        assert_eq!(s.take_sessions(1).len(), 1);
    }

    #[test]
    fn a_session_limit_replaces_the_oldest_beyond_it() {
        let s = Store::new();
        let a = s.open(1, 0, 1000, 1000, u64::MAX, Some(2)).family;
        let b = s.open(1, 0, 1000, 1000, u64::MAX, Some(2));
        assert!(b.replaced.is_empty(), "two sessions are within the limit");
        let c = s.open(1, 0, 1000, 1000, u64::MAX, Some(2));
        assert_eq!(c.replaced.len(), 1);
        assert_eq!(c.replaced[0].sid, a.sid, "the oldest goes");
        assert!(
            s.open(2, 0, 1000, 1000, u64::MAX, Some(2))
                .replaced
                .is_empty()
        );
        let left: Vec<u128> = s.take_sessions(1).iter().map(|f| f.sid).collect();
        assert_eq!(left, vec![b.family.sid, c.family.sid]);
    }

    #[test]
    fn prune_drops_expired_and_old_revoked() {
        let s = Store::new();
        let a = s.open(1, 0, 1000, 1000, u64::MAX, None).family;
        let b = s.open(2, 0, 5000, 5000, u64::MAX, None).family;
        s.revoke(&b, RevokeCause::Logout, 0, false);
        s.prune(2000);
        assert!(s.get(a.sid).is_none());
        assert!(s.get(b.sid).is_some(), "revoked sessions are kept a minute");
        s.prune(REVOKED_RETENTION_MS + 1);
        assert!(s.is_empty());
    }

    #[test]
    fn access_revocation() {
        let s = Store::new();
        let f = s.open(1, 0, 1000, 1000, u64::MAX, None).family;
        let first = f.next_access(500);
        f.revoke_jti(7, 500, 0);
        assert!(f.access_revoked(first, 7));
        assert!(!f.access_revoked(first, 8));
        f.revoke_issued_access();
        assert!(f.access_revoked(first, 8));
        let second = f.next_access(900);
        assert!(!f.access_revoked(second, 8));
    }
}
