//! The `idle` phase: the user walks away and the device sleeps for `duration`. No client sends
//! anything — no API call (no traffic runs), no proactive timer, no socket renewal: every renewal
//! that comes due waits until the phase ends (see [`crate::client::idle`]). Sockets stay open.
//! The next phase resumes the clients; those whose session the server ended meanwhile find out
//! at their next refresh, counted `sessions_expired` when the server had announced that end.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::client::SessionEnv;

/// Holds every client of `env` idle for `duration` (or until `cancel`), then lets them go.
pub(crate) async fn idle(env: &SessionEnv, duration: Duration, cancel: &CancellationToken) {
    env.idle.begin();
    cancel
        .run_until_cancelled(tokio::time::sleep(duration))
        .await;
    env.idle.end();
}
