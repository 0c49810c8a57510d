//! The authorization core shared by both APIs (OAuth form endpoints and the seed-style JSON API):
//! login, refresh with rotation / reuse detection / grace, logout, revocation, introspection,
//! resource-server authentication and admin logout. Routes only translate HTTP to these calls
//! and their results back to HTTP.
//!
//! Every flaw that changes token semantics is consulted here, each at exactly one place
//! (search for `Flaw::`).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};

use crate::config::MockConfig;
use crate::flaws::{Flaw, Flaws};
use crate::stats::Counters;
use crate::store::{self, Family, FamilyState, GraceEntry, Issued, RevokeCause, Store};
use crate::tokens::{
    AccessClaims, AccessTokens, RefreshId, RefreshTokens, TokenError, VerifyPolicy, now_ms,
    random_u128,
};

/// How long the `revocation-lapses` flaw remembers a logout or revocation.
const REVOCATION_LAPSE: Duration = Duration::from_millis(300);

/// Why a grant (login or refresh) was refused. Always `invalid_grant` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("invalid username or password")]
    BadCredentials,
    #[error("the refresh token is malformed or unknown")]
    UnknownRefreshToken,
    #[error("the refresh token has expired")]
    RefreshExpired,
    #[error("the session has reached its maximum lifetime")]
    SessionEnded,
    #[error("the session ended after the idle timeout without a refresh")]
    SessionIdle,
    #[error("the refresh token was already used (rotated out)")]
    AlreadyRotated,
    #[error("refresh token reuse detected; the session has been revoked")]
    ReuseDetected,
    #[error("{}", .0.describe())]
    Revoked(RevokeCause),
    /// The `generic-session-end` flaw's one answer for every end of a session.
    #[error("the session has ended")]
    Ended,
}

impl GrantError {
    /// Whether the refusal says the session is over (expired, ended, idle, revoked).
    fn ends_session(self) -> bool {
        matches!(
            self,
            GrantError::RefreshExpired
                | GrantError::SessionEnded
                | GrantError::SessionIdle
                | GrantError::Revoked(_)
        )
    }
}

/// Why the resource server refused a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token at all (no `error` attribute in WWW-Authenticate).
    #[error("no bearer token")]
    Missing,
    #[error("{0}")]
    Invalid(TokenError),
    #[error("the access token has expired")]
    Expired,
    #[error("the access token has been revoked")]
    TokenRevoked,
    #[error("the session is unknown or has ended")]
    UnknownSession,
    #[error("{}", .0.describe())]
    SessionRevoked(RevokeCause),
    /// The `generic-session-end` flaw's one answer for every end of a session.
    #[error("the session has ended")]
    Ended,
}

/// The caller of a resource request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `user{n}`.
    pub sub: Box<str>,
    /// The session, `None` for an anonymous socket (`ws-no-handshake-auth`).
    pub family: Option<Arc<Family>>,
    /// When the presented token expires (ms since epoch), `None` if it never does.
    pub expires_ms: Option<u64>,
    /// Sequence number and id of the presented access token (to notice its revocation later).
    pub access: Option<(u32, u128)>,
}

impl Principal {
    /// An unauthenticated caller (only the `ws-no-handshake-auth` flaw lets one in).
    pub fn anonymous() -> Self {
        Principal {
            sub: "anonymous".into(),
            family: None,
            expires_ms: None,
            access: None,
        }
    }
}

/// The authorization core of one server run.
pub struct Auth {
    /// Configuration.
    pub cfg: MockConfig,
    /// Enabled flaws.
    pub flaws: Flaws,
    /// Sessions.
    pub store: Store,
    /// Access-token minting and verification.
    pub access: AccessTokens,
    /// Refresh-token minting and opening.
    pub refresh_tokens: RefreshTokens,
    /// Counters.
    pub stats: Counters,
    /// The `fork-one-in-four` flaw's bookkeeping (`None` without the flaw).
    fork_one_in_four: Option<Mutex<SometimesRacy>>,
}

