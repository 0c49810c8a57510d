//! What every check file imports.

pub use std::sync::Arc;
pub use std::time::{Duration, Instant, SystemTime};

pub use super::Check;
pub use super::common::*;
pub use crate::checks::meta::{CheckMeta, Level, Need};
pub use crate::checks::outcome::{Findings, Status, Stop, Verdict};
pub use crate::checks::probe::{Probe, RefreshReply, Resp, Session, edit_url};
pub use crate::profile::{TokenKind, Tokens};
