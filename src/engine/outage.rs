//! The `outage` phase: the target stops serving for a while, through the profile's
//! `admin_outage` request (the reference mock's `POST /admin/outage?duration_ms=N`).
//!
//! The phase sends that one request and returns at once, so the next phase (traffic, wait) runs
//! through the outage and shows how the clients live through it. It marks `outage` in the report's
//! phase marks when the target accepted the request, and `outage_end` when the target accepts
//! TCP connections again (probed from `duration` on, every 50 ms, for at most 30 s more). In a
//! sharded run only shard 0 sends the request; every shard marks both instants from its own
//! probes. A target that refuses the request counts `failures.outage.<class>` (so the default
//! `failure_rate` threshold sees it) and no outage is marked.
//!
//! While the target is away on the run's own request — from the phase's start until it accepts
//! connections again, or [`EXCUSED_FOR`] after the announced end if it does not — the recorder is
//! told so ([`Recorder::set_outage`]): a failure without an answer in that window is the run's
//! doing and the failure rates leave it out. One that outlasts the window counts against the
//! target.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::preflight::preflight;
use crate::client::FailClass;
use crate::client::transport::{BodyMode, Http, prebuilt};
use crate::metrics::{Recorder, names};
use crate::profile::Profile;

/// How often the end of the outage is probed.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// How long after the announced end the probing goes on.
const PROBE_FOR: Duration = Duration::from_secs(30);
/// How long after the announced end failures without an answer are still the outage's, when
/// the target is not seen back before.
const EXCUSED_FOR: Duration = Duration::from_secs(1);
/// The `<op>` of the admin request's counters.
const OP: &str = "outage";

/// Phase mark: the target accepted the outage request.
pub const MARK_START: &str = "outage";
/// Phase mark: the target accepts connections again.
pub const MARK_END: &str = "outage_end";

/// Causes the outage (when `leader`) and starts watching for its end; see the module docs.
pub(crate) async fn outage(
    profile: &Arc<Profile>,
    http: &Http,
    duration: Duration,
    leader: bool,
    recorder: &Recorder,
    cancel: &CancellationToken,
) {
    recorder.set_outage(true);
    if leader && !request(profile, http, duration, recorder).await {
        recorder.set_outage(false);
        return;
    }
    recorder.phase(MARK_START);
    let (profile, recorder, cancel) = (profile.clone(), recorder.clone(), cancel.clone());
    tokio::spawn(async move {
        cancel
            .run_until_cancelled(async {
                tokio::time::sleep(duration).await;
                let start = tokio::time::Instant::now();
                while start.elapsed() < PROBE_FOR {
                    if preflight(&profile, PROBE_EVERY).await.is_ok() {
                        recorder.set_outage(false);
                        recorder.phase(MARK_END);
                        return;
                    }
                    if start.elapsed() >= EXCUSED_FOR {
                        recorder.set_outage(false);
                    }
                    tokio::time::sleep(PROBE_EVERY).await;
                }
                tracing::warn!("outage: the target did not come back within {PROBE_FOR:?}");
            })
            .await;
        recorder.set_outage(false);
    });
}

/// Sends the admin outage request; `true` when the target accepted it (2xx).
async fn request(profile: &Profile, http: &Http, duration: Duration, rec: &Recorder) -> bool {
    let Some(req) = profile.admin_outage_request(duration) else {
        // The engine refuses such a plan before it starts (`EngineError::Outage`).
        return false;
    };
    let res = http.exchange_with(prebuilt(req), BodyMode::Keep).await;
    rec.count(0, names::REQUESTS, 1);
    rec.count(0, &names::requests_of(OP), 1);
    let failure = match &res {
        Ok(r) => {
            rec.count(0, &names::status(OP, r.status), 1);
            (!(200..300).contains(&r.status)).then(|| FailClass::of_status(r.status))
        }
        Err(e) => {
            rec.count(0, e.kind.counter(), 1);
            Some(FailClass::Transport)
        }
    };
    match failure {
        None => true,
        Some(class) => {
            rec.count(0, &names::failure(OP, class.name()), 1);
            match &res {
                Ok(r) => tracing::warn!(status = r.status, "outage: the target refused it"),
                Err(e) => tracing::warn!(error = %e, "outage: the request failed"),
            }
            false
        }
    }
}
