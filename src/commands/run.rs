//! `authbench run`: load the scenario, resolve the target (starting the builtin mock if needed), run
//! the engine with a live display, then write the report folder and print the summary.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authbench::config::units::parse_duration;
use authbench::engine::{self, Plan, Progress, Shard};
use authbench::metrics::Recorder;
use authbench::report::{self, Report, RunMeta};
use authbench::scenario::{self, ConfigError, ErrorKind, Phase, Scenario, TargetSpec};
use tokio_util::sync::CancellationToken;

use super::{metrics_listen, outdir, signals, target};
use crate::cli::RunArgs;
use crate::exit::{CliError, Code};
use crate::progress::{self, Display, Sample};

pub async fn run(args: RunArgs) -> Result<Code, CliError> {
    let scenario = load(&args)?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let start_at = args.start_at.as_deref().map(parse_start_at).transpose()?;
    if let Some(s) = shard
        && s.len(scenario.clients) == 0
    {
        return Err(empty_shard(s, scenario.clients, &args));
    }
    let spec = match &args.target {
        Some(t) => target::spec_from_arg(t)?,
        None => {
            target_file_exists(&scenario)?;
            scenario.target.clone()
        }
    };
    if spec != TargetSpec::Builtin {
        ignored_mock_section(&args, &scenario, &spec)?;
    }

    let recorder = Recorder::new();
    let push = push_receiver(&scenario, &recorder, args.quiet || args.json).await?;
    let mut mock = scenario.mock.clone();
    mock.push_url = push.as_ref().map(|p| p.send_url());
    let resolved = target::resolve(&spec, &mock, args.base_url.as_deref()).await?;
    target::preflight(&resolved.profile).await?;
    // Before the report folder: a busy address leaves no empty folder behind.
    let progress = Progress::new();
    let exporter = match args.metrics_listen {
        Some(addr) => Some(metrics_listen::start(addr, recorder.clone(), progress.clone()).await?),
        None => None,
    };

    let plan = Plan::from_scenario(&scenario)
        .with_shard(shard)
        .with_start_at(start_at)
        .with_push(push);
    let clients = match shard {
        Some(s) => s.len(scenario.clients),
        None => scenario.clients,
    };
    let out = outdir::prepare(args.out.as_deref(), &scenario.name)?;
    if !args.quiet && !args.json {
        authbench_mock::stderrln!(
            "authbench run {}: {} clients, strategy {}, target {}",
            scenario.name,
            clients,
            scenario.client.strategy,
            resolved.label
        );
    }

    let arrivals = resolved
        .mock
        .as_ref()
        .map(|m| arm_on_sync_points(m.arrivals(), &progress));
    let cancel = CancellationToken::new();
    signals::install(cancel.clone());
    let interrupted = cancel.clone();
    let display = Display::start(progress::Mode::detect(args.quiet || args.json), {
        let (p, rec) = (progress.clone(), recorder.clone());
        move || sample(&p, &rec)
    });

    let outcome = engine::run(
        plan,
        resolved.profile.clone(),
        recorder.clone(),
        cancel,
        progress,
    )
    .await;
    display.finish();
    signals::run_over();
    if let Some(exporter) = &exporter {
        exporter.run_over();
    }
    let outcome = outcome.map_err(|e| CliError::usage(format!("cannot run the scenario: {e}")))?;

    // The report's configuration is what ran: the target given on the command line, and no mock
    // section when the target is not the builtin mock.
    let mut config = scenario.config.clone();
    if let Some(obj) = config.as_object_mut() {
        if let Some(t) = &args.target {
            obj.insert("target".into(), t.clone().into());
        }
        if resolved.mock.is_none() {
            obj.remove("mock");
        }
    }
    let meta = RunMeta {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        scenario_path: scenario.source_path.clone(),
        target: resolved.label.clone(),
        clients,
        strategy: scenario.client.strategy.to_string(),
        config,
        interrupted: outcome.interrupted,
        shard: shard.map(|s| (s.index, s.count)),
        threads: u32::try_from(authbench_mock::runtime::workers()).ok(),
    };
    let server_arrivals = arrivals.and_then(|(arrivals, watcher)| {
        watcher.abort();
        arrivals.stats()
    });
    resolved.shutdown().await;
    let mut report = Report::from_run(meta, recorder.snapshot(), &scenario.expect);
    report.server_arrivals = server_arrivals;
    let files = report::write_all(&report, &out).map_err(|e| {
        CliError::cannot_proceed(format!("cannot write the report to {}: {e}", out.display()))
    })?;

    if args.json {
        authbench_mock::stdoutln!("{}", summary_json(&report, &out));
    } else if !args.quiet {
        authbench_mock::stdout!("{}", report::terminal_summary(&report, use_color()));
        authbench_mock::stdoutln!(
            "report: {} ({} files)",
            out.join("report.html").display(),
            files.len()
        );
    }
    if let Some(exporter) = exporter {
        exporter
            .finish(args.metrics_linger, &interrupted, args.quiet || args.json)
            .await;
    }
    Ok(if outcome.interrupted {
        Code::Interrupted
    } else if report.passed() {
        Code::Ok
    } else {
        Code::Failed
    })
}

