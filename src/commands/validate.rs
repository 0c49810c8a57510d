//! `authbench validate` (a scenario and its target profile, or a target profile alone, without
//! running) and `authbench schema`.

use authbench::profile;
use authbench::scenario::{self, TargetSpec};

use crate::cli::ValidateArgs;
use crate::exit::{CliError, Code};

pub fn validate(args: ValidateArgs) -> Result<Code, CliError> {
    if is_target_profile(&args.scenario) {
        let p = profile::profile_from_str_with(
            &std::fs::read_to_string(&args.scenario)?,
            Some(&args.scenario),
            profile::EnvCheck::Skip,
        )
        .map_err(CliError::usage)?;
        println!(
            "{}: valid target profile {:?} for {} (environment variables not checked)",
            args.scenario.display(),
            p.name(),
            p.base_url()
        );
        return Ok(Code::Ok);
    }
    let s = scenario::load(&args.scenario, &args.set).map_err(CliError::usage)?;
    let target = match &s.target {
        TargetSpec::File(p) => {
            profile::load_profile(p).map_err(CliError::usage)?;
            format!("target profile {} is valid", p.display())
        }
        TargetSpec::Url(u) => format!("target {u} (oauth2 preset; discovery happens at run time)"),
        TargetSpec::Builtin => "target: builtin mock".to_string(),
    };
    println!(
        "{}: valid — scenario {:?}, {} clients, strategy {}, {} phases, {} thresholds; {}",
        args.scenario.display(),
        s.name,
        s.clients,
        s.client.strategy,
        s.plan.len(),
        s.expect.len(),
        target
    );
    Ok(Code::Ok)
}

pub fn schema() -> Result<Code, CliError> {
    let schema = scenario::json_schema();
    println!(
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
