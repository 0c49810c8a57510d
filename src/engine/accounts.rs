//! Phases that change who is logged in: `login`, `relogin`, `logout`, `force_logout`, plus
//! `ws_connect` and `refresh_race`, each spread over its ramp.
//!
//! The kick-off checks hang off these phases: the trigger (the second login's response, the logout
//! or admin call returning) arms the old session's kick clock; afterwards the engine waits, bounded,
//! for every armed clock to see its kick (`missed_kicks` otherwise) and closes the old sockets.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fleet::Fleet;
use super::ramp::ramped_over;
use super::sockets::{Socket, Sockets};
use crate::client::Session;
use crate::client::notice::EndCause;
use crate::client::race;

/// `login`: every client without a session logs in; with `client.websocket`, its socket opens too.
pub(crate) async fn login(
    fleet: &mut Fleet,
    ramp: Duration,
    sockets: Option<&Arc<Sockets>>,
    cancel: &CancellationToken,
) {
    let had_socket: Vec<bool> = fleet.members.iter().map(|m| m.socket.is_some()).collect();
    ramped_sockets(fleet, ramp, cancel, |k, s| {
        let sockets = sockets.filter(|_| !had_socket[k]).cloned();
        async move {
            let ok = s.is_logged_in() || s.login().await;
            match (ok, sockets) {
                // Boxed: only runs with sockets, and the opening's state is large; unboxed, every
                // login task in flight carried it (12 KB a task: 245 MB at 20 000 in flight).
                (true, Some(sockets)) => Box::pin(sockets.open(&s)).await,
                _ => None,
            }
        }
    })
    .await;
}

/// `ws_connect`: every logged-in client without a channel, or whose channel ended, opens one.
pub(crate) async fn ws_connect(
    fleet: &mut Fleet,
    ramp: Duration,
    sockets: &Arc<Sockets>,
    cancel: &CancellationToken,
) {
    // A channel still going — open, or retrying after a refusal — is the client's one channel:
    // replacing it would end it (`ended.stopped`) and count the client's channel twice.
    let open: Vec<bool> = fleet
        .members
        .iter()
        .map(|m| m.socket.as_ref().is_some_and(Socket::is_alive))
        .collect();
    ramped_sockets(fleet, ramp, cancel, |k, s| {
        let (sockets, skip) = (sockets.clone(), open[k]);
        async move {
            if skip || s.ensure_logged_in().await.is_none() {
                return None;
            }
            sockets.open(&s).await
        }
    })
    .await;
}

/// Runs `job(k, session)` for every member over the ramp; a socket a job opens becomes the
/// member's (closing the one it replaces), as the job finishes.
async fn ramped_sockets<Fut>(
    fleet: &mut Fleet,
    ramp: Duration,
    cancel: &CancellationToken,
    mut job: impl FnMut(usize, Arc<Session>) -> Fut,
) where
    Fut: Future<Output = Option<Socket>> + Send + 'static,
{
    let sessions = fleet.sessions();
    let members = &mut fleet.members;
    let opened = |k: usize, socket: Option<Socket>| {
        if let Some(socket) = socket
            && let Some(old) = members[k].socket.replace(socket)
        {
            old.close();
        }
    };
    ramped_over(
        &sessions,
        ramp,
        cancel,
        |k| job(k, sessions[k].clone()),
        opened,
    )
    .await;
}