/// `client.channel: push`: starts authbench's push receiver (on `client.push_listen`, default a
/// free loopback port) and says where it listens, so a real server can be pointed at it; the
/// builtin mock gets its URL as `--push-url`.
async fn push_receiver(
    scenario: &Scenario,
    recorder: &Recorder,
    quiet: bool,
) -> Result<Option<Arc<authbench::client::push::PushReceiver>>, CliError> {
    if scenario.client.channel() != Some(authbench::client::Channel::Push) {
        return Ok(None);
    }
    let listen = scenario
        .client
        .push_listen
        .as_deref()
        .unwrap_or("127.0.0.1:0");
    let addr = listen
        .parse()
        .map_err(|_| CliError::usage(format!("client.push_listen {listen:?} is not an address")))?;
    let receiver = authbench::client::push::PushReceiver::start(addr, recorder.clone())
        .await
        .map_err(|e| {
            CliError::cannot_proceed(format!("cannot start the push receiver on {addr}: {e}"))
        })?;
    if !quiet {
        authbench_mock::stderrln!("push receiver: {}", receiver.send_url());
    }
    Ok(Some(Arc::new(receiver)))
}

/// Builtin target: arms the in-process mock's arrival recorder ([`authbench_mock::arrivals`])
/// with every sync point the engine publishes, watching every operation, so that it records each
/// session's first request after the sync point whatever it is (the resource call answered 401,
/// or the refresh): the request `send_skew` measures on the client side. Returns the recorder
/// and the watcher task.
fn arm_on_sync_points(
    arrivals: Arc<authbench_mock::arrivals::Arrivals>,
    progress: &Progress,
) -> (
    Arc<authbench_mock::arrivals::Arrivals>,
    tokio::task::JoinHandle<()>,
) {
    let mut points = progress.sync_points();
    let armed = arrivals.clone();
    let watcher = tokio::spawn(async move {
        while points.changed().await.is_ok() {
            let Some(at) = *points.borrow_and_update() else {
                continue;
            };
            let ms = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            if let Err(e) = armed.arm(ms, None) {
                tracing::warn!("cannot record server arrivals after the sync point: {e}");
            }
        }
    });
    (arrivals, watcher)
}

/// A scenario's `target:` naming a file that is not there is refused at its key (file, line,
/// column), with the path it was resolved to.
fn target_file_exists(scenario: &Scenario) -> Result<(), CliError> {
    let scenario::TargetSpec::File(path) = &scenario.target else {
        return Ok(());
    };
    let Some(what) = target::not_a_profile(path) else {
        return Ok(());
    };
    let source = scenario
        .source_path
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    Err(CliError::usage(
        ConfigError::new(
            ErrorKind::Invalid,
            format!("the target profile {} {what}", path.display()),
        )
        .at_key(&source, scenario.source_path.as_deref(), "target")
        .with_fix(
            "point `target:` at a target profile file (relative to the scenario's folder), an http(s):// URL, or `builtin`; or give one with --target",
        ),
    ))
}

fn load(args: &RunArgs) -> Result<Scenario, CliError> {
    let mut overrides = args.set.clone();
    if let Some(n) = args.clients {
        overrides.push(format!("clients={n}"));
    }
    let mut scenario = scenario::load(&args.scenario, &overrides).map_err(|e| {
        // `--clients N` is applied as the last override: name it as the user wrote it.
        let from_clients = args.clients.filter(|n| {
            e.diagnostic().option.as_deref() == Some(format!("--set clients={n}").as_str())
        });
        CliError::usage(match from_clients {
            Some(n) => e.from_option(format!("--clients {n}")),
            None => e,
        })
    })?;
    if let Some(d) = &args.duration {
        let raw = d;
        let d = parse_duration(raw).map_err(|e| CliError::usage(format!("--duration: {e}")))?;
        let mut any = false;
        for phase in &mut scenario.plan {
            if let Phase::Traffic { duration, .. } = phase {
                *duration = d;
                any = true;
            }
        }
        // The report's configuration is what ran.
        if let Some(plan) = scenario
            .config
            .get_mut("plan")
            .and_then(|p| p.as_array_mut())
        {
            for traffic in plan.iter_mut().filter_map(|p| p.get_mut("traffic")) {
                if let Some(t) = traffic.as_object_mut() {
                    t.insert("duration".into(), raw.trim().into());
                }
            }
        }
        if !any {
            return Err(CliError::usage(format!(
                "--duration: scenario {} has no traffic phase to apply it to",
                args.scenario.display()
            )));
        }
        // The traffic phases now hold `--duration`: the scenario's own bounds apply to it.
        scenario::validate::recheck(&scenario).map_err(|p| {
            CliError::usage(
                ConfigError::new(
                    ErrorKind::Invalid,
                    format!("--duration {raw}: {}", p.message),
                )
                .with_key(p.path)
                .with_fix(p.fix),
            )
        })?;
    }
    Ok(scenario)
}

