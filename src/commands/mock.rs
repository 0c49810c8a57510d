//! `authbench mock`: the reference server with the same flags and output as `authbench-mock`.

use crate::exit::{CliError, Code};

pub async fn run(args: authbench_mock::MockArgs) -> Result<Code, CliError> {
    let cfg = args.into_config().map_err(CliError::usage)?;
    authbench_mock::run(cfg).await.map_err(|e| match e {
        authbench_mock::MockError::Config(e) => CliError::usage(e),
        other => CliError::cannot_proceed(other),
    })?;
    Ok(Code::Ok)
}
