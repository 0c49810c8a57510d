//! What a check is, independent of running it: id, title, the requirements it cites, its level,
//! whether it kills sessions, and what it needs from the target profile.
//!
//! The metadata is plain `const` data so that `--list`, the README catalog table and the report all
//! read the same source of truth.

use serde::Serialize;

pub use crate::report::conformance::Level;

/// Something a check needs from the target. The profile-level needs are checked before the check
/// runs (SKIP with [`Need::reason`]); the token-level ones are found out while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// A logout request in the target profile.
    Logout,
    /// An RFC 7009 revocation endpoint in the target profile.
    Revocation,
    /// An RFC 7662 introspection endpoint (with caller credentials) in the target profile.
    Introspection,
    /// An admin "log this user out everywhere" endpoint in the target profile.
    AdminLogout,
    /// A WebSocket endpoint in the target profile.
    WebSocket,
    /// A renewal header (sliding sessions) in the target profile.
    RenewalHeader,
    /// A scope-restricted resource (`scoped_resource`) in the target profile.
    ScopedResource,
    /// Refresh tokens whose value the client sees (not only in an HttpOnly cookie).
    RefreshTokenValue,
    /// Access tokens that are JWTs (found out at run time).
    JwtAccessTokens,
    /// An RSA key in the target's JWKS (found out at run time).
    RsaJwk,
    /// An access-token lifetime short enough to wait for (found out at run time).
    ShortAccessTokens,
    /// A maximum session lifetime short enough to wait for (found out at run time).
    ShortSessions,
    /// A target that ends older sessions when the same user logs in again (found out at run time).
    SingleSession,
    /// An idle timeout short enough to wait for, announced in `refresh_expires_in` (found out at
    /// run time; `authbench check` without a target runs these checks against a second builtin
    /// mock with `--idle-timeout 2s`).
    ShortIdleTimeout,
    /// A declared session policy (`session.max_sessions`) in the target profile.
    SessionPolicy,
    /// A `logout_everywhere` request in the target profile.
    LogoutEverywhere,
}

impl Need {
    /// Every need, in documentation order.
    pub const ALL: &'static [Need] = &[
        Need::Logout,
        Need::Revocation,
        Need::Introspection,
        Need::AdminLogout,
        Need::WebSocket,
        Need::RenewalHeader,
        Need::ScopedResource,
        Need::RefreshTokenValue,
        Need::JwtAccessTokens,
        Need::RsaJwk,
        Need::ShortAccessTokens,
        Need::ShortSessions,
        Need::SingleSession,
        Need::ShortIdleTimeout,
        Need::SessionPolicy,
        Need::LogoutEverywhere,
    ];

    /// A short name for tables (`ws`, `introspection`...).
    pub fn name(self) -> &'static str {
        match self {
            Need::Logout => "logout",
            Need::Revocation => "revocation",
            Need::Introspection => "introspection",
            Need::AdminLogout => "admin-logout",
            Need::WebSocket => "ws",
            Need::RenewalHeader => "renewal-header",
            Need::ScopedResource => "scoped-resource",
            Need::RefreshTokenValue => "rt-value",
            Need::JwtAccessTokens => "jwt-at",
            Need::RsaJwk => "rsa-jwk",
            Need::ShortAccessTokens => "short-at",
            Need::ShortSessions => "short-session",
            Need::SingleSession => "single-session",
            Need::ShortIdleTimeout => "short-idle",
            Need::SessionPolicy => "session-policy",
            Need::LogoutEverywhere => "logout-everywhere",
        }
    }

    /// Why a check is skipped when this need is not met, and what to configure.
    pub fn reason(self) -> &'static str {
        match self {
            Need::Logout => "the target profile has no `logout` request",
            Need::Revocation => "the target profile has no revocation endpoint (RFC 7009)",
            Need::Introspection => {
                "the target profile has no introspection endpoint (RFC 7662), or its caller credentials are not set (e.g. AUTHBENCH_ADMIN_KEY)"
            }
            Need::AdminLogout => {
                "the target profile has no admin logout endpoint, or its admin key is not set (e.g. AUTHBENCH_ADMIN_KEY)"
            }
            Need::WebSocket => "the target profile has no `ws` section",
            Need::RenewalHeader => "the target profile has no renewal header",
            Need::ScopedResource => {
                "the target profile declares no `scoped_resource: { path, scope }` (a resource the test users' tokens lack the scope for)"
            }
            Need::RefreshTokenValue => {
                "the refresh token is kept in an HttpOnly cookie; this check needs its value"
            }
            Need::JwtAccessTokens => "the access tokens are not JWTs",
            Need::RsaJwk => "the target's JWKS has no RSA key",
            Need::ShortAccessTokens => {
                "the access tokens live too long to wait for their expiry (use a test target with a short access-token lifetime)"
            }
            Need::ShortSessions => {
                "the maximum session lifetime is too long to observe (use a test target with a maximum session of a few seconds)"
            }
            Need::SingleSession => {
                "the target keeps concurrent sessions of one user (no single-session policy)"
            }
            Need::ShortIdleTimeout => {
                "the session's idle timeout is too long to observe, or not announced (use a test target whose sessions end after a few seconds without a refresh, announced in refresh_expires_in)"
            }
            Need::SessionPolicy => {
                "the target profile declares no session policy; add `session: { max_sessions: N }` (1 = single session, or `unlimited`)"
            }
            Need::LogoutEverywhere => {
                "the target profile has no `logout_everywhere` request (one request that ends every session of the user), or its admin key is not set"
            }
        }
    }
}

