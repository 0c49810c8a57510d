//! `authbench validate` (a scenario and its target profile, without running) and `authbench schema`.

use authbench::scenario::{self, TargetSpec};
use authbench::target;

use crate::cli::ValidateArgs;
use crate::exit::{CliError, Code};

pub fn validate(args: ValidateArgs) -> Result<Code, CliError> {
    let s = scenario::load(&args.scenario, &args.set).map_err(CliError::usage)?;
    let target = match &s.target {
        TargetSpec::File(p) => {
            target::load_profile(p).map_err(CliError::usage)?;
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
