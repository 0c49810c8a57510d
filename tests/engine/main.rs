//! Engine tests: many simulated clients against the mock started in-process on 127.0.0.1:0.
//! One test binary (one link) with a module per area; shared helpers in `support`.

mod support;

mod channel_notice;
mod channels;
mod connections;
mod cookie_session;
mod counters;
mod devices;
mod failures;
mod first_message;
mod first_message_protocols;
mod idle;
mod lifecycle;
mod notice;
mod open;
mod outage;
mod profile_format;
mod race;
mod scope;
mod send_skew;
mod storm;
mod strategies;
mod tabs;
mod timeline;
mod tls;
mod ws;
