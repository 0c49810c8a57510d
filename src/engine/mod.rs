//! MANY clients: the plan's phases, ramps, the synchronized expiry, open and closed load, shards and
//! shutdown.
//!
//! - [`plan`]: [`Plan`]: the scenario's settings and [`Phase`](crate::scenario::Phase)s plus the
//!   run's shard and start time.
//! - [`run`](mod@run): [`run()`] drives a plan phase after phase and returns a [`RunOutcome`].
//! - [`accounts`] (login, relogin, logout, force_logout, ws_connect, refresh_race) and [`traffic`]
//!   (closed/open model, synchronized wake): one function per phase.
//! - [`idle`]: the `idle` phase (no client sends anything for a while).
//! - [`devices`]: the `logout_everywhere` phase (one request ends every device's session).
//! - [`tabs`]: `client.tabs` — a fleet of users × tabs sharing token stores, and its `logout`.
//! - [`outage`]: the `outage` phase (the target stops serving for a while, through its admin API).
//! - [`schedule`]: ramps, the synchronized [`schedule::Gate`], the wall-clock start.
//! - [`shard`]: which clients this process drives. [`progress`]: the live display's atomics.
//! - [`preflight`]: is anything listening at the target?

mod accounts;
mod devices;
mod fleet;
mod idle;
mod outage;
pub mod plan;
pub mod preflight;
mod prewarm;
pub mod progress;
mod ramp;
pub mod run;
pub mod schedule;
pub mod shard;
mod sockets;
mod tabs;
mod traffic;

pub use plan::{Plan, Users};
pub use preflight::{PreflightError, preflight};
pub use progress::{Progress, ProgressTick, Until};
pub use run::{EngineError, RunOutcome, cookie_mismatch, run};
pub use shard::{Shard, ShardError};
