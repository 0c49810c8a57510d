//! `run --metrics-listen ADDR`: an HTTP endpoint, `GET /metrics`, that shows the running
//! recorder and phase in the OpenMetrics text format ([`authbench::metrics::openmetrics`]).
//!
//! Each scrape takes a recorder snapshot; nothing is added to the recording path. The endpoint
//! lives from before the first phase until the engine returns.

use std::net::SocketAddr;
use std::sync::Arc;

use authbench::engine::Progress;
use authbench::metrics::{Recorder, openmetrics};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::exit::CliError;

/// The running endpoint; [`Exporter::stop`] ends it.
pub struct Exporter {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Live {
    recorder: Recorder,
    progress: Arc<Progress>,
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
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(Live { recorder, progress });
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
    Ok(Exporter { stop, task })
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
    /// Stops serving (a scrape in progress finishes first).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn metrics(State(live): State<Live>) -> Response {
    let phase = live.progress.tick().phase;
    match openmetrics::encode(&live.recorder.snapshot(), phase) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, openmetrics::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
