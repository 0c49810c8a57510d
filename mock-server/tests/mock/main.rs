//! Integration tests of the mock server: real sockets on 127.0.0.1, the server started in-process
//! on port 0. One test binary (one link) with a module per area.

mod support;

mod arrivals;
mod binary;
mod connections;
mod cookie_sessions;
mod endpoints;
mod events;
mod faults;
mod flaws;
mod knobs;
mod outage;
mod race;
mod sessions;
mod ws;
