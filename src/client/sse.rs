//! The Server-Sent Events channel of ONE simulated client (`client.channel: sse`): what a browser's
//! `EventSource` does with a session's event stream, measured like the WebSocket.
//!
//! [`spawn`] starts one task per client that holds at most one stream (`GET` with
//! `Accept: text/event-stream` through [`crate::client::transport::events`], the token in the
//! query or `Authorization` as the profile's `sse.token` says) and parses it with `sse-stream`
//! (`id:`, `event:`, `data:`, `retry:`):
//!
//! - it remembers the last `id:` and sends it as `Last-Event-ID` on every reconnect
//!   (`sse_resumes`), waiting the server's `retry:` delay (1 s until one arrives) before a
//!   reconnect after a stream that ended on its own (`sse_end_without_event`) — the EventSource
//!   rules; a stream that fails before delivering anything backs off like a socket (equal jitter,
//!   giving up after `max_attempts` in a row, `sse_gave_up`);
//! - `kicked`/`logout` end the session as on a WebSocket ([`channel_end`]): the session notices
//!   at once (`notice_latency.<cause>.sse_event`, the reason the event names), then the kick clock
//!   is signalled (`sse_kick_latency`), the stream is dropped and the session is told it is over
//!   ([`WsTokens::session_ended`]);
//! - `session_expired`: refresh, then reconnect at once (`sse_reconnect` from the event to the
//!   new stream's response head);
//! - a reconnect refused with 401/403 is retried once after a refresh; refused again, the session
//!   is over (`sse_sessions_ended`).
//!
//! A stream whose session ended while it was down learns why only if the server replays the
//! missed event for the `Last-Event-ID` (the reference mock does); otherwise its kick is missed
//! (`sse_missed_kicks`). Everything is recorded into the run's [`Recorder`]; a channel's end is
//! counted `ended.<reason>` like a WebSocket channel's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use sse_stream::SseByteStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Channel as ChannelKind;
use super::channel_end::{self, Ending};
use super::transport::events;
use super::ws::{Backoff, KickClock, TURNED_AWAY_WITHIN, WsEnd, WsTokens};
use crate::metrics::Recorder;
use crate::metrics::names::{
    self, GAUGE_OPEN_STREAMS, SSE_CONNECT, SSE_CONNECTS, SSE_END_WITHOUT_EVENT, SSE_GAVE_UP,
    SSE_RECONNECT, SSE_RECONNECTS, SSE_RESUMES, SSE_SESSIONS_ENDED,
};
use crate::profile::{SseProfile, TokenTransport, WsEvent};

/// The reconnection delay until the server announces one with `retry:` (the WHATWG default is
/// implementation-defined; browsers use a few seconds, the mock announces 1 s).
pub const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// The longest `retry:` honoured.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Everything a channel needs, shared by the run's channels.
#[derive(Debug, Clone)]
pub struct SseOptions {
    /// Where the stream is, how the token travels, the event names.
    pub profile: SseProfile,
    /// The run's TLS configuration (for `https` streams).
    pub tls: Option<Arc<crate::client::transport::TlsClient>>,
    /// Deadline of connect + response head.
    pub connect_timeout: Duration,
    /// Backoff after failures.
    pub backoff: Backoff,
}

impl SseOptions {
    /// The request for a stream with `token` and, on a reconnect, `Last-Event-ID`.
    fn request(&self, token: &str, last_id: Option<&str>) -> Option<http::Request<()>> {
        let mut url = self.profile.url.clone();
        let mut b = http::Request::get("/")
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache");
        match &self.profile.token {
            TokenTransport::Query { param } => {
                url.query_pairs_mut().append_pair(param, token);
            }
            _ => b = b.header(AUTHORIZATION, format!("Bearer {token}")),
        }
        if let Some(id) = last_id {
            b = b.header("last-event-id", id);
        }
        b.uri(url.as_str()).body(()).ok()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    open: bool,
    ended: bool,
    generation: u64,
}

/// Handle to one client's SSE channel.
#[derive(Debug)]
pub struct SseHandle {
    state: watch::Sender<State>,
    stop: CancellationToken,
    task: JoinHandle<WsEnd>,
}

impl SseHandle {
    /// Whether a stream is open right now.
    pub fn is_open(&self) -> bool {
        self.state.borrow().open
    }

