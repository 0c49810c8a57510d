//! Configuration of the mock server: [`MockConfig`] (what `start` takes), its parts ([`Signing`],
//! [`Fault`], [`Flaw`]) with their textual forms, and [`MockArgs`], the clap flags of
//! `authbench mock` / `authbench-mock` (DESIGN §5).
//!
//! Every textual form round-trips: `x.to_string().parse() == Ok(x)`. `MockConfig` also
//! (de)serializes with serde (durations as humantime strings such as `"30s"`, faults and flaws as
//! their strings), so scenario files can embed it as their `mock:` section.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::MockError;
pub use crate::flaws::Flaw;

/// A configuration value that could not be parsed or is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--signing` got something other than the four algorithms.
    #[error("unknown signing algorithm {value:?}; known: es256, eddsa, hs256, rs256")]
    UnknownSigning { value: String },
    /// `--flaw` got an unknown name.
    #[error("unknown flaw {value:?}{hint}; known flaws: {known}")]
    UnknownFlaw {
        value: String,
        /// `, did you mean `NAME`?` for a plausible typo, else empty.
        hint: String,
        known: String,
    },
    /// `--fault` could not be parsed.
    #[error(
        "invalid fault {spec:?}: {reason} (examples: latency:refresh=20ms..80ms, error:refresh=1%, capacity:refresh=64, rate:refresh=500/s)"
    )]
    Fault { spec: String, reason: String },
    /// A duration could not be parsed.
    #[error("invalid duration {value:?}: {reason} (examples: 30s, 2m, 1h30m, 250ms)")]
    Duration { value: String, reason: String },
    /// A size could not be parsed.
    #[error("invalid size {value:?} (examples: 65536, 64KiB, 1MiB)")]
    Size { value: String },
    /// A value is syntactically fine but not allowed.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// The algorithm access tokens are signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Signing {
    /// ECDSA P-256 with SHA-256 (the default).
    #[default]
    Es256,
    /// Ed25519.
    EdDsa,
    /// HMAC-SHA256 with a random 256-bit secret (no public key in the JWKS).
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit key.
    Rs256,
}

impl Signing {
    /// The JWS `alg` value.
    pub fn alg(self) -> &'static str {
        match self {
            Signing::Es256 => "ES256",
            Signing::EdDsa => "EdDSA",
            Signing::Hs256 => "HS256",
            Signing::Rs256 => "RS256",
        }
    }
}

impl fmt::Display for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signing::Es256 => "es256",
            Signing::EdDsa => "eddsa",
            Signing::Hs256 => "hs256",
            Signing::Rs256 => "rs256",
        })
    }
}

impl FromStr for Signing {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "es256" => Ok(Signing::Es256),
            "eddsa" | "ed25519" => Ok(Signing::EdDsa),
            "hs256" => Ok(Signing::Hs256),
            "rs256" => Ok(Signing::Rs256),
            _ => Err(ConfigError::UnknownSigning {
                value: s.to_string(),
            }),
        }
    }
}

/// The operation a fault applies to: every endpoint authbench calls has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Password logins (`/oauth/token` password, client-credentials and authorization-code
    /// grants, `/api/auth/login`, `POST /session/login`, `POST /accounts/login/`).
    Login,
    /// Refreshes (`/oauth/token` refresh grant, `/api/auth/refresh`).
    Refresh,
    /// Resource calls (`GET /api/me`, `GET /api/admin`, the cookie sessions' `/session/me`,
    /// `/api/me/`, `/accounts/profile/`).
    Api,
    /// WebSocket handshakes (`GET /ws`).
    Ws,
    /// Logouts: `POST /oauth/revoke` (the `mock` preset's logout; RFC 7009 revocation of any
    /// token), `POST /api/auth/logout`, `POST /session/logout`, `POST /accounts/logout/`.
    Logout,
    /// Logout everywhere (`POST /api/auth/logout-all`).
    LogoutEverywhere,
    /// The admin logout of a user (`POST /admin/users/{user}/logout`,
    /// `POST /admin/users/by-id/{id}/logout`, and the lookup of the two-step one,
    /// `GET /admin/users?username=`): authbench's `force_logout`.
    ForceLogout,
    /// The cookie sessions' CSRF page (`GET /session/csrf`, `GET /accounts/login/`).
    CsrfPage,
    /// Server-Sent Events stream requests (`GET /events`).
    Sse,
    /// Push registrations (`POST /push/register`).
    Push,
    /// The pages of the authorization-code login before the code exchange (`GET /authorize`,
    /// `POST /authorize/login`, `GET /authorize/continue`): authbench's `authorize`.
    Authorize,
    /// Token introspection (`POST /oauth/introspect`, RFC 7662; check IN-01 asks it).
    Introspect,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 12] = [
        Op::Login,
        Op::Refresh,
        Op::Api,
        Op::Ws,
        Op::Logout,
        Op::LogoutEverywhere,
        Op::ForceLogout,
        Op::CsrfPage,
        Op::Sse,
        Op::Push,
        Op::Authorize,
        Op::Introspect,
    ];

    /// The name used in fault specs (the same as authbench's operation names where both exist:
    /// `failures.<op>.*`, `failure_rate(<op>)`).
    pub fn name(self) -> &'static str {
        match self {
            Op::Login => "login",
            Op::Refresh => "refresh",
            Op::Api => "api",
            Op::Ws => "ws",
            Op::Logout => "logout",
            Op::LogoutEverywhere => "logout_everywhere",
            Op::ForceLogout => "force_logout",
            Op::CsrfPage => "csrf_page",
            Op::Sse => "sse",
            Op::Push => "push",
            Op::Authorize => "authorize",
            Op::Introspect => "introspect",
        }
    }

    /// This operation's place in [`Op::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Every name, comma-separated (for error messages and help texts).
    pub fn known() -> String {
        Op::ALL.map(Op::name).join(", ")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::ALL
            .into_iter()
            .find(|op| op.name() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown operation {s:?}{}; known: {}",
                    hint(s.trim(), Op::ALL.map(Op::name)),
                    Op::known()
                )
            })
    }
}

