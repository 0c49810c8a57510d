//! `run --metrics-listen ADDR`: an HTTP endpoint, `GET /metrics`, that shows the running
//! recorder and phase in the OpenMetrics text format ([`authbench::metrics::openmetrics`]).
//!
//! Each scrape takes a recorder snapshot; nothing is added to the recording path. The endpoint
//! lives from before the first phase until the run is over, or with `--metrics-linger` until a
//! scrape that began after the run was over has been answered (or the linger's time is up), so
//! a scraper that polls every 15 s or 1 min sees the run's final values too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use authbench::engine::Progress;
use authbench::metrics::{Recorder, openmetrics};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::exit::CliError;

/// The running endpoint; [`Exporter::finish`] ends it.
pub struct Exporter {
    bound: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
    after_run: Arc<AfterRun>,
}

#[derive(Clone)]
struct Live {
    recorder: Recorder,
    progress: Arc<Progress>,
    after_run: Arc<AfterRun>,
}

/// Whether the run is over, and the news that a scrape begun after that was answered.
#[derive(Default)]
struct AfterRun {
    over: AtomicBool,
    scraped: Notify,
}

/// Binds `addr` and serves `GET /metrics` in the background. The bound address is printed on
/// stderr (`metrics: http://ADDR/metrics`), so port 0 can be used.
pub async fn start(
    addr: SocketAddr,
    recorder: Recorder,
    progress: Arc<Progress>,
) -> Result<Exporter, CliError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(addr, &e))?;
    let bound = listener.local_addr().map_err(|e| {
        CliError::cannot_proceed(format!("--metrics-listen {addr}: no local address: {e}"))
    })?;
    authbench_mock::stderrln!("metrics: http://{bound}/metrics");
    let after_run = Arc::new(AfterRun::default());
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(Live {
            recorder,
            progress,
            after_run: after_run.clone(),
        });
    let stop = CancellationToken::new();
    let shutdown = stop.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!("--metrics-listen: the endpoint stopped: {e}");
        }
    });
    Ok(Exporter {
        bound,
        stop,
        task,
        after_run,
    })
}

/// A port in use cannot proceed (exit 3, as a busy `client.push_listen`); an address this host
/// does not have or may not bind is a usage error (exit 2).
fn bind_error(addr: SocketAddr, e: &std::io::Error) -> CliError {
    use std::io::ErrorKind;
    let what = format!("--metrics-listen {addr}: cannot listen there: {e}");
    match e.kind() {
        ErrorKind::AddrInUse => CliError::cannot_proceed(format!(
            "{what}\n  = fix: stop what listens on {addr}, or choose another port (port 0 picks a free one, printed on stderr)"
        )),
        ErrorKind::PermissionDenied => CliError::usage(format!(
            "{what}\n  = fix: choose a port above 1023, or port 0 for a free one"
        )),
        _ => CliError::usage(format!(
            "{what}\n  = fix: give an address of this host, e.g. 127.0.0.1:9464 or 0.0.0.0:9464"
        )),
    }
}

impl Exporter {
    /// The engine has returned: every count of the run is in the recorder, and a scrape from now
    /// on shows the final values.
    pub fn run_over(&self) {
        self.after_run.over.store(true, Ordering::Release);
    }

    /// The run is over: with `linger`, serves on until a scrape begun from now on has been
    /// answered, `linger` has passed, or `cancel` fires (Ctrl-C); then stops serving (a scrape in
    /// progress finishes first).
    pub async fn finish(self, linger: Option<Duration>, cancel: &CancellationToken, quiet: bool) {
        self.after_run.over.store(true, Ordering::Release);
        if let Some(linger) = linger.filter(|d| !d.is_zero() && !cancel.is_cancelled()) {
            if !quiet {
                authbench_mock::stderrln!(
                    "metrics: the run is over; its final values stay at http://{}/metrics until scraped once more (at most {})",
                    self.bound,
                    authbench::config::units::format_duration(linger)
                );
            }
            tokio::select! {
                _ = self.after_run.scraped.notified() => {}
                _ = tokio::time::sleep(linger) => {}
                _ = cancel.cancelled() => {}
            }
        }
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn metrics(State(live): State<Live>) -> Response {
    // Read before the snapshot: a scrape that began after the run was over holds its final values.
    let after_run = live.after_run.over.load(Ordering::Acquire);
    let phase = live.progress.tick().phase;
    let encoded = openmetrics::encode(&live.recorder.snapshot(), phase);
    if after_run {
        // A permit if nobody waits yet: the answer is not lost to a race with `finish`.
        live.after_run.scraped.notify_one();
    }
    match encoded {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, openmetrics::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
