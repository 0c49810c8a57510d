//! The `logout_everywhere` phase: the unified logout of a user signed in on several devices
//! (`client.devices`).
//!
//! For every user (spread over the phase's ramp) the first device sends the profile's
//! `logout_everywhere` request with its tokens. When the target accepts it (2xx):
//!
//! - the kick clock of every device's socket is armed with the instant the request was sent
//!   (`kick_latency` per device; sockets not kicked within the kick timeout are `missed_kicks`);
//! - every device tries its refresh token once, right after the answer: a refusal is what the
//!   logout promised, an acceptance makes the device a zombie (`zombie_refresh`);
//! - `logout_everywhere_latency` is recorded for the user when every device got there: its
//!   server closed its socket (a device without a socket has nothing to close; one whose socket
//!   got its logout event but no close frame, which the client then closed itself after the
//!   grace, `kick_without_close`, never gets there) and its refresh was refused; the sample is
//!   the request's send instant → the last device to get there (its socket's close frame
//!   received, or its refresh refused, whichever came later);
//! - once each device's access token (as held before the request) has expired — waited for up
//!   to the phase's `await_expiry` — the device calls the resource with it once more: accepted, it
//!   is a zombie too (`zombie_access`: a token that outlives its own `exp`, e.g. a resource server
//!   that caches verdicts); tokens expiring later are not checked (`zombie_unchecked`).
//!
//! `zombie_sessions` counts each device that was a zombie either way once. A request the target
//! does not accept is `logout_everywhere_failed` (plus `failures.logout_everywhere.<class>`) and
//! measures nothing for that user. Every device that is not a zombie is told its session ended,
//! so a later new login is expected, not spurious.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::fleet::Fleet;
use super::ramp::{in_flight_cap, ramped};
use super::sockets::{Socket, Sockets};
use crate::client::notice::EndCause;
use crate::client::session::Op;
use crate::client::token_set::TokenSet;
use crate::client::transport::{BodyMode, prebuilt};
use crate::client::ws::KickClock;
use crate::client::{FailClass, Session};
use crate::metrics::names;

/// After a token's `exp`, wait this much longer before presenting it (whole-second `exp`s and
/// clocks a little apart).
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// One device of a user, as the phase sees it.
struct Device {
    session: Arc<Session>,
    kick: Option<Arc<KickClock>>,
    /// Completes when the device's socket is closed: true when the server closed it.
    closed: Option<futures::future::BoxFuture<'static, bool>>,
}

/// What became of one device after an accepted logout everywhere.
struct DeviceOutcome {
    /// When it was done: socket closed and refresh refused (`None`: it never got there).
    done_at: Option<Instant>,
    zombie: bool,
}

/// `logout_everywhere`: see the module docs.
pub(crate) async fn logout_everywhere(
    fleet: &mut Fleet,
    ramp: Duration,
    await_expiry: Duration,
    sockets: Option<&Arc<Sockets>>,
    kick_timeout: Duration,
    cancel: &CancellationToken,
) {
    let firsts: Vec<usize> = (0..fleet.members.len())
        .filter(|&k| fleet.is_first_device(k))
        .collect();
    let mut users: Vec<Option<Vec<Device>>> = firsts
        .iter()
        .map(|&k| {
            Some(
                fleet
                    .devices_of(k)
                    .map(|j| {
                        let m = &fleet.members[j];
                        Device {
                            session: m.session.clone(),
                            kick: m.socket.as_ref().map(Socket::kick_clock),
                            closed: m.socket.as_ref().and_then(Socket::closed),
                        }
                    })
                    .collect(),
            )
        })
        .collect();
    ramped(
        firsts.len(),
        ramp,
        in_flight_cap(fleet.members.first().map(|m| &m.session)),
        cancel,
        |i| {
            let devices = users[i].take().unwrap_or_default();
            user_logout_everywhere(devices, kick_timeout, await_expiry)
        },
        |_, ()| {},
    )
    .await;
    if let Some(sockets) = sockets {
        sockets
            .settle_and_close(fleet.take_sockets(), kick_timeout, cancel)
            .await;
    }
}

/// One user's logout everywhere (the first device sends it).
async fn user_logout_everywhere(
    devices: Vec<Device>,
    kick_timeout: Duration,
    await_expiry: Duration,
) {
    let Some(first) = devices.first() else { return };
    let caller = first.session.clone();
    let env = caller.env().clone();
    let (rec, shard) = (&env.recorder, caller.id() as usize);
    // The caller's access token must be good for the request: a client renews one about to expire.
    fresh_enough(&caller).await;
    // What every device holds before the request: the access token checked after its expiry.
    let before: Vec<_> = devices
        .iter()
        .map(|d| d.session.held().map(|h| (h.tokens, d.session.expires_at())))
        .collect();
    let sent = Instant::now();
    // Every device's session ends at the request (session loss, `client::notice`).
    let registered: Vec<bool> = devices
        .iter()
        .map(|d| d.session.session_ends(EndCause::LogoutEverywhere, sent))
        .collect();
    if send(&caller).await.is_none() {
        for (d, _) in devices.iter().zip(&registered).filter(|(_, r)| **r) {
            d.session.void_end(EndCause::LogoutEverywhere);
        }
        rec.count(shard, names::LOGOUT_EVERYWHERE_FAILED, 1);
        return;
    }
    for (d, _) in devices.iter().zip(&registered).filter(|(_, r)| **r) {
        d.session.end_confirmed(EndCause::LogoutEverywhere);
    }
    // From here a refused refresh on any device is the logout's doing, not a spurious logout:
    // one whose socket was not told (only its expiry close came) learns it that way.
    for d in &devices {
        d.session.expect_end();
    }
    for d in &devices {
        if let Some(kick) = &d.kick {
            kick.arm_at(sent);
        }
    }
    let outcomes = join_all(
        devices
            .into_iter()
            .zip(before)
            .map(|(d, held)| device_after(d, held, kick_timeout, await_expiry)),
    )
    .await;
    let all_done = outcomes
        .iter()
        .map(|o| o.done_at)
        .collect::<Option<Vec<_>>>();
    if let Some(last) = all_done.and_then(|d| d.into_iter().max()) {
        rec.record_duration(
            shard,
            names::LOGOUT_EVERYWHERE_LATENCY,
            last.saturating_duration_since(sent),
        );
    }
    // Counted even at 0: "no zombies" is the result the phase exists for.
    let zombies = outcomes.iter().filter(|o| o.zombie).count() as u64;
    rec.count(shard, names::ZOMBIE_SESSIONS, zombies);
}

