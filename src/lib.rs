//! # authbench
//!
//! A load-testing and conformance harness for authentication servers. It simulates what real web and
//! mobile clients do with short access tokens and long refresh tokens — at the scale where the failures
//! appear — and checks what a server does against the standards.
//!
//! Data flows one way:
//!
//! ```text
//! scenario::load ──► engine::Plan ──► client::Session (profile::Profile) ──► metrics::Recorder
//!                                                                              │
//!                                      writers (json, html, hgrm, junit) ◄── report::Report
//! ```
//!
//! - [`scenario`]: the YAML model of a scenario, its validation, defaults and JSON Schema.
//! - [`profile`]: how to talk to one server — requests, token extractors, presets, close-code profiles.
//! - [`client`]: ONE simulated client — a token manager with its refresh strategy, HTTP and WebSocket.
//! - [`engine`]: MANY clients — phases, synchronized expiry, open and closed load, shutdown.
//! - [`metrics`]: HDR histograms, counters and a per-second timeline, merged losslessly.
//! - [`checks`]: the conformance catalog — one check = metadata + one async run.
//! - [`report`]: the report model (`report.json`) and its writers; thresholds.
//!
//! Nothing below `engine` knows about YAML; nothing below `report` knows about terminals.

pub mod checks;
pub mod client;
pub mod engine;
pub mod metrics;
pub mod profile;
pub mod redact;
pub mod report;
pub mod scenario;
