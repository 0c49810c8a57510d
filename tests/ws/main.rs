//! WebSocket tests: the client's channel, close classes and the mock's WS flaws, on real sockets.
//! One test binary (one link) with a module per area; shared helpers in `support`.

mod support;

mod close_classes;
mod flaws;
mod handshake;
mod kick_grace;
mod sse;
mod transport;
