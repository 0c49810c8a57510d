//! Semantic validation: turns a parsed [`ScenarioFile`] into a [`Scenario`], applying defaults and
//! rejecting what parses but cannot run (zero clients, a `sync_expiry` before any login, a
//! proactive margin longer than the mock's token lifetime, more clients than users, thresholds
//! that do not parse...). Every [`Problem`] names the dotted key path it is about, so the caller can
//! point at the line. Thresholds are parsed here, once; the scenario holds them parsed.

use std::path::Path;
use std::time::Duration;

use super::file::ScenarioFile;
use super::model::{ClientConfig, Phase, Scenario, TargetSpec};
use super::users::UserSource;
use crate::client::Strategy;
use crate::config::error::shorten;
use crate::config::units::format_duration;
use crate::config::{Threshold, ThresholdError};
use crate::metrics::names;

/// Most clients one scenario may ask for (per process the engine shards further).
pub const MAX_CLIENTS: u32 = 10_000_000;

/// Most in-flight requests per client.
pub const MAX_CONCURRENCY: u32 = 64;

/// Most refreshes per client in one `refresh_race`.
pub const MAX_RACE: u32 = 256;
/// The longest `outage` phase.
pub const MAX_OUTAGE: Duration = Duration::from_secs(600);

/// Most devices per user (`client.devices`).
pub const MAX_DEVICES: u32 = 16;

/// The longest a `logout_everywhere` phase waits for access tokens to expire.
pub const MAX_AWAIT_EXPIRY: Duration = Duration::from_secs(600);

/// The longest `traffic`, `wait` or `idle` phase (also the bound of `run --duration`).
pub const MAX_PHASE_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest ramp, `sync_expiry` offset, and `client` think time, timeout, proactive margin
/// and jitter.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

/// One semantic problem: where (a dotted key path), what, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path (`client.concurrency`, `plan.1.sync_expiry`).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

fn problem(path: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        message: message.into(),
        fix: fix.into(),
    }
}

/// A count at `path` must be between 1 and `max` (the message names the last path segment).
fn between_1_and(path: &str, value: u32, max: u32, fix: &str) -> Result<(), Problem> {
    if value == 0 || value > max {
        let name = path.rsplit('.').next().unwrap_or(path);
        return Err(problem(
            path,
            format!("{name} is {value}, it must be between 1 and {max}"),
            fix,
        ));
    }
    Ok(())
}

/// Where a scenario comes from, for relative paths and the default name.
pub struct Origin<'a> {
    /// The scenario file, if any.
    pub path: Option<&'a Path>,
}

impl Origin<'_> {
    fn base_dir(&self) -> &Path {
        self.path
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."))
    }

    fn default_name(&self) -> String {
        self.path
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string())
    }
}

