//! The WebSocket channel of ONE simulated client: handshake auth, events, close codes, reconnects.
//!
//! [`spawn`] starts one task per client that holds at most one *current* socket and follows the
//! server's lead, as the seed article's best practice describes:
//!
//! - it connects with a valid access token carried as the target says ([`TokenTransport`](crate::profile::TokenTransport): query,
//!   `Authorization` header or subprotocol), through one TLS configuration shared by the run;
//! - every socket gets a *generation* number; one reader task per socket forwards its messages,
//!   tagged with that generation, into one channel, and the client task drops (and counts,
//!   `stale_ws_messages`) every data message of an older generation — what a late message of the
//!   previous socket looks like after a reconnect ([`WsHandle::reconnect`] replaces a socket
//!   make-before-break, so the old one can still deliver);
//! - when the server closes, the [`CloseProfile`] sorts the code into a [`CloseClass`]:
//!   refresh-then-reconnect (4401: [`WsTokens::refresh_for_reconnect`], then a new socket),
//!   reconnect (at once), backoff (exponential with jitter), terminal (stop and tell
//!   [`WsTokens::session_ended`]), protocol error (count and stop), normal (stop);
//! - `kicked`/`logout` events end the session whatever the code; the server must then close within
//!   [`WsOptions::kick_close_grace`], else `kick_without_close` is counted and the client closes;
//! - the session's [`KickClock`] is signalled by the kick event or a close frame that ends the
//!   socket for good (terminal, normal or protocol-error class), whichever comes first, giving
//!   `kick_latency`; an expiry, backoff or reconnect close is never a kick.
//!
//! Everything is measured into the run's [`Recorder`] (names in [`names`]); nothing is printed.
//! A channel never ends quietly: its end is counted `ended.<reason>` ([`WsEnd::reason`]).
//! Stopping ([`WsHandle::close`] or the run's cancel token) sends Close 1000 and waits for the echo
//! at most [`WsOptions::close_timeout`].

mod kick;
mod options;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as TungError, Message, error::ProtocolError};
use tokio_util::sync::CancellationToken;

pub use kick::{KickBoard, KickClock, KickNames, KickTally, PUSH_KICKS, SSE_KICKS, WS_KICKS};
pub use options::{Backoff, WsConfigError, WsOptions};

use crate::client::transport::ws::connect;
pub use crate::client::transport::ws::{ConnectError, Socket};

use crate::client::Channel as ChannelKind;
use crate::client::channel_end::{self, Ending};
use crate::client::notice::{NoticePath, Reason};
use crate::metrics::Recorder;
use crate::metrics::names::{
    self, CLOSE_CODE_VIOLATIONS, CLOSE_WITHOUT_EVENT, ERR_WS_ABNORMAL, ERR_WS_PROTOCOL,
    ERR_WS_TOO_BIG, GAUGE_OPEN_SOCKETS, KICK_WITHOUT_CLOSE, RECONNECT, STALE_WS_MESSAGES,
    TLS_HANDSHAKE, WS_CLOSED_AT_STOP, WS_CONNECT, WS_CONNECTS, WS_GAVE_UP, WS_OPEN_AFTER_EXPIRY,
    WS_RECONNECTS, WS_SESSIONS_ENDED,
};
use crate::profile::close_codes::{CloseClass, is_legal_on_wire};
use crate::profile::jwt_exp;
use crate::profile::ws::WsEvent;

/// Why the server ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Replaced by a login elsewhere (`kicked` event).
    Kicked,
    /// Logout, password change or admin revoke (`logout` event).
    LoggedOut,
    /// A terminal close code with no event, or (for a refused handshake after a refresh) the HTTP
    /// status.
    Other(u16),
    /// The first message was refused in a message (`ws.token.reject`), also after a refresh.
    Refused,
}

/// What the WebSocket channel needs from the client's token manager.
pub trait WsTokens: Send + Sync + 'static {
    /// A currently valid access token (refresh first if the held one is expired); None = session is over.
    fn access_token(&self) -> impl Future<Output = Option<String>> + Send;
    /// After a refresh_then_reconnect close (e.g. 4401): refresh now, return the new AT; None = session over.
    fn refresh_for_reconnect(&self) -> impl Future<Output = Option<String>> + Send;
    /// The server ended this session for good (terminal close / kicked / logout event): do not reconnect.
    fn session_ended(&self, why: SessionEnd);
    /// The moment the channel learned the session is over: a `kicked`/`logout` event (on a
    /// WebSocket [`NoticePath::Push`], on an SSE stream [`NoticePath::SseEvent`], as a push
    /// message [`NoticePath::PushMessage`]: `client::channel_end`) or a terminal close code
    /// without one ([`NoticePath::CloseCode`]), with the reason it names (issue 17,
    /// `client::notice`). Called before the close handshake is drained and before the kick clock
    /// is signalled; [`WsTokens::session_ended`] follows when the channel stops.
    fn session_end_noticed(&self, _path: NoticePath, _reason: Reason) {}
    /// When `token`, an access token this handed out, expires as the server announced it: for a
    /// session, its JWT `exp` or else the token response's `expires_in`. The default reads the
    /// JWT's `exp` only (an opaque token: unknown). A socket still open past it counts
    /// `ws_open_after_expiry`.
    fn expiry_of(&self, token: &str) -> Option<SystemTime> {
        jwt_exp(token)
    }
}

