//! Tabs (issue 13 §1): one user's N browser tabs sharing one token store.
//!
//! A browser keeps one `localStorage` per origin: every tab of the user reads and writes the same
//! access token, refresh token and expiry there. Each tab is still its own program, though: it holds
//! the copy it read earlier in memory, makes its own API calls, may hold its own WebSocket and
//! renews its own token. Here a tab is a [`Session`] (its in-memory copy, its connections, its
//! refresh strategy) joined to the user's [`TabStore`] (the `localStorage`) by a [`TabLink`]. What
//! the tabs do about each other is `client.tab_sync` ([`TabSync`]):
//!
//! | `tab_sync`      | a tab renews with                      | other tabs see a new token / a logout      |
//! |-----------------|----------------------------------------|--------------------------------------------|
//! | `none`          | its own in-memory copy, on its own     | never (a logout: at their next 401)        |
//! | `storage-event` | its own in-memory copy, on its own     | after `tab_sync_delay` (the `storage` event) |
//! | `lock`          | one tab at a time (Web Locks); a waiting tab re-reads the store first and takes a token another tab already got | a logout: at their next 401, without a refresh |
//! | `leader`        | the leader (tab 0) refreshes; another tab asks it and waits for the broadcast (`tab_sync_delay` each way) | after `tab_sync_delay` (a `BroadcastChannel` message) |
//!
//! Every token a tab obtains (login, refresh, a sliding renewal) is written to the store. A tab that opens (the
//! `login` phase, or a call of a logged-out tab) takes the store's tokens when it holds some, and
//! logs in only when it does not. A logout in one tab empties the store (before the logout request
//! leaves: the user logged out at that moment): the other tabs learn it by the channel or at their
//! next 401 (their refresh is refused and the store is empty, or under `lock` the store says so),
//! and the time until the last of them knows is one `tab_logout_sync` sample per user. A call a tab sends after
//! the store was emptied by a logout, with the tokens it still held, is a `stale_tab_requests`.
//!
//! Counting per user, not per tab: `refreshes_needed` counts once per refresh credential of the
//! user's tabs (four tabs refreshing the same refresh token need one refresh), so
//! `refresh_amplification` is refresh calls per user per expiry. `tab_adoptions` counts tokens a tab
//! took from the store or a broadcast instead of renewing them itself.
//!
//! Cost: one store per user (the shared tokens, a lock, the tab list) plus a small link per tab;
//! the tab itself is an ordinary client.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cookies::CookieJar;
use super::lifetime::Lifetime;
use super::session::{Refreshed, Session};
use super::token_set::TokenSet;
use crate::metrics::names;

/// Most tabs per user (`client.tabs`).
pub const MAX_TABS: u32 = 64;

/// The default `client.tab_sync_delay`: a `storage` event or `BroadcastChannel` message between
/// tabs of one browser takes about a millisecond; 5 ms leaves room for a busy page.
pub const DEFAULT_TAB_SYNC_DELAY: Duration = Duration::from_millis(5);

/// The longest `client.tab_sync_delay`.
pub const MAX_TAB_SYNC_DELAY: Duration = Duration::from_secs(60);

// The serde form is the scenario's `client.tab_sync`; the `///` docs are the JSON Schema's.
/// How the tabs of one user coordinate their shared token store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TabSync {
    /// Each tab renews its own in-memory copy on its own: the rotation race between tabs.
    #[default]
    None,
    /// Like `none`, but a tab's new token (or logout) reaches the other tabs after `tab_sync_delay`.
    StorageEvent,
    /// Web Locks: one tab renews at a time; the others re-read the store after the lock.
    Lock,
    /// One elected tab (the first) renews for all and broadcasts; the others ask it.
    Leader,
}

impl TabSync {
    /// The scenario name (`storage-event`...).
    pub fn name(self) -> &'static str {
        match self {
            TabSync::None => "none",
            TabSync::StorageEvent => "storage-event",
            TabSync::Lock => "lock",
            TabSync::Leader => "leader",
        }
    }

    /// Whether a write to the store reaches the other tabs by a channel (after the delay).
    pub fn propagates(self) -> bool {
        matches!(self, TabSync::StorageEvent | TabSync::Leader)
    }
}

