//! Engine tests: many simulated clients against the mock started in-process on 127.0.0.1:0.
//! One test binary (one link) with a module per area; shared helpers in `support`.

mod support;

mod connections;
mod counters;
mod failures;
mod lifecycle;
mod open;
mod outage;
mod race;
mod scope;
mod send_skew;
mod storm;
mod strategies;
mod timeline;
mod ws;
