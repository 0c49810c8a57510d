//! `authbench-mock`: runs the reference auth server until SIGINT/SIGTERM.
//! Exit codes: 0 stopped by a signal, 2 invalid flags, 3 could not start (port in use...).

use std::process::ExitCode;

use authbench_mock::{LogArgs, MockArgs, MockError, RuntimeArgs};
use clap::Parser;

/// The reference auth server of authbench: OAuth 2.0 token endpoint with refresh-token rotation
/// and reuse detection, a JSON API, a resource endpoint, a WebSocket with kick-off events,
/// faults and deliberate flaws.
#[derive(Parser)]
#[command(name = "authbench-mock", version)]
struct Cli {
    #[command(flatten)]
    mock: MockArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn main() -> ExitCode {
    authbench_mock::heap::prepare_for_bursts();
    let cli = Cli::parse();
    match cli.runtime.runtime() {
        Ok(rt) => rt.block_on(serve(cli)),
        Err(e) => {
            authbench_mock::stderrln!("error: cannot start the async runtime: {e}");
            ExitCode::from(3)
        }
    }
}

async fn serve(cli: Cli) -> ExitCode {
    authbench_mock::logging::init(&cli.log);
    let result = match cli.mock.into_config() {
        Ok(cfg) => authbench_mock::run(cfg).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            authbench_mock::stderrln!("error: {e}");
            ExitCode::from(match e {
                MockError::Config(_) => 2,
                _ => 3,
            })
        }
    }
}
