//! Before a synchronized start (`sync_expiry` followed by `traffic`), while every client already
//! waits at the gate: the connections the burst will use are opened and left idle shortly before
//! the deadline, so that at the instant every client only writes its request instead of first
//! connecting (issue 16 §2: connection setup in the burst was part of what spread the storm at the
//! server).
//!
//! - Pool mode (`client.connections: N`): the shared pool is filled up to
//!   `min(N, clients × concurrency)` connections.
//! - Per-client connections: each client gets one connection (for its first request) unless it
//!   still holds one from its login.
//!
//! Warming starts [`LEAD`] before the deadline (not earlier: servers close idle keep-alive
//! connections after a few seconds) and stops [`MARGIN`] before it, whatever is left undone. A
//! connection the server closed anyway is handed back unsent and replaced by the transport, so a
//! failed or late warm-up costs the storm nothing it would not have paid without one.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{Connections, Session};

/// How long before the deadline warming starts.
pub(crate) const LEAD: Duration = Duration::from_secs(2);
/// How long before the deadline warming stops, done or not.
const MARGIN: Duration = Duration::from_millis(20);
/// Connection handshakes in flight at once.
const PARALLEL: usize = 64;

/// Opens the idle connections for a burst that starts at `deadline`; returns how many it opened.
pub(crate) async fn connections(
    sessions: &[Arc<Session>],
    mode: Connections,
    deadline: Instant,
    cancel: &CancellationToken,
) -> usize {
    let Some(first) = sessions.first() else {
        return 0;
    };
    let Ok(uri) = first.env().profile.base_url().as_str().parse::<http::Uri>() else {
        return 0;
    };
    let stop = deadline.checked_sub(MARGIN).unwrap_or(deadline);
    let begin = deadline.checked_sub(LEAD).unwrap_or(deadline);
    let warm = async {
        tokio::time::sleep_until(begin).await;
        match mode {
            Connections::Pool(n) => {
                let per_client = first.env().settings.concurrency.max(1) as usize;
                let want = (n as usize).min(sessions.len().saturating_mul(per_client));
                first.http().warm(&uri, want, PARALLEL).await.unwrap_or(0)
            }
            Connections::PerClient => {
                futures::stream::iter(sessions)
                    .map(|s| s.http().warm(&uri, 1, 1))
                    .buffer_unordered(PARALLEL)
                    .fold(0, |sum, r| async move { sum + r.unwrap_or(0) })
                    .await
            }
        }
    };
    tokio::select! {
        opened = warm => opened,
        _ = tokio::time::sleep_until(stop) => 0,
        _ = cancel.cancelled() => 0,
    }
}