/// Which sessions rotate racily under the `fork-one-in-four` flaw: every 4th login of a user.
/// Only kept while the flaw is on (a test server), so it is allowed to grow.
#[derive(Default)]
struct SometimesRacy {
    logins: std::collections::HashMap<u64, u64>,
    racy: std::collections::HashSet<u128>,
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// When an idle session ends: what the server does and what it says (the same, but for the
/// `idle-*` flaws).
struct IdleEnd {
    /// The end [`Auth::idle_over`] holds the session to (ms since the epoch).
    enforced: u64,
    /// The end announced in `refresh_expires_in`.
    announced: u64,
}

/// What a token presented at the refresh grant resolves to.
struct Presented {
    family: Arc<Family>,
    /// The generation it carries; `None` = treat as the current one (an access token accepted
    /// by the `access-as-refresh` flaw).
    generation: Option<u64>,
}

impl Auth {
    /// A core for `cfg` (already validated) with these token engines.
    pub fn new(cfg: MockConfig, access: AccessTokens) -> Self {
        let flaws = Flaws::new(&cfg.flaws);
        let access = access.with_exp_millis(flaws.has(Flaw::ExpMillis));
        Auth {
            fork_one_in_four: flaws
                .has(Flaw::ForkOneInFour)
                .then(|| Mutex::new(SometimesRacy::default())),
            flaws,
            cfg,
            store: Store::new(),
            access,
            refresh_tokens: RefreshTokens::new(),
            stats: Counters::default(),
        }
    }

    fn access_expiry_s(&self, now_ms: u64) -> u64 {
        (now_ms + ms(self.cfg.access_ttl)).div_ceil(1000)
    }

    /// Mints an access token for the session.
    pub fn mint_access(&self, family: &Family, now_ms: u64) -> String {
        self.mint_access_until(family, now_ms, self.access_expiry_s(now_ms))
    }

    /// Mints an access token for the session that expires at `exp` (seconds since the epoch).
    fn mint_access_until(&self, family: &Family, now_ms: u64, exp: u64) -> String {
        let seq = family.next_access(exp * 1000);
        let mut jti = ((seq as u128) << 96) | (random_u128() & ((1u128 << 96) - 1));
        if self.flaws.has(Flaw::AccessDiesEarly) {
            // The mint instant, for the resource server's early end (`judge_session`).
            jti = (jti & !u128::from(u64::MAX)) | u128::from(now_ms);
        }
        self.access
            .mint(&family.subject(), family.sid, jti, now_ms / 1000, exp)
    }

    fn issue(
        &self,
        family: &Family,
        refresh_token: String,
        rt_expires_ms: u64,
        now_ms: u64,
    ) -> Issued {
        family.note_refresh_expiry(rt_expires_ms);
        Issued {
            access_token: self.mint_access(family, now_ms),
            token_type: "Bearer",
            expires_in: self.cfg.access_ttl.as_secs_f64().ceil() as u64,
            refresh_token,
            refresh_expires_in: rt_expires_ms.saturating_sub(now_ms) / 1000,
            session_id: family.sid_str.to_string(),
        }
    }

