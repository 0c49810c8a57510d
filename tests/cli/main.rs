//! Tests of the `authbench` binary: exit codes, files, shards, deploy manifests, README examples,
//! logging flags.
//! One test binary (one link) with a module per area.

mod logging;
mod manifests;
mod readme;
mod run;
mod shards;
