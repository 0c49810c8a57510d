//! The engine's WebSocket bookkeeping: one socket task per client (through `client::ws::spawn`),
//! one kick board per run, and the open-socket figure for the live display.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::plan::Plan;
use super::progress::Progress;
use crate::client::Session;
use crate::client::transport::Http;
use crate::client::ws::{self, KickBoard, KickClock, WsHandle, WsOptions};
use crate::metrics::Recorder;
use crate::metrics::names::GAUGE_OPEN_SOCKETS;
use crate::profile::Profile;

/// How often the open-socket figure of the live display is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// One client's socket: its task handle and the kick clock of the session it belongs to.
pub(crate) struct Socket {
    handle: WsHandle,
    kick: Arc<KickClock>,
}

impl Socket {
    /// The kick clock to arm when this socket's session is replaced or logged out.
    pub fn kick_clock(&self) -> Arc<KickClock> {
        self.kick.clone()
    }

    /// Whether the socket is open now.
    pub fn is_open(&self) -> bool {
        self.handle.is_open()
    }

    /// Waits at most `within` for the channel to have a socket open (`false`: it ended, or is
    /// still reconnecting).
    pub async fn open_within(&self, within: Duration) -> bool {
        self.is_open()
            || tokio::time::timeout(within, self.handle.wait_open(1))
                .await
                .unwrap_or(false)
    }

    /// Completes when the channel has no open socket (the server closed it, e.g. a kick).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.handle.closed()
    }

    /// Asks the socket task to close (client-initiated close, bounded by the WS options).
    pub fn close(self) {
        self.handle.close();
    }
}

/// Per-run WebSocket state.
pub(crate) struct Sockets {
    opts: Arc<WsOptions>,
    board: Arc<KickBoard>,
    recorder: Recorder,
    cancel: CancellationToken,
}

impl Sockets {
    /// WebSocket settings from the target profile (an error message when it has none); `wss`
    /// sockets use the TLS configuration of the run's HTTP transport `http`.
    pub fn new(
        profile: &Profile,
        plan: &Plan,
        http: &Http,
        recorder: Recorder,
        progress: Arc<Progress>,
        cancel: CancellationToken,
    ) -> Result<Arc<Sockets>, String> {
        let ws = profile.ws().ok_or_else(|| {
            format!(
                "the target profile `{}` has no `ws:` section",
                profile.name()
            )
        })?;
        let tls = if ws.url.scheme() == "wss" {
            Some(http.tls_config().map_err(|e| e.to_string())?)
        } else {
            None
        };
        let mut opts = WsOptions::from_profile(ws, tls).map_err(|e| e.to_string())?;
        opts.connect_timeout = plan.client.timeout;
        let sockets = Arc::new(Sockets {
            opts: Arc::new(opts),
            board: KickBoard::new(recorder.clone()),
            recorder: recorder.clone(),
            cancel: cancel.clone(),
        });
        tokio::spawn(async move {
            loop {
                progress.open_sockets.store(
                    recorder.gauge(GAUGE_OPEN_SOCKETS),
                    std::sync::atomic::Ordering::Relaxed,
                );
                tokio::select! {
                    _ = tokio::time::sleep(PROGRESS_EVERY) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        });
        Ok(sockets)
    }

    /// Opens a socket for `session` and waits (bounded by the connect timeout) until it is open or
    /// has failed. The socket task keeps running (reconnecting after expiry closes) on its own.
    pub async fn open(&self, session: &Arc<Session>) -> Option<Socket> {
        let shard = session.id() as usize;
        let kick = self.board.clock(shard);
        let handle = ws::spawn(
            self.opts.clone(),
            session.clone(),
            self.recorder.clone(),
            shard,
            kick.clone(),
            self.cancel.child_token(),
        );
        let bound = self.opts.connect_timeout + Duration::from_secs(1);
        let _ = tokio::time::timeout(bound, handle.wait_open(1)).await;
        Some(Socket { handle, kick })
    }

    /// Waits up to `timeout` for every armed kick clock; the rest are counted `missed_kicks`.
    pub async fn settle(&self, timeout: Duration) {
        self.board.settle(timeout).await;
    }

    /// Closes `sockets` and waits (bounded) for their tasks to end.
    pub async fn close_all(&self, sockets: Vec<Socket>, timeout: Duration) {
        let handles: Vec<WsHandle> = sockets
            .into_iter()
            .map(|s| {
                s.handle.close();
                s.handle
            })
            .collect();
        let joins = futures::future::join_all(handles.into_iter().map(|h| h.join()));
        let _ = tokio::time::timeout(timeout, joins).await;
    }
}
