//! Deliberate flaws: switches that make the mock deviate from the standards in exactly one way, so
//! that every conformance check can be shown to catch a real deviation.
//!
//! Every flaw has one uniform shape: a row in the `flaws!` table below (variant, kebab-case
//! name, one-line description) and one predicate call, `flaws.has(Flaw::X)`, at exactly one place in
//! the server (named in the description). Adding a flaw is adding a row and that one call.

use std::fmt;
use std::str::FromStr;

use crate::config::ConfigError;

macro_rules! flaws {
    ($($variant:ident => $name:literal, $desc:literal;)*) => {
        /// A deliberate deviation from the standards (see the module docs and [`Flaw::description`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Flaw { $($variant,)* }

        impl Flaw {
            /// Every flaw, in table order.
            pub const ALL: &'static [Flaw] = &[$(Flaw::$variant,)*];

            /// The kebab-case name used on the command line and in scenario files.
            pub fn name(self) -> &'static str {
                match self { $(Flaw::$variant => $name,)* }
            }

            /// One line: the exact deviation this flaw introduces, and where.
            pub fn description(self) -> &'static str {
                match self { $(Flaw::$variant => $desc,)* }
            }
        }
    };
}

flaws! {
    AcceptAlgNone => "accept-alg-none",
        "GET /api/me (and /ws) accept an unsigned access token with header alg \"none\"";
    AcceptExpired => "accept-expired",
        "GET /api/me (and /ws) accept an access token whose exp has passed";
    ForbiddenOnExpired => "forbidden-on-expired",
        "the resource server (GET /api/me, the /ws handshake) answers an expired access token with 403 instead of 401";
    NoWwwAuthenticate => "no-www-authenticate",
        "the resource server (GET /api/me, the /ws handshake) sends its 401 responses without WWW-Authenticate";
    NoRotation => "no-rotation",
        "a refresh returns the same refresh token although rotation is configured";
    RotateOnce => "rotate-once",
        "only a login's refresh token is rotated: a refresh with a token issued by a rotation returns that same token (Auth::refresh_atomic)";
    ReuseAllowed => "reuse-allowed",
        "a rotated-out refresh token still refreshes (no reuse detection, no revocation)";
    NoFamilyRevocation => "no-family-revocation",
        "reuse of a rotated-out refresh token is rejected but its family stays alive";
    RacyRotation => "racy-rotation",
        "rotation is check-then-act with a yield in between: concurrent refreshes of one token all succeed";
    RacyRotated => "racy-rotated",
        "a login's refresh token rotates atomically, but a refresh token issued by a rotation is rotated check-then-act like racy-rotation (Auth::refresh): concurrent refreshes of a rotated token all succeed";
    RefreshAsAccess => "refresh-as-access",
        "the resource server (GET /api/me, the /ws handshake) accepts a valid refresh token as bearer token";
    AccessAsRefresh => "access-as-refresh",
        "the token endpoint accepts a valid access token as refresh_token";
    LogoutKeepsRefresh => "logout-keeps-refresh",
        "logout and revocation of a refresh token leave the refresh token usable";
    RevocationLapses => "revocation-lapses",
        "logout and revocation end a session (or revoke an access token) for 300 ms only, a denylist entry that expires: then its refresh and access tokens work again (Auth::forget_later)";
    SessionExtends => "session-extends",
        "every rotation restarts the --max-session deadline (sessions never end)";
    WsNoHandshakeAuth => "ws-no-handshake-auth",
        "GET /ws upgrades without a valid token (anonymous socket, no session)";
    WsStaysOpenAfterExpiry => "ws-stays-open-after-expiry",
        "a WebSocket stays open after its access token expired (no 4401 close)";
    NoKick => "no-kick",
        "--single-session (and --max-sessions) revokes older sessions but neither notifies nor closes their sockets and streams, not even one opened after the revocation";
    SilentLogout => "silent-logout",
        "logout, refresh-token revocation, logout everywhere and the admin logout revoke the session but tell none of its channels: no event or close on its sockets and streams, no push, not even to one that looks again later (RevokeCause::told) — a server that forgot the fan-out";
    WrongCloseCode => "wrong-close-code",
        "kick, logout and expiry close sockets with 1000 and no event instead of 4409/4403/4401";
    NoCloseAfterEvent => "no-close-after-event",
        "kicks and logouts send their kicked/logout event but never close the socket: it stays open, told but not closed, until the client goes (ws::run)";
    RefreshCacheable => "refresh-cacheable",
        "the refresh grant's token response (POST /oauth/token, POST /api/auth/refresh) has no Cache-Control: no-store";
    AcceptQueryToken => "accept-query-token",
        "GET /api/me accepts the access token from the URL query (?access_token=) when no Authorization header is sent";
    RevokeUnknownError => "revoke-unknown-error",
        "POST /oauth/revoke answers a token the server never issued with 400 invalid_request instead of 200";
    IntrospectRevokedActive => "introspect-revoked-active",
        "POST /oauth/introspect answers a revoked (unexpired) access token as active";
    UnverifiedSignature => "unverified-signature",
        "the resource server (GET /api/me, the /ws handshake) does not verify access-token signatures";
    Hs256KeyConfusion => "hs256-key-confusion",
        "the resource server verifies an HS256 access token with the RS256 public key (DER, PKCS#1) as HMAC secret";
    KidFilePath => "kid-file-path",
        "the resource server verifies an HS256 access token with the contents of the file its kid names as HMAC secret";
    IllegalCloseCode => "illegal-close-code",
        "logout closes sockets with code 1006, which is never allowed on the wire, instead of 4403";
    RenewalSameExpiry => "renewal-same-expiry",
        "a sliding renewal (New-Access-Token) carries a new access token with the presented token's exp";
    CachedVerdicts => "cached-verdicts",
        "GET /api/me caches each accepted access token for an hour and then accepts it without re-checking expiry or revocation";
    RejectAllRefresh => "reject-all-refresh",
        "the token endpoint refuses every refresh grant with 400 invalid_grant (everyone is logged out at their first refresh)";
    OneShotRotation => "one-shot-rotation",
        "a refresh token issued by a rotation is refused with 400 invalid_grant: every session refreshes exactly once";
    SessionEndsEarly => "session-ends-early",
        "sessions end at half of --max-session while logins and refreshes announce the full end (refresh_expires_in)";
    GraceNewSuccessor => "grace-new-successor",
        "inside --reuse-grace the replayed predecessor gets a new successor (a second live chain) instead of the same one";
    ForkOneInFour => "fork-one-in-four",
        "every 4th session of a user (its 4th, 8th... login) rotates like racy-rotation: concurrent refreshes fork in one round out of four";
    BareBearerChallenge => "bare-bearer-challenge",
        "the resource server's 401 for an invalid access token says WWW-Authenticate: Bearer realm=... without error=\"invalid_token\"";
    Scope401 => "scope-401",
        "GET /api/admin answers a valid access token that lacks scope admin with 401 invalid_token instead of 403 insufficient_scope";
    IntrospectOpen => "introspect-open",
        "POST /oauth/introspect answers a caller without the admin key as it answers the admin (guard::IntrospectionCaller): anyone can test tokens";
    IntrospectUnauthenticated400 => "introspect-unauthenticated-400",
        "POST /oauth/introspect refuses a caller without the admin key with 400 invalid_request instead of 401 (guard::IntrospectionCaller)";
    IntrospectNoAccessTokens => "introspect-no-access-tokens",
        "POST /oauth/introspect does not introspect access tokens: a genuine one (live or not) gets 400 unsupported_token_type instead of an introspection response";
    IdleNever => "idle-never",
        "--idle-timeout is announced (refresh_expires_in) but never enforced: an idle session refreshes however long it was left alone";
    IdleEarly => "idle-early",
        "a session ends after half of --idle-timeout without a refresh, while refresh_expires_in announces the full timeout";
    IdleNotExtended => "idle-not-extended",
        "a refresh does not restart the --idle-timeout clock (sessions end that long after login however active they are), while refresh_expires_in announces the restarted one";
    SessionLimitIgnored => "session-limit-ignored",
        "--single-session and --max-sessions are not enforced at login: a login beyond the limit ends no older session";
    LogoutEverywherePartial => "logout-everywhere-partial",
        "POST /api/auth/logout-all ends only the session of the presented access token; the user's other sessions stay live";
    LogoutEndsAllSessions => "logout-ends-all-sessions",
        "logout and refresh-token revocation end every session of the user, not only the logged-out one";
    ExpMillis => "exp-millis",
        "access tokens carry their exp claim in milliseconds since the epoch instead of seconds (AccessTokens::with_exp_millis), ~55 000 years ahead, while expires_in and the server's own expiry stay right";
    AccessDiesEarly => "access-dies-early",
        "the resource server (GET /api/me, the /ws handshake) refuses an access token (401 invalid_token, \"expired\") once 2/5 of --access-ttl has passed since it was minted, while expires_in and its exp announce the whole (the token carries its mint instant in the low 64 bits of its jti: Auth::judge_session)";
    AcceptAnyToken => "accept-any-token",
        "GET /api/me answers 200 (sub \"anonymous\") to any bearer token it cannot verify — made up, tampered, expired, revoked — as a resource server whose token check is switched off; a request without a token is still refused";
    GenericSessionEnd => "generic-session-end",
        "every end of a session gets one generic signal: refresh refusals (Auth::refresh) and resource 401s (Auth::check_session) say \"the session has ended\" whether it expired, was logged out, revoked or replaced, and kicks and logouts close sockets with 4403 \"session ended\" without an event (ws::finish)";
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flaw {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Flaw::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ConfigError::UnknownFlaw {
                value: wanted.to_string(),
                hint: crate::config::hint(wanted, Flaw::ALL.iter().map(|f| f.name())),
                known: known_names(),
            })
    }
}