    /// Password grant.
    pub fn login(&self, username: &str, password: &str) -> Result<Issued, GrantError> {
        let Some(user) = store::parse_user(username, self.cfg.users)
            .filter(|n| store::password_ok(*n, password))
        else {
            Counters::inc(&self.stats.login_failures);
            return Err(GrantError::BadCredentials);
        };
        let now = now_ms();
        let deadline = now + ms(self.cfg.max_session);
        let rt_expires = (now + ms(self.cfg.refresh_ttl)).min(deadline);
        let idle = self.idle_end(now, deadline);
        let limit = if self.flaws.has(Flaw::SessionLimitIgnored) {
            None
        } else {
            self.cfg.session_limit().map(|n| n as usize)
        };
        let opened = self
            .store
            .open(user, now, rt_expires, deadline, idle.enforced, limit);
        for old in &opened.replaced {
            if self.revoke_session(old, RevokeCause::Kicked, now) {
                Counters::inc(&self.stats.sessions_kicked);
                Counters::inc(&self.stats.families_revoked);
            }
        }
        for old in &opened.evicted {
            if self.revoke_session(old, RevokeCause::SessionLimit, now) {
                Counters::inc(&self.stats.families_revoked);
            }
        }
        let family = &opened.family;
        if let Some(sometimes) = &self.fork_one_in_four {
            let mut s = sometimes.lock();
            let n = s.logins.entry(user).or_insert(0);
            *n += 1;
            if *n % 4 == 0 {
                s.racy.insert(family.sid);
            }
        }
        let rt = self.refresh_tokens.mint(RefreshId {
            sid: family.sid,
            generation: 0,
        });
        Counters::inc(&self.stats.logins);
        Ok(self.issue(family, rt, rt_expires.min(idle.announced), now))
    }

    fn resolve_refresh(&self, token: &str) -> Option<Presented> {
        if let Some(id) = self.refresh_tokens.open(token) {
            return Some(Presented {
                family: self.store.get(id.sid)?,
                generation: Some(id.generation),
            });
        }
        if self.flaws.has(Flaw::AccessAsRefresh) {
            let claims = self.access.verify(token, VerifyPolicy::default()).ok()?;
            if claims.is_expired(now_ms()) {
                return None;
            }
            return Some(Presented {
                family: self.store.get(claims.sid)?,
                generation: None,
            });
        }
        None
    }

    /// Refresh grant.
    pub async fn refresh(&self, token: &str) -> Result<Arc<Issued>, GrantError> {
        let result = match self.resolve_refresh(token) {
            _ if self.flaws.has(Flaw::RejectAllRefresh) => Err(GrantError::UnknownRefreshToken),
            None => Err(GrantError::UnknownRefreshToken),
            Some(p)
                if self.flaws.has(Flaw::RacyRotation)
                    || self.sometimes_racy(&p.family)
                    || (p.generation.is_some_and(|g| g > 0)
                        && self.flaws.has(Flaw::RacyRotated)) =>
            {
                self.refresh_racy(token, p).await
            }
            Some(p) => self.refresh_atomic(token, p),
        };
        let result = match result {
            Err(e) if e.ends_session() && self.flaws.has(Flaw::GenericSessionEnd) => {
                Err(GrantError::Ended)
            }
            other => other,
        };
        match &result {
            Ok(_) => Counters::inc(&self.stats.refreshes),
            Err(_) => Counters::inc(&self.stats.refresh_failures),
        }
        result
    }

    /// Whether `family` is one of the racy sessions of the `fork-one-in-four` flaw.
    fn sometimes_racy(&self, family: &Family) -> bool {
        self.fork_one_in_four
            .as_ref()
            .is_some_and(|s| s.lock().racy.contains(&family.sid))
    }

    /// Whether refreshes mint a new refresh token.
    fn rotates(&self) -> bool {
        self.cfg.rotation && !self.flaws.has(Flaw::NoRotation)
    }

    /// Without rotation the presented refresh token comes back unchanged, with its expiry; the
    /// family lock is released before minting the access token.
    fn reissue(
        &self,
        family: &Family,
        token: &str,
        mut st: MutexGuard<'_, FamilyState>,
        now: u64,
    ) -> Arc<Issued> {
        let ends = self.on_activity(family, &mut st, now);
        drop(st);
        if self.cfg.refresh_revokes_access {
            family.revoke_issued_access();
        }
        Arc::new(self.issue(family, token.to_string(), ends, now))
    }

