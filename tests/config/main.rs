//! Scenario, target-profile, preset and report tests.
//! One test binary (one link) with a module per area.

mod counters;
mod merge;
mod profile;
mod profile_format;
mod report;
mod scenario;
mod session_loss;
mod tabs;
mod timeline;
mod tls;
