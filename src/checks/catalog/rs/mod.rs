//! `RS-*`: the resource server — 401 versus 403, `WWW-Authenticate`, tokens in the query.

pub mod rs01;
pub mod rs02;
pub mod rs03;
pub mod rs04;