    /// Moves the family to refresh-token generation `next` (a fresh refresh lifetime, capped by
    /// the session deadline) and issues its tokens.
    fn rotate_to(&self, family: &Family, st: &mut FamilyState, next: u64, now: u64) -> Arc<Issued> {
        st.rt_expires_ms = (now + ms(self.cfg.refresh_ttl)).min(st.deadline_ms);
        let ends = self.on_activity(family, st, now);
        st.generation = next;
        let rt = self.refresh_tokens.mint(RefreshId {
            sid: family.sid,
            generation: next,
        });
        Arc::new(self.issue(family, rt, ends, now))
    }

    /// A refresh at `now` is activity: the idle clock restarts (never past the session's
    /// deadline). Returns the end to announce in `refresh_expires_in`: the earlier of the
    /// refresh token's expiry and the restarted idle end.
    fn on_activity(&self, family: &Family, st: &mut FamilyState, now: u64) -> u64 {
        let idle = self.idle_end(now, st.deadline_ms);
        if !self.flaws.has(Flaw::IdleNotExtended) {
            st.idle_until_ms = idle.enforced;
        }
        // Kept until it can no longer be refreshed (the announced end may come earlier or later).
        family.note_refresh_expiry(st.rt_expires_ms.min(st.idle_until_ms));
        st.rt_expires_ms.min(idle.announced)
    }

    /// The successor pair a grace replay gets again, with its refresh lifetime counted from
    /// `now` (the pair was minted earlier: announcing its original lifetime would overstate it).
    fn same_successor(
        &self,
        family: &Family,
        issued: Arc<Issued>,
        ends: u64,
        now: u64,
    ) -> Arc<Issued> {
        family.note_refresh_expiry(ends);
        let left = ends.saturating_sub(now) / 1000;
        if issued.refresh_expires_in == left {
            return issued;
        }
        Arc::new(Issued {
            refresh_expires_in: left,
            ..(*issued).clone()
        })
    }

    /// The idle end of a session active at `now`: `--idle-timeout` later, never past its
    /// `deadline`; `u64::MAX` without an idle timeout.
    fn idle_end(&self, now: u64, deadline: u64) -> IdleEnd {
        if self.cfg.idle_timeout.is_zero() {
            return IdleEnd {
                enforced: u64::MAX,
                announced: u64::MAX,
            };
        }
        let timeout = ms(self.cfg.idle_timeout);
        let announced = (now + timeout).min(deadline);
        let enforced = if self.flaws.has(Flaw::IdleNever) {
            u64::MAX
        } else if self.flaws.has(Flaw::IdleEarly) {
            (now + timeout / 2).min(deadline)
        } else {
            announced
        };
        IdleEnd {
            enforced,
            announced,
        }
    }

    /// Whether the session has been idle too long at `now`.
    fn idle_over(&self, st: &FamilyState, now: u64) -> bool {
        now >= st.idle_until_ms
    }

