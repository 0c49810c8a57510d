//! Logging set-up shared by the `authbench-mock` and `authbench` binaries, so `authbench mock`
//! logs exactly like `authbench-mock` (DESIGN §10): `tracing` events go to stderr (stdout carries
//! the lines scripts read), as text or one JSON object per line. The level is `warn`, `-v` info,
//! `-vv` debug, `-vvv` trace; `RUST_LOG`, when set, wins over `-v`.

use std::io::IsTerminal;

use clap::{ArgAction, Args, ValueEnum};
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::{EnvFilter, Registry};

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
    /// and ignored), otherwise the `-v` level; never the secret traces ([`not_secret_trace`]).
    fn filter(&self) -> impl Filter<Registry> + use<> {
        self.filter_with(std::env::var("RUST_LOG").ok())
    }

    /// [`Self::filter`] with `RUST_LOG`'s value given.
    fn filter_with(&self, rust_log: Option<String>) -> impl Filter<Registry> + use<> {
        let levels = match rust_log {
            Some(directives) if !directives.trim().is_empty() => EnvFilter::builder()
                .with_default_directive(LevelFilter::WARN.into())
                .parse_lossy(directives),
            _ => EnvFilter::default().add_directive(self.level().into()),
        };
        levels.and(filter_fn(not_secret_trace))
    }
}

/// Whatever the filter lets through, the WebSocket library's trace events are dropped: they print
/// the handshake request (a token in the query or the `Authorization` header) and every frame's
/// payload (a token in a first message), and tokens are never printed whole.
fn not_secret_trace(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() != tracing::Level::TRACE
        || !SECRET_TRACING.iter().any(|t| {
            meta.target()
                .strip_prefix(t)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// Targets whose trace output carries credentials (see [`not_secret_trace`]).
const SECRET_TRACING: &[&str] = &["tungstenite", "tokio_tungstenite"];

/// Installs the global subscriber. Colours only on a terminal with `NO_COLOR` unset. Does
/// nothing if a subscriber is already installed (e.g. a test harness set one).
pub fn init(args: &LogArgs) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = args.filter();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // A log line stderr cannot take (its reader has gone) is dropped, like every other line
        // there (crate::console); reporting it would `eprintln!` into the same closed pipe and
        // panic.
        .log_internal_errors(false);
    // `try_init` only fails when a global subscriber exists already; keeping that one is right.
    let registry = tracing_subscriber::registry();
    let _ = match args.log_format {
        LogFormat::Json => registry.with(layer.json().with_filter(filter)).try_init(),
        LogFormat::Text => registry
            .with(
                layer
                    .with_ansi(
                        std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
                    )
                    .with_filter(filter),
            )
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

    /// What the subscriber `init` installs, with `args` and `rust_log`, writes for a trace and a
    /// debug event of the WebSocket library and a trace event of authbench.
    fn logged(args: &LogArgs, rust_log: Option<&str>) -> String {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::SubscriberExt;
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
        let filter = args.filter_with(rust_log.map(str::to_string));
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || out.clone())
                .with_filter(filter),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(
                target: "tungstenite::handshake::client",
                "Request: GET /ws?access_token=SECRET"
            );
            tracing::trace!(target: "tokio_tungstenite", "frame SECRET");
            tracing::debug!(target: "tungstenite::handshake::client", "handshake done");
            tracing::trace!(target: "authbench::engine", "engine trace");
        });
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_websocket_library_never_traces_a_token_whatever_the_verbosity() {
        let at = |verbose| LogArgs {
            verbose,
            ..LogArgs::default()
        };
        for rust_log in [
            None,
            Some("trace"),
            Some("tungstenite=trace,authbench=trace"),
        ] {
            let out = logged(&at(3), rust_log);
            assert!(!out.contains("SECRET"), "{rust_log:?}: {out}");
            assert!(out.contains("engine trace"), "{rust_log:?}: {out}");
            assert!(out.contains("handshake done"), "{rust_log:?}: {out}");
        }
        // ... and the default level stays quiet: the cap lowers, it never raises.
        let quiet = logged(&at(0), None);
        assert!(quiet.is_empty(), "{quiet}");
        let info = logged(&at(0), Some("info"));
        assert!(info.is_empty(), "{info}");
    }
}
