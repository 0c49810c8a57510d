//! The engine's WebSocket bookkeeping (being integrated with `client::ws`).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::plan::Plan;
use super::progress::Progress;
use crate::client::Session;
use crate::metrics::Recorder;
use crate::target::Profile;

/// Kick clock placeholder until `client::ws` lands.
pub(crate) struct KickClock;
impl KickClock {
    pub fn arm(&self) -> bool {
        false
    }
}

/// One client's socket.
pub(crate) enum Socket {}

impl Socket {
    pub fn kick_clock(&self) -> Arc<KickClock> {
        match *self {}
    }
    pub fn is_open(&self) -> bool {
        match *self {}
    }
    pub fn close(self) {
        match self {}
    }
}

/// Per-run WebSocket state.
pub(crate) enum Sockets {}

impl Sockets {
    pub fn new(
        _profile: &Profile,
        _plan: &Plan,
        _recorder: Recorder,
        _progress: Arc<Progress>,
        _cancel: CancellationToken,
    ) -> Result<Arc<Sockets>, String> {
        Err("WebSocket support is not available in this build yet".into())
    }
    pub async fn open(&self, _session: &Arc<Session>) -> Option<Socket> {
        match *self {}
    }
    pub async fn settle(&self, _timeout: Duration) {
        match *self {}
    }
    pub async fn close_all(&self, _sockets: Vec<Socket>, _timeout: Duration) {
        match *self {}
    }
}