    /// Rotation under the family lock: check and act are one step.
    fn refresh_atomic(&self, token: &str, p: Presented) -> Result<Arc<Issued>, GrantError> {
        let family = &p.family;
        let now = now_ms();
        let mut st = family.state.lock();
        if let Some(cause) = family.revoked() {
            return Err(GrantError::Revoked(cause));
        }
        let generation = p.generation.unwrap_or(st.generation);
        if generation > st.generation {
            return Err(GrantError::UnknownRefreshToken);
        }
        if generation < st.generation {
            let grace = ms(self.cfg.reuse_grace);
            if let Some(g) = &st.grace
                && g.generation == generation
                && generation + 1 == st.generation
                && now.saturating_sub(g.rotated_ms) <= grace
            {
                if self.idle_over(&st, now) {
                    return Err(GrantError::SessionIdle);
                }
                Counters::inc(&self.stats.grace_hits);
                let grace_issued = g.issued.clone();
                // A replay inside the grace window is activity too.
                let ends = self.on_activity(family, &mut st, now);
                if self.flaws.has(Flaw::GraceNewSuccessor) {
                    // A second token of the current generation: a second live chain.
                    let rt = self.refresh_tokens.mint(RefreshId {
                        sid: family.sid,
                        generation: st.generation,
                    });
                    drop(st);
                    return Ok(Arc::new(self.issue(family, rt, ends, now)));
                }
                drop(st);
                return Ok(self.same_successor(family, grace_issued, ends, now));
            }
            if !self.flaws.has(Flaw::ReuseAllowed) {
                drop(st);
                return Err(self.on_reuse(family, now));
            }
            // reuse-allowed: the rotated-out token rotates again as if it were current.
        }
        if generation > 0 && self.flaws.has(Flaw::OneShotRotation) {
            return Err(GrantError::AlreadyRotated);
        }
        if self.flaws.has(Flaw::SessionEndsEarly)
            && now + ms(self.cfg.max_session) / 2 >= st.deadline_ms
        {
            return Err(GrantError::SessionEnded);
        }
        if now >= st.rt_expires_ms {
            return Err(if now >= st.deadline_ms {
                GrantError::SessionEnded
            } else {
                GrantError::RefreshExpired
            });
        }
        if self.idle_over(&st, now) {
            return Err(GrantError::SessionIdle);
        }
        // rotate-once: a token issued by a rotation comes back unchanged.
        if !self.rotates() || (generation > 0 && self.flaws.has(Flaw::RotateOnce)) {
            return Ok(self.reissue(family, token, st, now));
        }
        let previous = st.generation;
        let next = previous + 1;
        if self.flaws.has(Flaw::SessionExtends) {
            st.deadline_ms = now + ms(self.cfg.max_session);
        }
        if self.cfg.refresh_revokes_access {
            family.revoke_issued_access();
        }
        let issued = self.rotate_to(family, &mut st, next, now);
        st.grace = (!self.cfg.reuse_grace.is_zero()).then(|| GraceEntry {
            generation: previous,
            rotated_ms: now,
            issued: issued.clone(),
        });
        Ok(issued)
    }

    /// The `racy-rotation` flaw: check, yield (long enough for concurrent requests to pass the
    /// same check), then act without re-checking. Concurrent refreshes of one token all succeed,
    /// each with its own successor.
    async fn refresh_racy(&self, token: &str, p: Presented) -> Result<Arc<Issued>, GrantError> {
        let family = &p.family;
        {
            let st = family.state.lock();
            if let Some(cause) = family.revoked() {
                return Err(GrantError::Revoked(cause));
            }
            let generation = p.generation.unwrap_or(st.generation);
            if generation != st.generation {
                let older = generation < st.generation;
                drop(st);
                return Err(if older {
                    self.on_reuse(family, now_ms())
                } else {
                    GrantError::UnknownRefreshToken
                });
            }
            if now_ms() >= st.rt_expires_ms {
                return Err(GrantError::RefreshExpired);
            }
            if self.idle_over(&st, now_ms()) {
                return Err(GrantError::SessionIdle);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = now_ms();
        let mut st = family.state.lock();
        let generation = p.generation.unwrap_or(st.generation);
        if !self.rotates() {
            return Ok(self.reissue(family, token, st, now));
        }
        Ok(self.rotate_to(family, &mut st, generation + 1, now))
    }

    /// A rotated-out refresh token came back outside the grace window.
    fn on_reuse(&self, family: &Family, now: u64) -> GrantError {
        if !self.cfg.reuse_detection {
            return GrantError::AlreadyRotated;
        }
        Counters::inc(&self.stats.reuse_detected);
        if self.flaws.has(Flaw::NoFamilyRevocation) {
            return GrantError::AlreadyRotated;
        }
        if self.revoke_session(family, RevokeCause::Reuse, now) {
            Counters::inc(&self.stats.families_revoked);
        }
        GrantError::ReuseDetected
    }

    /// The `revocation-lapses` flaw: [`REVOCATION_LAPSE`] after a logout or revocation, the
    /// session (`jti: None`) or the one revoked access token is live again.
    fn forget_later(&self, family: &Arc<Family>, jti: Option<u128>) {
        if !self.flaws.has(Flaw::RevocationLapses) {
            return;
        }
        let family = family.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REVOCATION_LAPSE).await;
            match jti {
                Some(jti) => family.forget_jti(jti),
                None => family.forget_revocation(),
            }
        });
    }

