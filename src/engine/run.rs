//! [`run`]: drive a [`Plan`] against a target, phase after phase, until done or cancelled.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fleet::Fleet;
use super::plan::Plan;
use super::progress::{Progress, Until};
use super::schedule::{Gate, wait_until_wall};
use super::shard::local_clients;
use super::sockets::{CLOSE_GRACE, Sockets};
use super::{accounts, devices, idle, outage, prewarm, tabs, traffic};
use crate::client::transport::BuildError;
use crate::client::{Connector, Session, SessionEnv};
use crate::config::Rate;
use crate::metrics::{Recorder, names};
use crate::profile::Profile;
use crate::scenario::Phase;

/// The run could not be set up (nothing was sent).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The HTTP clients could not be built.
    #[error(transparent)]
    Http(#[from] BuildError),
    /// The plan needs WebSockets but the target profile describes none, or it is unusable.
    #[error(
        "the plan opens a channel per client (WebSocket, SSE or push) but the target cannot serve it: {0}"
    )]
    WebSocket(String),
    /// The plan has an `outage` phase but the target profile cannot cause one.
    #[error(
        "the plan has an `outage` phase but the target profile `{0}` has no usable `admin_outage` request; \
         use the builtin mock or a `mock` preset profile with its admin key (AUTHBENCH_ADMIN_KEY), \
         or add `admin_outage:` to the profile, or remove the phase"
    )]
    Outage(String),
    /// The plan has a `logout_everywhere` phase but the target profile cannot send one.
    #[error(
        "the plan has a `logout_everywhere` phase but the target profile `{0}` has no usable `logout_everywhere` request; \
         add `logout_everywhere:` to the profile (the mock presets have one: POST /api/auth/logout-all), or remove the phase"
    )]
    LogoutEverywhere(String),
    /// `client.scoped_share` is set but the target profile declares no scope-restricted resource.
    #[error(
        "client.scoped_share is {share} but the target profile declares no `scoped_resource`; add `scoped_resource: {{ path: /api/admin, scope: admin }}` to the target profile (the mock presets have one) or set scoped_share: 0"
    )]
    NoScopedResource {
        /// The configured share.
        share: f64,
    },
    /// Strategy and target profile disagree about cookie sessions (see [`cookie_mismatch`]).
    #[error("{0}")]
    CookieSession(String),
    /// At `sync_expiry` no logged-in client knew when its access token expires: there is no
    /// expiry to synchronize on (the run stops there; the logins were sent).
    #[error(
        "sync_expiry: none of the {0} logged-in clients knows when its access token expires (no JWT `exp`, no `expires_in`), so there is no expiry to wake them at; \
         extract the lifetime in the target profile (`extract: {{ expires_in: ... }}`), or replace `sync_expiry` with `wait` plus a plain `traffic` phase"
    )]
    NoExpiry(usize),
    /// At `sync_expiry` the latest access token expires further away than [`MAX_SYNC_WAIT`].
    #[error(
        "sync_expiry: the latest access token expires in {}, more than a day away, so the storm would start then; \
         give the test users short-lived access tokens (a few seconds to minutes) on the target",
        humantime::format_duration(Duration::from_secs(.0.as_secs()))
    )]
    ExpiryTooFar(Duration),
}

/// The longest `sync_expiry` waits for the latest access token to expire (the same day as the
/// longest login ramp).
pub const MAX_SYNC_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Strategy `cookie-session` needs a profile with `cookie_session:`; such a profile (no refresh
/// request) needs that strategy. `Some(why)` when they disagree (`authbench validate` asks too).
pub fn cookie_mismatch(strategy: crate::client::Strategy, profile: &Profile) -> Option<String> {
    let cookie_strategy = strategy == crate::client::Strategy::CookieSession;
    match (cookie_strategy, profile.cookie_session().is_some()) {
        (true, false) => Some(format!(
            "client.strategy is cookie-session but the target profile `{}` names no session cookie; add `cookie_session: {{ cookie: sessionid }}` to the profile (the name of the cookie its login sets), or use a token strategy",
            profile.name()
        )),
        (false, true) if !profile.has_refresh() => Some(format!(
            "the target profile `{}` describes a cookie-session server (`cookie_session:`, no refresh request), but client.strategy is {}; set client.strategy: cookie-session",
            profile.name(),
            strategy
        )),
        _ => None,
    }
}

/// How a run ended (the measurements are in the recorder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Cancelled before the plan finished (Ctrl-C): the recorded data is partial.
    pub interrupted: bool,
    /// Phases that ran to their end.
    pub phases_completed: usize,
    /// Clients this process drove.
    pub clients: u32,
}

