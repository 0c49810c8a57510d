//! Which channel a client hears about its session's end on (scenario `client.channel`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// The serde form is the scenario's `client.channel`; the `///` docs are the JSON Schema's.
/// The channel every client opens after its login: `ws` (a WebSocket, the same as
/// `client.websocket: true`), `sse` (a Server-Sent Events stream) or `push` (a device token
/// registered with the server; authbench receives the push messages on loopback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A WebSocket (target profile `ws:`): `kick_latency`, `missed_kicks`, ...
    Ws,
    /// A Server-Sent Events stream (target profile `sse:`): `sse_kick_latency`,
    /// `sse_missed_kicks`, ...
    Sse,
    /// Mobile push (target profile `push:`): `push_latency`, `missed_pushes`, ...
    Push,
}

impl Channel {
    /// The name in scenario files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Ws => "ws",
            Channel::Sse => "sse",
            Channel::Push => "push",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