/// What a fault does to its operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// A uniformly random delay in `min..=max` before the operation runs.
    Latency { min: Duration, max: Duration },
    /// Fail this share of requests (0..=100 percent) with 500 and a JSON error.
    Error { percent: f64 },
    /// 503 + `Retry-After: 1` when more than `max_in_flight` requests are in flight
    /// (for `ws`: open sockets past this many are closed with 1013 right after the upgrade; for
    /// `sse`: open streams count, and a stream request past them gets the 503).
    Capacity { max_in_flight: u32 },
    /// 429 + `Retry-After` past this many requests per second (token bucket, burst = one second).
    Rate { per_second: f64 },
}

/// The fault kinds' names, as `--fault` spells them.
const FAULT_KINDS: [&str; 4] = ["latency", "error", "capacity", "rate"];

/// `, did you mean `NAME`?` when `input` is a plausible typo of one of `known`, else nothing.
pub(crate) fn hint<'a>(input: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    crate::suggest::did_you_mean(input, known)
        .map(|s| format!(", did you mean `{s}`?"))
        .unwrap_or_default()
}

/// One fault: `KIND:OP=SPEC`, e.g. `latency:refresh=20ms..80ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fault {
    /// The operation it applies to.
    pub op: Op,
    /// What it does.
    pub kind: FaultKind,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op;
        match self.kind {
            FaultKind::Latency { min, max } if min == max => {
                write!(f, "latency:{op}={}", humantime::format_duration(min))
            }
            FaultKind::Latency { min, max } => write!(
                f,
                "latency:{op}={}..{}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
            FaultKind::Error { percent } => write!(f, "error:{op}={percent}%"),
            FaultKind::Capacity { max_in_flight } => write!(f, "capacity:{op}={max_in_flight}"),
            FaultKind::Rate { per_second } => write!(f, "rate:{op}={per_second}/s"),
        }
    }
}

impl Fault {
    /// `spec` with its misspelt kind and operation replaced by the names they are closest to, if
    /// the result is a valid fault (`error:logot=5%` → `error:logout=5%`).
    pub fn corrected(spec: &str) -> Option<String> {
        let (kind, rest) = spec.trim().split_once(':')?;
        let (op, value) = rest.split_once('=')?;
        let fix = |name: &str, known: &[&'static str]| {
            let name = name.trim();
            if known.contains(&name) {
                Some(name.to_string())
            } else {
                crate::suggest::did_you_mean(name, known.iter().copied())
            }
        };
        let fixed = format!(
            "{}:{}={}",
            fix(kind, &FAULT_KINDS)?,
            fix(op, &Op::ALL.map(Op::name))?,
            value.trim()
        );
        (fixed != spec.trim() && fixed.parse::<Fault>().is_ok()).then_some(fixed)
    }
}

impl FromStr for Fault {
    type Err = ConfigError;
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ConfigError::Fault {
            spec: spec.to_string(),
            reason,
        };
        let (kind, rest) = spec
            .trim()
            .split_once(':')
            .ok_or_else(|| err("expected KIND:OP=VALUE".into()))?;
        let (op, value) = rest
            .split_once('=')
            .ok_or_else(|| err("expected KIND:OP=VALUE".into()))?;
        let op: Op = op.parse().map_err(err)?;
        let value = value.trim();
        let number = |s: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| err(format!("{s:?} is not a number")))
        };
        let kind = match kind.trim() {
            "latency" => {
                let (lo, hi) = value.split_once("..").unwrap_or((value, value));
                let min = parse_duration(lo).map_err(|e| err(e.to_string()))?;
                let max = parse_duration(hi).map_err(|e| err(e.to_string()))?;
                if min > max {
                    return Err(err(format!("minimum {lo} is above maximum {hi}")));
                }
                FaultKind::Latency { min, max }
            }
            "error" => {
                let p = value
                    .strip_suffix('%')
                    .ok_or_else(|| err("the error rate needs a % sign, e.g. 1%".into()))?;
                let percent = number(p)?;
                if !(0.0..=100.0).contains(&percent) {
                    return Err(err("the error rate must be between 0% and 100%".into()));
                }
                FaultKind::Error { percent }
            }
            "capacity" => {
                let max_in_flight = value
                    .parse()
                    .map_err(|_| err(format!("{value:?} is not a whole number")))?;
                FaultKind::Capacity { max_in_flight }
            }
            "rate" => {
                let (n, unit) = value
                    .split_once('/')
                    .ok_or_else(|| err("the rate needs a unit, e.g. 500/s or 600/m".into()))?;
                let n = number(n)?;
                let per_second = match unit.trim() {
                    "s" => n,
                    "m" => n / 60.0,
                    other => return Err(err(format!("unknown rate unit {other:?}; use /s or /m"))),
                };
                if !(per_second.is_finite() && per_second > 0.0) {
                    return Err(err("the rate must be above zero".into()));
                }
                FaultKind::Rate { per_second }
            }
            other => {
                return Err(err(format!(
                    "unknown fault kind {other:?}{}; known: {}",
                    hint(other, FAULT_KINDS),
                    FAULT_KINDS.join(", ")
                )));
            }
        };
        Ok(Fault { op, kind })
    }
}

