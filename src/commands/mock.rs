//! `authbench mock`: the reference server with the same flags and output as `authbench-mock`.

use crate::exit::{CliError, Code};

pub async fn run(args: authbench_mock::MockArgs) -> Result<Code, CliError> {
    let cfg = args.into_config().map_err(CliError::usage)?;
    let server = authbench_mock::start(cfg).await.map_err(|e| match e {
        authbench_mock::MockError::Config(e) => CliError::usage(e),
        other => CliError::cannot_proceed(other),
    })?;
    println!("authbench-mock listening on {}", server.base_url());
    println!("admin key: {}", server.admin_key());
    super::signals::wait().await;
    eprintln!("shutting down");
    server.shutdown().await;
    Ok(Code::Ok)
}
