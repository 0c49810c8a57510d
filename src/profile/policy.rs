//! The session policy a profile declares and the unified logout: `session.max_sessions` (how many
//! concurrent sessions one user may hold — `1` is the single-session policy, `unlimited` a
//! multi-session one without a limit) and the `logout_everywhere` request (one request that ends
//! every session of the user, with the variables of `logout` plus `user` and `admin_key`).
//!
//! The `SS-*` checks read both; the engine's `logout_everywhere` phase sends the request.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::extract::Tokens;
use super::file::{Profile, TokenKind};
use super::request::{Rendered, RequestError};
use super::template::Vars;

/// How many concurrent sessions one user may hold (`session.max_sessions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxSessions {
    /// At most this many (at least 1); a login beyond them ends the oldest session.
    Limit(u32),
    /// Any number: a multi-session policy without a limit.
    Unlimited,
}

impl MaxSessions {
    /// The limit, `None` when unlimited.
    pub fn limit(self) -> Option<u32> {
        match self {
            MaxSessions::Limit(n) => Some(n),
            MaxSessions::Unlimited => None,
        }
    }

    /// Whether one user may hold two sessions at once.
    pub fn allows_concurrent(self) -> bool {
        self.limit().is_none_or(|n| n >= 2)
    }

    /// The policy of the reference mock started with these knobs (`--single-session` = 1,
    /// `--max-sessions N`, none = unlimited).
    pub fn of_mock(cfg: &authbench_mock::MockConfig) -> MaxSessions {
        cfg.session_limit()
            .map_or(MaxSessions::Unlimited, MaxSessions::Limit)
    }
}

impl std::fmt::Display for MaxSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxSessions::Limit(n) => write!(f, "{n}"),
            MaxSessions::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for MaxSessions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxSessions::Limit(n) => s.serialize_u32(*n),
            MaxSessions::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for MaxSessions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let bad = || {
            serde::de::Error::custom(
                "max_sessions is a whole number of sessions from 1 (1 = single-session policy) or `unlimited`",
            )
        };
        match Raw::deserialize(d)? {
            Raw::Number(n) if n >= 1.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX) => {
                Ok(MaxSessions::Limit(n as u32))
            }
            Raw::Text(t) if t.trim().eq_ignore_ascii_case("unlimited") => {
                Ok(MaxSessions::Unlimited)
            }
            _ => Err(bad()),
        }
    }
}

impl JsonSchema for MaxSessions {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MaxSessions".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Concurrent sessions one user may hold: a number from 1 (1 = single-session policy; a login beyond the limit ends the oldest session) or `unlimited`.",
            "oneOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "enum": ["unlimited"] }
            ]
        })
    }
}

impl Profile {
    /// The logout-everywhere request for the session holding `tokens` of `user`, if the profile
    /// has one (and the admin key is known when its template needs it).
    pub fn logout_everywhere_request(
        &self,
        user: &str,
        tokens: &Tokens,
    ) -> Option<Result<Rendered, RequestError>> {
        let spec = self.logout_everywhere.as_ref()?;
        let vars = Vars {
            user: Some(user),
            access_token: Some(&tokens.access_token),
            refresh_token: tokens.refresh_token.as_deref(),
            session_id: tokens.session_id.as_deref(),
            token: tokens.refresh_token.as_deref(),
            token_type_hint: Some(TokenKind::Refresh.hint()),
            ..Vars::default()
        };
        self.render_keyed(spec, vars)
    }

    /// Whether a logout-everywhere request is configured and usable (the admin key known when
    /// its template needs it).
    pub fn has_logout_everywhere(&self) -> bool {
        self.logout_everywhere
            .as_ref()
            .is_some_and(|spec| self.key_usable(spec))
    }

    /// The declared session policy (`session.max_sessions`), if any.
    pub fn max_sessions(&self) -> Option<MaxSessions> {
        self.session.max_sessions
    }

    /// Declares the session policy (the builtin mock tells its own in-process).
    pub fn with_max_sessions(mut self, max: MaxSessions) -> Profile {
        self.session.max_sessions = Some(max);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_unlimited_parse_and_round_trip() {
        let one: MaxSessions = serde_json::from_str("1").unwrap();
        assert_eq!(one, MaxSessions::Limit(1));
        assert!(!one.allows_concurrent());
        let many: MaxSessions = serde_json::from_str("\"Unlimited\"").unwrap();
        assert_eq!(many, MaxSessions::Unlimited);
        assert!(many.allows_concurrent() && MaxSessions::Limit(2).allows_concurrent());
        for bad in ["0", "-1", "\"lots\"", "1.5"] {
            let e = serde_json::from_str::<MaxSessions>(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("unlimited"), "{bad}: {e}");
        }
        assert_eq!(serde_json::to_string(&MaxSessions::Limit(3)).unwrap(), "3");
        assert_eq!(
            serde_json::to_string(&MaxSessions::Unlimited).unwrap(),
            "\"unlimited\""
        );
    }

    #[test]
    fn the_mock_preset_logs_out_everywhere_with_the_access_token() {
        let p = super::super::preset("mock", "http://127.0.0.1:9").unwrap();
        assert!(p.has_logout_everywhere());
        let tokens = Tokens {
            access_token: "at-123".into(),
            refresh_token: None,
            expires_at: None,
            session_id: None,
            refresh_expires_at: None,
        };
        let req = p
            .logout_everywhere_request("user1", &tokens)
            .unwrap()
            .unwrap();
        assert_eq!(req.uri().path(), "/api/auth/logout-all");
        assert_eq!(req.headers()["authorization"], "Bearer at-123");
        let generic = super::super::preset("oauth2", "http://127.0.0.1:9").unwrap();
        assert!(!generic.has_logout_everywhere());
        assert_eq!(generic.max_sessions(), None);
        let mock = authbench_mock::MockConfig {
            max_sessions: 2,
            ..Default::default()
        };
        assert_eq!(MaxSessions::of_mock(&mock), MaxSessions::Limit(2));
        assert_eq!(
            MaxSessions::of_mock(&Default::default()),
            MaxSessions::Unlimited
        );
    }
}
