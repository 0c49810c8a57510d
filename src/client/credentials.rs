//! The simulated clients' user names and passwords ([`Users`]), made on demand from a client's
//! global index: a session keeps its index, not a copy of its credentials (a million sessions held
//! two small strings each, ~96 bytes a client with the allocator's overhead), and asks when it logs
//! in.

use std::fmt;
use std::sync::Arc;

/// Credentials of global client `n`: `(user, password)`.
#[derive(Clone)]
pub struct Users(Arc<dyn Fn(u64) -> (String, String) + Send + Sync>);

impl Users {
    /// Credentials from a function of the global client index.
    pub fn new(f: impl Fn(u64) -> (String, String) + Send + Sync + 'static) -> Users {
        Users(Arc::new(f))
    }

    /// `user{n}` / `pw-{n}` with `{n}` replaced by `offset + n` (the mock's users).
    pub fn pattern(user: &str, password: &str, offset: u64) -> Users {
        let (user, password) = (user.to_string(), password.to_string());
        Users::new(move |n| {
            let k = offset.saturating_add(n).to_string();
            (user.replace("{n}", &k), password.replace("{n}", &k))
        })
    }

    /// The credentials of global client `n`.
    pub fn get(&self, n: u64) -> (String, String) {
        (self.0)(n)
    }
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Users(..)")
    }
}
