//! The scenario file exactly as written ([`ScenarioFile`]) and its `mock:` section
//! ([`MockSection`]). These are the serde (and JSON Schema) types; [`super::validate`] turns them into
//! a [`super::Scenario`].

use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::model::{ClientConfig, Phase};
use super::users::UsersSpec;
use crate::config::did_you_mean;
use crate::config::units::{duration_opt_schema, human_duration_opt, size_opt, size_opt_schema};

fn default_clients() -> u32 {
    1
}

/// A scenario file (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "authbench scenario")]
pub struct ScenarioFile {
    /// Short name, used in report folder names (default: the file name without `.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the scenario shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `builtin` (the mock, in-process; default), a target profile file (relative to this file),
    /// or an http(s) URL (generic oauth2 preset + OpenID discovery). `--target` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Configuration of the builtin mock (ignored for other targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockSection>,
    /// Number of simulated clients (default 1).
    #[serde(default = "default_clients")]
    #[schemars(range(min = 1))]
    pub clients: u32,
    /// Credentials of each client (default `{ pattern: "user{n}", password: "pw-{n}" }`).
    #[serde(default)]
    pub users: UsersSpec,
    /// How every client behaves.
    #[serde(default)]
    pub client: ClientConfig,
    /// The phases, in order.
    pub plan: Vec<Phase>,
    /// Thresholds, e.g. `p99(refresh) < 250ms`, `spurious_logouts == 0`, `error_rate < 0.1%`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
}

/// The builtin mock's knobs (DESIGN §5); anything left out keeps the mock's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MockSection {
    /// Users `user{n}` / `pw-{n}` exist for n < users (default 100000).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub users: Option<u64>,
    /// Access-token signing: es256 (default), eddsa, hs256, rs256.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "signing_schema")]
    pub signing: Option<String>,
    /// Access-token lifetime (default 30s).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub access_ttl: Option<Duration>,
    /// Refresh-token lifetime (default 24h).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub refresh_ttl: Option<Duration>,
    /// Absolute session lifetime; rotation never extends it (default 7d).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub max_session: Option<Duration>,
    /// Rotate refresh tokens on every refresh (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<bool>,
    /// Revoke the whole family when a rotated-out refresh token is reused (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_detection: Option<bool>,
    /// After a rotation, the predecessor still returns the same successor this long (default 0s).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub reuse_grace: Option<Duration>,
    /// A new login revokes the user's older sessions and kicks their sockets (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_session: Option<bool>,
    /// `/api/me` sends `New-Access-Token` when less than this is left (default 0s = off).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub sliding_window: Option<Duration>,
    /// The resource still accepts an access token this long after its `exp`: a clock-skew leeway
    /// (default 0s).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub access_leeway: Option<Duration>,
    /// A refused refresh is answered this long after the refusal took effect (default 0s).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub refusal_delay: Option<Duration>,
    /// An accepted refresh is answered this long after it took effect (default 0s).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub renewal_delay: Option<Duration>,
    /// A refresh ends the session's older access tokens (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_revokes_access: Option<bool>,
    /// The end of a session (`max_session`, `idle_timeout`) also ends its access tokens (default
    /// false: they live until their `exp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_ends_with_session: Option<bool>,
    /// Interval of WebSocket tick messages (default 0s = off).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub ws_tick: Option<Duration>,
    /// Also set the refresh token as an HttpOnly cookie (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_cookie: Option<bool>,
    /// Request body cap (default 64KiB): bytes, or a size with a unit like the mock's
    /// `--max-body` (`64KiB`, `1MiB`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "size_opt")]
    #[schemars(schema_with = "size_opt_schema")]
    pub max_body: Option<usize>,
    /// Every response carries `Connection: close` and ends its connection (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_close: Option<bool>,
    /// Close connections that have waited this long for a request (default 0s = never).
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub keepalive_timeout: Option<Duration>,
    /// End a session whose refresh token goes unused this long; a refresh extends it, never past
    /// `max_session` (default 0s = off). Announced in `refresh_expires_in`.
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub idle_timeout: Option<Duration>,
    /// Faults: `latency:refresh=20ms..80ms`, `error:refresh=1%`, `capacity:refresh=64`,
    /// `rate:refresh=500/s` (operations: login, refresh, api, ws, logout, logout_everywhere,
    /// force_logout, csrf_page, sse, push).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "faults_schema")]
    pub faults: Vec<String>,
    /// Deliberate flaws (kebab-case names, DESIGN §5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "flaws_schema")]
    pub flaws: Vec<String>,
    /// Live sessions one user may hold; a login beyond them ends the oldest (refresh family
    /// revoked, sockets kicked with 4409). Default 0 = no limit; `single_session` is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// Serve `https://` and `wss://` with a certificate made at start, issued by a fresh CA the
    /// clients of the run trust (and no other) (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// Where `/ws` expects the token: `handshake` (default) or `first-message`
    /// (graphql-transport-ws `connection_init`; the builtin profile then sends it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "ws_auth_schema")]
    pub ws_auth: Option<String>,
    /// `POST /oauth/revoke` revokes refresh tokens only and answers an access token with 400
    /// `unsupported_token_type` (RFC 7009 §2.2.1), as Auth0 and Cognito do (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_refresh_only: Option<bool>,
    /// `cookie`: also serve server-side sessions behind a `sessionid` cookie under `/session/`
    /// (`access_ttl` is their sliding `Max-Age`, `max_session` their cap); the builtin target
    /// is then the `mock-session` preset (strategy `cookie-session`). Default `token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "session_mode_schema")]
    pub session_mode: Option<String>,
}

