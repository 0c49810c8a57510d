//! [`Plan`]: what the engine runs — a scenario's client settings, users and phases, plus what only
//! a run knows (shard, wall-clock start). The phases are the scenario's own [`Phase`]s: they carry
//! nothing that needs resolving, so there is no engine-side copy of them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::shard::Shard;
use crate::client::push::PushReceiver;
use crate::client::{Channel, ClientSettings, Connections};
use crate::scenario::{Phase, Scenario};

pub use crate::client::credentials::Users;

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
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// Run only this shard's share of the clients.
    pub shard: Option<Shard>,
    /// Wait for this wall-clock instant before the first phase.
    pub start_at: Option<SystemTime>,
    /// How long to wait after a kick trigger for the old socket's kick before counting it missed.
    pub kick_timeout: Duration,
    /// The channel every client opens after its login (`client.channel`; `ws` for
    /// `client.websocket: true`), and that `ws_connect` opens.
    pub channel: Option<Channel>,
    /// `channel: push`: authbench's push receiver, started by the caller (before the builtin mock,
    /// which needs its URL).
    pub push: Option<Arc<PushReceiver>>,
    /// Devices each user signs in on (`client.devices`, at least 1): one session per device.
    pub devices: u32,
}

impl Plan {
    /// A plan with defaults around `phases` (mainly for tests and programmatic use).
    pub fn new(clients: u32, users: Users, client: ClientSettings, phases: Vec<Phase>) -> Plan {
        Plan {
            clients,
            users,
            client,
            connections: Connections::PerClient,
            websocket: false,
            phases,
            shard: None,
            start_at: None,
            kick_timeout: Duration::from_secs(5),
            channel: None,
            push: None,
            devices: 1,
        }
    }

    /// The plan of a loaded scenario.
    pub fn from_scenario(s: &Scenario) -> Plan {
        let c = &s.client;
        let client = ClientSettings {
            strategy: c.strategy,
            concurrency: c.concurrency.max(1),
            think_time: c.think_time,
            proactive_margin: c.proactive_margin,
            jitter: c.jitter,
            timeout: c.timeout,
            scoped_share: c.scoped_share,
            logout_on_403: c.logout_on_403,
            tabs: crate::client::TabSettings {
                tabs: c.tabs.max(1),
                sync: c.tab_sync,
                delay: c.tab_sync_delay,
            },
        };
        let users = s.users.clone();
        Plan {
            clients: s.clients,
            users: Users::new(move |n| users.credentials(n)),
            client,
            connections: c.connections,
            websocket: c.websocket,
            phases: s.plan.clone(),
            shard: None,
            start_at: None,
            kick_timeout: Duration::from_secs(5),
            channel: c.channel(),
            push: None,
            devices: c.devices.max(1),
        }
    }

    /// Uses `receiver` as the push receiver of a `channel: push` run (builder style).
    pub fn with_push(mut self, receiver: Option<Arc<PushReceiver>>) -> Plan {
        self.push = receiver;
        self
    }

    /// Whether clients open a channel right after their login.
    pub fn opens_channel(&self) -> bool {
        self.websocket || self.channel.is_some()
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

    /// Whether any phase or the client setting needs a channel (a WebSocket unless `channel`
    /// says otherwise).
    pub fn uses_websocket(&self) -> bool {
        self.opens_channel()
            || self
                .phases
                .iter()
                .any(|p| matches!(p, Phase::WsConnect { .. }))
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
    fn a_scenario_becomes_a_plan_as_written() {
        let s = crate::scenario::load_str(
            "clients: 3\nclient: { strategy: naive, connections: 7, concurrency: 2 }\nplan:\n  - login: { ramp: 1s }\n  - traffic: { duration: 2s, rate: 50/s }\n  - ws_connect: {}\n",
            &[],
        )
        .unwrap();
        let p = Plan::from_scenario(&s);
        assert_eq!(p.client.strategy, crate::client::Strategy::Naive);
        assert_eq!(p.client.concurrency, 2);
        assert_eq!(p.connections, Connections::Pool(7));
        assert_eq!(p.phases, s.plan);
        assert!(p.uses_websocket());
        assert_eq!(p.users.get(2).0, "user2");
    }
}