impl std::fmt::Display for TabSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The tab knobs of a run (`client.tabs`, `client.tab_sync`, `client.tab_sync_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TabSettings {
    /// Tabs per user (1: no tabs, every client is a user of its own).
    pub tabs: u32,
    pub sync: TabSync,
    /// How long a `storage` event or broadcast takes to reach another tab.
    pub delay: Duration,
}

impl Default for TabSettings {
    fn default() -> Self {
        TabSettings {
            tabs: 1,
            sync: TabSync::None,
            delay: DEFAULT_TAB_SYNC_DELAY,
        }
    }
}

impl TabSettings {
    /// Whether users run several tabs.
    pub fn enabled(&self) -> bool {
        self.tabs > 1
    }
}

/// What a tab writes to and reads from the store: the user's tokens.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub tokens: TokenSet,
    pub expires_at: Option<SystemTime>,
    pub lifetime: Lifetime,
    pub cookies: CookieJar,
}

/// Refresh credentials remembered per store for `refreshes_needed` (hashes only).
const NEEDED_KEEP: usize = 4;

/// A logout whose propagation to the other tabs is being timed.
#[derive(Debug)]
struct Watch {
    at: Instant,
    /// Tabs that held tokens when the logout happened and do not know yet.
    waiting: u32,
}

#[derive(Debug, Default)]
struct Inner {
    /// Bumped by every write.
    version: u64,
    tokens: Option<Shared>,
    /// The refresh credentials (hashes) whose refresh was already counted in `refreshes_needed`.
    needed: Vec<u64>,
    /// Since the user's last login one of its tabs presented a refresh credential another tab
    /// had presented (`tab_sync: none`): reuse detection may have revoked the whole family, the
    /// tokens of the tab that won with it.
    reused: bool,
    watch: Option<Watch>,
}

/// One user's shared token store (the `localStorage` of the tabs' origin); see the module docs.
pub struct TabStore {
    sync: TabSync,
    delay: Duration,
    inner: Mutex<Inner>,
    /// The cross-tab lock (Web Locks, `lock` mode); it also makes tabs open one after the other.
    lock: tokio::sync::Mutex<()>,
    /// The version of the last logout write (0: none); read on every API call of a tab.
    logout_version: AtomicU64,
    tabs: OnceLock<Box<[Weak<Session>]>>,
}

/// A tab's tie to its user's store.
pub struct TabLink {
    store: Arc<TabStore>,
    index: u32,
    /// The store version of this tab's in-memory copy (its own last write, or what it last took).
    version: AtomicU64,
    /// Counted in the store's logout watch (holds tokens the logout dropped and does not know).
    awaited: AtomicBool,
}

impl TabStore {
    /// Joins `tabs` (logged-out sessions of one user, the first is tab 0 and the `leader`) to a new
    /// store.
    pub fn join(settings: TabSettings, tabs: &[Arc<Session>]) {
        let store = Arc::new(TabStore {
            sync: settings.sync,
            delay: settings.delay,
            inner: Mutex::new(Inner::default()),
            lock: tokio::sync::Mutex::new(()),
            logout_version: AtomicU64::new(0),
            tabs: OnceLock::new(),
        });
        let _ = store
            .tabs
            .set(tabs.iter().map(Arc::downgrade).collect::<Vec<_>>().into());
        for (i, tab) in tabs.iter().enumerate() {
            tab.join_tabs(TabLink {
                store: store.clone(),
                index: i as u32,
                version: AtomicU64::new(0),
                awaited: AtomicBool::new(false),
            });
        }
    }

    fn tab(&self, index: usize) -> Option<Arc<Session>> {
        self.tabs.get()?.get(index)?.upgrade()
    }

    fn tabs(&self) -> impl Iterator<Item = Arc<Session>> + '_ {
        self.tabs
            .get()
            .into_iter()
            .flat_map(|t| t.iter())
            .filter_map(Weak::upgrade)
    }

    /// The tokens in the store and the store version.
    fn current(&self) -> (u64, Option<Shared>) {
        let inner = self.inner.lock();
        (inner.version, inner.tokens.clone())
    }

    /// What a tab that must renew `refresh` finds in the store.
    fn moved_on(&self, refresh: Option<&str>, tab_version: u64) -> Moved {
        let inner = self.inner.lock();
        match &inner.tokens {
            Some(t) if refresh.is_some() && t.tokens.refresh() != refresh => {
                Moved::Tokens(inner.version, t.clone())
            }
            Some(t) if refresh.is_none() && inner.version > tab_version => {
                Moved::Tokens(inner.version, t.clone())
            }
            Some(_) => Moved::No,
            None if self.logout_version.load(Ordering::Acquire) > tab_version => Moved::LoggedOut,
            None => Moved::No,
        }
    }

    /// Every tab but `from` catches up with the store (the `storage` event or broadcast arrived).
    fn deliver(&self, from: u32) {
        let (version, tokens) = self.current();
        for tab in self.tabs() {
            let Some(link) = tab.tab() else { continue };
            if link.index == from || link.version() >= version {
                continue;
            }
            match &tokens {
                Some(shared) => {
                    tab.adopt_shared(shared);
                    link.version.fetch_max(version, Ordering::AcqRel);
                    count_adoption(&tab);
                }
                None => {
                    learn_logout(&tab, link);
                }
            }
        }
    }

    /// Schedules [`TabStore::deliver`] after the sync delay (`storage-event`, `leader`).
    fn propagate(self: &Arc<Self>, from: u32) {
        if !self.sync.propagates() {
            return;
        }
        let (store, delay) = (self.clone(), self.delay);
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            store.deliver(from);
        });
    }
}

/// What the store says to a tab about to renew.
enum Moved {
    /// Another tab already got newer tokens: take them.
    Tokens(u64, Shared),
    /// Another tab logged out since this tab's copy.
    LoggedOut,
    /// Nothing newer: renew.
    No,
}

impl TabLink {
    /// The tab's index among its user's tabs (0 is the leader).
    pub fn index(&self) -> u32 {
        self.index
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn sync(&self) -> TabSync {
        self.store.sync
    }

    /// Whether the store was emptied by a logout after this tab's copy was taken: a call sent with
    /// that copy is a `stale_tab_requests`.
    pub fn store_dropped_my_tokens(&self) -> bool {
        self.store.logout_version.load(Ordering::Acquire) > self.version()
    }

    /// Whether the user's tabs presented one refresh credential twice since the user's last login:
    /// a refusal of this tab's tokens may be the reuse detection that caused (not a token dying
    /// early, not a failure of the server).
    pub fn family_reused(&self) -> bool {
        self.store.inner.lock().reused
    }

    /// Whether another tab moved the store on since this tab's copy: it logged out, or installed
    /// newer tokens (a server that revokes an access token at its refresh then refuses this
    /// tab's copy — a refusal another tab explains, not a token dying early).
    pub fn store_moved_on(&self) -> bool {
        self.store_dropped_my_tokens() || self.store.inner.lock().version > self.version()
    }
}

fn count_adoption(tab: &Session) {
    tab.env()
        .recorder
        .count(tab.id() as usize, names::TAB_ADOPTIONS, 1);
}

/// The tab installed tokens it obtained itself (login, refresh): write them to the store. A
/// `fresh_login` starts a new refresh family.
pub(crate) fn published(link: &TabLink, shared: Shared, fresh_login: bool) {
    let version = {
        let mut inner = link.store.inner.lock();
        inner.version += 1;
        if fresh_login {
            inner.reused = false;
        }
        inner.tokens = Some(shared);
        inner.version
    };
    link.version.fetch_max(version, Ordering::AcqRel);
    link.store.propagate(link.index);
}

/// The tab logged out: the store is emptied and the other tabs' learning is timed.
pub(crate) fn logged_out(link: &TabLink) {
    let store = &link.store;
    // The tabs whose copy this logout drops (counted before the write, so none learns unseen).
    let mut waiting = 0;
    for tab in store.tabs() {
        if let Some(other) = tab.tab()
            && other.index != link.index
            && tab.is_logged_in()
        {
            other.awaited.store(true, Ordering::Release);
            waiting += 1;
        }
    }
    let version = {
        let mut inner = store.inner.lock();
        inner.version += 1;
        inner.tokens = None;
        inner.needed.clear();
        inner.watch = (waiting > 0).then(|| Watch {
            at: Instant::now(),
            waiting,
        });
        inner.version
    };
    store.logout_version.store(version, Ordering::Release);
    link.version.fetch_max(version, Ordering::AcqRel);
    store.propagate(link.index);
}

/// `tab` learns that another tab logged out (by the channel, or because its refresh was refused and
/// the store is empty): it drops its copy. `false` when there was no such logout to learn.
pub(crate) fn learn_logout(tab: &Session, link: &TabLink) -> bool {
    let logout = link.store.logout_version.load(Ordering::Acquire);
    if logout == 0 || link.version() >= logout {
        return false;
    }
    link.version.fetch_max(logout, Ordering::AcqRel);
    tab.drop_for_logout();
    if link.awaited.swap(false, Ordering::AcqRel) {
        let done = {
            let mut inner = link.store.inner.lock();
            match &mut inner.watch {
                Some(w) => {
                    w.waiting = w.waiting.saturating_sub(1);
                    if w.waiting == 0 {
                        inner.watch.take().map(|w| w.at.elapsed())
                    } else {
                        None
                    }
                }
                None => None,
            }
        };
        if let Some(took) = done {
            tab.env()
                .recorder
                .record_duration(tab.id() as usize, names::TAB_LOGOUT_SYNC, took);
        }
    }
    true
}

/// Ends the logout watch of `tab`'s store: returns how many tabs still did not know.
pub(crate) fn close_watch(tab: &Session) -> u32 {
    let Some(link) = tab.tab() else { return 0 };
    let waiting = link
        .store
        .inner
        .lock()
        .watch
        .take()
        .map_or(0, |w| w.waiting);
    for t in link.store.tabs() {
        if let Some(l) = t.tab() {
            l.awaited.store(false, Ordering::Release);
        }
    }
    waiting
}

/// Whether a refresh of the credential `presented` (a hash) is the first of the user's tabs: one
/// `refreshes_needed` per user, however many tabs refresh the same token. A second one is a reuse
/// ([`TabLink::family_reused`]).
pub(crate) fn first_need(link: &TabLink, presented: u64) -> bool {
    let mut inner = link.store.inner.lock();
    if inner.needed.contains(&presented) {
        inner.reused = true;
        return false;
    }
    if inner.needed.len() >= NEEDED_KEEP {
        inner.needed.remove(0);
    }
    inner.needed.push(presented);
    true
}

/// A tab opens (or a logged-out tab makes a call): it takes the store's tokens when there are some,
/// and runs `login` only when there are none. Tabs open one at a time.
pub(crate) async fn open<F, Fut>(tab: &Session, link: &TabLink, login: F) -> bool
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = bool>,
{
    let _lock = link.store.lock.lock().await;
    if let (version, Some(shared)) = link.store.current() {
        tab.adopt_shared(&shared);
        link.version.fetch_max(version, Ordering::AcqRel);
        count_adoption(tab);
        return true;
    }
    login().await
}

/// A tab must renew the refresh credential `refresh`: per the user's `tab_sync`, it renews on its
/// own (`own`), takes what another tab got, or learns of a logout.
pub(crate) async fn renew<F, Fut>(
    tab: &Session,
    link: &TabLink,
    refresh: Option<&str>,
    own: F,
) -> Refreshed
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Refreshed>,
{
    match link.sync() {
        TabSync::None | TabSync::StorageEvent => own().await,
        TabSync::Lock => {
            let _lock = link.store.lock.lock().await;
            match settle(tab, link, refresh) {
                Some(r) => r,
                None => own().await,
            }
        }
        TabSync::Leader if link.index == 0 => own().await,
        TabSync::Leader => {
            let delay = link.store.delay;
            // The request to the leader, then its broadcast back, each take the sync delay.
            tokio::time::sleep(delay).await;
            if let Some(leader) = link.store.tab(0) {
                Box::pin(leader_renews(&leader, refresh)).await;
            }
            tokio::time::sleep(delay).await;
            // Nothing new in the store: the leader could not renew, nothing to retry with.
            settle(tab, link, refresh).unwrap_or(Refreshed::Failed)
        }
    }
}

/// Takes what the store says, if it says anything new: `None` when the tab must renew itself.
fn settle(tab: &Session, link: &TabLink, refresh: Option<&str>) -> Option<Refreshed> {
    match link.store.moved_on(refresh, link.version()) {
        Moved::Tokens(version, shared) => {
            let at = tab.adopt_shared(&shared);
            link.version.fetch_max(version, Ordering::AcqRel);
            count_adoption(tab);
            Some(Refreshed::Renewed(at))
        }
        // The refresh is refused in effect: the rejection path learns the logout.
        Moved::LoggedOut => Some(Refreshed::Rejected {
            ended: false,
            reason: super::notice::Reason::LoggedOut,
        }),
        Moved::No => None,
    }
}

/// The leader renews for a tab that presented `refresh`: at once when the leader's copy is still
/// that one (its own single-flight merges the requests of several tabs), not at all when it already
/// holds newer tokens (they are in the store) or none.
async fn leader_renews(leader: &Arc<Session>, refresh: Option<&str>) {
    let Some(held) = leader.held() else {
        return;
    };
    if refresh.is_none() || held.refresh() == refresh {
        leader.shared_renew(held.generation).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_scenario_format() {
        for s in [
            TabSync::None,
            TabSync::StorageEvent,
            TabSync::Lock,
            TabSync::Leader,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        assert!(TabSync::StorageEvent.propagates());
        assert!(TabSync::Leader.propagates());
        assert!(!TabSync::Lock.propagates());
        assert!(!TabSettings::default().enabled());
    }
}
