//! The clients of this process: one [`Member`] per simulated client, holding its current session
//! (replaced by `relogin`) and its WebSocket, if any.

use std::sync::Arc;

use super::plan::Users;
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
}

impl Fleet {
    /// Logged-out sessions for the global client indices `ids`.
    pub fn build(env: Arc<SessionEnv>, ids: &[u64], users: &Users) -> Fleet {
        let mut members = Vec::with_capacity(ids.len());
        for &id in ids {
            let (user, password) = users.get(id);
            members.push(Member {
                session: Session::new(env.clone(), id, &user, &password),
                socket: None,
            });
        }
        Fleet { members }
    }

    /// The current sessions, in member order.
    pub fn sessions(&self) -> Vec<Arc<Session>> {
        self.members.iter().map(|m| m.session.clone()).collect()
    }
}