    /// Waits until a stream of generation `min_generation` or later is open (true), or the
    /// channel ended (false).
    pub async fn wait_open(&self, min_generation: u64) -> bool {
        let mut rx = self.state.subscribe();
        rx.wait_for(|s| s.ended || (s.open && s.generation >= min_generation))
            .await
            .map(|s| !s.ended)
            .unwrap_or(false)
    }

    /// Completes when no stream is open (the server ended it, e.g. after a kick) or the channel
    /// ended.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.state.subscribe();
        async move {
            let _ = rx.wait_for(|s| !s.open || s.ended).await;
        }
    }

    /// Asks the channel to drop its stream and stop.
    pub fn close(&self) {
        self.stop.cancel();
    }

    /// Whether the channel has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until the channel ended.
    pub async fn join(self) -> WsEnd {
        self.task.await.unwrap_or(WsEnd::Aborted)
    }
}

/// Starts the SSE channel of one client; see the module docs.
pub fn spawn<T: WsTokens>(
    opts: Arc<SseOptions>,
    tokens: Arc<T>,
    recorder: Recorder,
    shard: usize,
    kick: Arc<KickClock>,
    cancel: CancellationToken,
) -> SseHandle {
    let state = watch::Sender::new(State::default());
    let stop = cancel.child_token();
    let channel = Channel {
        opts,
        tokens,
        rec: recorder,
        shard,
        kick,
        state: state.clone(),
        stop: stop.clone(),
        generation: 0,
        streak: 0,
        failed_connects: 0,
        held: false,
        delivered: false,
        last_id: None,
        retry: DEFAULT_RETRY,
    };
    SseHandle {
        state,
        stop,
        task: tokio::spawn(channel.run()),
    }
}

/// What the channel does after a stream.
enum Next {
    Stop(WsEnd),
    /// `session_expired`: refresh, reconnect at once.
    Refresh {
        at: Instant,
    },
    /// The stream ended or failed: reconnect after this delay with the current token.
    After(Duration),
}

struct Channel<T: WsTokens> {
    opts: Arc<SseOptions>,
    tokens: Arc<T>,
    rec: Recorder,
    shard: usize,
    kick: Arc<KickClock>,
    state: watch::Sender<State>,
    stop: CancellationToken,
    generation: u64,
    /// Failed connects / empty streams in a row.
    streak: u32,
    /// Stream requests that failed or were refused, and streams the server turned away (ended
    /// within [`TURNED_AWAY_WITHIN`] having delivered nothing), in all: a channel never held counts
    /// `channels_never_opened` only when it tried and was refused.
    failed_connects: u32,
    /// Some stream of this channel was held: it delivered an event, lasted
    /// [`TURNED_AWAY_WITHIN`], or was open when the channel ended.
    held: bool,
    /// The current stream delivered an event.
    delivered: bool,
    last_id: Option<String>,
    retry: Duration,
}

/// Keeps `open_streams` right however a stream ends.
struct OpenGauge(Recorder);

impl OpenGauge {
    fn new(rec: &Recorder) -> Self {
        rec.gauge_add(GAUGE_OPEN_STREAMS, 1);
        OpenGauge(rec.clone())
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.gauge_add(GAUGE_OPEN_STREAMS, -1);
    }
}