/// How a channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEnd {
    /// [`WsHandle::close`] or the run's cancel token.
    Stopped,
    /// The server ended the session.
    SessionEnded(SessionEnd),
    /// [`WsTokens`] had no token (the session is over on the HTTP side).
    NoToken,
    /// The server closed normally (1000, or a close frame without a code: 1005).
    Normal(u16),
    /// A protocol-error close code, an illegal code, or a malformed/oversized frame (1002/1009).
    ProtocolError(u16),
    /// `backoff.max_attempts` failed connects or backoff closes in a row.
    GaveUp,
    /// The handshake was refused in a way retrying cannot fix (e.g. HTTP 404, a bad token value).
    Refused(ConnectError),
    /// The channel task panicked or was aborted.
    Aborted,
}

impl WsEnd {
    /// The `<reason>` of the `ended.<reason>` counter.
    pub fn reason(&self) -> &'static str {
        match self {
            WsEnd::Stopped => "stopped",
            WsEnd::SessionEnded(_) => "session_ended",
            WsEnd::NoToken => "no_token",
            WsEnd::Normal(_) => "normal",
            WsEnd::ProtocolError(_) => "protocol_error",
            WsEnd::GaveUp => "gave_up",
            WsEnd::Refused(_) => "refused",
            WsEnd::Aborted => "aborted",
        }
    }
}

/// Result of [`WsHandle::join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsOutcome {
    /// How it ended.
    pub end: WsEnd,
    /// Sockets opened (the last generation number).
    pub connections: u64,
}

/// What a handle can observe of its channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ConnState {
    generation: u64,
    open: bool,
    ended: bool,
    /// When the current socket opened (set with `open`).
    opened_at: Option<tokio::time::Instant>,
    /// The last socket was closed by the client (the run's stop, or a kick event the server never
    /// followed with a close frame), not by the server.
    closed_by_client: bool,
}

#[derive(Debug)]
struct Shared {
    state: watch::Sender<ConnState>,
    stop: CancellationToken,
    reconnect: Notify,
}

impl Shared {
    fn set_open(&self, open: bool) {
        self.state
            .send_if_modified(|s| std::mem::replace(&mut s.open, open) != open);
    }
}

/// Handle to one client's WebSocket channel.
#[derive(Debug)]
pub struct WsHandle {
    shared: Arc<Shared>,
    task: JoinHandle<WsOutcome>,
}

impl WsHandle {
    /// Whether a socket is open right now.
    pub fn is_open(&self) -> bool {
        self.shared.state.borrow().open
    }

    /// When the socket open right now opened; `None` when none is open.
    pub fn open_since(&self) -> Option<tokio::time::Instant> {
        let s = self.shared.state.borrow();
        s.open.then_some(s.opened_at).flatten()
    }

    /// Generation of the current (or last) socket; 0 before the first one opened.
    pub fn generation(&self) -> u64 {
        self.shared.state.borrow().generation
    }

    /// Waits until a socket of generation `min_generation` or later is open (true), or the
    /// channel ended (false). `wait_open(1)` after [`spawn`] waits for the first socket.
    pub async fn wait_open(&self, min_generation: u64) -> bool {
        let mut rx = self.shared.state.subscribe();
        rx.wait_for(|s| s.ended || (s.open && s.generation >= min_generation))
            .await
            .map(|s| !s.ended)
            .unwrap_or(false)
    }