/// Checks `file` and builds the [`Scenario`] it describes.
pub fn resolve(file: &ScenarioFile, origin: &Origin<'_>) -> Result<Scenario, Problem> {
    let name = file.name.clone().unwrap_or_else(|| origin.default_name());
    check_name(&name)?;
    let target = TargetSpec::parse(
        file.target.as_deref().unwrap_or("builtin"),
        origin.base_dir(),
    );
    let mock = file
        .mock
        .clone()
        .unwrap_or_default()
        .to_config()
        .map_err(|p| problem(join("mock", &p.key), p.message, p.fix))?;
    between_1_and(
        "clients",
        file.clients,
        MAX_CLIENTS,
        "set clients to the number of simulated clients, e.g. clients: 1000",
    )?;
    let users = file
        .users
        .resolve(origin.base_dir())
        .map_err(|e| problem(join("users", e.key), e.message, e.fix))?;
    let builtin = target == TargetSpec::Builtin;
    check_users(&users, file, &mock, builtin)?;
    check_client(&file.client, &mock, builtin)?;
    check_plan(&file.plan)?;
    check_durations(&file.client, &file.plan)?;
    super::tabs::check(&file.client, &file.plan)?;
    super::cookie_session::check(&file.client, &file.plan, &mock, builtin)?;
    let expect = file
        .expect
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            Threshold::parse(expr, &names::VOCABULARY)
                .map_err(|e: ThresholdError| problem(format!("expect.{i}"), e.to_string(), e.fix()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scenario {
        name,
        description: file.description.clone().unwrap_or_default(),
        target,
        mock,
        clients: file.clients,
        users,
        client: file.client.clone(),
        plan: file.plan.clone(),
        expect,
        source_path: origin.path.map(Path::to_path_buf),
        config: serde_json::to_value(file).unwrap_or(serde_json::Value::Null),
    })
}

fn join(parent: &str, child: &str) -> String {
    if child.is_empty() {
        parent.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

fn check_name(name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(problem(
            "name",
            format!(
                "name {:?} cannot be used in a report folder name",
                shorten(name, 40)
            ),
            "use 1 to 64 letters, digits, `-`, `_` or `.`, e.g. name: storm",
        ))
    }
}

fn check_users(
    users: &UserSource,
    file: &ScenarioFile,
    mock: &authbench_mock::MockConfig,
    builtin: bool,
) -> Result<(), Problem> {
    let clients = u64::from(file.clients);
    match users {
        UserSource::Csv(csv) if (csv.len() as u64) < clients => Err(problem(
            "users.csv",
            format!(
                "{} has {} users for {clients} clients; clients sharing a user would kick or revoke each other and shards would overlap",
                csv.path.display(),
                csv.len()
            ),
            format!("add rows to the file or lower clients to {}", csv.len()),
        )),
        UserSource::Pattern { offset, .. }
            if builtin && offset.saturating_add(clients) > mock.users =>
        {
            Err(problem(
                "clients",
                format!(
                    "clients {clients} starting at user offset {offset} need users up to {}, but the builtin mock only knows {} users",
                    offset.saturating_add(clients) - 1,
                    mock.users
                ),
                format!(
                    "raise mock.users to at least {} or lower clients",
                    offset.saturating_add(clients)
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn check_channel(c: &ClientConfig) -> Result<(), Problem> {
    use crate::client::Channel;
    if c.websocket && c.channel.is_some_and(|ch| ch != Channel::Ws) {
        return Err(problem(
            "client.channel",
            format!(
                "websocket: true asks for a WebSocket, channel: {} for another channel",
                c.channel.map(Channel::name).unwrap_or_default()
            ),
            "keep one: `channel: ws` (= `websocket: true`), `channel: sse` or `channel: push`",
        ));
    }
    if let Some(listen) = &c.push_listen {
        if c.channel != Some(Channel::Push) {
            return Err(problem(
                "client.push_listen",
                "push_listen is the push receiver's address, but the channel is not push",
                "add `channel: push` or remove push_listen",
            ));
        }
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(problem(
                "client.push_listen",
                format!("{:?} is not an IP address and port", shorten(listen, 40)),
                "write e.g. push_listen: 127.0.0.1:9099 (port 0 picks a free one)",
            ));
        }
    }
    Ok(())
}

fn check_client(
    c: &ClientConfig,
    mock: &authbench_mock::MockConfig,
    builtin: bool,
) -> Result<(), Problem> {
    between_1_and(
        "client.concurrency",
        c.concurrency,
        MAX_CONCURRENCY,
        "set the number of requests one client has in flight at once, e.g. concurrency: 4",
    )?;
    check_channel(c)?;
    if c.timeout.is_zero() {
        return Err(problem(
            "client.timeout",
            "timeout is 0s, so every request would time out",
            "set a timeout above zero, e.g. timeout: 10s",
        ));
    }
    between_1_and(
        "client.devices",
        c.devices,
        MAX_DEVICES,
        "set the number of devices each user signs in on, e.g. devices: 3",
    )?;
    if !(0.0..=1.0).contains(&c.scoped_share) {
        return Err(problem(
            "client.scoped_share",
            format!(
                "scoped_share {} is not a share of the API calls",
                c.scoped_share
            ),
            "give a number from 0 to 1, e.g. scoped_share: 0.25 (a quarter of the calls)",
        ));
    }
    if c.strategy == Strategy::Proactive {
        if c.proactive_margin.is_zero() {
            return Err(problem(
                "client.proactive_margin",
                "the proactive strategy needs a margin above 0s (it refreshes this long before exp)",
                "set e.g. proactive_margin: 5s",
            ));
        }
        if c.jitter > c.proactive_margin {
            return Err(problem(
                "client.jitter",
                format!(
                    "jitter {} is larger than proactive_margin {}, so some refreshes would be scheduled after the token expired",
                    format_duration(c.jitter),
                    format_duration(c.proactive_margin)
                ),
                "lower jitter or raise proactive_margin",
            ));
        }
        if builtin && c.proactive_margin >= mock.access_ttl {
            return Err(problem(
                "client.proactive_margin",
                format!(
                    "proactive_margin {} is not shorter than the mock's access_ttl {}: every token would be refreshed as soon as it is issued",
                    format_duration(c.proactive_margin),
                    format_duration(mock.access_ttl)
                ),
                format!(
                    "lower proactive_margin below {} or raise mock.access_ttl",
                    format_duration(mock.access_ttl)
                ),
            ));
        }
    }
    if c.strategy == Strategy::Sliding && builtin && mock.sliding_window.is_zero() {
        return Err(problem(
            "client.strategy",
            "the sliding strategy adopts the server's renewal header, but the builtin mock only sends it with mock.sliding_window above 0s",
            "set mock.sliding_window, e.g. 10s (less than mock.access_ttl)",
        ));
    }
    Ok(())
}

fn check_plan(plan: &[Phase]) -> Result<(), Problem> {
    if plan.is_empty() {
        return Err(problem(
            "plan",
            "the plan is empty",
            "add phases, e.g. plan: [ { login: { ramp: 2s } }, { traffic: { duration: 20s } } ]",
        ));
    }
    let mut logged_in = false;
    for (i, phase) in plan.iter().enumerate() {
        let at = format!("plan.{i}.{}", phase.name());
        let needs_login = !matches!(phase, Phase::Login { .. } | Phase::Wait { .. });
        if needs_login && !logged_in {
            return Err(problem(
                at,
                format!(
                    "phase `{}` needs logged-in clients, but no `login` phase comes before it",
                    phase.name()
                ),
                "put `- login: { ramp: 2s }` before it",
            ));
        }
        match phase {
            Phase::Login { .. } => logged_in = true,
            Phase::Traffic { duration, .. } if duration.is_zero() => {
                return Err(problem(
                    format!("{at}.duration"),
                    "traffic lasts 0s",
                    "give a duration above zero, e.g. duration: 20s",
                ));
            }
            Phase::Wait { duration } if duration.is_zero() => {
                return Err(problem(
                    format!("{at}.duration"),
                    "wait lasts 0s",
                    "give a duration above zero, e.g. duration: 5s, or remove the phase",
                ));
            }
            Phase::Idle { duration } if duration.is_zero() => {
                return Err(problem(
                    format!("{at}.duration"),
                    "idle lasts 0s",
                    "give a duration above zero, e.g. duration: 5s (longer than the server's idle timeout to end the sessions), or remove the phase",
                ));
            }
            Phase::Outage { duration } if duration.is_zero() || *duration > MAX_OUTAGE => {
                return Err(problem(
                    format!("{at}.duration"),
                    format!(
                        "an outage of {} is out of range",
                        format_duration(*duration)
                    ),
                    "give a duration above zero and at most 10m, e.g. duration: 3s",
                ));
            }
            Phase::LogoutEverywhere { await_expiry, .. } if *await_expiry > MAX_AWAIT_EXPIRY => {
                return Err(problem(
                    format!("{at}.await_expiry"),
                    format!(
                        "await_expiry {} is longer than {}",
                        format_duration(*await_expiry),
                        format_duration(MAX_AWAIT_EXPIRY)
                    ),
                    "wait at most 10m for the access tokens to expire (give the target short tokens), or 0s not to check them",
                ));
            }
            Phase::RefreshRace { parallel } if !(2..=MAX_RACE).contains(parallel) => {
                return Err(problem(
                    format!("{at}.parallel"),
                    format!(
                        "parallel is {parallel}; a race needs between 2 and {MAX_RACE} refreshes per client"
                    ),
                    "set e.g. parallel: 4",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The plan's phases and the client's durations after a change made past [`resolve`] (`run
/// --duration`): the same checks, so a value `resolve` refuses is refused there too.
pub fn recheck(scenario: &Scenario) -> Result<(), Problem> {
    check_plan(&scenario.plan)?;
    check_durations(&scenario.client, &scenario.plan)
}

/// One duration of a scenario and its upper bound.
struct Bound {
    path: String,
    /// How the message names it (`ramp`, `think_time`, `traffic duration`).
    what: String,
    value: Duration,
    max: Duration,
    fix: &'static str,
}

/// The upper bound of every duration of a scenario: phase lengths (`traffic`, `wait`, `idle`) at
/// most [`MAX_PHASE_DURATION`], every other duration at most [`MAX_DELAY`]. Beyond them a value is
/// a typo, and the instants computed from it (`now + think_time`, the phase's end) could not be
/// represented. `outage.duration`, `await_expiry` ([`check_plan`]) and `tab_sync_delay`
/// (`tabs::check`) have tighter bounds of their own.
fn check_durations(c: &ClientConfig, plan: &[Phase]) -> Result<(), Problem> {
    let delay = |path: String, what: &str, value: Duration, fix: &'static str| Bound {
        path,
        what: what.to_string(),
        value,
        max: MAX_DELAY,
        fix,
    };
    let mut bounds = vec![
        delay(
            "client.think_time".into(),
            "think_time",
            c.think_time,
            "use a think_time of seconds or minutes, e.g. think_time: 2s",
        ),
        delay(
            "client.timeout".into(),
            "timeout",
            c.timeout,
            "use a timeout of seconds or minutes, e.g. timeout: 10s",
        ),
        delay(
            "client.proactive_margin".into(),
            "proactive_margin",
            c.proactive_margin,
            "use a margin shorter than the access tokens' life, e.g. proactive_margin: 5s",
        ),
        delay(
            "client.jitter".into(),
            "jitter",
            c.jitter,
            "use a jitter of at most proactive_margin, e.g. jitter: 2s",
        ),
    ];
    for (i, phase) in plan.iter().enumerate() {
        let at = format!("plan.{i}.{}", phase.name());
        match phase {
            Phase::Login { ramp }
            | Phase::Relogin { ramp }
            | Phase::Logout { ramp }
            | Phase::ForceLogout { ramp }
            | Phase::WsConnect { ramp }
            | Phase::LogoutEverywhere { ramp, .. } => bounds.push(delay(
                format!("{at}.ramp"),
                "ramp",
                *ramp,
                "use a ramp of seconds or minutes",
            )),
            Phase::SyncExpiry { offset } => bounds.push(delay(
                format!("{at}.offset"),
                "sync_expiry offset",
                *offset,
                "use an offset of milliseconds or seconds, e.g. offset: 100ms",
            )),
            Phase::Traffic { duration, .. }
            | Phase::Wait { duration }
            | Phase::Idle { duration } => bounds.push(Bound {
                path: format!("{at}.duration"),
                what: format!("{} duration", phase.name()),
                value: *duration,
                max: MAX_PHASE_DURATION,
                fix: "give a duration of at most 30d, e.g. duration: 20s, or split the run into several",
            }),
            Phase::RefreshRace { .. } | Phase::Outage { .. } => {}
        }
    }
    match bounds.into_iter().find(|b| b.value > b.max) {
        Some(b) => Err(problem(
            b.path,
            format!(
                "{} {} is longer than {}",
                b.what,
                format_duration(b.value),
                limit_words(b.max)
            ),
            b.fix,
        )),
        None => Ok(()),
    }
}

/// `a day`, `30 days`.
fn limit_words(max: Duration) -> String {
    match max.as_secs() / (24 * 3600) {
        1 => "a day".to_string(),
        n => format!("{n} days"),
    }
}
