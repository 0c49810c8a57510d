//! Shared helpers of the `tests/engine_*.rs` integration tests: an in-process mock on port 0 with
//! short token lifetimes, the `mock` target profile for it, plans, and a run that returns what was
//! recorded.
#![allow(dead_code)] // each test module uses a different subset

use std::sync::Arc;
use std::time::{Duration, Instant};

use authbench::client::push::PushReceiver;
use authbench::client::{Channel, ClientSettings, Strategy};
use authbench::engine::{self, Plan, Progress, RunOutcome, Users};
use authbench::metrics::{Recorder, Snapshot};
use authbench::profile::Profile;
use authbench::scenario::Phase;
use authbench_mock::{MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

#[path = "../common/mock.rs"]
mod common;
#[path = "../common/wait.rs"]
mod wait;
pub use wait::eventually;
#[allow(dead_code)] // the engine tests use one kind of canned endpoint
#[path = "../common/canned.rs"]
mod canned;
pub use canned::canned_endpoint_with;

/// Starts the test mock (HS256, 2 s access tokens) after `tweak` adjusted it.
pub async fn mock(tweak: impl FnOnce(&mut MockConfig)) -> MockServer {
    common::mock(|cfg| {
        cfg.signing = "hs256".parse().expect("signing");
        cfg.access_ttl = Duration::from_secs(2);
        tweak(cfg);
    })
    .await
}

/// The `mock` preset pointed at `server`, with its admin key.
pub fn profile(server: &MockServer) -> Arc<Profile> {
    Arc::new(
        authbench::profile::preset("mock", &server.base_url())
            .expect("mock preset")
            .with_admin_key(server.admin_key()),
    )
}

/// Client settings for tests: `strategy`, `concurrency`, a short think time and timeout.
pub fn settings(strategy: Strategy, concurrency: u32) -> ClientSettings {
    ClientSettings {
        strategy,
        concurrency,
        think_time: Duration::from_millis(250),
        proactive_margin: Duration::from_millis(800),
        jitter: Duration::ZERO,
        timeout: Duration::from_secs(5),
        ..ClientSettings::default()
    }
}

/// A plan of `clients` mock users.
pub fn plan(clients: u32, client: ClientSettings, phases: Vec<Phase>) -> Plan {
    Plan::new(
        clients,
        Users::pattern("user{n}", "pw-{n}", 0),
        client,
        phases,
    )
}

/// [`plan`] of single-flight clients that each hold `channel`.
pub fn with_channel(clients: u32, channel: Channel, phases: Vec<Phase>) -> Plan {
    let mut p = plan(clients, settings(Strategy::SingleFlight, 1), phases);
    p.channel = Some(channel);
    p
}

/// Runs `phases` with the push channel: a receiver on loopback recording into the run's recorder,
/// and the mock (tuned by `tweak`) pointed at it with `--push-url` when `push_url`.
pub async fn run_push(
    clients: u32,
    phases: Vec<Phase>,
    push_url: bool,
    tweak: impl FnOnce(&mut MockConfig),
    kick_timeout: Duration,
) -> (Ran, MockServer, Arc<PushReceiver>) {
    let rec = Recorder::new();
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("loopback");
    let receiver = Arc::new(
        PushReceiver::start(addr, rec.clone())
            .await
            .expect("receiver"),
    );
    let url = receiver.send_url();
    let server = mock(|c| {
        if push_url {
            c.push_url = Some(url);
        }
        tweak(c);
    })
    .await;
    let mut p = with_channel(clients, Channel::Push, phases).with_push(Some(receiver.clone()));
    p.kick_timeout = kick_timeout;
    let ran = run_recorded(p, profile(&server), rec).await;
    (ran, server, receiver)
}

/// What a run left behind.
pub struct Ran {
    pub outcome: RunOutcome,
    pub snap: Snapshot,
    pub took: Duration,
}

impl Ran {
    pub fn counter(&self, name: &str) -> u64 {
        self.snap.counters.get(name).copied().unwrap_or(0)
    }

    pub fn samples(&self, hist: &str) -> u64 {
        self.snap.histograms.get(hist).map_or(0, |h| h.len())
    }

    pub fn amplification(&self) -> f64 {
        self.counter("refresh_calls") as f64 / self.counter("refreshes_needed").max(1) as f64
    }

    /// Sum of `errors.*` counters.
    pub fn errors(&self) -> u64 {
        self.snap
            .counters
            .iter()
            .filter(|(k, _)| k.starts_with("errors."))
            .map(|(_, v)| v)
            .sum()
    }
}

/// Runs `plan` against `profile` to the end (or `cancel`).
pub async fn run_with(plan: Plan, profile: Arc<Profile>, cancel: CancellationToken) -> Ran {
    run_watched(plan, profile, cancel, Progress::new()).await
}

/// Runs `plan` against `profile` to the end (or `cancel`), reporting to `progress`, which the
/// caller may watch meanwhile.
pub async fn run_watched(
    plan: Plan,
    profile: Arc<Profile>,
    cancel: CancellationToken,
    progress: Arc<Progress>,
) -> Ran {
    run_into(plan, profile, Recorder::new(), cancel, progress).await
}

/// Runs `plan` against `profile` to the end, recording into `rec` (which something besides the
/// engine, e.g. a push receiver, records into too).
pub async fn run_recorded(plan: Plan, profile: Arc<Profile>, rec: Recorder) -> Ran {
    run_into(
        plan,
        profile,
        rec,
        CancellationToken::new(),
        Progress::new(),
    )
    .await
}

async fn run_into(
    plan: Plan,
    profile: Arc<Profile>,
    rec: Recorder,
    cancel: CancellationToken,
    progress: Arc<Progress>,
) -> Ran {
    let t = Instant::now();
    let outcome = engine::run(plan, profile, rec.clone(), cancel, progress)
        .await
        .expect("engine set up");
    Ran {
        outcome,
        snap: rec.snapshot(),
        took: t.elapsed(),
    }
}

/// Runs `plan` against `profile`, which must stop with an error: its message.
pub async fn run_err(plan: Plan, profile: Arc<Profile>) -> String {
    engine::run(
        plan,
        profile,
        Recorder::new(),
        CancellationToken::new(),
        Progress::new(),
    )
    .await
    .expect_err("the run stops with an error")
    .to_string()
}

/// Runs `plan` against `profile` to the end.
pub async fn run(plan: Plan, profile: Arc<Profile>) -> Ran {
    run_with(plan, profile, CancellationToken::new()).await
}

/// login (all at once) → sync_expiry (100 ms) → traffic.
pub fn storm(traffic: Duration) -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::SyncExpiry {
            offset: Duration::from_millis(100),
        },
        Phase::Traffic {
            duration: traffic,
            rate: None,
        },
    ]
}