/// `--shard i/N` whose share of the clients is empty: shard i would run nothing.
fn empty_shard(s: Shard, clients: u32, args: &RunArgs) -> CliError {
    let from = match args.clients {
        Some(n) => format!("--clients {n}"),
        None => format!("{} has clients: {clients}", args.scenario.display()),
    };
    CliError::usage(format!(
        "--shard {}/{}: {from}, so shard {} of {} would run no client (each of N shards needs at least one)\n  = fix: run at most {clients} shards (--shard i/{clients}), or at least {} clients (--clients {})",
        s.index, s.count, s.index, s.count, s.count, s.count
    ))
}

/// The builtin mock's settings with another target: `--set mock.*` is refused (it would change
/// nothing); the scenario file's own `mock:` section is ignored with a warning (a scenario ships
/// with one and is meant to be pointed at other servers too).
fn ignored_mock_section(
    args: &RunArgs,
    scenario: &Scenario,
    spec: &TargetSpec,
) -> Result<(), CliError> {
    let target = match spec {
        TargetSpec::File(p) => p.display().to_string(),
        TargetSpec::Url(u) => u.clone(),
        TargetSpec::Builtin => return Ok(()),
    };
    let mock_set = args.set.iter().find(|raw| {
        let key = raw.split_once('=').map_or(raw.as_str(), |(k, _)| k).trim();
        key == "mock" || key.starts_with("mock.")
    });
    if let Some(raw) = mock_set {
        let fix = if args.target.is_some() {
            "drop it, or run without --target to run against the builtin mock with it"
        } else {
            "drop it, or run against the builtin mock with it (--set target=builtin)"
        };
        return Err(CliError::usage(format!(
            "--set {raw}: mock.* configures the builtin mock, and this run's target is {target}, where it would change nothing\n  = fix: {fix}"
        )));
    }
    if scenario.config.get("mock").is_some_and(|m| !m.is_null()) {
        let why = if args.target.is_some() {
            "--target"
        } else {
            "its target"
        };
        tracing::warn!(
            "{}: the `mock:` section is ignored: it configures the builtin mock, and {why} is {target}",
            args.scenario.display()
        );
    }
    Ok(())
}

fn parse_shard(s: &str) -> Result<Shard, CliError> {
    let bad = || {
        CliError::usage(format!(
            "--shard {s:?}: expected i/N with 0 <= i < N, e.g. --shard 0/3"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<u32>().map_err(|_| bad())?,
        n.trim().parse::<u32>().map_err(|_| bad())?,
    );
    Shard::new(i, n).map_err(|e| CliError::usage(format!("--shard {s:?}: {e}")))
}

fn parse_start_at(s: &str) -> Result<SystemTime, CliError> {
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
        CliError::usage(format!(
            "--start-at {s:?}: {e} (expected RFC 3339, e.g. 2026-11-22T10:00:00Z)"
        ))
    })?;
    let at = SystemTime::from(t);
    if at + Duration::from_secs(24 * 3600) < SystemTime::now() {
        return Err(CliError::usage(format!(
            "--start-at {s:?} is more than a day in the past"
        )));
    }
    Ok(at)
}

fn sample(p: &Arc<Progress>, rec: &Recorder) -> Sample {
    let t = p.tick();
    Sample {
        phase: format!("{} ({}/{})", t.phase, t.phase_index, t.phase_count),
        countdown: t.countdown.map(|(until, left)| (until.label(), left)),
        logged_in: t.logged_in,
        requests: t.requests,
        refreshes: t.refreshes,
        errors: t.errors,
        failures: t.failures,
        open_sockets: t.open_sockets,
        p99: rec.recent_p99(Duration::from_secs(1)),
    }
}

/// Colour on stdout only for a terminal and when NO_COLOR is unset.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// The report summary for `--json`: the report without the encoded histograms and timeline.
fn summary_json(report: &Report, out: &std::path::Path) -> String {
    let mut v = serde_json::to_value(report).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("timeline");
        if let Some(h) = obj.get_mut("histograms").and_then(|h| h.as_object_mut()) {
            for (_, one) in h.iter_mut() {
                if let Some(o) = one.as_object_mut() {
                    o.remove("hdr");
                }
            }
        }
        obj.insert("passed".into(), serde_json::Value::Bool(report.passed()));
        obj.insert(
            "report_dir".into(),
            serde_json::Value::String(out.display().to_string()),
        );
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
