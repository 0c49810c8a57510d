//! `AT-*`: how long an access token outlives the end of its session.

pub mod at01;
pub mod at02;
