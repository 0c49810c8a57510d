//! Validation of the tab keys (`client.tabs`, `client.tab_sync`, `client.tab_sync_delay`) and of
//! the phases a fleet of tabs can run (issue 13 §1; the tabs themselves are `client::tabs`).

use super::model::{ClientConfig, Phase};
use super::validate::Problem;
use crate::client::TabSync;
use crate::client::tabs::{DEFAULT_TAB_SYNC_DELAY, MAX_TAB_SYNC_DELAY, MAX_TABS};
use crate::config::units::format_duration;

fn problem(path: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        message: message.into(),
        fix: fix.into(),
    }
}

/// Refuses tab settings that cannot mean anything, and phases a fleet of tabs cannot run.
pub(super) fn check(c: &ClientConfig, plan: &[Phase]) -> Result<(), Problem> {
    if c.tabs == 0 || c.tabs > MAX_TABS {
        return Err(problem(
            "client.tabs",
            format!("tabs is {}, it must be between 1 and {MAX_TABS}", c.tabs),
            "set the number of browser tabs each user runs, e.g. tabs: 4 (1: no tabs)",
        ));
    }
    if c.tabs == 1 && c.tab_sync != TabSync::None {
        return Err(problem(
            "client.tab_sync",
            format!(
                "tab_sync is {}, but client.tabs is 1: one tab has no other tab to coordinate with",
                c.tab_sync
            ),
            "set client.tabs above 1, e.g. tabs: 4, or remove tab_sync",
        ));
    }
    if c.tab_sync_delay != DEFAULT_TAB_SYNC_DELAY && !c.tab_sync.propagates() {
        return Err(problem(
            "client.tab_sync_delay",
            format!(
                "tab_sync_delay {} is only used by tab_sync storage-event and leader (the channel between tabs), but tab_sync is {}",
                format_duration(c.tab_sync_delay),
                c.tab_sync
            ),
            "remove tab_sync_delay, or set tab_sync: storage-event or leader",
        ));
    }
    if c.tab_sync_delay > MAX_TAB_SYNC_DELAY {
        return Err(problem(
            "client.tab_sync_delay",
            format!(
                "tab_sync_delay {} is longer than {}",
                format_duration(c.tab_sync_delay),
                format_duration(MAX_TAB_SYNC_DELAY)
            ),
            "a storage event or broadcast takes milliseconds; use e.g. tab_sync_delay: 50ms",
        ));
    }
    if c.tabs > 1 && c.devices > 1 {
        return Err(problem(
            "client.tabs",
            format!(
                "client.tabs {} and client.devices {} together are not supported: tabs share one device's token store",
                c.tabs, c.devices
            ),
            "simulate either tabs of one browser or several devices (set one of them to 1)",
        ));
    }
    if c.tabs > 1 {
        for (i, phase) in plan.iter().enumerate() {
            let why = match phase {
                Phase::Relogin { .. } => {
                    "a login elsewhere is another device, not another tab of the same store"
                }
                Phase::RefreshRace { .. } => {
                    "the race presents one refresh token outside the tabs' store"
                }
                Phase::ForceLogout { .. } => {
                    "the admin logout would be sent once per tab instead of once per user"
                }
                Phase::LogoutEverywhere { .. } => {
                    "logout everywhere would be sent once per tab instead of once per user"
                }
                _ => continue,
            };
            return Err(problem(
                format!("plan.{i}.{}", phase.name()),
                format!(
                    "phase `{}` is not supported with client.tabs {}: {why}",
                    phase.name(),
                    c.tabs
                ),
                "remove the phase, or set client.tabs: 1",
            ));
        }
    }
    Ok(())
}
