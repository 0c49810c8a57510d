//! Live progress of a run on the terminal: one indicatif spinner line refreshed a few times a second
//! when stderr is a terminal, plain lines otherwise (CI logs: one every few seconds and one at each
//! phase change), nothing with `--quiet`.
//!
//! A line shows the phase, a countdown when the phase has a known end or waits for something
//! (`starts in` for `--start-at`, `storm in` for `sync_expiry`, `ends in`), the request rate, the
//! current p99 per operation, the failure rate since the previous line, refreshes and errors.
//! Elapsed time leads the line. The display only reads a [`Sample`] produced by the caller; it
//! knows nothing about the engine.

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
    /// What the phase counts down to (`starts in`, `storm in`, `ends in`) and the time left.
    pub countdown: Option<(&'static str, Duration)>,
    pub logged_in: i64,
    pub requests: u64,
    pub refreshes: u64,
    pub errors: u64,
    /// Failed operations so far.
    pub failures: u64,
    pub open_sockets: i64,
    /// p99 latency (µs) over the last second, per operation (`None`: nothing completed).
    pub p99: Vec<(&'static str, Option<u64>)>,
}

/// How often a plain (not a terminal) line is printed, phase changes aside.
const PLAIN_EVERY: Duration = Duration::from_secs(3);

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
        _ => (Duration::from_millis(100), PLAIN_EVERY),
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
    let mut shown_phase = String::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        let due = last.elapsed() >= every;
        let now = if due || bar.is_none() {
            read()
        } else {
            continue;
        };
        // A plain line also goes out at once when the phase changes (e.g. into a countdown).
        if !due && now.phase == shown_phase {
            continue;
        }
        shown_phase.clone_from(&now.phase);
        last = Instant::now();
        let dt = prev_at.elapsed().as_secs_f64().max(1e-3);
        let line = line(&now, &prev, dt);
        match &bar {
            Some(bar) => {
                bar.set_message(line);
                bar.tick();
            }
            None => authbench_mock::stderrln!("[{:>6.1}s] {line}", start.elapsed().as_secs_f64()),
        }
        prev = now;
        prev_at = Instant::now();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// One progress line for `s`, with rates since `prev` (taken `dt` seconds earlier).
fn line(s: &Sample, prev: &Sample, dt: f64) -> String {
    let requests = s.requests.saturating_sub(prev.requests);
    let rps = requests as f64 / dt;
    let mut out = format!("phase {:<12}", s.phase);
    if let Some((label, left)) = s.countdown {
        out.push_str(&format!(" {label} {:>5.1}s", left.as_secs_f64()));
    }
    out.push_str(&format!(
        "  logged in {:>7}  {:>8.0} req/s",
        s.logged_in, rps
    ));
    let p99: Vec<String> = s
        .p99
        .iter()
        .filter_map(|(op, v)| {
            Some(format!(
                "{op} {}",
                authbench::report::format::micros((*v)? as f64)
            ))
        })
        .collect();
    if !p99.is_empty() {
        out.push_str(&format!("  p99 {}", p99.join(" ")));
    }
    if requests > 0 {
        let failed = s.failures.saturating_sub(prev.failures);
        out.push_str(&format!(
            "  failures {}",
            authbench::report::format::percent(failed as f64 / requests as f64)
        ));
    }
    out.push_str(&format!(
        "  refreshes {:>8}  errors {:>6}",
        s.refreshes, s.errors
    ));
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
        let prev = Sample {
            requests: 1_000,
            failures: 10,
            ..Sample::default()
        };
        let s = Sample {
            phase: "traffic".into(),
            countdown: Some(("ends in", Duration::from_millis(8_150))),
            logged_in: 5000,
            requests: 1_000 + 2_468,
            refreshes: 42,
            errors: 3,
            failures: 10 + 37,
            open_sockets: 7,
            p99: vec![
                ("refresh", Some(144_000)),
                ("api", Some(2_300_000)),
                ("login", None),
            ],
        };
        let l = line(&s, &prev, 2.0);
        for part in [
            "traffic",
            "ends in   8.2s",
            "5000",
            "1234 req/s",
            "p99 refresh 144ms api 2.3s",
            "failures 1.5",
            "42",
            "errors      3",
            "sockets      7",
        ] {
            assert!(l.contains(part), "{l:?} lacks {part:?}");
        }
        assert!(!l.contains("login"), "no p99 without samples: {l:?}");
    }

    #[test]
    fn countdown_before_the_start() {
        let s = Sample {
            phase: "waiting (0/3)".into(),
            countdown: Some(("starts in", Duration::from_secs(42))),
            ..Sample::default()
        };
        let l = line(&s, &Sample::default(), 1.0);
        assert!(l.contains("starts in  42.0s"), "{l:?}");
        assert!(!l.contains("failures"), "no rate without requests: {l:?}");
    }

    #[test]
    fn quiet_is_off() {
        assert_eq!(Mode::detect(true), Mode::Off);
    }
}
