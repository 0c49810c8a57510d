//! Live progress of a run on the terminal: one indicatif spinner line refreshed a few times a second
//! when stderr is a terminal, plain periodic lines otherwise (CI logs), nothing with `--quiet`.
//!
//! The display only reads a [`Sample`] produced by the caller; it knows nothing about the engine.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the display shows at one instant.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub phase: String,
    pub logged_in: i64,
    pub requests: u64,
    pub refreshes: u64,
    pub errors: u64,
    pub open_sockets: i64,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A live line redrawn in place (stderr is a terminal).
    Live,
    /// A plain line every few seconds (stderr is a file or pipe).
    Plain,
    /// Nothing.
    Off,
}

impl Mode {
    /// Live on a terminal, plain otherwise, off when quiet.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// A running display; [`Display::finish`] stops it and clears the live line.
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Display {
    /// Starts the display on its own thread, so a saturated async runtime cannot freeze it.
    pub fn start<F>(mode: Mode, read: F) -> Display
    where
        F: Fn() -> Sample + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        if mode == Mode::Off {
            return Display { stop, thread: None };
        }
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || show(mode, read, &flag))
            .ok();
        Display { stop, thread }
    }

    /// Stops the display and waits for its thread.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn show<F: Fn() -> Sample>(mode: Mode, read: F, stop: &AtomicBool) {
    let (tick, every) = match mode {
        Mode::Live => (Duration::from_millis(100), Duration::from_millis(250)),
        _ => (Duration::from_millis(100), Duration::from_secs(5)),
    };
    let bar = (mode == Mode::Live).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let start = Instant::now();
    let mut last = Instant::now();
    let mut prev = read();
    let mut prev_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let now = read();
        let dt = prev_at.elapsed().as_secs_f64().max(1e-3);
        let rps = now.requests.saturating_sub(prev.requests) as f64 / dt;
        let line = line(&now, rps);
        match &bar {
            Some(bar) => {
                bar.set_message(line);
                bar.tick();
            }
            None => eprintln!("[{:>6.1}s] {line}", start.elapsed().as_secs_f64()),
        }
        prev = now;
        prev_at = Instant::now();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

fn line(s: &Sample, rps: f64) -> String {
    let mut out = format!(
        "phase {:<12} logged in {:>7}  {:>8.0} req/s  refreshes {:>8}  errors {:>6}",
        s.phase, s.logged_in, rps, s.refreshes, s.errors
    );
    if s.open_sockets > 0 {
        out.push_str(&format!("  sockets {:>6}", s.open_sockets));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_every_figure() {
        let s = Sample {
            phase: "traffic".into(),
            logged_in: 5000,
            requests: 10,
            refreshes: 42,
            errors: 3,
            open_sockets: 7,
        };
        let l = line(&s, 1234.0);
        for part in [
            "traffic",
            "5000",
            "1234 req/s",
            "42",
            "errors      3",
            "sockets      7",
        ] {
            assert!(l.contains(part), "{l:?} lacks {part:?}");
        }
    }

    #[test]
    fn quiet_is_off() {
        assert_eq!(Mode::detect(true), Mode::Off);
    }
}