    /// A future that completes when the channel has no open socket: the server's close frame
    /// arrived (or the connection ended), or the channel is over — at once if that is already so.
    /// For whoever waits for a session's channel to close without holding the handle. Its output
    /// says whether the server closed it: `false` when the client did (the run's stop, or the
    /// end of a kick event's close grace: `kick_without_close`).
    pub fn closed(&self) -> impl Future<Output = bool> + Send + 'static {
        let mut rx = self.shared.state.subscribe();
        async move {
            rx.wait_for(|s| !s.open || s.ended)
                .await
                .map(|s| !s.closed_by_client)
                .unwrap_or(false)
        }
    }

    /// Asks the channel to close its socket (Close 1000) and stop.
    pub fn close(&self) {
        self.shared.stop.cancel();
    }

    /// Asks the channel to re-authenticate: open a new socket with a fresh token, then close the
    /// old one (make-before-break; late messages of the old one are dropped as stale).
    pub fn reconnect(&self) {
        self.shared.reconnect.notify_one();
    }

    /// Whether the channel has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until the channel ended.
    pub async fn join(self) -> WsOutcome {
        let connections = self.generation();
        self.task.await.unwrap_or(WsOutcome {
            end: WsEnd::Aborted,
            connections,
        })
    }
}

/// Starts the WebSocket channel of one client; see the module docs. `shard` spreads recording;
/// `kick` is the session's kick clock; `cancel` is the run's cancel token.
pub fn spawn<T: WsTokens>(
    opts: Arc<WsOptions>,
    tokens: Arc<T>,
    recorder: Recorder,
    shard: usize,
    kick: Arc<KickClock>,
    cancel: CancellationToken,
) -> WsHandle {
    let shared = Arc::new(Shared {
        state: watch::Sender::new(ConnState::default()),
        stop: cancel.child_token(),
        reconnect: Notify::new(),
    });
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let channel = Channel {
        opts,
        tokens,
        rec: recorder,
        shard,
        kick,
        shared: Arc::clone(&shared),
        tx,
        rx,
        scope: CancellationToken::new(),
        generation: 0,
        streak: 0,
        failed_connects: 0,
        held: false,
        delivered: false,
    };
    let task = tokio::spawn(channel.run());
    WsHandle { shared, task }
}

/// Messages buffered between a socket's reader and the client task.
const CHANNEL_DEPTH: usize = 16;

/// A session event from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionEvent {
    Kicked,
    Logout,
    Expired,
}

/// How a socket's reader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndKind {
    /// The stream ended after the close handshake.
    Clean,
    /// Reset, I/O error, or ended without a close frame.
    Abnormal,
    /// A frame or message above the caps.
    TooBig,
    /// A malformed frame.
    Protocol,
    /// Retired and the server did not finish the close in time.
    DrainTimeout,
}

#[derive(Debug)]
enum Item {
    Msg(Message),
    Ended(EndKind),
}

#[derive(Debug)]
struct Tagged {
    generation: u64,
    item: Item,
}

/// The client task's side of one socket.
struct Conn {
    generation: u64,
    sink: SplitSink<Socket, Message>,
    /// Tells the reader to stop after a bounded drain.
    retire: CancellationToken,
    /// Token `exp` + grace, when the token is a JWT.
    stale_after: Option<tokio::time::Instant>,
}

/// What the client task does once a socket is over.
enum Next {
    Stop(WsEnd),
    RefreshThenReconnect { closed_at: Instant },
    Reconnect,
    Backoff,
}

/// Which token the next connect uses.
#[derive(Clone, Copy)]
enum TokenSource {
    Current,
    Refresh,
}

struct Channel<T: WsTokens> {
    opts: Arc<WsOptions>,
    tokens: Arc<T>,
    rec: Recorder,
    shard: usize,
    kick: Arc<KickClock>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Tagged>,
    rx: mpsc::Receiver<Tagged>,
    /// Parent of every reader's retire token: cancelled when the channel ends.
    scope: CancellationToken,
    generation: u64,
    /// Failed connects / backoff closes in a row.
    streak: u32,
    /// Connects that failed, and sockets the server turned away ([`TURNED_AWAY_WITHIN`]), in all:
    /// a channel never held counts `channels_never_opened` only when it tried and was refused.
    failed_connects: u32,
    /// Some socket of this channel was held: it delivered a message, lasted
    /// [`TURNED_AWAY_WITHIN`] (also when the channel's end closed it), or ended the session.
    held: bool,
    /// The current socket delivered a message.
    delivered: bool,
}

/// A socket the server closes to be retried (a backoff, reconnect or refresh-then-reconnect close,
/// or a drop without a close frame) sooner than this after it opened, before it delivered any
/// message, was turned away: a refusal like a failed handshake (a server that accepts every
/// socket and closes it with 1013 at once serves no socket). So was one it closed for good that
/// soon (1000, a protocol-error close), silent: the client does not retry, and holds nothing.
pub(crate) const TURNED_AWAY_WITHIN: Duration = Duration::from_secs(1);

