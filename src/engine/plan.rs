//! [`Plan`]: what the engine runs — the only place the engine reads scenario types.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::shard::Shard;
use crate::client::{ClientSettings, Connections, Strategy};
use crate::scenario;

/// Credentials of global client `n`: `(user, password)`.
#[derive(Clone)]
pub struct Users(Arc<dyn Fn(u64) -> (String, String) + Send + Sync>);

impl Users {
    /// Credentials from a function of the global client index.
    pub fn new(f: impl Fn(u64) -> (String, String) + Send + Sync + 'static) -> Users {
        Users(Arc::new(f))
    }

    /// `user{n}` / `pw-{n}` with `{n}` replaced by `offset + n` (the mock's users).
    pub fn pattern(user: &str, password: &str, offset: u64) -> Users {
        let (user, password) = (user.to_string(), password.to_string());
        Users::new(move |n| {
            let k = offset.saturating_add(n).to_string();
            (user.replace("{n}", &k), password.replace("{n}", &k))
        })
    }

    /// The credentials of global client `n`.
    pub fn get(&self, n: u64) -> (String, String) {
        (self.0)(n)
    }
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Users(..)")
    }
}

/// One step of a plan (the scenario's phases, engine-side).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Every client logs in, spread evenly over `ramp`.
    Login { ramp: Duration },
    /// Wake every client together `offset` after the last access token expired.
    SyncExpiry { offset: Duration },
    /// API traffic for `duration`: closed model, or open model at `rate` arrivals per second.
    Traffic {
        duration: Duration,
        rate: Option<f64>,
    },
    /// `parallel` refreshes of one refresh token per client, released by a barrier.
    RefreshRace { parallel: u32 },
    /// Every user logs in again as a second device; the old session is replaced (and kicked).
    Relogin { ramp: Duration },
    /// Every client logs out.
    Logout { ramp: Duration },
    /// Every user is logged out by the admin endpoint.
    ForceLogout { ramp: Duration },
    /// Every client opens its WebSocket.
    WsConnect { ramp: Duration },
    /// Nothing happens for `duration`.
    Wait { duration: Duration },
}

impl Step {
    /// The phase name (as in scenario files and timeline marks).
    pub fn name(&self) -> &'static str {
        match self {
            Step::Login { .. } => "login",
            Step::SyncExpiry { .. } => "sync_expiry",
            Step::Traffic { .. } => "traffic",
            Step::RefreshRace { .. } => "refresh_race",
            Step::Relogin { .. } => "relogin",
            Step::Logout { .. } => "logout",
            Step::ForceLogout { .. } => "force_logout",
            Step::WsConnect { .. } => "ws_connect",
            Step::Wait { .. } => "wait",
        }
    }
}

/// Everything the engine needs for one run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Clients of the whole run (all shards).
    pub clients: u32,
    pub users: Users,
    pub client: ClientSettings,
    pub connections: Connections,
    /// Open a WebSocket for every client right after its login (`client.websocket: true`).
    pub websocket: bool,
    pub steps: Vec<Step>,
    /// Run only this shard's share of the clients.
    pub shard: Option<Shard>,
    /// Wait for this wall-clock instant before the first phase.
    pub start_at: Option<SystemTime>,
    /// How long to wait after a kick trigger for the old socket's kick before counting it missed.
    pub kick_timeout: Duration,
}

impl Plan {
    /// A plan with defaults around `steps` (mainly for tests and programmatic use).
    pub fn new(clients: u32, users: Users, client: ClientSettings, steps: Vec<Step>) -> Plan {
        Plan {
            clients,
            users,
            client,
            connections: Connections::PerClient,
            websocket: false,
            steps,
            shard: None,
            start_at: None,
            kick_timeout: Duration::from_secs(5),
        }
    }

    /// The plan of a loaded scenario.
    pub fn from_scenario(s: &scenario::Scenario) -> Plan {
        let c = &s.client;
        let client = ClientSettings {
            strategy: match c.strategy {
                scenario::Strategy::Naive => Strategy::Naive,
                scenario::Strategy::SingleFlight => Strategy::SingleFlight,
                scenario::Strategy::Proactive => Strategy::Proactive,
                scenario::Strategy::Sliding => Strategy::Sliding,
            },
            concurrency: c.concurrency.max(1),
            think_time: c.think_time,
            proactive_margin: c.proactive_margin,
            jitter: c.jitter,
            timeout: c.timeout,
        };
        let steps = s
            .plan
            .iter()
            .map(|p| match p {
                scenario::Phase::Login { ramp } => Step::Login { ramp: *ramp },
                scenario::Phase::SyncExpiry { offset } => Step::SyncExpiry { offset: *offset },
                scenario::Phase::Traffic { duration, rate } => Step::Traffic {
                    duration: *duration,
                    rate: rate.map(|r| r.per_second),
                },
                scenario::Phase::RefreshRace { parallel } => Step::RefreshRace {
                    parallel: *parallel,
                },
                scenario::Phase::Relogin { ramp } => Step::Relogin { ramp: *ramp },
                scenario::Phase::Logout { ramp } => Step::Logout { ramp: *ramp },
                scenario::Phase::ForceLogout { ramp } => Step::ForceLogout { ramp: *ramp },
                scenario::Phase::WsConnect { ramp } => Step::WsConnect { ramp: *ramp },
                scenario::Phase::Wait { duration } => Step::Wait {
                    duration: *duration,
                },
            })
            .collect();
        let users = s.users.clone();
        Plan {
            clients: s.clients,
            users: Users::new(move |n| users.credentials(n)),
            client,
            connections: match c.connections {
                scenario::Connections::PerClient => Connections::PerClient,
                scenario::Connections::Pool(n) => Connections::Pool(n),
            },
            websocket: c.websocket,
            steps,
            shard: None,
            start_at: None,
            kick_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the shard (builder style, for the CLI's `--shard`).
    pub fn with_shard(mut self, shard: Option<Shard>) -> Plan {
        self.shard = shard;
        self
    }

    /// Sets the wall-clock start (builder style, for the CLI's `--start-at`).
    pub fn with_start_at(mut self, at: Option<SystemTime>) -> Plan {
        self.start_at = at;
        self
    }

    /// Whether any step or the client setting needs WebSockets.
    pub fn uses_websocket(&self) -> bool {
        self.websocket
            || self
                .steps
                .iter()
                .any(|s| matches!(s, Step::WsConnect { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_users() {
        let u = Users::pattern("user{n}", "pw-{n}", 10);
        assert_eq!(u.get(5), ("user15".to_string(), "pw-15".to_string()));
    }

    #[test]
    fn step_names_are_the_scenario_names() {
        let steps = [
            Step::Login {
                ramp: Duration::ZERO,
            },
            Step::SyncExpiry {
                offset: Duration::ZERO,
            },
            Step::Traffic {
                duration: Duration::ZERO,
                rate: None,
            },
            Step::RefreshRace { parallel: 2 },
            Step::Relogin {
                ramp: Duration::ZERO,
            },
            Step::Logout {
                ramp: Duration::ZERO,
            },
            Step::ForceLogout {
                ramp: Duration::ZERO,
            },
            Step::WsConnect {
                ramp: Duration::ZERO,
            },
            Step::Wait {
                duration: Duration::ZERO,
            },
        ];
        let names: Vec<&str> = steps.iter().map(Step::name).collect();
        assert_eq!(names, scenario::Phase::NAMES);
    }
}