/// Runs `plan`: this process's share of the clients goes through every phase in order. Stops
/// within about a second when `cancel` fires; everything recorded until then stays in `recorder`.
pub async fn run(
    plan: Plan,
    profile: Arc<Profile>,
    recorder: Recorder,
    cancel: CancellationToken,
    progress: Arc<Progress>,
) -> Result<RunOutcome, EngineError> {
    let causes_outage = plan
        .phases
        .iter()
        .any(|p| matches!(p, Phase::Outage { .. }));
    if causes_outage && !profile.has_admin_outage() {
        return Err(EngineError::Outage(profile.name().to_string()));
    }
    let logs_out_everywhere = plan
        .phases
        .iter()
        .any(|p| matches!(p, Phase::LogoutEverywhere { .. }));
    if logs_out_everywhere && !profile.has_logout_everywhere() {
        return Err(EngineError::LogoutEverywhere(profile.name().to_string()));
    }
    if let Some(why) = cookie_mismatch(plan.client.strategy, &profile) {
        return Err(EngineError::CookieSession(why));
    }
    if plan.client.scoped_share > 0.0 && profile.scoped_resource().is_none() {
        return Err(EngineError::NoScopedResource {
            share: plan.client.scoped_share,
        });
    }
    let ids = local_clients(plan.clients, plan.shard);
    progress.set_plan(ids.len() as u32, plan.phases.len() as u32);
    let https = profile.base_url().scheme() == "https";
    let connector = Connector::new(
        plan.connections,
        plan.client.timeout,
        https && profile.tls().is_none(),
        plan.client.concurrency,
    )?
    .with_profile_tls(profile.tls());
    let run_cancel = cancel.child_token();
    let env = SessionEnv::new(
        profile.clone(),
        plan.client.clone(),
        recorder.clone(),
        progress.live.clone(),
        connector,
        plan.users.clone(),
        run_cancel.clone(),
    );
    let sockets = if plan.uses_websocket() {
        Some(
            Sockets::new(
                &profile,
                &plan,
                &env.connector.client(),
                recorder.clone(),
                progress.clone(),
                run_cancel.clone(),
            )
            .map_err(EngineError::WebSocket)?,
        )
    } else {
        None
    };
    if sockets.is_some() {
        // In the report even at 0: a run that opens channels is held to `channels_never_opened
        // == 0` by default, and this entry is how the report says it opened channels.
        recorder.count(0, names::CHANNELS_NEVER_OPENED, 0);
    }
    let mut fleet = if plan.client.tabs.enabled() {
        tabs::build(env.clone(), &ids)
    } else {
        Fleet::build(env.clone(), &ids, plan.devices)
    };
    let auto_ws = if plan.opens_channel() {
        sockets.as_ref()
    } else {
        None
    };

    let mut outcome = RunOutcome {
        interrupted: false,
        phases_completed: 0,
        clients: ids.len() as u32,
    };
    if let Some(at) = plan.start_at {
        progress.set_phase(0, "waiting");
        let left = at.duration_since(SystemTime::now()).unwrap_or_default();
        progress.set_deadline(Some((std::time::Instant::now() + left, Until::Start)));
        if !wait_until_wall(at, &cancel).await {
            return Ok(finish(outcome, &progress, fleet, sockets, &run_cancel, &cancel).await);
        }
    }

    let mut i = 0;
    while i < plan.phases.len() && !cancel.is_cancelled() {
        let phase = &plan.phases[i];
        progress.set_phase(i as u32 + 1, phase.name());
        // An outage marks itself, once the target has accepted it (see `outage`).
        if !matches!(phase, Phase::Outage { .. }) {
            recorder.phase(phase.name());
        }
        // No countdown for an end an instant cannot hold (`scenario::validate` bounds every
        // phase, so only a plan built by hand gets there).
        let ends_in = |d: Duration| {
            std::time::Instant::now()
                .checked_add(d)
                .map(|at| (at, Until::End))
        };
        match phase {
            Phase::Login { ramp } => {
                progress.set_deadline(ends_in(*ramp));
                accounts::login(&mut fleet, *ramp, auto_ws, &cancel).await
            }
            Phase::SyncExpiry { offset } => {
                let sessions = fleet.sessions();
                let deadline = expiry_deadline(&sessions, *offset)?;
                progress.set_sync_point(
                    SystemTime::now() + deadline.saturating_duration_since(Instant::now()),
                );
                let gate = Gate::new(deadline);
                progress.set_deadline(Some((gate.deadline().into_std(), Until::Storm)));
                tokio::spawn(gate.clone().arm(cancel.clone()));
                if let Some(Phase::Traffic { duration, rate }) = plan.phases.get(i + 1) {
                    // The storm: traffic starts at the gate. Mark the traffic phase when it opens.
                    outcome.phases_completed += 1;
                    i += 1;
                    let (rec, prog, g, idx) = (recorder.clone(), progress.clone(), gate.clone(), i);
                    let length = *duration;
                    let marker = tokio::spawn(async move {
                        g.wait().await;
                        // A gate opened by Ctrl-C starts no storm: no traffic mark.
                        if !g.aborted() {
                            prog.set_phase(idx as u32 + 1, "traffic");
                            prog.set_deadline(Some((g.deadline().into_std() + length, Until::End)));
                            rec.phase("traffic");
                        }
                    });
                    // Every client is made and parked at the gate first (for a million that
                    // takes seconds: made after the warm-up, which ends just before the
                    // deadline, they woke 3.8 s late); its connections are then opened while the
                    // clients wait, so the burst only writes.
                    let deadline = gate.deadline();
                    let start = traffic::Start { gate: Some(gate) };
                    futures::future::join(
                        run_traffic(&sessions, *duration, *rate, start, &cancel),
                        prewarm::connections(&sessions, plan.connections, deadline, &cancel),
                    )
                    .await;
                    marker.abort();
                } else {
                    traffic::wake_all(&sessions, gate, &cancel).await;
                }
            }
            Phase::Traffic { duration, rate } => {
                progress.set_deadline(ends_in(*duration));
                let start = traffic::Start { gate: None };
                run_traffic(&fleet.sessions(), *duration, *rate, start, &cancel).await;
            }
            Phase::RefreshRace { parallel } => {
                accounts::refresh_race(&fleet, *parallel, &cancel).await
            }
            Phase::Relogin { ramp } => {
                accounts::relogin(
                    &mut fleet,
                    *ramp,
                    sockets.as_ref(),
                    plan.kick_timeout,
                    &cancel,
                )
                .await
            }
            Phase::Logout { ramp } if plan.client.tabs.enabled() => {
                tabs::logout(
                    &mut fleet,
                    *ramp,
                    sockets.as_ref(),
                    plan.kick_timeout,
                    &cancel,
                )
                .await
            }
            Phase::Logout { ramp } => {
                accounts::logout(
                    &mut fleet,
                    *ramp,
                    sockets.as_ref(),
                    plan.kick_timeout,
                    &cancel,
                )
                .await
            }
            Phase::ForceLogout { ramp } => {
                accounts::force_logout(
                    &mut fleet,
                    *ramp,
                    sockets.as_ref(),
                    plan.kick_timeout,
                    &cancel,
                )
                .await
            }
            Phase::WsConnect { ramp } => {
                if let Some(sockets) = &sockets {
                    accounts::ws_connect(&mut fleet, *ramp, sockets, &cancel).await
                }
            }
            Phase::Wait { duration } => {
                progress.set_deadline(ends_in(*duration));
                cancel
                    .run_until_cancelled(tokio::time::sleep(*duration))
                    .await;
            }
            Phase::Idle { duration } => {
                progress.set_deadline(ends_in(*duration));
                idle::idle(&env, *duration, &cancel).await;
            }
            Phase::LogoutEverywhere { ramp, await_expiry } => {
                devices::logout_everywhere(
                    &mut fleet,
                    *ramp,
                    *await_expiry,
                    sockets.as_ref(),
                    plan.kick_timeout,
                    &cancel,
                )
                .await
            }
            Phase::Outage { duration } => {
                let leader = plan.shard.is_none_or(|s| s.index == 0);
                let http = fleet.members.first().map(|m| m.session.http().clone());
                if let Some(http) = http {
                    outage::outage(&profile, &http, *duration, leader, &recorder, &run_cancel)
                        .await;
                }
            }
        }
        if cancel.is_cancelled() {
            // The phase did not run to its end: its mark says so.
            recorder.phase_interrupted();
        } else {
            outcome.phases_completed += 1;
        }
        i += 1;
    }
    Ok(finish(outcome, &progress, fleet, sockets, &run_cancel, &cancel).await)
}

