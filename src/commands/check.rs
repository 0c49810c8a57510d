//! `authbench check`: the conformance suite against a target (or the builtin mock), written as a
//! report folder (report.json section `conformance`, junit.xml, report.html) and a terminal table.

use authbench::checks::{self, CheckMeta, CheckOptions};
use authbench::report::{self, ConformanceMeta, Report};
use authbench::scenario::TargetSpec;

use super::{outdir, run::use_color, target};
use crate::cli::CheckArgs;
use crate::exit::{CliError, Code};

pub async fn run(args: CheckArgs) -> Result<Code, CliError> {
    if args.list {
        return list(&args);
    }
    let expected = args
        .expected_failures
        .as_deref()
        .map(checks::load_expected_failures)
        .transpose()
        .map_err(CliError::usage)?;
    let settings =
        checks::settings::CheckRunSettings::from_overrides(&args.set, std::path::Path::new("."))
            .map_err(CliError::usage)?;
    let mut opts = CheckOptions {
        users: settings.users.clone(),
        only: args.only.clone(),
        skip: args.skip.clone(),
        strict: args.strict,
        fail_on: args.fail_on,
        expected,
        concurrency: usize::from(args.jobs),
        ..CheckOptions::default()
    };
    checks::validate_selectors(&opts).map_err(CliError::usage)?;

    let spec = match args.target_pos.as_deref().or(args.target.as_deref()) {
        Some(t) => target::spec_from_arg(t)?,
        None => TargetSpec::Builtin,
    };
    if let (Some(set), false) = (settings.mock_override(), spec == TargetSpec::Builtin) {
        return Err(CliError::usage(format!(
            "--set {set}: mock.* configures the builtin mock, and this run checks another server, where it would change nothing\n  = fix: drop it, or run `authbench check` without a target to check the builtin mock with it"
        )));
    }
    let main_mock = settings
        .mock_config(checks::builtin_mock_config())
        .map_err(CliError::usage)?;
    let resolved = target::resolve(&spec, &main_mock, args.base_url.as_deref()).await?;
    target::preflight(&resolved.profile).await?;
    // Without a target, the checks that need a short idle timeout get a mock of their own.
    let idle = match spec {
        TargetSpec::Builtin => {
            let idle_mock = settings
                .mock_config(checks::builtin_idle_mock_config())
                .map_err(CliError::usage)?;
            let idle = target::resolve(&spec, &idle_mock, None).await?;
            opts.idle_target = Some(idle.profile.clone());
            Some(idle)
        }
        _ => None,
    };
    let out = outdir::prepare(args.out.as_deref(), "check")?;

    let conformance = checks::run(resolved.profile.clone(), &opts).await;
    let label = resolved.label.clone();
    resolved.shutdown().await;
    if let Some(idle) = idle {
        idle.shutdown().await;
    }

    let meta = ConformanceMeta {
        target: label,
        config: serde_json::json!({ "only": args.only, "skip": args.skip, "strict": args.strict,
            "fail_on": opts.fail_on.name(), "set": args.set, "base_url": args.base_url }),
        started_at: conformance.started_at,
        duration: conformance.elapsed,
    };
    let report = Report::from_conformance(meta, conformance.to_report());
    report::write_all(&report, &out).map_err(|e| {
        CliError::cannot_proceed(format!("cannot write the report to {}: {e}", out.display()))
    })?;
    if let Some(junit) = &args.junit {
        let from = out.join("junit.xml");
        if let Some(parent) = junit.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&from, junit).map_err(|e| {
            CliError::cannot_proceed(format!("cannot write {}: {e}", junit.display()))
        })?;
    }

    if args.json {
        authbench_mock::stdoutln!(
            "{}",
            serde_json::to_string_pretty(&conformance).unwrap_or_default()
        );
    } else {
        authbench_mock::stdout!("{}", checks::render_terminal(&conformance, use_color()));
        authbench_mock::stdoutln!("report: {}", out.join("report.html").display());
    }
    Ok(if conformance.passed() {
        Code::Ok
    } else {
        Code::Failed
    })
}

/// `check --list [--only ..] [--skip ..] [--json]`: the selected checks' metadata, as text or as
/// a JSON array (the other flags of a run are refused by clap).
fn list(args: &CheckArgs) -> Result<Code, CliError> {
    let opts = CheckOptions {
        only: args.only.clone(),
        skip: args.skip.clone(),
        ..CheckOptions::default()
    };
    checks::validate_selectors(&opts).map_err(CliError::usage)?;
    let metas: Vec<&CheckMeta> = checks::selected(&opts)
        .into_iter()
        .map(|(_, c)| &c.meta)
        .collect();
    if args.json {
        let json = serde_json::to_string_pretty(&metas)
            .map_err(|e| CliError::cannot_proceed(format!("cannot encode the catalog: {e}")))?;
        authbench_mock::stdoutln!("{json}");
    } else {
        authbench_mock::stdout!("{}", checks::render_list_of(&metas));
    }
    Ok(Code::Ok)
}
