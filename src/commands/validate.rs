//! `authbench validate` (a scenario and its target profile, or a target profile alone, without
//! running) and `authbench schema`.

use authbench::profile;
use authbench::scenario::{self, TargetSpec};

use crate::cli::ValidateArgs;
use crate::exit::{CliError, Code};

pub fn validate(args: ValidateArgs) -> Result<Code, CliError> {
    if is_target_profile(&args.scenario) {
        // `--set` overrides the profile's own keys here (e.g. `--set base_url=...`).
        let (p, unset) = check_profile(&args.scenario, &args.set)?;
        authbench_mock::stdoutln!(
            "{}: valid target profile {:?} for {}{}",
            args.scenario.display(),
            p.name(),
            shown_base_url(&p, &unset),
            env_summary(&unset)
        );
        print_unset(&args.scenario, &unset);
        return Ok(Code::Ok);
    }
    let s = scenario::load(&args.scenario, &args.set).map_err(CliError::usage)?;
    let mut unset_notes = None;
    let target = match &s.target {
        TargetSpec::File(p) => {
            let (profile, unset) = check_profile(p, &[])?;
            if let Some(why) = authbench::engine::cookie_mismatch(s.client.strategy, &profile) {
                return Err(CliError::usage(format!(
                    "{}: {why}",
                    args.scenario.display()
                )));
            }
            let summary = format!(
                "target profile {} is valid{}",
                p.display(),
                env_summary(&unset)
            );
            unset_notes = Some((p.clone(), unset));
            summary
        }
        TargetSpec::Url(u) => format!("target {u} (oauth2 preset; discovery happens at run time)"),
        TargetSpec::Builtin => "target: builtin mock".to_string(),
    };
    authbench_mock::stdoutln!(
        "{}: valid — scenario {:?}, {} clients, strategy {}, {} phases, {} thresholds; {}",
        args.scenario.display(),
        s.name,
        s.clients,
        s.client.strategy,
        s.plan.len(),
        s.expect.len(),
        target
    );
    if let Some((path, unset)) = unset_notes {
        print_unset(&path, &unset);
    }
    Ok(Code::Ok)
}

/// Loads a target profile without requiring its environment variables, with `sets` (`--set`)
/// applied to its keys, and lists the unset variables of the keys they leave as written (the same
/// for a profile validated alone and one a scenario names).
fn check_profile(
    path: &std::path::Path,
    sets: &[String],
) -> Result<(profile::Profile, Vec<(String, String)>), CliError> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    let opts = profile::LoadOptions {
        env: profile::EnvCheck::Skip,
        ..profile::LoadOptions::default()
    };
    let p = profile::profile_from_str_with_sets(&src, Some(path), &opts, sets)
        .map_err(CliError::usage)?;
    let set_keys: Vec<&str> = sets
        .iter()
        .filter_map(|raw| raw.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let unset = profile::unset_environment(&src, Some(path))
        .into_iter()
        .filter(|(key, _)| {
            !set_keys
                .iter()
                .any(|k| key == k || key.starts_with(&format!("{k}.")))
        })
        .collect();
    Ok((p, unset))
}

fn shown_base_url(p: &profile::Profile, unset: &[(String, String)]) -> String {
    match unset.iter().find(|(key, _)| key == "base_url") {
        Some((_, var)) => format!("a base_url from {var} (not set here)"),
        None => p.base_url().to_string(),
    }
}

/// Each unset variable once, with the keys that use it, in file order.
fn by_variable(unset: &[(String, String)]) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for (key, var) in unset {
        match out.iter_mut().find(|(v, _)| v == var) {
            Some((_, keys)) => keys.push(key),
            None => out.push((var, vec![key])),
        }
    }
    out
}

fn env_summary(unset: &[(String, String)]) -> String {
    match by_variable(unset).len() {
        0 => " (every environment variable it uses is set)".to_string(),
        1 => " (1 environment variable not set here, see below)".to_string(),
        n => format!(" ({n} environment variables not set here, see below)"),
    }
}

/// One line per unset variable: what `run` and `check` will refuse.
fn print_unset(path: &std::path::Path, unset: &[(String, String)]) {
    for (var, keys) in by_variable(unset) {
        if keys == ["admin_key"] {
            authbench_mock::stdoutln!(
                "  note: {}: environment variable {var} is not set (used by `admin_key`); without it the admin requests are unavailable (force_logout is skipped, admin checks SKIP)",
                path.display()
            );
            continue;
        }
        let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        authbench_mock::stdoutln!(
            "  note: {}: environment variable {var} is not set (used by {}); `run` and `check` need it: export {var}=...",
            path.display(),
            keys.join(", ")
        );
    }
}
pub fn schema() -> Result<Code, CliError> {
    let schema = scenario::json_schema();
    authbench_mock::stdoutln!(
        "{}",
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    );
    Ok(Code::Ok)
}

/// A file whose top level has `base_url` or `preset` and no `plan` is a target profile.
fn is_target_profile(path: &std::path::Path) -> bool {
    let Ok(src) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(serde_json::Value::Object(top)) = serde_saphyr::from_str::<serde_json::Value>(&src)
    else {
        return false;
    };
    !top.contains_key("plan") && (top.contains_key("base_url") || top.contains_key("preset"))
}
