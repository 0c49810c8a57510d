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
//! checks::run (profile::Profile) ──► report::Report::from_conformance ──► the same writers
//! ```
//!
//! The modules are layers; a module uses only modules in layers below its own, never one above
//! (no cycles), lowest first:
//!
//! ```text
//! redact, config      bottom floor: no authbench module below them
//! metrics             names and recording of histograms, counters, timeline
//! profile             how to talk to one server
//! client              ONE simulated client
//! scenario            the scenario file
//! engine              MANY clients
//! report              report.json and its writers
//! checks              the conformance catalog
//! (binary) cli, commands, progress, exit
//! ```
//!
//! - [`redact`]: redaction of secrets: tokens are never printed whole.
//! - [`config`]: what every file authbench reads shares — YAML with locations, errors with
//!   file:line:column and a fix, "did you mean", durations and rates, the threshold grammar.
//! - [`metrics`]: HDR histograms, counters and a timeline (100 ms intervals), merged losslessly; the metric
//!   names thresholds may use.
//! - [`profile`]: how to talk to one server — requests, token extractors, presets, close-code profiles.
//! - [`client`]: ONE simulated client — a token manager with its refresh strategy, HTTP and WebSocket.
//! - [`scenario`]: the YAML model of a scenario, its validation, defaults and JSON Schema.
//! - [`engine`]: MANY clients — phases, synchronized expiry, open and closed load, shutdown.
//! - [`report`]: the report model (`report.json`), its two constructors (load run, conformance run),
//!   thresholds evaluated against it, and its writers.
//! - [`checks`]: the conformance catalog — one check = metadata + one async run.
//!
//! One type per concept, defined in the lowest layer that needs it: the refresh [`client::Strategy`]
//! and [`client::Connections`] are the scenario's too; a scenario's [`scenario::Phase`]s are what
//! the engine runs; a check's [`report::Status`], [`report::Level`] and [`report::FailOn`] are what
//! the report shows.
//!
//! Nothing below `report` knows about terminals.

pub mod checks;
pub mod client;
pub mod config;
pub mod engine;
pub mod metrics;
pub mod profile;
pub mod redact;
pub mod report;
pub mod scenario;