fn session_mode_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": ["token", "cookie"] })
}

fn ws_auth_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": ["handshake", "first-message"] })
}

/// A problem with the `mock:` section: the key below `mock` and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockProblem {
    /// `access_ttl`, `faults.1`, ...
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl MockSection {
    /// The mock configuration this section describes, on 127.0.0.1 port 0.
    pub fn to_config(&self) -> Result<authbench_mock::MockConfig, MockProblem> {
        self.apply_to(authbench_mock::MockConfig {
            port: 0,
            ..authbench_mock::MockConfig::default()
        })
    }

    /// `base` with the knobs this section sets (`check --set mock.*` lays them over the check
    /// run's own mock knobs); the knobs it leaves out keep `base`'s values. Faults and flaws
    /// are added to `base`'s.
    pub fn apply_to(
        &self,
        base: authbench_mock::MockConfig,
    ) -> Result<authbench_mock::MockConfig, MockProblem> {
        use authbench_mock::{Fault, Flaw, Signing};
        let mut c = base;
        if let Some(v) = self.users {
            c.users = v;
        }
        if let Some(s) = &self.signing {
            c.signing = s.parse::<Signing>().map_err(|e| MockProblem {
                key: "signing".into(),
                message: e.to_string(),
                fix: "use one of es256, eddsa, hs256, rs256".into(),
            })?;
        }
        let durations = [
            (&mut c.access_ttl, self.access_ttl),
            (&mut c.refresh_ttl, self.refresh_ttl),
            (&mut c.max_session, self.max_session),
            (&mut c.reuse_grace, self.reuse_grace),
            (&mut c.sliding_window, self.sliding_window),
            (&mut c.access_leeway, self.access_leeway),
            (&mut c.refusal_delay, self.refusal_delay),
            (&mut c.renewal_delay, self.renewal_delay),
            (&mut c.ws_tick, self.ws_tick),
            (&mut c.keepalive_timeout, self.keepalive_timeout),
            (&mut c.idle_timeout, self.idle_timeout),
        ];
        for (slot, v) in durations {
            if let Some(v) = v {
                *slot = v;
            }
        }
        for (slot, v) in [
            (&mut c.rotation, self.rotation),
            (&mut c.reuse_detection, self.reuse_detection),
            (&mut c.single_session, self.single_session),
            (
                &mut c.access_ends_with_session,
                self.access_ends_with_session,
            ),
            (&mut c.refresh_cookie, self.refresh_cookie),
            (&mut c.connection_close, self.connection_close),
            (&mut c.revoke_refresh_only, self.revoke_refresh_only),
            (&mut c.refresh_revokes_access, self.refresh_revokes_access),
        ] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        if let Some(v) = self.max_body {
            c.max_body = v;
        }
        if let Some(v) = self.max_sessions {
            c.max_sessions = v;
        }
        if let Some(w) = &self.ws_auth {
            c.ws_auth = w
                .parse()
                .map_err(|e: authbench_mock::ConfigError| MockProblem {
                    key: "ws_auth".into(),
                    message: e.to_string(),
                    fix: "use `handshake` or `first-message`".into(),
                })?;
        }
        if let Some(m) = &self.session_mode {
            c.session_mode = m
                .parse()
                .map_err(|e: authbench_mock::ConfigError| MockProblem {
                    key: "session_mode".into(),
                    message: e.to_string(),
                    fix: "use `token` or `cookie`".into(),
                })?;
        }
        if self.tls == Some(true) {
            c.tls = Some(authbench_mock::MockTls::SelfSigned { ca_out: None });
        }
        for (i, f) in self.faults.iter().enumerate() {
            c.faults.push(f.parse::<Fault>().map_err(|e| MockProblem {
                key: format!("faults.{i}"),
                message: e.to_string(),
                fix: match Fault::corrected(f) {
                    Some(fixed) => format!("write `{fixed}`"),
                    None => format!(
                        "write KIND:OP=VALUE with KIND latency, error, capacity or rate and OP one of {}",
                        authbench_mock::Op::known()
                    ),
                },
            })?);
        }
        for (i, f) in self.flaws.iter().enumerate() {
            let flaw = f.parse::<Flaw>().map_err(|_| {
                let names = Flaw::ALL.iter().map(|f| f.name());
                let fix = match did_you_mean(f, names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "use one of {}",
                        Flaw::ALL
                            .iter()
                            .map(|f| f.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                MockProblem {
                    key: format!("flaws.{i}"),
                    message: format!("unknown flaw {f:?}"),
                    fix,
                }
            })?;
            c.flaws.push(flaw);
        }
        c.validate().map_err(|e| {
            let key = match &e {
                authbench_mock::ConfigError::Invalid { field, .. } => (*field).to_string(),
                _ => String::new(),
            };
            MockProblem {
                key,
                message: e.to_string(),
                fix: "see `authbench mock --help` for the allowed values".into(),
            }
        })?;
        Ok(c)
    }
}

fn signing_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "enum": ["es256", "eddsa", "hs256", "rs256", null],
        "description": "Access-token signing algorithm."
    })
}