/// `relogin`: every user logs in again on a new session (a second device), which replaces the
/// client's primary one; the old socket's kick clock is armed with the instant the new login was sent.
/// With `client.devices`, the user's first device logs in again and the kick clocks of every
/// device's socket are armed (a single-session server kicks them all: kick latency per device).
pub(crate) async fn relogin(
    fleet: &mut Fleet,
    ramp: Duration,
    sockets: Option<&Arc<Sockets>>,
    kick_timeout: Duration,
    cancel: &CancellationToken,
) {
    let who: Vec<usize> = (0..fleet.members.len())
        .filter(|&k| fleet.is_first_device(k))
        .collect();
    let sessions: Vec<_> = who
        .iter()
        .map(|&k| fleet.members[k].session.clone())
        .collect();
    let kicks: Vec<Vec<_>> = who
        .iter()
        .map(|&k| {
            fleet
                .devices_of(k)
                .filter_map(|j| fleet.members[j].socket.as_ref().map(Socket::kick_clock))
                .collect()
        })
        .collect();
    let had_socket: Vec<bool> = who
        .iter()
        .map(|&k| fleet.members[k].socket.is_some())
        .collect();
    let mut replaced = Vec::new();
    ramped_over(
        &sessions,
        ramp,
        cancel,
        |i| {
            let (old, kicks, had_socket) = (sessions[i].clone(), kicks[i].clone(), had_socket[i]);
            let sockets = sockets.cloned();
            async move {
                let new = old.sibling();
                // The trigger instant is when the second login was sent: the server may kick the old
                // socket before its response arrives.
                let sent = std::time::Instant::now();
                // The old session lives on only through its socket: with one, its end is registered
                // (session loss, `client::notice`); without one nothing of it is left to notice.
                let registered = had_socket && old.session_ends(EndCause::Kicked, sent);
                if !new.login().await {
                    if registered {
                        old.void_end(EndCause::Kicked);
                    }
                    return None;
                }
                if registered {
                    old.end_confirmed(EndCause::Kicked);
                }
                for kick in &kicks {
                    kick.arm_at(sent);
                }
                // The user keeps a socket on the new device when the old one had one.
                let socket = match (sockets, had_socket) {
                    (Some(sockets), true) => sockets.open(&new).await,
                    _ => None,
                };
                Some((new, socket))
            }
        },
        |i, new| replaced.extend(new.map(|n| (i, n))),
    )
    .await;
    let mut old_sockets = Vec::new();
    let mut old_sessions = Vec::new();
    for (i, (new, socket)) in replaced {
        let k = who[i];
        for j in fleet.devices_of(k).filter(|&j| j != k) {
            old_sockets.extend(fleet.members[j].socket.take());
        }
        let m = &mut fleet.members[k];
        old_sessions.push(std::mem::replace(&mut m.session, new));
        if let Some(old) = std::mem::replace(&mut m.socket, socket) {
            old_sockets.push(old);
        }
    }
    if let Some(sockets) = sockets {
        sockets
            .settle_and_close(old_sockets, kick_timeout, cancel)
            .await;
    }
    // The replaced sessions are gone with their sockets: an end they never noticed is counted.
    for old in old_sessions {
        old.flush_unnoticed();
    }
}

/// `logout`: every client logs out; its socket's kick clock is armed when the call returns.
pub(crate) async fn logout(
    fleet: &mut Fleet,
    ramp: Duration,
    sockets: Option<&Arc<Sockets>>,
    kick_timeout: Duration,
    cancel: &CancellationToken,
) {
    ended_by(fleet, ramp, sockets, kick_timeout, cancel, false).await;
}

/// `force_logout`: the admin endpoint logs every user out; kick clocks armed when it returns.
pub(crate) async fn force_logout(
    fleet: &mut Fleet,
    ramp: Duration,
    sockets: Option<&Arc<Sockets>>,
    kick_timeout: Duration,
    cancel: &CancellationToken,
) {
    ended_by(fleet, ramp, sockets, kick_timeout, cancel, true).await;
}

async fn ended_by(
    fleet: &mut Fleet,
    ramp: Duration,
    sockets: Option<&Arc<Sockets>>,
    kick_timeout: Duration,
    cancel: &CancellationToken,
    admin: bool,
) {
    let sessions = fleet.sessions();
    if let Some(s) = sessions.first() {
        let profile = &s.env().profile;
        if admin && !profile.has_admin_logout() {
            tracing::warn!(
                "force_logout: the target profile has no usable admin logout request; skipped"
            );
        } else if !admin && !profile.has_logout() {
            tracing::warn!(
                "logout: the target profile has no logout request; clients only forget their tokens"
            );
        }
    }
    // An admin logout is one call per user: the first device sends it, and the kick clocks of
    // every device's socket are armed.
    let kicks: Vec<Vec<_>> = (0..fleet.members.len())
        .map(|k| {
            let own = fleet.members[k].socket.as_ref().map(Socket::kick_clock);
            if !admin {
                return own.into_iter().collect();
            }
            if !fleet.is_first_device(k) {
                return Vec::new();
            }
            fleet
                .devices_of(k)
                .filter_map(|j| fleet.members[j].socket.as_ref().map(Socket::kick_clock))
                .collect()
        })
        .collect();
    let first: Vec<bool> = (0..fleet.members.len())
        .map(|k| fleet.is_first_device(k))
        .collect();
    ramped_over(
        &sessions,
        ramp,
        cancel,
        |k| {
            let (s, kicks, first) = (sessions[k].clone(), kicks[k].clone(), first[k]);
            async move {
                let sent = std::time::Instant::now();
                let status = if admin && !first {
                    // The user's first device asked the admin endpoint for every device.
                    s.expect_end();
                    None
                } else if admin {
                    s.force_logout().await
                } else if s.is_logged_in() {
                    s.logout().await
                } else {
                    None
                };
                if let Some(status) = status
                    && (200..300).contains(&status)
                {
                    for kick in &kicks {
                        kick.arm_at(sent);
                    }
                }
            }
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

/// `refresh_race`: every client races `parallel` refreshes of its refresh token.
pub(crate) async fn refresh_race(fleet: &Fleet, parallel: u32, cancel: &CancellationToken) {
    let sessions = fleet.sessions();
    ramped_over(
        &sessions,
        Duration::ZERO,
        cancel,
        |k| {
            let s = sessions[k].clone();
            async move {
                race::race(&s, parallel).await;
            }
        },
        |_, ()| {},
    )
    .await;
}