/// Parses a humantime duration (`30s`, `1h30m`, `250ms`, `0`).
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s).map_err(|e| ConfigError::Duration {
        value: s.to_string(),
        reason: e.to_string(),
    })
}

/// Parses a byte size: `65536`, `64KiB`, `64k`, `1MiB`, `1m`.
pub fn parse_size(s: &str) -> Result<usize, ConfigError> {
    let invalid = || ConfigError::Size {
        value: s.to_string(),
    };
    // Binary multiples for every unit spelling (`64k`, `64KB` and `64KiB` are all 65 536 bytes), as
    // the mock's flags have always read them.
    let bytes = parse_size::Config::new()
        .with_binary()
        .parse_size(s.trim())
        .map_err(|_| invalid())?;
    usize::try_from(bytes).map_err(|_| invalid())
}

/// Where the WebSocket expects the access token (`--ws-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum WsAuth {
    /// In the handshake: `?access_token=`, `Authorization: Bearer` or subprotocol `bearer.<token>`.
    #[default]
    Handshake,
    /// In the first message, graphql-transport-ws style: the upgrade carries no credential; the
    /// client sends `{"type":"connection_init","payload":{"authorization":"Bearer <token>"}}` and
    /// gets `{"type":"connection_ack"}`, or a close: 4403 (token refused), 4401 (anything else
    /// first), 4408 (no init within 3 s), 4429 (a second init).
    FirstMessage,
}

impl fmt::Display for WsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WsAuth::Handshake => "handshake",
            WsAuth::FirstMessage => "first-message",
        })
    }
}

impl FromStr for WsAuth {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "handshake" => Ok(WsAuth::Handshake),
            "first-message" | "first_message" => Ok(WsAuth::FirstMessage),
            other => Err(ConfigError::Invalid {
                field: "ws_auth",
                reason: format!("{other:?} is neither `handshake` nor `first-message`"),
            }),
        }
    }
}

/// How the mock keeps a login (`--session-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SessionMode {
    /// OAuth tokens: a JWT access token and a rotating refresh token (everything of DESIGN §5).
    #[default]
    Token,
    /// Also serves server-side sessions behind a cookie, Django/Rails style, under `/session/`
    /// (see [`crate::cookie_sessions`]): `sessionid` (HttpOnly, `Max-Age` = `access_ttl`, slid
    /// by every request, never past `max_session`), `csrftoken`, CSRF and `Origin` checks on
    /// unsafe methods, 401 when the session is gone.
    Cookie,
}

impl fmt::Display for SessionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionMode::Token => "token",
            SessionMode::Cookie => "cookie",
        })
    }
}

impl FromStr for SessionMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "token" => Ok(SessionMode::Token),
            "cookie" => Ok(SessionMode::Cookie),
            other => Err(ConfigError::Invalid {
                field: "session_mode",
                reason: format!("{other:?} is neither `token` nor `cookie`"),
            }),
        }
    }
}

