//! The engine's channel bookkeeping: one channel per client — a WebSocket task
//! (`client::ws::spawn`), an SSE task (`client::sse::spawn`) or a push registration
//! (`client::push::register`), as `client.channel` says — one kick board per run (recording under
//! that channel's names), and the open-socket figure for the live display.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::plan::Plan;
use super::progress::Progress;
use crate::client::push::{self, PushHandle, PushReceiver};
use crate::client::sse::{self, SseHandle, SseOptions};
use crate::client::transport::Http;
use crate::client::ws::{
    self, KickBoard, KickClock, PUSH_KICKS, SSE_KICKS, TURNED_AWAY_WITHIN, WsHandle, WsOptions,
};
use crate::client::{Channel, Session};
use crate::metrics::Recorder;
use crate::metrics::names::GAUGE_OPEN_SOCKETS;
use crate::profile::Profile;

/// How often the open-socket figure of the live display is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// One client's channel.
enum Handle {
    Ws(WsHandle),
    Sse(SseHandle),
    Push(PushHandle),
}

/// One client's socket (or stream, or push registration): its handle and the kick clock of the
/// session it belongs to.
pub(crate) struct Socket {
    /// Boxed: a member without a socket (`None`) then costs 16 bytes, not the handle's size
    /// (every one of a million clients has the field).
    handle: Box<Handle>,
    kick: Arc<KickClock>,
}

impl Socket {
    /// The kick clock to arm when this socket's session is replaced or logged out.
    pub fn kick_clock(&self) -> Arc<KickClock> {
        self.kick.clone()
    }

    /// Whether the channel is still going: a socket or stream open, or one being retried after
    /// the server refused or closed it (a push registration: registered and routed).
    pub fn is_alive(&self) -> bool {
        match &*self.handle {
            Handle::Ws(h) => !h.is_finished(),
            Handle::Sse(h) => !h.is_finished(),
            Handle::Push(h) => h.is_open(),
        }
    }

    /// Waits at most `within` for a WebSocket channel to have a socket open that the server
    /// keeps (`false`: it ended, or is still reconnecting). A socket counts once it has been open
    /// for [`TURNED_AWAY_WITHIN`]: one the server closes sooner (a 1013 right after the upgrade)
    /// was turned away, not open, so this waits until the socket is that old, up to that much past
    /// `within`. `within` zero (an interrupted run) takes the state as it is. `ws_not_open_at_end`
    /// is about WebSockets: other channels answer `true`.
    pub async fn open_within(&self, within: Duration) -> bool {
        let Handle::Ws(handle) = &*self.handle else {
            return true;
        };
        if within.is_zero() {
            return handle.is_open();
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let open = handle.is_open()
                || tokio::time::timeout_at(deadline, handle.wait_open(1))
                    .await
                    .unwrap_or(false);
            if !open {
                return false;
            }
            // Still open once it is old enough: kept (at once for a socket that is already).
            if let Some(since) = handle.open_since()
                && tokio::time::timeout_at(since + TURNED_AWAY_WITHIN, handle.closed())
                    .await
                    .is_err()
            {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
        }
    }

    /// Completes when the channel has no open socket or stream (the server closed it, e.g. a
    /// kick), with whether the server closed it (`false`: the client closed a socket the server
    /// left open past a kick event's grace, or the run stopped it). `None` for a push
    /// registration: it has no connection for the server to close.
    pub fn closed(&self) -> Option<futures::future::BoxFuture<'static, bool>> {
        match &*self.handle {
            Handle::Ws(h) => Some(Box::pin(h.closed())),
            Handle::Sse(h) => {
                let closed = h.closed();
                Some(Box::pin(async move {
                    closed.await;
                    true
                }))
            }
            Handle::Push(_) => None,
        }
    }

    /// Asks the channel to close (client-initiated close, bounded by the WS options).
    pub fn close(self) {
        match &*self.handle {
            Handle::Ws(h) => h.close(),
            Handle::Sse(h) => h.close(),
            Handle::Push(h) => h.close(),
        }
    }
}

/// How the run's channels are opened.
enum Opener {
    Ws(Arc<WsOptions>),
    Sse(Arc<SseOptions>),
    Push(Arc<PushReceiver>),
}

