//! The clients of this process: one [`Member`] per simulated client and device, holding its
//! current session (replaced by `relogin`) and its WebSocket, if any.
//!
//! With `client.devices: N` every user has N members, one per device, next to each other in
//! member order (device 0 first): separate sessions, token stores, connections and sockets, all
//! with the user's credentials and the user's global client index.

use std::sync::Arc;

use super::sockets::Socket;
use crate::client::{Session, SessionEnv};

/// One simulated client.
pub(crate) struct Member {
    /// The client's current (primary) session.
    pub session: Arc<Session>,
    /// Its WebSocket, when one was opened.
    pub socket: Option<Socket>,
}

/// Every client this process drives.
pub(crate) struct Fleet {
    pub members: Vec<Member>,
    /// Devices per user (members per user), at least 1.
    pub devices: usize,
}

impl Fleet {
    /// Logged-out sessions for the global client indices `ids`, `devices` per user.
    pub fn build(env: Arc<SessionEnv>, ids: &[u64], devices: u32) -> Fleet {
        let devices = devices.max(1) as usize;
        let mut members = Vec::with_capacity(ids.len() * devices);
        for &id in ids {
            for _ in 0..devices {
                members.push(Member {
                    session: Session::new(env.clone(), id),
                    socket: None,
                });
            }
        }
        Fleet { members, devices }
    }

    /// Whether member `k` is its user's first device (the one that acts for the user in
    /// `relogin`, `force_logout` and `logout_everywhere`).
    pub fn is_first_device(&self, k: usize) -> bool {
        k.is_multiple_of(self.devices)
    }

    /// The members of member `k`'s user (every device, the first one first).
    pub fn devices_of(&self, k: usize) -> std::ops::Range<usize> {
        let first = k - k % self.devices;
        first..(first + self.devices).min(self.members.len())
    }

    /// Takes every member's socket (the members keep none).
    pub fn take_sockets(&mut self) -> Vec<Socket> {
        self.members
            .iter_mut()
            .filter_map(|m| m.socket.take())
            .collect()
    }

    /// The current sessions, in member order.
    pub fn sessions(&self) -> Vec<Arc<Session>> {
        self.members.iter().map(|m| m.session.clone()).collect()
    }
}