    /// Revokes a session for `cause` and wakes its channels when the server tells them of such
    /// an end ([`RevokeCause::told`]); whether this call revoked it.
    fn revoke_session(&self, family: &Family, cause: RevokeCause, now: u64) -> bool {
        self.store
            .revoke(family, cause, now, cause.told(self.flaws))
    }

    /// Ends a session on logout or refresh-token revocation.
    fn end_session(&self, family: &Arc<Family>, now: u64) {
        Counters::inc(&self.stats.logouts);
        if self.flaws.has(Flaw::LogoutKeepsRefresh) {
            // Access tokens and sockets end as they should; the refresh token lives on.
            family.revoke_issued_access();
            if RevokeCause::Logout.told(self.flaws) {
                family.notify();
            }
            return;
        }
        if self.revoke_session(family, RevokeCause::Logout, now) {
            Counters::inc(&self.stats.families_revoked);
            self.forget_later(family, None);
        }
        if self.flaws.has(Flaw::LogoutEndsAllSessions) {
            for other in self.store.take_sessions(family.user) {
                if self.revoke_session(&other, RevokeCause::Logout, now) {
                    Counters::inc(&self.stats.families_revoked);
                }
            }
        }
    }

    /// The family of a refresh token that is current (or the immediate predecessor in grace).
    fn family_of_current_refresh(&self, token: &str) -> Option<Arc<Family>> {
        let id = self.refresh_tokens.open(token)?;
        let family = self.store.get(id.sid)?;
        let current = {
            let st = family.state.lock();
            id.generation == st.generation
                || st.grace.as_ref().is_some_and(|g| {
                    g.generation == id.generation
                        && now_ms().saturating_sub(g.rotated_ms) <= ms(self.cfg.reuse_grace)
                })
        };
        current.then_some(family)
    }

    /// `/api/auth/logout`: ends the session of the refresh token and/or the access token.
    /// Returns whether a session was found.
    pub fn logout(&self, refresh_token: Option<&str>, access_token: Option<&str>) -> bool {
        let now = now_ms();
        let mut found = false;
        if let Some(f) = refresh_token.and_then(|t| self.family_of_current_refresh(t)) {
            self.end_session(&f, now);
            found = true;
        }
        if let Some(t) = access_token
            && let Ok(c) = self.access.verify(t, VerifyPolicy::default())
            && !c.is_expired(now)
            && let Some(f) = self.store.get(c.sid)
            && f.is_live()
            && !f.access_revoked(c.seq(), c.jti)
        {
            self.end_session(&f, now);
            found = true;
        }
        found
    }

    /// RFC 7009 revocation. A refresh token ends its session (and the session's access tokens);
    /// an access token is revoked by its jti. Unknown tokens are ignored. Returns whether the
    /// token is one this server issued (revoked now, or already dead).
    pub fn revoke(&self, token: &str, hint: Option<&str>) -> bool {
        Counters::inc(&self.stats.revocations);
        let now = now_ms();
        let as_refresh = |t: &str| match self.family_of_current_refresh(t) {
            Some(f) => {
                self.end_session(&f, now);
                true
            }
            None => false,
        };
        let as_access = |t: &str| match self.access.verify(t, VerifyPolicy::default()) {
            Ok(c) => {
                if let Some(f) = self.store.get(c.sid) {
                    f.revoke_jti(c.jti, c.exp.saturating_mul(1000), now);
                    self.forget_later(&f, Some(c.jti));
                }
                true
            }
            Err(_) => false,
        };
        // The hint is not needed: an opaque refresh token never parses as a JWT and vice versa.
        let _ = hint;
        as_refresh(token) || as_access(token) || self.refresh_tokens.open(token).is_some()
    }

