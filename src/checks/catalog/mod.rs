//! The catalog: every check, one small file each, all of the same shape — a `CHECK` constant with
//! its [`CheckMeta`] and one async `run(probe) -> Verdict`. Adding a check is adding one file and
//! one line to [`ALL`].
//!
//! Families: `rt` (refresh grant), `rs` (resource server), `rv` (revocation), `introspect`
//! (`IN-*`), `jw` (JWT attacks), `ws` (WebSocket), `sl` (sliding renewal), `at` (access tokens
//! after logout), `ss` (sessions per user: policy, logout everywhere; session ends as a client
//! sees them).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::meta::CheckMeta;
use super::outcome::Verdict;
use super::probe::Probe;

pub mod at;
pub mod common;
pub mod introspect;
pub mod jw;
pub mod prelude;
pub mod rs;
pub mod rt;
pub mod rv;
pub mod sl;
pub mod ss;
pub mod twin;
pub mod ws;

/// The body of a check.
pub type RunFn = fn(Arc<Probe>) -> BoxFuture<'static, Verdict>;

/// One check: its metadata and its body.
pub struct Check {
    /// What it is.
    pub meta: CheckMeta,
    /// What it does.
    pub run: RunFn,
}

/// Every check, in catalog order (families in [`super::meta::FAMILIES`] order, ids ascending).
pub const ALL: &[&Check] = &[
    &rt::rt01::CHECK,
    &rt::rt02::CHECK,
    &rt::rt06::CHECK,
    &rt::rt07::CHECK,
    &rt::rt08::CHECK,
    &rt::rt09::CHECK,
    &rt::rt10::CHECK,
    &rt::rt12::CHECK,
    &rt::rt13::CHECK,
    &rs::rs01::CHECK,
    &rs::rs02::CHECK,
    &rs::rs03::CHECK,
    &rs::rs04::CHECK,
    &rv::rv01::CHECK,
    &rv::rv02::CHECK,
    &introspect::in01::CHECK,
    &jw::jw01::CHECK,
    &jw::jw02::CHECK,
    &jw::jw03::CHECK,
    &jw::jw05::CHECK,
    &jw::jw06::CHECK,
    &jw::jw07::CHECK,
    &ws::ws01::CHECK,
    &ws::ws02::CHECK,
    &ws::ws03::CHECK,
    &ws::ws04::CHECK,
    &ws::ws05::CHECK,
    &ss::ss01::CHECK,
    &ss::ss02::CHECK,
    &ss::ss03::CHECK,
    &ss::ss04::CHECK,
    &sl::sl01::CHECK,
    &at::at01::CHECK,
    &at::at02::CHECK,
];

/// The check with this id (case-insensitive).
pub fn find(id: &str) -> Option<&'static Check> {
    ALL.iter()
        .copied()
        .find(|c| c.meta.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::meta::FAMILIES;

    #[test]
    fn ids_are_unique_well_formed_and_in_family_order() {
        let mut seen = std::collections::HashSet::new();
        let mut last_family = 0;
        for c in ALL {
            let m = &c.meta;
            assert!(seen.insert(m.id), "duplicate id {}", m.id);
            let fam = FAMILIES
                .iter()
                .position(|f| f.prefix == m.family_prefix())
                .unwrap_or_else(|| panic!("{} has no family", m.id));
            assert!(fam >= last_family, "{} is out of family order", m.id);
            last_family = fam;
            let (_, num) = m.id.split_once('-').unwrap();
            assert!(
                num.len() == 2 && num.chars().all(|c| c.is_ascii_digit()),
                "{}",
                m.id
            );
            assert!(!m.title.is_empty() && !m.summary.is_empty(), "{}", m.id);
            assert!(!m.requirements.is_empty(), "{} cites nothing", m.id);
        }
        assert!(find("rt-07").is_some() && find("XX-01").is_none());
    }
}
