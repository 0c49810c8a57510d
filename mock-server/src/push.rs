//! Mobile push as a webhook (`--push-url`): the session events of `/ws` delivered as push
//! messages, POSTed to a push provider in the shape of the FCM HTTP v1 API.
//!
//! A client registers a device token for its session (`POST /push/register`, see
//! [`crate::routes::events`]). From then on one small task per registration waits on the same
//! per-session watch channel the session's WebSockets and event streams wait on
//! ([`crate::store::Family::subscribe`]): the revocation that kicks a socket (a login elsewhere
//! with `--single-session`, logout, admin logout, reuse detection) wakes it too, so every channel
//! fires from the one place a session ends. It then sends one message
//! (`kicked` or `logout`) and ends. A session that reaches the end of its lifetime (refresh-token
//! expiry, `--max-session`, `--idle-timeout`) gets `session_expired`. A newer registration of the
//! same session replaces the older one.
//!
//! The message is what a server sends to FCM (`POST .../v1/projects/{project}/messages:send`):
//!
//! ```json
//! {"message": {"token": "<device token>",
//!              "data": {"type": "kicked", "session_id": "…", "sent_at_ms": "1733130000000"},
//!              "android": {"priority": "high"},
//!              "apns": {"headers": {"apns-priority": "10"}}}}
//! ```
//!
//! (`data` values are strings, as FCM requires.) It carries `Authorization: Bearer` with a fixed,
//! non-secret credential ([`CREDENTIAL`]): the mock has no Google service account. A 2xx is a
//! delivered push (`pushes_sent`); a transport error, 429 or 5xx is retried twice (after 250 ms,
//! then 500 ms); anything else, or the third failure, counts `push_failures`. At most
//! [`IN_FLIGHT`] messages are on the wire at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::routes::AppState;
use crate::stats::Counters;
use crate::store::{Family, RevokeCause};
use crate::tokens::now_ms;

/// The bearer credential of the push POSTs (a placeholder for FCM's OAuth 2.0 access token).
pub const CREDENTIAL: &str = "authbench-mock-push";
/// Push messages on the wire at once.
pub const IN_FLIGHT: usize = 256;
/// Attempts per message (the first plus two retries).
const ATTEMPTS: u32 = 3;
/// Deadline of one POST.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest accepted device token.
pub const MAX_DEVICE_TOKEN: usize = 4096;

/// Checks a `--push-url`: an absolute `http://` or `https://` URL with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{url:?} is not a usable URL (example: http://127.0.0.1:9099/v1/projects/authbench/messages:send)"
        ));
    }
    Ok(())
}

/// The push sender of one server run.
pub struct Pusher {
    client: reqwest::Client,
    url: String,
    slots: Semaphore,
    /// Session id → (registration number, its stop token).
    registrations: Mutex<HashMap<u128, (u64, CancellationToken)>>,
    next: std::sync::atomic::AtomicU64,
}

/// Why a registration's task sends its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Kicked,
    Logout,
    Expired,
}

impl Ending {
    fn event(self) -> &'static str {
        match self {
            Ending::Kicked => "kicked",
            Ending::Logout => "logout",
            Ending::Expired => "session_expired",
        }
    }
}

impl Pusher {
    /// A sender to `url` (checked by [`check_url`]).
    pub fn new(url: String) -> Pusher {
        let client = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .pool_max_idle_per_host(IN_FLIGHT)
            .build()
            .unwrap_or_default();
        Pusher {
            client,
            url,
            slots: Semaphore::new(IN_FLIGHT),
            registrations: Mutex::new(HashMap::new()),
            next: Default::default(),
        }
    }

    /// The provider URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Registers `device_token` for `family`, replacing the session's earlier registration, and
    /// starts the task that delivers the session's end.
    pub fn register(&self, state: &Arc<AppState>, family: Arc<Family>, device_token: String) {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stop = state.shutdown.child_token();
        if let Some((_, old)) = self
            .registrations
            .lock()
            .insert(family.sid, (n, stop.clone()))
        {
            old.cancel();
        }
        Counters::inc(&state.auth.stats.push_registrations);
        let task_state = state.clone();
        state.tracker.spawn(async move {
            let sid = family.sid;
            // A server that does not tell an end (`no-kick`, `silent-logout`) sends no push for
            // it: its watcher may still wake (at the announced end) and find the family revoked,
            // and must stay silent then.
            let silent = |e: &Ending| {
                *e != Ending::Expired
                    && family
                        .revoked()
                        .is_some_and(|c| !c.told(task_state.auth.flaws))
            };
            if let Some(ending) = watch(&family, &stop).await.filter(|e| !silent(e)) {
                task_state
                    .push
                    .as_ref()
                    .expect("a registration implies a pusher")
                    .deliver(&task_state, &family, &device_token, ending)
                    .await;
            }
            let pusher = task_state.push.as_ref().expect("a pusher");
            let mut regs = pusher.registrations.lock();
            if regs.get(&sid).is_some_and(|(m, _)| *m == n) {
                regs.remove(&sid);
            }
        });
    }

    /// Registrations whose session has not ended yet.
    pub fn registered(&self) -> usize {
        self.registrations.lock().len()
    }

    /// POSTs the message, retrying passing failures; counts the outcome.
    async fn deliver(&self, state: &AppState, family: &Family, token: &str, ending: Ending) {
        let Ok(_slot) = self.slots.acquire().await else {
            return;
        };
        let body = serde_json::json!({
            "message": {
                "token": token,
                "data": {
                    "type": ending.event(),
                    "session_id": &*family.sid_str,
                    "sent_at_ms": now_ms().to_string(),
                },
                "android": { "priority": "high" },
                "apns": { "headers": { "apns-priority": "10" } },
            }
        });
        let stats = &state.auth.stats;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << (attempt - 1))).await;
            }
            let sent = self
                .client
                .post(&self.url)
                .bearer_auth(CREDENTIAL)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    Counters::inc(&stats.pushes_sent);
                    return;
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {}
                Ok(r) => {
                    tracing::debug!(status = r.status().as_u16(), "push refused");
                    break;
                }
                Err(e) => tracing::debug!(error = %e, "push failed"),
            }
        }
        Counters::inc(&stats.push_failures);
    }
}

/// Waits until the session ends (revoked, or at the end of its lifetime) or `stop`.
async fn watch(family: &Family, stop: &CancellationToken) -> Option<Ending> {
    // Subscribe before the first state check so no revocation can slip in between.
    let mut events = family.subscribe();
    loop {
        if let Some(cause) = family.revoked() {
            return Some(match cause {
                RevokeCause::Kicked => Ending::Kicked,
                _ => Ending::Logout,
            });
        }
        let end_ms = family.state.lock().announced_end_ms();
        let now = now_ms();
        if now >= end_ms {
            return Some(Ending::Expired);
        }
        let at = Instant::now().checked_add(Duration::from_millis(end_ms - now));
        tokio::select! {
            _ = stop.cancelled() => return None,
            changed = events.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
            // Rotation may have moved the end: look again when it comes.
            _ = sleep_until(at) => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_urls() {
        assert!(check_url("http://127.0.0.1:9099/v1/projects/p/messages:send").is_ok());
        assert!(check_url("https://fcm.googleapis.com/v1/projects/p/messages:send").is_ok());
        assert!(check_url("ftp://x/y").is_err());
        assert!(check_url("http:///path").is_err());
        assert!(check_url("http://a b/").is_err());
    }
}