impl<T: WsTokens> Channel<T> {
    async fn run(mut self) -> WsOutcome {
        let end = self.drive().await;
        self.scope.cancel();
        self.kick.socket_gone();
        self.count(&names::ended(end.reason()));
        if !self.held && self.failed_connects > 0 {
            self.count(names::CHANNELS_NEVER_OPENED);
        }
        if let WsEnd::SessionEnded(why) = end {
            self.tokens.session_ended(why);
            self.count(WS_SESSIONS_ENDED);
        }
        self.shared.state.send_modify(|s| {
            s.open = false;
            s.ended = true;
        });
        WsOutcome {
            end,
            connections: self.generation,
        }
    }

    fn count(&self, name: &str) {
        self.rec.count(self.shard, name, 1);
    }

    /// Connect, serve, and decide what next — until the channel is over.
    async fn drive(&mut self) -> WsEnd {
        let mut source = TokenSource::Current;
        let mut delay = Duration::ZERO;
        let mut auth_refreshed = false;
        let mut expiry_close_at: Option<Instant> = None;
        loop {
            if !delay.is_zero() {
                tokio::select! {
                    _ = self.shared.stop.cancelled() => return WsEnd::Stopped,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            let token = {
                let tokens = Arc::clone(&self.tokens);
                let fut = async move {
                    match source {
                        TokenSource::Current => tokens.access_token().await,
                        TokenSource::Refresh => tokens.refresh_for_reconnect().await,
                    }
                };
                tokio::select! {
                    _ = self.shared.stop.cancelled() => return WsEnd::Stopped,
                    t = fut => match t {
                        Some(t) => t,
                        None => return WsEnd::NoToken,
                    },
                }
            };
            let started = Instant::now();
            let result = tokio::select! {
                _ = self.shared.stop.cancelled() => return WsEnd::Stopped,
                r = connect(self.opts.upgrade(), &token) => r,
            };
            let socket = match result {
                Ok(opened) => self.opened(opened),
                Err(e) => {
                    self.failed_connects += 1;
                    self.rec.count_channel_failure(
                        self.shard,
                        &names::ws_connect_failed(e.counter_suffix()),
                    );
                    if let Some(end) = self.token_refused(&e) {
                        if auth_refreshed {
                            return WsEnd::SessionEnded(end);
                        }
                        auth_refreshed = true;
                        source = TokenSource::Refresh;
                        delay = Duration::ZERO;
                        continue;
                    }
                    let again = match e {
                        // A first message answered by a close: its class says whether to retry.
                        ConnectError::Closed(code) => {
                            self.opts.close_codes.classify(code).reconnects()
                        }
                        _ => retryable(&e),
                    };
                    if !again {
                        return WsEnd::Refused(e);
                    }
                    match self.next_backoff() {
                        Some(d) => delay = d,
                        None => return WsEnd::GaveUp,
                    }
                    source = TokenSource::Current;
                    continue;
                }
            };
            self.rec
                .record_duration(self.shard, WS_CONNECT, started.elapsed());
            if let Some(closed_at) = expiry_close_at.take() {
                self.rec
                    .record_duration(self.shard, RECONNECT, closed_at.elapsed());
            }
            auth_refreshed = false;
            let conn = self.open(socket, &token);
            drop(token);
            let opened_at = Instant::now();
            self.delivered = false;
            let next = self.serve(conn).await;
            self.note_socket_end(&next, opened_at);
            match next {
                Next::Stop(end) => return end,
                Next::RefreshThenReconnect { closed_at } => {
                    expiry_close_at = Some(closed_at);
                    source = TokenSource::Refresh;
                    delay = match self.quick_retry_delay() {
                        Some(d) => d,
                        None => return WsEnd::GaveUp,
                    };
                }
                Next::Reconnect => {
                    source = TokenSource::Current;
                    delay = match self.quick_retry_delay() {
                        Some(d) => d,
                        None => return WsEnd::GaveUp,
                    };
                }
                Next::Backoff => {
                    source = TokenSource::Current;
                    match self.next_backoff() {
                        Some(d) => delay = d,
                        None => return WsEnd::GaveUp,
                    }
                }
            }
        }
    }

    /// Whether the socket that opened at `opened_at` and ended with `next` was held or turned away
    /// (see [`TURNED_AWAY_WITHIN`]; a message it delivered has set `held` already). One the run's
    /// stop closed younger than that, silent, is neither: the server had no time to turn it away
    /// (against a server that turns every socket away, one accepted just before the stop would
    /// otherwise count its channel as opened).
    fn note_socket_end(&mut self, next: &Next, opened_at: Instant) {
        let retried = matches!(
            next,
            Next::Backoff | Next::Reconnect | Next::RefreshThenReconnect { .. }
        );
        let young = opened_at.elapsed() < TURNED_AWAY_WITHIN;
        // Closed before it served anything, to be retried (not for its token: an expiry close
        // asks for a refresh) or for good (1000, a protocol-error close: the client will not try
        // again): the server turned the socket away, a failed attempt.
        let turned_away = young
            && !self.delivered
            && matches!(
                next,
                Next::Backoff
                    | Next::Reconnect
                    | Next::Stop(WsEnd::Normal(_) | WsEnd::ProtocolError(_))
            );
        if turned_away || (retried && young) {
            self.failed_connects += 1;
            if turned_away {
                self.rec
                    .count_channel_failure(self.shard, names::CHANNELS_TURNED_AWAY);
            }
        } else if !(young && matches!(next, Next::Stop(WsEnd::Stopped))) {
            self.held = true;
        }
    }

    /// Reconnect at once after a socket that delivered data; after one that closed before any
    /// message (a server that closes every new socket), back off like [`Self::next_backoff`].
    fn quick_retry_delay(&mut self) -> Option<Duration> {
        if self.streak == 0 {
            self.streak = 1;
            Some(Duration::ZERO)
        } else {
            self.next_backoff()
        }
    }

    /// The delay before the next attempt, or None (counted) when the streak is too long.
    fn next_backoff(&mut self) -> Option<Duration> {
        let d = self.opts.backoff.next(&mut self.streak);
        if d.is_none() {
            self.count(WS_GAVE_UP);
        }
        d
    }

    /// How the server refused the token (HTTP 401/403 at the handshake, a first message answered
    /// by a terminal or refresh-then-reconnect close, or by the profile's `reject` message):
    /// refresh once and try again, then the session is over.
    fn token_refused(&self, e: &ConnectError) -> Option<SessionEnd> {
        match *e {
            ConnectError::Status(s) if e.is_auth() => Some(SessionEnd::Other(s)),
            ConnectError::Closed(code) => matches!(
                self.opts.close_codes.classify(code),
                CloseClass::Terminal | CloseClass::RefreshThenReconnect
            )
            .then_some(SessionEnd::Other(code)),
            ConnectError::Rejected => Some(SessionEnd::Refused),
            _ => None,
        }
    }

    /// The socket of a handshake that succeeded; its TLS set-up time into `tls_handshake`.
    fn opened(&self, opened: crate::client::transport::ws::Opened) -> Socket {
        if let Some(d) = opened.tls_handshake {
            self.rec.record_duration(self.shard, TLS_HANDSHAKE, d);
        }
        opened.socket
    }

    /// Registers a freshly opened socket as the current generation and starts its reader.
    fn open(&mut self, socket: Socket, token: &str) -> Conn {
        self.generation += 1;
        let generation = self.generation;
        self.count(WS_CONNECTS);
        if generation > 1 {
            self.count(WS_RECONNECTS);
        }
        let (sink, stream) = socket.split();
        let retire = self.scope.child_token();
        tokio::spawn(read_socket(
            generation,
            stream,
            self.tx.clone(),
            retire.clone(),
            self.opts.close_timeout,
            OpenGauge::new(self.rec.clone()),
        ));
        let stale_after = self.tokens.expiry_of(token).map(|exp| {
            let left = exp.duration_since(SystemTime::now()).unwrap_or_default();
            tokio::time::Instant::now() + left + self.opts.expiry_grace
        });
        // Published last, so whoever waits for it sees the counters and the gauge already moved.
        self.shared.state.send_modify(|s| {
            s.generation = generation;
            s.open = true;
            s.opened_at = Some(tokio::time::Instant::now());
            s.closed_by_client = false;
        });
        Conn {
            generation,
            sink,
            retire,
            stale_after,
        }
    }

    /// Serves the current socket until it is over.
    async fn serve(&mut self, mut conn: Conn) -> Next {
        let mut event: Option<SessionEvent> = None;
        let mut close_by: Option<tokio::time::Instant> = None;
        let mut expiry_check = conn.stale_after;
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let timer = tokio::time::sleep_until(far);
        tokio::pin!(timer);
        // Stopped while a kick or logout event's close frame was still due: the server keeps its
        // grace (`close_by`), so a close it never sends is a `kick_without_close`, not the run's.
        let mut stopping = false;
        loop {
            let wake = [close_by, expiry_check].into_iter().flatten().min();
            if timer.deadline() != wake.unwrap_or(far) {
                timer.as_mut().reset(wake.unwrap_or(far));
            }
            tokio::select! {
                biased;
                _ = self.shared.stop.cancelled(), if !stopping => {
                    if close_by.is_some() {
                        // The session is over already (a kick or logout event came): the phase
                        // that closes the socket must not hide whether the server closes it.
                        stopping = true;
                        continue;
                    }
                    // Checked first (`biased`): a close frame already on its way loses to the
                    // stop, and this socket is the run's to account for, not the server's.
                    self.count(WS_CLOSED_AT_STOP);
                    self.close_and_drain(conn).await;
                    return Next::Stop(WsEnd::Stopped);
                }
                _ = &mut timer, if wake.is_some() => {
                    let now = tokio::time::Instant::now();
                    if close_by.is_some_and(|t| t <= now) {
                        self.count(KICK_WITHOUT_CLOSE);
                        self.close_and_drain(conn).await;
                        return Next::Stop(WsEnd::SessionEnded(session_end(event, 1000)));
                    }
                    if expiry_check.is_some_and(|t| t <= now) {
                        self.count(WS_OPEN_AFTER_EXPIRY);
                        expiry_check = None;
                    }
                }
                _ = self.shared.reconnect.notified(), if !stopping => {
                    conn = self.replace(conn).await;
                    expiry_check = conn.stale_after;
                    event = None;
                    close_by = None;
                }
                tagged = self.rx.recv() => {
                    // The channel holds a sender, so recv() never returns None.
                    let Some(Tagged { generation, item }) = tagged else {
                        return Next::Stop(WsEnd::Aborted);
                    };
                    if generation != conn.generation {
                        if matches!(item, Item::Msg(Message::Text(_) | Message::Binary(_))) {
                            self.count(STALE_WS_MESSAGES);
                        }
                        continue;
                    }
                    match item {
                        Item::Msg(Message::Text(text)) => {
                            self.streak = 0;
                            self.held = true;
                            self.delivered = true;
                            // The protocol's own ping (`ws.ping`): answered, not an event.
                            if let Some(reply) =
                                self.opts.ping.as_ref().and_then(|p| p.answer(text.as_str()))
                            {
                                let send = conn.sink.send(Message::text(reply));
                                let _ = tokio::time::timeout(self.opts.close_timeout, send).await;
                                continue;
                            }
                            if let Some(ev) = self.on_text(text.as_str()) {
                                if ev != SessionEvent::Expired && event.is_none() {
                                    let ending = match ev {
                                        SessionEvent::Kicked => Ending::Kicked,
                                        _ => Ending::LoggedOut,
                                    };
                                    channel_end::tell(&*self.tokens, ChannelKind::Ws, ending);
                                }
                                if ev != SessionEvent::Expired {
                                    self.kick.signal(Instant::now());
                                    let grace = self.opts.kick_close_grace;
                                    close_by = Some(tokio::time::Instant::now() + grace);
                                }
                                event = Some(ev);
                            }
                        }
                        Item::Msg(Message::Binary(_)) => {
                            self.streak = 0;
                            self.held = true;
                            self.delivered = true;
                            self.count(&names::ws_event("binary"));
                        }
                        Item::Msg(Message::Close(frame)) => {
                            return self.on_close(conn, frame, event).await;
                        }
                        Item::Msg(_) => {}
                        Item::Ended(kind) => return self.on_end(conn, kind, event),
                    }
                }
            }
        }
    }

    /// Counts one text message and returns the session event it carries, if any.
    fn on_text(&self, text: &str) -> Option<SessionEvent> {
        let event = self.opts.events.as_ref().and_then(|e| e.classify(text));
        let (label, session) = match &event {
            Some(WsEvent::Kicked) => ("kicked", Some(SessionEvent::Kicked)),
            Some(WsEvent::Logout) => ("logout", Some(SessionEvent::Logout)),
            Some(WsEvent::SessionExpired) => ("session_expired", Some(SessionEvent::Expired)),
            Some(WsEvent::Other(t)) => match self.opts.counted_events.iter().find(|c| *c == t) {
                Some(c) => (c.as_str(), None),
                None => ("other", None),
            },
            None => ("other", None),
        };
        self.rec.count(self.shard, &names::ws_event(label), 1);
        session
    }

    /// The server sent a close frame on the current socket.
    async fn on_close(
        &mut self,
        conn: Conn,
        frame: Option<CloseFrame>,
        event: Option<SessionEvent>,
    ) -> Next {
        let at = Instant::now();
        self.shared.set_open(false);
        let (code, replaced) = match &frame {
            Some(f) => (
                u16::from(f.code),
                // tungstenite answers an illegal code itself and hands us 1002 "Protocol violation".
                f.code == CloseCode::Protocol && f.reason.as_str() == "Protocol violation",
            ),
            None => (1005, false),
        };
        let violation = replaced || (code != 1005 && !is_legal_on_wire(code));
        let class = if violation {
            self.count(CLOSE_CODE_VIOLATIONS);
            self.rec.count(self.shard, &names::ws_close("illegal"), 1);
            CloseClass::ProtocolError
        } else {
            self.rec.count(self.shard, &names::ws_close(code), 1);
            if code == 1005 {
                CloseClass::Normal
            } else {
                self.opts.close_codes.classify(code)
            }
        };
        self.rec
            .count(self.shard, &names::ws_close_class(class.name()), 1);
        let kick_event = matches!(event, Some(SessionEvent::Kicked | SessionEvent::Logout));
        // Only a close that ends the session's socket for good is a kick: an expiry close (4401,
        // refresh_then_reconnect), a backoff or reconnect close is not, even during a kick phase.
        if kick_event || !class.reconnects() {
            self.kick.signal(at);
        }
        if !kick_event && class == CloseClass::Terminal {
            let reason = frame
                .as_ref()
                .map_or(Reason::Unknown, |f| Reason::infer(f.reason.as_str()));
            self.tokens
                .session_end_noticed(NoticePath::CloseCode, reason);
        }
        if self.opts.events.is_some()
            && event.is_none()
            && !matches!(class, CloseClass::Backoff | CloseClass::Reconnect)
        {
            self.count(CLOSE_WITHOUT_EVENT);
        }
        self.drain(conn).await;
        if kick_event {
            return Next::Stop(WsEnd::SessionEnded(session_end(event, code)));
        }
        match class {
            CloseClass::Terminal => Next::Stop(WsEnd::SessionEnded(session_end(event, code))),
            CloseClass::RefreshThenReconnect => Next::RefreshThenReconnect { closed_at: at },
            CloseClass::Reconnect => Next::Reconnect,
            CloseClass::Backoff => Next::Backoff,
            CloseClass::ProtocolError => Next::Stop(WsEnd::ProtocolError(code)),
            CloseClass::Normal => Next::Stop(WsEnd::Normal(code)),
        }
    }

    /// The current socket ended without a close frame.
    fn on_end(&mut self, conn: Conn, kind: EndKind, event: Option<SessionEvent>) -> Next {
        self.shared.set_open(false);
        conn.retire.cancel();
        let stop = match kind {
            EndKind::TooBig => {
                self.count(ERR_WS_TOO_BIG);
                Some(WsEnd::ProtocolError(1009))
            }
            EndKind::Protocol => {
                self.count(ERR_WS_PROTOCOL);
                Some(WsEnd::ProtocolError(1002))
            }
            EndKind::Clean | EndKind::Abnormal | EndKind::DrainTimeout => {
                self.count(ERR_WS_ABNORMAL);
                self.rec.count(self.shard, &names::ws_close(1006), 1);
                None
            }
        };
        if matches!(event, Some(SessionEvent::Kicked | SessionEvent::Logout)) {
            return Next::Stop(WsEnd::SessionEnded(session_end(event, 1006)));
        }
        match stop {
            Some(end) => Next::Stop(end),
            None => Next::Backoff,
        }
    }

    /// Make-before-break: a new socket with a current token, then the old one is closed. Keeps the
    /// old socket when the new one cannot be opened.
    async fn replace(&mut self, old: Conn) -> Conn {
        let token = tokio::select! {
            _ = self.shared.stop.cancelled() => return old,
            t = self.tokens.access_token() => match t {
                Some(t) => t,
                None => return old,
            },
        };
        let started = Instant::now();
        let result = tokio::select! {
            _ = self.shared.stop.cancelled() => return old,
            r = connect(self.opts.upgrade(), &token) => r,
        };
        match result {
            Ok(opened) => {
                let socket = self.opened(opened);
                self.rec
                    .record_duration(self.shard, WS_CONNECT, started.elapsed());
                let new = self.open(socket, &token);
                let Conn {
                    mut sink, retire, ..
                } = old;
                let close = sink.send(Message::Close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "reconnected".into(),
                })));
                let _ = tokio::time::timeout(self.opts.close_timeout, close).await;
                retire.cancel();
                new
            }
            Err(e) => {
                self.rec.count_channel_failure(
                    self.shard,
                    &names::ws_connect_failed(e.counter_suffix()),
                );
                old
            }
        }
    }

    /// Client-initiated close: Close 1000, then wait (bounded) for the server's echo.
    async fn close_and_drain(&mut self, mut conn: Conn) {
        self.shared.state.send_modify(|s| {
            s.open = false;
            s.closed_by_client = true;
        });
        let close = conn.sink.send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "client closing".into(),
        })));
        let _ = tokio::time::timeout(self.opts.close_timeout, close).await;
        self.drain(conn).await;
    }

    /// Waits (bounded by `close_timeout`) until the reader of `conn` ended, so the socket is really
    /// closed before the next one opens; older generations' data messages still count as stale.
    async fn drain(&mut self, conn: Conn) {
        conn.retire.cancel();
        let deadline = tokio::time::Instant::now() + self.opts.close_timeout;
        loop {
            let tagged = tokio::select! {
                t = self.rx.recv() => t,
                _ = tokio::time::sleep_until(deadline) => return,
            };
            let Some(Tagged { generation, item }) = tagged else {
                return;
            };
            match item {
                Item::Ended(_) if generation == conn.generation => return,
                Item::Msg(Message::Text(_) | Message::Binary(_))
                    if generation < conn.generation =>
                {
                    self.count(STALE_WS_MESSAGES);
                }
                _ => {}
            }
        }
    }
}

