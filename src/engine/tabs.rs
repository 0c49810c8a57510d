//! The engine's side of `client.tabs` (issue 13 §1; the tabs themselves are `client::tabs`): a
//! fleet of `clients × tabs` members, user after user, each user's tabs joined to one token store;
//! and the `logout` phase of such a fleet, where one tab of each user logs out and the engine times
//! how the others find out.
//!
//! Every other phase runs on the tabs as on ordinary clients: each tab logs in (taking the store's
//! tokens when another tab already got some), makes its own calls, holds its own socket.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fleet::{Fleet, Member};
use super::ramp::{in_flight_cap, ramped};
use super::sockets::{Socket, Sockets};
use crate::client::tabs::{self, TabStore};
use crate::client::{Session, SessionEnv};
use crate::metrics::names;

/// The fleet for global user indices `ids`, `env.settings.tabs.tabs` tabs each: members
/// `u·tabs .. (u+1)·tabs` are the tabs of the u-th user, the first of them its tab 0 (the leader).
pub(crate) fn build(env: Arc<SessionEnv>, ids: &[u64]) -> Fleet {
    let settings = env.settings.tabs;
    let per_user = settings.tabs.max(1) as usize;
    let mut members = Vec::with_capacity(ids.len() * per_user);
    for &id in ids {
        let group: Vec<Arc<Session>> = (0..per_user)
            .map(|_| Session::new(env.clone(), id))
            .collect();
        TabStore::join(settings, &group);
        members.extend(group.into_iter().map(|session| Member {
            session,
            socket: None,
        }));
    }
    // Tabs are not devices: each tab is its own member for the phases that act per client.
    Fleet {
        members,
        devices: 1,
    }
}

/// `logout` with tabs: in each user's tab 0 the user logs out (its socket's kick clock, and every
/// other tab's, armed when the call returns 2xx — they share the session). Meanwhile every other
/// tab of the user keeps making calls, one per think time, until it knows (it dropped its tokens:
/// by the channel or at a 401) or `bound` after the logout; the tabs that still do not know are
/// `tab_logout_missed`. Then the sockets are settled and closed as after any logout.
pub(crate) async fn logout(
    fleet: &mut Fleet,
    ramp: Duration,
    sockets: Option<&Arc<Sockets>>,
    bound: Duration,
    cancel: &CancellationToken,
) {
    let sessions = fleet.sessions();
    let Some(first) = sessions.first() else {
        return;
    };
    let env = first.env().clone();
    let per_user = env.settings.tabs.tabs.max(1) as usize;
    let think = env.settings.think_time;
    if !env.profile.has_logout() {
        tracing::warn!(
            "logout: the target profile has no logout request; tabs only forget their tokens"
        );
    }
    let kicks: Vec<_> = fleet
        .members
        .iter()
        .map(|m| m.socket.as_ref().map(Socket::kick_clock))
        .collect();
    // Both are recorded even when 0, so the report shows them beside `tab_logout_sync`.
    env.recorder.count(0, names::TAB_LOGOUT_MISSED, 0);
    env.recorder.count(0, names::STALE_TAB_REQUESTS, 0);
    let users = sessions.len() / per_user;
    ramped(
        users,
        ramp,
        in_flight_cap(Some(first)),
        cancel,
        |u| {
            let range = u * per_user..(u + 1) * per_user;
            let group = sessions[range.clone()].to_vec();
            let kicks = kicks[range].to_vec();
            let env = env.clone();
            async move {
                let (tab0, others) = group.split_first().expect("a user has a tab");
                if !tab0.is_logged_in() {
                    return;
                }
                let sent = std::time::Instant::now();
                let deadline = Instant::now() + bound;
                let logout = async {
                    if let Some(status) = tab0.logout().await
                        && (200..300).contains(&status)
                    {
                        for kick in kicks.iter().flatten() {
                            kick.arm_at(sent);
                        }
                    }
                };
                let keep_using = others.iter().map(|t| keep_using(t, deadline, think));
                futures::future::join(logout, futures::future::join_all(keep_using)).await;
                let missed = tabs::close_watch(tab0);
                env.recorder.count(
                    tab0.id() as usize,
                    names::TAB_LOGOUT_MISSED,
                    u64::from(missed),
                );
            }
        },
        |_, ()| {},
    )
    .await;
    if let Some(sockets) = sockets {
        sockets
            .settle_and_close(fleet.take_sockets(), bound, cancel)
            .await;
    }
}

/// A tab goes on with its calls — the first at a random point of its think time, as a tab in use
/// is somewhere in its pause when the user logs out elsewhere — until it no longer holds tokens (it
/// learned of the logout) or `deadline`.
async fn keep_using(tab: &Session, deadline: Instant, think: Duration) {
    if !think.is_zero() {
        let offset = rand::rng().random_range(0.0..think.as_secs_f64());
        let first = Instant::now().checked_add(Duration::from_secs_f64(offset));
        tokio::time::sleep_until(first.map_or(deadline, |t| t.min(deadline))).await;
    }
    while tab.is_logged_in() && Instant::now() < deadline {
        tab.api_call(None).await;
        let pause = Instant::now().checked_add(think.max(Duration::from_millis(1)));
        tokio::time::sleep_until(pause.map_or(deadline, |t| t.min(deadline))).await;
    }
}