/// A family of checks: the id prefix before the dash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Family {
    /// `RT`, `RS`, ...
    pub prefix: &'static str,
    /// Human title of the family.
    pub title: &'static str,
}

/// The families, in catalog order.
pub const FAMILIES: &[Family] = &[
    Family {
        prefix: "RT",
        title: "Refresh grant, rotation, reuse, lifetime, logout",
    },
    Family {
        prefix: "RS",
        title: "Resource server: 401, 403 and WWW-Authenticate",
    },
    Family {
        prefix: "RV",
        title: "Revocation (RFC 7009)",
    },
    Family {
        prefix: "IN",
        title: "Introspection (RFC 7662)",
    },
    Family {
        prefix: "JW",
        title: "JWT access-token validation",
    },
    Family {
        prefix: "WS",
        title: "WebSocket authentication and close codes",
    },
    Family {
        prefix: "SS",
        title: "Sessions per user: policy, logout everywhere, telling the client why",
    },
    Family {
        prefix: "SL",
        title: "Sliding renewal",
    },
    Family {
        prefix: "AT",
        title: "Access tokens after logout",
    },
];

/// The description of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckMeta {
    /// Stable id, e.g. `RT-07`: scripts and expected-failures files refer to it.
    pub id: &'static str,
    /// One line: what is checked.
    pub title: &'static str,
    /// What is sent and what a conforming server does (one or two sentences).
    pub summary: &'static str,
    /// Requirement ids, e.g. `RFC6749-5.2`, `RFC9700-4.14.2`, `RFC6455-7.4`.
    pub requirements: &'static [&'static str],
    /// MUST → FAIL, SHOULD → WARN, report-only → INFO. Serialized with its catalog name
    /// (`REPORT` for report-only, as `check --list` shows it).
    #[serde(serialize_with = "catalog_level")]
    pub level: Level,
    /// Kills sessions of its test users (needs dedicated test accounts).
    pub destructive: bool,
    /// What it needs from the target (SKIP with the reason when missing).
    pub needs: &'static [Need],
}

fn catalog_level<S: serde::Serializer>(level: &Level, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(level.catalog_name())
}

impl CheckMeta {
    /// The family prefix (`RT` of `RT-07`).
    pub fn family_prefix(&self) -> &'static str {
        self.id.split('-').next().unwrap_or(self.id)
    }

    /// The family this check belongs to.
    pub fn family(&self) -> Option<&'static Family> {
        FAMILIES.iter().find(|f| f.prefix == self.family_prefix())
    }

    /// Whether a `--only`/`--skip` selector names this check: the exact id, or a family prefix
    /// (`RT`, `RT-`, `rt`), case-insensitive.
    pub fn matches(&self, selector: &str) -> bool {
        let s = selector.trim();
        if s.is_empty() {
            return false;
        }
        if s.eq_ignore_ascii_case(self.id) {
            return true;
        }
        let prefix = s.strip_suffix('-').unwrap_or(s);
        prefix.eq_ignore_ascii_case(self.family_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: CheckMeta = CheckMeta {
        id: "RT-07",
        title: "t",
        summary: "s",
        requirements: &["RFC9700-4.14.2"],
        level: Level::Should,
        destructive: true,
        needs: &[],
    };

    #[test]
    fn selectors_match_ids_and_families() {
        assert!(META.matches("RT-07"));
        assert!(META.matches("rt-07"));
        assert!(META.matches("RT"));
        assert!(META.matches("rt-"));
        assert!(!META.matches("RT-0"));
        assert!(!META.matches("RS"));
        assert!(!META.matches(""));
        assert_eq!(META.family().map(|f| f.prefix), Some("RT"));
    }

    #[test]
    fn the_catalog_spells_report_only_as_report() {
        let meta = CheckMeta {
            level: Level::Report,
            ..META
        };
        let json = serde_json::to_value(meta).unwrap();
        assert_eq!(json["level"], "REPORT");
        assert_eq!(serde_json::to_value(META).unwrap()["level"], "SHOULD");
    }
}