/// How long closing sockets waits for their tasks to end (a closed task ends at its next poll).
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Per-run WebSocket state.
pub(crate) struct Sockets {
    opener: Opener,
    connect_timeout: Duration,
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
        let (opener, board) = match plan.channel.unwrap_or(Channel::Ws) {
            Channel::Ws => {
                let mut opts = ws_options(profile, http)?;
                opts.connect_timeout = plan.client.timeout;
                (Opener::Ws(Arc::new(opts)), KickBoard::new(recorder.clone()))
            }
            Channel::Sse => {
                let sse = profile.sse().ok_or_else(|| {
                    format!(
                        "client.channel is sse, but the target profile `{}` has no `sse:` section",
                        profile.name()
                    )
                })?;
                let tls = if sse.url.scheme() == "https" {
                    Some(http.tls_config().map_err(|e| e.to_string())?)
                } else {
                    None
                };
                let opts = SseOptions {
                    profile: sse.clone(),
                    tls,
                    connect_timeout: plan.client.timeout,
                    backoff: ws::Backoff::default(),
                };
                (
                    Opener::Sse(Arc::new(opts)),
                    KickBoard::with_names(recorder.clone(), &SSE_KICKS),
                )
            }
            Channel::Push => {
                let push = profile.push().ok_or_else(|| {
                    format!(
                        "client.channel is push, but the target profile `{}` has no `push:` section",
                        profile.name()
                    )
                })?;
                let receiver = plan
                    .push
                    .clone()
                    .ok_or("client.channel is push, but no push receiver was started")?;
                receiver.use_profile(push);
                (
                    Opener::Push(receiver),
                    KickBoard::with_names(recorder.clone(), &PUSH_KICKS),
                )
            }
        };
        let sockets = Arc::new(Sockets {
            opener,
            connect_timeout: plan.client.timeout,
            board,
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
        let bound = self.connect_timeout + Duration::from_secs(1);
        let handle = match &self.opener {
            Opener::Ws(opts) => {
                let handle = ws::spawn(
                    opts.clone(),
                    session.clone(),
                    self.recorder.clone(),
                    shard,
                    kick.clone(),
                    self.cancel.child_token(),
                );
                let _ = tokio::time::timeout(bound, handle.wait_open(1)).await;
                Handle::Ws(handle)
            }
            Opener::Sse(opts) => {
                let handle = sse::spawn(
                    opts.clone(),
                    session.clone(),
                    self.recorder.clone(),
                    shard,
                    kick.clone(),
                    self.cancel.child_token(),
                );
                let _ = tokio::time::timeout(bound, handle.wait_open(1)).await;
                Handle::Sse(handle)
            }
            Opener::Push(receiver) => {
                Handle::Push(push::register(receiver, session, kick.clone()).await)
            }
        };
        Some(Socket {
            handle: Box::new(handle),
            kick,
        })
    }

    /// Waits up to `timeout` for every armed kick clock; the rest are counted `missed_kicks`.
    pub async fn settle(&self, timeout: Duration) {
        self.board.settle(timeout).await;
    }

    /// The end of a phase that replaced or logged out sessions: waits (bounded by `timeout`, cut
    /// short by `cancel`) for every armed kick clock, counting the missed ones, then closes the
    /// `old` sockets and waits for their tasks to count how they ended. A socket that saw its kick
    /// resolves its clock a moment before its task counts `ended.<reason>`: closing without
    /// waiting could let a report be taken in between.
    pub async fn settle_and_close(
        &self,
        old: Vec<Socket>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) {
        cancel.run_until_cancelled(self.settle(timeout)).await;
        self.close_all(old, CLOSE_GRACE).await;
    }

    /// Closes `sockets` and waits (at most `timeout`) for their tasks to end.
    pub async fn close_all(&self, sockets: Vec<Socket>, timeout: Duration) {
        let mut ws_handles = Vec::new();
        let mut sse_handles = Vec::new();
        for s in sockets {
            match *s.handle {
                Handle::Ws(h) => {
                    h.close();
                    ws_handles.push(h);
                }
                Handle::Sse(h) => {
                    h.close();
                    sse_handles.push(h);
                }
                Handle::Push(h) => h.close(),
            }
        }
        let ws_joins = futures::future::join_all(ws_handles.into_iter().map(|h| h.join()));
        let sse_joins = futures::future::join_all(sse_handles.into_iter().map(|h| h.join()));
        let _ = tokio::time::timeout(timeout, futures::future::join(ws_joins, sse_joins)).await;
    }
}

/// The WebSocket options of the run, from the profile's `ws:` section.
fn ws_options(profile: &Profile, http: &Http) -> Result<WsOptions, String> {
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
    WsOptions::from_profile(ws, tls).map_err(|e| e.to_string())
}
