//! Conformance tests: check options, the proof matrix (every flaw moves its checks) and the
//! verdict rules (no false PASS, no false FAIL, right levels).
//! One test binary (one link) with a module per area.

#[path = "../common/canned.rs"]
mod canned;
mod connections;
mod options;
mod premises;
mod profile_format;
mod proof;
mod scope;
mod session_ends;
mod verdicts;
mod ws_protocols;