fn faults_schema(_: &mut SchemaGenerator) -> Schema {
    let ops = authbench_mock::Op::ALL
        .map(authbench_mock::Op::name)
        .join("|");
    let pattern = format!("^\\s*(latency|error|capacity|rate):({ops})=.+$");
    json_schema!({
        "type": "array",
        "items": {
            "type": "string",
            "pattern": pattern,
            "examples": ["latency:refresh=20ms..80ms", "error:refresh=1%", "capacity:refresh=64", "rate:refresh=500/s"]
        }
    })
}

fn flaws_schema(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = authbench_mock::Flaw::ALL.iter().map(|f| f.name()).collect();
    json_schema!({
        "type": "array",
        "items": { "type": "string", "enum": names }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_section_maps_every_key() {
        let m = MockSection {
            users: Some(10),
            signing: Some("hs256".into()),
            access_ttl: Some(Duration::from_secs(5)),
            rotation: Some(false),
            single_session: Some(true),
            faults: vec!["rate:refresh=500/s".into()],
            flaws: vec!["no-kick".into()],
            connection_close: Some(true),
            keepalive_timeout: Some(Duration::from_millis(500)),
            revoke_refresh_only: Some(true),
            ..MockSection::default()
        };
        let c = m.to_config().unwrap();
        assert!(c.connection_close && c.revoke_refresh_only);
        assert_eq!(c.keepalive_timeout, Duration::from_millis(500));
        assert_eq!(c.port, 0);
        assert_eq!(c.users, 10);
        assert_eq!(c.signing, authbench_mock::Signing::Hs256);
        assert_eq!(c.access_ttl, Duration::from_secs(5));
        assert!(!c.rotation && c.single_session && c.reuse_detection);
        assert_eq!(c.faults.len(), 1);
        assert_eq!(c.flaws, vec![authbench_mock::Flaw::NoKick]);
    }

    #[test]
    fn mock_section_problems_name_the_key() {
        let bad = |m: MockSection| m.to_config().unwrap_err();
        let e = bad(MockSection {
            flaws: vec!["no-kik".into()],
            ..MockSection::default()
        });
        assert_eq!(e.key, "flaws.0");
        assert!(e.fix.contains("no-kick"), "{e:?}");
        let e = bad(MockSection {
            faults: vec!["ok".into(), "boom".into()],
            ..MockSection::default()
        });
        assert_eq!(e.key, "faults.0");
        let e = bad(MockSection {
            faults: vec!["latency:refresh=5ms".into(), "error:logot=5%".into()],
            ..MockSection::default()
        });
        assert_eq!(e.key, "faults.1");
        assert!(e.message.contains("did you mean `logout`?"), "{e:?}");
        assert_eq!(e.fix, "write `error:logout=5%`");
        let e = bad(MockSection {
            access_ttl: Some(Duration::ZERO),
            ..MockSection::default()
        });
        assert_eq!(e.key, "access_ttl");
        let e = bad(MockSection {
            signing: Some("ps256".into()),
            ..MockSection::default()
        });
        assert_eq!(e.key, "signing");
    }
}
