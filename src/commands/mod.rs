//! One file per command; `dispatch` routes the parsed command line to it.

use crate::cli::{Cli, Command};
use crate::exit::{CliError, Code};

pub fn dispatch(cli: Cli) -> Result<Code, CliError> {
    match cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "authbench", &mut std::io::stdout());
            Ok(Code::Ok)
        }
        _ => Err(CliError::usage("this command is not available yet")),
    }
}