    /// RFC 7662 introspection response.
    /// Whether `token` is an access token this server issued (a valid signature; expired or
    /// revoked ones too).
    pub fn is_access_token(&self, token: &str) -> bool {
        self.access.verify(token, VerifyPolicy::default()).is_ok()
    }

    pub fn introspect(&self, token: &str) -> serde_json::Value {
        Counters::inc(&self.stats.introspections);
        let now = now_ms();
        if let Some(id) = self.refresh_tokens.open(token)
            && let Some(f) = self.store.get(id.sid)
            && f.is_live()
        {
            let st = f.state.lock();
            if st.generation == id.generation && now < st.rt_expires_ms {
                return serde_json::json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "sub": f.subject(),
                    "sid": &*f.sid_str,
                    "exp": st.rt_expires_ms / 1000,
                    "iss": self.access.issuer(),
                });
            }
        }
        if let Ok(c) = self.access.verify(token, VerifyPolicy::default())
            && (self.check_session(&c, now).is_ok()
                || self.flaws.has(Flaw::IntrospectRevokedActive) && !c.is_expired(now))
        {
            return serde_json::json!({
                "active": true,
                "token_type": "access_token",
                "sub": &*c.sub,
                "sid": crate::tokens::id_string(c.sid),
                "jti": crate::tokens::id_string(c.jti),
                "exp": c.exp,
                "iat": c.iat,
                "iss": self.access.issuer(),
                "aud": self.access.audience(),
            });
        }
        serde_json::json!({ "active": false })
    }

    /// Expiry and revocation checks of verified access-token claims (the `generic-session-end`
    /// flaw answers each refusal with the same [`AuthError::Ended`]).
    fn check_session(&self, c: &AccessClaims, now: u64) -> Result<Arc<Family>, AuthError> {
        self.judge_session(c, now).map_err(|e| {
            if self.flaws.has(Flaw::GenericSessionEnd) {
                AuthError::Ended
            } else {
                e
            }
        })
    }

    fn judge_session(&self, c: &AccessClaims, now: u64) -> Result<Arc<Family>, AuthError> {
        if c.is_expired(now) || self.dies_early(c, now) {
            return Err(AuthError::Expired);
        }
        let family = self.store.get(c.sid).ok_or(AuthError::UnknownSession)?;
        if let Some(cause) = family.revoked() {
            return Err(AuthError::SessionRevoked(cause));
        }
        if family.access_revoked(c.seq(), c.jti) {
            return Err(AuthError::TokenRevoked);
        }
        if self.cfg.access_ends_with_session {
            let st = family.state.lock();
            if now >= st.deadline_ms || self.idle_over(&st, now) {
                return Err(AuthError::UnknownSession);
            }
        }
        Ok(family)
    }

    /// The `access-dies-early` flaw: a token refused once 2/5 of the access TTL has passed since
    /// its mint instant (in the low 64 bits of its jti), whatever it announced.
    fn dies_early(&self, c: &AccessClaims, now_ms: u64) -> bool {
        if !self.flaws.has(Flaw::AccessDiesEarly) {
            return false;
        }
        let minted = c.jti as u64;
        now_ms >= minted.saturating_add(ms(self.cfg.access_ttl) * 2 / 5)
    }

    /// The resource server's check of a bearer token (`GET /api/me`, the `/ws` handshake).
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, AuthError> {
        let token = bearer.ok_or(AuthError::Missing)?;
        let policy = VerifyPolicy {
            allow_none: self.flaws.has(Flaw::AcceptAlgNone),
            skip_signature: self.flaws.has(Flaw::UnverifiedSignature),
            hs256_public_key: self.flaws.has(Flaw::Hs256KeyConfusion),
            kid_file: self.flaws.has(Flaw::KidFilePath),
        };
        let claims = match self.access.verify(token, policy) {
            Ok(c) => c,
            Err(e) => {
                if self.flaws.has(Flaw::RefreshAsAccess)
                    && let Some(p) = self.refresh_as_principal(token)
                {
                    return Ok(p);
                }
                return Err(AuthError::Invalid(e));
            }
        };
        let now = now_ms();
        // accept-expired: judge the token as if it had not expired yet; a leeway judges it as
        // that much earlier.
        let judged_at = if self.flaws.has(Flaw::AcceptExpired) {
            0
        } else {
            now.saturating_sub(ms(self.cfg.access_leeway))
        };
        let family = self.check_session(&claims, judged_at)?;
        Ok(Principal {
            sub: claims.sub.clone(),
            family: Some(family),
            expires_ms: Some(claims.exp.saturating_mul(1000)),
            access: Some((claims.seq(), claims.jti)),
        })
    }

    /// A current refresh token as a principal (only for the `refresh-as-access` flaw).
    fn refresh_as_principal(&self, token: &str) -> Option<Principal> {
        let family = self.family_of_current_refresh(token)?;
        let rt_expires = family.state.lock().rt_expires_ms;
        (family.is_live() && now_ms() < rt_expires).then(|| Principal {
            sub: family.subject().into_boxed_str(),
            family: Some(family),
            expires_ms: Some(rt_expires),
            access: None,
        })
    }

    /// Sliding renewal: a fresh access token when less than `--sliding-window` is left.
    pub fn renewal(&self, principal: &Principal) -> Option<String> {
        let window = ms(self.cfg.sliding_window);
        let (Some(family), Some(exp)) = (&principal.family, principal.expires_ms) else {
            return None;
        };
        let now = now_ms();
        if window == 0 || exp.saturating_sub(now) >= window || !family.is_live() {
            return None;
        }
        Counters::inc(&self.stats.renewals);
        if self.flaws.has(Flaw::RenewalSameExpiry) {
            return Some(self.mint_access_until(family, now, exp / 1000));
        }
        Some(self.mint_access(family, now))
    }

    /// Admin logout: revokes every session of the user. `None` if there is no such user.
    pub fn admin_logout(&self, username: &str) -> Option<usize> {
        let user = store::parse_user(username, self.cfg.users)?;
        let now = now_ms();
        let mut n = 0;
        for f in self.store.take_sessions(user) {
            if self.revoke_session(&f, RevokeCause::Admin, now) {
                Counters::inc(&self.stats.admin_logouts);
                Counters::inc(&self.stats.families_revoked);
                n += 1;
            }
        }
        Some(n)
    }

    /// Logout everywhere (`POST /api/auth/logout-all`): the caller's access token is checked like
    /// a resource request; then every session of its user is revoked and their sockets get the
    /// `logout` event (4403). Returns how many sessions were revoked.
    pub fn logout_everywhere(&self, bearer: Option<&str>) -> Result<usize, AuthError> {
        let principal = self.authenticate(bearer)?;
        let family = principal.family.ok_or(AuthError::UnknownSession)?;
        let now = now_ms();
        let sessions = if self.flaws.has(Flaw::LogoutEverywherePartial) {
            vec![family]
        } else {
            self.store.take_sessions(family.user)
        };
        let mut n = 0;
        for f in sessions {
            if self.revoke_session(&f, RevokeCause::Logout, now) {
                Counters::inc(&self.stats.logouts_everywhere);
                Counters::inc(&self.stats.families_revoked);
                n += 1;
            }
        }
        Ok(n)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> crate::stats::Stats {
        let mut s = self.stats.snapshot();
        s.sessions = self.store.len() as u64;
        s
    }
}
