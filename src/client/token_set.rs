//! The tokens a session holds — access token, refresh token, session id — in one shared allocation.
//!
//! A million logged-in clients each hold their tokens. As an `Arc<str>`, an `Option<Arc<str>>` and
//! an `Option<Box<str>>` they take three heap chunks (each with its allocator header and rounding)
//! and 48 bytes inline; as one [`TokenSet`] they take one chunk and 24 bytes. A clone is one
//! reference count, as for an `Arc<str>`, so a request takes its credentials without copying them.

use std::fmt;
use std::sync::Arc;

use crate::redact::redact;

/// `refresh_len` of a set without a refresh token.
const ABSENT: u32 = u32::MAX;

/// An access token with the refresh token and server session id that came with it (see the module
/// docs). An empty session id is held as none.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// The access token, then the refresh token, then the session id.
    text: Arc<str>,
    access_len: u32,
    /// [`ABSENT`]: no refresh token.
    refresh_len: u32,
}

/// A part's length as stored. Tokens come from responses whose bodies the transport caps at 64 KiB
/// and whose headers hyper caps far below 4 GiB, so a length always fits; the `min` keeps an
/// impossible one from aliasing [`ABSENT`].
fn stored_len(part: &str) -> u32 {
    u32::try_from(part.len())
        .unwrap_or(ABSENT - 1)
        .min(ABSENT - 1)
}

impl TokenSet {
    pub fn new(access: &str, refresh: Option<&str>, session_id: Option<&str>) -> TokenSet {
        let (access, refresh) = (cap(access), refresh.map(cap));
        let session_id = cap(session_id.unwrap_or_default());
        let mut text =
            String::with_capacity(access.len() + refresh.map_or(0, str::len) + session_id.len());
        text.push_str(access);
        text.push_str(refresh.unwrap_or_default());
        text.push_str(session_id);
        TokenSet {
            text: text.into(),
            access_len: stored_len(access),
            refresh_len: refresh.map_or(ABSENT, stored_len),
        }
    }

    pub fn access(&self) -> &str {
        &self.text[..self.access_len as usize]
    }

    pub fn refresh(&self) -> Option<&str> {
        (self.refresh_len != ABSENT)
            .then(|| &self.text[self.access_len as usize..self.session_at()])
    }

    pub fn session_id(&self) -> Option<&str> {
        Some(&self.text[self.session_at()..]).filter(|s| !s.is_empty())
    }

    /// The same set with another access token.
    pub fn with_access(&self, access: &str) -> TokenSet {
        TokenSet::new(access, self.refresh(), self.session_id())
    }

    /// Where the session id starts.
    fn session_at(&self) -> usize {
        let refresh = if self.refresh_len == ABSENT {
            0
        } else {
            self.refresh_len
        };
        self.access_len as usize + refresh as usize
    }
}

/// `part`, cut to at most `ABSENT - 1` bytes at a character boundary (see [`stored_len`]).
fn cap(part: &str) -> &str {
    let max = (ABSENT - 1) as usize;
    if part.len() <= max {
        return part;
    }
    let end = (0..=max)
        .rev()
        .find(|&i| part.is_char_boundary(i))
        .unwrap_or(0);
    &part[..end]
}

/// Tokens are secrets: a set prints as redacted prefixes.
impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access", &redact(self.access()))
            .field("refresh", &self.refresh().map(redact))
            .field("session_id", &self.session_id().map(redact))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_come_back_as_given() {
        for (access, refresh, sid) in [
            ("at", Some("rt"), Some("sid")),
            ("at", None, Some("sid")),
            ("at", Some(""), None),
            ("ät€", Some("ß"), None),
            ("", None, None),
        ] {
            let set = TokenSet::new(access, refresh, sid);
            assert_eq!(set.access(), access);
            assert_eq!(set.refresh(), refresh, "{access} {refresh:?}");
            assert_eq!(set.session_id(), sid);
        }
        assert_eq!(TokenSet::new("at", None, Some("")).session_id(), None);
    }

    #[test]
    fn with_access_keeps_the_rest() {
        let set = TokenSet::new("old", Some("rt"), Some("sid")).with_access("new-token");
        assert_eq!(
            (set.access(), set.refresh(), set.session_id()),
            ("new-token", Some("rt"), Some("sid"))
        );
    }

    #[test]
    fn a_set_is_24_bytes_and_debug_hides_the_tokens() {
        assert_eq!(size_of::<Option<TokenSet>>(), 24);
        let access = "eyJhbGciOiJIUzI1NiJ9.payload.signature";
        let shown = format!(
            "{:?}",
            TokenSet::new(access, Some("refresh-secret-123"), None)
        );
        assert!(
            !shown.contains(access) && !shown.contains("refresh-secret-123"),
            "{shown}"
        );
        assert!(shown.contains("eyJhbGci…"), "{shown}");
    }
}