/// Whether a failed handshake is worth retrying after a backoff.
fn retryable(e: &ConnectError) -> bool {
    match e {
        ConnectError::Status(s) => matches!(*s, 408 | 425 | 429) || *s >= 500,
        ConnectError::Timeout | ConnectError::Io(_) | ConnectError::NoAck => true,
        ConnectError::Closed(_) | ConnectError::Rejected => false,
        // Refused on certificate grounds: a `tls:` setting, not something time mends.
        ConnectError::Tls(_)
        | ConnectError::Protocol
        | ConnectError::BadToken
        | ConnectError::Url => false,
    }
}

fn session_end(event: Option<SessionEvent>, code: u16) -> SessionEnd {
    match event {
        Some(SessionEvent::Kicked) => SessionEnd::Kicked,
        Some(SessionEvent::Logout) => SessionEnd::LoggedOut,
        _ => SessionEnd::Other(code),
    }
}

/// Keeps `open_sockets` right however the reader ends (even aborted): counted up when the socket
/// opens, down when its reader task is gone.
struct OpenGauge(Recorder);

impl OpenGauge {
    fn new(rec: Recorder) -> Self {
        rec.gauge_add(GAUGE_OPEN_SOCKETS, 1);
        OpenGauge(rec)
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.gauge_add(GAUGE_OPEN_SOCKETS, -1);
    }
}

