//! Logging set-up shared by the `authbench-mock` and `authbench` binaries, so `authbench mock`
//! logs exactly like `authbench-mock` (DESIGN §10): `tracing` events go to stderr (stdout carries
//! the lines scripts read), as text or one JSON object per line. The level is `warn`, `-v` info,
//! `-vv` debug, `-vvv` trace; `RUST_LOG`, when set, wins over `-v`.

use std::io::IsTerminal;

use clap::{ArgAction, Args, ValueEnum};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The format of log lines on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`).
    Json,
}

/// The logging flags, global to every command.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// More log output on stderr: -v info, -vv debug, -vvv trace (default: warnings only;
    /// RUST_LOG, when set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Format of the log lines on stderr.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value_t,
        global = true
    )]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// The level `-v` asks for.
    fn level(&self) -> LevelFilter {
        match self.verbose {
            0 => LevelFilter::WARN,
            1 => LevelFilter::INFO,
            2 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        }
    }

    /// The filter: `RUST_LOG` when set and not empty (invalid directives are reported on stderr
    /// and ignored), otherwise the `-v` level.
    fn filter(&self) -> EnvFilter {
        self.filter_with(std::env::var("RUST_LOG").ok())
    }

    /// [`Self::filter`] with `RUST_LOG`'s value given. Whatever it asks for, the WebSocket library
    /// logs at most at debug: its trace lines print the handshake request (a token in the query
    /// or the `Authorization` header) and every frame's payload (a token in a first message), and
    /// tokens are never printed whole.
    fn filter_with(&self, rust_log: Option<String>) -> EnvFilter {
        let filter = match rust_log {
            Some(directives) if !directives.trim().is_empty() => EnvFilter::builder()
                .with_default_directive(LevelFilter::WARN.into())
                .parse_lossy(directives),
            _ => EnvFilter::default().add_directive(self.level().into()),
        };
        SECRET_TRACING.iter().fold(filter, |f, d| match d.parse() {
            Ok(d) => f.add_directive(d),
            Err(_) => f,
        })
    }
}

/// Targets whose trace output carries credentials, capped at debug (see [`LogArgs::filter_with`]).
const SECRET_TRACING: &[&str] = &["tungstenite=debug", "tokio_tungstenite=debug"];

/// Installs the global subscriber. Colours only on a terminal with `NO_COLOR` unset. Does
/// nothing if a subscriber is already installed (e.g. a test harness set one).
pub fn init(args: &LogArgs) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(args.filter())
        .with_writer(std::io::stderr)
        // A log line stderr cannot take (its reader has gone) is dropped, like every other line
        // there (crate::console); reporting it would `eprintln!` into the same closed pipe and
        // panic.
        .log_internal_errors(false);
    // `try_init` only fails when a global subscriber exists already; keeping that one is right.
    let _ = match args.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_levels() {
        let at = |verbose| LogArgs {
            verbose,
            ..LogArgs::default()
        };
        assert_eq!(at(0).level(), LevelFilter::WARN);
        assert_eq!(at(1).level(), LevelFilter::INFO);
        assert_eq!(at(2).level(), LevelFilter::DEBUG);
        assert_eq!(at(7).level(), LevelFilter::TRACE);
    }

    /// What a subscriber with `filter` writes for one event at each of `targets`' trace level.
    fn traced(filter: EnvFilter, targets: &[&str]) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for t in targets {
                match *t {
                    "tungstenite::handshake::client" => tracing::trace!(
                        target: "tungstenite::handshake::client",
                        "Request: GET /ws?access_token=SECRET"
                    ),
                    "tokio_tungstenite" => {
                        tracing::trace!(target: "tokio_tungstenite", "frame SECRET")
                    }
                    _ => tracing::trace!(target: "authbench::engine", "engine trace"),
                }
            }
        });
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_websocket_library_never_traces_a_token_whatever_the_verbosity() {
        let targets = [
            "tungstenite::handshake::client",
            "tokio_tungstenite",
            "authbench",
        ];
        let vvv = LogArgs {
            verbose: 3,
            ..LogArgs::default()
        };
        for rust_log in [
            None,
            Some("trace".to_string()),
            Some("tungstenite=trace".into()),
        ] {
            let out = traced(vvv.filter_with(rust_log.clone()), &targets);
            assert!(!out.contains("SECRET"), "{rust_log:?}: {out}");
            if rust_log.as_deref() != Some("tungstenite=trace") {
                assert!(out.contains("engine trace"), "{rust_log:?}: {out}");
            }
        }
    }
}