fn known_names() -> String {
    Flaw::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The set of enabled flaws: a bit set consulted on hot paths (one AND per check).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flaws(u64);

impl Flaws {
    /// The set of the given flaws.
    pub fn new(flaws: &[Flaw]) -> Self {
        Flaws(flaws.iter().fold(0, |acc, f| acc | (1 << *f as u64)))
    }

    /// Whether `flaw` is enabled.
    #[inline]
    pub fn has(self, flaw: Flaw) -> bool {
        self.0 & (1 << flaw as u64) != 0
    }

    /// Whether no flaw is enabled (a conforming server).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for f in Flaw::ALL {
            assert!(seen.insert(f.name()), "duplicate flaw name {}", f.name());
            assert_eq!(f.name().parse::<Flaw>().unwrap(), *f);
            assert!(!f.description().is_empty());
        }

        assert_eq!(Flaw::ALL.len(), 51);
        assert!(Flaw::ALL.len() <= 64, "Flaws is a u64 bit set");
    }

    #[test]
    fn unknown_flaw_lists_known_ones() {
        let err = "no-kik".parse::<Flaw>().unwrap_err().to_string();
        assert!(
            err.starts_with(
                "unknown flaw \"no-kik\", did you mean `no-kick`?; known flaws: accept-alg-none,"
            ),
            "{err}"
        );
        let far = "zzzzzzzz".parse::<Flaw>().unwrap_err().to_string();
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn set_membership() {
        let s = Flaws::new(&[Flaw::NoKick, Flaw::AcceptAlgNone]);
        assert!(s.has(Flaw::NoKick) && s.has(Flaw::AcceptAlgNone));
        assert!(!s.has(Flaw::ReuseAllowed));
        assert!(Flaws::default().is_empty());
    }
}
