//! Tests of the `authbench` binary: exit codes, files, shards, deploy manifests, README examples,
//! and the crate's layer map.
//! One test binary (one link) with a module per area.

mod layers;
mod manifests;
mod readme;
mod run;
mod shards;
