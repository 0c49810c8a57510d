//! `RV-*`: token revocation (RFC 7009).

pub mod rv01;
pub mod rv02;
