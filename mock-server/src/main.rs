//! `authbench-mock`: runs the reference auth server until SIGINT/SIGTERM.
//! Exit codes: 0 stopped by a signal, 2 invalid flags, 3 could not start (port in use...).

use std::process::ExitCode;

use authbench_mock::{MockArgs, MockError};
use clap::Parser;

/// The reference auth server of authbench: OAuth 2.0 token endpoint with refresh-token rotation
/// and reuse detection, a JSON API, a resource endpoint, a WebSocket with kick-off events,
/// faults and deliberate flaws.
#[derive(Parser)]
#[command(name = "authbench-mock", version)]
struct Cli {
    #[command(flatten)]
    mock: MockArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match Cli::parse().mock.into_config() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match authbench_mock::start(cfg).await {
        Ok(s) => s,
        Err(e @ MockError::Config(_)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    println!("authbench-mock listening on {}", server.base_url());
    println!("admin key: {}", server.admin_key());
    wait_for_signal().await;
    eprintln!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