impl<T: WsTokens> Channel<T> {
    async fn run(mut self) -> WsEnd {
        let end = self.drive().await;
        self.kick.socket_gone();
        self.count(&names::ended(end.reason()));
        if !self.held && self.failed_connects > 0 {
            self.count(names::CHANNELS_NEVER_OPENED);
        }
        if let WsEnd::SessionEnded(why) = end {
            self.tokens.session_ended(why);
            self.count(SSE_SESSIONS_ENDED);
        }
        self.state.send_modify(|s| {
            s.open = false;
            s.ended = true;
        });
        end
    }

    fn count(&self, name: &str) {
        self.rec.count(self.shard, name, 1);
    }

    /// The next backoff delay, or None (counted) when the streak is too long.
    fn backoff(&mut self) -> Option<Duration> {
        let d = self.opts.backoff.next(&mut self.streak);
        if d.is_none() {
            self.count(SSE_GAVE_UP);
        }
        d
    }

    async fn drive(&mut self) -> WsEnd {
        let mut refresh = false;
        let mut delay = Duration::ZERO;
        let mut auth_refreshed = false;
        let mut expired_at: Option<Instant> = None;
        loop {
            if !delay.is_zero() {
                tokio::select! {
                    _ = self.stop.cancelled() => return WsEnd::Stopped,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            let tokens = Arc::clone(&self.tokens);
            let token = tokio::select! {
                _ = self.stop.cancelled() => return WsEnd::Stopped,
                t = async move {
                    if refresh { tokens.refresh_for_reconnect().await } else { tokens.access_token().await }
                } => match t {
                    Some(t) => t,
                    None => return WsEnd::NoToken,
                },
            };
            let Some(req) = self.opts.request(&token, self.last_id.as_deref()) else {
                return WsEnd::Refused(super::ws::ConnectError::BadToken);
            };
            drop(token);
            let started = Instant::now();
            let opened = tokio::select! {
                _ = self.stop.cancelled() => return WsEnd::Stopped,
                r = events::open(req, self.opts.tls.as_deref(), self.opts.connect_timeout) => r,
            };
            let stream = match opened {
                Err(e) => {
                    self.failed_connects += 1;
                    self.rec.count_channel_failure(
                        self.shard,
                        &names::sse_connect_failed(
                            e.kind.counter().trim_start_matches(names::PREFIX_ERRORS),
                        ),
                    );
                    match self.backoff() {
                        Some(d) => delay = d,
                        None => return WsEnd::GaveUp,
                    }
                    refresh = false;
                    continue;
                }
                Ok(s) => s,
            };
            let status = stream.status;
            if status != 200 {
                self.failed_connects += 1;
                self.rec
                    .count_channel_failure(self.shard, &names::sse_connect_failed(status));
                drop(stream);
                if matches!(status, 401 | 403) {
                    if auth_refreshed {
                        return WsEnd::SessionEnded(super::ws::SessionEnd::Other(status));
                    }
                    auth_refreshed = true;
                    refresh = true;
                    delay = Duration::ZERO;
                    continue;
                }
                if matches!(status, 408 | 425 | 429) || status >= 500 {
                    match self.backoff() {
                        Some(d) => delay = d,
                        None => return WsEnd::GaveUp,
                    }
                    refresh = false;
                    continue;
                }
                return WsEnd::Refused(super::ws::ConnectError::Status(status));
            }
            let is_stream = stream
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
            if !is_stream {
                self.failed_connects += 1;
                self.rec
                    .count_channel_failure(self.shard, &names::sse_connect_failed("content_type"));
                return WsEnd::ProtocolError(0);
            }
            self.rec
                .record_duration(self.shard, SSE_CONNECT, started.elapsed());
            if let Some(at) = expired_at.take() {
                self.rec
                    .record_duration(self.shard, SSE_RECONNECT, at.elapsed());
            }
            auth_refreshed = false;
            self.generation += 1;
            self.count(SSE_CONNECTS);
            if self.generation > 1 {
                self.count(SSE_RECONNECTS);
                if self.last_id.is_some() {
                    self.count(SSE_RESUMES);
                }
            }
            let generation = self.generation;
            self.state.send_modify(|s| {
                s.open = true;
                s.generation = generation;
            });
            let opened_at = Instant::now();
            let next = self.serve(stream).await;
            self.state.send_modify(|s| s.open = false);
            let young = opened_at.elapsed() < TURNED_AWAY_WITHIN;
            if matches!(next, Next::After(_)) && young {
                // Ended at once, and an event would have set `held`: turned away.
                self.failed_connects += 1;
                if !self.delivered {
                    self.rec
                        .count_channel_failure(self.shard, names::CHANNELS_TURNED_AWAY);
                }
            } else if !(young && matches!(next, Next::Stop(WsEnd::Stopped))) {
                // A silent stream the run's stop closed younger than that is neither: the server
                // had no time to turn it away (as for sockets, `ws::note_socket_end`).
                self.held = true;
            }
            match next {
                Next::Stop(end) => return end,
                Next::Refresh { at } => {
                    expired_at = Some(at);
                    refresh = true;
                    delay = Duration::ZERO;
                }
                Next::After(d) => {
                    refresh = false;
                    delay = d;
                }
            }
        }
    }

    /// Reads one stream until it is over.
    async fn serve(&mut self, stream: events::Streaming) -> Next {
        let _open = OpenGauge::new(&self.rec);
        self.delivered = false;
        let mut body = std::pin::pin!(SseByteStream::new(StreamBody(stream)));
        loop {
            let item = tokio::select! {
                _ = self.stop.cancelled() => return Next::Stop(WsEnd::Stopped),
                item = body.next() => item,
            };
            let sse = match item {
                Some(Ok(sse)) => sse,
                Some(Err(_)) => {
                    self.count(names::ERR_SSE_STREAM);
                    return self.after_end(self.delivered);
                }
                None => {
                    self.count(SSE_END_WITHOUT_EVENT);
                    return self.after_end(self.delivered);
                }
            };
            if let Some(id) = sse.id.as_deref().filter(|id| !id.contains('\0')) {
                self.last_id = Some(id.to_string());
            }
            if let Some(ms) = sse.retry {
                self.retry = Duration::from_millis(ms).min(MAX_RETRY);
            }
            if sse.event.is_none() && sse.data.is_none() {
                continue;
            }
            self.delivered = true;
            self.held = true;
            self.streak = 0;
            let event = self
                .opts
                .profile
                .classify(sse.event.as_deref(), sse.data.as_deref());
            let label = match &event {
                Some(WsEvent::Kicked) => "kicked",
                Some(WsEvent::Logout) => "logout",
                Some(WsEvent::SessionExpired) => "session_expired",
                Some(WsEvent::Other(t)) if matches!(t.as_str(), "welcome" | "tick") => t.as_str(),
                _ => "other",
            };
            self.rec.count(self.shard, &names::sse_event(label), 1);
            if let Some(ending) = event.as_ref().and_then(Ending::of) {
                // The session is told first, the kick clock second (see `client::channel_end`).
                let at = Instant::now();
                let end = channel_end::tell(&*self.tokens, ChannelKind::Sse, ending);
                self.kick.signal(at);
                return Next::Stop(WsEnd::SessionEnded(end));
            }
            if event == Some(WsEvent::SessionExpired) {
                return Next::Refresh { at: Instant::now() };
            }
        }
    }

    /// After a stream that ended or failed: the server's `retry:` delay, or a backoff when the
    /// stream delivered nothing (a server that ends every stream at once).
    fn after_end(&mut self, delivered: bool) -> Next {
        if delivered {
            return Next::After(self.retry);
        }
        match self.backoff() {
            Some(d) => Next::After(d.max(self.retry)),
            None => Next::Stop(WsEnd::GaveUp),
        }
    }
}

/// The streamed body as the byte stream `sse-stream` reads (keeps the connection alive with it).
struct StreamBody(events::Streaming);

impl futures::Stream for StreamBody {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.body.as_mut().poll_next(cx)
    }
}