/// One socket's reader: forwards every message tagged with the socket's generation until the
/// stream ends; once retired, drains at most `close_timeout` more.
async fn read_socket(
    generation: u64,
    mut stream: SplitStream<Socket>,
    tx: mpsc::Sender<Tagged>,
    retire: CancellationToken,
    close_timeout: Duration,
    _open: OpenGauge,
) {
    let mut retired = false;
    let drain = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(drain);
    let end = loop {
        let next = tokio::select! {
            m = stream.next() => m,
            _ = retire.cancelled(), if !retired => {
                retired = true;
                drain.as_mut().reset(tokio::time::Instant::now() + close_timeout);
                continue;
            }
            _ = &mut drain, if retired => break EndKind::DrainTimeout,
        };
        match next {
            Some(Ok(msg)) => {
                let tagged = Tagged {
                    generation,
                    item: Item::Msg(msg),
                };
                if tx.send(tagged).await.is_err() {
                    return;
                }
            }
            Some(Err(e)) => break end_kind(&e),
            None => break EndKind::Clean,
        }
    };
    let _ = tx
        .send(Tagged {
            generation,
            item: Item::Ended(end),
        })
        .await;
}

fn end_kind(e: &TungError) -> EndKind {
    match e {
        TungError::ConnectionClosed | TungError::AlreadyClosed => EndKind::Clean,
        TungError::Capacity(_) => EndKind::TooBig,
        TungError::Io(_) | TungError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            EndKind::Abnormal
        }
        _ => EndKind::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_vocabulary_knows_every_channel_end() {
        let ends = [
            WsEnd::Stopped,
            WsEnd::SessionEnded(SessionEnd::Kicked),
            WsEnd::NoToken,
            WsEnd::Normal(1000),
            WsEnd::ProtocolError(1002),
            WsEnd::GaveUp,
            WsEnd::Refused(ConnectError::Url),
            WsEnd::Aborted,
        ];
        for end in ends {
            assert!(names::CHANNEL_ENDS.contains(&end.reason()), "{end:?}");
        }
    }
    #[test]
    fn retry_policy() {
        assert!(retryable(&ConnectError::Status(503)));
        assert!(retryable(&ConnectError::Status(429)));
        assert!(!retryable(&ConnectError::Status(404)));
        assert!(retryable(&ConnectError::Timeout));
        assert!(!retryable(&ConnectError::BadToken));
    }
}
