//! Tests of the `authbench` binary: exit codes, files, shards, deploy manifests, README examples.
//! One test binary (one link) with a module per area.

mod manifests;
mod readme;
mod run;
mod shards;
