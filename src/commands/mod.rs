//! One file per command; `dispatch` routes the parsed command line to it and owns the async runtime.

mod check;
mod compare;
mod init;
mod metrics_listen;
mod mock;
mod outdir;
mod run;
mod signals;
mod target;
mod validate;

use crate::cli::{Cli, Command};
use crate::exit::{CliError, Code};

pub fn dispatch(cli: Cli) -> Result<Code, CliError> {
    let runtime = || {
        cli.runtime
            .runtime()
            .map_err(|e| CliError::cannot_proceed(format!("cannot start the async runtime: {e}")))
    };
    match cli.command {
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Check(args) => runtime()?.block_on(check::run(args)),
        Command::Mock(args) => runtime()?.block_on(mock::run(args)),
        Command::Init(args) => runtime()?.block_on(init::run(args)),
        Command::Validate(args) => validate::validate(args),
        Command::Schema => validate::schema(),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Into memory first: `generate` panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "authbench", &mut script);
            authbench_mock::stdout!("{}", String::from_utf8_lossy(&script));
            Ok(Code::Ok)
        }
        Command::Compare(args) => compare::compare(args),
        Command::Merge(args) => compare::merge(args),
    }
}
