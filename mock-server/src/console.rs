//! Printing to stdout and stderr without panicking when nobody reads any more.
//!
//! `println!` panics when its write fails: Rust starts programs with SIGPIPE ignored, so a reader
//! that has gone (`authbench run … | head`, a script that reads the mock's first line and closes
//! the pipe) turns the next line into `EPIPE`, a panic and exit 101. Both binaries print through
//! the [`stdoutln!`](crate::stdoutln) family instead: once a stream cannot be written, what would
//! have followed on it is dropped and the program goes on to its own exit code (a run's verdict
//! does not depend on who reads its terminal). SIGPIPE stays ignored: a server that closes a
//! socket must not kill the load generator.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Stdout failed once: nothing more is written to it.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// Stderr failed once: nothing more is written to it.
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout. After a failure nothing more is written there; a failure other than a
/// closed pipe (a full disk behind a redirect) is said once on stderr.
pub fn out(args: fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = io::stdout().lock().write_fmt(args) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            err(format_args!(
                "cannot write to stdout ({e}); the rest of its output is dropped\n"
            ));
        }
    }
}

/// Writes `args` to stderr. After a failure nothing more is written there (there is nowhere left
/// to say so).
pub fn err(args: fmt::Arguments<'_>) {
    if STDERR_GONE.load(Ordering::Relaxed) {
        return;
    }
    if io::stderr().lock().write_fmt(args).is_err() {
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

/// `print!` that does not panic: see the [module docs](crate::console).
#[macro_export]
macro_rules! stdout {
    ($($arg:tt)*) => { $crate::console::out(format_args!($($arg)*)) };
}

/// `println!` that does not panic: see the [module docs](crate::console).
#[macro_export]
macro_rules! stdoutln {
    () => { $crate::console::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that does not panic: see the [module docs](crate::console).
#[macro_export]
macro_rules! stderr {
    ($($arg:tt)*) => { $crate::console::err(format_args!($($arg)*)) };
}

/// `eprintln!` that does not panic: see the [module docs](crate::console).
#[macro_export]
macro_rules! stderrln {
    () => { $crate::console::err(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::err(format_args!("{}\n", format_args!($($arg)*))) };
}
