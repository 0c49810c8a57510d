//! The scenario model: what a scenario file says, with defaults applied ([`Scenario`],
//! [`ClientConfig`], [`Phase`], [`TargetSpec`]).
//!
//! The serde derives here *are* the file format (DESIGN §3): `deny_unknown_fields` everywhere,
//! phases as one-key maps (`- login: { ramp: 2s }`), durations as strings (`30s`).
//!
//! A scenario names the client's [`Strategy`] and [`Connections`] with the client's own types (one
//! type per concept); the YAML form of `Connections` (`per-client` or a pool size) is defined here,
//! with the file format.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::users::UserSource;
use crate::client::tabs::DEFAULT_TAB_SYNC_DELAY;
use crate::client::{Channel, Connections, Strategy, TabSync};
use crate::config::Threshold;
use crate::config::units::{Rate, duration_schema, human_duration};

/// A loaded, validated scenario: everything the engine needs to run it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (file stem by default); used in report folder names.
    pub name: String,
    /// One or two sentences on what the scenario shows.
    pub description: String,
    /// Which server to talk to.
    pub target: TargetSpec,
    /// The builtin mock's configuration (used only when `target` is [`TargetSpec::Builtin`];
    /// `port` is 0 so it binds a free port).
    pub mock: authbench_mock::MockConfig,
    /// Number of simulated clients.
    pub clients: u32,
    /// Where each client's credentials come from.
    pub users: UserSource,
    /// How every client behaves.
    pub client: ClientConfig,
    /// The phases, in order.
    pub plan: Vec<Phase>,
    /// Thresholds (`p99(refresh) < 250ms`), parsed once when the scenario is loaded.
    pub expect: Vec<Threshold>,
    /// The scenario file (absolute or as given); `None` for scenarios built from a string.
    pub source_path: Option<PathBuf>,
    /// The effective configuration (file plus overrides) as JSON, for the report.
    pub config: serde_json::Value,
}

impl Scenario {
    /// Whether clients hold WebSockets (`client.websocket: true` or a `ws_connect` phase).
    pub fn uses_websocket(&self) -> bool {
        self.client.channel() == Some(Channel::Ws)
            || self
                .plan
                .iter()
                .any(|p| matches!(p, Phase::WsConnect { .. }))
    }
}

/// Which server a scenario runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// The reference mock, started in-process on 127.0.0.1:0 with the `mock:` section.
    Builtin,
    /// A target profile file (resolved relative to the scenario file).
    File(PathBuf),
    /// A bare URL: the generic `oauth2` preset plus OpenID discovery.
    Url(String),
}

impl TargetSpec {
    /// Reads `builtin`, an `http(s)://` URL, or a path (relative to `base_dir`).
    pub fn parse(s: &str, base_dir: &std::path::Path) -> TargetSpec {
        let t = s.trim();
        if t.is_empty() || t == "builtin" {
            TargetSpec::Builtin
        } else if t.starts_with("http://") || t.starts_with("https://") {
            TargetSpec::Url(t.to_string())
        } else {
            TargetSpec::File(base_dir.join(t))
        }
    }
}

impl std::fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetSpec::Builtin => f.write_str("builtin"),
            TargetSpec::File(p) => write!(f, "{}", p.display()),
            TargetSpec::Url(u) => f.write_str(u),
        }
    }
}

