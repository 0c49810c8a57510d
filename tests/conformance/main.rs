//! Conformance tests: check options and the proof matrix (every flaw moves its checks).
//! One test binary (one link) with a module per area.

mod connections;
mod options;
mod proof;