/// Everything the mock server can be told. `Default` = the defaults of DESIGN §5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// Address to bind (127.0.0.1).
    pub bind: IpAddr,
    /// Port (8080; 0 = pick a free one).
    pub port: u16,
    /// Users `user{n}` / `pw-{n}` exist for n < users (100 000), created lazily.
    pub users: u64,
    /// AT signing algorithm (es256).
    #[serde(with = "as_string")]
    pub signing: Signing,
    /// Access-token lifetime (30s).
    #[serde(with = "human_duration")]
    pub access_ttl: Duration,
    /// Refresh-token lifetime (24h), capped by `max_session`.
    #[serde(with = "human_duration")]
    pub refresh_ttl: Duration,
    /// Absolute session lifetime from login (7d); rotation never extends it.
    #[serde(with = "human_duration")]
    pub max_session: Duration,
    /// Rotate refresh tokens on every refresh (true).
    pub rotation: bool,
    /// Revoke the whole family when a rotated-out RT is used (true).
    pub reuse_detection: bool,
    /// Window after a rotation in which the immediate predecessor still returns the same successor (0).
    #[serde(with = "human_duration")]
    pub reuse_grace: Duration,
    /// A new login revokes every older session of the user and kicks its sockets (false).
    pub single_session: bool,
    /// With less than this left on an AT, `/api/me` adds `New-Access-Token` (0 = off).
    #[serde(with = "human_duration")]
    pub sliding_window: Duration,
    /// The resource server still accepts an access token this long after its `exp`: a clock-skew
    /// leeway (RFC 7519 §4.1.4), on `/api/me`, the scoped resource and the `/ws` handshake (0).
    #[serde(with = "human_duration")]
    pub access_leeway: Duration,
    /// A refused refresh grant is answered this long after the refusal took effect (a reuse
    /// detection's family revocation is already in force meanwhile): a server whose error
    /// answers come late, like a database-backed one under a refresh storm (0).
    pub refusal_delay: Duration,
    /// An accepted refresh grant is answered this long after it took effect (the rotation, and
    /// with `refresh_revokes_access` the end of the older access tokens, in force meanwhile) (0).
    pub renewal_delay: Duration,
    /// A refresh ends every access token the session was issued before it, as django-oauth-toolkit
    /// deletes the old access token when it rotates (false: they live until their `exp`).
    pub refresh_revokes_access: bool,
    /// The end of a session (`max_session`, `idle_timeout`) also ends its access tokens: the
    /// resource refuses them from then on, as node oidc-provider refuses the access tokens of an
    /// expired grant (false: they live until their `exp`).
    pub access_ends_with_session: bool,
    /// Interval of `{"type":"tick"}` WebSocket messages (0 = off).
    #[serde(with = "human_duration")]
    pub ws_tick: Duration,
    /// Also set the RT as an HttpOnly `refresh_token` cookie on token responses (false).
    pub refresh_cookie: bool,
    /// Admin bearer key (None = random, printed at start).
    pub admin_key: Option<String>,
    /// Faults injected for load tests.
    #[serde(with = "as_string_vec")]
    pub faults: Vec<Fault>,
    /// Deliberate flaws.
    #[serde(with = "as_string_vec")]
    pub flaws: Vec<Flaw>,
    /// Request body cap in bytes (64 KiB); larger bodies get 413.
    pub max_body: usize,
    /// Every response carries `Connection: close` and ends its connection (false).
    pub connection_close: bool,
    /// Close a connection that has waited this long for a request (0 = never).
    #[serde(with = "human_duration")]
    pub keepalive_timeout: Duration,
    /// A session whose refresh token goes unused this long ends; a refresh extends it, never past
    /// `max_session` (0 = off).
    #[serde(with = "human_duration")]
    pub idle_timeout: Duration,
    /// Push-provider URL (FCM HTTP v1 `messages:send` shape): session events of sessions that
    /// registered a device token (`POST /push/register`) are POSTed there (None = push off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_url: Option<String>,
    /// Live sessions one user may hold; a login beyond them ends the user's oldest session, its
    /// refresh family revoked and its sockets kicked (4409). 0 = no policy (up to
    /// [`crate::store::MAX_SESSIONS_PER_USER`]); `single_session` is the same as 1.
    pub max_sessions: u32,
    /// Serve TLS (`https://`, `wss://`): certificate files or a generated certificate (None =
    /// plain HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::MockTls>,
    /// Where the WebSocket expects the access token (handshake).
    #[serde(with = "as_string")]
    pub ws_auth: WsAuth,
    /// `POST /oauth/revoke` revokes refresh tokens only and refuses an access token it issued
    /// with 400 `unsupported_token_type` (RFC 7009 §2.2.1), as Auth0 and Cognito do.
    pub revoke_refresh_only: bool,
    /// `cookie`: also serve cookie sessions under `/session/` (token).
    #[serde(with = "as_string")]
    pub session_mode: SessionMode,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            users: 100_000,
            signing: Signing::Es256,
            access_ttl: Duration::from_secs(30),
            refresh_ttl: Duration::from_secs(24 * 3600),
            max_session: Duration::from_secs(7 * 24 * 3600),
            rotation: true,
            reuse_detection: true,
            reuse_grace: Duration::ZERO,
            single_session: false,
            sliding_window: Duration::ZERO,
            access_leeway: Duration::ZERO,
            refusal_delay: Duration::ZERO,
            renewal_delay: Duration::ZERO,
            refresh_revokes_access: false,
            access_ends_with_session: false,
            ws_tick: Duration::ZERO,
            refresh_cookie: false,
            admin_key: None,
            faults: Vec::new(),
            flaws: Vec::new(),
            max_body: 64 * 1024,
            connection_close: false,
            keepalive_timeout: Duration::ZERO,
            idle_timeout: Duration::ZERO,
            push_url: None,
            max_sessions: 0,
            tls: None,
            ws_auth: WsAuth::Handshake,
            revoke_refresh_only: false,
            session_mode: SessionMode::Token,
        }
    }
}

impl MockConfig {
    /// The per-user session limit of the policy: 1 with `single_session`, `max_sessions` when
    /// set, `None` without a policy (many concurrent sessions per user).
    pub fn session_limit(&self) -> Option<u32> {
        if self.single_session {
            Some(1)
        } else {
            (self.max_sessions > 0).then_some(self.max_sessions)
        }
    }