/// An access token with less than this left is renewed before the request.
const RENEW_BEFORE: Duration = Duration::from_secs(2);

/// Renews `caller`'s access token first when it expires within [`RENEW_BEFORE`].
async fn fresh_enough(caller: &Session) {
    let soon = SystemTime::now() + RENEW_BEFORE;
    if caller.expires_at().is_some_and(|exp| exp <= soon) {
        caller.shared_renew(caller.generation()).await;
    }
}

/// Sends the logout-everywhere request with `caller`'s tokens — once more after a renewal when
/// the access token was refused (401), as a client would; `Some(status)` when the target
/// accepted it (2xx). Counted `status.logout_everywhere.<code>`, failures as
/// `failures.logout_everywhere.<class>`.
async fn send(caller: &Session) -> Option<u16> {
    for attempt in 0..2 {
        let generation = caller.generation();
        let status = send_once(caller).await?;
        if status == 401 && attempt == 0 && caller.shared_renew(generation).await.is_some() {
            continue;
        }
        return (200..300).contains(&status).then_some(status);
    }
    None
}

/// One logout-everywhere exchange; `None` without tokens, a request or an answer.
async fn send_once(caller: &Session) -> Option<u16> {
    let profile = caller.env().profile.clone();
    let tokens = caller.tokens()?;
    let req = profile.logout_everywhere_request(&caller.user(), &tokens)?;
    let res = caller
        .http()
        .exchange_with(prebuilt(req), BodyMode::Keep)
        .await;
    caller.count_exchange(Op::LogoutEverywhere, &res);
    let failure = match &res {
        Ok(r) if (200..300).contains(&r.status) => None,
        // A refused access token is renewed and the request sent again (see `send`).
        Ok(r) if r.status == 401 => None,
        Ok(r) => Some(FailClass::of_status(r.status)),
        Err(_) => Some(FailClass::Transport),
    };
    caller.settle(Op::LogoutEverywhere, &res, failure);
    res.ok().map(|r| r.status)
}

/// One device after an accepted logout everywhere: its socket's end, its refresh, and (after its
/// expiry) its old access token.
async fn device_after(
    d: Device,
    held: Option<(TokenSet, Option<SystemTime>)>,
    kick_timeout: Duration,
    await_expiry: Duration,
) -> DeviceOutcome {
    let session = d.session;
    let closed = async {
        match d.closed {
            // A socket the client had to close itself (the server sent its logout event but no
            // close frame: `kick_without_close`) was never closed by the server: not done.
            Some(fut) => tokio::time::timeout(kick_timeout, fut)
                .await
                .ok()
                .and_then(|by_server| by_server.then(Instant::now)),
            None => Some(Instant::now()),
        }
    };
    let refused = async {
        match session.probe_refresh_alone(Op::LogoutEverywhereCheck).await {
            Some(false) => (Some(Instant::now()), false),
            Some(true) => (None, true),
            None => (None, false),
        }
    };
    let (closed_at, (refused_at, refresh_zombie)) = futures::join!(closed, refused);
    let rec = &session.env().recorder;
    let shard = session.id() as usize;
    if refresh_zombie {
        rec.count(shard, names::ZOMBIE_REFRESH, 1);
    }
    let access_zombie = match held {
        Some((tokens, Some(exp))) => {
            access_outlives_expiry(&session, tokens.access(), exp, await_expiry).await
        }
        _ => None,
    };
    match access_zombie {
        Some(true) => rec.count(shard, names::ZOMBIE_ACCESS, 1),
        Some(false) => {}
        None => rec.count(shard, names::ZOMBIE_UNCHECKED, 1),
    }
    let zombie = refresh_zombie || access_zombie == Some(true);
    DeviceOutcome {
        done_at: closed_at.zip(refused_at).map(|(a, b)| a.max(b)),
        zombie,
    }
}

/// Waits until `exp` (plus a margin) when that is within `await_expiry`, then calls the resource
/// with `at`: `Some(true)` when it is still accepted. `None`: not checked (expires too late, or
/// no answer).
async fn access_outlives_expiry(
    session: &Session,
    at: &str,
    exp: SystemTime,
    await_expiry: Duration,
) -> Option<bool> {
    let wait = exp
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_add(EXPIRY_MARGIN);
    if await_expiry.is_zero() || wait > await_expiry.saturating_add(EXPIRY_MARGIN) {
        return None;
    }
    tokio::time::sleep(wait).await;
    let profile = session.env().profile.clone();
    let reply = session
        .http()
        .exchange_with(|| profile.resource_request(at), BodyMode::Truncate)
        .await
        .ok()?;
    Some((200..300).contains(&reply.status))
}