/// `client.connections`: `per-client` or a pool size.
impl Serialize for Connections {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Connections::PerClient => s.serialize_str("per-client"),
            Connections::Pool(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Connections {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Connections;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`per-client` or a pool size such as 2000")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Connections, E> {
                match v.trim() {
                    "per-client" => Ok(Connections::PerClient),
                    other => match other.parse::<u64>() {
                        Ok(n) => self.visit_u64(n),
                        Err(_) => Err(E::custom(format!(
                            "invalid connections {other:?}: expected `per-client` or a pool size such as 2000"
                        ))),
                    },
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Connections, E> {
                match u32::try_from(v) {
                    Ok(n) if n >= 1 => Ok(Connections::Pool(n)),
                    _ => Err(E::custom(format!(
                        "invalid connections {v}: a pool size is between 1 and 4294967295"
                    ))),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Connections, E> {
                match u64::try_from(v) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!(
                        "invalid connections {v}: a pool size is at least 1"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Connections {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Connections".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`per-client` (a keep-alive connection and cookie jar per client) or a pool size shared by all clients.",
            "oneOf": [
                { "type": "string", "enum": ["per-client"] },
                { "type": "integer", "minimum": 1, "maximum": 4294967295u64 }
            ]
        })
    }
}

/// How every simulated client behaves (`client:` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// How the access token is renewed: naive, single-flight, proactive or sliding.
    pub strategy: Strategy,
    /// Requests in flight per client at once (a page loading N API calls), 1..=64.
    #[schemars(range(min = 1, max = super::validate::MAX_CONCURRENCY))]
    pub concurrency: u32,
    /// Pause between a client's requests in closed-model traffic.
    #[serde(with = "human_duration")]
    #[schemars(schema_with = "duration_schema")]
    pub think_time: Duration,
    /// Proactive: refresh this long before `exp`.
    #[serde(with = "human_duration")]
    #[schemars(schema_with = "duration_schema")]
    pub proactive_margin: Duration,
    /// Proactive: spread each refresh uniformly by up to this much (±).
    #[serde(with = "human_duration")]
    #[schemars(schema_with = "duration_schema")]
    pub jitter: Duration,
    /// Hold a WebSocket per client (handshake auth, reconnect after an expiry close).
    pub websocket: bool,
    /// `per-client` keep-alive connections, or a shared pool size.
    pub connections: Connections,
    /// Timeout of every HTTP request and WebSocket handshake.
    #[serde(with = "human_duration")]
    #[schemars(schema_with = "duration_schema")]
    pub timeout: Duration,
    /// Share (0..=1) of API calls sent to the target's `scoped_resource`, a resource the users'
    /// tokens lack the scope for (a 403 there is the expected answer).
    pub scoped_share: f64,
    /// Log out and in again on a 403, like on session loss (the common interceptor bug); each
    /// such logout is counted in `false_logouts`.
    pub logout_on_403: bool,
    /// Tabs per user (1..=64): every user runs this many tabs sharing one token store; each tab
    /// makes its own calls and may hold its own WebSocket. `clients` counts users.
    #[schemars(range(min = 1, max = crate::client::tabs::MAX_TABS))]
    pub tabs: u32,
    /// How the tabs of a user coordinate (needs tabs > 1): none, storage-event, lock or leader.
    pub tab_sync: TabSync,
    /// storage-event and leader: how long a new token or a logout takes to reach the other tabs.
    #[serde(with = "human_duration")]
    #[schemars(schema_with = "duration_schema")]
    pub tab_sync_delay: Duration,
    /// Devices each user signs in on (1..=16): separate sessions with their own token stores,
    /// connections and sockets, all with the user's credentials.
    #[schemars(range(min = 1, max = super::validate::MAX_DEVICES))]
    pub devices: u32,
    /// The channel every client opens after its login: `ws`, `sse` or `push` (none by default;
    /// `websocket: true` is the same as `channel: ws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// `channel: push`: the address of authbench's push receiver (default `127.0.0.1:0`, a free
    /// port; a real server needs a fixed one, e.g. `127.0.0.1:9099`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_listen: Option<String>,
}

impl ClientConfig {
    /// The channel every client opens after its login: `channel`, or `ws` for `websocket: true`.
    pub fn channel(&self) -> Option<Channel> {
        self.channel.or(self.websocket.then_some(Channel::Ws))
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            strategy: Strategy::default(),
            concurrency: 1,
            think_time: Duration::from_secs(1),
            proactive_margin: Duration::from_secs(5),
            jitter: Duration::ZERO,
            websocket: false,
            connections: Connections::PerClient,
            timeout: Duration::from_secs(10),
            scoped_share: 0.0,
            logout_on_403: false,
            channel: None,
            push_listen: None,
            devices: 1,
            tabs: 1,
            tab_sync: TabSync::None,
            tab_sync_delay: DEFAULT_TAB_SYNC_DELAY,
        }
    }
}

fn default_sync_offset() -> Duration {
    Duration::from_millis(100)
}

fn default_parallel() -> u32 {
    2
}

// The engine runs these as they are (`engine::Plan`): a phase carries nothing that needs
// resolving first. (A `//` comment: the `///` doc below is the JSON Schema's description.)
/// One step of a scenario's plan. In YAML, a one-key map: `- login: { ramp: 2s }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Phase {
    /// Every client logs in, spread evenly over `ramp`.
    Login {
        /// Spread the logins over this long (0s = all at once).
        #[serde(default, with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        ramp: Duration,
    },
    /// Wait until every client's access token has expired, then wake every client in the same
    /// millisecond, `offset` after the last expiry.
    SyncExpiry {
        /// How long after the last expiry to wake everyone (default 100ms).
        #[serde(default = "default_sync_offset", with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        offset: Duration,
    },
    /// Authenticated API calls for `duration`: closed model (think_time) or, with `rate`, an
    /// open model (coordinated-omission corrected).
    Traffic {
        /// How long the traffic lasts.
        #[serde(with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        duration: Duration,
        /// Open model: total arrivals per second/minute across all clients (`2000/s`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<Rate>,
    },
    /// Each client fires `parallel` refreshes of the same refresh token, released by one barrier.
    RefreshRace {
        /// Refreshes per client released at once (default 2).
        #[serde(default = "default_parallel")]
        parallel: u32,
    },
    /// Every user logs in again on a new session (the kick-off test).
    Relogin {
        /// Spread over this long.
        #[serde(default, with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        ramp: Duration,
    },
    /// Every client logs out.
    Logout {
        /// Spread over this long.
        #[serde(default, with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        ramp: Duration,
    },
    /// Every user is logged out by the admin endpoint (the password-change case).
    ForceLogout {
        /// Spread over this long.
        #[serde(default, with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        ramp: Duration,
    },
    /// Every client opens its WebSocket.
    WsConnect {
        /// Spread over this long.
        #[serde(default, with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        ramp: Duration,
    },
    /// Do nothing for `duration` (sockets stay open, proactive timers keep running).
    Wait {
        /// How long.
        #[serde(with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        duration: Duration,
    },
    /// The target stops serving for `duration` (the profile's `admin_outage` request, e.g. the
    /// mock's `POST /admin/outage`); the plan goes on at once, so the next phase runs through it.
    Outage {
        /// How long the target stays away (at most 10m).
        #[serde(with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        duration: Duration,
    },
    /// The user walks away and the device sleeps for `duration`: no client sends anything — no
    /// API call, no proactive timer, no socket renewal (held until the phase ends). Sockets stay
    /// open. Longer than the server's idle timeout, it ends the sessions server-side.
    Idle {
        /// How long the clients stay idle.
        #[serde(with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        duration: Duration,
    },
    /// One device of every user sends the profile's `logout_everywhere` request; measures how
    /// long until every device's socket is closed and its refresh refused
    /// (`logout_everywhere_latency`) and counts `zombie_sessions`.
    LogoutEverywhere {
        /// Spread the users' requests over this long.
        #[serde(default, with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        ramp: Duration,
        /// Wait up to this long for the devices' access tokens to expire, then check that each
        /// is refused (default 30s; 0s = do not check).
        #[serde(default = "default_await_expiry", with = "human_duration")]
        #[schemars(schema_with = "duration_schema")]
        await_expiry: Duration,
    },
}

fn default_await_expiry() -> Duration {
    Duration::from_secs(30)
}

impl Phase {
    /// The phase's YAML name (`login`, `sync_expiry`, ...), as used in timeline markers.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Login { .. } => "login",
            Phase::SyncExpiry { .. } => "sync_expiry",
            Phase::Traffic { .. } => "traffic",
            Phase::RefreshRace { .. } => "refresh_race",
            Phase::Relogin { .. } => "relogin",
            Phase::Logout { .. } => "logout",
            Phase::ForceLogout { .. } => "force_logout",
            Phase::WsConnect { .. } => "ws_connect",
            Phase::Wait { .. } => "wait",
            Phase::Outage { .. } => "outage",
            Phase::Idle { .. } => "idle",
            Phase::LogoutEverywhere { .. } => "logout_everywhere",
        }
    }
}