    /// Checks the values that parse but make no sense (zero lifetimes, empty admin key...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("access_ttl", self.access_ttl),
            ("refresh_ttl", self.refresh_ttl),
            ("max_session", self.max_session),
        ];
        for (field, d) in positive {
            if d.is_zero() {
                return Err(ConfigError::Invalid {
                    field,
                    reason: "must be above zero".into(),
                });
            }
        }
        // Anything above ~100 years is a typo (and would overflow clock arithmetic).
        let century = Duration::from_secs(100 * 365 * 24 * 3600);
        let all = [
            ("access_ttl", self.access_ttl),
            ("refresh_ttl", self.refresh_ttl),
            ("max_session", self.max_session),
            ("reuse_grace", self.reuse_grace),
            ("sliding_window", self.sliding_window),
            ("access_leeway", self.access_leeway),
            ("refusal_delay", self.refusal_delay),
            ("renewal_delay", self.renewal_delay),
            ("ws_tick", self.ws_tick),
            ("keepalive_timeout", self.keepalive_timeout),
            ("idle_timeout", self.idle_timeout),
        ];
        for (field, d) in all {
            if d > century {
                return Err(ConfigError::Invalid {
                    field,
                    reason: "must be below 100 years".into(),
                });
            }
        }
        for f in &self.faults {
            let bad = match f.kind {
                FaultKind::Latency { min, max } => {
                    (min > max || max > century).then_some("latency minimum above maximum")
                }
                FaultKind::Error { percent } => {
                    (!(0.0..=100.0).contains(&percent)).then_some("error rate outside 0%..100%")
                }
                FaultKind::Rate { per_second } => (!(per_second.is_finite() && per_second > 0.0))
                    .then_some("rate must be above zero"),
                FaultKind::Capacity { .. } => None,
            };
            if let Some(reason) = bad {
                return Err(ConfigError::Fault {
                    spec: f.to_string(),
                    reason: reason.into(),
                });
            }
        }
        if self.users == 0 {
            return Err(ConfigError::Invalid {
                field: "users",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_body < 256 {
            return Err(ConfigError::Invalid {
                field: "max_body",
                reason: "must be at least 256 bytes".into(),
            });
        }
        if self.max_sessions as usize > crate::store::MAX_SESSIONS_PER_USER {
            return Err(ConfigError::Invalid {
                field: "max_sessions",
                reason: format!(
                    "must be at most {} (0 = no limit)",
                    crate::store::MAX_SESSIONS_PER_USER
                ),
            });
        }
        if self.single_session && self.max_sessions > 1 {
            return Err(ConfigError::Invalid {
                field: "max_sessions",
                reason: "single_session already allows one session per user; set one of the two"
                    .into(),
            });
        }
        if let Some(k) = &self.admin_key
            && (k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(ConfigError::Invalid {
                field: "admin_key",
                reason: "must be non-empty without spaces".into(),
            });
        }
        if let Some(url) = &self.push_url {
            crate::push::check_url(url).map_err(|reason| ConfigError::Invalid {
                field: "push_url",
                reason,
            })?;
        }
        Ok(())
    }
}

impl MockConfig {
    /// Flags and flaws that change nothing in this configuration, each with why and the fix
    /// (`--flaw idle-never` without `--idle-timeout`): printed as warnings where a person
    /// started the mock. An empty list for a configuration whose every setting has an effect.
    pub fn ineffective(&self) -> Vec<String> {
        use crate::flaws::Flaw;
        let limits = self.single_session || self.max_sessions > 0;
        let premises: [(Flaw, bool, &str); 10] = [
            (
                Flaw::Hs256KeyConfusion,
                self.signing == Signing::Rs256,
                "it confuses an RS256 public key with an HS256 secret: add --signing rs256",
            ),
            (
                Flaw::IdleNever,
                !self.idle_timeout.is_zero(),
                "add --idle-timeout",
            ),
            (
                Flaw::IdleEarly,
                !self.idle_timeout.is_zero(),
                "add --idle-timeout",
            ),
            (
                Flaw::IdleNotExtended,
                !self.idle_timeout.is_zero(),
                "add --idle-timeout",
            ),
            (
                Flaw::NoKick,
                limits,
                "add --single-session or --max-sessions N",
            ),
            (
                Flaw::SessionLimitIgnored,
                limits,
                "add --single-session or --max-sessions N",
            ),
            (
                Flaw::GraceNewSuccessor,
                !self.reuse_grace.is_zero(),
                "add --reuse-grace",
            ),
            (Flaw::NoRotation, self.rotation, "drop --no-rotation"),
            (
                Flaw::ReuseAllowed,
                self.rotation && self.reuse_detection,
                "keep rotation and reuse detection on",
            ),
            (
                Flaw::NoFamilyRevocation,
                self.rotation && self.reuse_detection,
                "keep rotation and reuse detection on",
            ),
        ];
        let mut out: Vec<String> = premises
            .iter()
            .filter(|(flaw, premise, _)| !premise && self.flaws.contains(flaw))
            .map(|(flaw, _, fix)| format!("--flaw {flaw} has no effect here: {fix}"))
            .collect();
        if !self.reuse_grace.is_zero() && !self.rotation {
            out.push(
                "--reuse-grace has no effect without rotation (--no-rotation): there is no rotated-out token to grace".into(),
            );
        }
        out
    }
}

/// The flags of `authbench mock` and `authbench-mock` (DESIGN §5).
#[derive(Debug, Clone, clap::Args)]
pub struct MockArgs {
    /// Port to listen on (0 = pick a free one and print it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Users userN / pw-N exist for every N below USERS (created lazily).
    #[arg(long, default_value_t = 100_000)]
    pub users: u64,
    /// Access-token signing algorithm: es256, eddsa, hs256, rs256.
    #[arg(long, default_value = "es256")]
    pub signing: Signing,
    /// Access-token lifetime.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub access_ttl: Duration,
    /// Refresh-token lifetime (never beyond --max-session).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub refresh_ttl: Duration,
    /// Absolute session lifetime from login; rotation never extends it.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    pub max_session: Duration,
    /// Rotate refresh tokens on every refresh (default).
    #[arg(long, overrides_with = "no_rotation")]
    pub rotation: bool,
    /// Return the same refresh token on refresh.
    #[arg(long, overrides_with = "rotation")]
    pub no_rotation: bool,
    /// Revoke the whole family when a rotated-out refresh token is used (default).
    #[arg(long, overrides_with = "no_reuse_detection")]
    pub reuse_detection: bool,
    /// A rotated-out refresh token just gets invalid_grant.
    #[arg(long, overrides_with = "reuse_detection")]
    pub no_reuse_detection: bool,
    /// After a rotation, the immediate predecessor still returns the same successor for this long.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub reuse_grace: Duration,
    /// A new login revokes every older session of the user and kicks its sockets (4409).
    #[arg(long)]
    pub single_session: bool,
    /// /api/me adds New-Access-Token when less than this is left on the token (0 = off).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub sliding_window: Duration,
    /// The resource still accepts an access token this long after its exp (clock-skew leeway).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub access_leeway: Duration,
    /// A refused refresh grant is answered this long after the refusal took effect (its family
    /// revocation already in force): slow error answers.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub refusal_delay: Duration,
    /// An accepted refresh grant is answered this long after it took effect.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub renewal_delay: Duration,
    /// A refresh ends every access token the session was issued before it.
    #[arg(long)]
    pub refresh_revokes_access: bool,
    /// The end of a session (--max-session, --idle-timeout) also ends its access tokens.
    #[arg(long)]
    pub access_ends_with_session: bool,
    /// Interval of {"type":"tick"} WebSocket messages (0 = off).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub ws_tick: Duration,
    /// Also set the refresh token as an HttpOnly `refresh_token` cookie.
    #[arg(long)]
    pub refresh_cookie: bool,
    /// Bearer key for the admin endpoints (random and printed at start if not given).
    #[arg(long, value_name = "KEY")]
    pub admin_key: Option<String>,
    /// Inject a fault: latency:OP=MIN..MAX, error:OP=P%, capacity:OP=N, rate:OP=N/s
    /// (OP: login, refresh, api, ws, logout, logout_everywhere, force_logout, csrf_page, sse,
    /// push). Repeatable.
    #[arg(long = "fault", value_name = "KIND:OP=VALUE")]
    pub faults: Vec<Fault>,
    /// Enable a deliberate flaw (repeatable or comma-separated); see the README for the list.
    #[arg(long = "flaw", value_name = "NAME", value_delimiter = ',')]
    pub flaws: Vec<Flaw>,
    /// Request body cap (larger bodies get 413).
    #[arg(long, value_name = "BYTES", default_value = "64KiB", value_parser = parse_size)]
    pub max_body: usize,
    /// Answer every request with `Connection: close` and close the connection after it.
    #[arg(long)]
    pub connection_close: bool,
    /// Close connections that have waited this long for a request (0 = never).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub keepalive_timeout: Duration,
    /// End a session whose refresh token goes unused this long; a refresh extends it, never
    /// past --max-session (0 = off).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Deliver session events (kicked, logout, session_expired) of sessions that registered a
    /// device token as FCM HTTP v1 shaped POSTs to this URL (e.g.
    /// http://127.0.0.1:9099/v1/projects/authbench/messages:send).
    #[arg(long, value_name = "URL")]
    pub push_url: Option<String>,
    /// Live sessions one user may hold; a login beyond them ends the oldest (refresh family
    /// revoked, sockets kicked with 4409). 0 = no limit; --single-session is --max-sessions 1.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_sessions: u32,
    /// Serve TLS with this PEM certificate chain (with --tls-key).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Serve TLS with a certificate made at start for localhost, 127.0.0.1 and ::1, issued by a
    /// fresh CA written to CA_FILE (PEM) for clients to trust.
    #[arg(long, value_name = "CA_FILE")]
    pub tls_self_signed: Option<std::path::PathBuf>,
    /// Where /ws expects the token: `handshake` (query, header or subprotocol) or
    /// `first-message` (graphql-transport-ws `connection_init`, answered by `connection_ack`).
    #[arg(long, value_name = "WHERE", default_value = "handshake")]
    pub ws_auth: WsAuth,
    /// POST /oauth/revoke revokes refresh tokens only and refuses access tokens with 400
    /// unsupported_token_type (RFC 7009 §2.2.1), as Auth0 and Cognito do.
    #[arg(long)]
    pub revoke_refresh_only: bool,
    /// `cookie`: also serve server-side sessions behind a `sessionid` cookie under /session/
    /// (login, me, logout, csrf page; Max-Age = --access-ttl, slid by every request, never past
    /// --max-session; CSRF header and Origin checked on unsafe methods; 401 once gone).
    #[arg(long, value_name = "MODE", default_value = "token")]
    pub session_mode: SessionMode,
}

impl MockArgs {
    /// The validated configuration these flags describe.
    pub fn into_config(self) -> Result<MockConfig, MockError> {
        let cfg = MockConfig {
            bind: self.bind,
            port: self.port,
            users: self.users,
            signing: self.signing,
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            max_session: self.max_session,
            rotation: !self.no_rotation,
            reuse_detection: !self.no_reuse_detection,
            reuse_grace: self.reuse_grace,
            single_session: self.single_session,
            sliding_window: self.sliding_window,
            access_leeway: self.access_leeway,
            refusal_delay: self.refusal_delay,
            renewal_delay: self.renewal_delay,
            refresh_revokes_access: self.refresh_revokes_access,
            access_ends_with_session: self.access_ends_with_session,
            ws_tick: self.ws_tick,
            refresh_cookie: self.refresh_cookie,
            admin_key: self.admin_key,
            faults: self.faults,
            flaws: self.flaws,
            max_body: self.max_body,
            connection_close: self.connection_close,
            keepalive_timeout: self.keepalive_timeout,
            idle_timeout: self.idle_timeout,
            push_url: self.push_url,
            max_sessions: self.max_sessions,
            tls: match (self.tls_cert, self.tls_key, self.tls_self_signed) {
                (Some(cert), Some(key), _) => Some(crate::tls::MockTls::Files { cert, key }),
                (_, _, Some(ca)) => Some(crate::tls::MockTls::SelfSigned { ca_out: Some(ca) }),
                _ => None,
            },
            ws_auth: self.ws_auth,
            revoke_refresh_only: self.revoke_refresh_only,
            session_mode: self.session_mode,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// serde for a `Duration` as a humantime string (`"30s"`); numbers are read as seconds.
mod human_duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Duration::from_secs(n)),
            Raw::Text(s) => parse_duration(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// serde through `Display` / `FromStr`.
mod as_string {
    use super::*;

    pub fn serialize<T: fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// serde of a list through `Display` / `FromStr`.
mod as_string_vec {
    use super::*;

    pub fn serialize<T: fmt::Display, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_string()))
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
        D: Deserializer<'de>,
    {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: MockArgs,
    }

    fn parse(argv: &[&str]) -> Result<MockConfig, String> {
        let cli = Cli::try_parse_from(std::iter::once("mock").chain(argv.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.args.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_match_design() {
        assert_eq!(parse(&[]).unwrap(), MockConfig::default());
        let d = MockConfig::default();
        assert_eq!(d.port, 8080);
        assert_eq!(d.access_ttl, Duration::from_secs(30));
        assert!(d.rotation && d.reuse_detection && !d.single_session);
        assert_eq!(d.max_body, 65536);
    }

    #[test]
    fn flags_parse() {
        let c = parse(&[
            "--port",
            "0",
            "--bind",
            "0.0.0.0",
            "--users",
            "10",
            "--signing",
            "rs256",
            "--access-ttl",
            "1s",
            "--refresh-ttl",
            "1h",
            "--max-session",
            "2h",
            "--no-rotation",
            "--no-reuse-detection",
            "--reuse-grace",
            "2s",
            "--single-session",
            "--sliding-window",
            "10s",
            "--ws-tick",
            "500ms",
            "--refresh-cookie",
            "--admin-key",
            "k",
            "--fault",
            "latency:refresh=20ms..80ms",
            "--fault",
            "error:api=1.5%",
            "--flaw",
            "no-kick,accept-alg-none",
            "--flaw",
            "reuse-allowed",
            "--max-body",
            "1KiB",
            "--connection-close",
            "--keepalive-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.signing, Signing::Rs256);
        assert!(!c.rotation && !c.reuse_detection && c.single_session && c.refresh_cookie);
        assert_eq!(c.reuse_grace, Duration::from_secs(2));
        assert_eq!(c.ws_tick, Duration::from_millis(500));
        assert_eq!(c.faults.len(), 2);
        assert_eq!(
            c.flaws,
            vec![Flaw::NoKick, Flaw::AcceptAlgNone, Flaw::ReuseAllowed]
        );
        assert_eq!(c.max_body, 1024);
        assert!(c.connection_close);
        assert_eq!(c.keepalive_timeout, Duration::from_secs(5));
        assert_eq!(c.admin_key.as_deref(), Some("k"));
    }

    #[test]
    fn the_session_policy_flags() {
        assert_eq!(parse(&[]).unwrap().session_limit(), None);
        assert_eq!(
            parse(&["--single-session"]).unwrap().session_limit(),
            Some(1)
        );
        let c = parse(&["--max-sessions", "3"]).unwrap();
        assert_eq!((c.max_sessions, c.session_limit()), (3, Some(3)));
        let e = parse(&["--single-session", "--max-sessions", "2"]).unwrap_err();
        assert!(e.contains("max_sessions"), "{e}");
        assert!(parse(&["--max-sessions", "257"]).is_err());
    }

    #[test]
    fn last_of_rotation_pair_wins() {
        assert!(parse(&["--no-rotation", "--rotation"]).unwrap().rotation);
        assert!(!parse(&["--rotation", "--no-rotation"]).unwrap().rotation);
    }

    #[test]
    fn bad_values_have_clear_errors() {
        let e = parse(&["--flaw", "no-kik"]).unwrap_err();
        assert!(
            e.contains("unknown flaw \"no-kik\", did you mean `no-kick`?; known flaws:"),
            "{e}"
        );
        let e = parse(&["--signing", "ps256"]).unwrap_err();
        assert!(e.contains("unknown signing algorithm"), "{e}");
        let e = parse(&["--access-ttl", "30 parsecs"]).unwrap_err();
        assert!(e.contains("invalid duration"), "{e}");
        let e = parse(&["--access-ttl", "0s"]).unwrap_err();
        assert!(e.contains("access_ttl"), "{e}");
        let e = parse(&["--ws-tick", "1000years"]).unwrap_err();
        assert!(e.contains("ws_tick"), "{e}");
        // faults built in code (not parsed) are validated too
        let mut c = MockConfig::default();
        c.faults.push(Fault {
            op: Op::Api,
            kind: FaultKind::Latency {
                min: Duration::from_secs(2),
                max: Duration::from_secs(1),
            },
        });
        assert!(c.validate().is_err());
    }

    #[test]
    fn tls_and_ws_auth_flags() {
        use crate::tls::MockTls;
        let c = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert_eq!(
            c.tls,
            Some(MockTls::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        let c = parse(&["--tls-self-signed", "ca.pem", "--ws-auth", "first-message"]).unwrap();
        assert_eq!(
            c.tls,
            Some(MockTls::SelfSigned {
                ca_out: Some("ca.pem".into())
            })
        );
        assert_eq!(c.ws_auth, WsAuth::FirstMessage);
        // A certificate needs its key; files and a generated certificate exclude each other.
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(
            parse(&[
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
                "--tls-self-signed",
                "x"
            ])
            .is_err()
        );
        let e = parse(&["--ws-auth", "cookie"]).unwrap_err();
        assert!(e.contains("first-message"), "{e}");
        assert_eq!(
            "first-message".parse::<WsAuth>().unwrap().to_string(),
            "first-message"
        );
    }

    #[test]
    fn settings_without_effect_are_named() {
        let warn = |flags: &[&str]| parse(flags).unwrap().ineffective().join("\n");
        assert_eq!(warn(&[]), "", "the defaults all have an effect");
        let w = warn(&["--flaw", "hs256-key-confusion"]);
        assert!(w.contains("--flaw hs256-key-confusion has no effect here: it confuses an RS256 public key with an HS256 secret: add --signing rs256"), "{w}");
        assert_eq!(
            warn(&["--flaw", "hs256-key-confusion", "--signing", "rs256"]),
            ""
        );
        assert!(warn(&["--flaw", "idle-never"]).contains("add --idle-timeout"));
        assert_eq!(warn(&["--flaw", "idle-never", "--idle-timeout", "2s"]), "");
        assert!(warn(&["--flaw", "no-kick"]).contains("--single-session or --max-sessions"));
        assert_eq!(warn(&["--flaw", "no-kick", "--single-session"]), "");
        assert!(warn(&["--flaw", "grace-new-successor"]).contains("add --reuse-grace"));
        let w = warn(&["--no-rotation", "--reuse-grace", "5s"]);
        assert!(
            w.contains("--reuse-grace has no effect without rotation"),
            "{w}"
        );
    }

    #[test]
    fn faults_parse_and_round_trip() {
        let cases = [
            "latency:refresh=20ms..80ms",
            "latency:api=20ms",
            "error:refresh=1%",
            "error:login=0.5%",
            "capacity:ws=10",
            "rate:refresh=500/s",
            "error:logout=30%",
            "error:logout_everywhere=100%",
            "latency:force_logout=5ms..10ms",
            "error:csrf_page=50%",
            "capacity:sse=0",
            "rate:push=10/s",
        ];
        for c in cases {
            let f: Fault = c.parse().unwrap();
            assert_eq!(f.to_string().parse::<Fault>().unwrap(), f, "{c}");
        }
        for (i, op) in Op::ALL.into_iter().enumerate() {
            assert_eq!(op.index(), i, "{op}: Op::index follows Op::ALL");
            assert_eq!(op.to_string().parse::<Op>(), Ok(op));
            let spec = format!("error:{op}=1%");
            assert_eq!(spec.parse::<Fault>().unwrap().to_string(), spec);
        }
        let unknown = "error:csrf=1%".parse::<Fault>().unwrap_err().to_string();
        for op in Op::ALL {
            assert!(unknown.contains(op.name()), "{unknown}");
        }
        assert!(
            unknown.contains(
                "known: login, refresh, api, ws, logout, logout_everywhere, force_logout, csrf_page, sse, push, authorize, introspect"
            ),
            "{unknown}"
        );
        // A typo gets the name it is closest to; a name far from all of them gets none.
        let typo = "error:logot=5%".parse::<Fault>().unwrap_err().to_string();
        assert!(
            typo.contains("unknown operation \"logot\", did you mean `logout`?; known: login,"),
            "{typo}"
        );
        let typo = "latncy:api=5ms".parse::<Fault>().unwrap_err().to_string();
        assert!(
            typo.contains("unknown fault kind \"latncy\", did you mean `latency`?; known: latency, error, capacity, rate"),
            "{typo}"
        );
        assert!(
            !unknown.contains("did you mean"),
            "csrf is 5 edits from csrf_page: {unknown}"
        );
        assert_eq!(
            Fault::corrected("error:logot=5%").as_deref(),
            Some("error:logout=5%")
        );
        assert_eq!(
            Fault::corrected(" latncy:refesh=5ms ").as_deref(),
            Some("latency:refresh=5ms")
        );
        assert_eq!(Fault::corrected("error:csrf=1%"), None, "no close name");
        assert_eq!(
            Fault::corrected("error:logot=500%"),
            None,
            "still invalid once spelt right"
        );
        assert_eq!(
            Fault::corrected("error:logout=5%"),
            None,
            "nothing to correct"
        );
        assert_eq!(
            "latency:api=20ms".parse::<Fault>().unwrap().kind,
            FaultKind::Latency {
                min: Duration::from_millis(20),
                max: Duration::from_millis(20)
            }
        );
        assert_eq!(
            "rate:api=120/m".parse::<Fault>().unwrap().kind,
            FaultKind::Rate { per_second: 2.0 }
        );
        for bad in [
            "latency",
            "latency:foo=1s",
            "error:api=5",
            "error:api=101%",
            "capacity:api=-1",
            "rate:api=0/s",
            "rate:api=5/h",
            "boom:api=1",
            "latency:api=80ms..20ms",
        ] {
            let e = bad.parse::<Fault>().unwrap_err().to_string();
            assert!(e.starts_with("invalid fault"), "{bad}: {e}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let mut c = MockConfig::default();
        c.faults.push("rate:refresh=500/s".parse().unwrap());
        c.flaws.push(Flaw::NoKick);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"access_ttl\":\"30s\""), "{json}");
        let back: MockConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let partial: MockConfig =
            serde_json::from_str(r#"{"access_ttl":"10s","flaws":["no-rotation"]}"#).unwrap();
        assert_eq!(partial.access_ttl, Duration::from_secs(10));
        assert_eq!(partial.flaws, vec![Flaw::NoRotation]);
        assert!(serde_json::from_str::<MockConfig>(r#"{"acces_ttl":"10s"}"#).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536").unwrap(), 65536);
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert_eq!(parse_size("64kb").unwrap(), 65536);
        assert_eq!(parse_size(" 2 MiB ").unwrap(), 2 << 20);
        assert!(parse_size("lots").is_err());
    }
}