async fn run_traffic(
    sessions: &[Arc<Session>],
    duration: Duration,
    rate: Option<Rate>,
    start: traffic::Start,
    cancel: &CancellationToken,
) {
    match rate {
        Some(rate) => traffic::open(sessions, duration, rate.per_second, start, cancel).await,
        None => traffic::closed(sessions, duration, start, cancel).await,
    }
}

/// How long the end of a run waits for cancelled requests to leave the books.
const IN_FLIGHT_SETTLE: Duration = Duration::from_secs(2);

/// Closes the sockets, stops the timers and marks the end.
async fn finish(
    mut outcome: RunOutcome,
    progress: &Progress,
    mut fleet: Fleet,
    sockets: Option<Arc<Sockets>>,
    run_cancel: &CancellationToken,
    cancel: &CancellationToken,
) -> RunOutcome {
    outcome.interrupted = cancel.is_cancelled();
    // A run that ends by its plan lets the proactive refreshes on the wire get their answers,
    // as a traffic phase lets its calls (the same grace): cut at once, a correct server's last
    // refresh would count `failures.refresh.unfinished`. No new one starts meanwhile.
    if !outcome.interrupted
        && let Some(m) = fleet.members.first()
    {
        let env = m.session.env();
        env.stop_timers();
        env.recorder
            .settle_in_flight(super::traffic::grace(env.settings.timeout))
            .await;
    }
    count_logged_in(&fleet);
    count_gave_up(&fleet, outcome.interrupted).await;
    if let Some(sockets) = sockets {
        sockets.close_all(fleet.take_sockets(), CLOSE_GRACE).await;
    }
    // Nothing can tell a client any more: the ends still waiting for their notice are counted.
    for m in &fleet.members {
        m.session.flush_unnoticed();
    }
    run_cancel.cancel();
    // Timer-driven refreshes still on the wire are dropped as their tasks see the cancel; each
    // counts as `failures.<op>.unfinished` then, before the report's snapshot.
    if let Some(m) = fleet.members.first() {
        m.session
            .env()
            .recorder
            .settle_in_flight(IN_FLIGHT_SETTLE)
            .await;
    }
    // The fleet is dropped when this returns: its sessions leave with the run, they are not
    // logged out. The live line's last `logged in` and the `active_clients` gauge keep the
    // sessions that held tokens at the end.
    if let Some(m) = fleet.members.first() {
        m.session.env().end_run();
    }
    progress.set_phase(
        progress.tick().phase_index,
        if outcome.interrupted {
            "interrupted"
        } else {
            "done"
        },
    );
    outcome
}

