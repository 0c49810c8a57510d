//! Tests of the `authbench` binary: exit codes, files, shards, deploy manifests, README examples,
//! the crate's layer map and the logging flags.
//! One test binary (one link) with a module per area.

mod canned;
mod channels;
mod check_selection;
mod check_set;
mod closed_output;
mod cookie_session;
mod init;
mod interrupt;
mod layers;
mod logging;
mod manifests;
mod metrics_listen;
mod profile_format;
mod readme;
mod report_folders;
mod run;
mod shards;
mod tabs;
