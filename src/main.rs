//! The `authbench` command: parses the command line, sets up logging (stderr; `-v`, `RUST_LOG`,
//! `--log-format`, the same set-up as `authbench-mock`), runs one command, renders its error and
//! exits with the contract's exit code (0 ok · 1 threshold/check failed · 2 usage/config · 3 cannot
//! proceed · 130 interrupted).

mod cli;
mod commands;
mod exit;
mod progress;

use clap::Parser;

/// mimalloc instead of the system allocator: a storm allocates and frees per request on every
/// worker thread at once, where glibc's malloc spent about a fifth of the generator's CPU (perf,
/// issue 16) and kept freed memory in per-thread arenas, so the peak per client stayed high.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    authbench_mock::logging::init(&cli.log);
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", err.render());
            err.exit_code()
        }
    };
    std::process::ExitCode::from(code.as_u8())
}