/// Counts `clients_logged_in` (clients whose session held tokens at some point of the run; a
/// `relogin` replaces a session only by one that logged in) and `never_logged_in` (the rest).
fn count_logged_in(fleet: &Fleet) {
    let Some(first) = fleet.members.first() else {
        return;
    };
    let rec = &first.session.env().recorder;
    let mut ever = 0u64;
    let mut never = 0u64;
    for m in &fleet.members {
        if m.session.ever_logged_in() {
            ever += 1;
        } else {
            never += 1;
        }
    }
    rec.count(0, names::CLIENTS_LOGGED_IN, ever);
    rec.count(0, names::NEVER_LOGGED_IN, never);
}

/// Counts `gave_up.<op>` for every client whose last attempt at an operation failed and was not
/// followed by a success before the run ended (it stopped trying for good), and `ws_not_open_at_end`
/// for every client whose WebSocket channel was not open when the run ended — after waiting up to
/// [`SOCKET_END_GRACE`] for a socket caught between a close and its reconnect (not on Ctrl-C).
async fn count_gave_up(fleet: &Fleet, interrupted: bool) {
    let grace = if interrupted {
        Duration::ZERO
    } else {
        SOCKET_END_GRACE
    };
    // Only the members with a socket wait: a future per member (a million of them, ~470 bytes
    // each) was the run's peak of memory, at its very end.
    let mut open = vec![true; fleet.members.len()];
    let waits = fleet.members.iter().enumerate().filter_map(|(k, m)| {
        let s = m.socket.as_ref()?;
        Some(async move { (k, s.open_within(grace).await) })
    });
    for (k, is_open) in futures::future::join_all(waits).await {
        open[k] = is_open;
    }
    for (m, open) in fleet.members.iter().zip(open) {
        let rec = &m.session.env().recorder;
        let shard = m.session.id() as usize;
        if let Some(op) = m.session.failing() {
            rec.count(shard, &names::gave_up(op.name()), 1);
        }
        if !open {
            rec.count(shard, names::WS_NOT_OPEN_AT_END, 1);
        }
    }
}

/// How long the end of a run waits for sockets that are reconnecting.
const SOCKET_END_GRACE: Duration = Duration::from_secs(2);

/// The synchronized wake time: `offset` after the latest known access-token expiry of the
/// logged-in clients; `offset` from now when no client is logged in (the run fails by
/// `never_logged_in`). An error when logged-in clients know no expiry, or the latest is more than
/// [`MAX_SYNC_WAIT`] away: a "storm" then would be no expiry storm, or start tomorrow.
fn expiry_deadline(sessions: &[Arc<Session>], offset: Duration) -> Result<Instant, EngineError> {
    let now = Instant::now();
    let latest = sessions.iter().filter_map(|s| s.expires_at()).max();
    match latest {
        Some(exp) => {
            let left = exp
                .checked_add(offset)
                .unwrap_or(exp)
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            if left > MAX_SYNC_WAIT {
                return Err(EngineError::ExpiryTooFar(left));
            }
            Ok(now + left)
        }
        None => match sessions.iter().filter(|s| s.is_logged_in()).count() {
            // `offset` is at most a day (`scenario::validate`).
            0 => Ok(now.checked_add(offset).unwrap_or(now)),
            n => Err(EngineError::NoExpiry(n)),
        },
    }
}
